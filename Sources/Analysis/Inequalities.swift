import Conditions
import Foundation
import PHMCore

/// Each indicator by deprivation decile and quintile, Core20 against the rest, ethnic group,
/// sex, age band, the quintiles of each area indicator and each recorded social factor (those
/// with it against the rest), crude and age-standardised, with the slope and relative indices of
/// inequality across deprivation deciles and across each area indicator's quintiles.
public enum Inequalities {
    /// A group's people: those of `slots`, less those of `excluded` (who are among them).
    public struct Group: Sendable {
        public var label: String
        public var slots: [Int]
        public var excluded: [Int] = []
        /// Under suppression only the group's age-standardised values are published, not its
        /// counts or crude values: the rest of a unit beside a small group, whose counts less the
        /// unit's would give the small group's back, and whose protection would spread through
        /// every unit (the rest is nearly everyone, in every practice).
        public var countsWithheld = false
    }

    public struct Breakdown: Sendable {
        public var id: String
        public var groups: [Group]
        /// Whether to age-standardise (not within an age band).
        public var standardise: Bool
        /// Whether every group is standardised over the age bands (of the standard population)
        /// where the first group has people, rather than over all of them. A factor recorded
        /// only in adults has no children, and a rate that counted the children's bands as none
        /// would be compared with the rest's, which has them.
        public var firstGroupsBands = false
    }

    /// The breakdowns in output order: `standard`, then each area indicator's quintiles (1 holds
    /// the lowest values) and the areas without a value, then each factor (a condition id, in the
    /// order `Totals` was given them): `condition_ID`, the people with it recorded against the
    /// rest.
    public static func breakdowns(_ areas: AreaQuintiles, factors: [String] = []) -> [Breakdown] {
        let everyone = standard[0].groups[0].slots
        return standard
            + areas.names.indices.map { k in
                let first = Totals.areaSlot(k)
                return Breakdown(
                    id: areas.breakdown(k),
                    groups: (1...5).map { Group(label: String($0), slots: [first + $0 - 1]) }
                        + [Group(label: "unknown", slots: [first + 5])],
                    standardise: true)
            }
            + factors.enumerated().map { j, id in
                let slot = Totals.factorSlot(j, areaIndicators: areas.names.count)
                return Breakdown(
                    id: factorBreakdown(id),
                    groups: [
                        Group(label: "recorded", slots: [slot]),
                        Group(label: "not_recorded", slots: everyone, excluded: [slot], countsWithheld: true),
                    ],
                    standardise: true, firstGroupsBands: true)
            }
    }

    /// The standard population over the age bands where `group`'s people are (the 2013 ESP,
    /// with no weight elsewhere).
    public static func standard(_ totals: Totals, of group: Group) -> [Double] {
        var people = [Double](repeating: 0, count: 19)
        for (slot, sign) in group.slots.map({ ($0, 1.0) }) + group.excluded.map({ ($0, -1.0) }) {
            for c in 0..<AgeCell.count { people[AgeCell.espBand(c)] += sign * totals.people[slot * AgeCell.count + c] }
        }
        return zip(Statistics.europeanStandardPopulation2013, people).map { $1 > 0 ? $0 : 0 }
    }

    /// The breakdown of a recorded factor, by its condition id.
    public static func factorBreakdown(_ condition: String) -> String { "condition_" + condition }

    /// The conditions that are breakdowns of their own: the library's social factors (group
    /// `social`), by index.
    public static func factors(_ library: ConditionLibrary) -> [Int] {
        library.conditions.indices.filter { library.conditions[$0].group == socialGroup }
    }

    /// The condition group of social factors recorded in primary care.
    public static let socialGroup = "social"

