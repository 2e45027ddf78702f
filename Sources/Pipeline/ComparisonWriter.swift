import Analysis
import Cohorts
import Foundation
import Outputs
import PHMCore
import Risk
import Storage

/// Compares a run with the previous one that succeeded in the data directory, through their
/// frames: `tier-transitions.csv` for every unit, and the changes `run.json` reports.
enum ComparisonWriter {
    /// Below this share of people matched, the two runs' pseudonyms are likely from different keys.
    static let lowMatch = 0.5

    /// The run this one is compared with: of the runs that succeeded with an earlier as-of date
    /// and still have a frame, the latest date's newest run (a month run again replaces its first
    /// run). Nil when there is none.
    static func previousRun(_ dataDirectory: URL, before asOf: Day) throws -> Int64? {
        let store = try RunStore(directory: dataDirectory)
        let earlier = try store.runs().filter { $0.status == "succeeded" && $0.asOf < asOf.description }
        let framed = Set(FrameFile.runs(dataDirectory: dataDirectory))
        return earlier.filter { $0.id.map(framed.contains) ?? false }.max { ($0.asOf, $0.id ?? 0) < ($1.asOf, $1.id ?? 0) }?.id
    }

    /// A run's frame for a purpose: its own variant when it saved one, else its planning frame.
    static func frame(_ dataDirectory: URL, run: Int64, variant: String? = nil) throws -> PersonFrame {
        let specific = variant.map { FrameFile.url(dataDirectory: dataDirectory, run: run, variant: $0) }
        if let specific, FileManager.default.fileExists(atPath: specific.path) { return try FrameFile.read(specific) }
        return try FrameFile.read(FrameFile.url(dataDirectory: dataDirectory, run: run))
    }

