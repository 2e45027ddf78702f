import Analysis
import Cohorts
import Conditions
import Foundation
import PHMCore
import TestSupport
import Testing

/// Bridges to Health and the seed segmentation on hand-built people, and user definitions.
@Suite struct SegmentationTests {
    static let asOf = Day(iso: "2025-04-01")!

    static func admission(_ date: String, _ code: String) -> (String, String, [String]) { (date, code, []) }

    /// Each person is built to land in one segment; the expected ids are beside them.
    static let people: [(History, bridges: String, ltcAge: String?)] = [
        // Palliative care outranks dementia.
        (
            History(age: 80, admissions: [admission("2025-01-10", "Z51.5"), admission("2020-01-01", "F03")]),
            "short_decline_before_dying", nil
        ),
        (
            History(age: 85, admissions: [admission("2020-01-01", "F03"), admission("2021-01-01", "I50")]), "frailty_dementia",
            "2E"
        ),
        // Ten eFI deficits of 36 (0.28): moderate frailty without dementia.
        (
            History(
                age: 70,
                admissions: ["R42", "R06.0", "R41", "R26", "Z74.0", "M80", "L89", "G47", "Z60", "R29.6"].map {
                    admission("2023-06-01", $0)
                }), "frailty_dementia", nil
        ),
        (History(age: 60, admissions: [admission("2022-01-01", "I50")]), "organ_failure", "1C"),
        // eGFR below 30 twice: CKD stage 4-5.
        (
            History(
                age: 60,
                clinical: [("2024-06-01", .snomed, "1011481000000105", 25), ("2024-12-01", .snomed, "1011481000000105", 28)]),
            "organ_failure", "1C"
        ),
        (History(age: 30, admissions: [admission("2010-01-01", "F70")]), "serious_disability", "1B"),
        (History(age: 50, admissions: [admission("2019-01-01", "I10")]), "stable_chronic", "1C"),
        (History(age: 0), "maternal_infant", "0A"),
        (History(age: 30, admissions: [admission("2024-12-01", "O80")]), "maternal_infant", "0B"),
        (History(age: 30, aeAttendances: ["2024-10-01"]), "acutely_ill", "0B"),
        // An attendance more than 12 months ago does not make someone acutely ill.
        (History(age: 30, aeAttendances: ["2023-01-01"]), "healthy", "0B"),
        (History(age: 17), "healthy", "0A"),
        // Disability outranks pregnancy.
        (
            History(age: 40, admissions: [admission("2010-01-01", "F70"), admission("2024-12-01", "O80")]), "serious_disability",
            "1B"
        ),
    ]

