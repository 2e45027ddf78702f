import Foundation

/// Public health statistics, following the conventions of PHEindicatormethods (Public Health
/// England / OHID) and the formulas collected in the platform's methods reference.
public enum Statistics {
    /// A value with its lower and upper confidence limits.
    public struct Estimate: Sendable, Equatable {
        public var value: Double
        public var lower: Double
        public var upper: Double

        public init(value: Double, lower: Double, upper: Double) {
            self.value = value
            self.lower = lower
            self.upper = upper
        }
    }

    /// The two-sided normal quantile for 95% limits.
    public static let z95 = 1.959963984540054
    /// The two-sided normal quantile for 99.8% limits.
    public static let z998 = 3.090232306167813

    /// A proportion `x / n` with the Wilson score interval (Wilson 1927):
    /// `[2x + z^2 ± z sqrt(z^2 + 4x(1 - x/n))] / [2(n + z^2)]`.
    public static func wilson(_ x: Double, of n: Double, z: Double = z95) -> Estimate {
        precondition(n > 0 && x >= 0 && x <= n, "a proportion needs 0 <= x <= n and n > 0")
        let root = z * (z * z + 4 * x * (1 - x / n)).squareRoot()
        let denominator = 2 * (n + z * z)
        return Estimate(value: x / n, lower: (2 * x + z * z - root) / denominator, upper: (2 * x + z * z + root) / denominator)
    }

    /// Byar's approximation to the exact Poisson limits of a count `o` (Breslow and Day 1987):
    /// lower `o (1 - 1/(9o) - z/(3 sqrt o))^3`, upper `(o+1) (1 - 1/(9(o+1)) + z/(3 sqrt(o+1)))^3`.
    public static func byar(_ o: Double, z: Double = z95) -> Estimate {
        precondition(o >= 0, "a count cannot be negative")
        let lower = o == 0 ? 0 : o * pow(1 - 1 / (9 * o) - z / (3 * o.squareRoot()), 3)
        let upper = (o + 1) * pow(1 - 1 / (9 * (o + 1)) + z / (3 * (o + 1).squareRoot()), 3)
        return Estimate(value: o, lower: lower, upper: upper)
    }

    /// A crude rate `o / n x multiplier` with Byar limits on the count.
    public static func crudeRate(_ o: Double, per n: Double, multiplier: Double = 100_000, z: Double = z95) -> Estimate {
        precondition(n > 0, "a rate needs a population")
        let count = byar(o, z: z)
        return Estimate(value: o / n * multiplier, lower: count.lower / n * multiplier, upper: count.upper / n * multiplier)
    }

    /// European Standard Population 2013: 19 bands 0-4, 5-9, ..., 85-89, 90+.
    public static let europeanStandardPopulation2013: [Double] = [
        5_000, 5_500, 5_500, 5_500, 6_000, 6_000, 6_500, 7_000, 7_000, 7_000, 7_000, 6_500, 6_000, 5_500, 5_000, 4_000, 2_500,
        1_500, 1_000,
    ]

    /// The band of the 2013 European Standard Population for an age.
    public static func espBand(age: Int) -> Int { min(18, max(0, age) / 5) }

    /// A directly standardised rate with Dobson limits (Dobson et al., Stat Med 1991).
    ///
    /// `DSR = sum(x_i w_i / n_i) / sum(w_i) x multiplier`, `var = sum(x_i w_i^2 / n_i^2) / (sum w_i)^2`,
    /// and limits `DSR + sqrt(var / O) (Byar(O) - O)` with `O` the total count (of the bands the
    /// standard weights). Returns nil when `O < 10`, where the method is not reliable (PHE convention), or when a band with events has
    /// no population. A rate cannot be negative, so a lower limit the formula puts below zero
    /// (possible when a few events carry most of the weight) is held at zero.
    ///
    /// - Parameters:
    ///   - counts: events per standard population band.
    ///   - populations: people per band.
    ///   - standard: the standard population weights (2013 ESP by default).
    public static func directlyStandardisedRate(
        counts: [Double], populations: [Double], standard: [Double] = europeanStandardPopulation2013,
        multiplier: Double = 100_000,
        z: Double = z95
    ) -> Estimate? {
        precondition(counts.count == standard.count && populations.count == standard.count, "one count and population per band")
        // Events in bands the standard gives no weight say nothing of the rate.
        let total = zip(counts, standard).reduce(0) { $0 + ($1.1 > 0 ? $1.0 : 0) }
        guard total >= 10 else { return nil }
        let weights = standard.reduce(0, +)
        var rate = 0.0, variance = 0.0
        for i in standard.indices {
            if populations[i] == 0 {
                guard counts[i] == 0 else { return nil }
                continue
            }
            rate += counts[i] * standard[i] / populations[i]
            variance += counts[i] * standard[i] * standard[i] / (populations[i] * populations[i])
        }
        rate /= weights
        variance /= weights * weights
        let limits = byar(total, z: z)
        let scale = (variance / total).squareRoot()
        return Estimate(
            value: rate * multiplier, lower: max(0, rate + scale * (limits.lower - total)) * multiplier,
            upper: (rate + scale * (limits.upper - total)) * multiplier)
    }
}
