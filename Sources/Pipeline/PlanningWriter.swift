import Analysis
import Conditions
import Foundation
import PHMCore

/// Writes the planning analyses for every unit at every level: segment profiles, inequalities,
/// variation (funnel data) and SPC series, with small-number suppression when asked.
struct PlanningWriter {
    var units: [PlanningUnit]
    var facts: PersonFacts
    var indicators: [Indicator]
    var suppress: Bool

    private func prefix(_ rows: inout CSVRows, _ u: Int) {
        rows.field(units[u].level.rawValue)
        rows.field(units[u].code)
        rows.field(units[u].name)
        rows.field(units[u].parent.map { units[$0].code } ?? "")
    }

    private static func optional(_ rows: inout CSVRows, _ value: Double?, decimals: Int) {
        if let value, value.isFinite { rows.field(value, decimals: decimals) } else { rows.empty() }
    }

    private static func count(_ rows: inout CSVRows, _ value: Int?) {
        if let value { rows.field(value) } else { rows.empty() }
    }

    /// Whether a count behind a percentage or rate is itself small enough to hide.
    private func small(_ n: Double) -> Bool { suppress && n >= 1 && n <= Double(Suppression.largestSuppressed) }

    /// Writes `segment-profiles.csv`, `inequalities.csv`, `variation.csv` and `spc.csv`.
    static func writeAll(
        units: [PlanningUnit], facts: PersonFacts, library: ConditionLibrary, segments: SegmentAssignments, risk: [Float]?,
        suppress: Bool, to folder: URL
    ) throws {
        let indicators = Indicator.standard(library: library, hasRisk: facts.highRisk != nil)
        let writer = PlanningWriter(units: units, facts: facts, indicators: indicators, suppress: suppress)
        try writer.writeSegmentProfiles(segments, risk: risk, to: folder.appendingPathComponent("segment-profiles.csv"))
        let totals = Totals.forUnits(units, indicators: indicators, facts: facts)
        let cells = writer.inequalityCells(totals)
        try writer.writeInequalities(totals, cells, to: folder.appendingPathComponent("inequalities.csv"))
        try writer.writeVariation(totals, cells, to: folder.appendingPathComponent("variation.csv"))
        try writer.writeSPC(to: folder.appendingPathComponent("spc.csv"))
    }

    // MARK: Segment profiles

