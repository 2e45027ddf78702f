import Outputs
import PHMCore

/// A cell-based multistate projection: the registered population at as-of, counted by cell, is
/// moved forward a year at a time by the yearly transition probabilities (gaining conditions,
/// major illness beginning, death, leaving), aged (a band's share reaches the next band each
/// year), and joined by the entries the data shows (births and people moving in), each year for
/// `years` years.
///
/// A cell model rather than a microsimulation of each person: with probabilities per cell, the
/// expected counts of a microsimulation are exactly the cell model's, which needs no random
/// numbers per person and runs in the same time for a board of 30,000 or 3 million people. What
/// it leaves out is the chance variation between individuals, small beside the uncertainty of
/// the rates at the sizes projected (a PCN and up); the intervals are those of the rates and
/// the entries: each of `draws` runs takes every cell's probabilities from their posterior
/// (`TransitionModel.draw`) and the yearly entries scaled by a Gamma draw with the observed
/// number of entries as its shape, and the 2.5th and 97.5th percentiles of the runs bound the
/// central projection (the run with the posterior means).
public enum Projection {
    public struct Options: Sendable {
        public var years = 20
        public var draws = 200
        /// Years of history transitions are estimated from.
        public var historyYears = 5
        /// Years of history the yearly entries are averaged over.
        public var entryYears = 3
        public var seed: UInt64 = 1
        public init() {}
    }

    /// What is projected for each output cell: people, people with major illness, and the
    /// activity and cost expected at today's rates.
    public enum Measure: Int, CaseIterable, Sendable {
        case people, majorIllness, emergencyAdmissions, aeAttendances, outpatientAttendances, electiveAdmissions, cost
    }

    /// Output cells: the seed's age band x LTC band x deprivation quintile, then the margins:
    /// everyone, each age band, each LTC band and each quintile. Margins are summed in every
    /// draw, so their intervals are those of the totals.
    public static let crossCells = AgeBand.allCases.count * LTCBand.allCases.count * ProjectionSpace.quintiles
    public static let everyone = crossCells
    public static func ageMargin(_ band: Int) -> Int { crossCells + 1 + band }
    public static func ltcMargin(_ band: Int) -> Int { crossCells + 1 + AgeBand.allCases.count + band }
    public static func quintileMargin(_ q: Int) -> Int {
        crossCells + 1 + AgeBand.allCases.count + LTCBand.allCases.count + q
    }
    public static let outputCells = quintileMargin(ProjectionSpace.quintiles)
    static let measures = Measure.allCases.count

    /// The age band, LTC band and quintile of an output cell; nil for a margin's "all".
    public static func parts(ofOutput c: Int) -> (age: Int?, ltc: Int?, quintile: Int?) {
        let ltcBands = LTCBand.allCases.count, quintiles = ProjectionSpace.quintiles
        if c < crossCells { return (c / (ltcBands * quintiles), c / quintiles % ltcBands, c % quintiles) }
        if c == everyone { return (nil, nil, nil) }
        if c < ltcMargin(0) { return (c - ageMargin(0), nil, nil) }
        if c < quintileMargin(0) { return (nil, c - ltcMargin(0), nil) }
        return (nil, nil, c - quintileMargin(0))
    }

    /// For each output cell, the cross cells that sum to it (a cross cell, itself).
    public static let members: [[Int]] = (0..<outputCells).map { c in
        (0..<crossCells).filter { margins(ofCross: $0).contains(c) }
    }

    /// The output cells a cross cell adds to: itself and its four margins.
    public static func margins(ofCross c: Int) -> [Int] {
        let (age, ltc, q) = parts(ofOutput: c)
        return [c, everyone, ageMargin(age!), ltcMargin(ltc!), quintileMargin(q!)]
    }

    /// A unit's projection: `central`, `lower` and `upper` by year (0 is the start), output cell
    /// and measure.
    public struct UnitProjection: Sendable {
        public var central: [Double]
        public var lower: [Double]
        public var upper: [Double]

