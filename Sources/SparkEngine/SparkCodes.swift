import ArrowIPC
import Conditions
import Ingest
import PHMCore
import SparkConnect

/// Code matching on Spark: every coded event before as-of (GP events, prescriptions, and the
/// diagnoses and procedures of care records the rules linked) matched to the condition library's
/// code lists, and reduced to each person's `CodeFacts`, which `ConditionEngine` evaluates in
/// process to the results it gets from the events.
///
/// Which lists hold a code is decided in process (`CodeList.contains`, through the engine) for
/// the distinct codes of the extract, and sent to Spark as a small table, so the two engines
/// match codes by one rule.
public struct SparkCodes: Sendable {
    public let asOf: Day

    public init(asOf: Day) {
        self.asOf = asOf
    }

    public struct Result: Sendable {
        /// The persons of the spine, keyed as the `spine` view keys them, in the facts' order.
        public var people: [String]
        /// The engine compiled for the extract's codes, which evaluates the facts.
        public var engine: ConditionEngine
        public var facts: CodeFacts
    }

    /// Matches the codes of the files present (`present` names them) in the views `SparkIngest`
    /// and `SparkLinkage` leave.
    public func facts(_ spark: SparkSession.Connection, library: ConditionLibrary, present: Set<String>) async throws
        -> Result
    {
        let c = FileChecks.column
        // Every accepted coded row, with its person (none for a care record no rule linked).
        var events: [String] = []
        if present.contains(InputContract.gpEvents.name) {
            events.append(
                """
                SELECT r.person, g.\(c("event_date")) AS day, g.id, \(Self.system(of: "g.\(c("code_system"))")) AS system,
                       g.\(c("code")) AS code, IF(g.\(c("value")) = '', NULL, CAST(\(Self.decimal("g.\(c("value"))")) AS FLOAT)) AS value,
                       false AS prescription
                FROM accepted_gp_events g JOIN registrations_keyed r ON r.patient_id = g.\(c("patient_id"))
                """)
        }
        if !present.isDisjoint(with: SparkLinkage.careFiles.map(\.name)) {
            events.append(
                """
                SELECT person, day, CAST(0 AS BIGINT) AS id, system, code, CAST(NULL AS FLOAT) AS value, false AS prescription
                FROM (SELECT person, day, inline(codes) FROM linked)
                """)
        }
        if present.contains(InputContract.prescriptions.name) {
            events.append(
                """
                SELECT r.person, a.\(c("issue_date")) AS day, a.id, \(Self.system(of: "a.\(c("code_system"))")) AS system,
                       a.\(c("code")) AS code, CAST(NULL AS FLOAT) AS value, true AS prescription
                FROM accepted_prescriptions a JOIN registrations_keyed r ON r.patient_id = a.\(c("patient_id"))
                """)
        }
        let people = try await spark.query("SELECT person FROM spine ORDER BY person").strings("person")
        guard !events.isEmpty else {
            let engine = ConditionEngine(library: library, codes: CodeTable())
            var facts = CodeFacts(asOf: asOf)
            facts.start = Array(repeating: 0, count: people.count + 1)
            facts.issuedStart = facts.start
            return Result(people: people, engine: engine, facts: facts)
        }
        // Codes in their normal form, as the reader interns them.
        try await spark.createView(
            "coded",
            query:
                "SELECT person, day, id, system, \(Self.normal(code: "code", system: "system")) AS code, value, prescription FROM (\(events.joined(separator: " UNION ALL ")))"
        )

        // The extract's code table (every accepted code, used before as-of or not), then which
        // lists hold each code.
        let distinct = try await spark.query("SELECT DISTINCT system, code FROM coded ORDER BY system, code")
        let systems = try distinct.integers("system"), codeColumn = try distinct.strings("code")
        var table = CodeTable()
        for (system, code) in zip(systems, codeColumn) {
            guard let system = UInt8(exactly: system).flatMap(CodeSystem.init(rawValue:)) else {
                throw SparkError.result("a code system out of range")
            }
            _ = table.intern(code, system: system)
        }
        guard table.count == systems.count else { throw SparkError.result("a code came back twice") }
        let engine = ConditionEngine(library: library, codes: table)
        var member: (systems: [Int64], codes: [String], ids: [Int64], lists: [Int64], depths: [Int64]) = ([], [], [], [], [])
        for id in 0..<table.count {
            for l in engine.lists(containing: id) {
                member.systems.append(Int64(table.systems[id].rawValue))
                member.codes.append(table.codes[id])
                member.ids.append(Int64(id))
                member.lists.append(Int64(l))
                member.depths.append(Int64(engine.valueDepths[l]))
            }
        }
        try await spark.createView(
            "code_lists",
            query: """
                SELECT CAST(system AS INT) AS system, code, id, list, depth
                FROM (SELECT inline(arrays_zip(:systems, :codes, :ids, :lists, :depths)) AS (system, code, id, list, depth))
                """,
            [
                "systems": .integers(member.systems), "codes": .strings(member.codes), "ids": .integers(member.ids),
                "lists": .integers(member.lists), "depths": .integers(member.depths),
            ])
        try await spark.createView(
            "matched",
            query: """
                SELECT e.person, e.day, e.id, e.value, e.prescription, m.id AS code_id, m.list, m.depth
                FROM coded e JOIN code_lists m ON e.system = m.system AND e.code = m.code
                WHERE e.person IS NOT NULL AND e.day < :asOf
                """, ["asOf": .string(asOf.description)])

        // Per person and list: first and latest day, values recorded, prescriptions in each window.
        let windows = engine.prescriptionWindows
        var parameters: [String: SparkValue] = [:]
        for (k, months) in windows.enumerated() { parameters["w\(k)"] = .string(asOf.adding(months: -months).description) }
        let prescribed = windows.indices.map { ", count_if(prescription AND day >= :w\($0)) AS rx_\($0)" }.joined()
        let lists = try await spark.query(
            """
            SELECT person, list, unix_date(to_date(min(day))) AS first, unix_date(to_date(max(day))) AS last,
                   count(value) AS value_count\(prescribed)
            FROM matched GROUP BY person, list ORDER BY person, list
            """, parameters)
        // The latest values of each list, as many as its rules read (at least the latest), newest first.
        let values = try await spark.query(
            """
            SELECT person, list, unix_date(to_date(day)) AS day, value FROM (
                SELECT person, list, day, value, depth,
                       row_number() OVER (PARTITION BY person, list ORDER BY day DESC, id DESC) AS k
                FROM matched WHERE value IS NOT NULL)
            WHERE k <= greatest(depth, 1) ORDER BY person, list, k
            """)
        // Each prescribed code's last issue, for rules counting distinct medicines.
        let issued = try await spark.query(
            """
            SELECT person, code_id, unix_date(to_date(max(day))) AS day FROM matched
            WHERE prescription AND :distinct GROUP BY person, code_id ORDER BY person, code_id
            """, ["distinct": .boolean(engine.countsDistinctMedicines)])
        let unmatched = try await spark.query(
            """
            SELECT system, count(*) AS n FROM coded e LEFT ANTI JOIN code_lists m ON e.system = m.system AND e.code = m.code
            WHERE e.person IS NOT NULL AND e.day < :asOf GROUP BY system
            """, ["asOf": .string(asOf.description)])

        var facts = try Self.facts(
            people: people, lists: lists, values: values, issued: issued, windows: windows.count, engine: engine, asOf: asOf)
        for (system, n) in zip(try unmatched.integers("system"), try unmatched.integers("n")) {
            guard let system = UInt8(exactly: system).flatMap(CodeSystem.init(rawValue:)) else {
                throw SparkError.result("a code system out of range")
            }
            facts.unmatchedEvents[system.name] = Int(n)
        }
        if let problem = facts.problem(for: engine) { throw SparkError.result("code facts: \(problem)") }
        return Result(people: people, engine: engine, facts: facts)
    }

