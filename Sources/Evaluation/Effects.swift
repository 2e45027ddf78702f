import Analysis
import Foundation
import PHMCore

/// Each matched set's use of care month by month around its index month, and the estimates drawn
/// from it: differences in differences, the naive before-and-after change, and an event study.
struct Effects {
    let outcomes: [Measure]
    let pre: Int
    let post: Int
    let sets: Int
    /// Per set, `width` values: for the treated person, then their controls (each weighted by
    /// 1 / their number), the months in the population, then each outcome's amount, each over
    /// the pre window's months then the post window's.
    var values: [Float]

    var months: Int { pre + post }
    var width: Int { 2 * (1 + outcomes.count) * months }

    /// Sets' values laid out as `values` describes.
    init(outcomes: [Measure], pre: Int, post: Int, sets: Int, values: [Float]) {
        self.outcomes = outcomes
        self.pre = pre
        self.post = post
        self.sets = sets
        self.values = values
    }

    /// - Parameter exposedMonth: each person's first month of exposure; a control's months from
    ///   it on are not counted (their exposure and events alike).
    init(
        base: EvaluationBase, sets: [MatchedComparison.MatchedSet], outcomes: [Measure], pre: Int, post: Int,
        exposedMonth: [Int32]
    ) {
        self.outcomes = outcomes
        self.pre = pre
        self.post = post
        self.sets = sets.count
        var slot = [Int](repeating: -1, count: Measure.allCases.count)
        for (k, m) in outcomes.enumerated() { slot[m.index] = k }
        let months = pre + post, perGroup = (1 + outcomes.count) * months
        values = [Float](repeating: 0, count: sets.count * 2 * perGroup)
        func add(_ p: Int, month: Int32, weight: Float, at offset: Int, until end: Int32) {
            let first = month - Int32(pre)
            for r in 0..<months {
                let m = r < pre ? first + Int32(r) : month + 1 + Int32(r - pre)
                if m < end { values[offset + r] += weight * base.exposure(of: p, month: m) }
            }
            for row in base.events.rows(of: p) {
                let m = base.eventMonth[row]
                if m >= end { break }
                let r: Int
                if m >= first && m < month {
                    r = Int(m - first)
                } else if m > month && m <= month + Int32(post) {
                    r = pre + Int(m - month - 1)
                } else {
                    continue
                }
                let k = slot[Int(base.eventMeasure[row])]
                if k >= 0 { values[offset + (1 + k) * months + r] += weight * base.eventAmount[row] }
            }
        }
        for (s, set) in sets.enumerated() {
            let offset = s * 2 * perGroup
            add(Int(set.treated), month: set.month, weight: 1, at: offset, until: .max)
            let w = 1 / Float(set.controls.count)
            for c in set.controls {
                add(Int(c), month: set.month, weight: w, at: offset + perGroup, until: exposedMonth[Int(c)])
            }
        }
    }

    /// Caps each matched set's amount of each outcome in each window, in each group, at
    /// `caps[(group x outcomes + outcome) x 2 + window]`, scaling down the months of a set above
    /// it; returns the caps. No set then moves a window's total by more than its cap, whoever is in it.
    mutating func winsorise(caps: [Double]) -> [Double] {
        let perGroup = (1 + outcomes.count) * months
        for group in 0..<2 {
            for k in outcomes.indices {
                for (window, range) in [0..<pre, pre..<months].enumerated() {
                    let column = group * perGroup + (1 + k) * months
                    let cap = self.cap(caps, group: group, outcome: k, window: window)
                    for s in 0..<sets {
                        let amount = range.reduce(0.0) { $0 + Double(values[s * width + column + $1]) }
                        guard amount > cap else { continue }
                        let scale = Float(cap / amount)
                        for r in range { values[s * width + column + r] *= scale }
                    }
                }
            }
        }
        return caps
    }

    func cap(_ caps: [Double], group: Int, outcome k: Int, window: Int) -> Double {
        caps[(group * outcomes.count + k) * 2 + window]
    }

    /// Column sums over sets, each set counted `counts[s]` times (once each when nil).
    func totals(_ counts: [Int32]?) -> [Double] {
        var out = [Double](repeating: 0, count: width)
        values.withUnsafeBufferPointer { v in
            for s in 0..<sets {
                let c = Double(counts?[s] ?? 1)
                guard c != 0 else { continue }
                let row = v.baseAddress! + s * width
                for j in 0..<width { out[j] += c * Double(row[j]) }
            }
        }
        return out
    }

    /// A group's (0 exposed, 1 controls) person-months over a range of window months.
    func exposure(_ t: [Double], _ group: Int, _ range: Range<Int>) -> Double {
        let base = group * (1 + outcomes.count) * months
        return range.reduce(0) { $0 + t[base + $1] }
    }

    /// A group's rate of outcome `k` per person-year over a range of window months; NaN without exposure.
    func rate(_ t: [Double], _ group: Int, _ k: Int, _ range: Range<Int>) -> Double {
        let base = group * (1 + outcomes.count) * months + (1 + k) * months
        let exposure = exposure(t, group, range)
        return exposure > 0 ? 12 * range.reduce(0) { $0 + t[base + $1] } / exposure : .nan
    }

