import ArrowIPC
import Identity
import Ingest
import Outputs
import PHMCore
import SparkConnect

/// The GP spine and the deterministic linkage rules as Spark plans, over the accepted rows
/// `SparkIngest` leaves: registrations grouped into persons by valid NHS number, each person
/// described by their registration at as-of, and every secondary and community care record linked
/// by the rules of `Linker`, in its order. The counts equal `LinkageReport`'s for those rules; the
/// match-weight stage, which follows for the records they leave unlinked, runs in process.
public struct SparkLinkage: Sendable {
    public let asOf: Day

    public init(asOf: Day) {
        self.asOf = asOf
    }

    /// What the spine and the rules come to: the spine's sizes, and each care file's records,
    /// counts by rule and NHS number conflicts.
    public struct Counts: Sendable {
        public var registrations = 0
        public var persons = 0
        public var personsWithoutValidNHSNumber = 0
        public var bySource: [String: LinkageCounts] = [:]
    }

    /// The key the `spine` view gives the in-process spine's person: `n` and the NHS number, or
    /// `p` and the patient id of the one registration without a valid number.
    public static func personKey(_ person: Int, spine: Spine, patients: PatientRecords) -> String {
        let r = Int(spine.registrationOfPerson[person])
        let nhs = patients.nhsNumber[r]
        return nhs != 0 ? "n" + NHSNumber.text(nhs) : "p" + patients.patientId[r]
    }

    static let careFiles = [
        InputContract.inpatientSpells, InputContract.aeAttendances, InputContract.outpatientAppointments,
        InputContract.careContacts,
    ]