    func writeSegmentProfiles(_ assignments: SegmentAssignments, risk: [Float]?, to url: URL) throws {
        let profiles = SegmentProfile.forUnits(units, assignments: assignments, facts: facts, risk: risk)
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

        var rows = CSVRows()
        rows.raw(
            "level,unit_code,unit_name,parent_code,segmentation,segment,segment_name,people,pct_population,pct_female,mean_age,pct_aged_65_plus,pct_core20,ae_attendances_per_1000,emergency_admissions_per_1000,elective_admissions_per_1000,outpatient_attendances_per_1000,mean_total_cost_gbp,pct_total_cost,mean_emergency_cost_gbp,mean_risk_emergency_admission,pct_high_risk"
        )
        for u in units.indices {
            for (s, segmentation) in assignments.segmentations.enumerated() {
                let unitCost = profiles[u][s].reduce(0) { $0 + $1.totalCost }
                for (k, segment) in segmentation.segments.enumerated() {
                    let p = profiles[u][s][k]
                    prefix(&rows, u)
                    rows.field(segmentation.id)
                    rows.field(segment.id)
                    rows.field(segment.name)
                    let shown = table.published(segmentCell[u][s][k])
                    PlanningWriter.count(&rows, shown)
                    guard shown != nil, p.people > 0 else {
                        for _ in 0..<14 { rows.empty() }
                        rows.end()
                        continue
                    }
                    let n = p.people
                    func share(_ x: Double, of total: Double, _ scale: Double = 100) -> Double? {
                        small(x) || total == 0 ? nil : scale * x / total
                    }
                    PlanningWriter.optional(&rows, 100 * n / max(1, Double(table.counts[unitCell[u]])), decimals: 2)
                    PlanningWriter.optional(&rows, share(p.female, of: n), decimals: 1)
                    PlanningWriter.optional(&rows, p.ageSum / n, decimals: 1)
                    PlanningWriter.optional(&rows, share(p.aged65Plus, of: n), decimals: 1)
                    PlanningWriter.optional(&rows, share(p.core20, of: n), decimals: 1)
                    for events in [p.aeAttendances, p.emergencyAdmissions, p.electiveAdmissions, p.outpatientAttendances] {
                        PlanningWriter.optional(&rows, share(events, of: n, 1_000), decimals: 1)
                    }
                    rows.field(money: p.totalCost / n)
                    PlanningWriter.optional(&rows, unitCost > 0 ? 100 * p.totalCost / unitCost : nil, decimals: 2)
                    rows.field(money: p.emergencyCost / n)
                    PlanningWriter.optional(&rows, p.scored > 0 ? p.riskSum / p.scored : nil, decimals: 4)
                    PlanningWriter.optional(&rows, p.scored > 0 ? share(p.highRisk, of: p.scored) : nil, decimals: 2)
                    rows.end()
                }
            }
        }
        try Data(rows.bytes).write(to: url)
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
        let breakdowns = Inequalities.breakdowns
        let cells = Parallel.map(units.count) { u in
            indicators.indices.map { i in
                breakdowns.map { b in
                    b.groups.map { g in
                        Inequalities.cell(
                            totals[u], indicator: i, kind: indicators[i].kind, square: squares[i], slots: g.slots,
                            standardise: b.standardise)
                    }
                }
            }
        }
        var table = Suppression(enabled: suppress)
        let people = units.indices.map { u in
            breakdowns.indices.map { b in breakdowns[b].groups.indices.map { g in table.add(Int(cells[u][0][b][g].people)) } }
        }
        let numerators = units.indices.map { u in
            indicators.indices.map { i -> [[Int]]? in
                guard indicators[i].kind != .mean else { return nil }
                return breakdowns.indices.map { b in
                    breakdowns[b].groups.indices.map { g in table.add(Int(cells[u][i][b][g].numerator.rounded())) }
                }
            }
        }
        // Additive relations: the groups of each breakdown add up to the unit; quintiles and Core20
        // are sums of deciles; each unit's groups add up to its parent's.
        func relateWithin(_ c: [[Int]]) {
            for b in 1..<breakdowns.count { table.relate(total: c[0][0], parts: c[b]) }
            let deciles = c[1], quintiles = c[2], core20 = c[3]
            for q in 0..<5 { table.relate(total: quintiles[q], parts: [deciles[2 * q], deciles[2 * q + 1]]) }
            table.relate(total: core20[0], parts: [deciles[0], deciles[1]])
            table.relate(total: core20[1], parts: Array(deciles[2...10]))
        }
        for u in units.indices {
            relateWithin(people[u])
            for i in indicators.indices { if let n = numerators[u][i] { relateWithin(n) } }
        }
        for b in breakdowns.indices {
            for g in breakdowns[b].groups.indices {
                table.relateToParents(units) { people[$0][b][g] }
                for i in indicators.indices where indicators[i].kind != .mean {
                    table.relateToParents(units) { numerators[$0][i]?[b][g] }
                }
            }
        }
        table.protect()
        return InequalityCells(table: table, people: people, numerators: numerators, cells: cells)
    }

