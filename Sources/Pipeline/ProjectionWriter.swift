import Analysis
import Foundation
import Outputs
import PHMCore
import Projections

/// What a run projects: how far ahead, and with how many draws for the intervals.
public struct ProjectionSettings: Sendable {
    /// Years ahead; 0 projects nothing.
    public var years = 20
    public var draws = 200
    /// Years back the backtest starts from; 0 skips it.
    public var backtestYears = 3
    public init() {}
}

/// `projections.csv` and `projection.json`: the organisation, each locality and each PCN
/// projected year by year ([projections.md](../../docs/projections.md)).
enum ProjectionWriter {
    static func write(_ prepared: PreparedRun, units: [PlanningUnit], options: RunOptions) throws {
        let settings = options.projection
        guard settings.years > 0 else { return }
        let population = prepared.population
        let states = PersonStates(prepared.conditions, library: prepared.library)
        let optedOut = population.optedOut
        let include: @Sendable (Int) -> Bool = { !optedOut[$0] }
        var o = Projection.Options()
        o.years = settings.years
        o.draws = max(1, settings.draws)
        o.workers = options.workers
        let history = History.observe(
            population, states: states, before: population.asOf, years: o.historyYears, entryYears: o.entryYears,
            include: include)
        // Practices are too small to project: the organisation, localities and PCNs (which come
        // first in the list, so parents keep their indices).
        let projected = Array(units.prefix { $0.level != .practice })
        let starts = projected.map { Projection.cells(population, states: states, people: $0.people, on: population.asOf) }
        let entries = projected.map { unit in
            var sum = [Double](repeating: 0, count: ProjectionSpace.cells)
            for practice in unit.practices { for i in sum.indices { sum[i] += history.entries[practice][i] } }
            return sum
        }
        let rates = Projection.Rates(
            population: population, states: states, use: prepared.utilisation, people: prepared.planningPeople)
        let results = Projection.run(
            model: TransitionModel(history), starts: starts, entries: entries, entryYears: history.entryYears,
            rates: .none, options: o)
        try Published.projections.write(
            rows(results, rates: rates, units: projected, asOf: population.asOf, years: o.years, suppress: options.suppress),
            to: options.output)

        var warnings: [String] = []
        if states.score == nil {
            warnings.append(
                "the condition library has no \(PersonStates.scoreId) score: major illness is never reached, so its figures are 0"
            )
        }
        // Registered populations of English local authorities change by well under 2% a year
        // (ONS subnational projections); faster change says more about the extract's
        // registrations than about the population.
        if let board = results.first, settings.years > 0 {
            let people = { (year: Int) in
                (0..<Projection.outputCells).reduce(0.0) { $0 + board.value(board.central, year: year, cell: $1, .people) }
            }
            let yearly = people(0) > 0 ? pow(people(settings.years) / people(0), 1 / Double(settings.years)) - 1 : 0
            if abs(yearly) > 0.02 {
                warnings.append(
                    String(
                        format:
                            "the data's entries, deaths and leavers change the registered population by %+.1f%% a year, more than local authority populations usually change: check that registration dates in the extract mark people joining the area, not re-registrations",
                        100 * yearly))
            }
        }
        if history.personYears < 20_000 {
            warnings.append(
                "only \(history.personYears) person-years of history: most cells' rates are their age band's, and intervals are wide"
            )
        }
        var backtest: ProjectionSummary.Backtest?
        if settings.backtestYears > 0 {
            var b = o
            b.draws = min(o.draws, 100)
            backtest = Projection.backtest(
                population, states: states, include: include, yearsBack: settings.backtestYears, options: b)
        }
        try Published.projection.write(
            ProjectionSummary(
                method:
                    "cell-based multistate model: yearly transitions by age band, sex, IMD quintile and state (LTC count, major illness), shrunk towards pooled rates; entries as observed; 95% intervals from posterior draws",
                years: o.years, draws: o.draws, historyYears: o.historyYears, entryYears: o.entryYears,
                personYears: history.personYears, majorIllnessScore: states.score, warnings: warnings, backtest: backtest),
            to: options.output)
    }