    /// The breakdowns every run has, in output order; `all` first. Deciles and quintiles run
    /// from 1, the most deprived; Core20 is the most deprived 20% nationally (deciles 1 and 2).
    public static let standard: [Breakdown] = {
        let sexSlots = Sex.allCases.map { Totals.sexBase + Int($0.rawValue) }
        return [
            Breakdown(id: "all", groups: [Group(label: "all", slots: sexSlots)], standardise: true),
            Breakdown(
                id: "imd_decile",
                groups: (1...10).map { Group(label: String($0), slots: [$0 - 1]) } + [Group(label: "unknown", slots: [10])],
                standardise: true),
            Breakdown(
                id: "imd_quintile",
                groups: (1...5).map { Group(label: String($0), slots: [2 * $0 - 2, 2 * $0 - 1]) }
                    + [Group(label: "unknown", slots: [10])],
                standardise: true),
            Breakdown(
                id: "core20",
                groups: [Group(label: "core20", slots: [0, 1]), Group(label: "rest", slots: Array(2...10))], standardise: true),
            Breakdown(
                id: "ethnic_group",
                groups: EthnicGroup.allCases.map { Group(label: $0.label, slots: [Totals.ethnicBase + Int($0.rawValue)]) },
                standardise: true),
            Breakdown(
                id: "sex",
                groups: Sex.allCases.map {
                    Group(label: ["M", "F", "I", "U"][Int($0.rawValue)], slots: [Totals.sexBase + Int($0.rawValue)])
                },
                standardise: true),
            Breakdown(
                id: "age_band",
                groups: AgeBand.allCases.map { Group(label: $0.label, slots: [Totals.ageBase + Int($0.rawValue)]) },
                standardise: false),
        ]
    }()

    /// One indicator in one group of one unit.
    public struct Cell: Sendable {
        public var people: Double
        /// People with the condition, events, or total cost.
        public var numerator: Double
        public var crude: Statistics.Estimate?
        /// Age-standardised to the 2013 European Standard Population; nil where not computed.
        public var standardised: Statistics.Estimate?
    }

    /// The cell for one indicator over a set of group slots, less the `excluded` ones,
    /// standardised to `standard` (by 5-year age band). With `mergeBandsUnder`, bands of fewer
    /// people are merged first (`mergeSmallBands`), and a group with fewer in all the bands
    /// weighed has no standardised value.
    public static func cell(
        _ totals: Totals, indicator i: Int, kind: Indicator.Kind, square: Int?, slots: [Int], excluded: [Int] = [],
        standardise: Bool, standard: [Double] = Statistics.europeanStandardPopulation2013, mergeBandsUnder: Double = 0
    )
        -> Cell
    {
        var bandPeople = [Double](repeating: 0, count: 19), bandSums = bandPeople, bandSquares = bandPeople
        for (slot, sign) in slots.map({ ($0, 1.0) }) + excluded.map({ ($0, -1.0) }) {
            for c in 0..<AgeCell.count {
                let at = slot * AgeCell.count + c, band = AgeCell.espBand(c)
                bandPeople[band] += sign * totals.people[at]
                bandSums[band] += sign * totals.sums[at * totals.width + i]
                if let square { bandSquares[band] += sign * totals.sums[at * totals.width + square] }
            }
        }
        // Sums of costs less sums of costs may leave a rounding error where nothing is left.
        for b in bandPeople.indices where bandPeople[b] <= 0 { (bandPeople[b], bandSums[b], bandSquares[b]) = (0, 0, 0) }
        let n = bandPeople.reduce(0, +), x = bandSums.reduce(0, +)
        guard n > 0 else { return Cell(people: 0, numerator: 0) }
        let m = kind.multiplier
        let crude: Statistics.Estimate
        switch kind {
        case .proportion, .rate: crude = counted(kind, x, of: n)
        case .mean: crude = meanEstimate(sum: x, squares: bandSquares.reduce(0, +), people: n)
        }
        var standardised: Statistics.Estimate?
        if standardise {
            if kind == .mean {
                var (people, sums, squares, weights) = (bandPeople, bandSums, bandSquares, standard)
                var largeEnough = true
                if mergeBandsUnder > 0 {
                    // The same merges for sums and squares: which bands merge depends on people and weights alone.
                    var (again, weightsAgain) = (people, weights)
                    largeEnough = mergeSmallBands(people: &people, counts: &sums, weights: &weights, under: mergeBandsUnder)
                    mergeSmallBands(people: &again, counts: &squares, weights: &weightsAgain, under: mergeBandsUnder)
                }
                standardised =
                    largeEnough ? standardisedMean(people: people, sums: sums, squares: squares, standard: weights) : nil
            } else {
                var (people, counts, weights) = (bandPeople, bandSums, standard)
                let largeEnough =
                    mergeBandsUnder <= 0
                    || mergeSmallBands(people: &people, counts: &counts, weights: &weights, under: mergeBandsUnder)
                standardised =
                    largeEnough
                    ? Statistics.directlyStandardisedRate(counts: counts, populations: people, standard: weights, multiplier: m)
                    : nil
            }
        }
        return Cell(people: n, numerator: x, crude: crude, standardised: standardised)
    }