        public func value(_ values: [Double], year: Int, cell: Int, _ measure: Measure) -> Double {
            values[(year * outputCells + cell) * measures + measure.rawValue]
        }
    }

    /// The output cell of a projection cell.
    public static func outputCell(_ cell: Int) -> Int {
        let (a, _, q, s) = ProjectionSpace.parts(cell)
        return (ProjectionSpace.seedAgeBand[a] * LTCBand.allCases.count + ProjectionSpace.ltcBand(s))
            * ProjectionSpace.quintiles + q
    }

    /// Today's yearly activity and cost per person, by the seed's age band and LTC band
    /// (the seed's segments): `rates[segment][measure]` for the activity measures.
    public struct Rates: Sendable {
        public var perPerson: [[Double]]

        /// Rates of `people` in the segments of their cells at as-of (`personCells`), so each
        /// person's state is not rebuilt again.
        public init(cells: [Int32], use: Utilisation, people: [Int]) {
            let segments = AgeBand.allCases.count * LTCBand.allCases.count
            var totals = [[Double]](repeating: [Double](repeating: 0, count: measures), count: segments)
            var counts = [Double](repeating: 0, count: segments)
            for p in people where cells[p] >= 0 {
                let segment = outputCell(Int(cells[p])) / ProjectionSpace.quintiles
                counts[segment] += 1
                totals[segment][Measure.emergencyAdmissions.rawValue] += Double(use.emergencyAdmissions[p])
                totals[segment][Measure.aeAttendances.rawValue] += Double(use.aeAttendances[p])
                totals[segment][Measure.outpatientAttendances.rawValue] += Double(use.outpatientAttendances[p])
                totals[segment][Measure.electiveAdmissions.rawValue] += Double(use.electiveAdmissions[p])
                totals[segment][Measure.cost.rawValue] += use.totalCost(p)
            }
            // A segment of fewer than `smallest` people takes its age band's rates (over every LTC
            // band), and an age band that small the whole population's: a rate of one or two
            // people would be their own use and cost.
            let bands = LTCBand.allCases.count
            var overallTotal = [Double](repeating: 0, count: measures), overall = 0.0
            for (total, n) in zip(totals, counts) {
                for m in 0..<measures { overallTotal[m] += total[m] }
                overall += n
            }
            perPerson = (0..<segments).map { segment in
                if counts[segment] >= Self.smallest { return totals[segment].map { $0 / counts[segment] } }
                let band = segment / bands * bands
                let n = counts[band..<band + bands].reduce(0, +)
                if n >= Self.smallest {
                    return (0..<measures).map { m in (band..<band + bands).reduce(0) { $0 + totals[$1][m] } / n }
                }
                return overallTotal.map { overall > 0 ? $0 / overall : 0 }
            }
        }

        /// The fewest people a rate is taken from.
        public static let smallest = 10.0
    }

    /// Each person's cell on a day, or -1 where they are not in the registered population then:
    /// worked out once, for every unit to sum.
    public static func personCells(
        _ population: Population, states: some StateHistory, people: some Sequence<Int>, on day: Day
    ) -> [Int32] {
        var out = [Int32](repeating: -1, count: population.count)
        for p in people where ProjectionSpace.present(p, in: population, on: day) {
            out[p] = Int32(ProjectionSpace.cell(of: p, in: population, states: states, on: day))
        }
        return out
    }

    /// The people of `people` in each cell, given every person's cell.
    public static func cells(_ personCells: [Int32], people: some Sequence<Int>) -> [Double] {
        var out = [Double](repeating: 0, count: ProjectionSpace.cells)
        for p in people where personCells[p] >= 0 { out[Int(personCells[p])] += 1 }
        return out
    }

