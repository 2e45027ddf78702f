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

    /// The statistics of one set of totals: per outcome, the relative and absolute differences in
    /// differences, the naive relative and absolute changes, then its event study by month.
    func statistics(_ t: [Double]) -> [Double] {
        let perGroup = (1 + outcomes.count) * months
        func sum(_ group: Int, _ slot: Int, _ range: Range<Int>) -> Double {
            range.reduce(0) { $0 + t[group * perGroup + slot * months + $1] }
        }
        func rate(_ group: Int, _ k: Int, _ range: Range<Int>) -> Double {
            let exposure = sum(group, 0, range)
            return exposure > 0 ? 12 * sum(group, 1 + k, range) / exposure : .nan
        }
        var out: [Double] = []
        let before = 0..<pre, after = pre..<months
        for k in outcomes.indices {
            let tPre = rate(0, k, before), tPost = rate(0, k, after)
            let cPre = rate(1, k, before), cPost = rate(1, k, after)
            out.append(tPre > 0 && cPre > 0 && cPost > 0 ? (tPost / tPre) / (cPost / cPre) - 1 : .nan)
            out.append((tPost - tPre) - (cPost - cPre))
            out.append(tPre > 0 ? tPost / tPre - 1 : .nan)
            out.append(tPost - tPre)
            out += [tPre, tPost, cPre, cPost]
            for r in 0..<months { out.append(rate(0, k, r..<(r + 1)) - rate(1, k, r..<(r + 1))) }
        }
        return out
    }

    var statisticsPerOutcome: Int { 8 + months }

    /// Point estimates with 95% intervals from a bootstrap of matched sets (percentile method,
    /// Efron and Tibshirani 1993): each sample draws as many sets as there are, with replacement.
    /// Samples are seeded one by one, so results do not depend on the number of cores.
    func estimate(samples: Int, seed: UInt64, workers: Int) -> (
        effects: [EvaluationResult.Effect], eventStudy: [EvaluationResult.EventMonth]
    ) {
        let point = statistics(totals(nil))
        let parts = Parallel.ranges(samples, parts: workers * 4)
        let drawn = Parallel.map(parts.count) { k -> [[Double]] in
            var counts = [Int32](repeating: 0, count: sets)
            return parts[k].map { b in
                var rng = Xoshiro(seed: seed, 2, UInt64(b))
                for s in 0..<sets { counts[s] = 0 }
                for _ in 0..<sets { counts[rng.int(0..<sets)] += 1 }
                return statistics(totals(counts))
            }
        }.flatMap { $0 }
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
            return .init(estimate: estimate, low: quantile(0.025), high: quantile(0.975))
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
