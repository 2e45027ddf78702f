import Foundation

/// xoshiro256** (Blackman and Vigna, 2018), seeded through SplitMix64.
///
/// Seeded from (seed, a, b), so a stream can be tied to a person or a task and repeat exactly
/// whatever the block size or number of cores.
public struct Xoshiro: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0) {
        var x = seed ^ (a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F)
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    public mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    public mutating func normal() -> Double {
        let u = max(uniform(), 1e-300)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * uniform())
    }

    /// Gamma with the given shape and mean (Marsaglia and Tsang 2000; shape < 1 by boosting).
    public mutating func gamma(shape: Double, mean: Double = 1) -> Double {
        if shape < 1 {
            // If X ~ Gamma(k + 1, 1) then X * U^(1/k) ~ Gamma(k, 1), whose mean is k.
            return gamma(shape: shape + 1, mean: shape + 1) * pow(max(uniform(), 1e-300), 1 / shape) * mean / shape
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)) {
                return d * v * mean / shape
            }
        }
    }

    /// Poisson by inversion for small means, normal approximation above 30.
    public mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 { return max(0, Int((mean + mean.squareRoot() * normal()).rounded())) }
        var k = 0
        var p = exp(-mean)
        var cumulative = p
        let u = uniform()
        while u > cumulative && k < 200 {
            k += 1
            p *= mean / Double(k)
            cumulative += p
        }
        return k
    }

    public mutating func logNormal(median: Double, sigma: Double) -> Double { median * exp(sigma * normal()) }

    /// An index drawn with the given cumulative weights (last element is the total).
    public mutating func pick(cumulative: [Double]) -> Int {
        let u = uniform() * cumulative[cumulative.count - 1]
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
