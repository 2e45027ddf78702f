import Analysis
import PHMCore

/// How an evaluation is published for planning, so that no evaluation, nor the difference
/// between two that differ by one person, gives away a withheld count or that person's values.
/// Every figure is computed from the people's secret record keys (`PlatformKey.recordKeys`):
/// - counts of people by cell-key perturbation (`Suppression.perturbed`), keyed by the people counted;
/// - covariate means of the balance table over values held within fixed bounds, rounded at
///   random (`MatchedComparison.publishedBalance`), and standardised differences from them;
/// - the preference-score distribution from perturbed counts of each bin;
/// - outcomes with each matched set's amount in a window capped (`windowCaps`, fixed by the whole
///   base), rates and effects rounded as `Effects.estimate` describes;
/// - the propensity model's coefficients left out; every refusal, warning and flag decided on
///   published counts and figures.
struct PlanningDisclosure {
    /// Each base person's record key.
    let keys: [UInt8]
    /// The centile of people's amounts in a window that caps a matched set's.
    static let capCentile = 0.999

    /// The cap on a matched set's amount of each outcome in each window, laid out as
    /// `Effects.cap` reads it (the same for both groups): the 99.9th centile, among the base's
    /// people with any, of their amount in the last whole months of the data, as many as the
    /// window has. It depends on the run alone, so it is the same for every evaluation of it.
    static func windowCaps(_ base: EvaluationBase, outcomes: [Measure], pre: Int, post: Int) -> [Double] {
        let last = base.asOf.monthNumber - 1, lengths = [pre, post]
        var slot = [Int](repeating: -1, count: Measure.allCases.count)
        for (k, m) in outcomes.enumerated() { slot[m.index] = k }
        // One pass over people: each one's amount of each outcome in each window length.
        var amounts = [[Float]](repeating: [], count: outcomes.count * 2)
        var total = [Float](repeating: 0, count: outcomes.count * 2)
        for p in 0..<base.count {
            for i in total.indices { total[i] = 0 }
            for row in base.events.rows(of: p) {
                let k = slot[Int(base.eventMeasure[row])], m = base.eventMonth[row]
                guard k >= 0, m <= last else { continue }
                for w in 0..<2 where m > last - Int32(lengths[w]) { total[k * 2 + w] += base.eventAmount[row] }
            }
            for i in total.indices where total[i] > 0 { amounts[i].append(total[i]) }
        }
        let caps = amounts.map { values -> Double in
            guard !values.isEmpty else { return 1 }
            let sorted = values.sorted()
            return Double(sorted[min(sorted.count - 1, Int(capCentile * Double(sorted.count)))])
        }
        return caps + caps
    }

    /// The cell key of a set of people: their record keys summed modulo 256.
    func key(_ people: some Sequence<Int32>) -> UInt8 { people.reduce(0) { $0 &+ keys[Int($1)] } }

    /// A count of people as planning publishes it; nil where withheld.
    func count(_ people: some Collection<Int32>) -> Int? { Suppression.perturbed(people.count, key: key(people)) }

    /// A mean of a covariate over a group as planning publishes it; nil where withheld.
    func mean(_ value: Double, people n: Int?, spread: Double, key: UInt8, index: Int) -> Double? {
        guard let n else { return nil }
        return Suppression.mean(value, people: n, spread: spread, key: Suppression.key(key, index))
    }

    /// The preference-score distribution from perturbed counts: a bin of 1 to 9 people may show
    /// as empty, and shares are of the published total.
    func overlap(preference: [Double], people: [Int32], treated n: Int, bins: Int) -> EvaluationResult.Overlap {
        func published(_ range: Range<Int>) -> (shares: [Double], equipoise: Double) {
            var members = [[Int32]](repeating: [], count: bins)
            var middle: [Int32] = []
            for i in range {
                members[min(bins - 1, max(0, Int(preference[i] * Double(bins))))].append(people[i])
                if (0.3...0.7).contains(preference[i]) { middle.append(people[i]) }
            }
            let total = Double(count(people[range]) ?? 0)
            guard total > 0 else { return ([Double](repeating: 0, count: bins), 0) }
            return (members.map { Double(count($0) ?? 0) / total }, Double(count(middle) ?? 0) / total)
        }
        let (treated, equipoiseTreated) = published(0..<n)
        let (controls, equipoiseControls) = published(n..<preference.count)
        return .init(
            treated: treated, controls: controls, equipoiseTreated: equipoiseTreated, equipoiseControls: equipoiseControls)
    }
}
