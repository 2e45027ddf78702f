import Analysis
import Foundation
import TestSupport
import Testing

/// Worked examples with answers computed by hand from the published formulas, and a
/// cross-check of Byar's approximation against exact Poisson limits from scipy (installed by
/// scripts/test).
@Suite struct StatisticsTests {
    @Test func wilsonIntervalWorkedExamples() {
        // 5 of 10: (2*5 + z^2 ± z sqrt(z^2 + 20*0.5)) / (2(10 + z^2)).
        let e = Statistics.wilson(5, of: 10)
        #expect(abs(e.lower - 0.236593) < 1e-6)
        #expect(abs(e.upper - 0.763407) < 1e-6)
        // 0 of 20: lower bound 0, upper z^2 / (n + z^2).
        let zero = Statistics.wilson(0, of: 20)
        #expect(zero.lower == 0)
        #expect(abs(zero.upper - 0.161125) < 1e-6)
        // 81 of 263 (Newcombe 1998, example): 0.2553 to 0.3662.
        let n = Statistics.wilson(81, of: 263)
        #expect(abs(n.lower - 0.2553) < 1e-4)
        #expect(abs(n.upper - 0.3662) < 1e-4)
    }

    /// Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
    @Test func differenceOfProportionsNewcombeWorkedExamples() throws {
        let a = try #require(Statistics.differenceOfProportions(56, of: 70, minus: 48, of: 80))
        #expect(abs(a.value - 0.2) < 1e-12)
        #expect(abs(a.lower - 0.0524) < 1e-4 && abs(a.upper - 0.3339) < 1e-4, "\(a)")
        let b = try #require(Statistics.differenceOfProportions(9, of: 10, minus: 3, of: 10))
        #expect(abs(b.lower - 0.1705) < 1e-4 && abs(b.upper - 0.8090) < 1e-4, "\(b)")
        #expect(Statistics.differenceOfProportions(1, of: 0, minus: 1, of: 2) == nil)
    }

    @Test func byarWorkedExample() {
        // O = 10: 10 (1 - 1/90 - z/(3 sqrt 10))^3 and 11 (1 - 1/99 + z/(3 sqrt 11))^3.
        let e = Statistics.byar(10)
        #expect(abs(e.lower - 4.7874) < 1e-3)
        #expect(abs(e.upper - 18.3915) < 1e-3)
        #expect(Statistics.byar(0).lower == 0)
    }

    /// Byar's limits are within 2% of the exact (chi-squared) Poisson limits from scipy.
    @Test func byarAgreesWithExactPoissonLimits() throws {
        let counts = [5, 10, 25, 50, 100, 500, 1_000]
        let script = """
            import sys
            from scipy.stats import chi2
            for o in map(int, sys.argv[1:]):
                print(f"{chi2.ppf(0.025, 2 * o) / 2:.6f},{chi2.ppf(0.975, 2 * (o + 1)) / 2:.6f}")
            """
        let run = try runProgram(["/usr/bin/env", crossCheckPython, "-c", script] + counts.map(String.init))
        #expect(run.status == 0, "\(run.errors)")
        let exact = run.output.split(separator: "\n").map { $0.split(separator: ",").map { Double($0)! } }
        #expect(exact.count == counts.count)
        for (o, limits) in zip(counts, exact) {
            let byar = Statistics.byar(Double(o))
            #expect(abs(byar.lower - limits[0]) / limits[0] < 0.02, "lower for \(o)")
            #expect(abs(byar.upper - limits[1]) / limits[1] < 0.02, "upper for \(o)")
        }
    }

    /// A DSR computed by hand: two bands carry all the events.
    @Test func directlyStandardisedRateWithDobsonLimits() throws {
        var counts = [Double](repeating: 0, count: 19), populations = [Double](repeating: 1_000, count: 19)
        counts[14] = 20  // 70-74: weight 5,000
        counts[16] = 30  // 80-84: weight 2,500
        populations[16] = 500
        let dsr = try #require(Statistics.directlyStandardisedRate(counts: counts, populations: populations))
        let weights = 100_000.0
        let rate = (20 * 5_000 / 1_000.0 + 30 * 2_500 / 500.0) / weights
        let variance = (20 * 5_000.0 * 5_000 / 1e6 + 30 * 2_500.0 * 2_500 / 250_000) / (weights * weights)
        let byar = Statistics.byar(50)
        #expect(abs(dsr.value - rate * 100_000) < 1e-9)
        #expect(abs(dsr.lower - (rate + (variance / 50).squareRoot() * (byar.lower - 50)) * 100_000) < 1e-9)
        #expect(abs(dsr.upper - (rate + (variance / 50).squareRoot() * (byar.upper - 50)) * 100_000) < 1e-9)
        #expect(abs(dsr.value - 250) < 1e-9)
        // Fewer than 10 events: not calculated.
        counts[16] = 0
        counts[14] = 9
        #expect(Statistics.directlyStandardisedRate(counts: counts, populations: populations) == nil)
    }

    @Test func standardPopulationBands() {
        #expect(Statistics.europeanStandardPopulation2013.reduce(0, +) == 100_000)
        #expect([0, 4, 5, 89, 90, 104].map(Statistics.espBand) == [0, 0, 1, 17, 18, 18])
    }
}
