import Analysis
import Foundation
import PHMCore

/// A synthetic control for a place-based scheme with few treated practices (Abadie, Diamond and
/// Hainmueller, "Synthetic control methods for comparative case studies", JASA 2010).
///
/// The unit is the practice. The place's monthly rate of an outcome over the pre window is
/// reproduced as closely as possible (least squares) by a weighted average of practices outside
/// it, the weights at least 0 and adding up to 1; after the start, the gap between the place and
/// its synthetic control is the estimate. Inference is by placebos in space: each donor practice
/// in turn is treated as the place, and the place's mean gap after the start, over its root mean
/// squared gap before it, is ranked among theirs in size (a p-value of 1 / (donors + 1) is the
/// smallest possible). Monthly rates of a practice are noisy; the mean gap averages the noise of
/// the post window out where Abadie's ratio of root mean squared gaps keeps it, so it has more
/// power against a lasting effect (a choice of statistic the placebo test leaves open: Firpo and
/// Possebom 2018).
/// It complements the matched comparison, which compares people: here the place as a whole is
/// compared, so a scheme that changes how a practice works shows even in people it never met.
public enum SyntheticControl {
    /// The most practices a place may have for a synthetic control: with more, the matched
    /// comparison of people has the power, and a weighted average of the rest fits poorly.
    public static let maximumPlacePractices = 10
    /// The fewest donor practices with people in every month of the windows.
    public static let minimumDonors = 10
    /// The shortest pre window a synthetic control is fitted on: a year of months at least.
    public static let minimumPreMonths = 12

    /// Monthly people and use of each practice over the windows around the start month.
    struct Panel {
        let months: Int
        let outcomes: [Measure]
        /// Person-months by practice and month: `exposure[q * months + m]`.
        var exposure: [Double]
        /// Amounts by practice, outcome and month: `amount[(q * outcomes.count + k) * months + m]`.
        var amount: [Double]
        /// The sums of each person-month's amount squared, laid out as `amount`: for the spread
        /// chance gives a rate of amounts that are not all 1 (bed days, cost).
        var squares: [Double]
        /// Each practice's people, for cell keys.
        var people: [[Int32]]

        func rate(_ practices: some Sequence<Int>, _ k: Int, _ m: Int) -> Double {
            var e = 0.0, a = 0.0
            for q in practices {
                e += exposure[q * months + m]
                a += amount[(q * outcomes.count + k) * months + m]
            }
            return e > 0 ? 12 * a / e : .nan
        }
    }

    /// One outcome's synthetic control.
    public struct Result: Sendable, Codable, Equatable {
        public var outcome: String
        public var description: String
        /// Donor practices and their weights (those of at least 0.01, largest first).
        public var weights: [Weight]
        public var donors: Int
        /// Root mean squared gap between the place and its synthetic control, per person-year.
        public var preRMSPE: Double
        public var postRMSPE: Double
        /// The mean monthly gap after the start (place minus synthetic), per person-year, and as
        /// a share of the synthetic control's mean.
        public var effect: Double
        public var relative: Double?
        /// The share of the place and its placebos whose |mean post gap| / pre RMSPE is at least the place's.
        public var pValue: Double
        public var months: [Month]

        public struct Weight: Sendable, Codable, Equatable {
            public var practice: String
            public var weight: Double
        }

        /// Months from the start month (0; -1 the month before it, 1 the month after), rates per person-year.
        public struct Month: Sendable, Codable, Equatable {
            public var month: Int
            public var place: Double
            public var synthetic: Double
        }
    }

