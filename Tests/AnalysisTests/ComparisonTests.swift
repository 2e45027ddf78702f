import Analysis
import Foundation
import TestSupport
import Testing

/// Indirect standardisation, SII/RII, funnel limits with and without overdispersion, and
/// Poisson limits: worked examples by hand and cross-checks against scipy and numpy
/// (installed by scripts/test).
@Suite struct ComparisonTests {
    @Test func indirectlyStandardisedRatioWorkedExample() throws {
        // 30 observed where 20 were expected: 1.5, limits Byar(30) / 20.
        let isr = try #require(Statistics.indirectlyStandardisedRatio(observed: 30, expected: 20))
        let byar = Statistics.byar(30)
        #expect(isr.value == 1.5)
        #expect(abs(isr.lower - byar.lower / 20) < 1e-12 && abs(isr.upper - byar.upper / 20) < 1e-12)
        #expect(abs(isr.lower - 1.0118) < 1e-3 && abs(isr.upper - 2.1414) < 1e-3)
        #expect(Statistics.indirectlyStandardisedRatio(observed: 3, expected: 0) == nil)
    }

    /// Values on an exact line in rank give the line's slope and ratio, whatever the group sizes.
    @Test func inequalityIndicesOfAnExactGradient() throws {
        let sizes: [Double] = [100, 300, 200, 400]
        var cumulative = 0.0
        let groups = sizes.map { n -> Statistics.RankedGroup in
            let rank = (cumulative + n / 2) / 1_000
            cumulative += n
            return .init(people: n, value: 10 + 5 * rank, standardError: 0)
        }
        let indices = try #require(Statistics.inequalityIndices(groups))
        #expect(abs(indices.sii.value - 5) < 1e-9)
        #expect(abs(indices.rii!.value - 1.5) < 1e-9)
        #expect(abs(indices.sii.lower - 5) < 1e-9 && abs(indices.sii.upper - 5) < 1e-9)
        // A group without people: not computed.
        #expect(Statistics.inequalityIndices(groups + [.init(people: 0, value: 1, standardError: 0)]) == nil)
    }

    /// The SII and RII agree with a weighted least-squares fit by numpy, and the simulated limits
    /// with the exact normal limits of the slope (which is linear in the group values).
    @Test func inequalityIndicesAgreeWithNumpy() throws {
        let people: [Double] = [5_200, 4_900, 5_100, 4_700, 5_000, 5_300, 4_800, 5_100, 4_950, 5_050]
        let values: [Double] = [31.2, 29.8, 28.1, 27.9, 25.4, 24.8, 23.9, 22.1, 21.7, 20.2]
        let errors = zip(values, people).map { (v, n) in (v / 100 * (1 - v / 100) / n).squareRoot() * 100 }
        let groups = (0..<10).map { Statistics.RankedGroup(people: people[$0], value: values[$0], standardError: errors[$0]) }
        let indices = try #require(Statistics.inequalityIndices(groups, simulations: 20_000))
        let script = """
            import sys, json, numpy as np
            n, y, se = (np.array(v) for v in json.loads(sys.argv[1]))
            a = n / n.sum()
            b = np.cumsum(a) - a / 2
            w = np.sqrt(a)
            coef, *_ = np.linalg.lstsq(np.column_stack([w, b * w]), y * w, rcond=None)
            c = a * (b - (a * b).sum()) / (a * (b - (a * b).sum()) ** 2).sum()
            print(coef[1], (coef[0] + coef[1]) / coef[0], np.sqrt((c ** 2 * se ** 2).sum()))
            """
        let input = String(data: try JSONSerialization.data(withJSONObject: [people, values, errors]), encoding: .utf8)!
        let run = try runProgram(["/usr/bin/env", crossCheckPython, "-c", script, input])
        #expect(run.status == 0, "\(run.errors)")
        let numpy = run.output.split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        #expect(abs(indices.sii.value - numpy[0]) < 1e-9)
        #expect(abs(indices.rii!.value - numpy[1]) < 1e-9)
        let half = Statistics.z95 * numpy[2]
        #expect(abs((indices.sii.upper - indices.sii.value) - half) / half < 0.03)
        #expect(abs((indices.sii.value - indices.sii.lower) - half) / half < 0.03)
        #expect(indices.rii!.lower < indices.rii!.value && indices.rii!.value < indices.rii!.upper)
        // Seeded: the same limits every time.
        #expect(Statistics.inequalityIndices(groups, simulations: 20_000) == indices)
    }

