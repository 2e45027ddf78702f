import Analysis
import Conditions
import Foundation
import Governance
import Outputs
import PHMCore
import Projections
import Storage

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

/// What a projection is made from, gathered from a run's people once and kept beside its outputs
/// (`projection-basis.json`), so that `phm project` can project again under other scenarios
/// without reading any person's record: the transitions, entries and each condition's onsets
/// observed in the history, each projected unit's people at as-of by cell, today's activity
/// rates, and the backtest. Every figure is an aggregate, but small cells are not suppressed: it
/// is kept with the run's other unpublished files (`persons.csv`), not published.
public struct ProjectionBasis: Codable, Sendable {
    public struct Unit: Codable, Sendable {
        public var level: String
        public var code: String
        public var name: String
        public var parent: Int?
    }

    /// A mostly empty array: its length and its non-zero entries.
    public struct Sparse: Codable, Sendable {
        public var count: Int
        public var index: [Int]
        public var value: [Double]

        init(_ values: [Double]) {
            count = values.count
            index = values.indices.filter { values[$0] != 0 }
            value = index.map { values[$0] }
        }

        /// The array when it is `expected` long, every index lies inside it and every value is a
        /// count (finite, not negative); otherwise nil (a file altered by hand), before anything
        /// of the size it claims is allocated.
        func values(_ expected: Int) -> [Double]? {
            guard count == expected, index.count == value.count, index.allSatisfy({ (0..<count).contains($0) }),
                value.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 1e12 })
            else { return nil }
            var out = [Double](repeating: 0, count: count)
            for (i, v) in zip(index, value) { out[i] = v }
            return out
        }
    }

    public var asOf: String
    public var units: [Unit]
    public var transitions: Sparse
    public var personYears: Int
    public var historyYears: Int
    public var entryYears: Int
    /// Each unit's people at as-of by cell and by sex and single year of age
    /// (`Projection.ages`), and its yearly entries by cell and by sex and single year of age. A
    /// basis kept before ages were has none, and its people are taken as spread evenly over
    /// their age bands' years.
    public var starts: [Sparse]
    public var ages: [Sparse]?
    public var entries: [Sparse]
    public var entryAges: [Sparse]?
    /// Onsets of every condition that can change a state, by condition id (`History.onsets`).
    public var onsets: [String: Sparse]
    /// Every condition of the library, and whether it can change a state.
    public var conditions: [String]
    public var changesState: [Bool]
    public var rates: [[Double]]
    public var majorIllnessScore: String?
    /// Warnings about the data, whatever the scenarios.
    public var warnings: [String]
    public var backtest: ProjectionSummary.Backtest?

    public static let file = PersonFiles.projectionBasis

    public func save(to folder: URL) throws {
        // Keys in order, so the same run writes the same bytes.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: folder.appendingPathComponent(Self.file))
    }

    public static func read(from folder: URL) throws(DefinitionError) -> ProjectionBasis {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)) else {
            throw DefinitionError(
                file: file, message: "cannot be read in \(folder.path): give the output folder of a run that projected")
        }
        do { return try JSONDecoder().decode(ProjectionBasis.self, from: data) } catch {
            throw DefinitionError(file: file, message: "is not a projection basis (\(error))")
        }
    }

    /// The history, starts and entries as arrays of the projection's sizes; nil when the file
    /// does not hold them.
    func arrays() -> (
        history: History, starts: [[Double]], ages: [[Double]], entries: [[Double]], entryAges: [[Double]]
    )? {
        let space = ProjectionSpace.self
        // Units in order, each parent before its children (as a run writes them).
        guard let counts = transitions.values(space.cells * space.outcomes), (1...10_000).contains(units.count),
            starts.count == units.count, entries.count == units.count, (ages?.count ?? units.count) == units.count,
            (entryAges?.count ?? units.count) == units.count,
            units.enumerated().allSatisfy({ u, unit in unit.parent.map { (0..<u).contains($0) } ?? true }),
            units.allSatisfy({ Level(rawValue: $0.level) != nil }), (1...50).contains(historyYears),
            (1...50).contains(entryYears), personYears >= 0,
            rates.joined().allSatisfy({ $0.isFinite && $0 >= 0 })
        else { return nil }
        let s = starts.compactMap { $0.values(space.cells) }
        let e = entries.compactMap { $0.values(space.cells) }
        let years = space.sexes * Projection.singleYears
        let a = ages.map { $0.compactMap { $0.values(years) } } ?? s.map(Projection.evenAges)
        let ea = entryAges.map { $0.compactMap { $0.values(years) } } ?? e.map(Projection.evenAges)
        var onsets: [Int: [Double]] = [:]
        for (id, sparse) in self.onsets {
            guard let index = conditions.firstIndex(of: id),
                let values = sparse.values(space.ages * space.states * space.outcomes * space.outcomes)
            else { return nil }
            onsets[index] = values
        }
        guard s.count == units.count, a.count == units.count, e.count == units.count, ea.count == units.count else {
            return nil
        }
        return (
            History(
                counts: counts, entries: e, personYears: personYears, years: historyYears, entryYears: entryYears,
                onsets: onsets), s, a, e, ea
        )
    }

    /// The basis of a run: its planning population (no opt-outs) and the organisation,
    /// localities and PCNs among `units` (practices are too small to project).
    static func observe(_ prepared: PreparedRun, units: [PlanningUnit], backtestYears: Int, draws: Int) -> ProjectionBasis {
        let population = prepared.population
        let states = PersonStates(prepared.conditions, library: prepared.library)
        let optedOut = population.optedOut
        let include: @Sendable (Int) -> Bool = { !optedOut[$0] }
        let o = Projection.Options()
        let counted = PersonStates.changesState(in: prepared.library)
        let history = History.observe(
            population, states: states, before: population.asOf, years: o.historyYears, entryYears: o.entryYears,
            include: include, tracking: counted.indices.filter { counted[$0] })
        // Localities and PCNs follow the organisation in the list, so parents keep their indices.
        let projected = Array(units.prefix { $0.level != .practice })
        let atStart = Projection.personCells(
            population, states: states, people: prepared.planningPeople, on: population.asOf)
        func summed(_ byPractice: [[Double]], _ count: Int) -> [Sparse] {
            projected.map { unit in
                var sum = [Double](repeating: 0, count: count)
                for practice in unit.practices { for i in sum.indices { sum[i] += byPractice[practice][i] } }
                return Sparse(sum)
            }
        }
        let entries = summed(history.entries, ProjectionSpace.cells)
        let entryAges = summed(history.entryAges, ProjectionSpace.sexes * Projection.singleYears)
        let rates = Projection.Rates(cells: atStart, use: prepared.utilisation, people: prepared.planningPeople)

        var warnings: [String] = []
        if states.score == nil {
            warnings.append(
                "the condition library has no \(PersonStates.scoreId) score: major illness is never reached, so its figures are 0"
            )
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
        if backtestYears > 0 {
            var b = o
            b.draws = min(max(1, draws), 100)
            backtest = Projection.backtest(population, states: states, include: include, yearsBack: backtestYears, options: b)
        }
        return ProjectionBasis(
            asOf: population.asOf.description,
            units: projected.map { Unit(level: $0.level.rawValue, code: $0.code, name: $0.name, parent: $0.parent) },
            transitions: Sparse(history.counts), personYears: history.personYears, historyYears: history.years,
            entryYears: history.entryYears,
            starts: projected.map { Sparse(Projection.cells(atStart, people: $0.people)) },
            ages: projected.map { unit in
                Sparse(Projection.ages(population, people: unit.people.filter { atStart[$0] >= 0 }, on: population.asOf))
            }, entries: entries, entryAges: entryAges,
            onsets: Dictionary(
                uniqueKeysWithValues: history.onsets.map { (prepared.library.conditions[$0.key].id, Sparse($0.value)) }),
            conditions: prepared.library.conditions.map(\.id), changesState: counted, rates: rates.perPerson,
            majorIllnessScore: states.score, warnings: warnings, backtest: backtest)
    }
}

