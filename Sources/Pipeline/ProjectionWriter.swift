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
    /// The scenarios file ([projections.md](../../docs/projections.md#scenarios)), if any.
    public var scenarios: URL?
    /// The scenarios file, read and checked before the run reads any data.
    var scenarioFile: ScenarioFile?
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
        let file = settings.scenarioFile
        let history = History.observe(
            population, states: states, before: population.asOf, years: o.historyYears, entryYears: o.entryYears,
            include: include, tracking: file?.tracked ?? [])
        // Practices are too small to project: the organisation, localities and PCNs (which come
        // first in the list, so parents keep their indices).
        let projected = Array(units.prefix { $0.level != .practice })
        let atStart = Projection.personCells(
            population, states: states, people: prepared.planningPeople, on: population.asOf)
        let starts = projected.map { Projection.cells(atStart, people: $0.people) }
        let entries = projected.map { unit in
            var sum = [Double](repeating: 0, count: ProjectionSpace.cells)
            for practice in unit.practices { for i in sum.indices { sum[i] += history.entries[practice][i] } }
            return sum
        }
        let rates = Projection.Rates(
            population: population, states: states, use: prepared.utilisation, people: prepared.planningPeople)
        let scenarios =
            try file?.scenarios(history: history, rates: rates, asOf: population.asOf, years: o.years)
            ?? [Scenario(id: Scenario.baselineId, name: "Baseline")]
        let results = Projection.run(
            model: TransitionModel(history), starts: starts, entries: entries, entryYears: history.entryYears,
            rates: rates, scenarios: scenarios, options: o)
        try Published.projections.write(
            rows(
                results, scenarios: scenarios, rates: rates, units: projected, asOf: population.asOf, years: o.years,
                suppress: options.suppress),
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
        if let board = results.first?.first, scenarios[0].population == nil {
            let people = { (year: Int) in
                board.value(board.central, year: year, cell: Projection.everyone, .people)
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
        // A history shorter than the years it is read over counts too few transitions and
        // divides too few entries by too many years.
        if let earliest = History.begins(population, after: max(o.historyYears, o.entryYears)) {
            let wanted = population.asOf.adding(months: -12 * max(o.historyYears, o.entryYears))
            warnings.append(
                "the extract's records begin on \(earliest), after \(wanted): the transitions and entries assume \(max(o.historyYears, o.entryYears)) years of history, so rates of change and entries are too low"
            )
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
            if options.suppress { backtest = backtest.map(published) }
        }
        try Published.projection.write(
            ProjectionSummary(
                method:
                    "cell-based multistate model: yearly transitions by age band, sex, IMD quintile and state (LTC count, major illness), shrunk towards pooled rates; entries as observed; 95% intervals from posterior draws",
                years: o.years, draws: o.draws, historyYears: o.historyYears, entryYears: o.entryYears,
                personYears: history.personYears, majorIllnessScore: states.score, warnings: warnings, backtest: backtest,
                scenarios: scenarios.map { .init(id: $0.id, name: $0.name, changes: $0.changes) }),
            to: options.output)
    }

    /// The backtest as published: its observed people are counts of real people, withheld when
    /// 1 to 7 and otherwise rounded to 5 as every planning count, and its projected figures
    /// rounded to 5 as projected years are; the error is worked out from these, so that it
    /// cannot give the exact count back.
    static func published(_ backtest: ProjectionSummary.Backtest) -> ProjectionSummary.Backtest {
        func five(_ x: Double) -> Double { Double(Suppression.rounded(Int(max(0, min(x, 1e12)).rounded()))) }
        return .init(
            yearsBack: backtest.yearsBack,
            bands: backtest.bands.map { band in
                var b = ProjectionSummary.Backtest.Band(
                    breakdown: band.breakdown, band: band.band,
                    observed: band.observed.flatMap { Suppression.isSmall($0) ? nil : Suppression.rounded($0) },
                    projected: five(band.projected), lower95: five(band.lower95), upper95: five(band.upper95))
                b.errorPct = b.errorPct.map { ($0 * 10).rounded() / 10 }
                return b
            })
    }

    /// The published rows: each cell, then the margins (everyone, each age band, each LTC band,
    /// each quintile, written `all` in the other columns). The start (year 0) holds counts of
    /// real people: its people, and people with major illness, are suppressed like every
    /// planning count, with secondary suppression across units (a unit's cells add up to its
    /// parent's), across the quintiles of an age band and LTC band (whose total the segment
    /// profiles publish) and within each margin. Projected years are model figures, not counts
    /// of people, and are rounded the same way: under 8 withheld, others to the nearest 5.
    /// Activity and cost of a cell are its published people, and their interval's ends, times
    /// its segment's rates, so they tell nothing the people do not; a margin's are the sum of its
    /// cells' at the start and the model's own (summed in every draw) later. Each scenario's
    /// rows follow the baseline's, with the same start.
    static func rows(
        _ results: [[Projection.UnitProjection]], scenarios: [Scenario], rates: Projection.Rates, units: [PlanningUnit],
        asOf: Day, years: Int, suppress: Bool
    ) -> [UnitRow<ProjectionRow>] {
        let cross = Projection.crossCells, n = Projection.outputCells
        let ltcBands = LTCBand.allCases.count, quintiles = ProjectionSpace.quintiles
        var table = Suppression(enabled: suppress)
        // Year 0's cells, then each margin as the sum of its cells, related to them.
        func start(_ measure: Projection.Measure) -> [[Int]] {
            results.map { projections in
                let r = projections[0]
                var cells = (0..<cross).map { table.add(Int(r.value(r.central, year: 0, cell: $0, measure).rounded())) }
                for margin in cross..<n {
                    let parts = Projection.members[margin].map { cells[$0] }
                    let total = table.add(parts.reduce(0) { $0 + table.counts[$1] })
                    table.relate(total: total, parts: parts)
                    cells.append(total)
                }
                for segment in 0..<(cross / quintiles) {
                    let parts = (0..<quintiles).map { cells[segment * quintiles + $0] }
                    table.relate(total: table.add(parts.reduce(0) { $0 + table.counts[$1] }), parts: parts)
                }
                return cells
            }
        }
        let people = start(.people), major = start(.majorIllness)
        for cells in [people, major] {
            for c in 0..<n { table.relateToParents(units) { $0 < cells.count ? cells[$0][c] : nil } }
        }
        table.protect()
        func whole(_ x: Double) -> Int { Int(clamping: x.isFinite ? Int64(max(0, min(x, 1e15)).rounded()) : 0) }
        func count(_ x: Double) -> Int? {
            let k = whole(x)
            guard suppress else { return k }
            return Suppression.isSmall(k) ? nil : Suppression.rounded(k)
        }
        func bound(_ x: Double) -> Int { suppress ? Suppression.rounded(whole(x)) : whole(x) }
        func money(_ x: Double) -> Int { suppress ? whole(x / 100) * 100 : whole(x) }
        let activity:
            [(
                Projection.Measure, WritableKeyPath<ProjectionRow, Int?>, WritableKeyPath<ProjectionRow, Int?>,
                WritableKeyPath<ProjectionRow, Int?>
            )] = [
                (.emergencyAdmissions, \.emergencyAdmissions, \.emergencyAdmissionsLower95, \.emergencyAdmissionsUpper95),
                (.aeAttendances, \.aeAttendances, \.aeAttendancesLower95, \.aeAttendancesUpper95),
                (.outpatientAttendances, \.outpatientAttendances, \.outpatientAttendancesLower95, \.outpatientAttendancesUpper95),
                (.electiveAdmissions, \.electiveAdmissions, \.electiveAdmissionsLower95, \.electiveAdmissionsUpper95),
                (.cost, \.costGbp, \.costGbpLower95, \.costGbpUpper95),
            ]
        var rows: [UnitRow<ProjectionRow>] = []
        let later = scenarios.map { $0.rates(from: rates) }
        for (u, unit) in units.enumerated() {
            let columns = unit.columns(units)
            for (v, scenario) in scenarios.enumerated() {
                let r = results[u][v]
                for year in 0...years {
                    let date = asOf.adding(months: 12 * year).description
                    // Each cell's activity from its published people: (central, lower, upper) per measure.
                    var derived = [[(Double, Double, Double)]](
                        repeating: Array(repeating: (0, 0, 0), count: activity.count), count: cross)
                    for c in 0..<n {
                        let central = r.value(r.central, year: year, cell: c, .people)
                        guard central >= 0.5 || r.value(r.upper, year: year, cell: c, .people) >= 0.5 else { continue }
                        let (age, ltc, q) = Projection.parts(ofOutput: c)
                        var row = ProjectionRow(
                            scenario: scenario.id, yearsAhead: year, date: date,
                            ageBand: age.map { AgeBand.allCases[$0].label } ?? "all",
                            ltcBand: ltc.map { LTCBand.allCases[$0].label } ?? "all",
                            imdQuintile: q.map { $0 == 0 ? "unknown" : String($0) } ?? "all")
                        if year == 0 {
                            row.people = table.published(people[u][c])
                            row.majorIllness = table.published(major[u][c])
                            (row.peopleLower95, row.peopleUpper95) = (row.people, row.people)
                            (row.majorIllnessLower95, row.majorIllnessUpper95) = (row.majorIllness, row.majorIllness)
                        } else if let shown = count(central) {
                            row.people = shown
                            row.peopleLower95 = min(shown, bound(r.value(r.lower, year: year, cell: c, .people)))
                            row.peopleUpper95 = max(shown, bound(r.value(r.upper, year: year, cell: c, .people)))
                            if let ill = count(r.value(r.central, year: year, cell: c, .majorIllness)) {
                                row.majorIllness = ill
                                row.majorIllnessLower95 = min(ill, bound(r.value(r.lower, year: year, cell: c, .majorIllness)))
                                row.majorIllnessUpper95 = max(ill, bound(r.value(r.upper, year: year, cell: c, .majorIllness)))
                            }
                        }
                        if c < cross, let shown = row.people, let low = row.peopleLower95, let high = row.peopleUpper95 {
                            let rate = (year == 0 ? rates : later[v]).perPerson[age! * ltcBands + ltc!]
                            for (k, (m, _, _, _)) in activity.enumerated() {
                                let per = rate[m.rawValue]
                                derived[c][k] = (Double(shown) * per, Double(low) * per, Double(high) * per)
                            }
                        }
                        if row.people != nil {
                            for (k, (m, central, lower, upper)) in activity.enumerated() {
                                var values: (Double, Double, Double)
                                if c < cross {
                                    values = derived[c][k]
                                } else if year == 0 {
                                    let parts = Projection.members[c]
                                    values = parts.reduce((0, 0, 0)) {
                                        ($0.0 + derived[$1][k].0, $0.1 + derived[$1][k].1, $0.2 + derived[$1][k].2)
                                    }
                                } else {
                                    values = (
                                        r.value(r.central, year: year, cell: c, m), r.value(r.lower, year: year, cell: c, m),
                                        r.value(r.upper, year: year, cell: c, m)
                                    )
                                }
                                let round = m == .cost ? money : bound
                                row[keyPath: central] = round(values.0)
                                row[keyPath: lower] = min(round(values.0), round(values.1))
                                row[keyPath: upper] = max(round(values.0), round(values.2))
                            }
                        }
                        rows.append(UnitRow(columns, row))
                    }
                }
            }
        }
        return rows
    }
}
