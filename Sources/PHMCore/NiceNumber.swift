import Foundation

/// Numbers on the 1-2-5 grid (1, 2 or 5 times a power of ten), as steps and caps of published
/// figures are: round, and never one person's exact value.
public enum NiceNumber {
    /// The smallest grid number at least `x` (> 0), as its 1, 2 or 5 and its power of ten, so
    /// multiples of it can be formed without binary rounding (k x 5 / 10, not k x 0.5).
    public static func above(_ x: Double) -> (mantissa: Double, exponent: Int) {
        var exponent = Int(log10(max(x, 1e-12)).rounded(.down))
        for _ in 0..<2 {
            for m in [1.0, 2.0, 5.0] where m * pow(10, Double(exponent)) >= x * (1 - 1e-12) { return (m, exponent) }
            exponent += 1
        }
        return (1, exponent)
    }

    /// `x` (> 0) to `figures` significant figures, rounded by `rule`.
    public static func significant(_ x: Double, figures: Int = 2, _ rule: FloatingPointRoundingRule) -> Double {
        guard x > 0, x.isFinite else { return x }
        let unit = pow(10, log10(x).rounded(.down) - Double(figures - 1))
        return (x / unit).rounded(rule) * unit
    }

    /// `x` moved outward (away from zero when `up` matches its sign) to 0 or to the grid.
    public static func grid(_ x: Double, up: Bool) -> Double {
        guard x != 0, x.isFinite else { return 0 }
        let magnitude = abs(x), sign: Double = x > 0 ? 1 : -1
        if (x > 0) == up {
            let (m, e) = above(magnitude)
            return sign * m * pow(10, Double(e))
        }
        var power = pow(10, log10(magnitude).rounded(.down))
        for m in [10.0, 5, 2, 1] where m * power <= magnitude * (1 + 1e-12) { return sign * m * power }
        power /= 10
        return sign * 5 * power
    }

    /// The range from the `low` to the `high` centile of `values`, widened outward to 0 or to
    /// 1, 2 or 5 times a power of ten, so that no one person's value is published as a bound;
    /// nil without finite values.
    public static func centileRange(_ values: [Double], low: Double = 0.001, high: Double = 0.999) -> ClosedRange<Double>? {
        var sample = values.filter(\.isFinite)
        guard !sample.isEmpty else { return nil }
        sample.sort()
        func centile(_ p: Double) -> Double { sample[min(sample.count - 1, Int((Double(sample.count - 1) * p).rounded()))] }
        let lower = grid(centile(low), up: false), upper = grid(centile(high), up: true)
        return lower...(upper > lower ? upper : grid(lower + 1, up: true))
    }
}
