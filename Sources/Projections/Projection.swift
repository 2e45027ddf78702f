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

    /// Projects each unit's starting cells (and their people by sex and single year of age,
    /// `ages`) with its yearly entries (and theirs, `entryAges`) under each scenario (the
    /// baseline first): the central run and the interval of `options.draws` runs, by unit then
    /// scenario. Every scenario takes the same draws, so their differences are the scenarios'.
    public static func run(
        model: TransitionModel, starts: [[Double]], ages: [[Double]], entries: [[Double]], entryAges: [[Double]],
        entryYears: Int, rates: Rates, scenarios: [Scenario] = [Scenario(id: Scenario.baselineId, name: "Baseline")],
        options: Options
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
                    starts[u], ages: ages[u], entries[u], entryAges: entryAges[u], central[v], factor: 1,
                    years: options.years, tables[v], growth: growth, into: &middle)
                // Draw by draw, then each value's draws gathered a few dozen values at a time.
                var runs = [Float](repeating: 0, count: size * options.draws)
                var one = [Double](repeating: 0, count: size)
                for d in 0..<options.draws {
                    for i in one.indices { one[i] = 0 }
                    project(
                        starts[u], ages: ages[u], entries[u], entryAges: entryAges[u], draws[v][d],
                        factor: factor(u, d), years: options.years, tables[v], growth: growth, into: &one)
                    for i in 0..<size { runs[d * size + i] = Float(one[i]) }
                }
                var lower = middle, upper = middle
                percentiles(runs, draws: options.draws, lower: &lower, upper: &upper)
                return UnitProjection(central: middle, lower: lower, upper: upper)
            }
        }
    }

    /// The 2.5th and 97.5th percentiles of each value over the draws (`runs[draw * size + value]`);
    /// with no draws, `lower` and `upper` stay as they are.
    static func percentiles(_ runs: [Float], draws: Int, lower: inout [Double], upper: inout [Double]) {
        guard draws > 0 else { return }
        let size = lower.count, chunk = 64
        let low = Int((Double(draws - 1) * 0.025).rounded()), high = Int((Double(draws - 1) * 0.975).rounded())
        // The `low + 1` smallest draws, and the `draws - high` largest, kept in order as each
        // draw is read: a few comparisons for most draws, where sorting all of them, or
        // partitioning them twice, costs many more.
        var smallest = [Float](repeating: 0, count: low + 1), largest = [Float](repeating: 0, count: draws - high)
        var gathered = [Float](repeating: 0, count: chunk * draws)
        for first in stride(from: 0, to: size, by: chunk) {
            let last = min(size, first + chunk)
            for d in 0..<draws {
                for i in first..<last { gathered[(i - first) * draws + d] = runs[d * size + i] }
            }
            for i in first..<last {
                var small = 0, large = 0
                for d in 0..<draws {
                    let v = gathered[(i - first) * draws + d]
                    keep(v, in: &smallest, count: &small, before: <)
                    keep(v, in: &largest, count: &large, before: >)
                }
                lower[i] = Double(smallest[low])
                upper[i] = Double(largest[draws - 1 - high])
            }
        }
    }

    /// Puts `value` in its place among the first `count` of `kept` (in the order `before`
    /// gives), keeping at most `kept.count` of them.
    @inline(__always)
    static func keep(_ value: Float, in kept: inout [Float], count: inout Int, before: (Float, Float) -> Bool) {
        if count == kept.count {
            guard before(value, kept[count - 1]) else { return }
        } else {
            count += 1
        }
        var k = count - 1
        while k > 0 && before(value, kept[k - 1]) {
            kept[k] = kept[k - 1]
            k -= 1
        }
        kept[k] = value
    }

    /// What each year's step needs, worked out once.
    ///
    /// The step works on the cells ordered by state first (`s * blocks + b`, where a block is an
    /// age band, sex and quintile), not in `ProjectionSpace`'s order: every person in state `s`
    /// whose outcome is `k` reaches the same state, so each (state, outcome) pair moves a run of
    /// `blocks` adjacent cells to another adjacent run, a loop the compiler turns into vector
    /// instructions with no table looked up per cell. Ageing follows as a pass of its own.
    struct Tables: Sendable {
        static let blocks = ProjectionSpace.ages * ProjectionSpace.sexes * ProjectionSpace.quintiles
        /// How far the next age band's block is from a block.
        static let ageStep = ProjectionSpace.sexes * ProjectionSpace.quintiles

        /// Each output cell with its margins (`targets` of them), and its segment's activity
        /// rates by measure: today's at the start, the scenario's from the first projected year.
        static let targets = 5
        var targets: [Int]
        var rates: [Double]
        var laterRates: [Double]
        /// The output cell of each cell, in the step's order.
        var outputOf: [Int]
        /// Every (state, non-fatal outcome) pair, and the state it reaches.
        var moves: [(from: Int, outcome: Int, to: Int)]

        init(rates: Rates, later: Rates? = nil) {
            let space = ProjectionSpace.self
            targets = (0..<crossCells).flatMap(Projection.margins(ofCross:))
            func segments(_ rates: Rates) -> [Double] {
                (0..<crossCells).flatMap { c in
                    let (age, ltc, _) = Projection.parts(ofOutput: c)
                    return rates.perPerson[age! * LTCBand.allCases.count + ltc!]
                }
            }
            self.rates = segments(rates)
            laterRates = segments(later ?? rates)
            outputOf = (0..<space.cells).map { i in Projection.outputCell(Self.cell(i)) }
            moves = (0..<space.states).flatMap { s in (0..<space.death).map { k in (s, k, space.next(s, k)) } }
        }

        /// The `ProjectionSpace` cell at a position of the step's order.
        static func cell(_ i: Int) -> Int { i % blocks * ProjectionSpace.states + i / blocks }
    }

    /// Single years of age: 0 to 89, and 90 or over.
    public static let singleYears = 91

    /// The single years of an age band (the last band's run to 90 or over).
    static func years(ofBand a: Int) -> Range<Int> {
        ProjectionSpace.ageEdges[a]..<(a + 1 < ProjectionSpace.ages ? ProjectionSpace.ageEdges[a + 1] : singleYears)
    }

    /// The people of `people` present on a day by sex and single year of age
    /// (`sex * singleYears + year`): how each age band is spread over its years, which decides
    /// how many of it reach the next band each year.
    public static func ages(_ population: Population, people: some Sequence<Int>, on day: Day) -> [Double] {
        var out = [Double](repeating: 0, count: ProjectionSpace.sexes * singleYears)
        for p in people where ProjectionSpace.present(p, in: population, on: day) {
            let year = min(singleYears - 1, max(0, population.age(of: p, on: day)))
            out[ProjectionSpace.sex(population.sex[p]) * singleYears + year] += 1
        }
        return out
    }

    /// People spread evenly over the single years of their age bands: for cells whose people's
    /// ages are not known (a projection basis kept before ages were).
    public static func evenAges(_ cells: [Double]) -> [Double] {
        let space = ProjectionSpace.self
        var out = [Double](repeating: 0, count: space.sexes * singleYears)
        for cell in cells.indices where cells[cell] > 0 {
            let (a, sex, _, _) = space.parts(cell), years = Projection.years(ofBand: a)
            for year in years { out[sex * singleYears + year] += cells[cell] / Double(years.count) }
        }
        return out
    }

    /// Each sex's people by single year of age, moved on a year at a time beside the cells: a
    /// band's share reaching the next band in a year is its share in its last year of age, where
    /// an even spread over the band's years (a fifth of a five-year band) would age a large
    /// cohort, or a small one, out of its band at the wrong pace, and babies out of 0-4 after a
    /// year rather than five.
    struct AgeProfile {
        var people: [Double]
        /// The share of each age band and sex reaching the next band this year.
        var ageing: [Double]

        init(_ people: [Double]) {
            self.people = people
            ageing = [Double](repeating: 0, count: ProjectionSpace.ages * ProjectionSpace.sexes)
            shares()
        }

        private mutating func shares() {
            let space = ProjectionSpace.self
            // Nobody leaves the open last band by ageing.
            for a in 0..<(space.ages - 1) {
                let years = Projection.years(ofBand: a)
                for sex in 0..<space.sexes {
                    let base = sex * Projection.singleYears
                    var total = 0.0
                    for year in years { total += people[base + year] }
                    ageing[a * space.sexes + sex] =
                        total > 0 ? people[base + years.upperBound - 1] / total : 1 / Double(years.count)
                }
            }
        }

        /// A year on: each single year of age takes the year below it, kept in the proportion its
        /// band and sex survived and stayed (`kept`, by band and sex), and those who joined are
        /// added at their ages (`joined`, by sex and single year).
        mutating func advance(kept: [Double], joined: [Double]) {
            let space = ProjectionSpace.self, years = Projection.singleYears
            for sex in 0..<space.sexes {
                let base = sex * years
                let band = { (year: Int) in Self.band[year] * space.sexes + sex }
                let oldest = people[base + years - 1] * kept[band(years - 1)]
                for year in stride(from: years - 1, through: 1, by: -1) {
                    people[base + year] = people[base + year - 1] * kept[band(year - 1)]
                }
                people[base + years - 1] += oldest
                people[base] = 0
            }
            for i in people.indices { people[i] += joined[i] }
            shares()
        }

        /// The age band of each single year.
        static let band = (0..<Projection.singleYears).map(ProjectionSpace.ageBand)

        /// Scales an age band and sex, as `follow` scales its cells.
        mutating func scale(band a: Int, sex: Int, by factor: Double) {
            for year in Projection.years(ofBand: a) { people[sex * Projection.singleYears + year] *= factor }
        }
    }

    /// One run: the yearly steps from the starting cells (`start`, with its people by single year
    /// of age `ages`), summed into output cells each year. With `growth`
    /// (`PopulationConstraint.growth`), each year's people in each age band and sex are scaled to
    /// the start's times the growth.
    static func project(
        _ start: [Double], ages: [Double], _ entries: [Double], entryAges: [Double], _ p: [Float], factor: Double,
        years: Int, _ tables: Tables, growth: [Double]? = nil, into out: inout [Double]
    ) {
        let space = ProjectionSpace.self
        let cells = space.cells, o = space.outcomes, blocks = Tables.blocks, states = space.states
        let shift = Tables.ageStep, quintiles = space.quintiles, bands = space.ages * space.sexes
        // Only the moves some block can make: outcomes a state cannot have (major illness begun
        // twice, a count above the cap) have probability 0 throughout.
        let moves = tables.moves.filter { move in
            (0..<blocks).contains { b in p[(b * states + move.from) * o + move.outcome] > 0 }
        }
        // The loops run billions of times for a large board: through raw buffers, without bounds
        // checks (every index is a position within the buffers allocated for it).
        var now = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        var next = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        let joining = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        let chance = UnsafeMutableBufferPointer<Double>.allocate(capacity: moves.count * blocks)
        defer {
            for buffer in [now, next, joining, chance] { buffer.deallocate() }
        }
        for i in 0..<cells {
            let cell = Tables.cell(i)
            now[i] = start[cell]
            joining[i] = entries[cell] * factor
        }
        let joined = entryAges.map { $0 * factor }
        for (m, move) in moves.enumerated() {
            for b in 0..<blocks { chance[m * blocks + b] = Double(p[(b * states + move.from) * o + move.outcome]) }
        }
        var profile = AgeProfile(ages)
        var before = [Double](repeating: 0, count: bands), after = before, kept = before
        var cross = [Double](repeating: 0, count: crossCells * 2)
        record(0, UnsafeBufferPointer(now), tables, &cross, into: &out)
        guard years >= 1 else { return }
        /// The people of each age band and sex: every state's blocks added (a vector loop), then
        /// each band and sex's quintiles.
        var byBlock = [Double](repeating: 0, count: blocks)
        func sum(_ cells: UnsafeMutableBufferPointer<Double>, into totals: inout [Double]) {
            byBlock.withUnsafeMutableBufferPointer { acc in
                acc.update(repeating: 0)
                for s in 0..<states {
                    let source = cells.baseAddress! + s * blocks
                    for b in 0..<blocks { acc[b] += source[b] }
                }
                for band in 0..<bands {
                    var total = 0.0
                    for q in 0..<quintiles { total += acc[band * quintiles + q] }
                    totals[band] = total
                }
            }
        }
        let add = joining.baseAddress!, chances = chance.baseAddress!
        for year in 1...years {
            let from = now.baseAddress!, to = next.baseAddress!
            to.update(repeating: 0, count: cells)
            for (m, move) in moves.enumerated() {
                let source = from + move.from * blocks, target = to + move.to * blocks, q = chances + m * blocks
                for b in 0..<blocks { target[b] += source[b] * q[b] }
            }
            sum(now, into: &before)
            sum(next, into: &after)
            // Ageing, from the oldest band down, so nobody moves up twice in a year.
            for band in stride(from: bands - shift / quintiles - 1, through: 0, by: -1) {
                let up = profile.ageing[band]
                guard up > 0 else { continue }
                for s in 0..<states {
                    let first = s * blocks + band * quintiles
                    for i in first..<first + quintiles {
                        let moved = to[i] * up
                        to[i] -= moved
                        to[i + shift] += moved
                    }
                }
            }
            for i in 0..<cells { to[i] += add[i] }
            for i in 0..<bands { kept[i] = before[i] > 0 ? after[i] / before[i] : 0 }
            profile.advance(kept: kept, joined: joined)
            if let growth { follow(growth, year: year, from: start, &next, profile: &profile) }
            swap(&now, &next)
            record(year, UnsafeBufferPointer(now), tables, &cross, into: &out)
        }
    }

    /// Scales each age band and sex (its quintiles' cells in every state, and its single years of
    /// age in `profile`) to its people at the start times the year's growth. The start's count is
    /// taken rounded to 5, as every planning count is published, and a band and sex of fewer than
    /// 8 people keeps what the model gives it: a projection that followed the exact count would
    /// publish it times the file's growth.
    static func follow(
        _ growth: [Double], year: Int, from start: [Double], _ cells: inout UnsafeMutableBufferPointer<Double>,
        profile: inout AgeProfile
    ) {
        let quintiles = ProjectionSpace.quintiles, states = ProjectionSpace.states, blocks = Tables.blocks
        for b in 0..<(ProjectionSpace.ages * ProjectionSpace.sexes) {
            var base = 0.0, now = 0.0
            for i in b * quintiles * states..<(b + 1) * quintiles * states { base += start[i] }
            for s in 0..<states {
                for q in 0..<quintiles { now += cells[s * blocks + b * quintiles + q] }
            }
            guard now > 0, base >= 7.5 else { continue }
            let shown = ((base + 2.5) / 5).rounded(.down) * 5
            let scale = shown * growth[year * ProjectionSpace.ages * ProjectionSpace.sexes + b] / now
            for s in 0..<states {
                for q in 0..<quintiles { cells[s * blocks + b * quintiles + q] *= scale }
            }
            profile.scale(band: b / ProjectionSpace.sexes, sex: b % ProjectionSpace.sexes, by: scale)
        }
    }

    /// People and major illness summed into the output cells, then each output cell's activity at
    /// its segment's rates, then the margins from the output cells. `now` is in the step's order.
    static func record(
        _ year: Int, _ now: UnsafeBufferPointer<Double>, _ tables: Tables, _ cross: inout [Double],
        into out: inout [Double]
    ) {
        let blocks = Tables.blocks, targets = Tables.targets
        let rates = year == 0 ? tables.rates : tables.laterRates
        cross.withUnsafeMutableBufferPointer { cross in
            tables.outputOf.withUnsafeBufferPointer { outputOf in
                tables.targets.withUnsafeBufferPointer { targetsOf in
                    rates.withUnsafeBufferPointer { rates in
                        out.withUnsafeMutableBufferPointer { out in
                            cross.update(repeating: 0)
                            for s in 0..<ProjectionSpace.states {
                                // Odd states are those with major illness.
                                let major = s % 2 == 1
                                for i in s * blocks..<(s + 1) * blocks where now[i] > 0 {
                                    let c = outputOf[i] * 2
                                    cross[c] += now[i]
                                    if major { cross[c + 1] += now[i] }
                                }
                            }
                            for c in 0..<crossCells where cross[c * 2] > 0 {
                                let people = cross[c * 2], major = cross[c * 2 + 1]
                                for t in 0..<targets {
                                    let base = (year * outputCells + targetsOf[c * targets + t]) * measures
                                    out[base] += people
                                    out[base + 1] += major
                                    for m in 2..<measures { out[base + m] += people * rates[c * measures + m] }
                                }
                            }
                        }
                    }
                }
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
        _ population: Population, states: some StateHistory, include: @escaping @Sendable (Int) -> Bool, yearsBack: Int,
        options: Options
    ) -> ProjectionSummary.Backtest {
        let start = population.asOf.adding(months: -12 * yearsBack)
        let history = History.observe(
            population, states: states, before: start, years: options.historyYears, entryYears: options.entryYears,
            include: include)
        let people = (0..<population.count).filter(include)
        let first = cells(personCells(population, states: states, people: people, on: start), people: people)
        let firstAges = ages(population, people: people, on: start)
        let observed = cells(personCells(population, states: states, people: people, on: population.asOf), people: people)
        var joined = [Double](repeating: 0, count: ProjectionSpace.cells)
        for practice in history.entries { for i in joined.indices { joined[i] += practice[i] } }
        let entries = joined
        var joinedAges = [Double](repeating: 0, count: ProjectionSpace.sexes * singleYears)
        for practice in history.entryAges { for i in joinedAges.indices { joinedAges[i] += practice[i] } }
        let entryAges = joinedAges
        // Each band's total in every draw, so the interval is the total's, not a sum of cells'.
        let model = TransitionModel(history)
        let tables = Tables(rates: .none)
        let size = (yearsBack + 1) * outputCells * measures
        let shape = max(1, entries.reduce(0, +) * Double(max(1, history.entryYears)))
        @Sendable func projected(_ p: [Float], factor: Double) -> [Double] {
            var out = [Double](repeating: 0, count: size)
            project(
                first, ages: firstAges, entries, entryAges: entryAges, p, factor: factor, years: yearsBack, tables,
                into: &out)
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
