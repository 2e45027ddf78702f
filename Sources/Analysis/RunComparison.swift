import Cohorts
import PHMCore

/// How a unit's people moved between the previous run and this one, matched by pseudonym (the
/// same key gives the same pseudonym): for each risk outcome a transition matrix over the tiers,
/// `not scored`, and `outside` (not among the unit's registered people without an opt-out in that
/// run: joined or left the unit, moved practice, died or opted out).
///
/// Units are matched by practice code, so a person's unit in the previous run is where their
/// practice of then sits in this run's hierarchy (the organisation alone for a practice that has
/// closed or merged since).
public struct RunComparison: Sendable {
    /// The states, in matrix order: the tiers low to very high, then these two.
    public static let states = PersonFrame.transitionStates
    public static let notScored = PersonFrame.tierIds.count
    public static let outside = notScored + 1

    public var outcomes: [String]
    /// `counts[unit][outcome][from * states.count + to]`; `outside` to `outside` is always 0.
    public var counts: [[[Int]]]
    /// People in both runs (anywhere), in this run only, in the previous run only.
    public var matched: Int
    public var joined: Int
    public var left: Int

    public init(previous: PersonFrame, current: PersonFrame, units: [PlanningUnit]) {
        let n = Self.states.count
        // The outcomes both runs scored.
        outcomes = current.risks.map(\.outcome).filter { o in previous.risks.contains { $0.outcome == o } }
        let currentRisk = outcomes.map { o in current.risks.first { $0.outcome == o }! }
        let previousRisk = outcomes.map { o in previous.risks.first { $0.outcome == o }! }
        // Each practice of this run's hierarchy: the units it is in.
        var unitsOfPractice = [[Int]](repeating: [], count: current.hierarchy.practices.count)
        for (u, unit) in units.enumerated() { for k in unit.practices { unitsOfPractice[k].append(u) } }
        let practiceIndex = Dictionary(
            current.hierarchy.practices.enumerated().map { ($1.code, $0) }, uniquingKeysWith: { a, _ in a })
        let previousPractice = previous.hierarchy.practices.map { practiceIndex[$0.code] ?? -1 }
        // A practice closed or merged since: its people were in the organisation, if in no unit below it.
        let organisation = units.indices.filter { units[$0].parent == nil }
        func unitsBefore(_ practice: Int32) -> [Int] {
            let k = previousPractice[Int(practice)]
            return k >= 0 ? unitsOfPractice[k] : organisation
        }

        var rowOfPrevious: [String: Int] = [:]
        rowOfPrevious.reserveCapacity(previous.count)
        for r in 0..<previous.count where !previous.optedOut[r] { rowOfPrevious[previous.pseudonym[r]] = r }
        var counts = [[[Int]]](
            repeating: [[Int]](repeating: [Int](repeating: 0, count: n * n), count: outcomes.count), count: units.count)
        func state(_ tier: Int8) -> Int { tier < 0 ? Self.notScored : Int(tier) }
        var seen = [Bool](repeating: false, count: previous.count)
        var matched = 0, joined = 0
        for r in 0..<current.count where !current.optedOut[r] {
            let now = unitsOfPractice[Int(current.practice[r])]
            let before: [Int]
            var previousRow: Int?
            if let p = rowOfPrevious[current.pseudonym[r]] {
                seen[p] = true
                previousRow = p
                matched += 1
                before = unitsBefore(previous.practice[p])
            } else {
                joined += 1
                before = []
            }
            // Each unit the person is in now or was in before, once.
            for u in now + before.filter({ !now.contains($0) }) {
                for o in outcomes.indices {
                    let to = now.contains(u) ? state(currentRisk[o].tier[r]) : Self.outside
                    let from =
                        previousRow.map { before.contains(u) ? state(previousRisk[o].tier[$0]) : Self.outside } ?? Self.outside
                    counts[u][o][from * n + to] += 1
                }
            }
        }
        var left = 0
        for p in 0..<previous.count where !previous.optedOut[p] && !seen[p] {
            left += 1
            for u in unitsBefore(previous.practice[p]) {
                for o in outcomes.indices { counts[u][o][state(previousRisk[o].tier[p]) * n + Self.outside] += 1 }
            }
        }
        self.counts = counts
        self.matched = matched
        self.joined = joined
        self.left = left
    }
}