    /// The statistics of one set of totals: per outcome, the relative and absolute differences in
    /// differences, the naive relative and absolute changes, then its event study by month.
    func statistics(_ t: [Double]) -> [Double] {
        var out: [Double] = []
        let before = 0..<pre, after = pre..<months
        for k in outcomes.indices {
            let tPre = rate(t, 0, k, before), tPost = rate(t, 0, k, after)
            let cPre = rate(t, 1, k, before), cPost = rate(t, 1, k, after)
            out += Self.differences(tPre: tPre, tPost: tPost, cPre: cPre, cPost: cPost)
            out += [tPre, tPost, cPre, cPost]
            for r in 0..<months { out.append(rate(t, 0, k, r..<(r + 1)) - rate(t, 1, k, r..<(r + 1))) }
        }
        return out
    }

    /// The relative and absolute differences in differences, and the naive relative and
    /// absolute changes, from the four rates.
    static func differences(tPre: Double, tPost: Double, cPre: Double, cPost: Double) -> [Double] {
        [
            tPre > 0 && cPre > 0 && cPost > 0 ? (tPost / tPre) / (cPost / cPre) - 1 : .nan,
            (tPost - tPre) - (cPost - cPre),
            tPre > 0 ? tPost / tPre - 1 : .nan,
            tPost - tPre,
        ]
    }

    var statisticsPerOutcome: Int { 8 + months }

    /// What publishing for planning needs: the cell keys of the exposed and of their controls,
    /// and the caps `winsorise` applied.
    struct Planning {
        var treatedKey: UInt8
        var controlsKey: UInt8
        var caps: [Double]
    }

    /// A group's rate of outcome `k` over a range of months of a window, as planning publishes
    /// it, with the least step it is rounded to (NaN for both where it cannot be published).
    /// Removing one matched set (amount a at most the window's cap, months e at most the range's
    /// w) moves a rate r = 12 A / E by (12 a - r e) / (E - e), so by at most
    /// 12 max(cap, r w / 12) / (E - w): the step.
    func publishedRate(
        _ t: [Double], _ group: Int, _ k: Int, _ range: Range<Int>, window: Int, planning: Planning, index: Int
    ) -> (rate: Double, step: Double) {
        let r = rate(t, group, k, range), e = exposure(t, group, range), w = Double(range.count)
        let cap = cap(planning.caps, group: group, outcome: k, window: window)
        guard r.isFinite, e > w else { return (.nan, .nan) }
        let step = 12 * max(cap, r * w / 12) / (e - w)
        let key = Suppression.key(group == 0 ? planning.treatedKey : planning.controlsKey, index)
        return (Suppression.randomlyRounded(r, step: step, key: key) ?? .nan, step)
    }

