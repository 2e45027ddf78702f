import Evaluation
import Foundation
import Governance
import Identity
import PHMCore
import Pipeline
import Storage
import Synthesis
import TestSupport
import Testing

/// A synthetic health system in which a programme enrolled adults with recent emergency
/// admissions (as a real one chooses by risk), run through the whole platform and evaluated as a
/// user would: `phm evaluate` with the enrolment list of NHS numbers.
@Suite(.serialized) struct ProgrammeEvaluationTests {
    static func evaluate(effect: Double, seed: UInt64) throws -> (result: EvaluationResult, data: URL) {
        let folder = temporaryFolder("programme-\(seed)")
        var synthesis = SynthesisOptions(people: 60_000, seed: seed)
        var programme = SynthesisOptions.Intervention(effect: effect)
        programme.enrolment = 0.5
        synthesis.intervention = programme
        let input = folder.appendingPathComponent("in")
        _ = try SyntheticHealthSystem.write(synthesis, to: input)
        let key = folder.appendingPathComponent("pseudonymisation.key")
        try Data((String(repeating: "7e", count: 32) + "\n").utf8).write(to: key)
        var options = RunOptions(
            input: input, asOf: synthesis.asOf, output: folder.appendingPathComponent("out"),
            dataDirectory: folder.appendingPathComponent("data"), keyFile: key)
        options.projection.years = 0
        _ = try PipelineRun.execute(options)
        let definition = folder.appendingPathComponent("programme.yaml")
        try """
        name: Synthetic programme
        intervention:
          list: in/ground-truth/intervention.csv
        eligibility: {minimum_age: 18}
        matching: {controls_per_person: 2}
        outcomes: [emergency_admissions, emergency_bed_days, cost]
        negative_controls: [elective_admissions, outpatient_attendances]
        bootstrap: 500
        """.write(to: definition, atomically: true, encoding: .utf8)
        let result = try EvaluationWriter.evaluate(
            definition: definition, dataDirectory: options.dataDirectory, to: folder.appendingPathComponent("evaluation"),
            key: { try PseudonymKey(contentsOf: key) }, suppress: true, workers: 2)
        return (result, options.dataDirectory)
    }

    static let effect = Result { try evaluate(effect: -0.2, seed: 101) }
    static let none = Result { try evaluate(effect: 0, seed: 102) }

    static func admissions(_ result: EvaluationResult) throws -> EvaluationResult.Effect {
        try #require(result.effects.first { $0.outcome == "emergency_admissions" })
    }

    @Test func recoversTheProgrammesEffect() throws {
        let result = try Self.effect.get().result
        let admissions = try Self.admissions(result)
        #expect(result.balanced, "\(result.warnings)")
        #expect(admissions.relative.covers(-0.2), "\(admissions.relative.describe(percent: true))")
        #expect((admissions.relative.estimate ?? 0) < 0)
        for control in result.effects where control.negativeControl {
            #expect(control.relative.covers(0), "\(control.outcome): \(control.relative.describe(percent: true))")
        }
    }

    @Test func findsNoEffectWhereTheProgrammeDidNothingWhileTheNaiveChangeFalls() throws {
        let result = try Self.none.get().result
        let admissions = try Self.admissions(result)
        #expect(result.balanced, "\(result.warnings)")
        #expect(admissions.relative.covers(0), "\(admissions.relative.describe(percent: true))")
        // Chosen after two admissions in a year, their admissions fall by more than half anyway.
        #expect((admissions.naiveRelative.high ?? 0) < -0.3, "\(admissions.naiveRelative.describe(percent: true))")
        for control in result.effects where control.negativeControl {
            #expect(control.relative.covers(0), "\(control.outcome): \(control.relative.describe(percent: true))")
        }
    }

    @Test func countsEachStepSuppressesSmallNumbersAndIsAudited() throws {
        let (result, data) = try Self.none.get()
        let governance = GovernanceStore(
            runs: try RunStore(directory: data), directory: data, key: try PlatformKey.load(dataDirectory: data))
        let entries = try governance.auditEntries().filter { $0.action == "evaluate" }
        #expect(entries.count == 1)
        #expect(entries.allSatisfy { $0.detail.contains("Synthetic programme") && !$0.detail.contains("nhs") })
        let named = try #require(result.steps.first?.people)
        #expect(named >= 200)
        // Rounded to 5 as planning outputs are (at random, so a step may show 5 more than the one before it).
        let counts = result.steps.prefix(5).compactMap(\.people)
        #expect(counts.allSatisfy { $0 % 5 == 0 })
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 + 5 >= $1 })
        #expect(result.planning && result.propensityModel.isEmpty)
    }
}