    /// Projects each unit's starting cells with its yearly entries under each scenario (the
    /// baseline first): the central run and the interval of `options.draws` runs, by unit then
    /// scenario. Every scenario takes the same draws, so their differences are the scenarios'.
    public static func run(
        model: TransitionModel, starts: [[Double]], entries: [[Double]], entryYears: Int, rates: Rates,
        scenarios: [Scenario] = [Scenario(id: Scenario.baselineId, name: "Baseline")], options: Options
    ) -> [[UnitProjection]] {
        let baseDraws = Parallel.map(options.draws) { model.draw(seed: options.seed, $0) }
        // Each scenario's probabilities: the model's, with its changes in incidence.
        @Sendable func changed(_ p: [Float], _ scenario: Scenario) -> [Float] {
            var p = p
            for change in scenario.incidence { change.apply(to: &p) }
            return p
        }
        let central = scenarios.map { changed(model.mean.map(Float.init), $0) }
        let draws = scenarios.map { s in
            s.incidence.isEmpty ? baseDraws : Parallel.map(options.draws) { changed(baseDraws[$0], s) }
        }
        let tables = scenarios.map { Tables(rates: rates, later: $0.rates(from: rates)) }
        // Each unit's entries are scaled by a Gamma draw with mean 1 whose shape is the number
        // of entries the unit saw.
        @Sendable func factor(_ u: Int, _ d: Int) -> Double {
            var rng = Xoshiro(seed: options.seed, UInt64(d), 23 + UInt64(u) << 8)
            return rng.gamma(shape: max(1, entries[u].reduce(0, +) * Double(max(1, entryYears))))
        }
        return Parallel.map(starts.count) { u in
            scenarios.indices.map { v in
                let growth = scenarios[v].population?.growth
                let size = (options.years + 1) * outputCells * measures
                var middle = [Double](repeating: 0, count: size)
                project(
                    starts[u], entries[u], central[v], factor: 1, years: options.years, tables[v], growth: growth, into: &middle)
                var runs = [Float](repeating: 0, count: size * options.draws)
                var one = [Double](repeating: 0, count: size)
                for d in 0..<options.draws {
                    for i in one.indices { one[i] = 0 }
                    project(
                        starts[u], entries[u], draws[v][d], factor: factor(u, d), years: options.years, tables[v],
                        growth: growth, into: &one)
                    for i in 0..<size { runs[i * options.draws + d] = Float(one[i]) }
                }
                var lower = middle, upper = middle
                for i in 0..<size {
                    var values = runs[i * options.draws..<(i + 1) * options.draws].sorted()
                    if values.isEmpty { values = [Float(middle[i])] }
                    lower[i] = Double(values[Int((Double(values.count - 1) * 0.025).rounded())])
                    upper[i] = Double(values[Int((Double(values.count - 1) * 0.975).rounded())])
                }
                return UnitProjection(central: middle, lower: lower, upper: upper)
            }
        }
    }

    /// What each cell's step needs, worked out once.
    struct Tables: Sendable {
        /// Each cell's output cell.
        var outputOf: [Int]
        /// Each output cell with its margins, and its segment's activity rates: today's at the
        /// start, the scenario's from the first projected year.
        var targetsOf: [[Int]]
        var rateOf: [[Double]]
        var laterRateOf: [[Double]]
        /// The cell's first state in its band (state 0), and in the next band up (the same for
        /// the last band).
        var base: [Int]
        var older: [Int]
        var ageingOut: [Double]
        /// The state reached from each state by each non-fatal outcome.
        var next: [Int]

        init(rates: Rates, later: Rates? = nil) {
            let space = ProjectionSpace.self
            outputOf = (0..<space.cells).map(Projection.outputCell)
            targetsOf = (0..<crossCells).map(Projection.margins(ofCross:))
            func segments(_ rates: Rates) -> [[Double]] {
                (0..<crossCells).map { c in
                    let (age, ltc, _) = Projection.parts(ofOutput: c)
                    return rates.perPerson[age! * LTCBand.allCases.count + ltc!]
                }
            }
            rateOf = segments(rates)
            laterRateOf = segments(later ?? rates)
            base = (0..<space.cells).map { $0 - $0 % space.states }
            older = (0..<space.cells).map { cell in
                let a = space.parts(cell).age, b = cell - cell % space.states
                return a + 1 < space.ages ? b + space.sexes * space.quintiles * space.states : b
            }
            ageingOut = (0..<space.cells).map { space.ageingOut[space.parts($0).age] }
            next = (0..<space.states * space.death).map { space.next($0 / space.death, $0 % space.death) }
        }
    }