    /// Point estimates with 95% intervals from a bootstrap of matched sets (percentile method,
    /// Efron and Tibshirani 1993): each sample draws as many sets as there are, with replacement.
    /// Samples are seeded one by one, so results do not depend on the number of cores.
    ///
    /// For planning, each rate is randomly rounded (`Suppression.randomlyRounded`, keyed by its
    /// group's people) to a step at least the most one matched set can move it, given the caps
    /// on the sets' amounts; the effects are computed from the rounded rates, and each interval's
    /// bounds are rounded to the step its rates' steps give it. What one set contributes is then
    /// within the rounding of every published figure.
    func estimate(
        samples: Int, seed: UInt64, workers: Int, deadline: ContinuousClock.Instant? = nil, planning: Planning? = nil
    ) throws(EvaluationError) -> (effects: [EvaluationResult.Effect], eventStudy: [EvaluationResult.EventMonth]) {
        let t = totals(nil)
        var point = statistics(t)
        // Many small parts, so a deadline is noticed within one part's samples.
        let parts = Parallel.ranges(samples, parts: max(workers * 4, samples / 25))
        let drawn = Parallel.map(parts.count) { k -> [[Double]] in
            if let deadline, ContinuousClock.now > deadline { return [] }
            var counts = [Int32](repeating: 0, count: sets)
            return parts[k].map { b in
                var rng = Xoshiro(seed: seed, 2, UInt64(b))
                for s in 0..<sets { counts[s] = 0 }
                for _ in 0..<sets { counts[rng.int(0..<sets)] += 1 }
                return statistics(totals(counts))
            }
        }.flatMap { $0 }
        guard drawn.count == samples else { throw .tookTooLong }
        // The rounding step of each published statistic (NaN where it cannot be published).
        var steps = [Double](repeating: .nan, count: point.count)
        if let planning {
            for k in outcomes.indices {
                let i = k * statisticsPerOutcome
                func published(_ group: Int, _ range: Range<Int>, window: Int, index: Int) -> (rate: Double, step: Double) {
                    publishedRate(t, group, k, range, window: window, planning: planning, index: k * 4_096 + index)
                }
                let before = 0..<pre, after = pre..<months
                let rates = [
                    published(0, before, window: 0, index: 0), published(0, after, window: 1, index: 1),
                    published(1, before, window: 0, index: 2), published(1, after, window: 1, index: 3),
                ]
                let (tPre, tPost, cPre, cPost) = (rates[0].rate, rates[1].rate, rates[2].rate, rates[3].rate)
                let s = rates.map(\.step)
                let differences = Self.differences(tPre: tPre, tPost: tPost, cPre: cPre, cPost: cPost)
                for j in 0..<4 { point[i + j] = differences[j] }
                for j in 0..<4 { point[i + 4 + j] = rates[j].rate }
                // Steps carried to the effects: the most the rates' own steps can move them, a
                // ratio's worst case taken whole (NaN, so withheld, where a step reaches its rate).
                // Each exact rate lies within a grid step of its rounded one, so the ratios are
                // taken at the lowest exact rate the rounded one allows.
                func ratioStep(_ up: [(Double, Double)], _ down: [(Double, Double)], _ value: Double) -> Double {
                    func lowest(_ r: Double, _ s: Double) -> Double {
                        let (mantissa, exponent) = Suppression.step(atLeast: s)
                        return r - mantissa * pow(10, Double(exponent))
                    }
                    guard (up + down).allSatisfy({ $0.0 < lowest($0.1, $0.0) }) else { return .nan }
                    let most =
                        up.reduce(1.0) { $0 * (1 + $1.0 / lowest($1.1, $1.0)) }
                        / down.reduce(1.0) { $0 * (1 - $1.0 / lowest($1.1, $1.0)) }
                    // The exact ratio may itself be up to `corner` times the rounded one: each
                    // exact rate is within its grid step g of the rounded one.
                    let corner =
                        up.reduce(1.0) { $0 * (1 + ($1.1 - lowest($1.1, $1.0)) / $1.1) }
                        / down.reduce(1.0) { $0 * (1 - ($1.1 - lowest($1.1, $1.0)) / $1.1) }
                    return abs(1 + value) * corner * (most - 1)
                }
                steps[i] = ratioStep([(s[1], tPost), (s[2], cPre)], [(s[0], tPre), (s[3], cPost)], differences[0])
                steps[i + 1] = s[0] + s[1] + s[2] + s[3]
                steps[i + 2] = ratioStep([(s[1], tPost)], [(s[0], tPre)], differences[2])
                steps[i + 3] = s[0] + s[1]
                for r in 0..<months {
                    let window = r < pre ? 0 : 1
                    let exposed = published(0, r..<(r + 1), window: window, index: 4 + r)
                    let controls = published(1, r..<(r + 1), window: window, index: 4 + months + r)
                    point[i + 8 + r] = exposed.rate - controls.rate
                    steps[i + 8 + r] = exposed.step + controls.step
                }
            }
        }
        func interval(_ i: Int) -> EvaluationResult.Interval {
            let values = drawn.map { $0[i] }.filter { $0.isFinite }.sorted()
            let estimate = point[i].isFinite ? point[i] : nil
            // Intervals only when nearly every sample gives a value.
            guard values.count >= samples * 95 / 100 else { return .init(estimate: estimate, low: nil, high: nil) }
            func quantile(_ q: Double) -> Double {
                let h = q * Double(values.count - 1)
                let lo = Int(h.rounded(.down)), hi = min(lo + 1, values.count - 1)
                return values[lo] + (h - Double(lo)) * (values[hi] - values[lo])
            }
            guard let planning else { return .init(estimate: estimate, low: quantile(0.025), high: quantile(0.975)) }
            let key = planning.treatedKey &+ planning.controlsKey
            guard let estimate,
                let low = Suppression.randomlyRounded(quantile(0.025), step: steps[i], key: Suppression.key(key, 2 * i)),
                let high = Suppression.randomlyRounded(quantile(0.975), step: steps[i], key: Suppression.key(key, 2 * i + 1))
            else { return .init(estimate: estimate, low: nil, high: nil) }
            // A relative change is never below -100%, however coarse the rounding.
            let relative = [0, 2].contains(i % statisticsPerOutcome)
            let floor = relative ? -1.0 : -Double.infinity
            return .init(estimate: estimate, low: max(floor, min(low, estimate)), high: max(high, estimate))
        }
        func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }
        var effects: [EvaluationResult.Effect] = []
        var study: [EvaluationResult.EventMonth] = []
        for (k, measure) in outcomes.enumerated() {
            let i = k * statisticsPerOutcome
            effects.append(
                .init(
                    outcome: measure.rawValue, description: measure.name, negativeControl: false,
                    treatedPre: finite(point[i + 4]), treatedPost: finite(point[i + 5]), controlsPre: finite(point[i + 6]),
                    controlsPost: finite(point[i + 7]),
                    relative: interval(i), absolute: interval(i + 1), naiveRelative: interval(i + 2),
                    naiveAbsolute: interval(i + 3)))
            for r in 0..<months {
                let month = r < pre ? r - pre : r - pre + 1
                study.append(.init(outcome: measure.rawValue, month: month, difference: interval(i + 8 + r)))
            }
        }
        return (effects, study)
    }
}
