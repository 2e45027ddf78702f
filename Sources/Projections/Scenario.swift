import Conditions
import Foundation
import Outputs
import PHMCore

/// What a projection is run under: the baseline (the data's own rates), or a scenario that
/// changes the incidence of named conditions, the activity rates of segments, or the population
/// the projection follows. Every scenario runs on the same draws as the baseline, so the
/// difference between them is the scenario's, not chance's.
public struct Scenario: Sendable {
    public var id: String
    public var name: String
    /// Changes in the yearly onsets of named conditions.
    public var incidence: [IncidenceChange] = []
    /// Changes in activity and cost per person, by segment, from the first projected year.
    public var activity: [ActivityChange] = []
    /// The official projection whose growth by age band and sex the population follows.
    public var population: PopulationConstraint?

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }

    public static let baselineId = "baseline"

    /// Activity and cost per person in the projected years: today's, with the scenario's changes.
    public func rates(from today: Projection.Rates) -> Projection.Rates {
        var rates = today
        for change in activity { change.apply(to: &rates) }
        return rates
    }

    /// What the scenario changes, in words.
    public var changes: [String] {
        func percent(_ x: Double) -> String { String(format: "%+g%%", (x * 1000).rounded() / 10) }
        return incidence.map { "onsets of \($0.condition) \(percent($0.change))" }
            + activity.map { a in
                let segment = [a.ageBand.map { "aged \($0.label)" }, a.ltcBand.map { "with \($0.label) LTCs" }].compactMap { $0 }
                return "\(a.measure.words) per person \(percent(a.change))"
                    + (segment.isEmpty ? "" : " for people " + segment.joined(separator: " "))
            } + (population.map { ["population following \($0.file)"] } ?? [])
    }
}

/// A change in how many people begin a condition each year: `change` -0.1 for a tenth fewer.
///
/// The history records, for each transition in which the condition was first recorded, the
/// outcome that happened and the outcome its absence would have made (one condition fewer, and
/// major illness perhaps not begun). A tenth fewer onsets moves a tenth of each such share of a
/// cell's probability from what happened to what would have; a tenth more moves the same
/// amount the other way, as far as the other outcome's probability allows. The shares are
/// those of the cell's age band and starting state (over sexes and quintiles). Later years
/// follow: people kept in a lower state go on at that state's rates. What is left out: the
/// condition's own effect on death beyond the state it changes.
public struct IncidenceChange: Sendable {
    public var condition: String
    public var change: Double
    /// Per group (age band and state), outcome and outcome without the condition: the share of
    /// the group's transitions with that outcome in which the condition began.
    let shares: [Float]

    public init(condition: String, index: Int, change: Double, history: History) {
        self.condition = condition
        self.change = change
        let space = ProjectionSpace.self, o = space.outcomes, groups = space.ages * space.states
        var outcomes = [Double](repeating: 0, count: groups * o)
        for cell in 0..<space.cells {
            let (a, _, _, s) = space.parts(cell)
            for k in 0..<o { outcomes[(a * space.states + s) * o + k] += history.counts[cell * o + k] }
        }
        let onsets = history.onsets[index] ?? []
        shares = (0..<groups * o * o).map { i in
            let total = outcomes[i / o]
            return i < onsets.count && total > 0 ? Float(onsets[i] / total) : 0
        }
    }

    /// Whether the history saw the condition begin at all: without onsets a change in them
    /// changes nothing.
    public var seen: Bool { shares.contains { $0 > 0 } }

    /// Changes every cell's outcome probabilities (a model's mean or one draw) in place.
    public func apply(to p: inout [Float]) {
        let space = ProjectionSpace.self, o = space.outcomes
        let removed = Float(-change)
        for cell in 0..<space.cells {
            let (a, _, _, s) = space.parts(cell)
            let group = (a * space.states + s) * o * o, at = cell * o
            for k in 0..<space.death {
                let from = p[at + k]
                guard from > 0 else { continue }
                for j in 0..<space.death where j != k {
                    let share = shares[group + k * o + j]
                    guard share > 0 else { continue }
                    // Positive: onsets taken away; negative: onsets added, from those who
                    // would otherwise not have begun the condition.
                    let moved = max(-p[at + j], min(p[at + k], removed * from * share))
                    p[at + k] -= moved
                    p[at + j] += moved
                }
            }
        }
    }
}

/// A change in activity or cost per person: `change` 0.1 for a tenth more, in the segments it
/// names (every age band or LTC band when it names none).
public struct ActivityChange: Sendable {
    public var measure: Projection.Measure
    public var change: Double
    public var ageBand: AgeBand?
    public var ltcBand: LTCBand?

    public init(measure: Projection.Measure, change: Double, ageBand: AgeBand? = nil, ltcBand: LTCBand? = nil) {
        self.measure = measure
        self.change = change
        self.ageBand = ageBand
        self.ltcBand = ltcBand
    }

    public func apply(to rates: inout Projection.Rates) {
        let bands = LTCBand.allCases.count
        for segment in rates.perPerson.indices {
            let age = AgeBand.allCases[segment / bands], ltc = LTCBand.allCases[segment % bands]
            guard ageBand.map({ $0 == age }) ?? true, ltcBand.map({ $0 == ltc }) ?? true else { continue }
            rates.perPerson[segment][measure.rawValue] *= 1 + change
        }
    }
}

/// An official projection's growth by age band and sex, each year against the year of as-of:
/// a unit's projected people in each age band and sex are scaled every year to its own people
/// at as-of times that growth (the unit keeps its own size and mix; the file gives the change).
public struct PopulationConstraint: Sendable {
    /// The file it was read from (its name only).
    public var file: String
    /// `growth[(year * ages + age) * sexes + sex]`, year 0 being as-of (1).
    public var growth: [Double]
    public var years: Int

    public init(file: String, growth: [Double], years: Int) {
        self.file = file
        self.growth = growth
        self.years = years
    }
}

extension Projection.Measure {
    /// The measure's column in `projections.csv`, and its name in words.
    public var column: String { ProjectionRow.measures[rawValue].column }
    public var words: String { ProjectionRow.measures[rawValue].words }

    /// The measures a scenario can change the rates of: activity and cost, not people.
    public static let activity = allCases.filter { $0.rawValue >= emergencyAdmissions.rawValue }
}