    /// One run: the yearly steps from the starting cells, summed into output cells each year.
    /// With `growth` (`PopulationConstraint.growth`), each year's people in each age band and sex
    /// are scaled to the start's times the growth.
    static func project(
        _ start: [Double], _ entries: [Double], _ p: [Float], factor: Double, years: Int, _ tables: Tables,
        growth: [Double]? = nil, into out: inout [Double]
    ) {
        let cells = ProjectionSpace.cells, o = ProjectionSpace.outcomes, moves = ProjectionSpace.death
        // The inner loop runs a billion times for a large board: through raw buffers, without
        // bounds checks (every index is a cell, a cell's outcome or a state, all within the
        // tables built for them).
        var now = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        var next = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        defer {
            now.deallocate()
            next.deallocate()
        }
        _ = now.initialize(from: start)
        next.initialize(repeating: 0)
        var cross = [Double](repeating: 0, count: crossCells * 2)
        record(0, UnsafeBufferPointer(now), tables, &cross, into: &out)
        guard years >= 1 else { return }
        p.withUnsafeBufferPointer { p in
            tables.base.withUnsafeBufferPointer { base in
                tables.older.withUnsafeBufferPointer { older in
                    tables.ageingOut.withUnsafeBufferPointer { ageing in
                        tables.next.withUnsafeBufferPointer { reached in
                            entries.withUnsafeBufferPointer { entries in
                                for year in 1...years {
                                    for i in 0..<cells { next[i] = entries[i] * factor }
                                    // A cell holding less than a millionth of a person is not
                                    // moved on: it never adds up to a person in any figure.
                                    for cell in 0..<cells where now[cell] > 1e-6 {
                                        let n = now[cell], up = ageing[cell], stay = base[cell], higher = older[cell]
                                        let s = cell - stay
                                        for k in 0..<moves {
                                            // Outcomes a state cannot have (major illness
                                            // begun twice) are exactly 0.
                                            let flow = n * Double(p[cell * o + k])
                                            guard flow > 0 else { continue }
                                            let to = reached[s * moves + k]
                                            next[stay + to] += flow * (1 - up)
                                            next[higher + to] += flow * up
                                        }
                                    }
                                    if let growth { follow(growth, year: year, from: start, &next) }
                                    swap(&now, &next)
                                    record(year, UnsafeBufferPointer(now), tables, &cross, into: &out)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Scales each age band and sex (a run of quintiles x states cells) to its people at the
    /// start times the year's growth. The start's count is taken rounded to 5, as every planning
    /// count is published, and a band and sex of fewer than 8 people keeps what the model gives
    /// it: a projection that followed the exact count would publish it times the file's growth.
    static func follow(_ growth: [Double], year: Int, from start: [Double], _ cells: inout UnsafeMutableBufferPointer<Double>) {
        let block = ProjectionSpace.quintiles * ProjectionSpace.states
        for b in 0..<(ProjectionSpace.ages * ProjectionSpace.sexes) {
            let range = b * block..<(b + 1) * block
            var base = 0.0, now = 0.0
            for i in range {
                base += start[i]
                now += cells[i]
            }
            guard now > 0, base >= 7.5 else { continue }
            let shown = ((base + 2.5) / 5).rounded(.down) * 5
            let scale = shown * growth[year * ProjectionSpace.ages * ProjectionSpace.sexes + b] / now
            for i in range { cells[i] *= scale }
        }
    }

    /// People and major illness summed into the output cells, then each output cell's activity at
    /// its segment's rates, then the margins from the output cells.
    static func record(
        _ year: Int, _ now: UnsafeBufferPointer<Double>, _ tables: Tables, _ cross: inout [Double],
        into out: inout [Double]
    ) {
        for i in cross.indices { cross[i] = 0 }
        for cell in 0..<now.count where now[cell] > 0 {
            let c = tables.outputOf[cell] * 2
            cross[c] += now[cell]
            if cell % 2 == 1 { cross[c + 1] += now[cell] }
        }
        for c in 0..<crossCells where cross[c * 2] > 0 {
            let people = cross[c * 2], major = cross[c * 2 + 1]
            let rate = year == 0 ? tables.rateOf[c] : tables.laterRateOf[c]
            for target in tables.targetsOf[c] {
                let base = (year * outputCells + target) * measures
                out[base] += people
                out[base + 1] += major
                for m in 2..<measures { out[base + m] += people * rate[m] }
            }
        }
    }
}

extension Projection.Rates {
    /// No activity: for runs that count people only.
    public static let none = Projection.Rates(
        perPerson: [[Double]](
            repeating: [Double](repeating: 0, count: Projection.measures), count: AgeBand.allCases.count * LTCBand.allCases.count)
    )

    public init(perPerson: [[Double]]) { self.perPerson = perPerson }
}

extension Projection {
    /// The method on the data's own past: estimated from the history before `yearsBack` years
    /// before as-of, started from the people registered then, projected to as-of, and compared
    /// with the people registered at as-of, by the seed's age bands and LTC bands (the whole
    /// organisation).
    public static func backtest(
        _ population: Population, states: some StateHistory, include: @escaping (Int) -> Bool, yearsBack: Int,
        options: Options
    ) -> ProjectionSummary.Backtest {
        let start = population.asOf.adding(months: -12 * yearsBack)
        let history = History.observe(
            population, states: states, before: start, years: options.historyYears, entryYears: options.entryYears,
            include: include)
        let people = (0..<population.count).filter(include)
        let first = cells(personCells(population, states: states, people: people, on: start), people: people)
        let observed = cells(personCells(population, states: states, people: people, on: population.asOf), people: people)
        var joined = [Double](repeating: 0, count: ProjectionSpace.cells)
        for practice in history.entries { for i in joined.indices { joined[i] += practice[i] } }
        let entries = joined
        // Each band's total in every draw, so the interval is the total's, not a sum of cells'.
        let model = TransitionModel(history)
        let tables = Tables(rates: .none)
        let size = (yearsBack + 1) * outputCells * measures
        let shape = max(1, entries.reduce(0, +) * Double(max(1, history.entryYears)))
        @Sendable func projected(_ p: [Float], factor: Double) -> [Double] {
            var out = [Double](repeating: 0, count: size)
            project(first, entries, p, factor: factor, years: yearsBack, tables, into: &out)
            return (0..<outputCells).map { out[(yearsBack * outputCells + $0) * measures] }
        }
        let central = projected(model.mean.map(Float.init), factor: 1)
        let runs = Parallel.map(options.draws) { d -> [Double] in
            var rng = Xoshiro(seed: options.seed, UInt64(d), 29)
            return projected(model.draw(seed: options.seed, d), factor: rng.gamma(shape: shape))
        }
        var bands: [ProjectionSummary.Backtest.Band] = []
        func band(_ breakdown: String, _ label: String, _ margin: Int) {
            let inMargin = Set(members[margin])
            let seen = observed.indices.filter { inMargin.contains(outputCell($0)) }.reduce(0) { $0 + observed[$1] }
            let totals = runs.map { $0[margin] }.sorted()
            let at = { (q: Double) in totals.isEmpty ? 0 : totals[Int((Double(totals.count - 1) * q).rounded())] }
            bands.append(
                .init(
                    breakdown: breakdown, band: label, observed: Int(seen), projected: central[margin], lower95: at(0.025),
                    upper95: at(0.975)))
        }
        for age in AgeBand.allCases { band("age", age.label, ageMargin(Int(age.rawValue))) }
        for ltc in LTCBand.allCases { band("ltc", ltc.label, ltcMargin(Int(ltc.rawValue))) }
        band("all", "all", everyone)
        return .init(yearsBack: yearsBack, bands: bands)
    }
}
