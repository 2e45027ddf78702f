import Conditions
import PHMCore

/// What the linked record says happened to people year by year before a date: for each person
/// registered at the start of a year, their cell then and what became of them by its end
/// (transitions), and the people who joined the registered population in each year (entries).
///
/// A person's state on a day is reconstructed from the conditions the library flags for them at
/// as-of and the day each was first recorded: the long-term conditions first recorded before the
/// day, and the Cambridge Multimorbidity Score of those conditions. Conditions only accumulate,
/// so a state never falls. Rules that look back over a window from as-of (cancer in the last 5
/// years, two eGFRs, repeat prescriptions) are judged at as-of, so a person who died or left
/// years before may miss one of those: the backtest measures what that costs.
public struct History: Sendable {
    /// Transitions by the cell a person was in at the start of the year, then outcome:
    /// `counts[cell * outcomes + outcome]`.
    public var counts: [Double]
    /// Entries by practice: `entries[practice][cell]`, per year (the mean over `entryYears`),
    /// in the cell the person was in at the end of the year they joined; and the same people by
    /// sex and single year of age then (`entryAges[practice][sex * Projection.singleYears +
    /// year]`), so that babies join at 0, not spread over 0 to 4.
    public var entries: [[Double]]
    public var entryAges: [[Double]]
    public var personYears: Int
    public var years: Int
    public var entryYears: Int
    /// For each tracked condition, the transitions in which it began, by what happened and what
    /// would have happened without it: `onsets[condition][(group * outcomes + outcome) *
    /// outcomes + without]`, a group being an age band and starting state
    /// (`age * states + state`). What a change in the condition's incidence does to a year's
    /// transitions ([Scenario](Scenario.swift)).
    public var onsets: [Int: [Double]]

    public init(
        counts: [Double], entries: [[Double]], entryAges: [[Double]] = [], personYears: Int, years: Int, entryYears: Int,
        onsets: [Int: [Double]] = [:]
    ) {
        self.counts = counts
        self.entries = entries
        self.entryAges = entryAges
        self.personYears = personYears
        self.years = years
        self.entryYears = entryYears
        self.onsets = onsets
    }

    /// Observes `years` years of transitions and `entryYears` years of entries before `end`.
    ///
    /// - Parameters:
    ///   - include: who may be counted (people with a National Data Opt-out are not).
    ///   - tracking: conditions whose onsets are counted with what they changed (`onsets`).
    public static func observe(
        _ population: Population, states: some StateHistory, before end: Day, years: Int, entryYears: Int,
        include: @Sendable (Int) -> Bool, tracking: [Int] = []
    ) -> History {
        // People are independent: the cores count contiguous shares of them, and the shares are
        // added. Every count is a whole number until the entries are divided by their years at
        // the end, so the sums are the same whatever the number of cores.
        let parts = Parallel.ranges(population.count, parts: 8)
        let counted = Parallel.map(parts.count) { part in
            observe(
                population, people: parts[part], states: states, before: end, years: years, entryYears: entryYears,
                include: include, tracking: tracking)
        }
        var total = counted[0]
        for part in counted.dropFirst() {
            add(part.counts, to: &total.counts)
            for i in part.entries.indices { add(part.entries[i], to: &total.entries[i]) }
            for i in part.entryAges.indices { add(part.entryAges[i], to: &total.entryAges[i]) }
            for (condition, values) in part.onsets { add(values, to: &total.onsets[condition, default: []]) }
            total.personYears += part.personYears
        }
        let perYear = 1 / Double(max(1, entryYears))
        for i in total.entries.indices {
            for c in total.entries[i].indices { total.entries[i][c] *= perYear }
            for a in total.entryAges[i].indices { total.entryAges[i][a] *= perYear }
        }
        return total
    }

    private static func add(_ values: [Double], to sum: inout [Double]) {
        if sum.isEmpty { sum = [Double](repeating: 0, count: values.count) }
        for i in values.indices { sum[i] += values[i] }
    }