    /// The synthetic control of each outcome for a place, or none with why it is not computed.
    ///
    /// - Parameter planning: when given, each person's amount of an outcome in a window (the pre
    ///   window; the start month with the post window) is capped at the run's cap for a window that
    ///   long (`PlanningDisclosure.windowCaps`), the place and each donor must have a published
    ///   count of at least 10 people, the weights are withheld, and the place's and the synthetic
    ///   control's monthly rates are rounded at random to a step at least what one person can move
    ///   them over the whole window; the estimates come from the rounded rates.
    static func run(
        base: EvaluationBase, place: Set<Int32>, start: Day, options: EvaluationOptions, outcomes: [Measure],
        planning: PlanningDisclosure?, deadline: ContinuousClock.Instant? = nil, workers: Int
    ) throws(EvaluationError) -> (results: [Result], note: String?) {
        let practices = base.hierarchy.practices.count
        let placeRows = place.map(Int.init).filter { (0..<practices).contains($0) }.sorted()
        guard placeRows.count <= maximumPlacePractices else {
            return ([], "no synthetic control: the place has more than \(maximumPlacePractices) practices")
        }
        guard options.preMonths >= minimumPreMonths else {
            return ([], "no synthetic control: it needs a pre window of at least \(minimumPreMonths) months")
        }
        let pre = options.preMonths, months = pre + 1 + options.postMonths, post = (pre + 1)..<months
        let first = start.monthNumber - Int32(pre)
        guard first >= base.firstMonth, first + Int32(months) <= base.asOf.monthNumber else {
            return ([], "no synthetic control: its windows are not all within the data")
        }
        var panel = Panel(
            months: months, outcomes: outcomes, exposure: [Double](repeating: 0, count: practices * months),
            amount: [Double](repeating: 0, count: practices * outcomes.count * months),
            squares: [Double](repeating: 0, count: practices * outcomes.count * months),
            people: [[Int32]](repeating: [], count: practices))
        var slot = [Int](repeating: -1, count: Measure.allCases.count)
        for (k, m) in outcomes.enumerated() { slot[m.index] = k }
        // Caps by outcome and window: the pre window, then the start month with the post window.
        let caps = planning.map { _ in
            Array(
                PlanningDisclosure.windowCaps(base, outcomes: outcomes, pre: pre, post: months - pre).prefix(2 * outcomes.count))
        }
        var mine: [(m: Int, k: Int, amount: Double)] = []
        var totals = [Double](repeating: 0, count: 2 * outcomes.count)
        for p in 0..<base.count {
            let q = Int(base.practice[p])
            guard q >= 0, q < practices else { continue }
            let age = base.age(of: p, atStartOf: start.monthNumber)
            guard age >= options.minimumAge, age <= options.maximumAge else { continue }
            var present = false
            for m in 0..<months {
                let e = Double(base.exposure(of: p, month: first + Int32(m)))
                panel.exposure[q * months + m] += e
                present = present || e > 0
            }
            guard present else { continue }
            panel.people[q].append(Int32(p))
            mine.removeAll(keepingCapacity: true)
            for i in totals.indices { totals[i] = 0 }
            for row in base.events.rows(of: p) {
                let m = Int(base.eventMonth[row] - first), k = slot[Int(base.eventMeasure[row])]
                guard m >= 0, m < months, k >= 0 else { continue }
                mine.append((m, k, Double(base.eventAmount[row])))
                totals[k * 2 + (m < pre ? 0 : 1)] += Double(base.eventAmount[row])
            }
            for event in mine {
                let w = event.k * 2 + (event.m < pre ? 0 : 1)
                let scale = caps.map { totals[w] > $0[w] ? $0[w] / totals[w] : 1 } ?? 1
                let amount = event.amount * scale, cell = (q * outcomes.count + event.k) * months + event.m
                panel.amount[cell] += amount
                panel.squares[cell] += amount * amount
            }
        }
        /// Whether a practice's people may be shown: under planning, a published count of at least 10.
        func publishable(_ q: Int) -> Bool { planning.map { ($0.count(panel.people[q]) ?? 0) >= 10 } ?? true }
        let donors = (0..<practices).filter { q in
            !place.contains(Int32(q)) && publishable(q) && (0..<months).allSatisfy { panel.exposure[q * months + $0] > 0 }
        }
        guard donors.count >= minimumDonors else {
            let who = planning == nil ? "people" : "at least 10 people (as published) and people"
            return (
                [], "no synthetic control: fewer than \(minimumDonors) practices outside the place have \(who) in every month"
            )
        }
        let placeKeyPeople = placeRows.flatMap { panel.people[$0] }
        guard planning.map({ ($0.count(placeKeyPeople) ?? 0) >= 10 }) ?? true,
            (0..<months).allSatisfy({ m in placeRows.contains { panel.exposure[$0 * months + m] > 0 } })
        else {
            return ([], "no synthetic control: the place has months with too few people in them")
        }
        var results: [Result] = []
        var notes: [String] = []
        for (k, measure) in outcomes.enumerated() {
            /// The spread chance alone gives a month's rate 12 A / e over the pre window: with
            /// amounts a of independent person-months, sqrt(144 sum a^2 / e^2), which for counts
            /// of 1 is the Poisson sqrt(12 r / e).
            func noise(_ practices: [Int]) -> Double {
                let variance = (0..<pre).reduce(0.0) { total, m in
                    var e = 0.0, squares = 0.0
                    for q in practices {
                        e += panel.exposure[q * months + m]
                        squares += panel.squares[(q * outcomes.count + k) * months + m]
                    }
                    return total + (e > 0 ? 144 * squares / (e * e) : 0)
                }
                return (variance / Double(pre)).squareRoot()
            }
            if let deadline, ContinuousClock.now > deadline { throw .tookTooLong }
            let donorSeries = donors.map { q in (0..<months).map { panel.rate([q], k, $0) } }
            var placeSeries = (0..<months).map { panel.rate(placeRows, k, $0) }
            let weights = fit(target: Array(placeSeries[..<pre]), donors: donorSeries.map { Array($0[..<pre]) })
            var synthetic = (0..<months).map { m in zip(weights, donorSeries).reduce(0) { $0 + $1.0 * $1.1[m] } }
            // The placebo test ranks exact gaps; what is shown comes from the published rates.
            let exactRatio = gapRatio(placeSeries, synthetic, pre: pre, post: post, floor: noise(placeRows)).ratio
            if let planning, let caps {
                let key = planning.key(placeKeyPeople), everyone = planning.key(donors.flatMap { panel.people[$0] }) &+ key
                for m in 0..<months {
                    // One person's amount in the window (at most its cap) moves a month's rate 12 a / e
                    // by at most 12 max(cap, r / 12) / (e - 1).
                    let cap = caps[k * 2 + (m < pre ? 0 : 1)]
                    func step(_ practices: [Int], _ r: Double) -> Double {
                        let e = practices.reduce(0.0) { $0 + panel.exposure[$1 * months + m] }
                        return e > 1 ? 12 * max(cap, r / 12) / (e - 1) : .infinity
                    }
                    let placeStep = step(placeRows, placeSeries[m])
                    placeSeries[m] =
                        Suppression.randomlyRounded(placeSeries[m], step: placeStep, key: Suppression.key(key, k * 256 + m))
                        ?? .nan
                    // One person in each donor moves the weighted average by at most the weighted
                    // steps; and the synthetic control is fitted to the place, which it can follow
                    // closer than the place's own rounding, so the place's step is added too.
                    var donorStep = placeStep
                    for (d, q) in donors.enumerated() where weights[d] > 0 {
                        donorStep += weights[d] * step([q], donorSeries[d][m])
                    }
                    synthetic[m] =
                        Suppression.randomlyRounded(
                            synthetic[m], step: donorStep, key: Suppression.key(everyone, 65_536 + k * 256 + m)) ?? .nan
                }
            }
            guard placeSeries.allSatisfy(\.isFinite), synthetic.allSatisfy(\.isFinite) else {
                notes.append("no synthetic control for \(measure.name): a month has too few people in it to publish its rate")
                continue
            }
            let shown = gapRatio(placeSeries, synthetic, pre: pre, post: post, floor: 0)
            // Placebos: each donor against the others (the place left out of every pool).
            let series = donorSeries
            let floors = donors.map { noise([$0]) }
            @Sendable func placebo(_ j: Int) -> Double {
                if let deadline, ContinuousClock.now > deadline { return .nan }
                var pool = series
                pool.remove(at: j)
                let w = fit(target: Array(series[j][..<pre]), donors: pool.map { Array($0[..<pre]) })
                let fitted = (0..<months).map { m in zip(w, pool).reduce(0) { $0 + $1.0 * $1.1[m] } }
                return gapRatio(series[j], fitted, pre: pre, post: post, floor: floors[j]).ratio
            }
            let placebos = workers > 1 ? Parallel.map(series.count, placebo) : (0..<series.count).map(placebo)
            guard !placebos.contains(where: \.isNaN) else { throw .tookTooLong }
            let atLeast = placebos.filter { $0 >= exactRatio }.count
            let postPlace = post.reduce(0) { $0 + placeSeries[$1] } / Double(post.count)
            let postSynthetic = post.reduce(0) { $0 + synthetic[$1] } / Double(post.count)
            results.append(
                Result(
                    outcome: measure.rawValue, description: measure.name,
                    weights: planning != nil
                        ? []
                        : zip(donors, weights).filter { $0.1 >= 0.01 }.sorted { $0.1 > $1.1 }.map {
                            .init(practice: base.hierarchy.practices[$0.0].code, weight: ($0.1 * 100).rounded() / 100)
                        },
                    donors: donors.count, preRMSPE: shown.pre, postRMSPE: shown.post, effect: postPlace - postSynthetic,
                    relative: postSynthetic > 0 ? postPlace / postSynthetic - 1 : nil,
                    pValue: Double(1 + atLeast) / Double(1 + placebos.count),
                    months: (0..<months).map { .init(month: $0 - pre, place: placeSeries[$0], synthetic: synthetic[$0]) }))
        }
        return (results, notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    /// Root mean squared gaps before and after, and the test statistic: the mean gap after over
    /// the root mean squared gap before, in size. The gap before is taken as at least `floor`,
    /// the spread chance alone gives the rate: a place that is an average of practices can be
    /// fitted closer than its own noise, and dividing by that would make any gap look large.
    static func gapRatio(_ a: [Double], _ b: [Double], pre: Int, post: Range<Int>, floor: Double) -> (
        pre: Double, post: Double, ratio: Double
    ) {
        func rms(_ range: Range<Int>) -> Double {
            (range.reduce(0) { $0 + (a[$1] - b[$1]) * (a[$1] - b[$1]) } / Double(range.count)).squareRoot()
        }
        let before = rms(0..<pre), after = rms(post), scale = max(before, floor)
        let meanGap = abs(post.reduce(0) { $0 + a[$1] - b[$1] } / Double(post.count))
        return (before, after, scale > 0 ? meanGap / scale : (meanGap > 0 ? .infinity : 0))
    }

    /// Weights at least 0 adding up to 1 that make the donors' weighted average closest to the
    /// target in least squares: accelerated projected gradient (FISTA; Beck and Teboulle 2009)
    /// onto the simplex (the projection of Duchi et al. 2008), from equal weights, with the step
    /// from the largest eigenvalue of X'X (power iteration). Each step costs two passes over the
    /// donors' series, so a placebo test of every donor stays quick with hundreds of practices.
    static func fit(target: [Double], donors: [[Double]], iterations: Int = 1_500) -> [Double] {
        let j = donors.count, t = target.count
        guard j > 1 else { return [Double](repeating: 1, count: j) }
        // Weights add up to 1, so taking the donors' mean series from every series changes no
        // fit: X w - y = (X - m 1') w - (y - m). It removes the direction all donors share, which
        // otherwise dominates X'X and makes the steps tiny (practices' rates move together).
        let mean = (0..<t).map { i in donors.reduce(0.0) { $0 + $1[i] } / Double(j) }
        let x = donors.flatMap { series in (0..<t).map { series[$0] - mean[$0] } }
        let centred = (0..<t).map { target[$0] - mean[$0] }
        var w = [Double](repeating: 1 / Double(j), count: j)
        // The donors side by side in one buffer (donor a at a * t); the loops below work on raw
        // buffers and allocate nothing but the projection's sort.
        x.withUnsafeBufferPointer { x in
            centred.withUnsafeBufferPointer { y in
                var combined = [Double](repeating: 0, count: t), gradient = [Double](repeating: 0, count: j)
                /// combined = X v.
                func combine(_ v: [Double]) {
                    combined.withUnsafeMutableBufferPointer { c in
                        for i in 0..<t { c[i] = 0 }
                        for a in 0..<j where v[a] != 0 {
                            let weight = v[a], base = a * t
                            for i in 0..<t { c[i] += weight * x[base + i] }
                        }
                    }
                }
                /// gradient = X' combined.
                func project() {
                    combined.withUnsafeBufferPointer { c in
                        gradient.withUnsafeMutableBufferPointer { g in
                            for a in 0..<j {
                                var sum = 0.0
                                let base = a * t
                                for i in 0..<t { sum += x[base + i] * c[i] }
                                g[a] = sum
                            }
                        }
                    }
                }
                // The power iteration starts from X'y (the constant vector is in X's null space once
                // centred), or from the first donor when that is 0.
                for i in 0..<t { combined[i] = y[i] }
                project()
                var v = gradient.contains { $0 != 0 } ? gradient : (0..<j).map { $0 == 0 ? 1.0 : 0.0 }
                let start = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for a in 0..<j { v[a] /= start }
                var largest = 0.0
                for _ in 0..<100 {
                    combine(v)
                    project()
                    let norm = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    guard norm > 0 else { break }
                    largest = norm
                    for a in 0..<j { v[a] = gradient[a] / norm }
                }
                // Iterated into zero though X is not: the Frobenius norm squared bounds the eigenvalue.
                if largest == 0 { largest = x.reduce(0) { $0 + $1 * $1 } }
                guard largest > 0 else { return }
                // The gradient of |X w - y|^2 is 2 X'(X w - y), Lipschitz with twice the largest eigenvalue.
                let step = 1 / (2 * largest * 1.01)
                var z = w, next = w, momentum = 1.0
                func objective() -> Double {
                    combine(w)
                    return (0..<t).reduce(0.0) { $0 + (combined[$1] - y[$1]) * (combined[$1] - y[$1]) }
                }
                var checked = objective(), best = w
                for iteration in 1...iterations {
                    // Stop once 25 steps improve the fit by less than a ten-millionth: with more
                    // donors than months the best weights are not unique and may keep drifting.
                    // The accelerated steps need not descend: after a rise, restart from the best.
                    if iteration % 25 == 0 {
                        let now = objective()
                        if now > checked {
                            w = best
                            z = best
                            momentum = 1
                            continue
                        }
                        best = w
                        if checked - now <= 1e-7 * checked + 1e-15 { break }
                        checked = now
                    }
                    combine(z)
                    for i in 0..<t { combined[i] -= y[i] }
                    project()
                    for a in 0..<j { next[a] = z[a] - 2 * step * gradient[a] }
                    projectOntoSimplex(&next)
                    // Momentum restarts when it points uphill (O'Donoghue and Candes 2015).
                    var uphill = 0.0, moved = 0.0
                    for a in 0..<j {
                        uphill += gradient[a] * (next[a] - w[a])
                        moved = max(moved, abs(next[a] - w[a]))
                    }
                    if uphill > 0 { momentum = 1 }
                    let following = (1 + (1 + 4 * momentum * momentum).squareRoot()) / 2
                    for a in 0..<j { z[a] = next[a] + (momentum - 1) / following * (next[a] - w[a]) }
                    swap(&w, &next)
                    momentum = following
                    if moved < 1e-12 { break }
                }
                if objective() > checked { w = best }
            }
        }
        return w
    }

    /// The nearest point to `v` with every entry at least 0 and the entries adding up to 1.
    static func projectOntoSimplex(_ v: [Double]) -> [Double] {
        var out = v
        projectOntoSimplex(&out)
        return out
    }

    /// Moves `v` to the nearest point with every entry at least 0 and the entries adding up to 1
    /// (Duchi et al. 2008: the threshold from the entries sorted in decreasing order).
    static func projectOntoSimplex(_ v: inout [Double]) {
        let sorted = v.sorted(by: >)
        var sum = 0.0, theta = 0.0
        for (i, u) in sorted.enumerated() {
            sum += u
            let candidate = (sum - 1) / Double(i + 1)
            if u - candidate > 0 { theta = candidate }
        }
        for a in v.indices { v[a] = max(0, v[a] - theta) }
    }
}
