import Foundation
import Outputs
import PHMCore
import Testing

@testable import Projections

/// A population lived year by year under known rates, with each person's state changes dated.
struct SimulatedHistory: StateHistory {
    /// Each person's state changes: the day and the state from then on.
    var changes: [[(day: Day, state: Int)]]
    var initial: [Int]

    func state(_ person: Int, on day: Day) -> Int {
        var state = initial[person]
        for change in changes[person] where change.day < day { state = change.state }
        return state
    }
}

/// The documented yearly rates the simulation lives by: a condition gained with probability
/// 2% plus 0.6% per age band (0 to 19) and 1% more per condition held, capped at 30%, and a
/// tenth higher for each quintile more deprived than the least; major illness beginning with 8%
/// a year once two conditions are held; death with a Gompertz hazard in age raised 30% per
/// condition, and half as high again for men; leaving the area with 4%.
enum TrueRates {
    static func gain(_ band: Int, _ ltc: Int, quintile: Int) -> Double {
        min(0.3, 0.02 + 0.006 * Double(band) + 0.01 * Double(ltc)) * (1 + 0.1 * Double(5 - quintile))
    }
    static func major(_ ltc: Int) -> Double { ltc >= 2 ? 0.08 : 0 }
    static func death(_ band: Int, _ ltc: Int, male: Bool) -> Double {
        min(0.5, 0.0004 * exp(0.3 * Double(band)) * (1 + 0.3 * Double(ltc)) * (male ? 1.5 : 1))
    }
    static let exit = 0.04

    /// The probability of each outcome from a cell.
    static func outcomes(_ cell: Int) -> [Double] {
        let (band, sex, quintile, state) = ProjectionSpace.parts(cell)
        let ltc = state / 2, hasMajor = state % 2 == 1
        let die = death(band, ltc, male: sex == 1), leave = exit
        let alive = 1 - die - leave
        // At the cap of 9 or more conditions a condition gained leaves the state as it was.
        let g = ltc >= ProjectionSpace.ltcStates - 1 ? 0 : gain(band, ltc, quintile: quintile)
        let m = hasMajor ? 0 : major(ltc)
        var p = [Double](repeating: 0, count: ProjectionSpace.outcomes)
        p[0] = alive * (1 - g) * (1 - m)
        p[1] = alive * g * (1 - m)
        p[3] = alive * (1 - g) * m
        p[4] = alive * g * m
        p[ProjectionSpace.death] = die
        p[ProjectionSpace.exit] = leave
        return p
    }
}

func simulate(people n: Int, years: Int, seed: UInt64, asOf: Day) -> (Population, SimulatedHistory) {
    var areas = Areas()
    for d in 1...10 {
        areas.codes.append("E0100000\(d)")
        areas.imdDecile.append(UInt8(d))
        areas.imdScore.append(.nan)
    }
    var hierarchy = Hierarchy()
    hierarchy.addPractice(
        .init(code: "P1", name: "P1"), pcn: .init(code: "N1", name: "N1"), locality: .init(code: "L1", name: "L1"),
        organisation: .init(code: "O1", name: "O1"))
    var population = Population(asOf: asOf, hierarchy: hierarchy, areas: areas, codes: CodeTable())
    var history = SimulatedHistory(changes: [], initial: [])
    let start = asOf.adding(months: -12 * years)
    for i in 0..<n {
        var rng = Xoshiro(seed: seed, UInt64(i), 7)
        let ageAtStart = rng.int(0..<95)
        let age = ageAtStart + years
        let female = rng.chance(0.5)
        population.pseudonym.append("p\(i)")
        population.sex.append(female ? .female : .male)
        population.birthMonth.append(Int32((asOf.year - age) * 12 + asOf.civil.month - 2))
        population.practice.append(0)
        population.area.append(Int32(rng.int(0..<10)))
        population.ethnicGroup.append(.white)
        population.optedOut.append(false)
        population.registeredFrom.append(start.adding(months: -12))
        population.registeredSince.append(start.adding(months: -12))
        var ltc = min(9, Int(Double(ageAtStart) / 25 * rng.uniform() * 3)), major = ltc >= 3 && rng.chance(0.5)
        history.initial.append(ProjectionSpace.state(ltc: ltc, major: major))
        var changes: [(day: Day, state: Int)] = []
        var to = Day.max, death = Day.max
        for k in 0..<years {
            let yearStart = start.adding(months: 12 * k)
            let cell = ProjectionSpace.cell(
                age: ProjectionSpace.ageBand(population.age(of: i, on: yearStart)), sex: female ? 0 : 1,
                quintile: ProjectionSpace.quintile(decile: UInt8(population.area[i] + 1)),
                state: ProjectionSpace.state(ltc: ltc, major: major))
            let p = TrueRates.outcomes(cell)
            let u = rng.uniform()
            var cumulative = 0.0, outcome = 0
            for (k, q) in p.enumerated() {
                cumulative += q
                if u < cumulative {
                    outcome = k
                    break
                }
            }
            let day = yearStart.adding(days: 1 + rng.int(0..<360))
            if outcome == ProjectionSpace.death {
                death = day
                break
            }
            if outcome == ProjectionSpace.exit {
                to = day
                break
            }
            if outcome % 3 == 1 { ltc = min(9, ltc + 1) }
            if outcome >= 3 { major = true }
            if outcome != 0 { changes.append((day, ProjectionSpace.state(ltc: ltc, major: major))) }
        }
        population.registeredTo.append(to)
        population.death.append(death)
        population.age.append(Int16(population.age(of: i, on: min(asOf, death))))
        history.changes.append(changes)
    }
    return (population, history)
}

