import Foundation
import PHMCore

/// Comparing groups and units: indirect standardisation, the slope and relative indices of
/// inequality, and funnel-plot limits with overdispersion.
extension Statistics {
    /// An indirectly standardised ratio `O / E` with Byar limits on `O` divided by `E`
    /// (PHEindicatormethods `calculate_ISRatio`). `E` is the sum over strata of the unit's people
    /// times the reference rate. Returns nil when nothing is expected.
    public static func indirectlyStandardisedRatio(observed: Double, expected: Double, z: Double = z95) -> Estimate? {
        guard expected > 0 else { return nil }
        let limits = byar(observed, z: z)
        return Estimate(value: observed / expected, lower: limits.lower / expected, upper: limits.upper / expected)
    }

    /// One group of a ranked breakdown (for example an IMD decile, most deprived first).
    public struct RankedGroup: Sendable {
        public var people: Double
        public var value: Double
        /// Standard error of `value`, used to simulate the confidence limits.
        public var standardError: Double

        public init(people: Double, value: Double, standardError: Double) {
            self.people = people
            self.value = value
            self.standardError = standardError
        }
    }

    /// The slope (SII) and relative (RII) indices of inequality, with simulated limits.
    public struct InequalityIndices: Sendable, Equatable {
        public var sii: Estimate
        public var rii: Estimate?
    }

    /// The slope and relative indices of inequality (as in PHEindicatormethods `phe_sii`).
    ///
    /// Groups are given in rank order, most deprived first. Each group's relative rank is the
    /// midpoint of its cumulative population share, so the most deprived end is rank 0 and the
    /// least deprived rank 1; a weighted least-squares line (weights = population shares) gives
    /// `SII = fitted(1) - fitted(0)` and `RII = fitted(1) / fitted(0)`. A positive SII means the
    /// value is higher in less deprived groups. Limits are the 2.5th and 97.5th percentiles over
    /// `simulations` refits with each group's value drawn from a normal distribution with its
    /// standard error; the draws are seeded, so results repeat exactly.
    ///
    /// The RII is a ratio of the line's two ends, so it exists only while both are positive: it is
    /// given (nil otherwise) when they are for the fitted line and for every simulated one. A
    /// rare outcome whose line reaches zero at one end in some draws therefore has an SII but no
    /// RII, rather than an interval for a ratio running below zero.
    ///
    /// Returns nil unless every group has people.
    public static func inequalityIndices(
        _ groups: [RankedGroup], simulations: Int = 1_000, confidence: Double = 0.95, seed: UInt64 = 1
    ) -> InequalityIndices? {
        guard groups.count >= 2, groups.allSatisfy({ $0.people > 0 }) else { return nil }
        let total = groups.reduce(0) { $0 + $1.people }
        var cumulative = 0.0
        let shares = groups.map { $0.people / total }
        let ranks = shares.map { a -> Double in
            defer { cumulative += a }
            return cumulative + a / 2
        }
        // Weighted least squares of y on (1, b) with weights a: closed form.
        let meanRank = zip(shares, ranks).reduce(0) { $0 + $1.0 * $1.1 }
        let spread = zip(shares, ranks).reduce(0) { $0 + $1.0 * ($1.1 - meanRank) * ($1.1 - meanRank) }
        func fit(_ y: [Double]) -> (intercept: Double, slope: Double) {
            let meanY = zip(shares, y).reduce(0) { $0 + $1.0 * $1.1 }
            var covariance = 0.0
            for i in y.indices { covariance += shares[i] * (ranks[i] - meanRank) * (y[i] - meanY) }
            let slope = covariance / spread
            return (meanY - slope * meanRank, slope)
        }
        let point = fit(groups.map(\.value))
        var random = Xoshiro(seed: seed)
        var slopes = [Double](), ratios = [Double]()
        func positiveEnds(_ line: (intercept: Double, slope: Double)) -> Bool {
            line.intercept > 0 && line.intercept + line.slope > 0
        }
        slopes.reserveCapacity(simulations)
        ratios.reserveCapacity(simulations)
        var draw = [Double](repeating: 0, count: groups.count)
        for _ in 0..<simulations {
            for i in groups.indices { draw[i] = groups[i].value + groups[i].standardError * random.normal() }
            let line = fit(draw)
            slopes.append(line.slope)
            if positiveEnds(line) { ratios.append((line.intercept + line.slope) / line.intercept) }
        }
        let tail = (1 - confidence) / 2
        let slopeLimits = quantiles(slopes, [tail, 1 - tail])
        let sii = Estimate(value: point.slope, lower: slopeLimits[0], upper: slopeLimits[1])
        var rii: Estimate?
        if positiveEnds(point) && ratios.count == simulations {
            let limits = quantiles(ratios, [tail, 1 - tail])
            rii = Estimate(value: (point.intercept + point.slope) / point.intercept, lower: limits[0], upper: limits[1])
        }
        return InequalityIndices(sii: sii, rii: rii)
    }

    /// The difference of two proportions `x1 / n1 - x2 / n2` with Newcombe's hybrid score
    /// interval (Newcombe 1998, method 10), from each proportion's Wilson interval. It treats the
    /// two as independent samples; for overlapping populations it is conservative. Nil when
    /// either denominator is 0.
    public static func differenceOfProportions(_ x1: Double, of n1: Double, minus x2: Double, of n2: Double, z: Double = z95)
        -> Estimate?
    {
        guard n1 > 0, n2 > 0 else { return nil }
        let a = wilson(x1, of: n1, z: z), b = wilson(x2, of: n2, z: z)
        let d = a.value - b.value
        return Estimate(
            value: d,
            lower: d - ((a.value - a.lower) * (a.value - a.lower) + (b.upper - b.value) * (b.upper - b.value)).squareRoot(),
            upper: d + ((a.upper - a.value) * (a.upper - a.value) + (b.value - b.lower) * (b.value - b.lower)).squareRoot())
    }

    /// The `p` quantile by linear interpolation between order statistics (type 7, as R's default).
    public static func quantile(_ values: [Double], _ p: Double) -> Double { quantiles(values, [p])[0] }

    /// The `ps` quantiles as `quantile` gives each, the values sorted once.
    public static func quantiles(_ values: [Double], _ ps: [Double]) -> [Double] {
        precondition(!values.isEmpty, "a quantile needs values")
        let sorted = values.sorted()
        return ps.map { p in
            let h = Double(sorted.count - 1) * p
            let low = Int(h.rounded(.down)), high = min(sorted.count - 1, low + 1)
            return sorted[low] + (h - Double(low)) * (sorted[high] - sorted[low])
        }
    }
}
