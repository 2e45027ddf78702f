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
        let observedEntries = Int((history.entries.joined().reduce(0, +) * Double(history.entryYears)).rounded())
        let rates = Projection.Rates(
            population: population, states: states, use: prepared.utilisation, people: prepared.planningPeople)
        let results = Projection.run(
            model: TransitionModel(history), starts: starts, entries: entries, entriesObserved: observedEntries,
            rates: rates, options: o)
        try Published.projections.write(
            rows(results, units: projected, asOf: population.asOf, years: o.years, suppress: options.suppress),
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

    /// The published rows. The start (year 0) holds counts of real people: they are suppressed
    /// like every planning count, with secondary suppression across units. Projected years are
    /// model figures, not counts of people, and are rounded the same way: under 8 hidden, others
    /// to the nearest 5 (costs to the nearest 100 GBP).
    static func rows(
        _ results: [Projection.UnitProjection], units: [PlanningUnit], asOf: Day, years: Int, suppress: Bool
    ) -> [UnitRow<ProjectionRow>] {
        let n = Projection.outputCells
        var table = Suppression(enabled: suppress)
        let start = results.map { r in (0..<n).map { table.add(Int(r.value(r.central, year: 0, cell: $0, .people).rounded())) } }
        for c in 0..<n { table.relateToParents(units) { $0 < start.count ? start[$0][c] : nil } }
        table.protect()
        func count(_ x: Double) -> Int? {
            let k = max(0, Int(x.rounded()))
            guard suppress else { return k }
            return Suppression.isSmall(k) ? nil : Suppression.rounded(k)
        }
        func bound(_ x: Double) -> Int { suppress ? Suppression.rounded(max(0, Int(x.rounded()))) : max(0, Int(x.rounded())) }
        func money(_ x: Double) -> Int { suppress ? Int((x / 100).rounded()) * 100 : Int(x.rounded()) }
        let ltcBands = LTCBand.allCases.count, quintiles = ProjectionSpace.quintiles
        var rows: [UnitRow<ProjectionRow>] = []
        for (u, unit) in units.enumerated() {
            let r = results[u], columns = unit.columns(units)
            for year in 0...years {
                let date = asOf.adding(months: 12 * year).description
                for c in 0..<n {
                    let people = r.value(r.central, year: year, cell: c, .people)
                    guard people >= 0.5 || r.value(r.upper, year: year, cell: c, .people) >= 0.5 else { continue }
                    let age = AgeBand.allCases[c / (ltcBands * quintiles)], ltc = LTCBand.allCases[c / quintiles % ltcBands]
                    let q = c % quintiles
                    var row = ProjectionRow(
                        scenario: "baseline", yearsAhead: year, date: date, ageBand: age.label, ltcBand: ltc.label,
                        imdQuintile: q == 0 ? "unknown" : String(q))
                    row.people = year == 0 ? table.published(start[u][c]) : count(people)
                    if row.people != nil {
                        func figure(_ m: Projection.Measure) -> (Int?, Int?, Int?) {
                            let central = r.value(r.central, year: year, cell: c, m)
                            if m == .cost {
                                return (
                                    money(central), money(r.value(r.lower, year: year, cell: c, m)),
                                    money(r.value(r.upper, year: year, cell: c, m))
                                )
                            }
                            let shown = count(central)
                            return (
                                shown, shown == nil ? nil : min(shown!, bound(r.value(r.lower, year: year, cell: c, m))),
                                shown == nil ? nil : max(shown!, bound(r.value(r.upper, year: year, cell: c, m)))
                            )
                        }
                        (_, row.peopleLower95, row.peopleUpper95) = figure(.people)
                        if let shown = row.people {
                            row.peopleLower95 = min(shown, row.peopleLower95 ?? shown)
                            row.peopleUpper95 = max(shown, row.peopleUpper95 ?? shown)
                        }
                        (row.majorIllness, row.majorIllnessLower95, row.majorIllnessUpper95) = figure(.majorIllness)
                        (row.emergencyAdmissions, row.emergencyAdmissionsLower95, row.emergencyAdmissionsUpper95) = figure(
                            .emergencyAdmissions)
                        (row.aeAttendances, row.aeAttendancesLower95, row.aeAttendancesUpper95) = figure(.aeAttendances)
                        (row.outpatientAttendances, row.outpatientAttendancesLower95, row.outpatientAttendancesUpper95) =
                            figure(.outpatientAttendances)
                        (row.electiveAdmissions, row.electiveAdmissionsLower95, row.electiveAdmissionsUpper95) = figure(
                            .electiveAdmissions)
                        (row.costGbp, row.costGbpLower95, row.costGbpUpper95) = figure(.cost)
                    }
                    rows.append(UnitRow(columns, row))
                }
            }
        }
        return rows
    }
}