@Suite("Projection of multimorbidity")
struct ProjectionTests {
    static let asOf = Day(iso: "2025-04-01")!

    /// The observed yearly transitions of every cell seen in 400 or more person-years match the
    /// rates the population lived by (within four binomial standard errors); the model keeps the
    /// differences by sex and deprivation the rates have (its cells are not all pooled), and its
    /// 95% intervals for the best-observed cells cover the truth.
    @Test func recoversTheRatesItWasSimulatedWith() {
        let (population, states) = simulate(people: 60_000, years: 5, seed: 11, asOf: Self.asOf)
        let history = History.observe(
            population, states: states, before: Self.asOf, years: 5, entryYears: 3, include: { _ in true })
        let o = ProjectionSpace.outcomes
        var checked = 0
        for cell in 0..<ProjectionSpace.cells {
            let row = history.counts[cell * o..<(cell + 1) * o], n = row.reduce(0, +)
            guard n >= 400 else { continue }
            let truth = TrueRates.outcomes(cell)
            for k in [0, 1, ProjectionSpace.death, ProjectionSpace.exit] {
                let se = (truth[k] * (1 - truth[k]) / n).squareRoot()
                #expect(abs(row[cell * o + k] / n - truth[k]) <= 4 * se + 1e-9, "cell \(cell), outcome \(k)")
            }
            checked += 1
        }
        #expect(checked >= 60)

        // The model's draws bound the truth in the cells seen most.
        let model = TransitionModel(history)
        let draws = (0..<200).map { model.draw(seed: 3, $0) }
        var covered = 0, cells = 0
        let busiest = (0..<ProjectionSpace.cells).sorted {
            history.counts[$0 * o..<($0 + 1) * o].reduce(0, +) > history.counts[$1 * o..<($1 + 1) * o].reduce(0, +)
        }.prefix(100)
        for cell in busiest {
            let truth = TrueRates.outcomes(cell)[ProjectionSpace.death]
            let values = draws.map { Double($0[cell * o + ProjectionSpace.death]) }.sorted()
            if values[4] <= truth && truth <= values[195] { covered += 1 }
            cells += 1
        }
        // Cells of one age band and state share their group's draw, so misses come a group at a
        // time: most, not 95%, of these correlated cells are covered.
        #expect(Double(covered) / Double(cells) >= 0.75, "\(covered) of \(cells)")
        // Every well-observed cell's estimate is as near the truth as its own counts could put it.
        for cell in 0..<ProjectionSpace.cells {
            let n = history.counts[cell * o..<(cell + 1) * o].reduce(0, +)
            guard n >= 400 else { continue }
            let truth = TrueRates.outcomes(cell)
            for k in [0, ProjectionSpace.death, ProjectionSpace.exit] {
                let se = (truth[k] * (1 - truth[k]) / n).squareRoot()
                #expect(abs(model.mean[cell * o + k] - truth[k]) <= 4 * se + 1e-9, "cell \(cell), outcome \(k)")
            }
        }
    }

