import Conditions
import PHMCore

/// Indicator sums for one practice or unit, by the groups of every breakdown and by age cell,
/// and by the strata of indirect standardisation. Built from each practice's people in one
/// pass (practices in parallel); a unit's totals are the sum of its practices'.
public struct Totals: Sendable {
    /// Group slots: IMD deciles 1-10 and unknown (0-10), ethnic groups (11-17), sexes (18-21)
    /// and age bands (22-26), then for each area indicator its quintiles 1-5 and unknown. Every
    /// person is in one slot of each of these dimensions. Then one slot for each recorded factor
    /// (`Inequalities.factors`): the people with it; everyone else is the rest of the unit.
    public let slotCount: Int
    static let ethnicBase = 11, sexBase = 18, ageBase = 22, areaBase = 27
    /// The first slot of area indicator `k`'s quintiles.
    public static func areaSlot(_ k: Int) -> Int { areaBase + 6 * k }
    /// The slot of recorded factor `j`, after the quintiles of `areaIndicators` indicators.
    public static func factorSlot(_ j: Int, areaIndicators: Int) -> Int { areaBase + 6 * areaIndicators + j }
    /// Strata of indirect standardisation: age band (5) x sex (male, female, other) x IMD
    /// quintile (5 and unknown).
    public static let strataCount = 90

    /// Sums per slot of `values`: each indicator, then the square of each mean indicator.
    public var width: Int
    /// People by slot and age cell: `[slot * AgeCell.count + cell]`.
    public var people: [Double]
    /// Sums by slot, age cell and value: `[(slot * AgeCell.count + cell) * width + value]`.
    public var sums: [Double]
    public var stratumPeople: [Double]
    /// `[stratum * width + value]`.
    public var stratumSums: [Double]
    /// People with an earlier emergency admission risk, how many of them were admitted, and
    /// the sum of their risks (what the risk model expected).
    public var riskPeople = 0.0, riskObserved = 0.0, riskExpected = 0.0
    /// The areas (LSOAs) the people live in, with their people and sums of `values`
    /// (`[position * width + value]`): gradients across groups of areas take their intervals
    /// from how much the areas of a group differ, not from people alone.
    public var areas: [Int32] = []
    public var areaPeople: [Double] = []
    public var areaSums: [Double] = []
    /// Each area index's position in `areas`, -1 where absent: dense, since this is looked up
    /// once per person (area indices run from 0 to the number of areas).
    private var areaPosition: [Int32] = []

    /// Where an area's sums are kept, added when new.
    private mutating func position(of area: Int32) -> Int {
        let a = Int(area)
        if a >= areaPosition.count { areaPosition.append(contentsOf: repeatElement(-1, count: a + 1 - areaPosition.count)) }
        if areaPosition[a] >= 0 { return Int(areaPosition[a]) }
        areaPosition[a] = Int32(areas.count)
        areas.append(area)
        areaPeople.append(0)
        areaSums.append(contentsOf: repeatElement(0, count: width))
        return areas.count - 1
    }

    init(width: Int, areaIndicators: Int, factors: Int) {
        self.width = width
        slotCount = Totals.factorSlot(factors, areaIndicators: areaIndicators)
        people = [Double](repeating: 0, count: slotCount * AgeCell.count)
        sums = [Double](repeating: 0, count: slotCount * AgeCell.count * width)
        stratumPeople = [Double](repeating: 0, count: Totals.strataCount)
        stratumSums = [Double](repeating: 0, count: Totals.strataCount * width)
    }

    /// Where each indicator's sum of squares is kept among the sums: after the indicators, one
    /// for each mean indicator (whose variance is needed); nil for the others.
    public static func squareSlots(_ indicators: [Indicator]) -> [Int?] {
        var next = indicators.count
        return indicators.map { indicator in
            guard indicator.kind == .mean else { return nil }
            defer { next += 1 }
            return next
        }
    }