/// `projections.csv` and `projection.json`: the organisation, each locality and each PCN
/// projected year by year ([projections.md](../../docs/projections.md)).
public enum ProjectionWriter {
    static func write(_ prepared: PreparedRun, units: [PlanningUnit], options: RunOptions) throws {
        let settings = options.projection
        guard settings.years > 0 else { return }
        let basis = ProjectionBasis.observe(
            prepared, units: units, backtestYears: settings.backtestYears, draws: settings.draws)
        try basis.save(to: options.output)
        try project(basis, scenarios: settings.scenarioFile, settings: settings, suppress: options.suppress, to: options.output)
    }

    /// `phm project`: projects again from the basis a run kept in `run` (its output folder),
    /// under the scenarios file, into `folder` (not the run's own: its published projection stays
    /// as it was made). Reading the basis is audited as a planning export, as a run is.
    public static func reproject(
        run: URL, scenarios: URL?, settings: ProjectionSettings, suppress: Bool, to folder: URL, dataDirectory: URL
    ) throws -> ProjectionSummary {
        let source = run.resolvingSymlinksInPath().standardizedFileURL
        guard folder.resolvingSymlinksInPath().standardizedFileURL != source else {
            throw DefinitionError(file: folder.path, message: "is the run's own folder: write the projection to another")
        }
        let basis = try ProjectionBasis.read(from: source)
        let file = try scenarios.map { url throws(DefinitionError) in
            try ScenarioFile.read(url, conditions: basis.conditions, changesState: basis.changesState)
        }
        let store = try RunStore(directory: dataDirectory)
        let governance = GovernanceStore(
            runs: store, directory: dataDirectory, key: try PlatformKey.load(dataDirectory: dataDirectory))
        let detail = try JSONSerialization.data(
            withJSONObject: ["from": source.lastPathComponent, "scenarios": file?.scenarios.map(\.id) ?? []],
            options: [.sortedKeys])
        try governance.audit(
            user: "pipeline", role: "system", purpose: Purpose.planning.rawValue, action: "project", outcome: "allowed",
            detail: String(decoding: detail, as: UTF8.self))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try project(basis, scenarios: file, settings: settings, suppress: suppress, to: folder)
        return try Published.projection.read(from: folder)
    }

