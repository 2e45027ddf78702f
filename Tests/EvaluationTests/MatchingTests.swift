import Foundation
import PHMCore
import Risk
import TestSupport
import Testing

@testable import Evaluation

@Suite struct MatchingTests {
    static func options() -> EvaluationOptions {
        var o = EvaluationOptions()
        o.outcomes = [.emergencyAdmissions]
        o.negativeControls = [.electiveAdmissions]
        o.controlsPerPerson = 2
        o.bootstrapSamples = 400
        return o
    }

    @Test func recoversAKnownEffectWhereTheNaiveChangeOverstatesIt() throws {
        let data = KnownEffectPopulation(people: 80_000, effect: -0.2, seed: 11)
        let (result, _) = try MatchedComparison.run(
            name: "effect", base: data.base, exposures: data.exposures, options: Self.options(), workers: 2)
        let admissions = try #require(result.effects.first { $0.outcome == "emergency_admissions" })
        #expect(result.balanced, "\(result.balance.filter { abs($0.smdAfter) >= 0.1 })")
        #expect(admissions.relative.covers(-0.2), "\(admissions.relative.describe(percent: true))")
        #expect((admissions.relative.estimate ?? 0) < 0)
        // Chosen for two or more admissions in a year: the naive fall is far larger than the effect.
        #expect((admissions.naiveRelative.high ?? 0) < -0.35, "\(admissions.naiveRelative.describe(percent: true))")
        let elective = try #require(result.effects.first { $0.outcome == "elective_admissions" })
        #expect(elective.negativeControl)
        #expect(elective.relative.covers(0), "\(elective.relative.describe(percent: true))")
    }

    @Test func findsNoEffectWhereThereIsNone() throws {
        let data = KnownEffectPopulation(people: 80_000, effect: 0, seed: 12)
        let (result, _) = try MatchedComparison.run(
            name: "null", base: data.base, exposures: data.exposures, options: Self.options(), workers: 2)
        let admissions = try #require(result.effects.first { $0.outcome == "emergency_admissions" })
        #expect(result.balanced)
        #expect(admissions.relative.covers(0), "\(admissions.relative.describe(percent: true))")
        #expect((admissions.naiveRelative.high ?? 0) < -0.35, "\(admissions.naiveRelative.describe(percent: true))")
        #expect(result.warnings.isEmpty, "\(result.warnings)")
    }
}