    /// Writes `tier-transitions.csv` (with no rows for a data directory's first run) and returns
    /// the changes, nil when there is no previous run.
    static func write(
        current: PersonFrame, previous: PersonFrame?, units: [PlanningUnit], suppress: Bool, to folder: URL
    ) throws -> RunChanges? {
        guard let previous else {
            try Published.tierTransitions.write([], to: folder)
            return nil
        }
        let run = previous.runId
        let comparison = RunComparison(previous: previous, current: current, units: units)
        let n = RunComparison.states.count

        var table = Suppression(enabled: suppress)
        let cells = comparison.counts.map { $0.map { $0.map { table.add($0) } } }
        // Each state's row and column add up to the state's people in each run; those totals
        // (not the cells: a move between two practices of a PCN is no move for the PCN) add up
        // over a unit's children, except `outside`, which is outside a different unit in each.
        var rowTotals = [[[Int]]](), columnTotals = [[[Int]]]()
        for u in units.indices {
            rowTotals.append([])
            columnTotals.append([])
            for o in comparison.outcomes.indices {
                let counts = comparison.counts[u][o]
                let rows = (0..<n).map { i in table.add((0..<n).reduce(0) { $0 + counts[i * n + $1] }) }
                let columns = (0..<n).map { j in table.add((0..<n).reduce(0) { $0 + counts[$1 * n + j] }) }
                for i in 0..<n {
                    table.relate(total: rows[i], parts: (0..<n).map { cells[u][o][i * n + $0] })
                    table.relate(total: columns[i], parts: (0..<n).map { cells[u][o][$0 * n + i] })
                }
                rowTotals[u].append(rows)
                columnTotals[u].append(columns)
            }
        }
        for o in comparison.outcomes.indices {
            for i in 0..<n where i != RunComparison.outside {
                table.relateToParents(units) { rowTotals[$0][o][i] }
                table.relateToParents(units) { columnTotals[$0][o][i] }
            }
        }
        let people = [comparison.matched, comparison.joined, comparison.left].map { table.add($0) }
        // Headline shares: numerators and denominators published as counts are.
        let planning = (0..<current.count).filter { !current.optedOut[$0] }
        let before = (0..<previous.count).filter { !previous.optedOut[$0] }
        func high(_ frame: PersonFrame, _ rows: [Int]) -> (Int, Int)? {
            guard let risk = frame.risks.first(where: { $0.outcome == Outcome.emergencyAdmission.rawValue }) else { return nil }
            let scored = rows.filter { risk.tier[$0] >= 0 }
            return (scored.filter { risk.tier[$0] >= 2 }.count, scored.count)
        }
        let shares: [(String, (Int, Int)?, (Int, Int)?)] = [
            (
                "people with two or more long-term conditions",
                (before.filter { previous.ltcCount[$0] >= 2 }.count, before.count),
                (planning.filter { current.ltcCount[$0] >= 2 }.count, planning.count)
            ),
            ("people at high or very high risk of an emergency admission", high(previous, before), high(current, planning)),
            (
                "people aged 65 or over", (before.filter { previous.age[$0] >= 65 }.count, before.count),
                (planning.filter { current.age[$0] >= 65 }.count, planning.count)
            ),
        ]
        let shareCells = shares.map { s in
            [s.1?.0, s.1?.1, s.2?.0, s.2?.1].map { $0.map { table.add($0) } }
        }
        let registered = [table.add(before.count), table.add(planning.count)]
        table.protect()

        var rows: [UnitRow<TierTransitionRow>] = []
        for (u, unit) in units.enumerated() {
            let columns = unit.columns(units)
            for (o, outcome) in comparison.outcomes.enumerated() {
                for from in 0..<n {
                    for to in 0..<n where !(from == RunComparison.outside && to == RunComparison.outside) {
                        rows.append(
                            UnitRow(
                                columns,
                                TierTransitionRow(
                                    outcome: outcome, previousRun: Int(run), from: RunComparison.states[from],
                                    to: RunComparison.states[to], people: table.published(cells[u][o][from * n + to]))))
                    }
                }
            }
        }
        try Published.tierTransitions.write(rows, to: folder)

        var headlines: [RunChanges.Headline] = []
        let shownRegistered = registered.map { table.published($0).map(Double.init) }
        var difference: Double?
        if let a = shownRegistered[0], let b = shownRegistered[1] { difference = b - a }
        headlines.append(
            .init(
                name: "registered people without an opt-out", previous: shownRegistered[0], current: shownRegistered[1],
                difference: difference, lower95: nil, upper95: nil))
        for (s, share) in shares.enumerated() {
            let shown = shareCells[s].map { $0.flatMap { table.published($0) } }
            guard let x0 = shown[0], let n0 = shown[1], let x1 = shown[2], let n1 = shown[3], n0 > 0, n1 > 0,
                let d = Statistics.differenceOfProportions(Double(x1), of: Double(n1), minus: Double(x0), of: Double(n0))
            else {
                headlines.append(.init(name: share.0, previous: nil, current: nil, difference: nil, lower95: nil, upper95: nil))
                continue
            }
            func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
            headlines.append(
                .init(
                    name: share.0, previous: rounded(Double(x0) / Double(n0)), current: rounded(Double(x1) / Double(n1)),
                    difference: rounded(d.value), lower95: rounded(d.lower), upper95: rounded(d.upper)))
        }
        // Use and cost per head: events and pounds, not people, with normal intervals for the
        // difference (Poisson for admissions, Welch for cost). Unchanged when both runs' people
        // are published, whatever their rounding.
        if shownRegistered[0] != nil, shownRegistered[1] != nil {
            headlines.append(
                perHead("emergency admissions per 1,000 in the 12 months before as-of", .emergencyAdmissions, scale: 1000))
            headlines.append(perHead("cost of care per head in the 12 months before as-of, pounds", .cost, scale: 1))
        }
        func perHead(_ name: String, _ measure: UseMeasure, scale: Double) -> RunChanges.Headline {
            func moments(_ frame: PersonFrame, _ rows: [Int]) -> (mean: Double, variance: Double, n: Double)? {
                guard let values = frame.use[measure], rows.count > 1 else { return nil }
                let n = Double(rows.count)
                let mean = rows.reduce(0) { $0 + Double(values[$1]) } / n
                let variance = rows.reduce(0) { $0 + (Double(values[$1]) - mean) * (Double(values[$1]) - mean) } / (n - 1)
                return (mean, variance, n)
            }
            guard let a = moments(previous, before), let b = moments(current, planning) else {
                return .init(name: name, previous: nil, current: nil, difference: nil, lower95: nil, upper95: nil)
            }
            // Admissions: a Poisson count's variance is its mean; cost: the sample variance.
            let va = measure == .emergencyAdmissions ? a.mean : a.variance,
                vb = measure == .emergencyAdmissions ? b.mean : b.variance
            let d = b.mean - a.mean, se = (va / a.n + vb / b.n).squareRoot()
            // To one decimal: with the exact counts of run.json, a finer mean would give the exact total.
            func r(_ x: Double) -> Double { (x * scale * 10).rounded() / 10 }
            return .init(
                name: name, previous: r(a.mean), current: r(b.mean), difference: r(d), lower95: r(d - Statistics.z95 * se),
                upper95: r(d + Statistics.z95 * se))
        }
        let matchedShare = Double(comparison.matched) / Double(max(1, min(planning.count, before.count)))
        let warning =
            matchedShare < lowMatch
            ? "only \(Int((matchedShare * 100).rounded()))% of people matched the previous run: pseudonyms differ when the key does, so the runs cannot be compared person by person"
            : nil
        // run.json gives both runs' people exactly, so matched + left and matched + joined are
        // known: all three are shown, or none, lest rounding be undone between them.
        let shown = people.map { table.published($0) }
        let allShown = shown.allSatisfy { $0 != nil }
        return RunChanges(
            previousRunId: run, previousAsOf: previous.asOf.description, matched: allShown ? shown[0] : nil,
            joined: allShown ? shown[1] : nil, left: allShown ? shown[2] : nil, headlines: headlines, warning: warning)
    }
}

extension Stratification {
    /// Makes each person's earlier risk and tier their score in the previous run (people matched
    /// by pseudonym; nobody's for people not scored then), so rising risk is defined across runs.
    mutating func compare(with previous: PersonFrame, population: Population) {
        var rowOf: [String: Int] = [:]
        rowOf.reserveCapacity(previous.count)
        for r in 0..<previous.count { rowOf[previous.pseudonym[r]] = r }
        let rows = population.pseudonym.map { rowOf[$0] }
        for (outcome, var s) in scores {
            let column = previous.risks.first { $0.outcome == outcome.rawValue }
            for p in 0..<population.count {
                if let column, let r = rows[p], column.tier[r] >= 0, let tier = Tier(rawValue: column.tier[r]) {
                    s.previousRisk[p] = column.risk[r]
                    s.previousTier[p] = tier
                } else {
                    s.previousRisk[p] = .nan
                    s.previousTier[p] = nil
                }
            }
            scores[outcome] = s
        }
        previousIndex = previous.asOf
    }
}