    func writeInequalities(_ totals: [Totals], _ c: InequalityCells, to url: URL) throws {
        let squares = Totals.squareSlots(indicators)
        let breakdowns = Inequalities.breakdowns
        let gradients = Parallel.map(units.count) { u in
            indicators.indices.map { i in
                Inequalities.gradient(totals[u], indicator: i, kind: indicators[i].kind, square: squares[i])
            }
        }
        var rows = CSVRows(capacity: 1 << 24)
        rows.raw(
            "level,unit_code,unit_name,parent_code,indicator,kind,measure,breakdown,group,people,numerator,value,lower_95,upper_95,age_standardised,age_standardised_lower_95,age_standardised_upper_95,parent_value"
        )
        for u in units.indices {
            for (i, indicator) in indicators.enumerated() {
                for (b, breakdown) in breakdowns.enumerated() {
                    for (g, group) in breakdown.groups.enumerated() {
                        let cell = c.cells[u][i][b][g]
                        guard cell.people > 0 || b == 0 else { continue }
                        prefix(&rows, u)
                        rows.field(indicator.id)
                        rows.field(indicator.kind.rawValue)
                        rows.field(indicator.kind.unit)
                        rows.field(breakdown.id)
                        rows.field(group.label)
                        let people = c.table.published(c.people[u][b][g])
                        PlanningWriter.count(&rows, people)
                        let numerator = c.numerators[u][i].map { c.table.published($0[b][g]) }
                        switch numerator {
                        case .some(let n): PlanningWriter.count(&rows, n)
                        case .none: rows.empty()
                        }
                        let visible = people != nil && numerator != .some(nil)
                        // Under suppression a counted indicator's value and interval are those of
                        // the published counts, and the age-standardised interval (whose shape
                        // gives the exact count back) is left out.
                        var crude = visible ? cell.crude : nil
                        if visible, suppress, indicator.kind != .mean, case .some(.some(let x)) = numerator, let people,
                            people > 0
                        {
                            crude = Inequalities.counted(indicator.kind, Double(x), of: Double(people))
                        }
                        PlanningWriter.optional(&rows, crude?.value, decimals: 3)
                        PlanningWriter.optional(&rows, crude?.lower, decimals: 3)
                        PlanningWriter.optional(&rows, crude?.upper, decimals: 3)
                        let standardised = visible ? cell.standardised : nil
                        let exactOnly = suppress && indicator.kind != .mean
                        PlanningWriter.optional(&rows, standardised?.value, decimals: 3)
                        PlanningWriter.optional(&rows, exactOnly ? nil : standardised?.lower, decimals: 3)
                        PlanningWriter.optional(&rows, exactOnly ? nil : standardised?.upper, decimals: 3)
                        let parent = units[u].parent.flatMap { p -> Double? in
                            guard suppress, indicator.kind != .mean else {
                                return c.scale(p, i, b, g).flatMap { _ in c.cells[p][i][b][g].crude?.value }
                            }
                            guard let x = c.numerators[p][i].flatMap({ c.table.published($0[b][g]) }),
                                let n = c.table.published(c.people[p][b][g]), n > 0
                            else { return nil }
                            return Inequalities.counted(indicator.kind, Double(x), of: Double(n)).value
                        }
                        PlanningWriter.optional(&rows, parent, decimals: 3)
                        rows.end()
                    }
                }
                // The slope and relative indices of inequality across deprivation deciles.
                if let gradient = gradients[u][i] {
                    for (label, e) in [("sii", Optional(gradient.sii)), ("rii", gradient.rii)] {
                        guard let e else { continue }
                        prefix(&rows, u)
                        rows.field(indicator.id)
                        rows.field(indicator.kind.rawValue)
                        rows.field(label == "sii" ? indicator.kind.unit : "ratio")
                        rows.field("imd_decile_gradient")
                        rows.field(label)
                        rows.empty()
                        rows.empty()
                        rows.field(e.value, decimals: 4)
                        rows.field(e.lower, decimals: 4)
                        rows.field(e.upper, decimals: 4)
                        for _ in 0..<4 { rows.empty() }
                        rows.end()
                    }
                }
            }
        }
        try Data(rows.bytes).write(to: url)
    }