    /// Where the data show a difference (men dying at 3% a year, women at 2%, 100,000 person-years
    /// each), the model keeps it; where two cells differ no more than chance (40 people each at
    /// the same rate), it pools them.
    @Test func poolsOnlyWhatTheDataCannotTellApart() {
        let o = ProjectionSpace.outcomes
        var history = History(
            counts: [Double](repeating: 0, count: ProjectionSpace.cells * o), entries: [[]], personYears: 0, years: 1,
            entryYears: 1)
        func set(_ cell: Int, people: Double, deaths: Double) {
            history.counts[cell * o] = people - deaths
            history.counts[cell * o + ProjectionSpace.death] = deaths
        }
        let band = ProjectionSpace.ageBand(70)
        let women = ProjectionSpace.cell(age: band, sex: 0, quintile: 3, state: 2)
        let men = ProjectionSpace.cell(age: band, sex: 1, quintile: 3, state: 2)
        set(women, people: 100_000, deaths: 2_000)
        set(men, people: 100_000, deaths: 3_000)
        let young = ProjectionSpace.ageBand(30)
        let a = ProjectionSpace.cell(age: young, sex: 0, quintile: 1, state: 0)
        let b = ProjectionSpace.cell(age: young, sex: 0, quintile: 5, state: 0)
        set(a, people: 40, deaths: 0)
        set(b, people: 40, deaths: 1)
        let model = TransitionModel(history)
        let death = { (cell: Int) in model.mean[cell * o + ProjectionSpace.death] }
        #expect(abs(death(women) - 0.02) < 0.001 && abs(death(men) - 0.03) < 0.001)
        #expect(abs(death(a) - death(b)) < 0.2 * death(b), "\(death(a)) against \(death(b))")
    }

    /// One year of a closed population by hand: a cell of 1,000 people aged 40-44 with no
    /// conditions, with known probabilities and nobody joining, moves as the probabilities say,
    /// a fifth of the survivors reaching the next band.
    @Test func oneYearMovesPeopleAsTheProbabilitiesSay() throws {
        var history = History(
            counts: [Double](repeating: 0, count: ProjectionSpace.cells * ProjectionSpace.outcomes), entries: [[]],
            personYears: 0, years: 1, entryYears: 1)
        let band = ProjectionSpace.ageBand(42)
        let cell = ProjectionSpace.cell(age: band, sex: 0, quintile: 3, state: 0)
        // 1,000,000 people observed, so the prior hardly moves the cell's own rates.
        let observed: [Double] = [880_000, 80_000, 0, 20_000, 0, 0, 5_000, 15_000]
        for k in 0..<ProjectionSpace.outcomes { history.counts[cell * ProjectionSpace.outcomes + k] = observed[k] }
        let model = TransitionModel(history)
        var start = [Double](repeating: 0, count: ProjectionSpace.cells)
        start[cell] = 1000
        var options = Projection.Options()
        options.years = 1
        options.draws = 20
        let result = Projection.run(
            model: model, starts: [start], ages: [Projection.evenAges(start)],
            entries: [[Double](repeating: 0, count: ProjectionSpace.cells)],
            entryAges: [[Double](repeating: 0, count: ProjectionSpace.sexes * Projection.singleYears)],
            entryYears: 1, rates: .none, options: options)[0][0]
        let total = result.value(result.central, year: 1, cell: Projection.everyone, .people)
        let summed = (0..<Projection.crossCells).reduce(0.0) { $0 + result.value(result.central, year: 1, cell: $1, .people) }
        #expect(abs(total - summed) < 1e-6)
        #expect(abs(total - 1000 * (1 - 0.005 - 0.015)) < 0.1)
        let major = result.value(result.central, year: 1, cell: Projection.everyone, .majorIllness)
        #expect(abs(major - 1000 * 0.02) < 0.1)
        // 40-44 and 45-49 are both in the seed's 18-44 and 45-64 bands: a fifth moves up.
        let moved = result.value(result.central, year: 1, cell: Projection.ageMargin(2), .people)
        #expect(abs(moved - 980.0 / 5) < 0.1)
        // Year 0 is the start, with no uncertainty.
        #expect(result.value(result.lower, year: 0, cell: Projection.outputCell(cell), .people) == 1000)
        #expect(result.value(result.upper, year: 0, cell: Projection.outputCell(cell), .people) == 1000)
    }

    /// A history shorter than the years it is read over is noticed.
    @Test func noticesAHistoryShorterThanItIsReadOver() {
        let (short, _) = simulate(people: 200, years: 2, seed: 3, asOf: Self.asOf)
        #expect(History.begins(short, after: 5)?.description == "2022-04-01")
        let (long, _) = simulate(people: 200, years: 8, seed: 3, asOf: Self.asOf)
        #expect(History.begins(long, after: 5) == nil)
    }

