import Foundation

/// Funnel-plot limits for comparing units' indirectly standardised ratios (observed / expected)
/// with a target of 1, following Spiegelhalter (Stat Med 2005;24:1185) and the FunnelPlotR
/// conventions.
///
/// - Counts (`.poisson`): without overdispersion the limits are exact Poisson limits, with
///   Spiegelhalter's interpolation between integer counts. With overdispersion they are computed
///   on the square-root scale, where a ratio's standard error is `1 / (2 sqrt E)`.
/// - Continuous totals such as cost (`.normal`): each unit's observed total has a known variance
///   under the null (the sum of its people's stratum variances), so the ratio's standard error is
///   `sqrt(variance) / E`.
///
/// Overdispersion: z-scores on the transformed scale are winsorised at 10% each end, `phi` is
/// their mean square, and the additive random effect is `tau^2 = (n phi - (n - 1)) /
/// (sum w - sum w^2 / sum w)`, `w = 1 / s^2`, when `n phi > n - 1`, else 0. Limits are then
/// `1 ± z sqrt(s^2 + tau^2)` on the transformed scale.
public struct FunnelPlot: Sendable {
    public enum Kind: String, Sendable { case poisson, normal }

    public struct Point: Sendable {
        public var observed: Double
        public var expected: Double
        /// The observed total's variance under the null; used by `.normal` plots only.
        public var variance: Double

        public init(observed: Double, expected: Double, variance: Double = 0) {
            self.observed = observed
            self.expected = expected
            self.variance = variance
        }

        public var ratio: Double { observed / expected }
    }

    public struct Limits: Sendable, Equatable {
        public var lower95: Double, upper95: Double
        public var lower998: Double, upper998: Double
    }

    public enum Flag: String, Sendable { case high, low, none }

    public var kind: Kind
    public var points: [Point]
    /// Mean squared winsorised z-score (1 when the spread is what chance predicts).
    public var phi: Double
    /// The additive overdispersion (between-unit) variance on the transformed scale; 0 when none.
    public var tau2: Double

    /// - Parameters:
    ///   - points: units with something expected (`expected > 0`).
    ///   - overdispersion: estimate `tau^2` (otherwise it is 0).
    public init(kind: Kind, points: [Point], overdispersion: Bool = true, winsorise: Double = 0.1) {
        precondition(points.allSatisfy { $0.expected > 0 }, "every point needs an expected value")
        self.kind = kind
        self.points = points
        phi = 1
        tau2 = 0
        guard overdispersion, points.count >= 2 else { return }
        let z = points.indices.map(zScore)
        let limits = Statistics.quantiles(z, [winsorise, 1 - winsorise])
        let (low, high) = (limits[0], limits[1])
        let n = Double(points.count)
        phi = z.reduce(0) { $0 + pow(min(high, max(low, $1)), 2) } / n
        guard n * phi > n - 1 else { return }
        let w = points.indices.map { 1 / pow(standardError($0), 2) }
        let sw = w.reduce(0, +), sw2 = w.reduce(0) { $0 + $1 * $1 }
        tau2 = (n * phi - (n - 1)) / (sw - sw2 / sw)
    }

    /// The point's value on the transformed scale: `sqrt(O/E)` for counts, `O/E` otherwise.
    public func transformed(_ i: Int) -> Double {
        kind == .poisson ? points[i].ratio.squareRoot() : points[i].ratio
    }

    /// The standard error on the transformed scale under the null.
    public func standardError(_ i: Int) -> Double {
        kind == .poisson ? 1 / (2 * points[i].expected.squareRoot()) : points[i].variance.squareRoot() / points[i].expected
    }

    /// The z-score on the transformed scale, without overdispersion.
    public func zScore(_ i: Int) -> Double { (transformed(i) - 1) / standardError(i) }

    /// The 95% and 99.8% limits for the ratio at the point's precision.
    public func limits(_ i: Int) -> Limits {
        func bounds(_ z: Double) -> (Double, Double) {
            let e = points[i].expected
            if tau2 == 0 && kind == .poisson {
                let p = Statistics.normalCDF(-z)
                return (
                    Statistics.poissonRatioLimit(expected: e, probability: p),
                    Statistics.poissonRatioLimit(expected: e, probability: 1 - p)
                )
            }
            let spread = z * (pow(standardError(i), 2) + tau2).squareRoot()
            if kind == .poisson { return (pow(max(0, 1 - spread), 2), pow(1 + spread, 2)) }
            return (max(0, 1 - spread), 1 + spread)
        }
        let (l95, u95) = bounds(Statistics.z95), (l998, u998) = bounds(Statistics.z998)
        return Limits(lower95: l95, upper95: u95, lower998: l998, upper998: u998)
    }

    /// Beyond the 99.8% limits: the usual threshold for an outlier worth a look.
    public func flag(_ i: Int) -> Flag {
        let l = limits(i), r = points[i].ratio
        return r > l.upper998 ? .high : r < l.lower998 ? .low : .none
    }
}

extension Statistics {
    /// The standard normal distribution function.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.squareRoot()) }

    /// `P(X <= k)` for a Poisson variable with the given mean: the regularised upper incomplete
    /// gamma function `Q(k + 1, mean)`, by its series or continued fraction (Numerical Recipes 6.2).
    public static func poissonCDF(_ k: Int, mean: Double) -> Double {
        guard k >= 0 else { return 0 }
        guard mean > 0 else { return 1 }
        let a = Double(k + 1), x = mean
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            // Series for the lower function P(a, x); Q = 1 - P.
            var term = 1 / a, sum = term, n = a
            for _ in 0..<100_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-15 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...100_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return min(1, exp(logPrefix) * h)
    }

    /// The exact Poisson control limit for a ratio `O / E` at cumulative probability `p`, with
    /// Spiegelhalter's (2005) interpolation: `(r_p - alpha) / E`, where `r_p` is the smallest
    /// count with `P(X <= r_p) >= p` and `alpha = (P(X <= r_p) - p) / P(X = r_p)`.
    public static func poissonRatioLimit(expected e: Double, probability p: Double) -> Double {
        precondition(e > 0 && p > 0 && p < 1, "a limit needs an expected count and 0 < p < 1")
        // Bisection for the smallest count whose distribution function reaches p.
        let spread = 10 * e.squareRoot() + 10
        var low = max(0, Int((e - spread).rounded(.down))), high = Int((e + spread).rounded(.up))
        while low < high {
            let middle = (low + high) / 2
            if poissonCDF(middle, mean: e) >= p { high = middle } else { low = middle + 1 }
        }
        let r = low
        let cdf = poissonCDF(r, mean: e), below = poissonCDF(r - 1, mean: e)
        let alpha = (cdf - p) / (cdf - below)
        return max(0, (Double(r) - alpha) / e)
    }
}