    /// Writes `variation.csv`. Under suppression every figure is derived from published counts
    /// only, so no combination of columns gives back more than the counts themselves: the crude
    /// values and ratios use the published (rounded) observed count and people, and a row whose
    /// count is hidden shows no expected value, ratio, limits or crude value. Mean indicators (a
    /// total spread over people) are hidden for a unit whose people are hidden, and for its parent
    /// and siblings, whose totals would otherwise give the hidden unit's by subtraction.
    func writeVariation(_ totals: [Totals], _ c: InequalityCells, to url: URL) throws {
        var rows = CSVRows(capacity: 1 << 20)
        rows.raw(
            "level,unit_code,unit_name,parent_code,indicator,kind,method,people,observed,expected,ratio,ratio_lower_95,ratio_upper_95,crude_value,parent_crude_value,funnel_lower_95,funnel_upper_95,funnel_lower_998,funnel_upper_998,outlier,phi,tau2"
        )
        // Units whose totals would give away a hidden unit's: the hidden, their parents and siblings.
        var family = Set<Int>()
        for u in units.indices where c.table.published(c.people[u][0][0]) == nil {
            family.insert(u)
            if let parent = units[u].parent {
                family.insert(parent)
                for v in units.indices where units[v].parent == parent { family.insert(v) }
            }
        }
        /// A unit's crude value of its published counts; hidden for a mean indicator of the
        /// hidden unit's family.
        func publishedCrude(_ u: Int, _ i: Int, exact: Double) -> Double? {
            if c.numerators[u][i] == nil && suppress && family.contains(u) { return nil }
            return c.scale(u, i).map { exact * $0 }
        }
        for row in Variation.rows(units: units, totals: totals, indicators: indicators) {
            let u = row.unit, indicator = indicators[row.indicator]
            prefix(&rows, u)
            rows.field(indicator.id)
            rows.field(indicator.kind.rawValue)
            rows.field(row.method.rawValue)
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
            PlanningWriter.count(&rows, people)
            if counted {
                PlanningWriter.count(&rows, observed)
            } else {
                // A total is the mean times the published people: the exact total over the mean
                // would give the exact people.
                let total = suppress ? people.map { Double($0) * row.crude } : row.observed
                PlanningWriter.optional(&rows, visible ? total : nil, decimals: 2)
            }
            // A mean row's expected total, like its total, is per published person.
            let expected = !counted && suppress ? people.map { row.expected * Double($0) / max(1, row.people) } : row.expected
            PlanningWriter.optional(&rows, visible ? expected : nil, decimals: 2)
            // The ratio of the published count to the expected one: no more exact than the count.
            var ratio: Statistics.Estimate? = visible ? row.ratio : nil
            if visible, counted, suppress, let observed {
                ratio = Statistics.indirectlyStandardisedRatio(observed: Double(observed), expected: row.expected)
            }
            PlanningWriter.optional(&rows, ratio?.value, decimals: 4)
            PlanningWriter.optional(&rows, ratio?.lower, decimals: 4)
            PlanningWriter.optional(&rows, ratio?.upper, decimals: 4)
            let crude = publishedCrude(u, row.indicator, exact: row.crude)
            PlanningWriter.optional(&rows, visible ? crude : nil, decimals: 3)
            let parent = units[u].parent
            PlanningWriter.optional(
                &rows, parent.flatMap { p in row.parentCrude.flatMap { publishedCrude(p, row.indicator, exact: $0) } },
                decimals: 3)
            // The limits follow from the expected value, so are hidden with it.
            for v in [row.limits.lower95, row.limits.upper95, row.limits.lower998, row.limits.upper998] {
                PlanningWriter.optional(&rows, visible ? v : nil, decimals: 4)
            }
            // The flag of the published ratio against the limits (the exact one would say more).
            if visible, let ratio {
                let flag: String
                if ratio.value > row.limits.upper998 {
                    flag = "high"
                } else if ratio.value < row.limits.lower998 {
                    flag = "low"
                } else {
                    flag = "none"
                }
                rows.field(suppress && counted ? flag : row.flag.rawValue)
            } else {
                rows.empty()
            }
            rows.field(row.phi, decimals: 3)
            rows.field(row.tau2, decimals: 6)
            rows.end()
        }
        try Data(rows.bytes).write(to: url)
    }

    // MARK: SPC

    func writeSPC(to url: URL) throws {
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
        var rows = CSVRows(capacity: 1 << 20)
        rows.raw(
            "level,unit_code,unit_name,parent_code,measure,improvement,month,value,mean,lower_limit,upper_limit,trial_limits,beyond_limits,shift,trend,two_of_three,special_cause,side"
        )
        for u in units.indices {
            for (m, measure) in measures.enumerated() {
                let chart = ControlChart(Array(series.series(unit: u, measure)))
                for (t, point) in chart.points.enumerated() {
                    prefix(&rows, u)
                    rows.field(measure.rawValue)
                    rows.field(measure.improvement)
                    let month = series.months[t].civil
                    rows.field(String(format: "%04d-%02d", month.year, month.month))
                    let value = table.published(cells[u][m][t])
                    PlanningWriter.count(&rows, value)
                    rows.field(chart.mean, decimals: 2)
                    rows.field(chart.lowerLimit, decimals: 2)
                    rows.field(chart.upperLimit, decimals: 2)
                    rows.field(chart.trialLimits ? "Y" : "N")
                    if value != nil {
                        for flag in [point.beyondLimits, point.shift, point.trend, point.twoOfThree, point.specialCause] {
                            rows.field(flag ? "Y" : "N")
                        }
                        rows.field(point.side == .none ? "" : point.side.rawValue)
                    } else {
                        for _ in 0..<6 { rows.empty() }
                    }
                    rows.end()
                }
            }
        }
        try Data(rows.bytes).write(to: url)
    }
}