    /// The people as a run's frame holds them, and their segments.
    static func assign(_ segmentations: [Segmentation]) throws -> SegmentAssignments {
        let population = constructedPopulation(people.map(\.0), asOf: asOf)
        let library = try ConditionLibrary.standard()
        let conditions = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 2)
        let rows = population.registered
        let frame = PersonFrame(
            runId: 1, population: population, rows: rows, library: library, conditions: conditions,
            use: Utilisation(population, window: .months(12, before: asOf), workers: 1))
        return try SegmentAssignments(segmentations, frame: frame, people: rows, count: population.count)
    }

    @Test func bridgesToHealthAssignsTheHighestPrioritySegment() throws {
        let segmentations = [Segmentation.ltcByAge] + (try Segmentation.standard(library: try ConditionLibrary.standard()))
        #expect(segmentations.map(\.id) == ["ltc_age", "bridges_to_health"])
        #expect(segmentations[1].segments.count == 8)
        let assigned = try SegmentationTests.assign(segmentations)
        for (p, expected) in SegmentationTests.people.enumerated() {
            #expect(assigned.label(1, p) == expected.bridges, "person \(p)")
            if let ltcAge = expected.ltcAge { #expect(assigned.label(0, p) == ltcAge, "person \(p)") }
        }
    }

    @Test func theSeedSegmentationCoversEveryBandOnce() {
        let s = Segmentation.ltcByAge
        #expect(s.segments.count == 25)
        #expect(s.segments.map(\.id).prefix(6) == ["0A", "0B", "0C", "0D", "0E", "1A"])
        #expect(s.segments.last!.id == "8E" && s.segments.last!.rule == nil)
    }

    @Test func userSegmentationsAreReadAndChecked() throws {
        let library = try ConditionLibrary.standard()
        let folder = temporaryFolder("segmentations")
        defer { try? FileManager.default.removeItem(at: folder) }
        func load(_ yaml: String) throws -> [Segmentation] {
            let url = folder.appendingPathComponent("mine.yaml")
            try Data(yaml.utf8).write(to: url)
            return try Segmentation.load(definitions: url, library: library)
        }
        func failure(_ yaml: String) -> String? {
            do {
                _ = try load(yaml)
                return nil
            } catch { return "\(error)" }
        }
        let good = try load(
            """
            version: 1
            segmentations:
              - id: frailty_and_deprivation
                name: Older people by deprivation
                segments:
                  - {id: older_core20, name: "65+ in Core20", rule: {all: [{age: {at_least: 65}}, {imd_decile: {at_most: 2}}]}}
                  - {id: older, name: "65+", rule: {age: {at_least: 65}}}
                  - {id: women_with_conditions, name: "Women with LTCs", rule: {all: [{sex: F}, {ltc_count: {at_least: 1}}, {not: {condition: dementia}}]}}
                  - {id: everyone_else, name: Others}
              - id: the_same_as_text
                name: The same written as cohort text, the way the shipped file is
                segments:
                  - {id: older_core20, name: "65+ in Core20", where: "age >= 65 and imd_decile <= 2"}
                  - {id: older, name: "65+", where: "age >= 65"}
                  - id: women_with_conditions
                    name: "Women with LTCs"
                    where: "sex = female and ltc_count >= 1 and not condition dementia"
                  - {id: everyone_else, name: Others}
              - id: earlier_forms
                name: Bounds side by side, and total_cost, as earlier files wrote them
                segments:
                  - {id: working_age, name: "18-64", rule: {age: {at_least: 18, at_most: 64}}}
                  - {id: costly, name: "Costly", rule: {total_cost: {above: 0}}}
                  - {id: others, name: Others}
            """)
        #expect(good.first?.segments.map(\.id) == ["older_core20", "older", "women_with_conditions", "everyone_else"])
        let assigned = try SegmentationTests.assign(good)
        // No areas: nobody is in Core20, so 65+ people are "older"; person 3 (60, heart failure) is a woman with an LTC.
        #expect(assigned.label(0, 1) == "older")
        #expect(assigned.label(0, 3) == "women_with_conditions")
        #expect(assigned.label(0, 11) == "everyone_else")
        #expect(assigned.segment[1] == assigned.segment[0], "text and JSON forms assign alike")
        // 18 to 64 inclusive, both bounds held.
        let ages = SegmentationTests.people.map(\.0.age)
        for (p, age) in ages.enumerated() where age >= 18 && age <= 64 { #expect(assigned.label(2, p) == "working_age") }
        for (p, age) in ages.enumerated() where age < 18 || age > 64 { #expect(assigned.label(2, p) != "working_age") }

        let unknown = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, rule: {condition: not_a_condition}}
                  - {id: b, name: B}
            """)
        #expect(unknown?.contains("mine.yaml: segmentations[0] (s).segments[0] (a): unknown condition 'not_a_condition'") == true)
        let noCatchAll = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, rule: {age: {below: 18}}}
            """)
        #expect(noCatchAll?.contains("the last segment must have no rule") == true)
        let badRule = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, rule: {height: {below: 18}}}
                  - {id: b, name: B}
            """)
        #expect(badRule?.contains("segments[0] (a): height: unknown key 'height'") == true)
        let noBounds = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, rule: {score: {id: efi}}}
                  - {id: b, name: B}
            """)
        #expect(noBounds?.contains("expected exactly one comparison") == true)
        let twice = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, where: "age < 18", rule: {age: {below: 18}}}
                  - {id: b, name: B}
            """)
        #expect(twice?.contains("give the segment's definition once") == true)
        let badText = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, where: "age <"}
                  - {id: b, name: B}
            """)
        #expect(badText?.contains("segments[0] (a): ") == true)
        let nested = failure(
            """
            version: 1
            segmentations:
              - id: s
                name: S
                segments:
                  - {id: a, name: A, where: "segment ltc_age = 0A"}
                  - {id: b, name: B}
            """)
        #expect(nested?.contains("cannot be defined by another segmentation") == true)
    }
}