    /// The three results, each ordered by person, merged into one row per person and list.
    static func facts(
        people: [String], lists: ArrowTable, values: ArrowTable, issued: ArrowTable, windows: Int, engine: ConditionEngine,
        asOf: Day
    ) throws -> CodeFacts {
        let index = Dictionary(people.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        guard index.count == people.count else { throw SparkError.result("a person of the spine came back twice") }
        func person(_ key: String) throws -> Int {
            guard let p = index[key] else { throw SparkError.result("facts for a person not on the spine") }
            return p
        }
        func day(_ raw: Int64) throws -> Day {
            guard let d = Int32(exactly: raw) else { throw SparkError.result("a day out of range") }
            return Day(rawValue: d)
        }
        let listPerson = try lists.strings("person"), list = try lists.integers("list")
        let first = try lists.integers("first"), last = try lists.integers("last"), count = try lists.integers("value_count")
        let rx = try (0..<windows).map { try lists.integers("rx_\($0)") }
        let valuePerson = try values.strings("person"), valueList = try values.integers("list")
        let valueDay = try values.integers("day"), value = try values.doubles("value")
        let issuedPerson = try issued.strings("person"), issuedCode = try issued.integers("code_id")
        let issuedDay = try issued.integers("day")

        var facts = CodeFacts(asOf: asOf)
        // Rows come ordered by person: a person's rows start where the one before ended.
        func close(_ start: inout [Int32], before p: Int, rows: Int) throws {
            guard p >= start.count - 1, let rows = Int32(exactly: rows) else {
                throw SparkError.result("code facts out of order or too many")
            }
            while start.count <= p { start.append(rows) }
        }
        var v = 0
        for r in 0..<listPerson.count {
            try close(&facts.start, before: person(listPerson[r]), rows: facts.list.count)
            guard let l = Int32(exactly: list[r]), l >= 0, Int(l) < engine.library.lists.count,
                let n = Int32(exactly: count[r])
            else { throw SparkError.result("code facts out of range") }
            facts.list.append(l)
            facts.first.append(try day(first[r]))
            facts.last.append(try day(last[r]))
            facts.valueCount.append(n)
            for w in 0..<windows {
                guard let k = Int32(exactly: rx[w][r]) else { throw SparkError.result("a count out of range") }
                facts.prescribed.append(k)
            }
            // This list's values, newest first: the latest is the first, and the ring takes the
            // first `depth`, oldest first.
            var newest: [(day: Day, value: Float)] = []
            while v < valuePerson.count, valuePerson[v] == listPerson[r], valueList[v] == list[r] {
                newest.append((try day(valueDay[v]), Float(value[v])))
                v += 1
            }
            facts.latestValue.append(newest.first?.value ?? .nan)
            facts.latestValueDay.append(newest.first?.day ?? Day(rawValue: .min))
            for recent in newest.prefix(engine.valueDepths[Int(l)]).reversed() {
                facts.recentValue.append(recent.value)
                facts.recentDay.append(recent.day)
            }
            guard let end = Int32(exactly: facts.recentValue.count) else { throw SparkError.result("too many values") }
            facts.recentStart.append(end)
        }
        guard v == valuePerson.count else { throw SparkError.result("values for a list without facts") }
        try close(&facts.start, before: people.count, rows: facts.list.count)
        for k in 0..<issuedPerson.count {
            try close(&facts.issuedStart, before: person(issuedPerson[k]), rows: facts.issuedCode.count)
            guard let code = Int32(exactly: issuedCode[k]) else { throw SparkError.result("an issued code out of range") }
            facts.issuedCode.append(code)
            facts.issuedDay.append(try day(issuedDay[k]))
        }
        try close(&facts.issuedStart, before: people.count, rows: facts.issuedCode.count)
        return facts
    }

    /// A care file's codes as an array of (system, code) structs: an admission's primary and
    /// secondary diagnoses and its procedure, an A&E attendance's diagnosis (SNOMED CT when all
    /// digits, else ICD-10), none for the others.
    static func careCodes(_ spec: FileSpec) -> String {
        let c = FileChecks.column
        func code(_ system: String, _ x: String) -> String { "named_struct('system', \(system), 'code', \(x))" }
        let icd10 = "\(CodeSystem.icd10.rawValue)", opcs4 = "\(CodeSystem.opcs4.rawValue)"
        let candidates: String
        switch spec.name {
        case InputContract.inpatientSpells.name:
            candidates = """
                concat(array(\(code(icd10, "a.\(c("primary_diagnosis"))"))),
                       transform(split(a.\(c("secondary_diagnoses")), '[|]', -1), x -> \(code(icd10, "x"))),
                       array(\(code(opcs4, "a.\(c("primary_procedure"))"))))
                """
        case InputContract.aeAttendances.name:
            let d = "a.\(c("diagnosis"))"
            candidates =
                "array(\(code("IF(\(d) RLIKE :digits, \(CodeSystem.snomed.rawValue), \(icd10))", d)))"
        default:
            candidates = "array(\(code(icd10, "''")))"
        }
        return "filter(\(candidates), x -> x.code <> '')"
    }

    /// A code system's number (`CodeSystem.rawValue`) from its name in an extract.
    static func system(of name: String) -> String {
        "CASE \(name) \(CodeSystem.allCases.map { "WHEN '\($0.name)' THEN \($0.rawValue)" }.joined(separator: " ")) END"
    }

    /// A valid code's normal form (`CodeFormat.normalise`): ICD-10 and OPCS-4 upper-cased without
    /// their dot, and ICD-10's trailing `X` filler of a four-character code dropped.
    static func normal(code x: String, system: String) -> String {
        let plain = SQLCheck.upperASCII("replace(\(x), '.', '')")
        let icd10 = "IF(char_length(\(plain)) = 4 AND endswith(\(plain), 'X'), substring(\(plain), 1, 3), \(plain))"
        return
            "CASE \(system) WHEN \(CodeSystem.icd10.rawValue) THEN \(icd10) WHEN \(CodeSystem.opcs4.rawValue) THEN \(plain) ELSE \(x) END"
    }

    /// A checked plain decimal as the reader computes it (`Field.optionalDecimal`): its whole part
    /// plus its fraction's digits over their power of ten, each exact in a double, then one
    /// division and one addition, so both engines round alike.
    static func decimal(_ x: String) -> String {
        let unsigned = "IF(startswith(\(x), '-'), substring(\(x), 2), \(x))"
        // try_cast: Spark may compute a projection before the filter that drops a quarantined row.
        let whole = "try_cast(coalesce(nullif(split_part(\(unsigned), '.', 1), ''), '0') AS DOUBLE)"
        let digits = "split_part(\(unsigned), '.', 2)"
        let fraction =
            "try_cast(coalesce(nullif(\(digits), ''), '0') AS DOUBLE) / try_cast(concat('1', repeat('0', char_length(\(digits)))) AS DOUBLE)"
        return "IF(startswith(\(x), '-'), -(\(whole) + \(fraction)), \(whole) + \(fraction))"
    }
}