    /// Projects a basis under the baseline and each scenario, and writes `projections.csv` and
    /// `projection.json` to `folder`.
    public static func project(
        _ basis: ProjectionBasis, scenarios file: ScenarioFile?, settings: ProjectionSettings, suppress: Bool, to folder: URL
    ) throws {
        guard let asOf = Day(iso: basis.asOf), let (history, starts, ages, entries, entryAges) = basis.arrays(),
            basis.rates.count == AgeBand.allCases.count * LTCBand.allCases.count,
            basis.rates.allSatisfy({ $0.count == Projection.Measure.allCases.count })
        else { throw DefinitionError(file: ProjectionBasis.file, message: "does not hold a whole projection basis") }
        var o = Projection.Options()
        o.years = settings.years
        o.draws = max(1, settings.draws)
        let units = basis.units.map {
            PlanningUnit(
                level: Level(rawValue: $0.level) ?? .organisation, code: $0.code, name: $0.name, people: [], practices: [],
                parent: $0.parent)
        }
        let rates = Projection.Rates(perPerson: basis.rates)
        let scenarios =
            try file?.scenarios(history: history, rates: rates, asOf: asOf, years: o.years)
            ?? [Scenario(id: Scenario.baselineId, name: "Baseline")]
        let results = Projection.run(
            model: TransitionModel(history), starts: starts, ages: ages, entries: entries, entryAges: entryAges,
            entryYears: history.entryYears,
            rates: rates, scenarios: scenarios, options: o)
        let published = rows(
            results, scenarios: scenarios, rates: rates, units: units, asOf: asOf, years: o.years, suppress: suppress)
        try Published.projections.write(published, to: folder)
        // The organisation's year-0 margins, by the backtest's breakdown and band.
        var start: [String: Int?] = [:]
        for r in published
        where r.unit.parentCode == nil && r.row.yearsAhead == 0 && r.row.scenario == scenarios[0].id
            && r.row.imdQuintile == "all"
        {
            switch (r.row.ageBand, r.row.ltcBand) {
            case ("all", "all"): start["all/all"] = r.row.people
            case ("all", let ltc): start["ltc/" + ltc] = r.row.people
            case (let age, "all"): start["age/" + age] = r.row.people
            default: break
            }
        }

        var warnings = basis.warnings
        for scenario in scenarios {
            for change in scenario.incidence where !change.seen {
                warnings.append(
                    "scenario \(scenario.id): the history shows no one beginning \(change.condition), so changing its onsets changes nothing"
                )
            }
        }
        // Registered populations of English local authorities change by well under 2% a year
        // (ONS subnational projections); faster change says more about the extract's
        // registrations than about the population.
        if let board = results.first?.first, scenarios[0].population == nil {
            let people = { (year: Int) in
                board.value(board.central, year: year, cell: Projection.everyone, .people)
            }
            let yearly = people(0) > 0 ? pow(people(o.years) / people(0), 1 / Double(o.years)) - 1 : 0
            if abs(yearly) > 0.02 {
                warnings.append(
                    String(
                        format:
                            "the data's entries, deaths and leavers change the registered population by %+.1f%% a year, more than local authority populations usually change: check that registration dates in the extract mark people joining the area, not re-registrations",
                        100 * yearly))
            }
        }
        try Published.projection.write(
            ProjectionSummary(
                method:
                    "cell-based multistate model: yearly transitions by age band, sex, IMD quintile and state (LTC count, major illness), shrunk towards pooled rates; entries as observed; 95% intervals from posterior draws",
                years: o.years, draws: o.draws, historyYears: o.historyYears, entryYears: o.entryYears,
                personYears: basis.personYears, majorIllnessScore: basis.majorIllnessScore, warnings: warnings,
                backtest: suppress ? basis.backtest.map { Self.published($0, start: start) } : basis.backtest,
                scenarios: scenarios.map { .init(id: $0.id, name: $0.name, changes: $0.changes) }),
            to: folder)
    }

    /// The backtest as published. Its observed people are the people at as-of: the same people
    /// as the organisation's year-0 margins, so they are those margins as `projections.csv`
    /// publishes them (withheld, or rounded to 5, with the same secondary suppression), looked
    /// up in `start` by breakdown and band. Its projected figures are rounded to 5 as projected
    /// years are, and its error is worked out from these, so that it cannot give an exact count.
    static func published(_ backtest: ProjectionSummary.Backtest, start: [String: Int?]) -> ProjectionSummary.Backtest {
        func five(_ x: Double) -> Double {
            x.isFinite ? Double(Suppression.rounded(Int(max(0, min(x, 1e12)).rounded()))) : 0
        }
        return .init(
            yearsBack: backtest.yearsBack,
            bands: backtest.bands.map { band in
                var b = ProjectionSummary.Backtest.Band(
                    breakdown: band.breakdown, band: band.band, observed: start[band.breakdown + "/" + band.band] ?? nil,
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
        let activity = Projection.Measure.activity.map { m in
            (
                m, ProjectionRow.measures[m.rawValue].central, ProjectionRow.measures[m.rawValue].lower,
                ProjectionRow.measures[m.rawValue].upper
            )
        }
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