    /// Merges each age band holding fewer than `limit` people (of those the standard weighs and
    /// the group has people in) into the next such band, or the one before for the last, adding
    /// people, counts and weights, until none is that small or one is left. One person alone in a
    /// band moves a standardised rate by the band's weight over one; merged, by the weight over at
    /// least `limit`, as little as a published count lets one person show. Bands without people
    /// or weight are kept as they are. Returns whether every band left holds at least `limit`.
    @discardableResult
    public static func mergeSmallBands(
        people: inout [Double], counts: inout [Double], weights: inout [Double], under limit: Double
    ) -> Bool {
        func isSmall(_ b: Int) -> Bool { people[b] > 0 && people[b] < limit && weights[b] > 0 }
        guard people.indices.contains(where: isSmall) else { return true }
        var bands: [(people: Double, count: Double, weight: Double)] = []
        var others: [(people: Double, count: Double, weight: Double)] = []
        for b in people.indices {
            if people[b] > 0 && weights[b] > 0 {
                bands.append((people[b], counts[b], weights[b]))
            } else {
                others.append((people[b], counts[b], weights[b]))
            }
        }
        while bands.count > 1, let k = bands.firstIndex(where: { $0.people < limit }) {
            let j = k + 1 < bands.count ? k + 1 : k - 1
            bands[j] = (bands[j].people + bands[k].people, bands[j].count + bands[k].count, bands[j].weight + bands[k].weight)
            bands.remove(at: k)
        }
        people = (bands + others).map(\.people)
        counts = (bands + others).map(\.count)
        weights = (bands + others).map(\.weight)
        return bands.allSatisfy { $0.people >= limit }
    }

    /// The crude value of a counted indicator with its interval: a proportion with Wilson limits
    /// or a rate with Byar limits, in the indicator's units. Planning outputs call it with the
    /// published counts, so the interval says no more than they do.
    public static func counted(_ kind: Indicator.Kind, _ x: Double, of n: Double) -> Statistics.Estimate {
        let m = kind.multiplier
        if kind == .proportion {
            let w = Statistics.wilson(x, of: n)
            return .init(value: w.value * m, lower: w.lower * m, upper: w.upper * m)
        }
        return Statistics.crudeRate(x, per: n, multiplier: m)
    }

    /// A mean with normal limits from the sample standard deviation. The measures averaged
    /// (costs, counts of use) are never negative, so a lower limit below zero is held at zero.
    public static func meanEstimate(sum: Double, squares: Double, people n: Double) -> Statistics.Estimate {
        let mean = sum / n
        let variance = n > 1 ? max(0, (squares - sum * sum / n) / (n - 1)) : 0
        let half = Statistics.z95 * (variance / n).squareRoot()
        return .init(value: mean, lower: max(0, mean - half), upper: mean + half)
    }

    /// A mean standardised to the 2013 ESP: band means weighted by the standard population,
    /// over the bands with people, with normal limits from the band variances.
    static func standardisedMean(people: [Double], sums: [Double], squares: [Double], standard esp: [Double])
        -> Statistics.Estimate?
    {
        var weight = 0.0, value = 0.0, variance = 0.0
        for b in esp.indices where people[b] > 0 {
            let n = people[b], mean = sums[b] / n
            let v = n > 1 ? max(0, (squares[b] - sums[b] * sums[b] / n) / (n - 1)) : 0
            weight += esp[b]
            value += esp[b] * mean
            variance += esp[b] * esp[b] * v / n
        }
        guard weight > 0 else { return nil }
        let mean = value / weight, half = Statistics.z95 * variance.squareRoot() / weight
        return .init(value: mean, lower: max(0, mean - half), upper: mean + half)
    }

    /// The groups a gradient runs across, in rank order, as slots and as areas: IMD deciles,
    /// most deprived first, every one of them needed.
    public static func imdDeciles(_ areas: Areas) -> Across {
        Across(slots: (0..<10).map { [$0] }, minimumGroups: 10) { a in
            let decile = Int(areas.imdDecile[Int(a)])
            return (1...10).contains(decile) ? decile - 1 : nil
        }
    }

    /// Area indicator `k`'s quintiles, lowest values first. A unit's people may live in areas of
    /// only some quintiles (a practice serves neighbouring areas), so three with people suffice.
    public static func areaQuintiles(_ quintiles: AreaQuintiles, _ k: Int) -> Across {
        Across(slots: (0..<5).map { [Totals.areaSlot(k) + $0] }, minimumGroups: 3) { a in
            let q = Int(quintiles.quintile[k][Int(a)])
            return q > 0 ? q - 1 : nil
        }
    }

