import Analysis
import Conditions
import Foundation
import Outputs
import PHMCore

/// Writes the planning analyses for every unit at every level: segment profiles, inequalities,
/// variation (funnel data) and SPC series, with small-number suppression when asked.
struct PlanningWriter {
    var units: [PlanningUnit]
    var facts: PersonFacts
    var indicators: [Indicator]
    var suppress: Bool
    /// Each area indicator's quintiles, weighted by the people the outputs count.
    let areaQuintiles: AreaQuintiles
    let breakdowns: [Inequalities.Breakdown]

    /// The unit's columns, made once per unit.
    private let columns: [UnitColumns]

    /// The conditions that are breakdowns of their own (`Inequalities.factors`).
    let factors: [Int]

    /// The range each averaged measure's values are held within under suppression, and whose
    /// width a mean is rounded by (`Spread`): indexed like `indicators` (nil for a counted one),
    /// and for segment profiles.
    let indicatorCaps: [ClosedRange<Double>?]
    let segmentCaps: SegmentProfile.Caps

    init(units: [PlanningUnit], facts: PersonFacts, indicators: [Indicator], factors: [(index: Int, id: String)], suppress: Bool)
    {
        self.units = units
        self.facts = facts
        self.indicators = indicators
        self.suppress = suppress
        columns = units.map { $0.columns(units) }
        areaQuintiles = AreaQuintiles(
            population: facts.population, people: units.filter { $0.level == .organisation }.flatMap(\.people))
        self.factors = factors.map(\.index)
        breakdowns = Inequalities.breakdowns(areaQuintiles, factors: factors.map(\.id))
        let everyone = units.filter { $0.parent == nil }.flatMap(\.people)
        indicatorCaps = indicators.map { indicator in
            indicator.kind == .mean ? Spread.range(everyone) { indicator.value($0, facts) } : nil
        }
        segmentCaps = SegmentProfile.Caps(
            age: Spread.range(everyone) { Double(facts.population.age[$0]) }, cost: Spread.range(everyone, facts.use.totalCost),
            emergencyCost: Spread.range(everyone) { facts.use.emergencyCost[$0] })
    }

    /// The width of indicator `i`'s range (0 for a counted one).
    func spread(_ i: Int) -> Double { indicatorCaps[i]?.width ?? 0 }

    /// Whether a count behind a percentage or rate is itself small enough to hide.
    private func small(_ n: Double) -> Bool { suppress && n >= 1 && n <= Double(Suppression.largestSuppressed) }

    /// Writes `segment-profiles.csv`, `inequalities.csv`, `variation.csv` and `spc.csv`.
    static func writeAll(
        units: [PlanningUnit], facts: PersonFacts, library: ConditionLibrary, segments: SegmentAssignments, risk: [Float]?,
        suppress: Bool, to folder: URL
    ) throws {
        // The settings of care_contacts.csv the people counted have contacts in.
        let counted = units.filter { $0.level == .organisation }.flatMap(\.people)
        let settings = facts.use.careContacts.indices.filter { k in counted.contains { facts.use.careContacts[k][$0] > 0 } }
        let indicators = Indicator.standard(library: library, hasRisk: facts.highRisk != nil, careSettings: settings)
        let factors = Inequalities.factors(library).map { (index: $0, id: library.conditions[$0].id) }
        let writer = PlanningWriter(units: units, facts: facts, indicators: indicators, factors: factors, suppress: suppress)
        try Published.segmentProfiles.write(writer.segmentProfiles(segments, risk: risk), to: folder)
        let totals = Totals.forUnits(
            units, indicators: indicators, facts: facts, areaQuintiles: writer.areaQuintiles, factors: writer.factors,
            caps: suppress ? writer.indicatorCaps : nil)
        let cells = writer.inequalityCells(totals)
        try Published.inequalities.write(writer.inequalities(totals, cells), to: folder)
        try Published.variation.write(writer.variation(totals, cells), to: folder)
        try Published.spc.write(writer.spc(), to: folder)
        try Published.areaQuintiles.write(writer.areaQuintileRows(), to: folder)
    }

