import Cohorts
import Conditions
import Foundation
import PHMCore
import Pipeline
import Testing

/// The person frame a run saves for cohorts and worklists.
@Suite struct FrameTests {
    @Test func runSavesTheFrameCohortsQuery() throws {
        let result = DefaultRun.result
        let frame = try FrameFile.latest(dataDirectory: DefaultRun.folder.appendingPathComponent("data"))
        let population = result.population, registered = population.registered
        #expect(frame.runId == result.summary.runId && frame.count == result.summary.registeredPeople)
        #expect(frame.pseudonym == registered.map { population.pseudonym[$0] })
        #expect(frame.optedOut.filter { !$0 }.count == result.summary.planningPeople)

        // A condition criterion finds exactly the people the condition engine flagged.
        let hypertension = try #require(result.library.condition("hypertension"))
        let flagged = registered.filter { result.conditions.has($0, hypertension) }.count
        let query = try CohortQuery(try CohortText.parse("condition hypertension"), frame: frame)
        #expect(query.evaluate(frame).cardinality == flagged && flagged > 1_000)

        // The obesity rule written as a cohort over code-list history gives the engine's answer.
        let obesity = try #require(result.library.condition("obesity"))
        let rule = try CohortQuery(
            try CohortText.parse("latest bmi >= 30 within 24 months or recorded obesity_snomed within 24 months"), frame: frame)
        let expected = registered.indices.filter { result.conditions.has(registered[$0], obesity) }
        #expect(rule.evaluate(frame).rows == expected)

        // Every shipped care gap is written in names the shipped library has.
        for gap in try CareGap.load() { _ = try CohortQuery(gap.definition, frame: frame) }
    }
}
