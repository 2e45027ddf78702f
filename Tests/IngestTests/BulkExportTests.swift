import Foundation
import Ingest
import Outputs
import PHMCore
import TestSupport
import Testing

/// A FHIR Bulk Data export beside the contract's practices and areas: each mapping rule on a
/// UK Core shaped resource, and each way a line can be refused.
@Suite struct BulkExportTests {
    static let postcodes = "postcode,lsoa_code\nLS1 4AP,E01000001\nM13 9PL,E01000002\n"

    /// A patient in the UK Core and PDS shapes: NHS number, official name, GP by ODS code with
    /// the registration period, ethnic category extension, and a home address.
    static func patient(
        _ id: String,
        gp: String =
            #"{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A00001","period":{"start":"2000-01-01"}}}"#,
        ethnic: String = #"{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland","code":"H"}"#,
        extra: String = ""
    ) -> String {
        """
        {"resourceType":"Patient","id":"\(id)","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],\
        "name":[{"use":"usual","given":["Addie"]},{"use":"official","family":"Lovelace","given":["Ada","Augusta"]}],\
        "gender":"female","birthDate":"1950-12-10",\
        "address":[{"use":"home","postalCode":"M13 9PL","period":{"end":"2010-01-01"}},{"use":"home","postalCode":"LS1 4AP"}],\
        "generalPractitioner":[\(gp)],\
        "extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory","valueCodeableConcept":{"coding":[\(ethnic)]}}]\(extra)}
        """
    }

    func read(
        _ files: [String: String], raw: [String: [UInt8]] = [:], blockSize: Int = 16 << 20, without: Set<String> = [],
        organisation: Hierarchy.Unit? = nil
    ) throws -> Extract {
        let folder = temporaryFolder("fhir")
        defer { try? FileManager.default.removeItem(at: folder) }
        var all = ["practices.csv": MinimalExtract.practices, "areas.csv": MinimalExtract.areas, "postcodes.csv": Self.postcodes]
        for (k, v) in files { all[k] = v }
        for name in without { all[name] = nil }
        write(all, to: folder)
        for (name, bytes) in raw { try Data(bytes).write(to: folder.appendingPathComponent(name)) }
        return try ExtractReader(folder: folder, blockSize: blockSize, organisation: organisation).read()
    }

    func file(_ extract: Extract, _ name: String) -> FileReconciliation? {
        extract.reconciliation.first { $0.file == name }
    }