    /// Sums the indicator values of `people` (one practice's registered people).
    ///
    /// - Parameter factors: the conditions (library indices) each given a slot of their own.
    init(
        people: [Int], indicators: [Indicator], facts: PersonFacts, areaQuintiles: AreaQuintiles, factors: [Int],
        caps: [ClosedRange<Double>?]
    ) {
        let squares = Totals.squareSlots(indicators).enumerated().compactMap { i, slot in slot.map { (i, $0) } }
        let areaIndicators = areaQuintiles.names.count
        self.init(width: indicators.count + squares.count, areaIndicators: areaIndicators, factors: factors.count)
        let population = facts.population
        var values = [Double](repeating: 0, count: width)
        let emergency = indicators.firstIndex {
            if case .anyEmergencyAdmission = $0.source { true } else { false }
        }
        for p in people {
            for (i, indicator) in indicators.enumerated() {
                let value = indicator.value(p, facts)
                values[i] = caps[i]?.clamp(value) ?? value
            }
            for (i, slot) in squares { values[slot] = values[i] * values[i] }
            let area = Int(population.area[p])
            let decile = area >= 0 ? Int(population.areas.imdDecile[area]) : 0
            let cell = AgeCell.of(age: Int(population.age[p]))
            let band = AgeCell.ageBand(cell)
            let sex = population.sex[p]
            // One slot in each of the four dimensions (no array per person).
            func add(_ slot: Int) {
                let at = slot * AgeCell.count + cell
                self.people[at] += 1
                let base = at * width
                for v in 0..<width where values[v] != 0 { sums[base + v] += values[v] }
            }
            add(decile >= 1 && decile <= 10 ? decile - 1 : 10)
            add(Totals.ethnicBase + Int(population.ethnicGroup[p].rawValue))
            add(Totals.sexBase + Int(sex.rawValue))
            add(Totals.ageBase + Int(band.rawValue))
            for k in areaQuintiles.quintile.indices {
                let q = area >= 0 ? Int(areaQuintiles.quintile[k][area]) : 0
                add(Totals.areaSlot(k) + (q == 0 ? 5 : q - 1))
            }
            for (j, c) in factors.enumerated() where facts.conditions.has(p, c) {
                add(Totals.factorSlot(j, areaIndicators: areaIndicators))
            }
            if area >= 0 {
                let k = position(of: Int32(area))
                areaPeople[k] += 1
                for v in 0..<width where values[v] != 0 { areaSums[k * width + v] += values[v] }
            }
            let quintile = decile >= 1 && decile <= 10 ? (decile - 1) / 2 : 5
            let stratum = (Int(band.rawValue) * 3 + (sex == .male ? 0 : sex == .female ? 1 : 2)) * 6 + quintile
            stratumPeople[stratum] += 1
            for v in 0..<width where values[v] != 0 { stratumSums[stratum * width + v] += values[v] }
            if let emergency, let risk = facts.previousRisk?[p], !risk.isNaN {
                riskPeople += 1
                riskObserved += values[emergency]
                riskExpected += Double(risk)
            }
        }
    }

    mutating func add(_ other: Totals) {
        for i in people.indices { people[i] += other.people[i] }
        for i in sums.indices { sums[i] += other.sums[i] }
        for i in stratumPeople.indices { stratumPeople[i] += other.stratumPeople[i] }
        for i in stratumSums.indices { stratumSums[i] += other.stratumSums[i] }
        riskPeople += other.riskPeople
        riskObserved += other.riskObserved
        riskExpected += other.riskExpected
        for (j, area) in other.areas.enumerated() {
            let k = position(of: area)
            areaPeople[k] += other.areaPeople[j]
            for v in 0..<width { areaSums[k * width + v] += other.areaSums[j * width + v] }
        }
    }

    /// Totals for every unit, from per-practice totals computed in parallel; with `caps`, each
    /// person's value of an indicator is held within its range first (planning's means).
    public static func forUnits(
        _ units: [PlanningUnit], indicators: [Indicator], facts: PersonFacts, areaQuintiles: AreaQuintiles,
        factors: [Int] = [], caps: [ClosedRange<Double>?]? = nil
    ) -> [Totals] {
        let caps = caps ?? indicators.map { _ in nil }
        let practiceCount = facts.population.hierarchy.practices.count
        let byPractice = PlanningUnit.peopleByPractice(units, population: facts.population)
        let practices = Parallel.map(practiceCount) {
            Totals(
                people: byPractice[$0], indicators: indicators, facts: facts, areaQuintiles: areaQuintiles, factors: factors,
                caps: caps)
        }
        let width = Totals.squareSlots(indicators).compactMap { $0 }.count + indicators.count
        return Parallel.map(units.count) { u in
            var total = Totals(width: width, areaIndicators: areaQuintiles.names.count, factors: factors.count)
            for q in units[u].practices { total.add(practices[q]) }
            return total
        }
    }
}