    /// A rare outcome whose fitted line reaches zero at one end in some simulations has an SII
    /// but no RII: a ratio of the ends would be undefined, and its interval would run below zero.
    @Test func riiOfARareOutcomeIsLeftOutNotNegative() throws {
        // Prevalence per 100 falling from 0.08 to 0.01 across deciles of 500 people: most
        // deciles have a handful of cases, so draws of the least deprived end go below zero.
        let values = [0.08, 0.06, 0.05, 0.04, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01]
        let groups = values.map { v in
            Statistics.RankedGroup(people: 500, value: v, standardError: (v / 100 * (1 - v / 100) / 500).squareRoot() * 100)
        }
        let indices = try #require(Statistics.inequalityIndices(groups))
        #expect(indices.sii.value < 0)
        #expect(indices.rii == nil)
    }

    /// Every interval the module gives for a quantity that cannot be negative (a proportion, a
    /// rate, a ratio of rates, a mean of costs) stays at or above zero, over random inputs.
    @Test func intervalsOfNonNegativeQuantitiesStayAtOrAboveZero() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let n = Double.random(in: 1...5_000, using: &random)
            let x = Double(Int.random(in: 0...Int(n), using: &random))
            #expect(Statistics.wilson(x, of: n).lower >= 0)
            #expect(Statistics.byar(x).lower >= 0)
            #expect(Statistics.crudeRate(x, per: n).lower >= 0)
            #expect((Statistics.indirectlyStandardisedRatio(observed: x, expected: n / 10)?.lower ?? 0) >= 0)
            // A mean of values in [0, 1000] from a sum and sum of squares a sample could have.
            let people = Double(Int.random(in: 1...50, using: &random))
            let values = (0..<Int(people)).map { _ in Double.random(in: 0...1) < 0.9 ? 0 : Double.random(in: 0...1_000) }
            let mean = Inequalities.meanEstimate(
                sum: values.reduce(0, +), squares: values.reduce(0) { $0 + $1 * $1 }, people: people)
            #expect(mean.lower >= 0 && mean.lower <= mean.value && mean.value <= mean.upper)
            let groups = (0..<10).map { _ in
                let v = Double.random(in: 0...0.2, using: &random)
                return Statistics.RankedGroup(people: 300, value: v, standardError: Double.random(in: 0...0.1, using: &random))
            }
            if let rii = Statistics.inequalityIndices(groups, simulations: 200)?.rii { #expect(rii.lower > 0) }
        }
        // Dobson's limits when a few events carry most of the weight: the formula's lower limit
        // is below zero (0.51 - 0.93 per person), so it is held at zero.
        let dsr = try #require(
            Statistics.directlyStandardisedRate(
                counts: [100, 1], populations: [5_000, 1], standard: [1, 1], multiplier: 1))
        #expect(abs(dsr.value - 0.51) < 1e-9)
        #expect(dsr.lower == 0 && dsr.upper > dsr.value)
    }

    /// Poisson distribution function and Spiegelhalter's interpolated limits against scipy.
    @Test func poissonLimitsAgreeWithScipy() throws {
        let means = [0.7, 3, 10, 57.3, 1_000, 25_000]
        let probabilities = [0.001, 0.025, 0.975, 0.999]
        let script = """
            import sys
            from scipy.stats import poisson
            for e in map(float, sys.argv[1:]):
                for p in (0.001, 0.025, 0.975, 0.999):
                    r = poisson.ppf(p, e)
                    cdf, below = poisson.cdf(r, e), poisson.cdf(r - 1, e)
                    print(f"{poisson.cdf(round(e), e):.15g} {max(0, (r - (cdf - p) / (cdf - below)) / e):.15g}")
            """
        let run = try runProgram(["/usr/bin/env", crossCheckPython, "-c", script] + means.map { String($0) })
        #expect(run.status == 0, "\(run.errors)")
        let lines = run.output.split(separator: "\n").map { $0.split(separator: " ").map { Double($0)! } }
        #expect(lines.count == means.count * probabilities.count)
        for (k, line) in lines.enumerated() {
            let e = means[k / probabilities.count], p = probabilities[k % probabilities.count]
            #expect(abs(Statistics.poissonCDF(Int(e.rounded()), mean: e) - line[0]) < 1e-9, "cdf at \(e)")
            #expect(
                abs(Statistics.poissonRatioLimit(expected: e, probability: p) - line[1]) < 1e-6 * max(1, line[1]),
                "limit \(e) \(p)")
        }
    }

    static let observed: [Double] = [12, 30, 45, 95, 95, 130, 150, 210, 260, 400, 25, 61]
    static let expected: [Double] = [10, 35, 40, 60, 100, 110, 170, 190, 300, 350, 30, 50]

    /// Overdispersion by Spiegelhalter's method against an independent numpy implementation.
    @Test func funnelOverdispersionAgreesWithNumpy() throws {
        let points = zip(Self.observed, Self.expected).map { FunnelPlot.Point(observed: $0, expected: $1) }
        let funnel = FunnelPlot(kind: .poisson, points: points)
        let script = """
            import sys, json, numpy as np
            o, e = (np.array(v) for v in json.loads(sys.argv[1]))
            s = 1 / (2 * np.sqrt(e))
            z = (np.sqrt(o / e) - 1) / s
            zw = np.clip(z, np.quantile(z, 0.1), np.quantile(z, 0.9))
            n = len(z); phi = (zw ** 2).mean()
            w = 1 / s ** 2
            tau2 = max(0.0, (n * phi - (n - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
            print(phi, tau2)
            for si in s:
                sd = np.sqrt(si ** 2 + tau2)
                print(*[(1 + sign * z * sd) ** 2 for z in (1.959963984540054, 3.090232306167813) for sign in (-1, 1)])
            """
        let input = String(data: try JSONSerialization.data(withJSONObject: [Self.observed, Self.expected]), encoding: .utf8)!
        let run = try runProgram(["/usr/bin/env", crossCheckPython, "-c", script, input])
        #expect(run.status == 0, "\(run.errors)")
        let lines = run.output.split(separator: "\n").map { $0.split(separator: " ").map { Double($0)! } }
        #expect(abs(funnel.phi - lines[0][0]) < 1e-9)
        #expect(abs(funnel.tau2 - lines[0][1]) < 1e-12)
        #expect(funnel.tau2 > 0, "these points are overdispersed")
        for i in points.indices {
            let l = funnel.limits(i), numpy = lines[i + 1]
            for (mine, theirs) in zip([l.lower95, l.upper95, l.lower998, l.upper998], numpy) {
                #expect(abs(mine - theirs) < 1e-9)
            }
        }
    }

    /// Without overdispersion the limits are the exact Poisson limits; a point beyond them is flagged.
    @Test func funnelWithoutOverdispersionUsesExactPoissonLimits() {
        let points = zip(Self.observed, Self.expected).map { FunnelPlot.Point(observed: $0, expected: $1) }
        let funnel = FunnelPlot(kind: .poisson, points: points, overdispersion: false)
        #expect(funnel.tau2 == 0 && funnel.phi == 1)
        for i in points.indices {
            let e = Self.expected[i], l = funnel.limits(i)
            #expect(l.lower998 == Statistics.poissonRatioLimit(expected: e, probability: Statistics.normalCDF(-Statistics.z998)))
            #expect(l.upper95 == Statistics.poissonRatioLimit(expected: e, probability: Statistics.normalCDF(Statistics.z95)))
            #expect(l.lower998 < l.lower95 && l.lower95 < 1 && 1 < l.upper95 && l.upper95 < l.upper998)
        }
        // 95 observed where 60 expected is beyond 99.8% (upper limit 1.414); 400 v 350 is not.
        #expect(funnel.flag(3) == .high)
        #expect(funnel.flag(9) == .none)
        // Consistent data: no overdispersion.
        let calm = FunnelPlot(kind: .poisson, points: [100, 200, 300, 400].map { FunnelPlot.Point(observed: $0, expected: $0) })
        #expect(calm.tau2 == 0)
    }

    /// Continuous totals (cost): limits from each unit's null variance, 1 ± z s.
    @Test func funnelForContinuousTotals() {
        let points = [FunnelPlot.Point(observed: 1_200, expected: 1_000, variance: 10_000)]
        let funnel = FunnelPlot(kind: .normal, points: points)
        let l = funnel.limits(0)
        #expect(abs(l.upper95 - (1 + Statistics.z95 * 0.1)) < 1e-12)
        #expect(abs(l.lower998 - (1 - Statistics.z998 * 0.1)) < 1e-12)
        #expect(funnel.flag(0) == .none)  // 1.2 is inside 1 ± 0.309
    }
}
