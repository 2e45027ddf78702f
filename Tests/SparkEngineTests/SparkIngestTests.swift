import Conditions
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore
import SparkConnect
import Synthesis
import TestSupport
import Testing

@testable import Pipeline
@testable import SparkEngine

/// The contract's checks on Spark against the in-process reader's, file by file, on a synthetic
/// health system with faults and rows written to break every rule and earn every warning.
@Suite struct SparkIngestTests {
    static var session: SparkSession { SparkSession(try! SparkAddress(SparkTesting.address!)) }

    /// Reads, checks and links one extract on Spark and in process: the reconciliation of every
    /// file, the spine and the counts of the deterministic linkage rules are equal. Identities are
    /// messy (NHS numbers missing and wrong, names and addresses changed), so every rule links.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func readsAndLinksAsTheInProcessEngineDoes() async throws {
        let folder = temporaryFolder("spark-ingest")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = SynthesisOptions(people: 1_500, seed: 7)
        options.faultRate = 0.002
        options.identities = .messy
        _ = try SyntheticHealthSystem.write(options, to: folder)
        try Self.addHostileRows(to: folder, asOf: options.asOf)

        let extract = try ExtractReader(folder: folder).read()
        let inProcess = extract.reconciliation
        let window = DayWindow.months(12, before: options.asOf)
        let library = try ConditionLibrary.standard()
        let (onSpark, linked, use, codes) = try await Self.session.connect { spark in
            let reports = try await SparkIngest(folder: folder.path).reconcile(spark)
            let present = Set(reports.filter(\.present).map(\.file))
            let linked = try await SparkLinkage(asOf: options.asOf).link(spark, present: present)
            let use = try await SparkUtilisation(window: window).facts(spark, present: present)
            let codes = try await SparkCodes(asOf: options.asOf).facts(spark, library: library, present: present)
            return (reports, linked, use, codes)
        }
        try Self.expectLinkage(linked, equalTo: extract, asOf: options.asOf)
        try Self.expectUtilisation(use, equalTo: extract, window: window)
        try Self.expectConditions(codes, equalTo: extract, library: library, asOf: options.asOf)
        #expect(onSpark.map(\.file) == inProcess.map(\.file))
        var rules = Set<String>(), warnings = Set<String>()
        for (spark, local) in zip(onSpark, inProcess) {
            #expect(spark.present == local.present, "\(local.file)")
            #expect(spark.rowsIn == local.rowsIn, "\(local.file) rows in")
            #expect(spark.accepted == local.accepted, "\(local.file) accepted")
            #expect(spark.quarantined == local.quarantined, "\(local.file) quarantined")
            #expect(spark.quarantinedByRule == local.quarantinedByRule, "\(local.file) by rule")
            #expect(spark.warnings == local.warnings, "\(local.file) warnings")
            #expect(spark.extraColumns == local.extraColumns, "\(local.file) extra columns")
            #expect(spark.bytes == local.bytes, "\(local.file) bytes")
            #expect(spark.balances)
            rules.formUnion(local.quarantinedByRule.keys)
            warnings.formUnion(local.warnings.keys)
        }
        // The comparison covers every rule a CSV row can break and every warning.
        let csvRules = Set(Rule.allCases.map(\.rawValue)).subtracting(["json_syntax", "resource_type", "line_length"])
        #expect(rules == csvRules, "rules not exercised: \(csvRules.subtracting(rules))")
        #expect(warnings == Set(Warning.allCases.map(\.rawValue)).subtracting(["cost_missing"]))
    }

    static func expectLinkage(_ spark: SparkLinkage.Counts, equalTo extract: Extract, asOf: Day) throws {
        let spine = Spine(patients: extract.patients, asOf: asOf)
        let linkage = Linker(patients: extract.patients, spine: spine).link(extract.care, workers: 2)
        #expect(spark.registrations == extract.patients.count)
        #expect(spark.persons == spine.count)
        let withoutNHS = (0..<spine.count).filter { extract.patients.nhsNumber[Int(spine.registrationOfPerson[$0])] == 0 }
        #expect(spark.personsWithoutValidNHSNumber == withoutNHS.count)
        var bySource: [String: LinkageCounts] = [:]
        for row in 0..<extract.care.count {
            let file = LinkageReport.file(of: extract.care.kind[row])
            bySource[file, default: LinkageCounts()].records += 1
            bySource[file, default: LinkageCounts()].byRule[linkage.rule[row].name, default: 0] += 1
            if linkage.nhsConflict[row] { bySource[file, default: LinkageCounts()].nhsNumberConflicts += 1 }
        }
        #expect(Set(spark.bySource.keys) == Set(bySource.keys))
        var rules = Set<String>()
        for (file, local) in bySource {
            let counts = spark.bySource[file]
            #expect(counts?.records == local.records, "\(file) records")
            #expect(counts?.byRule == local.byRule, "\(file) by rule")
            #expect(counts?.nhsNumberConflicts == local.nhsNumberConflicts, "\(file) conflicts")
            rules.formUnion(local.byRule.keys)
        }
        // Every deterministic rule linked someone, and some records were left to match weights.
        let deterministic: [LinkRule] = [
            .nhsNumberAndBirth, .nhsNumberAndName, .birthSexNamePostcode, .birthSexPostcodeInitial, .birthSexNames, .unlinked,
        ]
        #expect(rules == Set(deterministic.map(\.name)), "\(rules)")
        #expect(bySource.values.reduce(0) { $0 + $1.nhsNumberConflicts } > 0)
    }

    /// The spine and the population built from the deterministic links only, as Spark links.
    static func deterministicPopulation(_ extract: Extract, asOf: Day) -> (Spine, Population) {
        let spine = Spine(patients: extract.patients, asOf: asOf)
        let linkage = Linker(patients: extract.patients, spine: spine).link(extract.care, workers: 2)
        let population = PopulationBuilder.build(
            extract: extract, spine: spine, linkage: linkage, pseudonyms: Array(repeating: "", count: spine.count),
            asOf: asOf)
        return (spine, population)
    }

    /// Each person's use and cost on Spark against `Utilisation` over the population built from
    /// the same deterministic links: counts equal, costs equal to 1 part in 10^9 (sums of the same
    /// 32-bit costs in another order).
    static func expectUtilisation(_ facts: SparkUtilisation.Facts, equalTo extract: Extract, window: DayWindow) throws {
        let (spine, population) = deterministicPopulation(extract, asOf: window.end)
        let use = Utilisation(population, window: window, workers: 2)
        let row = Dictionary(uniqueKeysWithValues: facts.person.enumerated().map { ($1, $0) })
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }
        var differences: [String] = []
        var used = 0
        for p in 0..<spine.count {
            let key = SparkLinkage.personKey(p, spine: spine, patients: extract.patients)
            let k = row[key]
            if k != nil { used += 1 }
            func count(_ values: [Int64]) -> Int64 { k.map { values[$0] } ?? 0 }
            func sum(_ values: [Double]) -> Double { k.map { values[$0] } ?? 0 }
            var same =
                count(facts.aeAttendances) == Int64(use.aeAttendances[p])
                && count(facts.outpatientAttendances) == Int64(use.outpatientAttendances[p])
                && count(facts.electiveAdmissions) == Int64(use.electiveAdmissions[p])
                && count(facts.emergencyAdmissions) == Int64(use.emergencyAdmissions[p])
                && count(facts.prescriptionTypes) == Int64(use.prescriptionTypes[p])
                && close(sum(facts.apcCost), use.apcCost[p]) && close(sum(facts.emergencyCost), use.emergencyCost[p])
            for s in CareSetting.allCases {
                same = same && close(sum(facts.costBySetting[Int(s.rawValue)]), use.costBySetting[Int(s.rawValue)][p])
            }
            for k in CareSetting.careContactSettings.indices {
                same = same && count(facts.careContacts[k]) == Int64(use.careContacts[k][p])
            }
            if !same { differences.append(key) }
        }
        #expect(differences.isEmpty, "\(differences.count) people differ, first \(differences.prefix(3))")
        #expect(used == facts.person.count, "every person with use on Spark is a person of the spine")
        #expect(used > 500)
        #expect(use.emergencyAdmissions.reduce(0, +) > 100 && use.prescriptionTypes.reduce(0, +) > 1_000)
    }

    /// Each person's conditions, first dates, LTC count, scores and list history from the code
    /// facts of Spark against `ConditionEngine` over the events of the same deterministic links:
    /// equal, bit for bit.
    static func expectConditions(_ spark: SparkCodes.Result, equalTo extract: Extract, library: ConditionLibrary, asOf: Day)
        throws
    {
        let (spine, population) = deterministicPopulation(extract, asOf: asOf)
        let local = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 2)
        let remote = spark.engine.evaluate(spark.facts, workers: 2)
        let row = Dictionary(uniqueKeysWithValues: spark.people.enumerated().map { ($1, $0) })
        #expect(spark.people.count == spine.count)
        var differences: [String] = []
        var withValues = 0
        for p in 0..<spine.count {
            let key = SparkLinkage.personKey(p, spine: spine, patients: extract.patients)
            guard let k = row[key] else {
                differences.append("\(key) missing")
                continue
            }
            let words = local.wordsPerPerson
            let a = local.lists.rows(of: p), b = remote.lists.rows(of: k)
            let same =
                local.flags[p * words..<(p + 1) * words].elementsEqual(remote.flags[k * words..<(k + 1) * words])
                && local.conditions(of: p).elementsEqual(remote.conditions(of: k)) { $0 == $1 }
                && local.ltcCount[p] == remote.ltcCount[k]
                && local.scores.indices.allSatisfy { local.scores[$0][p] == remote.scores[$0][k] }
                && local.lists.list[a].elementsEqual(remote.lists.list[b])
                && local.lists.lastRecorded[a].elementsEqual(remote.lists.lastRecorded[b])
                && local.lists.latestValue[a].map(\.bitPattern).elementsEqual(remote.lists.latestValue[b].map(\.bitPattern))
                && local.lists.latestValueDay[a].elementsEqual(remote.lists.latestValueDay[b])
            if !same { differences.append(key) }
            if local.lists.latestValue[a].contains(where: { !$0.isNaN }) { withValues += 1 }
        }
        #expect(differences.isEmpty, "\(differences.count) people differ, first \(differences.prefix(3))")
        #expect(remote.unmatchedEvents == local.unmatchedEvents)
        #expect(remote.unmatchedCodes == local.unmatchedCodes)
        // The comparison reaches every kind of rule: conditions found, values, people with many.
        let found = (0..<library.conditions.count).filter { c in (0..<spine.count).contains { local.has($0, c) } }
        #expect(found.count > library.conditions.count / 2, "\(found.count) conditions found")
        #expect(withValues > 500 && local.ltcCount.contains { $0 >= 4 })
        // The crafted histories: Q1's eGFR best of the latest two (50 and 25, the file's order on
        // one day) is below 60 and not below 30; four laxative issues make constipation.
        let q1 = spine.personOfRegistration[extract.patients.patientId.firstIndex(of: "Q1")!]
        func flagged(_ id: String) -> Bool { local.has(Int(q1), library.conditions.firstIndex { $0.id == id }!) }
        #expect(flagged("chronic_kidney_disease") && !flagged("ckd_stage_4_5") && flagged("constipation"))
        let polypharmacy = library.conditions.firstIndex { $0.id == "efi_polypharmacy" }!
        #expect((0..<spine.count).contains { local.has($0, polypharmacy) })
    }

    /// A file the contract needs, missing; one it does not, missing; a header without a column.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func refusesWhatTheInProcessReaderRefuses() async throws {
        let folder = MinimalExtract.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let reports = try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        #expect(reports.first { $0.file == "gp_events.csv" }?.present == false)
        #expect(reports.first { $0.file == "patients.csv" }?.accepted == 3)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("areas.csv"))
        await #expect {
            try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        } throws: { error in
            (error as? UnusableInput)?.file == "areas.csv"
        }
        try Data("lsoa_code,imd_score\nE01000001,3\n".utf8).write(to: folder.appendingPathComponent("areas.csv"))
        await #expect {
            try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        } throws: { error in
            (error as? UnusableInput)?.problem == "has no column 'imd_decile' in its header (line 1)"
        }
        try Data("lsoa_code,imd_decile\nE01000001,3\nE0100\u{0}0002,4\n".utf8).write(
            to: folder.appendingPathComponent("areas.csv"))
        await #expect {
            try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        } throws: { error in
            (error as? UnusableInput)?.problem.contains("NUL") == true
        }
        // A byte of Windows-1252, not UTF-8: refused on both.
        try Data([UInt8]("lsoa_code,imd_decile\nE01000001,3\nE01000002,4,Jos".utf8) + [0xE9, 0x0A]).write(
            to: folder.appendingPathComponent("areas.csv"))
        #expect(throws: UnusableInput.self) { try ExtractReader(folder: folder).read() }
        await #expect {
            try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        } throws: { error in
            (error as? UnusableInput)?.problem == "is not UTF-8"
        }
        // A further column that cannot name an area indicator: refused on both, with one message.
        try Data("lsoa_code,imd_decile,PM2.5\nE01000001,3,1\nE01000002,4,2\nE01000003,5,3\n".utf8).write(
            to: folder.appendingPathComponent("areas.csv"))
        let refusal = #expect(throws: UnusableInput.self) { try ExtractReader(folder: folder).read() }
        await #expect {
            try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        } throws: { error in
            (error as? UnusableInput)?.problem == refusal?.problem
        }
    }

    /// Optional columns a file leaves out read as empty on both: areas without imd_score, events
    /// without value and unit.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func readsFilesWithoutTheirOptionalColumns() async throws {
        let folder = MinimalExtract.folder([
            "areas.csv": "lsoa_code,imd_decile\nE01000001,1\nE01000002,5\nE01000003,10\nE01000004,11\n",
            "gp_events.csv": "patient_id,event_date,code_system,code\nP1,2020-01-01,SNOMED,38341003\nP2,2020-01-01,SNOMED,1\n",
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let inProcess = try ExtractReader(folder: folder).read().reconciliation
        let onSpark = try await Self.session.connect { spark in try await SparkIngest(folder: folder.path).reconcile(spark) }
        for (spark, local) in zip(onSpark, inProcess) {
            #expect(spark.rowsIn == local.rowsIn && spark.accepted == local.accepted, "\(local.file)")
            #expect(spark.quarantinedByRule == local.quarantinedByRule, "\(local.file)")
        }
        #expect(onSpark.first { $0.file == "areas.csv" }?.quarantinedByRule == ["out_of_range": 1])
        #expect(onSpark.first { $0.file == "gp_events.csv" }?.accepted == 1)
    }

    /// Rows for every rule and warning, appended to the synthetic files in each file's own column
    /// order; raw lines for the record's shape (quotes, field counts, blank lines, CRLF).
    static func addHostileRows(to folder: URL, asOf: Day) throws {
        func header(_ file: String) throws -> [String] {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            return text.prefix { $0 != "\n" }.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        func firstValue(_ file: String, _ column: String) throws -> String {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let lines = text.split(separator: "\n")
            let k = try header(file).firstIndex(of: column)!
            return String(lines[1].split(separator: ",", omittingEmptySubsequences: false)[k])
        }
        func quoted(_ value: String) -> String {
            value.contains(where: { $0 == "," || $0 == "\"" })
                ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        func append(_ file: String, base: [String: String], _ variants: [[String: String]], raw: [String] = []) throws {
            let columns = try header(file)
            var text = ""
            for variant in variants {
                let row = base.merging(variant) { $1 }
                text += columns.map { quoted(row[$0] ?? "") }.joined(separator: ",") + "\n"
            }
            for line in raw { text += line + "\n" }
            let handle = try FileHandle(forWritingTo: folder.appendingPathComponent(file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        }
        let practice = try firstValue("practices.csv", "practice_code")
        let area = try firstValue("areas.csv", "lsoa_code")
        let patient = try firstValue("patients.csv", "patient_id")

        try append(
            "practices.csv",
            base: [
                "practice_code": "Z99001", "practice_name": "Dŵr Surgery, Upper", "pcn_code": "U99001", "pcn_name": "PCN",
                "locality_code": "L99", "locality_name": "Town", "organisation_code": "Q99", "organisation_name": "Board",
            ],
            [
                [:], ["practice_code": "z99002"], ["practice_code": "Z99003", "practice_name": "Tab\there"],
                ["practice_code": "Z99004", "pcn_name": ""], ["practice_code": practice],
                ["practice_code": "Z99005", "practice_name": String(repeating: "é", count: 101)],
                ["practice_code": "Z99006", "locality_code": "L1"],
                ["practice_code": "Z99007", "organisation_code": "ABCDEFGHIJK"],
            ],
            raw: [
                "Z99008,Bad\"quote,U1,P,L99,T,Q99,B", "Z99009,Too,few", "", "\r", "Z99010,CRLF,U99001,PCN,L99,Town,Q99,Board\r",
            ])
        try append(
            "areas.csv", base: ["lsoa_code": "E09000001", "imd_decile": "3", "imd_score": "12.5"],
            [
                [:], ["lsoa_code": "E0900000X"], ["lsoa_code": "E09000002", "imd_decile": ""],
                ["lsoa_code": "E09000003", "imd_decile": "11"], ["lsoa_code": "E09000004", "imd_decile": "3.5"],
                ["lsoa_code": "E09000005", "imd_decile": "3.0"], ["lsoa_code": "E09000006", "imd_decile": "1e1"],
                ["lsoa_code": "E09000007", "imd_score": "-"], ["lsoa_code": area], ["lsoa_code": "e09000008"],
                ["lsoa_code": "E09000009", "imd_score": "-.5"], ["lsoa_code": "E09000010", "imd_score": "1234567890123456"],
            ])
        let person: [String: String] = [
            "patient_id": "Q1", "nhs_number": "9434765919", "given_name": "Ada", "family_name": "Lovelace",
            "date_of_birth": "1950-12-10", "sex": "F", "postcode": "LS1 4AP", "lsoa_code": area, "ethnic_category": "A",
            "practice_code": practice, "registered_from": "2000-01-01", "registered_to": "", "date_of_death": "",
            "national_opt_out": "N",
        ]
        try append(
            "patients.csv", base: person,
            [
                [:], ["patient_id": "Q2", "nhs_number": "943476591"], ["patient_id": "Q3", "nhs_number": "9434765918"],
                ["patient_id": "Q4", "postcode": "LS1 4A"], ["patient_id": "Q5", "date_of_birth": "1952-02-29"],
                ["patient_id": "Q6", "date_of_birth": "1889-12-31"], ["patient_id": "Q7", "sex": "X"],
                ["patient_id": "Q8", "sex": ""], ["patient_id": "Q9", "lsoa_code": "E09999999"],
                ["patient_id": "Q10", "ethnic_category": "T"], ["patient_id": "Q11", "practice_code": "Y00000"],
                ["patient_id": "Q12", "registered_from": "1949-01-01"], ["patient_id": "Q13", "registered_to": "1999-12-31"],
                ["patient_id": "Q14", "date_of_death": "1950-01-01"], ["patient_id": "Q15", "national_opt_out": "y"],
                ["patient_id": "Q 16"], ["patient_id": ""], ["patient_id": patient],
                ["patient_id": "Q17", "given_name": "Ad\u{7F}a"], ["patient_id": "Q18", "nhs_number": "12345", "sex": "X"],
                ["patient_id": "Q19", "postcode": "ls14ap"], ["patient_id": "Q20", "lsoa_code": ""],
                ["patient_id": "Q21", "date_of_birth": "2000-02-29", "registered_from": "2000-03-01"],
                ["patient_id": "Q22", "registered_from": "2101-01-01"], ["patient_id": "Q23", "date_of_birth": "19501210"],
                ["patient_id": "Q24", "postcode": "SW1A 1AA", "nhs_number": "4010232137"],
                ["patient_id": "Q25", "nhs_number": "٤٠١٠٢٣٢١٣٧"], ["patient_id": "Q26", "postcode": "ſW1A 1AA"],
                // Ten zeros pass the check but mean no number: two persons, not one.
                ["patient_id": "Q28", "nhs_number": "0000000000"], ["patient_id": "Q29", "nhs_number": "0000000000"],
            ], raw: ["Q27,\"9434765919\",\"Ada \"\"Al\"\" \",Lovelace,1950-12-10,F,,,,\(practice),2000-01-01,,,N,extra"])
        try append(
            "gp_events.csv",
            base: [
                "patient_id": patient, "event_date": "2024-01-01", "code_system": "SNOMED", "code": "38341003", "value": "",
                "unit": "",
            ],
            [
                [:], ["patient_id": "NOBODY"], ["patient_id": "Q7"], ["patient_id": "Q1"], ["code_system": "snomed"],
                ["code": "38341004"], ["code_system": "READ2", "code": "C10..00"], ["code_system": "READ2", "code": "C10"],
                ["code_system": "CTV3", "code": "XaJQp"], ["code_system": "ICD10", "code": "e11.9"],
                ["code_system": "ICD10", "code": "E1.19"], ["code_system": "ICD10", "code": "E11X"], ["value": "1,5"],
                ["value": "1e3"], ["value": "-2.50"], ["unit": "mm\tHg"], ["event_date": "2023-02-30"], ["event_date": ""],
                ["code": ""], ["code_system": "OPCS4", "code": "A01"], ["code_system": "ICD10", "code": "E11.9A"],
                ["patient_id": "Q2"], ["code": "0838341003"],
                // A code no list holds, read before the row is quarantined: no code of the extract.
                ["code_system": "ICD10", "code": "Z99.9", "value": "1e3"],
            ])
        // Histories that reach the corners of the rules: eGFR values (the rule reads the best of
        // the latest two) three on one day, so their order in the file decides; a value of '-.5';
        // laxatives issued four times in the year, the first on the year's first day.
        let egfr = "1011481000000105"
        func day(_ months: Int, _ days: Int = 0) -> String { asOf.adding(months: -months).adding(days: days).description }
        try append(
            "gp_events.csv", base: ["patient_id": "Q1", "code_system": "SNOMED", "code": egfr, "unit": "mL/min"],
            [
                ["event_date": day(24), "value": "80"], ["event_date": day(6), "value": "70"],
                ["event_date": day(6), "value": "50"], ["event_date": day(6), "value": "25"],
                ["patient_id": patient, "event_date": day(3), "value": "-.5"],
                // One code in no list, written with and without its filler.
                ["event_date": day(1), "code_system": "ICD10", "code": "Z98X", "value": ""],
                ["event_date": day(1), "code_system": "ICD10", "code": "z98", "value": ""],
            ])
        try append(
            "prescriptions.csv",
            base: ["patient_id": "Q1", "code_system": "BNF", "code": "0106020C0AAAAAA", "quantity": "1", "cost": "2.50"],
            [["issue_date": day(12)], ["issue_date": day(9)], ["issue_date": day(6)], ["issue_date": day(3)]])
        try append(
            "prescriptions.csv",
            base: [
                "patient_id": patient, "issue_date": "2024-01-01", "code_system": "BNF", "code": "0206020A0AAAAAA",
                "description": "", "quantity": "28", "cost": "1.20",
            ],
            [
                [:], ["quantity": "-1"], ["cost": "-0"], ["cost": "-0.01"], ["code_system": "DMD", "code": "318000000"],
                ["code_system": "DMD", "code": "318000001"], ["code": "0206020a0aaaaaa"], ["code": "02060"],
                ["description": "Line\u{1}"], ["quantity": "abc"],
            ])
        let identity: [String: String] = [
            "nhs_number": "9434765919", "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1950-12-10", "sex": "F",
            "postcode": "LS1 4AP", "ethnic_category": "A",
        ]
        let identityWarnings: [[String: String]] = [
            ["nhs_number": "1"], ["nhs_number": "9434765918"], ["date_of_birth": "1950-13-01"], ["sex": "Z"],
            ["postcode": "NOT A CODE"], ["ethnic_category": "Q"], ["ethnic_category": "AA"], ["date_of_birth": "1850-01-01"],
            ["nhs_number": "0000000000"],
        ]
        func numbered(_ prefix: String, _ rows: [[String: String]]) -> [[String: String]] {
            rows.enumerated().map { k, row in ["record_id": "\(prefix)\(k)"].merging(row) { $1 } }
        }
        try append(
            "inpatient_spells.csv",
            base: identity.merging([
                "provider_code": "RQX", "admission_date": "2024-01-01", "discharge_date": "2024-01-03", "admission_method": "21",
                "primary_diagnosis": "J18.9", "secondary_diagnoses": "I10|E11.9", "primary_procedure": "", "cost": "2500",
            ]) { $1 },
            numbered(
                "XS",
                [
                    [:], ["admission_method": "2E"], ["admission_method": "2A"], ["secondary_diagnoses": "I10||E11"],
                    ["primary_procedure": "A01.1"], ["primary_procedure": "A011X"], ["discharge_date": "2023-12-31"],
                    ["cost": ""], ["admission_method": ""], ["primary_diagnosis": "j189"], ["primary_diagnosis": ""],
                    ["provider_code": "rqx"], ["secondary_diagnoses": "I10|"],
                ] + identityWarnings) + [
                    ["record_id": "XS0"], ["record_id": "has space"], ["record_id": ""],
                    // Long keys that are one as Unicode text but two as bytes: two records.
                    ["record_id": "XS-long-record-identifier-\u{E9}"], ["record_id": "XS-long-record-identifier-e\u{301}"],
                ])
        try append(
            "ae_attendances.csv",
            base: identity.merging(["provider_code": "RQX", "arrival_date": "2024-01-01", "diagnosis": "", "cost": "180"]) { $1 },
            numbered(
                "XE",
                [
                    [:], ["diagnosis": "123456"], ["diagnosis": "J189"], ["diagnosis": "38341003"], ["diagnosis": "J18.9.1"],
                    ["cost": "1.2.3"], ["arrival_date": "2024-1-01"],
                ] + identityWarnings))
        try append(
            "outpatient_appointments.csv",
            base: identity.merging([
                "provider_code": "RQX", "appointment_date": "2024-01-01", "attended": "Y", "treatment_function_code": "300",
                "cost": "120",
            ]) { $1 },
            numbered(
                "XO",
                [[:], ["attended": "Yes"], ["treatment_function_code": "12"], ["attended": "N"], ["cost": "-5"]]
                    + identityWarnings))
        try append(
            "care_contacts.csv",
            base: identity.merging([
                "setting": "community", "service": "Nursing", "start_date": "2024-01-05", "end_date": "", "cost": "60",
            ]) { $1 },
            numbered(
                "XC",
                [
                    [:], ["setting": "Community"], ["end_date": "2024-01-04"], ["service": String(repeating: "s", count: 201)],
                    ["setting": "mental_health", "end_date": "2024-01-05"],
                ] + identityWarnings))
    }
}
