import Foundation
import Outputs
import PHMCore
import Pipeline
import Projections
import Synthesis
import TestSupport
import Testing

/// A synthetic population whose conditions and deaths ran forwards under `ForwardRates`, read
/// through the whole platform (files, linkage, the condition library, first-recorded dates): the
/// history the projection is estimated from shows the rates the population lived by, the model
/// fitted to it recovers them, and the backtest meets its goal.
@Suite(.serialized) struct ForwardHistoryTests {
    static let result: RunResult = {
        let folder = temporaryFolder("forward")
        var synthesis = SynthesisOptions(people: 40_000, seed: 19)
        synthesis.onsets = .forward
        synthesis.faultRate = 0
        _ = try! SyntheticHealthSystem.write(synthesis, to: folder.appendingPathComponent("in"))
        let key = folder.appendingPathComponent("pseudonymisation.key")
        try! Data((String(repeating: "f0", count: 32) + "\n").utf8).write(to: key)
        var options = RunOptions(
            input: folder.appendingPathComponent("in"), asOf: synthesis.asOf, output: folder.appendingPathComponent("out"),
            dataDirectory: folder.appendingPathComponent("data"), keyFile: key)
        options.projection.draws = 20
        return try! PipelineRun.execute(options)
    }()

    static var history: Projections.History {
        let prepared = result.prepared
        return History.observe(
            prepared.population, states: PersonStates(prepared.conditions, library: prepared.library),
            before: prepared.population.asOf, years: 5, entryYears: 3, include: { _ in true })
    }

    /// A group of cells, with what was seen in it and what the documented rates expect.
    struct Group {
        var seen = 0.0, expected = 0.0, variance = 0.0, people = 0.0

        mutating func add(people n: Double, seen: Double, rate: Double) {
            people += n
            self.seen += seen
            expected += n * rate
            variance += n * rate * (1 - rate)
        }

        /// Within four standard errors of what the rates expect.
        var agrees: Bool { abs(seen - expected) <= 4 * variance.squareRoot() + 1e-9 }
        /// Enough expected events (and non-events) for the normal approximation to judge.
        var judged: Bool { expected >= 10 && people - expected >= 10 }
    }

    /// The documented rates of a cell: gaining a condition among those who stayed, and dying.
    /// Nil for cells the rates do not fix exactly (unknown sex or deprivation, 9 or more
    /// conditions).
    static func rates(_ cell: Int) -> (gain: Double, death: Double)? {
        let (a, sex, quintile, state) = ProjectionSpace.parts(cell)
        let ltc = state / 2
        guard sex < 2, quintile > 0, ltc < ProjectionSpace.ltcStates - 1 else { return nil }
        let age = ProjectionSpace.ageEdges[a]
        return (
            ForwardRates.gain(age: age, female: sex == 0, quintile: quintile, conditions: ltc),
            ForwardRates.death(age: age, male: sex == 1, conditions: ltc)
        )
    }

    /// Deaths, and conditions gained by those who stayed, in groups by age band and sex, by
    /// quintile and by condition count, each against the rates summed over its cells.
    static func groups(_ counts: [Double]) -> (gain: [String: Group], death: [String: Group]) {
        let o = ProjectionSpace.outcomes
        var gain: [String: Group] = [:], death: [String: Group] = [:]
        for cell in 0..<ProjectionSpace.cells {
            guard let rates = rates(cell) else { continue }
            let row = Array(counts[cell * o..<(cell + 1) * o]), n = row.reduce(0, +)
            guard n > 0 else { continue }
            let (a, sex, quintile, state) = ProjectionSpace.parts(cell)
            let stayed = n - row[ProjectionSpace.death] - row[ProjectionSpace.exit]
            // A condition gained: the count rose by one or more, with or without major illness.
            let rose = row[1] + row[2] + row[4] + row[5]
            for key in ["age \(a) sex \(sex)", "quintile \(quintile)", "ltc \(state / 2)"] {
                gain[key, default: Group()].add(people: stayed, seen: rose, rate: rates.gain)
                death[key, default: Group()].add(people: n, seen: row[ProjectionSpace.death], rate: rates.death)
            }
        }
        return (gain, death)
    }

    /// The transitions the platform reads from the records match the rates, in every group
    /// in which the rates expect 10 or more events.
    @Test func theHistoryShowsTheRatesThePopulationLivedBy() {
        let (gain, death) = Self.groups(Self.history.counts)
        var checked = 0
        for (name, groups) in [("gain", gain), ("death", death)] {
            for (key, group) in groups where group.judged {
                #expect(group.agrees, "\(name) \(key): \(group.seen) seen, \(group.expected) expected")
                checked += 1
            }
        }
        #expect(checked >= 80)
    }

    /// The fitted model's probabilities, weighted by the person-years of each cell, match the
    /// rates as the counts do: pooling small cells does not pull them away.
    @Test func theModelRecoversTheRates() {
        let history = Self.history
        let model = TransitionModel(history)
        let o = ProjectionSpace.outcomes
        // The counts the model expects, in place of those seen.
        var fitted = history.counts
        for cell in 0..<ProjectionSpace.cells {
            let n = history.counts[cell * o..<(cell + 1) * o].reduce(0, +)
            for k in 0..<o { fitted[cell * o + k] = n * model.mean[cell * o + k] }
        }
        let (gain, death) = Self.groups(fitted)
        for (name, groups) in [("gain", gain), ("death", death)] {
            for (key, group) in groups where group.judged {
                #expect(group.agrees, "\(name) \(key): \(group.seen) fitted, \(group.expected) expected")
            }
        }
    }

    /// Projected from three years back, the population at as-of is matched within 5% in total
    /// and in every age band and LTC band of 2,000 people or more. Smaller bands vary by more
    /// than 5% by chance in three years, and the band of 8 or more conditions shrinks in this
    /// population faster than the entries of the years before show (projections.md).
    @Test func backtestMeetsItsGoal() {
        let prepared = Self.result.prepared
        var options = Projection.Options()
        options.draws = 20
        let backtest = Projection.backtest(
            prepared.population, states: PersonStates(prepared.conditions, library: prepared.library),
            include: { _ in true }, yearsBack: 3, options: options)
        for band in backtest.bands where band.observed! >= 2000 {
            #expect(abs(band.errorPct!) < 5, "\(band)")
        }
    }
}
