import Foundation
import Identity
import Ingest
import PHMCore
import TestSupport
import Testing

@Suite struct LinkerTests {
    static let header =
        "record_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,setting,service,start_date,end_date,cost"

    /// Links constructed records and returns (person's first patient id or nil, rule) per record.
    func link(_ rows: [String], patients extra: String = "") throws -> [(String?, LinkRule)] {
        let body =
            LinkerTests.header + "\n" + rows.map { $0 + ",community,Nursing,2024-01-01,,10" }.joined(separator: "\n") + "\n"
        let folder = MinimalExtract.folder(["care_contacts.csv": body, "patients.csv": MinimalExtract.patients + extra])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        let spine = Spine(patients: extract.patients, asOf: Day(iso: "2025-04-01")!)
        let linkage = Linker(patients: extract.patients, spine: spine).link(extract.care, workers: 2)
        return (0..<extract.care.count).map { r in
            let p = linkage.person[r]
            guard p >= 0 else { return (nil, linkage.rule[r]) }
            return (extract.patients.patientId[Int(spine.registrations[Int(spine.registrationStart[Int(p)])])], linkage.rule[r])
        }
    }

    @Test func appliesEachRuleInOrder() throws {
        let results = try link([
            "R1,9434765919,Ada,Lovelace,1950-12-10,F,LS1 4AP",  // NHS number and date of birth
            "R2,9434765919,Ada,Lovelace,1950-10-12,F,",  // NHS number, day and month swapped, name agrees
            "R3,,Grace,Hopper,2010-12-09,F,",  // no NHS number, no postcode on the spine: names rule
            "R4,,Ada,Lovelace,1950-12-10,F,LS14AP",  // demographics with postcode
            "R5,,Adah,Lovelase,1950-12-10,F,LS1 4AP",  // misspelt family name: postcode and initial
            "R6,4010232137,Ada,Lovelace,1950-12-10,F,LS1 4AP",  // someone else's NHS number: falls back
            "R7,,Ada,Lovelace,1950-12-11,F,LS1 4AP",  // wrong date of birth, no NHS number: unlinked
            "R8,9434765918,,,,,",  // invalid NHS number and nothing else: unlinked
        ])
        #expect(results.map(\.0) == ["P1", "P1", "P3", "P1", "P1", "P1", nil, nil])
        #expect(
            results.map(\.1) == [
                .nhsNumberAndBirth, .nhsNumberAndName, .birthSexNames, .birthSexNamePostcode, .birthSexPostcodeInitial,
                .birthSexNamePostcode, .unlinked, .unlinked,
            ])
    }

    @Test func neverLinksOnAnAmbiguousKey() throws {
        // Twins: same date of birth, sex, family name and postcode, different given names.
        let twins = """
            P8,,Tom,Twin,2000-01-01,M,AB1 2CD,E01000001,,A00001,2000-01-01,,,N
            P9,,Tim,Twin,2000-01-01,M,AB1 2CD,E01000001,,A00001,2000-01-01,,,N

            """
        let results = try link(["T1,,T,Twin,2000-01-01,M,AB1 2CD", "T2,,Tim,Twin,2000-01-01,M,"], patients: twins)
        #expect(results[0].0 == nil)
        #expect(results[1].0 == "P9")
        #expect(results[1].1 == .birthSexNames)
    }

    @Test func groupsRegistrationsOfOnePersonByNHSNumber() throws {
        // P1 moved from A00001 to A00002 in 2020: one person, current registration P7.
        let moved = "P7,9434765919,Ada,Lovelace,1950-12-10,F,M1 1AA,E01000002,A,A00002,2020-06-01,,,N\n"
        let folder = MinimalExtract.folder([
            "patients.csv": MinimalExtract.patients.replacingOccurrences(of: "2000-01-01,,,N", with: "2000-01-01,2020-06-01,,N")
                + moved
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        let spine = Spine(patients: extract.patients, asOf: Day(iso: "2025-04-01")!)
        #expect(spine.count == 3)
        #expect(spine.personOfRegistration[0] == spine.personOfRegistration[3])
        #expect(extract.patients.patientId[Int(spine.registrationOfPerson[Int(spine.personOfRegistration[0])])] == "P7")
    }
}