    /// Each area indicator's quintiles: the values they run between and how many areas each has.
    func areaQuintileRows() -> [AreaQuintileRow] {
        areaQuintiles.names.indices.flatMap { k in
            (1...5).map { q in
                let range = areaQuintiles.ranges[k][q - 1]
                return AreaQuintileRow(
                    indicator: areaQuintiles.names[k], quintile: q, lowest: Fixed(range.map { Double($0.lowerBound) }, places: 3),
                    highest: Fixed(range.map { Double($0.upperBound) }, places: 3),
                    areas: areaQuintiles.quintile[k].filter { $0 == UInt8(q) }.count)
            }
        }
    }

    // MARK: Segment profiles

    func segmentProfiles(_ assignments: SegmentAssignments, risk: [Float]?) -> [UnitRow<SegmentProfileRow>] {
        let profiles = SegmentProfile.forUnits(
            units, assignments: assignments, facts: facts, risk: risk, caps: suppress ? segmentCaps : nil)
        var table = Suppression(enabled: suppress)
        // Cells: each unit's people, then each segment's people.
        let unitCell = units.indices.map { table.add(units[$0].people.count) }
        let segmentCell = profiles.map { unit in unit.map { s in s.map { table.add(Int($0.people)) } } }
        for u in units.indices {
            for s in assignments.segmentations.indices { table.relate(total: unitCell[u], parts: segmentCell[u][s]) }
        }
        table.relateToParents(units) { unitCell[$0] }
        for (s, segmentation) in assignments.segmentations.enumerated() {
            for k in segmentation.segments.indices { table.relateToParents(units) { segmentCell[$0][s][k] } }
        }
        table.protect()

        var rows: [UnitRow<SegmentProfileRow>] = []
        for u in units.indices {
            let unitPeople = table.published(unitCell[u])
            for (s, segmentation) in assignments.segmentations.enumerated() {
                // Each segment's share of the unit's cost, of totals as published (people times mean).
                let unitCost = profiles[u][s].reduce(0) { $0 + $1.totalCost }
                let unitTotal = table.mean(
                    unitCost / Double(max(1, units[u].people.count)), people: unitPeople, spread: segmentCaps.cost.width
                )
                .flatMap { mean in unitPeople.map { mean * Double($0) } }
                for (k, segment) in segmentation.segments.enumerated() {
                    let p = profiles[u][s][k]
                    var row = SegmentProfileRow(
                        segmentation: segmentation.id, segment: segment.id, segmentName: segment.name,
                        people: table.published(segmentCell[u][s][k]))
                    if let people = row.people, p.people > 0 {
                        let n = p.people
                        // Counts of people and of events over the published people; means rounded.
                        func share(_ x: Double, of whole: Int? = people, times m: Double = 100) -> Fixed? {
                            Fixed(table.share(table.count(Int(x.rounded())), of: whole, times: m), places: 1)
                        }
                        row.pctPopulation = Fixed(table.share(people, of: unitPeople, times: 100), places: 2)
                        row.pctFemale = share(p.female)
                        row.meanAge = Fixed(table.mean(p.ageSum / n, people: people, spread: segmentCaps.age.width), places: 1)
                        row.pctAged65Plus = share(p.aged65Plus)
                        row.pctCore20 = share(p.core20)
                        row.aeAttendancesPer1000 = share(p.aeAttendances, times: 1_000)
                        row.emergencyAdmissionsPer1000 = share(p.emergencyAdmissions, times: 1_000)
                        row.electiveAdmissionsPer1000 = share(p.electiveAdmissions, times: 1_000)
                        row.outpatientAttendancesPer1000 = share(p.outpatientAttendances, times: 1_000)
                        let meanCost = table.mean(p.totalCost / n, people: people, spread: segmentCaps.cost.width)
                        row.meanCostGbp = Fixed(meanCost, places: 2)
                        if !table.enabled {
                            row.pctCost = Fixed(unitCost > 0 ? 100 * p.totalCost / unitCost : nil, places: 2)
                        } else if let meanCost, let unitTotal, unitTotal > 0 {
                            row.pctCost = Fixed(100 * meanCost * Double(people) / unitTotal, places: 2)
                        }
                        row.meanEmergencyCostGbp = Fixed(
                            table.mean(p.emergencyCost / n, people: people, spread: segmentCaps.emergencyCost.width), places: 2)
                        if p.scored > 0 {
                            row.meanRiskEmergencyAdmission = Fixed(
                                table.mean(
                                    p.riskSum / p.scored, people: p.scored == p.people ? people : table.count(Int(p.scored)),
                                    spread: Spread.risk),
                                places: 4)
                            row.pctHighRisk = Fixed(
                                table.share(table.count(Int(p.highRisk)), of: table.count(Int(p.scored)), times: 100), places: 2)
                        }
                    }
                    rows.append(UnitRow(columns[u], row))
                }
            }
        }
        return rows
    }