    /// The history of the people in one range.
    private static func observe(
        _ population: Population, people: Range<Int>, states: some StateHistory, before end: Day, years: Int,
        entryYears: Int, include: (Int) -> Bool, tracking: [Int]
    ) -> History {
        let space = ProjectionSpace.self
        let o = space.outcomes
        var counts = [Double](repeating: 0, count: space.cells * o)
        var onsets = [[Double]](
            repeating: [Double](repeating: 0, count: space.ages * space.states * o * o), count: tracking.count)
        let slot = Dictionary(tracking.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var entries = [[Double]](
            repeating: [Double](repeating: 0, count: space.cells), count: population.hierarchy.practices.count)
        var entryAges = [[Double]](
            repeating: [Double](repeating: 0, count: space.sexes * Projection.singleYears),
            count: population.hierarchy.practices.count)
        let span = max(years, entryYears)
        let starts = (0...span).map { end.adding(months: -12 * $0) }
        var personYears = 0
        for p in people where include(p) {
            let since = population.since(p), to = population.registeredTo[p], death = population.death[p]
            let born = Day(firstOfMonth: population.birthMonth[p])
            func cell(on day: Day) -> Int { space.cell(of: p, in: population, states: states, on: day) }
            for k in stride(from: 1, through: span, by: 1) {
                let start = starts[k], stop = starts[k - 1]
                let there = { (day: Day) in born <= day && space.present(p, in: population, on: day) }
                // A person's first year after joining is left out of the transitions: conditions
                // coded in bulk at a new registration are not conditions gained that year.
                if k <= years, there(start), start >= since.adding(months: 12) || since < born.adding(months: 2) {
                    let from = cell(on: start)
                    let outcome: Int
                    // Registrations end, and lives end, before the day given (as `isRegistered`).
                    if death <= stop && death <= to {
                        outcome = space.death
                    } else if to <= stop {
                        outcome = space.exit
                    } else {
                        outcome = space.outcome(from: from % space.states, to: states.state(p, on: stop))
                        // A tracked condition first recorded in the year: the outcome it made,
                        // and the outcome its absence would have.
                        if !tracking.isEmpty {
                            for condition in states.began(p, from: start, to: stop) {
                                guard let t = slot[condition] else { continue }
                                let without = space.outcome(
                                    from: from % space.states, to: states.state(p, on: stop, without: condition))
                                let group = space.parts(from).age * space.states + from % space.states
                                onsets[t][(group * o + outcome) * o + without] += 1
                            }
                        }
                    }
                    counts[from * o + outcome] += 1
                    personYears += 1
                }
                if k <= entryYears, since >= start, since < stop, there(stop) {
                    // Counted whole here; divided by the years once every share is added.
                    let practice = Int(population.practice[p])
                    entries[practice][cell(on: stop)] += 1
                    let year = min(Projection.singleYears - 1, max(0, population.age(of: p, on: stop)))
                    entryAges[practice][space.sex(population.sex[p]) * Projection.singleYears + year] += 1
                }
            }
        }
        return History(
            counts: counts, entries: entries, entryAges: entryAges, personYears: personYears, years: years,
            entryYears: entryYears, onsets: Dictionary(uniqueKeysWithValues: zip(tracking, onsets)))
    }
}

extension History {
    /// The day the extract's records (coded events and registrations) begin, when that is later
    /// than `years` years before as-of: the history is shorter than it is read over.
    public static func begins(_ population: Population, after years: Int) -> Day? {
        let wanted = population.asOf.adding(months: -12 * years)
        var earliest = population.clinical.day.min() ?? .max
        for p in 0..<population.count { earliest = min(earliest, population.since(p)) }
        return earliest > wanted && earliest != .max ? earliest : nil
    }
}

/// A person's state (`ProjectionSpace.state`) on any day.
public protocol StateHistory: Sendable {
    func state(_ person: Int, on day: Day) -> Int
    /// The state the person would have been in without one condition.
    func state(_ person: Int, on day: Day, without condition: Int) -> Int
    /// The conditions first recorded for the person on or after `from` and before `to`.
    func began(_ person: Int, from: Day, to: Day) -> [Int]
}

extension StateHistory {
    /// A history that names no conditions has no onsets to take away.
    public func state(_ person: Int, on day: Day, without condition: Int) -> Int { state(person, on: day) }

    public func began(_ person: Int, from: Day, to: Day) -> [Int] { [] }
}

/// Each person's long-term conditions and major illness score over time, from the days their
/// flagged conditions were first recorded.
public struct PersonStates: StateHistory {
    let conditions: ConditionResults
    let isLTC: [Bool]
    /// The major illness score's weight of each condition (0 for none).
    let weight: [Double]
    /// The score major illness is read from, if the library has it.
    public let score: String?
    /// Above this score, a person has major illness.
    public static let majorIllness = 1.5
    /// The score *Health in 2040* reads major illness from: the Cambridge Multimorbidity Score
    /// with general-outcome weights (Payne et al., CMAJ 2020).
    public static let scoreId = "cms_general"

    public init(_ conditions: ConditionResults, library: ConditionLibrary) {
        self.conditions = conditions
        isLTC = library.conditions.map(\.isLTC)
        var weight = [Double](repeating: 0, count: library.conditions.count)
        let cms = library.scores.first { $0.id == Self.scoreId }
        for (condition, w) in cms?.weights ?? [] { weight[condition] = w }
        self.weight = weight
        score = cms?.id
    }

    /// The person's state on a day: their long-term conditions first recorded before it, and
    /// whether the score of the conditions first recorded before it is above 1.5.
    public func state(_ person: Int, on day: Day) -> Int { state(person, on: day, without: -1) }

    public func state(_ person: Int, on day: Day, without condition: Int) -> Int {
        var ltc = 0, score = 0.0
        for row in conditions.flaggedRows(of: person) where conditions.firstDay[row] < day {
            let c = Int(conditions.firstCondition[row])
            guard c != condition else { continue }
            if isLTC[c] { ltc += 1 }
            score += weight[c]
        }
        return ProjectionSpace.state(ltc: ltc, major: score > Self.majorIllness)
    }

    /// Whether each condition's onset can change a state: it is a long-term condition, or
    /// weighted in the major illness score.
    public static func changesState(in library: ConditionLibrary) -> [Bool] {
        let weighted = Set((library.scores.first { $0.id == scoreId }?.weights ?? []).filter { $0.weight != 0 }.map(\.condition))
        return library.conditions.indices.map { library.conditions[$0].isLTC || weighted.contains($0) }
    }

    public func began(_ person: Int, from: Day, to: Day) -> [Int] {
        conditions.flaggedRows(of: person).filter { conditions.firstDay[$0] >= from && conditions.firstDay[$0] < to }.map {
            Int(conditions.firstCondition[$0])
        }
    }

}