    /// Projected from three years back, the simulated population at as-of is matched within 5% in
    /// every age band and in total.
    @Test func backtestOnTheSimulatedPopulation() {
        let (population, states) = simulate(people: 40_000, years: 8, seed: 5, asOf: Self.asOf)
        var options = Projection.Options()
        options.draws = 50
        let backtest = Projection.backtest(population, states: states, include: { _ in true }, yearsBack: 3, options: options)
        let all = backtest.bands.first { $0.breakdown == "all" }!
        #expect(abs(all.errorPct!) < 5, "\(all)")
        for band in backtest.bands where band.breakdown == "age" && band.observed! >= 2000 {
            #expect(abs(band.errorPct!) < 5, "\(band)")
        }
    }
}

/// The intervals' percentiles, kept as each draw is read, are those a full sort gives, with ties,
/// runs of equal values, sorted and reversed draws, and as few as one draw.
@Suite struct PercentileTests {
    @Test func selectionMatchesSorting() {
        var rng = Xoshiro(seed: 5, 1, 2)
        for draws in [1, 2, 3, 20, 199, 200] {
            let size = 150
            var runs = [Float](repeating: 0, count: draws * size)
            for d in 0..<draws {
                for i in 0..<size {
                    runs[d * size + i] =
                        switch i % 5 {
                        case 0: Float(rng.int(0..<4))  // many ties
                        case 1: Float(d)  // sorted
                        case 2: Float(draws - d)  // reversed
                        case 3: 7  // all equal
                        default: Float(rng.uniform() * 1000)
                        }
                }
            }
            var lower = [Double](repeating: -1, count: size), upper = lower
            Projection.percentiles(runs, draws: draws, lower: &lower, upper: &upper)
            for i in 0..<size {
                let sorted = (0..<draws).map { runs[$0 * size + i] }.sorted()
                let low = sorted[Int((Double(draws - 1) * 0.025).rounded())]
                let high = sorted[Int((Double(draws - 1) * 0.975).rounded())]
                #expect(lower[i] == Double(low) && upper[i] == Double(high), "\(draws) draws, value \(i)")
            }
        }
    }
}

/// People reach the next age band as their single years of age say, not as an even spread over
/// the band would: a band whose people are all in its last year moves up whole, and babies stay
/// in 0-4 for five years.
@Suite struct AgeingTests {
    /// Nobody dies, leaves or changes: only ageing moves anyone.
    static let still: [Float] = (0..<ProjectionSpace.cells * ProjectionSpace.outcomes).map {
        $0 % ProjectionSpace.outcomes == 0 ? 1 : 0
    }

    @Test func aBandInItsLastYearMovesUpWhole() {
        let band = ProjectionSpace.ageBand(15)
        var start = [Double](repeating: 0, count: ProjectionSpace.cells)
        start[ProjectionSpace.cell(age: band, sex: 0, quintile: 3, state: 0)] = 100
        var ages = [Double](repeating: 0, count: ProjectionSpace.sexes * Projection.singleYears)
        ages[17] = 100
        let none = [Double](repeating: 0, count: ProjectionSpace.cells)
        let size = 2 * Projection.outputCells * 7
        func adults(_ ages: [Double]) -> Double {
            var out = [Double](repeating: 0, count: size)
            Projection.project(
                start, ages: ages, none, entryAges: [Double](repeating: 0, count: ages.count), Self.still, factor: 1,
                years: 1, Projection.Tables(rates: .none), into: &out)
            return out[(Projection.outputCells + Projection.ageMargin(1)) * 7]
        }
        #expect(abs(adults(ages) - 100) < 1e-9)
        // Spread evenly over 15, 16 and 17, a third would have moved.
        #expect(abs(adults(Projection.evenAges(start)) - 100.0 / 3) < 1e-9)
    }

    @Test func babiesStayInTheirBandForFiveYears() {
        let years = Projection.singleYears
        var profile = Projection.AgeProfile([Double](repeating: 0, count: ProjectionSpace.sexes * years))
        var births = [Double](repeating: 0, count: ProjectionSpace.sexes * years)
        births[0] = 10
        let kept = [Double](repeating: 1, count: ProjectionSpace.ages * ProjectionSpace.sexes)
        for year in 1...6 {
            profile.advance(kept: kept, joined: births)
            // The share of 0-4 girls reaching 5 in the next year: none until the first year's
            // babies are 4.
            #expect(abs(profile.ageing[0] - (year >= 5 ? 0.2 : 0)) < 1e-12, "year \(year)")
        }
        #expect(profile.people[0..<5].allSatisfy { abs($0 - 10) < 1e-12 } && profile.people[5] == 10)
    }
}