    // MARK: Inequalities and variation

    /// The suppression cells of the inequality table: people per unit and group, and the
    /// numerator per unit, indicator and group for counted indicators.
    struct InequalityCells {
        var table: Suppression
        /// `[unit][breakdown][group]`.
        var people: [[[Int]]]
        /// `[unit][indicator][breakdown][group]`, nil for mean indicators.
        var numerators: [[[[Int]]?]]
        var cells: [[[[Inequalities.Cell]]]]
        /// Units whose totals would give a hidden unit's by subtraction (the hidden, their
        /// parents and siblings): their means are not published under suppression.
        var family: Set<Int>

        /// How much a value computed from a unit's exact numerator and people (a rate, share or
        /// its interval) must be scaled to be the same value of the published numerator and
        /// people: (published / exact numerator) x (exact / published people). So no published
        /// value is more exact than its counts (times the exact people, an exact rate gives back
        /// the exact numerator). 1 without suppression, or for means; nil when a count is hidden.
        func scale(_ u: Int, _ i: Int, _ b: Int = 0, _ g: Int = 0) -> Double? {
            let peopleCell = people[u][b][g]
            guard let shownPeople = table.published(peopleCell) else { return nil }
            guard table.enabled, let numeratorCell = numerators[u][i]?[b][g] else { return 1 }
            guard let shown = table.published(numeratorCell), shownPeople > 0 else { return nil }
            let exact = table.counts[numeratorCell]
            guard exact > 0 else { return 1 }
            return Double(shown) / Double(exact) * Double(table.counts[peopleCell]) / Double(shownPeople)
        }
    }

    func inequalityCells(_ totals: [Totals]) -> InequalityCells {
        let squares = Totals.squareSlots(indicators)
        let cells = Parallel.map(units.count) { u in
            let standards = breakdowns.map { b in
                b.firstGroupsBands ? Inequalities.standard(totals[u], of: b.groups[0]) : Statistics.europeanStandardPopulation2013
            }
            return indicators.indices.map { i in
                breakdowns.indices.map { b in
                    breakdowns[b].groups.map { g in
                        Inequalities.cell(
                            totals[u], indicator: i, kind: indicators[i].kind, square: squares[i], slots: g.slots,
                            excluded: g.excluded, standardise: breakdowns[b].standardise, standard: standards[b],
                            mergeBandsUnder: suppress ? Double(Suppression.largestSuppressed + 1) : 0)
                    }
                }
            }
        }
        var table = Suppression(enabled: suppress)
        func add(_ count: Double, _ group: Inequalities.Group) -> Int {
            group.countsWithheld ? table.addWithheld(Int(count.rounded())) : table.add(Int(count.rounded()))
        }
        let people = units.indices.map { u in
            breakdowns.indices.map { b in
                breakdowns[b].groups.indices.map { g in add(cells[u][0][b][g].people, breakdowns[b].groups[g]) }
            }
        }
        let numerators = units.indices.map { u in
            indicators.indices.map { i -> [[Int]]? in
                guard indicators[i].kind != .mean else { return nil }
                return breakdowns.indices.map { b in
                    breakdowns[b].groups.indices.map { g in add(cells[u][i][b][g].numerator, breakdowns[b].groups[g]) }
                }
            }
        }
        // Additive relations: the groups of each breakdown add up to the unit (unless a group's
        // counts are withheld); quintiles and Core20 are sums of deciles; each unit's groups add
        // up to its parent's.
        let partitions = breakdowns.indices.dropFirst().filter { b in !breakdowns[b].groups.contains { $0.countsWithheld } }
        func relateWithin(_ c: [[Int]]) {
            for b in partitions { table.relate(total: c[0][0], parts: c[b]) }
            let deciles = c[1], quintiles = c[2], core20 = c[3]
            for q in 0..<5 { table.relate(total: quintiles[q], parts: [deciles[2 * q], deciles[2 * q + 1]]) }
            table.relate(total: core20[0], parts: [deciles[0], deciles[1]])
            table.relate(total: core20[1], parts: Array(deciles[2...10]))
        }
        let factorBreakdowns = breakdowns.indices.filter { breakdowns[$0].firstGroupsBands }
        for u in units.indices {
            relateWithin(people[u])
            for i in indicators.indices { if let n = numerators[u][i] { relateWithin(n) } }
            // A share within a factor's recorded people that is all of them (the factor itself,
            // or a factor containing it such as any social need), or all of the people with the
            // condition (a factor inside it): equal counts, hidden together. Through the factor's
            // own share, its recorded people and its prevalence numerator are one count.
            for b in factorBreakdowns {
                let recorded = people[u][b][0]
                for i in indicators.indices where indicators[i].kind == .proportion {
                    guard let n = numerators[u][i], table.counts[n[b][0]] > 0 else { continue }
                    if table.counts[n[b][0]] == table.counts[recorded] { table.relate(total: recorded, parts: [n[b][0]]) }
                    if table.counts[n[b][0]] == table.counts[n[0][0]] { table.relate(total: n[0][0], parts: [n[b][0]]) }
                }
            }
        }
        for b in breakdowns.indices {
            for g in breakdowns[b].groups.indices where !breakdowns[b].groups[g].countsWithheld {
                table.relateToParents(units) { people[$0][b][g] }
                for i in indicators.indices where indicators[i].kind != .mean {
                    table.relateToParents(units) { numerators[$0][i]?[b][g] }
                }
            }
        }
        table.protect()
        var family = Set<Int>()
        for u in units.indices where table.published(people[u][0][0]) == nil {
            family.insert(u)
            if let parent = units[u].parent {
                family.insert(parent)
                for v in units.indices where units[v].parent == parent { family.insert(v) }
            }
        }
        return InequalityCells(table: table, people: people, numerators: numerators, cells: cells, family: family)
    }