    /// Links the care files present (`present` names them) to the spine; leaves the views `spine`
    /// (person key, attributes) and `linked` (care file, record id, day, cost, setting, kind,
    /// codes, person key, rule) in the session.
    public func link(_ spark: SparkSession.Connection, present: Set<String>) async throws -> Counts {
        typealias C = SQLCheck
        let c = FileChecks.column
        // Identity fields as the reader keeps them: a valid NHS number or none, names reduced to
        // upper-case ASCII letters, a valid postcode normalised or none.
        // 0000000000 passes the check, but the reader keeps a number as 0 for none.
        func nhs(_ table: String) -> String {
            let x = "\(table).\(c("nhs_number"))"
            return "IF(\(C.nhsMalformed(x)) OR \(C.nhsBadCheck(x)) OR \(x) IN ('', '0000000000'), NULL, \(x))"
        }
        func name(_ x: String) -> String { "regexp_replace(\(C.upperASCII(x)), '[^A-Z]', '')" }
        func postcode(_ x: String) -> String {
            "IF(\(x) = '' OR \(C.badPostcode(x)), '', \(C.upperASCII("replace(\(x), ' ', '')")))"
        }
        let day = asOf.description
        try await spark.createView(
            "registrations",
            query: """
                SELECT p.id, p.\(c("patient_id")) AS patient_id, \(nhs("p")) AS nhs, p.\(c("date_of_birth")) AS dob, p.\(c("sex")) AS sex,
                       \(name("p.\(c("family_name"))")) AS family, \(name("p.\(c("given_name"))")) AS given,
                       \(postcode("p.\(c("postcode"))")) AS postcode, p.\(c("registered_from")) AS registered_from,
                       (p.\(c("registered_from")) <= :asOf AND (p.\(c("registered_to")) = '' OR :asOf < p.\(c("registered_to")))) AS covers
                FROM accepted_patients p
                """, SparkIngest.parameters.merging(["asOf": .string(day)]) { $1 })
        // A person: the registrations that share a valid NHS number, or one registration without,
        // keyed by the number or by the registration's patient id (unique among accepted rows).
        try await spark.createView(
            "registrations_keyed",
            query: "SELECT *, IF(nhs IS NULL, concat('p', patient_id), concat('n', nhs)) AS person FROM registrations")
        // Described by the first registration covering as-of, else the latest to start (the first
        // in the file among equals).
        try await spark.createView(
            "spine",
            query: """
                SELECT person, nhs, dob AS birth, sex, family FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY person ORDER BY covers DESC, IF(covers, id, NULL), registered_from DESC, id) AS k
                    FROM registrations_keyed)
                WHERE k = 1
                """)
        // The demographic keys of every registration, old names and addresses included: a key two
        // persons share links no one.
        func index(_ view: String, _ key: String, where condition: String) async throws {
            try await spark.createView(
                view,
                query: """
                    SELECT \(key), IF(count(DISTINCT person) = 1, min(person), NULL) AS person
                    FROM (SELECT *, substring(given, 1, 1) AS initial FROM registrations_keyed)
                    WHERE \(condition) GROUP BY \(key)
                    """)
        }
        try await index("by_full", "dob, sex, family, postcode", where: "family <> '' AND postcode <> ''")
        try await index("by_initial", "dob, sex, postcode, initial", where: "postcode <> '' AND given <> ''")
        try await index("by_names", "dob, sex, family, given", where: "family <> '' AND given <> ''")

        var counts = Counts()
        let spine = try await spark.query(
            """
            SELECT count(*) AS registrations, count(DISTINCT person) AS persons,
                   count_if(nhs IS NULL) AS without_nhs FROM registrations_keyed
            """)
        counts.registrations = Int(try SparkIngest.integer(spine, "registrations"))
        counts.persons = Int(try SparkIngest.integer(spine, "persons"))
        counts.personsWithoutValidNHSNumber = Int(try SparkIngest.integer(spine, "without_nhs"))

        let files = Self.careFiles.filter { present.contains($0.name) }
        guard !files.isEmpty else { return counts }
        // With each record's day, cost (the reader's 32-bit value), setting and kind, so what
        // counts use and cost reads the links once.
        func activity(_ spec: FileSpec) -> String {
            // As the reader rounds it: the decimal to a double, then to a 32-bit float. try_cast,
            // because Spark may compute a projection before the filter that drops a quarantined row.
            let cost = "CAST(CAST(try_cast(a.\(c("cost")) AS DOUBLE) AS FLOAT) AS DOUBLE) AS cost"
            switch spec.name {
            case InputContract.inpatientSpells.name:
                return
                    "a.\(c("admission_date")) AS day, \(cost), 'apc' AS setting, CASE substring(a.\(c("admission_method")), 1, 1) WHEN '1' THEN 'elective' WHEN '2' THEN 'emergency' ELSE 'admission' END AS kind"
            case InputContract.aeAttendances.name:
                return "a.\(c("arrival_date")) AS day, \(cost), 'ae' AS setting, 'ae' AS kind"
            case InputContract.outpatientAppointments.name:
                return
                    "a.\(c("appointment_date")) AS day, \(cost), 'outpatient' AS setting, IF(a.\(c("attended")) = 'Y', 'attended', 'dna') AS kind"
            default:
                return "a.\(c("start_date")) AS day, \(cost), a.\(c("setting")) AS setting, 'contact' AS kind"
            }
        }
        let care = files.map { spec in
            """
            SELECT '\(spec.name)' AS file, a.\(c("record_id")) AS record_id, \(activity(spec)), \(SparkCodes.careCodes(spec)) AS codes,
                   \(nhs("a")) AS nhs,
                   IF(a.\(c("date_of_birth")) = '' OR \(C.badDate("a.\(c("date_of_birth"))")), NULL, a.\(c("date_of_birth"))) AS dob,
                   IF(\(C.notIn("a.\(c("sex"))", Sex.allCases.map(\.code))), NULL, a.\(c("sex"))) AS sex,
                   \(name("a.\(c("family_name"))")) AS family, \(name("a.\(c("given_name"))")) AS given,
                   \(postcode("a.\(c("postcode"))")) AS postcode
            FROM accepted_\(SparkIngest.viewName(spec)) a
            """
        }
        try await spark.createView("care", query: care.joined(separator: " UNION ALL "), SparkIngest.parameters)
        // The rules in `Linker.link`'s order: the NHS number with the date of birth, or with the
        // family name and sex (else a conflict, and the demographic rules are tried); then, with a
        // date of birth and a sex, the three demographic keys.
        let rules = LinkRule.allCases.map(\.name)
        func rule(_ r: LinkRule) -> String { "'\(r.name)'" }
        try await spark.createView(
            "linked",
            query: """
                SELECT file, record_id, day, cost, setting, kind, codes,
                       CASE WHEN n.person IS NOT NULL AND r.dob = n.birth THEN n.person
                            WHEN n.person IS NOT NULL AND r.family <> '' AND r.family = n.family AND r.sex = n.sex THEN n.person
                            WHEN r.dob IS NULL OR r.sex IS NULL THEN NULL
                            WHEN r.family <> '' AND r.postcode <> '' AND f.person IS NOT NULL THEN f.person
                            WHEN r.postcode <> '' AND r.given <> '' AND i.person IS NOT NULL THEN i.person
                            WHEN r.family <> '' AND r.given <> '' AND m.person IS NOT NULL THEN m.person END AS person,
                       CASE WHEN n.person IS NOT NULL AND r.dob = n.birth THEN \(rule(.nhsNumberAndBirth))
                            WHEN n.person IS NOT NULL AND r.family <> '' AND r.family = n.family AND r.sex = n.sex THEN \(rule(.nhsNumberAndName))
                            WHEN r.dob IS NULL OR r.sex IS NULL THEN \(rule(.unlinked))
                            WHEN r.family <> '' AND r.postcode <> '' AND f.person IS NOT NULL THEN \(rule(.birthSexNamePostcode))
                            WHEN r.postcode <> '' AND r.given <> '' AND i.person IS NOT NULL THEN \(rule(.birthSexPostcodeInitial))
                            WHEN r.family <> '' AND r.given <> '' AND m.person IS NOT NULL THEN \(rule(.birthSexNames))
                            ELSE \(rule(.unlinked)) END AS rule,
                       (n.person IS NOT NULL AND NOT coalesce(r.dob = n.birth, false)
                        AND NOT (r.family <> '' AND r.family = n.family AND coalesce(r.sex = n.sex, false))) AS conflict
                FROM care r
                LEFT JOIN spine n ON r.nhs = n.nhs
                LEFT JOIN by_full f ON r.dob = f.dob AND r.sex = f.sex AND r.family = f.family AND r.postcode = f.postcode
                LEFT JOIN by_initial i ON r.dob = i.dob AND r.sex = i.sex AND r.postcode = i.postcode
                    AND substring(r.given, 1, 1) = i.initial
                LEFT JOIN by_names m ON r.dob = m.dob AND r.sex = m.sex AND r.family = m.family AND r.given = m.given
                """)
        let table = try await spark.query(
            "SELECT file, rule, count(*) AS n, count_if(conflict) AS conflicts FROM linked GROUP BY file, rule")
        guard case .strings(let fileColumn) = try table.column("file").values,
            case .strings(let ruleColumn) = try table.column("rule").values
        else { throw SparkError.result("linkage counts of an unexpected type") }
        for row in 0..<table.rowCount {
            guard let file = fileColumn[row], let rule = ruleColumn[row], rules.contains(rule) else {
                throw SparkError.result("a linkage count without its file or rule")
            }
            let n = Int(try SparkIngest.integer(table, "n", row: row))
            counts.bySource[file, default: LinkageCounts()].records += n
            counts.bySource[file, default: LinkageCounts()].byRule[rule, default: 0] += n
            counts.bySource[file, default: LinkageCounts()].nhsNumberConflicts +=
                Int(try SparkIngest.integer(table, "conflicts", row: row))
        }
        return counts
    }
}