    @Test func readsAUKCorePatientAsARegistration() throws {
        let consent = """
            {"resourceType":"Consent","id":"c1","status":"active","scope":{"coding":[{"code":"patient-privacy"}]},\
            "category":[{"coding":[{"code":"59284-0"}]}],"patient":{"reference":"Patient/p1"},\
            "policy":[{"uri":"https://digital.nhs.uk/services/national-data-opt-out"}],"provision":{"type":"deny"}}
            """
        let extract = try read([
            "Patient.ndjson": Self.patient("p1", extra: #","deceasedDateTime":"2024-03-01T10:15:00+00:00""#) + "\n",
            "Consent.ndjson": consent + "\n",
        ])
        let p = extract.patients
        try #require(p.count == 1)
        #expect(p.patientId == ["p1"])
        #expect(p.nhsNumber == [9_434_765_919])
        #expect(p.givenName == ["Ada Augusta"] && p.familyName == ["Lovelace"])
        #expect(p.dateOfBirth == [Day(year: 1950, month: 12, day: 10)!])
        #expect(p.sex == [.female])
        // The current home address, and its small area from postcodes.csv.
        #expect(p.postcode == ["LS14AP"])
        #expect(p.area == [0])
        #expect(p.ethnicCategory == [UInt8(ascii: "H")])
        #expect(p.practice == [0])
        #expect(p.registeredFrom == [Day(year: 2000, month: 1, day: 1)!] && p.registeredTo == [.max])
        #expect(p.death == [Day(year: 2024, month: 3, day: 1)!])
        #expect(p.optedOut == [true])
        #expect(file(extract, "Patient.ndjson")?.accepted == 1)
        #expect(file(extract, "Consent.ndjson")?.accepted == 1)
    }

    @Test func readsWalesEthnicCodesByTheirGroupAndAPracticeByReference() throws {
        let wales = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryWales"
        let england = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
        let organisation = """
            {"resourceType":"Organization","id":"org-9","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A00002"}],"name":"South Surgery"}
            """
        let byReference = #"{"reference":"Organization/org-9","identifier":{"period":{"start":"2011-02-03","end":"2020-01-01"}}}"#
        let lines = [
            Self.patient("w1", ethnic: #"{"system":"\#(wales)","code":"T"}"#),
            Self.patient("w2", ethnic: #"{"system":"\#(wales)","code":"B"}"#),
            Self.patient("e1", ethnic: #"{"system":"\#(england)","code":"99"}"#),
            Self.patient("r1", gp: byReference),
        ]
        let extract = try read([
            "Patient.ndjson": lines.joined(separator: "\n") + "\n", "Organization.ndjson": organisation + "\n",
        ])
        let p = extract.patients
        try #require(p.count == 4)
        #expect(p.ethnicCategory[0] == UInt8(ascii: "S") && p.ethnicCategory[1] == UInt8(ascii: "C"))
        #expect(p.ethnicCategory[2] == 0)
        #expect(p.practice[3] == 1)
        #expect(
            p.registeredFrom[3] == Day(year: 2011, month: 2, day: 3)! && p.registeredTo[3] == Day(year: 2020, month: 1, day: 1)!)
    }

    @Test func countsAPatientWithNoPracticeAsNotRead() throws {
        let other = #"{"resourceType":"Patient","id":"h1","birthDate":"1970-01-01","gender":"male"}"#
        let extract = try read(["Patient.ndjson": Self.patient("p1") + "\n" + other + "\n"])
        let r = try #require(file(extract, "Patient.ndjson"))
        #expect(r.rowsIn == 2 && r.accepted == 1 && r.quarantined == 0)
        #expect(r.notRead == ["Patient with no registered practice (generalPractitioner)": 1])
        #expect(r.balances)
    }

    @Test func readsPrimaryCareRecordsAndCountsWhatItCannotRead() throws {
        let sct = "http://snomed.info/sct"
        let conditions = [
            #"{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"\#(sct)","code":"44054006"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"2015-06-01","recordedDate":"2016-01-01"}"#,
            #"{"resourceType":"Condition","id":"c2","code":{"coding":[{"system":"http://loinc.org","code":"x"},{"system":"http://read.info/readv2","code":"C10..","display":"Diabetes"}]},"subject":{"reference":"https://gp.example/fhir/Patient/p1"},"recordedDate":"2017-03-04T09:00:00Z"}"#,
            #"{"resourceType":"Condition","id":"c3","verificationStatus":{"coding":[{"code":"refuted"}]},"code":{"coding":[{"system":"\#(sct)","code":"195967001"}]},"subject":{"reference":"Patient/p1"},"recordedDate":"2018-01-01"}"#,
            #"{"resourceType":"Condition","id":"c4","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1"}]},"subject":{"reference":"Patient/p1"},"recordedDate":"2018-01-01"}"#,
        ]
        // Blood pressure: a LOINC panel whose SNOMED components carry the readings.
        let observations = [
            #"{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-02-01","component":[{"code":{"coding":[{"system":"\#(sct)","code":"271649006"}]},"valueQuantity":{"value":152,"unit":"mmHg"}},{"code":{"coding":[{"system":"\#(sct)","code":"271650006"}]},"valueQuantity":{"value":91,"unit":"mmHg"}}]}"#,
            #"{"resourceType":"Observation","id":"o2","status":"entered-in-error","code":{"coding":[{"system":"\#(sct)","code":"60621009"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-02-01","valueQuantity":{"value":31.2}}"#,
            // Smoking status: a LOINC code whose SNOMED value is the entry the library reads.
            #"{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"72166-2"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-01","valueCodeableConcept":{"coding":[{"system":"\#(sct)","code":"8517006"}]}}"#,
        ]
        let medications = [
            #"{"resourceType":"MedicationRequest","id":"m1","status":"completed","intent":"order","medicationCodeableConcept":{"coding":[{"system":"https://dmd.nhs.uk","code":"39113611000001102"}]},"subject":{"reference":"Patient/p1"},"authoredOn":"2024-01-05","dispenseRequest":{"quantity":{"value":28}}}"#,
            #"{"resourceType":"MedicationRequest","id":"m2","status":"active","intent":"plan","medicationCodeableConcept":{"coding":[{"system":"https://dmd.nhs.uk","code":"39113611000001102"}]},"subject":{"reference":"Patient/p1"},"authoredOn":"2024-01-05"}"#,
        ]
        let statement =
            #"{"resourceType":"MedicationStatement","id":"s1","status":"active","medicationCodeableConcept":{"coding":[{"system":"\#(sct)","code":"39113611000001102"}]},"subject":{"reference":"Patient/p1"},"effectivePeriod":{"start":"2023-11-30"}}"#
        let charges = [
            #"{"resourceType":"ChargeItem","id":"k1","status":"billed","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"priceOverride":{"value":1.25,"currency":"GBP"},"supportingInformation":[{"reference":"MedicationRequest/m1"}]}"#,
            #"{"resourceType":"ChargeItem","id":"k2","status":"billed","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"priceOverride":{"value":0.5,"currency":"GBP"},"supportingInformation":[{"reference":"MedicationRequest/m1"}]}"#,
        ]
        let extract = try read([
            "Patient.ndjson": Self.patient("p1") + "\n", "Condition.ndjson": conditions.joined(separator: "\n"),
            "Observation.ndjson": observations.joined(separator: "\n"),
            "MedicationRequest.ndjson": medications.joined(separator: "\n"),
            "MedicationStatement.ndjson": statement, "ChargeItem.ndjson": charges.joined(separator: "\n"),
        ])
        let c = extract.clinical
        let codes = c.code.map { extract.codes.codes[Int($0)] }
        #expect(codes == ["44054006", "C10..", "271649006", "271650006", "8517006"])
        #expect(c.code.map { extract.codes.systems[Int($0)] } == [.snomed, .read2, .snomed, .snomed, .snomed])
        #expect(
            c.day == [
                Day(year: 2015, month: 6, day: 1)!, Day(year: 2017, month: 3, day: 4)!, Day(year: 2024, month: 2, day: 1)!,
                Day(year: 2024, month: 2, day: 1)!, Day(year: 2024, month: 3, day: 1)!,
            ])
        #expect(c.value[0].isNaN && c.value[2] == 152 && c.value[3] == 91)
        #expect(
            file(extract, "Condition.ndjson")?.notRead == [
                "verificationStatus refuted": 1, "code system http://www.nlm.nih.gov/research/umls/rxnorm": 1,
            ])
        #expect(file(extract, "Observation.ndjson")?.notRead == ["status entered-in-error": 1])
        let rx = extract.prescriptions
        #expect(rx.count == 2)
        #expect(rx.code.map { extract.codes.systems[Int($0)] } == [.dmd, .dmd])
        #expect(rx.quantity[0] == 28 && rx.cost[0] == 1.75 && rx.cost[1] == 0)
        #expect(rx.day[1] == Day(year: 2023, month: 11, day: 30)!)
        #expect(file(extract, "MedicationRequest.ndjson")?.notRead == ["intent plan": 1])
        for r in extract.reconciliation { #expect(r.balances, "\(r.file)") }
    }

    @Test func quarantinesEachBrokenLineWithItsFileLineAndPath() throws {
        let lines = [
            Self.patient("p1"),
            #"{"resourceType":"Patient","id":"p2""#,
            #"{"resourceType":"Observation","id":"o1"}"#,
            Self.patient("p3").replacingOccurrences(of: #""birthDate":"1950-12-10""#, with: #""birthDate":"1950""#),
            Self.patient("p4").replacingOccurrences(of: #""gender":"female""#, with: #""gender":"f""#),
            "",
            Self.patient("p1"),
            "[1,2]",
            "{\"resourceType\":\"Patient\",\"id\":\"\u{FF}\"}",
            Self.patient("p5").replacingOccurrences(of: "A00001", with: "A09999"),
        ]
        var bytes = Array(lines.joined(separator: "\n").utf8)
        // A byte that is not UTF-8 (lines are checked one by one, so the rest still reads).
        let ff = bytes.firstIndex(of: 0xC3)!
        bytes.replaceSubrange(ff..<(ff + 2), with: [0xFF])
        let condition =
            #"{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"subject":{"reference":"Patient/nobody"},"recordedDate":"2018-01-01"}"#
        let extract = try read(["Condition.ndjson": condition + "\n"], raw: ["Patient.ndjson": bytes])
        #expect(extract.patients.patientId == ["p1"])
        let q = extract.quarantine.filter { $0.file == "Patient.ndjson" }.map { "\($0.line) \($0.column) \($0.rule.rawValue)" }
        #expect(
            q == [
                "2 $ json_syntax", "3 resourceType resource_type", "4 Patient.birthDate date_format",
                "5 Patient.gender enum_value",
                "7 Patient.id duplicate_key", "8 $ json_syntax", "9 $ json_syntax",
                "10 Patient.generalPractitioner.identifier.value unknown_practice",
            ])
        let unknown = try #require(extract.quarantine.first { $0.file == "Condition.ndjson" })
        #expect(unknown.column == "Condition.subject.reference" && unknown.rule == .unknownPatient)
        #expect(unknown.message.contains("is not a registered Patient of the export"))
        // Nothing that could identify anyone reaches the analytic copy of a quarantined resource.
        #expect(
            extract.quarantine.allSatisfy { !$0.redactedLine.contains("Lovelace") && !$0.redactedLine.contains("9434765919") })
        let r = try #require(file(extract, "Patient.ndjson"))
        #expect(r.rowsIn == 9 && r.accepted == 1 && r.quarantined == 8 && r.balances)
    }

    @Test func aLineLongerThanABlockIsQuarantinedAndTheRestRead() throws {
        let long = #"{"resourceType":"Patient","id":"big","x":""# + String(repeating: "a", count: 5_000) + "\"}"
        let extract = try read(
            ["Patient.ndjson": [Self.patient("p1"), long, Self.patient("p2")].joined(separator: "\n") + "\n"], blockSize: 2_048)
        #expect(extract.patients.patientId == ["p1", "p2"])
        let q = try #require(extract.quarantine.first)
        #expect(q.line == 2 && q.rule == .lineLength && q.rawLine.isEmpty)
    }

    /// Nesting a million deep, or a hundred unclosed objects, is one refused line each, found in
    /// one pass without recursion; the lines around them still read.
    @Test func deepNestingIsOneQuarantinedLine() throws {
        let lines = [
            Self.patient("p1"), String(repeating: "[", count: 1_000_000), String(repeating: "{\"a\":", count: 100),
            Self.patient("p2"),
        ]
        let extract = try read(["Patient.ndjson": lines.joined(separator: "\n")])
        #expect(extract.patients.patientId == ["p1", "p2"])
        #expect(extract.quarantine.map { "\($0.line) \($0.rule.rawValue)" } == ["2 json_syntax", "3 json_syntax"])
        #expect(extract.quarantine[0].message.contains("deeper than 64"))
    }

    @Test func countsTheLinesOfTypesItDoesNotRead() throws {
        let extract = try read([
            "Patient.ndjson": Self.patient("p1"), "AllergyIntolerance-1.ndjson": "{}\n{}\n{}",
        ])
        let r = try #require(file(extract, "AllergyIntolerance-1.ndjson"))
        #expect(r.rowsIn == 3 && r.notRead == ["resource type AllergyIntolerance is not read": 3] && r.balances)
    }

    @Test func theManifestNamesTheFilesAndTheirTypes() throws {
        let manifest = """
            {"transactionTime":"2025-04-01T00:00:00Z","request":"$export","requiresAccessToken":true,\
            "output":[{"type":"Patient","url":"https://fhir.example/bulk/9/file_1.ndjson"}],"error":[]}
            """
        let extract = try read(["manifest.json": manifest, "file_1.ndjson": Self.patient("p1")])
        #expect(extract.patients.patientId == ["p1"])
        let missing = #"{"output":[{"type":"Patient","url":"https://fhir.example/file_2.ndjson"}]}"#
        #expect(throws: UnusableInput.self) { try read(["manifest.json": missing]) }
        #expect(throws: UnusableInput.self) { try read(["manifest.json": "[]"]) }
    }

    /// gzip, as `gzip` writes it (two members one after the other, as `cat` joins them), reads as
    /// the text it holds; damaged, cut short or a bomb, the file is refused with its name.
    @Test func readsGzipFilesAndRefusesBadOnes() throws {
        let folder = temporaryFolder("gzip")
        defer { try? FileManager.default.removeItem(at: folder) }
        func gzipFile(_ text: String) throws -> [UInt8] {
            let plain = folder.appendingPathComponent("plain-\(UUID().uuidString)")
            try Data(text.utf8).write(to: plain)
            guard try runProgram(["/bin/sh", "-c", "gzip -n '\(plain.path)'"]).status == 0 else { return [] }
            return Array(try Data(contentsOf: URL(fileURLWithPath: plain.path + ".gz")))
        }
        let first = try gzipFile(Self.patient("p1") + "\n")
        let second = try gzipFile(Self.patient("p2") + "\n")
        // Named without .gz by the manifest: known by its first bytes.
        let manifest = #"{"output":[{"type":"Patient","url":"https://x/file_2"}]}"#
        let extract = try read(
            ["manifest.json": manifest], raw: ["Patient.ndjson.gz": first + second, "file_2": try gzipFile(Self.patient("p3"))])
        #expect(extract.patients.patientId.sorted() == ["p1", "p2", "p3"])
        let r = try #require(file(extract, "Patient.ndjson.gz"))
        #expect(r.rowsIn == 2 && r.bytes == first.count + second.count)

        var damaged = first
        damaged[damaged.count / 2] ^= 0xFF
        let cut = Array(first.prefix(first.count - 12))
        let bomb = try gzipFile(String(repeating: "{}\n", count: 20_000_000))
        #expect(throws: UnusableInput.self) {
            try read(["Patient.ndjson": Self.patient("p1")], raw: ["Patient.ndjson.gz": first])
        }
        for (bad, problem) in [(damaged, "damaged"), (cut, "ends in the middle"), (bomb, "expands to more than 250 times")] {
            #expect {
                try read([:], raw: ["Patient.ndjson.gz": bad])
            } throws: { error in
                (error as? UnusableInput).map { $0.file == "Patient.ndjson.gz" && $0.problem.contains(problem) } == true
            }
        }
    }