    func inequalities(_ totals: [Totals], _ c: InequalityCells) -> [UnitRow<InequalityRow>] {
        let squares = Totals.squareSlots(indicators)
        // The slope and relative indices across deprivation deciles, then across each area
        // indicator's quintiles: `[unit][indicator][gradient]`.
        let across =
            [("imd_decile", Inequalities.imdDeciles(facts.population.areas))]
            + areaQuintiles.names.indices.map { (areaQuintiles.breakdown($0), Inequalities.areaQuintiles(areaQuintiles, $0)) }
        let breakdownIndex = across.map { a in breakdowns.firstIndex { $0.id == a.0 }! }
        let gradients = Parallel.map(units.count) { u in
            indicators.indices.map { i in
                across.indices.map { g in
                    // Under suppression, from the groups' published counts.
                    let b = breakdownIndex[g]
                    let published =
                        suppress
                        ? across[g].1.slots.indices.map { k -> Inequalities.PublishedCounts in
                            let people = c.table.published(c.people[u][b][k])
                            return (
                                people, c.numerators[u][i].flatMap { c.table.published($0[b][k]) },
                                c.family.contains(u)
                                    ? nil
                                    : c.cells[u][i][b][k].crude.flatMap { c.table.mean($0, people: people, spread: spread(i)) }
                            )
                        } : nil
                    return Inequalities.gradient(
                        totals[u], indicator: i, kind: indicators[i].kind, square: squares[i], across: across[g].1,
                        seed: UInt64(g) << 32 | UInt64(i + 1), published: published)
                }
            }
        }
        var rows: [UnitRow<InequalityRow>] = []
        rows.reserveCapacity(units.count * indicators.count * 40)
        for u in units.indices {
            for (i, indicator) in indicators.enumerated() {
                for (b, breakdown) in breakdowns.enumerated() {
                    // Groups standardised over the first group's age bands show those values only
                    // where the first group's counts are published: over a hidden group's few
                    // bands, either group's value would give its counts back.
                    // Nor is the rest's shown alone, where the first group has too few events.
                    let firstShown =
                        !breakdown.firstGroupsBands
                        || (c.cells[u][i][b][0].standardised != nil
                            && (!suppress
                                || (c.table.published(c.people[u][b][0]) != nil
                                    && c.numerators[u][i].map { c.table.published($0[b][0]) != nil } ?? true)))
                    for (g, group) in breakdown.groups.enumerated() {
                        let cell = c.cells[u][i][b][g]
                        guard cell.people > 0 || b == 0 else { continue }
                        var row = InequalityRow(
                            indicator: indicator.id, kind: indicator.kind.rawValue, measure: indicator.kind.unit,
                            breakdown: breakdown.id, group: group.label)
                        let people = c.table.published(c.people[u][b][g])
                        row.people = people
                        let numerator = c.numerators[u][i].map { c.table.published($0[b][g]) }
                        row.numerator = numerator ?? nil
                        let visible =
                            people != nil && numerator != .some(nil)
                            && !(suppress && indicator.kind == .mean && c.family.contains(u))
                        // Under suppression a counted indicator's value and interval are those of
                        // the published counts, and the age-standardised interval (whose shape
                        // gives the exact count back) is left out.
                        var crude = visible ? cell.crude : nil
                        if visible, suppress, indicator.kind != .mean, case .some(.some(let x)) = numerator, let people,
                            people > 0
                        {
                            crude = Inequalities.counted(indicator.kind, Double(x), of: Double(people))
                        }
                        // A mean's value and interval, rounded by its spread over the published people.
                        if visible, suppress, indicator.kind == .mean {
                            crude = cell.crude.flatMap { c.table.mean($0, people: people, spread: spread(i)) }
                        }
                        row.value = Fixed(crude?.value, places: 3)
                        row.lower95 = Fixed(crude?.lower, places: 3)
                        row.upper95 = Fixed(crude?.upper, places: 3)
                        let standardised = (visible || group.countsWithheld) && firstShown ? cell.standardised : nil
                        let exactOnly = suppress
                        row.ageStandardised = Fixed(standardised?.value, places: 3)
                        if exactOnly, let s = standardised {
                            // From the published counts (for a group whose counts are withheld,
                            // the unit's less the first group's), times the rounded ratio.
                            func published(_ x: Int?, _ n: Int?) -> Double? {
                                guard let x, let n, n > 0, x >= 0, indicator.kind != .proportion || x <= n else { return nil }
                                return Inequalities.counted(indicator.kind, Double(x), of: Double(n)).value
                            }
                            /// A unit's or group's mean as published.
                            func mean(_ b: Int, _ g: Int) -> (people: Int, mean: Double)? {
                                let people = c.table.published(c.people[u][b][g])
                                return c.cells[u][i][b][g].crude.flatMap {
                                    c.table.mean($0.value, people: people, spread: spread(i))
                                }.flatMap { m in people.map { ($0, m) } }
                            }
                            let base =
                                indicator.kind == .mean
                                ? (c.family.contains(u)
                                    ? nil
                                    : group.countsWithheld
                                        // The rest's: the unit's published total less the first group's, over the people left.
                                        ? mean(0, 0).flatMap { unit in
                                            mean(b, 0).flatMap { first in
                                                unit.people > first.people
                                                    ? max(0, unit.mean * Double(unit.people) - first.mean * Double(first.people))
                                                        / Double(unit.people - first.people) : nil
                                            }
                                        } : crude?.value)
                                : group.countsWithheld
                                    ? published(
                                        c.numerators[u][i].flatMap { t in
                                            c.table.published(t[0][0]).flatMap { a in c.table.published(t[b][0]).map { a - $0 } }
                                        },
                                        c.table.published(c.people[u][0][0]).flatMap { a in
                                            c.table.published(c.people[u][b][0]).map { a - $0 }
                                        })
                                    : published(numerator ?? nil, people)
                            row.ageStandardised = Fixed(
                                base.flatMap { p in
                                    cell.crude.flatMap { Suppression.standardised(s.value, crude: $0.value, publishedCrude: p) }
                                }, places: 3)
                        }
                        row.ageStandardisedLower95 = Fixed(exactOnly ? nil : standardised?.lower, places: 3)
                        row.ageStandardisedUpper95 = Fixed(exactOnly ? nil : standardised?.upper, places: 3)
                        let parent = units[u].parent.flatMap { p -> Double? in
                            guard suppress else { return c.scale(p, i, b, g).flatMap { _ in c.cells[p][i][b][g].crude?.value } }
                            if indicator.kind == .mean {
                                guard !c.family.contains(p) else { return nil }
                                return c.cells[p][i][b][g].crude.flatMap {
                                    c.table.mean(
                                        $0.value, people: c.table.published(c.people[p][b][g]), spread: spread(i))
                                }
                            }
                            guard let x = c.numerators[p][i].flatMap({ c.table.published($0[b][g]) }),
                                let n = c.table.published(c.people[p][b][g]), n > 0
                            else { return nil }
                            return Inequalities.counted(indicator.kind, Double(x), of: Double(n)).value
                        }
                        row.parentValue = Fixed(parent, places: 3)
                        rows.append(UnitRow(columns[u], row))
                    }
                }
                for (g, gradient) in gradients[u][i].enumerated() {
                    guard let gradient else { continue }
                    for (label, e) in [("sii", Optional(gradient.sii)), ("rii", gradient.rii)] {
                        guard let e else { continue }
                        var row = InequalityRow(
                            indicator: indicator.id, kind: indicator.kind.rawValue,
                            measure: label == "sii" ? indicator.kind.unit : "ratio",
                            breakdown: InequalityRow.gradient(of: across[g].0), group: label)
                        row.value = Fixed(e.value, places: 4)
                        row.lower95 = Fixed(e.lower, places: 4)
                        row.upper95 = Fixed(e.upper, places: 4)
                        rows.append(UnitRow(columns[u], row))
                    }
                }
            }
        }
        return rows
    }