    /// The published rows. The start (year 0) holds counts of real people: its people and
    /// people with major illness are suppressed like every planning count, with secondary
    /// suppression across units and across the quintiles of an age band and LTC band (whose
    /// total the segment profiles publish). Projected years are model figures, not counts of
    /// people, and are rounded the same way: under 8 withheld, others to the nearest 5. Activity
    /// and cost are the published people, and their interval's ends, times the segment's rates,
    /// so they tell nothing the people do not.
    static func rows(
        _ results: [Projection.UnitProjection], rates: Projection.Rates, units: [PlanningUnit], asOf: Day, years: Int,
        suppress: Bool
    ) -> [UnitRow<ProjectionRow>] {
        let n = Projection.outputCells
        let ltcBands = LTCBand.allCases.count, quintiles = ProjectionSpace.quintiles
        var table = Suppression(enabled: suppress)
        func start(_ measure: Projection.Measure) -> [[Int]] {
            results.map { r in (0..<n).map { table.add(Int(r.value(r.central, year: 0, cell: $0, measure).rounded())) } }
        }
        let people = start(.people), major = start(.majorIllness)
        for cells in [people, major] {
            for c in 0..<n { table.relateToParents(units) { $0 < cells.count ? cells[$0][c] : nil } }
            for u in cells.indices {
                for segment in 0..<(n / quintiles) {
                    let parts = (0..<quintiles).map { cells[u][segment * quintiles + $0] }
                    let total = table.add(parts.reduce(0) { $0 + table.counts[$1] })
                    table.relate(total: total, parts: parts)
                }
            }
        }
        table.protect()
        func count(_ x: Double) -> Int? {
            let k = Int(clamping: x.isFinite ? Int64(max(0, min(x, 1e15)).rounded()) : 0)
            guard suppress else { return k }
            return Suppression.isSmall(k) ? nil : Suppression.rounded(k)
        }
        func bound(_ x: Double) -> Int {
            let k = Int(clamping: x.isFinite ? Int64(max(0, min(x, 1e15)).rounded()) : 0)
            return suppress ? Suppression.rounded(k) : k
        }
        var rows: [UnitRow<ProjectionRow>] = []
        for (u, unit) in units.enumerated() {
            let r = results[u], columns = unit.columns(units)
            for year in 0...years {
                let date = asOf.adding(months: 12 * year).description
                for c in 0..<n {
                    let central = r.value(r.central, year: year, cell: c, .people)
                    guard central >= 0.5 || r.value(r.upper, year: year, cell: c, .people) >= 0.5 else { continue }
                    let age = c / (ltcBands * quintiles), ltc = c / quintiles % ltcBands, q = c % quintiles
                    var row = ProjectionRow(
                        scenario: "baseline", yearsAhead: year, date: date, ageBand: AgeBand.allCases[age].label,
                        ltcBand: LTCBand.allCases[ltc].label, imdQuintile: q == 0 ? "unknown" : String(q))
                    if year == 0 {
                        row.people = table.published(people[u][c])
                        row.majorIllness = table.published(major[u][c])
                        (row.peopleLower95, row.peopleUpper95) = (row.people, row.people)
                        (row.majorIllnessLower95, row.majorIllnessUpper95) = (row.majorIllness, row.majorIllness)
                    } else {
                        row.people = count(central)
                        if let shown = row.people {
                            row.peopleLower95 = min(shown, bound(r.value(r.lower, year: year, cell: c, .people)))
                            row.peopleUpper95 = max(shown, bound(r.value(r.upper, year: year, cell: c, .people)))
                            row.majorIllness = count(r.value(r.central, year: year, cell: c, .majorIllness))
                            if let ill = row.majorIllness {
                                row.majorIllnessLower95 = min(ill, bound(r.value(r.lower, year: year, cell: c, .majorIllness)))
                                row.majorIllnessUpper95 = max(ill, bound(r.value(r.upper, year: year, cell: c, .majorIllness)))
                            }
                        }
                    }
                    if let shown = row.people, let low = row.peopleLower95, let high = row.peopleUpper95 {
                        let rate = rates.perPerson[age * ltcBands + ltc]
                        func use(_ m: Projection.Measure) -> (Int?, Int?, Int?) {
                            (
                                bound(Double(shown) * rate[m.rawValue]), bound(Double(low) * rate[m.rawValue]),
                                bound(Double(high) * rate[m.rawValue])
                            )
                        }
                        func money(_ x: Double) -> Int { Int(clamping: Int64((min(x, 1e15) / 100).rounded()) * 100) }
                        (row.emergencyAdmissions, row.emergencyAdmissionsLower95, row.emergencyAdmissionsUpper95) = use(
                            .emergencyAdmissions)
                        (row.aeAttendances, row.aeAttendancesLower95, row.aeAttendancesUpper95) = use(.aeAttendances)
                        (row.outpatientAttendances, row.outpatientAttendancesLower95, row.outpatientAttendancesUpper95) =
                            use(.outpatientAttendances)
                        (row.electiveAdmissions, row.electiveAdmissionsLower95, row.electiveAdmissionsUpper95) = use(
                            .electiveAdmissions)
                        let cost = rate[Projection.Measure.cost.rawValue]
                        (row.costGbp, row.costGbpLower95, row.costGbpUpper95) = (
                            money(Double(shown) * cost), money(Double(low) * cost), money(Double(high) * cost)
                        )
                    }
                    rows.append(UnitRow(columns, row))
                }
            }
        }
        return rows
    }
}