    /// A hospital's export beside a GP extract: the registered population from patients.csv, the
    /// export's Patients only as the people its encounters name.
    @Test func readsAHospitalExportBesideAGPExtract() throws {
        let hospitalPatient = #"{"resourceType":"Patient","id":"h1","name":[{"family":"Lovelace"}],"birthDate":"1950-12-10"}"#
        let consent = """
            {"resourceType":"Consent","id":"c1","status":"active","patient":{"reference":"Patient/P1"},\
            "policy":[{"uri":"https://digital.nhs.uk/services/national-data-opt-out"}],"provision":{"type":"deny"}}
            """
        let extract = try read([
            "patients.csv": MinimalExtract.patients, "Patient.ndjson": hospitalPatient + "\n" + Self.patient("p9"),
            "Encounter.ndjson": Self.admission, "Consent.ndjson": consent,
        ])
        // Opt-outs come from patients.csv, whose P1 has none: the export's Consent is counted, not used.
        #expect(extract.patients.optedOut[0] == false)
        #expect(
            file(extract, "Consent.ndjson")?.notRead == [
                "National Data Opt-out beside patients.csv (its national_opt_out column holds the opt-outs)": 1
            ])
        #expect(extract.patients.patientId == ["P1", "P2", "P3"])
        #expect(extract.care.recordId == ["s1"] && extract.care.dateOfBirth == [Day(year: 1950, month: 12, day: 10)!])
        #expect(
            file(extract, "Patient.ndjson")?.notRead == [
                "Patient with no registered practice (generalPractitioner)": 1,
                "Patient with a registered practice, beside patients.csv (which holds the registered population)": 1,
            ])
    }

    /// An encounter whose contained diagnoses are listed out of rank order.
    static let admission = """
        {"resourceType":"Encounter","id":"s1","status":"finished",\
        "contained":[{"resourceType":"Condition","id":"d2","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]},"subject":{"reference":"Patient/h1"}},\
        {"resourceType":"Condition","id":"d1","code":{"coding":[{"system":"http://snomed.info/sct","code":"233604007"},{"system":"http://hl7.org/fhir/sid/icd-10","code":"J18.9"}]},"subject":{"reference":"Patient/h1"}},\
        {"resourceType":"Procedure","id":"p1","status":"completed","code":{"coding":[{"system":"http://fhir.hl7.org.uk/CodeSystem/OPCS-4","code":"E85.1"}]},"subject":{"reference":"Patient/h1"}}],\
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/h1"},\
        "period":{"start":"2024-01-01T08:00:00Z","end":"2024-01-03"},\
        "diagnosis":[{"condition":{"reference":"#d2"},"rank":2},{"condition":{"reference":"#p1"}},{"condition":{"reference":"#d1"},"rank":1}],\
        "hospitalization":{"extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland","code":"21"}]}}]},\
        "serviceProvider":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RQX"}}}
        """

    @Test func readsEncountersAsAdmissionsAttendancesAndAppointments() throws {
        // The person as the hospital recorded them: no registered practice, a mistyped NHS number.
        let hospitalPatient = """
            {"resourceType":"Patient","id":"h1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765918"}],\
            "name":[{"family":"Lovelace","given":["Ada"]}],"gender":"female","birthDate":"1950-12-10","address":[{"postalCode":"LS1 4AP"}]}
            """
        func encounter(_ id: String, _ kind: String, status: String = "finished", extra: String = "") -> String {
            """
            {"resourceType":"Encounter","id":"\(id)","status":"\(status)","class":{"code":"\(kind)"},"subject":{"reference":"Patient/h1"},\
            "period":{"start":"2024-02-01"},"serviceProvider":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RQX"}}\(extra)}
            """
        }
        let attendance = encounter(
            "a1", "EMER",
            extra:
                ##","contained":[{"resourceType":"Condition","id":"x","code":{"coding":[{"system":"http://snomed.info/sct","code":"233604007"}]},"subject":{"reference":"Patient/h1"}}],"diagnosis":[{"condition":{"reference":"#x"}}]"##
        )
        let lines = [
            Self.admission, attendance, encounter("o1", "AMB", status: "cancelled"), encounter("o2", "AMB"),
            encounter("c1", "HH"), encounter("p1", "AMB", status: "planned"),
            encounter("e1", "EMER", extra: #","diagnosis":[{"condition":{"reference":"Condition/elsewhere"}}]"#),
            encounter("n1", "EMER").replacingOccurrences(of: "Patient/h1", with: "Patient/nobody"),
            encounter("x1", "EMER", status: "cancelled"), attendance,
        ]
        // Two charges whose sum is not exact in binary: 0.1 + 0.2.
        let charges = ["0.1", "0.2"].enumerated().map {
            #"{"resourceType":"ChargeItem","id":"k\#($0.offset)","status":"billed","code":{"text":"x"},"subject":{"reference":"Patient/h1"},"context":{"reference":"Encounter/s1"},"priceOverride":{"value":\#($0.element)}}"#
        }
        let extract = try read([
            "Patient.ndjson": Self.patient("p1") + "\n" + hospitalPatient, "Encounter.ndjson": lines.joined(separator: "\n"),
            "ChargeItem.ndjson": charges.joined(separator: "\n"),
        ])
        let care = extract.care
        try #require(care.count == 4)
        #expect(care.recordId == ["s1", "a1", "o1", "o2"])
        #expect(care.kind == [.emergencyAdmission, .aeAttendance, .outpatientDidNotAttend, .outpatientAttended])
        #expect(care.day[0] == Day(year: 2024, month: 1, day: 1)! && care.endDay[0] == Day(year: 2024, month: 1, day: 3)!)
        #expect(abs(care.cost[0] - 0.3) < 1e-6 && care.cost[1] == 0)
        let code = { (id: Int32) in id < 0 ? "" : extract.codes.codes[Int(id)] }
        #expect(code(care.diagnosis[0]) == "J189" && code(care.procedure[0]) == "E851")
        #expect(care.secondaryCodes[Int(care.secondaryStart[0])..<Int(care.secondaryStart[1])].map(code) == ["I10"])
        #expect(code(care.diagnosis[1]) == "233604007")
        #expect(care.provider.allSatisfy { OrganisationCode.text($0) == "RQX" })
        // Identity as the hospital recorded it, for linkage: the bad check digit counted, not trusted.
        #expect(care.nhsNumber.allSatisfy { $0 == 0 } && care.familyName[0] == "LOVELACE" && care.sex[0] == .female)
        let r = try #require(file(extract, "Encounter.ndjson"))
        // A cancelled attendance never began; the second a1 repeats a key.
        #expect(r.notRead == ["Encounter class HH": 1, "status planned": 1, "status cancelled": 1])
        #expect(r.warnings["cost_missing"] == 4 && r.warnings["nhs_number_check_digit"] == 5)
        #expect(
            r.readAs == ["inpatient_spells.csv": 1, "ae_attendances.csv": 1, "outpatient_appointments.csv": 2])
        #expect(
            extract.quarantine.map { "\($0.line) \($0.column) \($0.rule.rawValue)" } == [
                "7 Encounter.diagnosis.condition missing_value", "8 Encounter.subject.reference unknown_patient",
                "10 Encounter.id duplicate_key",
            ])
        #expect(r.balances)
    }

    @Test func refusesWhatWouldMisreadAPerson() throws {
        let practitionerFirst = Self.patient(
            "g1",
            gp:
                #"{"reference":"Practitioner/dr1"},{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A00002","period":{"start":"2001-01-01"}}}"#
        )
        let numericId = Self.patient("n1").replacingOccurrences(of: #""id":"n1""#, with: #""id":123"#)
        let consents = [
            // An opt-out in a shape the reader does not know is quarantined, not passed over.
            #"{"resourceType":"Consent","id":"c1","status":"active","patient":{"reference":"Patient/g1"},"policyRule":{"coding":[{"system":"https://digital.nhs.uk/services/national-data-opt-out"}]},"provision":{"type":"deny"}}"#,
            #"{"resourceType":"Consent","id":"c2","status":"inactive","patient":{"reference":"Patient/g1"},"policy":[{"uri":"https://digital.nhs.uk/services/national-data-opt-out"}],"provision":{"type":"deny"}}"#,
        ]
        let censored =
            #"{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"1011481000000105"}]},"subject":{"reference":"Patient/g1"},"effectiveDateTime":"2024-01-01","valueQuantity":{"value":90,"comparator":">","unit":"mL/min"}}"#
        let unknownSystems = (0..<60).map {
            #"{"resourceType":"Condition","id":"u\#($0)","code":{"coding":[{"system":"urn:local:\#($0)","code":"x"}]},"subject":{"reference":"Patient/g1"},"recordedDate":"2020-01-01"}"#
        }
        let extract = try read([
            "Patient.ndjson": practitionerFirst + "\n" + numericId, "Consent.ndjson": consents.joined(separator: "\n"),
            "Observation.ndjson": censored, "Condition.ndjson": unknownSystems.joined(separator: "\n"),
        ])
        #expect(extract.patients.patientId == ["g1"] && extract.patients.practice == [1])
        #expect(extract.patients.optedOut == [false])
        let q = extract.quarantine.map { "\($0.file) \($0.column) \($0.rule.rawValue)" }
        #expect(
            q == [
                "Consent.ndjson Consent.policy enum_value", "Patient.ndjson id text_format",
                "Observation.ndjson Observation.valueQuantity.comparator number_format",
            ])
        #expect(file(extract, "Consent.ndjson")?.notRead == ["National Data Opt-out Consent not active": 1])
        let reasons = try #require(file(extract, "Condition.ndjson")?.notRead)
        #expect(reasons.count == 51 && reasons["other reasons (more than 50 kinds)"] == 10)
        for r in extract.reconciliation { #expect(r.balances, "\(r.file)") }
    }

    /// An export on its own: practices from its registrations under the organisation named (with
    /// the names its Organizations give), every area unknown without areas.csv.
    @Test func takesPracticesFromTheExportWhenThereIsNoPracticesFile() throws {
        let organisation = """
            {"resourceType":"Organization","id":"o1","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"B81001"}],"name":"Riverside Surgery"}
            """
        let byReference = #"{"reference":"Organization/o1","identifier":{"period":{"start":"2011-02-03"}}}"#
        let byCode =
            #"{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"C82002","period":{"start":"2001-01-01"}}}"#
        let malformed =
            #"{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"not a code","period":{"start":"2001-01-01"}}}"#
        let files = [
            "Patient.ndjson": [
                Self.patient("p1", gp: byReference), Self.patient("p2", gp: byCode), Self.patient("p3", gp: malformed),
            ]
            .joined(separator: "\n"),
            "Organization.ndjson": organisation,
        ]
        let board = Hierarchy.Unit(code: "QWE", name: "South West Board")
        let extract = try read(files, without: ["practices.csv", "areas.csv", "postcodes.csv"], organisation: board)
        #expect(extract.hierarchy.practices.map(\.code) == ["B81001", "C82002"])
        #expect(extract.hierarchy.practices.map(\.name) == ["Riverside Surgery", "C82002"])
        #expect(extract.hierarchy.organisations == [board])
        #expect(extract.patients.patientId == ["p1", "p2"] && extract.patients.area == [-1, -1])
        #expect(extract.quarantine.map(\.rule) == [.unknownPractice])
        #expect(file(extract, "areas.csv")?.present == false)
        #expect {
            try read(files, without: ["practices.csv"])
        } throws: { error in
            (error as? UnusableInput)?.remedy.contains("--organisation") == true
        }
    }

    @Test func readsAManifestFileWhateverItsName() throws {
        let manifest = #"{"output":[{"type":"Patient","url":"https://fhir.example/bulk/Binary/abc123"}]}"#
        let extract = try read(["manifest.json": manifest, "abc123": Self.patient("p1")])
        #expect(extract.patients.patientId == ["p1"])
    }
}
