import Cohorts
import Conditions
import Foundation
import Governance
import Outputs
import PHMCore
import Pipeline
import Storage
import Synthesis
import TestSupport
import Testing

/// The person frame a run saves for cohorts and worklists.
@Suite struct FrameTests {
    @Test func runSavesTheFrameCohortsQuery() throws {
        let result = DefaultRun.result
        let frame = try FrameFile.latest(dataDirectory: DefaultRun.folder.appendingPathComponent("data"))
        let population = result.prepared.population, registered = population.registered
        #expect(frame.runId == result.summary.runId && frame.count == result.summary.registeredPeople)
        #expect(frame.pseudonym == registered.map { population.pseudonym[$0] })
        #expect(frame.optedOut.filter { !$0 }.count == result.summary.planningPeople)

        // A condition criterion finds exactly the people the condition engine flagged.
        let hypertension = try #require(result.prepared.library.condition("hypertension"))
        let flagged = registered.filter { result.prepared.conditions.has($0, hypertension) }.count
        let query = try CohortQuery(try CohortText.parse("condition hypertension"), frame: frame)
        #expect(try query.evaluate(frame).cardinality == flagged && flagged > 1_000)

        // The obesity rule written as a cohort over code-list history gives the engine's answer.
        let obesity = try #require(result.prepared.library.condition("obesity"))
        let rule = try CohortQuery(
            try CohortText.parse("latest bmi >= 30 within 24 months or recorded obesity_snomed within 24 months"), frame: frame)
        let expected = registered.indices.filter { result.prepared.conditions.has(registered[$0], obesity) }
        #expect(try rule.evaluate(frame).rows == expected)

        // Every shipped care gap is written in names the shipped library has.
        for gap in try CareGap.load() { _ = try CohortQuery(gap.definition, frame: frame) }
    }
}

/// Data sharing settings decide which sources each purpose's results come from.
@Suite struct SharingTests {
    @Test func eachPurposeIsBuiltFromTheSourcesSharedForIt() throws {
        let folder = temporaryFolder("sharing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        var settings = SharingSettings.default
        settings.allowed[.community]?.remove(.planning)
        settings.allowed[.socialCare]?.remove(.directCare)
        try GovernanceStore(directory: data, key: PlatformKey.load()).setSharing(settings)
        let out = folder.appendingPathComponent("out")
        var options = RunOptions(
            input: DefaultRun.input, asOf: SyntheticHealthSystem.defaultAsOf, output: out, dataDirectory: data,
            keyFile: DefaultRun.keyFile)
        options.projection.years = 0
        let result = try PipelineRun.execute(options)
        #expect(result.summary.stages.contains { $0.name == "direct care frame" })

        // Planning outputs have no community data, and still have social care.
        let persons = readCSV(out.appendingPathComponent("persons.csv"))
        func total(_ column: String) -> Double {
            let c = persons[0].firstIndex(of: column)!
            return persons.dropFirst().reduce(0) { $0 + Double($1[c])! }
        }
        #expect(total("cost_community_12m") == 0 && total("cost_social_care_12m") > 0)

        // The direct care frame has community data and no social care: the same people, other costs.
        let planning = try FrameFile.latest(dataDirectory: data)
        let directCare = try FrameFile.latest(dataDirectory: data, variant: Purpose.directCare.rawValue)
        #expect(planning.pseudonym == directCare.pseudonym)
        let defaultFrame = try FrameFile.latest(dataDirectory: DefaultRun.folder.appendingPathComponent("data"))
        let full = Dictionary(uniqueKeysWithValues: zip(defaultFrame.pseudonym, defaultFrame.use[.cost]!))
        let community = result.prepared.population.registered.map {
            result.prepared.utilisation.costBySetting[Int(CareSetting.community.rawValue)][$0]
        }
        #expect(community.allSatisfy { $0 == 0 })
        var lower = 0
        for (row, p) in directCare.pseudonym.enumerated() {
            // Direct care cost is everything but social care: at most the full cost.
            let fullCost = try #require(full[p])
            #expect(directCare.use[.cost]![row] <= fullCost + 0.01)
            if directCare.use[.cost]![row] < fullCost - 0.01 { lower += 1 }
        }
        #expect(lower > 100)
    }
}