    /// Writes `variation.csv`. Under suppression every figure is derived from published counts
    /// only, so no combination of columns gives back more than the counts themselves: the crude
    /// values and ratios use the published (rounded) observed count and people, and a row whose
    /// count is hidden shows no expected value, ratio, limits or crude value. Mean indicators (a
    /// total spread over people) are hidden for a unit whose people are hidden, and for its parent
    /// and siblings, whose totals would otherwise give the hidden unit's by subtraction.
    func variation(_ totals: [Totals], _ c: InequalityCells) -> [UnitRow<VariationRow>] {
        var rows: [UnitRow<VariationRow>] = []
        // Units whose totals would give away a hidden unit's: the hidden, their parents and siblings.
        let family = c.family
        /// A unit's crude value of its published counts; hidden for a mean indicator of the
        /// hidden unit's family.
        func publishedCrude(_ u: Int, _ i: Int, exact: Double) -> Double? {
            guard c.numerators[u][i] == nil && suppress else { return c.scale(u, i).map { exact * $0 } }
            if family.contains(u) { return nil }
            return c.table.mean(exact, people: c.table.published(c.people[u][0][0]), spread: spread(i))
        }
        for row in Variation.rows(units: units, totals: totals, indicators: indicators) {
            let u = row.unit, indicator = indicators[row.indicator]
            var out = VariationRow(indicator: indicator.id, kind: indicator.kind.rawValue, method: row.method.rawValue)
            // Counts follow the suppression of the same counts in the inequality table. The
            // risk-model rows count a subset of people: hidden with the unit's counts, and when small.
            let counted = indicator.kind != .mean
            var people = c.table.published(c.people[u][0][0])
            var observed = counted ? c.numerators[u][row.indicator].flatMap { c.table.published($0[0][0]) } : nil
            var visible = people != nil && (counted ? observed != nil : !(suppress && family.contains(u)))
            if row.method == .riskModel {
                func own(_ n: Double) -> Int? {
                    visible && !small(n) ? (suppress ? Suppression.rounded(Int(n.rounded())) : Int(n.rounded())) : nil
                }
                people = own(row.people)
                observed = own(row.observed)
                visible = observed != nil
            }
            out.people = people
            let crude = publishedCrude(u, row.indicator, exact: row.crude)
            if counted {
                out.observed = Fixed(observed.map(Double.init), places: 0)
            } else {
                // A total is the published mean times the published people: the exact total over
                // the mean would give the exact people.
                let total = suppress ? people.flatMap { n in crude.map { Double(n) * $0 } } : row.observed
                out.observed = Fixed(visible ? total : nil, places: 2)
            }
            // A mean row's expected total, like its total, is per published person.
            let expected = !counted && suppress ? people.map { row.expected * Double($0) / max(1, row.people) } : row.expected
            out.expected = Fixed(visible ? expected : nil, places: 2)
            // The ratio of the published count to the expected one: no more exact than the count.
            var ratio: Statistics.Estimate? = visible ? row.ratio : nil
            if visible, counted, suppress, let observed {
                ratio = Statistics.indirectlyStandardisedRatio(observed: Double(observed), expected: row.expected)
            }
            // A mean's: the published mean over the expected one, its interval's half-width rounded
            // up to two significant figures.
            if visible, !counted, suppress, let exact = ratio {
                ratio = crude.flatMap { mean in
                    guard row.expected > 0, row.people > 0 else { return nil }
                    let value = mean / (row.expected / row.people)
                    let half = NiceNumber.significant(exact.upper - exact.value, .up)
                    return .init(value: value, lower: value - half, upper: value + half)
                }
            }
            out.ratio = Fixed(ratio?.value, places: 4)
            out.ratioLower95 = Fixed(ratio?.lower, places: 4)
            out.ratioUpper95 = Fixed(ratio?.upper, places: 4)
            out.crudeValue = Fixed(visible ? crude : nil, places: 3)
            out.parentCrudeValue = Fixed(
                units[u].parent.flatMap { p in row.parentCrude.flatMap { publishedCrude(p, row.indicator, exact: $0) } },
                places: 3)
            // The limits follow from the expected value, so are hidden with it. A mean's limits
            // also follow from its people's spread of values: their distance from 1 is rounded up
            // to two significant figures, as the ratio's interval is.
            var limits = row.limits
            if suppress && !counted {
                func outward(_ limit: Double) -> Double {
                    limit < 1 ? 1 - NiceNumber.significant(1 - limit, .up) : 1 + NiceNumber.significant(limit - 1, .up)
                }
                (limits.lower95, limits.upper95) = (outward(limits.lower95), outward(limits.upper95))
                (limits.lower998, limits.upper998) = (outward(limits.lower998), outward(limits.upper998))
            }
            out.funnelLower95 = Fixed(visible ? limits.lower95 : nil, places: 4)
            out.funnelUpper95 = Fixed(visible ? limits.upper95 : nil, places: 4)
            out.funnelLower998 = Fixed(visible ? limits.lower998 : nil, places: 4)
            out.funnelUpper998 = Fixed(visible ? limits.upper998 : nil, places: 4)
            // The flag of the published ratio against the limits (the exact one would say more).
            if visible, let ratio {
                if !suppress {
                    out.outlier = row.flag.rawValue
                } else if ratio.value > limits.upper998 {
                    out.outlier = "high"
                } else if ratio.value < limits.lower998 {
                    out.outlier = "low"
                } else {
                    out.outlier = "none"
                }
            }
            out.phi = Fixed(row.phi, places: 3)
            out.tau2 = Fixed(row.tau2, places: 6)
            rows.append(UnitRow(columns[u], out))
        }
        return rows
    }