    /// Ranked groups: each one's slots, how many must have people, and which group an area
    /// (LSOA) is in.
    public struct Across: Sendable {
        public var slots: [[Int]]
        public var minimumGroups: Int
        public var group: @Sendable (Int32) -> Int?
    }

    /// A group's people and, for a counted indicator, its events, or for a mean its value and
    /// interval, as published: nil where withheld.
    public typealias PublishedCounts = (people: Int?, numerator: Int?, mean: Statistics.Estimate?)

    /// The slope and relative indices of inequality across ranked groups, on each group's crude
    /// value, over the groups with people; nil with fewer than `across.minimumGroups` of them.
    ///
    /// Each group's standard error is the larger of the counting one (binomial for a share,
    /// Poisson for a rate, the people's spread for a mean) and the one its areas give: the groups
    /// are groups of areas, and areas differ by more than their people's chance (a few people with
    /// many admissions, places unlike each other), so a gradient judged on people alone looks
    /// surer than it is. The areas' one is the ratio estimator's, `sqrt(n/(n-1) sum (y_a - r
    /// n_a)^2) / N` over the group's n areas; a group of one area has only the counting one.
    ///
    /// - Parameter published: under suppression, each group's counts as published. A counted
    ///   indicator's values and counting errors are then those of the published counts (as its
    ///   group rows are), the errors are rounded up to two significant figures, and the gradient
    ///   is withheld when any group with people has a count withheld: no gradient says more about
    ///   a group than its published counts.
    public static func gradient(
        _ totals: Totals, indicator i: Int, kind: Indicator.Kind, square: Int?, across: Across, seed: UInt64,
        published: [PublishedCounts]? = nil
    ) -> Statistics.InequalityIndices? {
        let groups = across.slots.count
        var clusters = [[(people: Double, sum: Double)]](repeating: [], count: groups)
        for (k, area) in totals.areas.enumerated() {
            guard let g = across.group(area), g < groups, totals.areaPeople[k] > 0 else { continue }
            clusters[g].append((totals.areaPeople[k], totals.areaSums[k * totals.width + i]))
        }
        var ranked: [Statistics.RankedGroup] = []
        for (g, slots) in across.slots.enumerated() {
            // Under suppression which groups count is decided from published counts alone: a
            // hidden group withholds the gradient, a published 0 leaves the group out.
            if let published {
                guard g < published.count, let people = published[g].people else { return nil }
                if people == 0 { continue }
            }
            let c = cell(totals, indicator: i, kind: kind, square: square, slots: slots, standardise: false)
            guard c.people > 0, let crude = c.crude else {
                if published != nil { return nil }
                continue
            }
            var n = c.people, x = c.numerator, value = crude.value, meanHalfWidth = crude.upper - crude.value
            if let published, let people = published[g].people {
                n = Double(people)
                if kind != .mean {
                    guard let events = published[g].numerator else { return nil }
                    x = Double(events)
                    value = counted(kind, x, of: n).value
                } else {
                    guard let mean = published[g].mean else { return nil }
                    (value, meanHalfWidth) = (mean.value, mean.upper - mean.value)
                }
            }
            let m = kind.multiplier
            var se: Double
            switch kind {
            case .proportion:
                let p = min(1, x / n)
                se = (p * (1 - p) / n).squareRoot() * m
            case .rate: se = x.squareRoot() / n * m
            case .mean: se = meanHalfWidth / Statistics.z95
            }
            let areas = clusters[g]
            if areas.count >= 2 {
                let people = areas.reduce(0) { $0 + $1.people }, r = areas.reduce(0) { $0 + $1.sum } / people
                let spread = areas.reduce(0) { $0 + ($1.sum - r * $1.people) * ($1.sum - r * $1.people) }
                let k = Double(areas.count)
                se = max(se, (k / (k - 1) * spread).squareRoot() / people * m)
            }
            if published != nil, se > 0 {
                se = NiceNumber.significant(se, .up)
            }
            ranked.append(.init(people: n, value: value, standardError: se))
        }
        guard ranked.count >= across.minimumGroups else { return nil }
        return Statistics.inequalityIndices(ranked, seed: seed)
    }
}
