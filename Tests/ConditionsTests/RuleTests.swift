import Conditions
import Foundation
import PHMCore
import TestSupport
import Testing

/// Worked examples for every rule type, on hand-built people with known answers.
@Suite struct RuleTests {
    static let asOf = Day(iso: "2025-04-01")!

    typealias History = TestSupport.History

    static func population(_ people: [History]) -> Population { constructedPopulation(people, asOf: asOf) }

    static let yaml = """
        version: 1
        codelists:
          asthma: {system: SNOMED, codes: ['195967001']}
          asthma_resolved: {system: SNOMED, codes: ['162660004']}
          egfr: {system: SNOMED, codes: ['1011481000000105']}
          inhalers: {system: BNF, codes: ['0301']}
          diabetes_icd10: {system: ICD10, codes: ['E10-E14']}
          diabetes: {system: SNOMED, codes: ['44054006']}
        conditions:
          - {id: asthma_ever, name: A, rule: {ever: [asthma]}}
          - {id: asthma_recent, name: B, rule: {recorded_within: {lists: [asthma], months: 12}}}
          - {id: asthma_new, name: C, rule: {first_recorded_within: {lists: [asthma], months: 12}}}
          - {id: asthma_active, name: D, rule: {latest_not_resolved: {lists: [asthma], resolved: [asthma_resolved]}}}
          - {id: ckd, name: E, rule: {value: {lists: [egfr], last: 2, take: max, below: 60}}}
          - {id: low_latest, name: F, rule: {value: {lists: [egfr], take: latest, below: 60, within_months: 6}}}
          - {id: treated, name: G, rule: {prescriptions: {lists: [inhalers], months: 12, at_least: 4}}}
          - {id: asthma_treated, name: H, rule: {all: [{condition: asthma_ever}, {condition: treated}]}}
          - {id: either, name: I, ltc: true, rule: {any: [{ever: [diabetes]}, {ever: [diabetes_icd10]}]}}
          - {id: untreated_asthma, name: J, ltc: true, rule: {all: [{condition: asthma_ever}, {not: {condition: treated}}]}}
        scores:
          - {id: s, name: S, weights: {either: 2.5, untreated_asthma: 1}, divide_by: 2, categories: [{label: low, below: 1}, {label: high}]}
        """

    static func evaluate(_ people: [History]) throws -> (ConditionLibrary, ConditionResults) {
        let folder = temporaryFolder("rules")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("definitions.yaml")
        try Data(yaml.utf8).write(to: url)
        let library = try ConditionLibrary.load(definitions: url)
        let population = population(people)
        return (library, ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 2))
    }

    @Test func everyRuleTypeGivesTheWorkedAnswer() throws {
        var people = [History](repeating: History(), count: 6)
        // 0: asthma coded in 2010, resolved in 2015, coded again last year; four inhaler issues in the year.
        people[0].clinical = [
            ("2010-05-01", .snomed, "195967001", .nan), ("2015-01-01", .snomed, "162660004", .nan),
            ("2024-06-01", .snomed, "195967001", .nan),
        ]
        people[0].prescriptions = ["2024-04-10", "2024-07-10", "2024-10-10", "2025-01-10"].map { ($0, "0301011R0AAAAAA") }
        // 1: asthma coded in 2010 and resolved in 2015; three inhalers in the year and one after as-of.
        people[1].clinical = [("2010-05-01", .snomed, "195967001", .nan), ("2015-01-01", .snomed, "162660004", .nan)]
        people[1].prescriptions = ["2024-04-10", "2024-07-10", "2024-10-10", "2025-04-01"].map { ($0, "0301011R0AAAAAA") }
        // 2: eGFR 55 then 62: best of the last two is 62, not CKD; the latest is not below 60.
        people[2].clinical = [("2024-01-01", .snomed, "1011481000000105", 55), ("2024-12-01", .snomed, "1011481000000105", 62)]
        // 3: eGFR 70 long ago, then 58 and 52: CKD; the latest (52) is within 6 months and below 60.
        people[3].clinical = [
            ("2019-01-01", .snomed, "1011481000000105", 70), ("2024-06-01", .snomed, "1011481000000105", 58),
            ("2024-12-01", .snomed, "1011481000000105", 52), ("2025-05-01", .snomed, "1011481000000105", 90),
        ]
        // 4: diabetes only in hospital, as a secondary diagnosis; first asthma code last month.
        people[4].admissions = [("2023-03-01", "J18.9", ["E11.9", "I10"])]
        people[4].clinical = [("2025-03-01", .snomed, "195967001", .nan)]
        // 5: diabetes coded on the as-of day only: an outcome, not history.
        people[5].clinical = [("2025-04-01", .snomed, "44054006", .nan)]

        let (library, results) = try RuleTests.evaluate(people)
        func flagged(_ id: String) -> [Int] {
            let c = library.condition(id)!
            return (0..<6).filter { results.has($0, c) }
        }
        #expect(flagged("asthma_ever") == [0, 1, 4])
        #expect(flagged("asthma_recent") == [0, 4])
        #expect(flagged("asthma_new") == [4])
        #expect(flagged("asthma_active") == [0, 4])
        #expect(flagged("ckd") == [3])
        #expect(flagged("low_latest") == [3])
        #expect(flagged("treated") == [0])
        #expect(flagged("asthma_treated") == [0])
        #expect(flagged("either") == [4])
        #expect(flagged("untreated_asthma") == [1, 4])
        #expect(results.ltcCount == [0, 1, 0, 0, 2, 0])
        #expect(results.scores[0] == [0, 0.5, 0, 0, 1.75, 0])
        #expect(library.scores[0].category(of: 0.5) == "low")
        #expect(library.scores[0].category(of: 1.75) == "high")
        // First-recorded dates: the earliest code of the condition's lists.
        let asthma = library.condition("asthma_ever")!
        #expect(results.conditions(of: 0).first { $0.condition == asthma }?.firstRecorded.description == "2010-05-01")
        #expect(
            results.conditions(of: 4).first { $0.condition == library.condition("either")! }?.firstRecorded.description
                == "2023-03-01")
        // A condition made of conditions is dated by theirs: person 1's asthma, first coded in
        // 2010, makes untreated asthma from then, not from as-of.
        let untreated = library.condition("untreated_asthma")!
        #expect(results.conditions(of: 1).first { $0.condition == untreated }?.firstRecorded.description == "2010-05-01")
    }
}