    // MARK: SPC

    func spc() -> [UnitRow<SPCRow>] {
        let series = MonthlySeries(population: facts.population, units: units)
        let measures = MonthlySeries.Measure.allCases
        let months = series.months.count
        var table = Suppression(enabled: suppress)
        let cells = units.indices.map { u in
            measures.map { m in series.series(unit: u, m).map { table.add(Int($0)) } }
        }
        for m in measures.indices {
            for t in 0..<months { table.relateToParents(units) { cells[$0][m][t] } }
        }
        table.protect()
        var rows: [UnitRow<SPCRow>] = []
        for u in units.indices {
            for (m, measure) in measures.enumerated() {
                // The chart of the values as published, so its centre line, limits and rules say
                // no more than they do; none where a month is hidden.
                let values = cells[u][m].map { table.published($0) }
                let shown = values.compactMap { $0 }
                let chart = shown.count == values.count ? ControlChart(shown.map(Double.init)) : nil
                for t in values.indices {
                    let month = series.months[t].civil
                    var row = SPCRow(
                        measure: measure.rawValue, improvement: measure.improvement,
                        month: String(format: "%04d-%02d", month.year, month.month), value: values[t],
                        trialLimits: chart?.trialLimits ?? false)
                    guard let chart else {
                        rows.append(UnitRow(columns[u], row))
                        continue
                    }
                    let point = chart.points[t]
                    row.mean = Fixed(chart.mean, places: 2)
                    row.lowerLimit = Fixed(chart.lowerLimit, places: 2)
                    row.upperLimit = Fixed(chart.upperLimit, places: 2)
                    if row.value != nil {
                        row.beyondLimits = point.beyondLimits
                        row.shift = point.shift
                        row.trend = point.trend
                        row.twoOfThree = point.twoOfThree
                        row.specialCause = point.specialCause
                        row.side = point.side == .none ? nil : point.side.rawValue
                    }
                    rows.append(UnitRow(columns[u], row))
                }
            }
        }
        return rows
    }
}
