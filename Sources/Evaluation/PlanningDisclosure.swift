import Analysis
import PHMCore

/// How an evaluation is published for planning, so that no evaluation, nor the difference
/// between two that differ by one person, gives away a withheld count or that person's values.
/// Every figure is computed from the people's secret record keys (`PlatformKey.recordKeys`):
/// - counts of people by cell-key perturbation (`Suppression.perturbed`), keyed by the people counted;
/// - covariate means of the balance table over values held to the range of the unexposed sample,
///   rounded at random to a step at least that range over the people (`Suppression.mean`), and
///   standardised differences from the rounded means, to two decimals at random;
/// - the preference-score distribution from perturbed counts of each bin;
/// - outcomes with each matched set's amount in a window capped at the 99th centile of the sets'
///   (`Effects.winsorise`), rates and effects rounded as `Effects.estimate` describes;
/// - the propensity model's coefficients left out.
struct PlanningDisclosure {
    /// Each base person's record key.
    let keys: [UInt8]
    /// Matched sets' amounts are capped at this centile of theirs before rates are published.
    static let outcomeCap = 0.99

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
