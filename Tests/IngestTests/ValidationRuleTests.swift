import Foundation
import Ingest
import Outputs
import TestSupport
import Testing

/// One bad row for each validation rule: it is quarantined with the right file, line, column and
/// rule, the good rows beside it are accepted, and the file reconciles.
@Suite struct ValidationRuleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        var row: String
        var rule: Rule
        var column: String
        var testDescription: String { "\(file) \(rule.rawValue) \(column)" }
    }

    static let spellHeader =
        "record_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,provider_code,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses,primary_procedure,cost"
    static let aeHeader =
        "record_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,provider_code,arrival_date,diagnosis,cost"
    static let opHeader =
        "record_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,provider_code,appointment_date,attended,treatment_function_code,cost"
    static let careHeader =
        "record_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,setting,service,start_date,end_date,cost"
    static let identity = "9434765919,Ada,Lovelace,1950-12-10,F,LS1 4AP"

    /// A valid first data row for each file, so the bad row is on line 3.
    static let goodRows: [String: String] = [
        "practices.csv": "A00009,Extra Surgery,U00001,North PCN,L01,Northtown,QX9,Test ICB",
        "areas.csv": "E01000009,3,30.0,9.0",
        "patients.csv": "P9,,Charles,Babbage,1940-12-26,M,,E01000001,,A00001,2001-01-01,,,N",
        "gp_events.csv": "P1,2020-01-01,SNOMED,38341003,,",
        "prescriptions.csv": "P1,2024-01-01,BNF,0206020A0AAAAAA,,28,1.20",
        "inpatient_spells.csv": "S1,\(identity),RQX,2024-01-01,2024-01-03,21,J18.9,I10|E11.9,,2500",
        "ae_attendances.csv": "E1,\(identity),RQX,2024-01-01,J18.9,180",
        "outpatient_appointments.csv": "O1,\(identity),RQX,2024-01-01,Y,300,120",
        "care_contacts.csv": "C1,\(identity),community,District nursing,2024-01-01,,60",
    ]
    static let headers: [String: String] = [
        "practices.csv": String(MinimalExtract.practices.split(separator: "\n")[0]),
        "areas.csv": String(MinimalExtract.areas.split(separator: "\n")[0]),
        "patients.csv": MinimalExtract.patientsHeader,
        "gp_events.csv": "patient_id,event_date,code_system,code,value,unit",
        "prescriptions.csv": "patient_id,issue_date,code_system,code,description,quantity,cost",
        "inpatient_spells.csv": spellHeader, "ae_attendances.csv": aeHeader, "outpatient_appointments.csv": opHeader,
        "care_contacts.csv": careHeader,
    ]

    static let cases: [Case] = [
        Case(
            file: "practices.csv", row: "A00003,Short Row,U00001,North PCN,L01,Northtown,QX9", rule: .fieldCount, column: "(row)"),
        Case(
            file: "practices.csv", row: "A00004,\"Bad \"quote,U00001,North PCN,L01,Northtown,QX9,Test ICB", rule: .quoting,
            column: "(row)"),
        Case(
            file: "practices.csv", row: "A00005,Stray\"quote,U00001,North PCN,L01,Northtown,QX9,Test ICB", rule: .quoting,
            column: "(row)"),
        Case(
            file: "practices.csv", row: "a0001,Lower Case,U00001,North PCN,L01,Northtown,QX9,Test ICB", rule: .codeFormat,
            column: "practice_code"),
        Case(
            file: "practices.csv", row: "A00001,Again,U00001,North PCN,L01,Northtown,QX9,Test ICB", rule: .duplicateKey,
            column: "practice_code"),
        Case(
            file: "practices.csv", row: "A00006,,U00001,North PCN,L01,Northtown,QX9,Test ICB", rule: .missingValue,
            column: "practice_name"),
        Case(file: "areas.csv", row: "E01000010,11,1.0,", rule: .outOfRange, column: "imd_decile"),
        Case(file: "areas.csv", row: "E01000011,2.5,1.0,", rule: .outOfRange, column: "imd_decile"),
        Case(file: "areas.csv", row: "E0100001X,3,,", rule: .codeFormat, column: "lsoa_code"),
        Case(file: "areas.csv", row: "E01000012,3,abc,", rule: .numberFormat, column: "imd_score"),
        Case(file: "areas.csv", row: "E01000013,3,1.0,1e5", rule: .numberFormat, column: "pm25"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-02-30,F,,E01000001,,A00001,2000-01-01,,,N", rule: .dateFormat,
            column: "date_of_birth"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1880-01-01,F,,E01000001,,A00001,2000-01-01,,,N", rule: .dateRange,
            column: "date_of_birth"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,X,,E01000001,,A00001,2000-01-01,,,N", rule: .enumValue,
            column: "sex"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01000001,,Z99999,2000-01-01,,,N", rule: .unknownPractice,
            column: "practice_code"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01009999,,A00001,2000-01-01,,,N", rule: .unknownArea,
            column: "lsoa_code"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,1999-01-01,,N", rule: .dateOrder,
            column: "registered_to"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,,1949-01-01,N", rule: .dateOrder,
            column: "date_of_death"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,,,", rule: .missingValue,
            column: "national_opt_out"),
        Case(
            file: "patients.csv", row: "P4,,Ann,Other,1950-01-01,F,,E01000001,Q,A00001,2000-01-01,,,N", rule: .enumValue,
            column: "ethnic_category"),
        Case(
            file: "patients.csv", row: "P 4,,Ann,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,,,N", rule: .textFormat,
            column: "patient_id"),
        Case(
            file: "patients.csv", row: "P4,,Ann\tTab,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,,,N", rule: .textFormat,
            column: "given_name"),
        Case(
            file: "patients.csv", row: "P1,,Ann,Other,1950-01-01,F,,E01000001,,A00001,2000-01-01,,,N", rule: .duplicateKey,
            column: "patient_id"),
        Case(file: "gp_events.csv", row: "P404,2020-01-01,SNOMED,38341003,,", rule: .unknownPatient, column: "patient_id"),
        Case(file: "gp_events.csv", row: "P1,2020-01-01,SCT,38341003,,", rule: .enumValue, column: "code_system"),
        Case(file: "gp_events.csv", row: "P1,2020-01-01,SNOMED,38341004,,", rule: .codeFormat, column: "code"),
        Case(file: "gp_events.csv", row: "P1,2020-01-01,SNOMED,271649006,high,mmHg", rule: .numberFormat, column: "value"),
        Case(file: "gp_events.csv", row: "P1,,SNOMED,38341003,,", rule: .missingValue, column: "event_date"),
        Case(
            file: "prescriptions.csv", row: "P1,2024-01-01,BNF,0206020A0AAAAAA,,28,-1.00", rule: .negativeAmount, column: "cost"),
        Case(file: "prescriptions.csv", row: "P1,2024-01-01,SNOMED,38341003,,28,1.00", rule: .enumValue, column: "code_system"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-01,2024-01-03,99,J18.9,,,2500", rule: .enumValue,
            column: "admission_method"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-05,2024-01-03,21,J18.9,,,2500", rule: .dateOrder,
            column: "discharge_date"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-01,2024-01-03,21,XYZ,,,2500", rule: .codeFormat,
            column: "primary_diagnosis"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-01,2024-01-03,21,J18.9,I10|Q,,2500", rule: .codeFormat,
            column: "secondary_diagnoses"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-01,2024-01-03,21,J18.9,,W4A,2500", rule: .codeFormat,
            column: "primary_procedure"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),RQX,2024-01-01,2024-01-03,21,J18.9,,,", rule: .missingValue,
            column: "cost"),
        Case(
            file: "inpatient_spells.csv", row: "S2,\(identity),rqx,2024-01-01,2024-01-03,21,J18.9,,,10", rule: .codeFormat,
            column: "provider_code"),
        Case(
            file: "inpatient_spells.csv", row: "S1,\(identity),RQX,2024-01-01,2024-01-03,21,J18.9,,,2500", rule: .duplicateKey,
            column: "record_id"),
        Case(
            file: "ae_attendances.csv", row: "E2,\(identity),RQX,2024-01-01,38341004,180", rule: .codeFormat, column: "diagnosis"),
        Case(file: "ae_attendances.csv", row: "E2,\(identity),RQX,2024-01-01,,1,80", rule: .fieldCount, column: "(row)"),
        Case(
            file: "outpatient_appointments.csv", row: "O2,\(identity),RQX,2024-01-01,X,300,120", rule: .enumValue,
            column: "attended"),
        Case(
            file: "outpatient_appointments.csv", row: "O2,\(identity),RQX,2024-01-01,Y,30,120", rule: .codeFormat,
            column: "treatment_function_code"),
        Case(
            file: "care_contacts.csv", row: "C2,\(identity),hospice,Day care,2024-01-01,,60", rule: .enumValue, column: "setting"),
        Case(
            file: "care_contacts.csv", row: "C2,\(identity),community,Nursing,2024-01-05,2024-01-01,60", rule: .dateOrder,
            column: "end_date"),
        Case(
            file: "care_contacts.csv", row: "C2,\(identity),community,Nursing,2024-01-05,,1.2.3", rule: .numberFormat,
            column: "cost"),
    ]

    @Test(arguments: cases)
    func quarantinesTheBadRow(_ c: Case) throws {
        var files: [String: String] = [:]
        var body = ValidationRuleTests.headers[c.file]! + "\n" + ValidationRuleTests.goodRows[c.file]! + "\n" + c.row + "\n"
        if ["practices.csv", "areas.csv", "patients.csv"].contains(c.file) {
            // Keep the minimal extract's rows, then the good row and the bad row.
            let base =
                c.file == "practices.csv"
                ? MinimalExtract.practices : c.file == "areas.csv" ? MinimalExtract.areas : MinimalExtract.patients
            body = base + ValidationRuleTests.goodRows[c.file]! + "\n" + c.row + "\n"
        }
        files[c.file] = body
        let folder = MinimalExtract.folder(files)
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        let rejected = extract.quarantine.filter { $0.file == c.file }
        try #require(rejected.count == 1, "quarantine: \(extract.quarantine.map { "\($0.rule) \($0.message)" })")
        #expect(rejected[0].rule == c.rule)
        #expect(rejected[0].column == c.column)
        let expectedLine = body.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == c.row[...] }! + 1
        #expect(rejected[0].line == expectedLine)
        #expect(rejected[0].rawLine == c.row)
        let file = extract.reconciliation.first { $0.file == c.file }!
        #expect(file.balances)
        #expect(file.quarantined == 1)
        #expect(file.quarantinedByRule == [c.rule.rawValue: 1])
        #expect(file.accepted == file.rowsIn - 1)
    }

    /// Keys are compared as bytes: two long ids that are one as Unicode text (é as one character,
    /// and e with a combining accent) are two records, and a patient id written the other way is
    /// not the patient's.
    @Test func longKeysAreComparedAsBytes() throws {
        let composed = "P-long-patient-identifier-\u{E9}", decomposed = "P-long-patient-identifier-e\u{301}"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let folder = MinimalExtract.folder([
            "patients.csv": MinimalExtract.patients
                + "\(composed),,Ada,Byron,1950-12-10,F,,E01000001,,A00001,2000-01-01,,,N\n"
                + "\(decomposed),,Ada,Byron,1950-12-10,F,,E01000001,,A00001,2000-01-01,,,N\n",
            "gp_events.csv": "patient_id,event_date,code_system,code,value,unit\n\(composed),2020-01-01,SNOMED,38341003,,\n",
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.patients.count == 5)
        #expect(extract.quarantine.isEmpty, "\(extract.quarantine.map(\.rule))")
        #expect(extract.clinical.registration == [3])
    }

    @Test func redactsIdentifyingFieldsOutsideTheVault() throws {
        let bad = "P4,4010232137,Secretname,Hiddensurname,1950-02-30,F,SW1A 1AA,E01000001,,A00001,2000-01-01,,,N"
        let folder = MinimalExtract.folder(["patients.csv": MinimalExtract.patients + bad + "\n"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let row = try #require(try ExtractReader(folder: folder).read().quarantine.first)
        #expect(row.rawLine == bad)
        for secret in ["4010232137", "Secretname", "Hiddensurname", "1950-02-30", "SW1A 1AA"] {
            #expect(!row.redactedLine.contains(secret))
            #expect(!row.message.contains(secret))
        }
        #expect(row.redactedLine == "P4,***,***,***,***,F,***,E01000001,,A00001,2000-01-01,,,N")
    }

    @Test func countsUnusableIdentityFieldsAsWarningsAndKeepsTheRow() throws {
        let rows = """
            P4,9434765918,Ann,Other,1950-01-01,F,NOT A CODE,E01000001,,A00001,2000-01-01,,,N
            P5,12345,Bob,Other,1950-01-01,M,,E01000001,,A00001,2000-01-01,,,N

            """
        let folder = MinimalExtract.folder(["patients.csv": MinimalExtract.patients + rows])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        let file = extract.reconciliation.first { $0.file == "patients.csv" }!
        #expect(file.accepted == 5)
        #expect(file.warnings == ["nhs_number_check_digit": 1, "nhs_number_malformed": 1, "postcode_format": 1])
        #expect(extract.patients.nhsNumber[3] == 0)
        #expect(extract.patients.postcode[3] == "")
    }
}
