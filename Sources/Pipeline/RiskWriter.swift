import Analysis
import Foundation
import PHMCore
import Risk

/// Writes risk models, their cards, and tier and rising-risk summaries at every level.
enum RiskWriter {
    /// `models/OUTCOME.ALGORITHM.json` (the model, loadable for scoring) and `.md` (its card).
    static func writeModels(_ models: [RiskModel], to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for model in models {
            try model.save(to: folder.appendingPathComponent(model.fileName))
            let card = folder.appendingPathComponent(model.fileName.replacingOccurrences(of: ".json", with: ".md"))
            try Data(model.card.markdown.utf8).write(to: card)
        }
    }

    /// The per-person risk columns of `persons.csv` and `risk-scores.csv`.
    static let scoreColumns =
        Outcome.allCases.flatMap { ["risk_" + $0.rawValue, "tier_" + $0.rawValue, "rising_" + $0.rawValue] } + ["risk_factors"]

    /// Appends a person's `scoreColumns`; empty where the person was not scored.
    static func scoreFields(_ rows: inout CSVRows, _ risk: Stratification, person p: Int) {
        for outcome in Outcome.allCases {
            if let s = risk.scores[outcome], let tier = s.tier[p] {
                rows.field(Double(s.risk[p]), decimals: 4)
                rows.field(tier.label)
                rows.field(s.isRising(p) ? "Y" : "N")
            } else {
                rows.empty()
                rows.empty()
                rows.empty()
            }
        }
        rows.field(risk.factors[p].joined(separator: "; "))
    }

    /// `risk-scores.csv`: each registered person's risks, tiers, rise and top factors.
    static func writeScores(_ risk: Stratification, population: Population, registered: [Int], to url: URL) throws {
        var rows = CSVRows(capacity: registered.count * 120)
        rows.raw((["pseudonym", "practice_code"] + scoreColumns).joined(separator: ","))
        for p in registered {
            rows.field(population.pseudonym[p])
            rows.field(population.hierarchy.practices[Int(population.practice[p])].code)
            scoreFields(&rows, risk, person: p)
            rows.end()
        }
        try Data(rows.bytes).write(to: url)
    }

    /// `risk-tiers.csv` and `rising-risk.csv` for the organisation and every locality, PCN and
    /// practice, with small-number suppression across tiers and up the hierarchy.
    static func writeSummaries(_ risk: Stratification, units: [PlanningUnit], suppress: Bool, to folder: URL) throws {
        struct Stats {
            var count = [Int](repeating: 0, count: Tier.allCases.count)
            var sum = [Double](repeating: 0, count: Tier.allCases.count)
            /// people compared, tier rose, rose materially, rising, rose into high or very high.
            var rise = [Int](repeating: 0, count: 5)
        }
        let outcomes = Outcome.allCases.filter { risk.scores[$0] != nil }
        let stats = units.map { unit in
            outcomes.map { outcome -> Stats in
                let s = risk.scores[outcome]!
                var stats = Stats()
                for p in unit.people {
                    guard let t = s.tier[p] else { continue }
                    stats.count[Int(t.rawValue)] += 1
                    stats.sum[Int(t.rawValue)] += Double(s.risk[p])
                    guard let before = s.previousTier[p] else { continue }
                    stats.rise[0] += 1
                    if t > before { stats.rise[1] += 1 }
                    if s.roseMaterially(p) { stats.rise[2] += 1 }
                    if s.isRising(p) { stats.rise[3] += 1 }
                    if t >= .high, before < .high { stats.rise[4] += 1 }
                }
                return stats
            }
        }
        // Tiers add up to the unit's scored people; units add up to their parents.
        var table = Suppression(enabled: suppress)
        let tierCell = stats.map { $0.map { s in s.count.map { table.add($0) } } }
        let totalCell = stats.map { $0.map { s in table.add(s.count.reduce(0, +)) } }
        let riseCell = stats.map { $0.map { s in s.rise.map { table.add($0) } } }
        for u in units.indices {
            for o in outcomes.indices { table.relate(total: totalCell[u][o], parts: tierCell[u][o]) }
        }
        for o in outcomes.indices {
            table.relateToParents(units) { totalCell[$0][o] }
            for k in Tier.allCases.indices { table.relateToParents(units) { tierCell[$0][o][k] } }
            for k in 0..<5 { table.relateToParents(units) { riseCell[$0][o][k] } }
        }
        table.protect()

        var tiers = CSVRows()
        tiers.raw("level,unit_code,unit_name,outcome,tier,people,pct_people,mean_risk,expected_events")
        var rising = CSVRows()
        rising.raw(
            "level,unit_code,unit_name,outcome,people_compared,tier_rose,risk_rose_materially,rising,pct_rising,rose_into_high_or_very_high"
        )
        func unitFields(_ rows: inout CSVRows, _ unit: PlanningUnit, _ outcome: Outcome) {
            rows.field(unit.level.rawValue)
            rows.field(unit.code)
            rows.field(unit.name)
            rows.field(outcome.rawValue)
        }
        func field(_ rows: inout CSVRows, _ value: Double?, decimals: Int) {
            if let value { rows.field(value, decimals: decimals) } else { rows.empty() }
        }
        for (u, unit) in units.enumerated() {
            for (o, outcome) in outcomes.enumerated() {
                let s = stats[u][o]
                let people = table.published(totalCell[u][o])
                for tier in Tier.allCases.reversed() {
                    let k = Int(tier.rawValue)
                    unitFields(&tiers, unit, outcome)
                    tiers.field(tier.label)
                    let count = table.published(tierCell[u][o][k])
                    if let count { tiers.field(count) } else { tiers.empty() }
                    let shown = count != nil && people != nil
                    field(&tiers, shown && people! > 0 ? 100 * Double(count!) / Double(people!) : shown ? 0 : nil, decimals: 2)
                    field(&tiers, count == nil ? nil : s.count[k] > 0 ? s.sum[k] / Double(s.count[k]) : 0, decimals: 4)
                    field(&tiers, count == nil ? nil : s.sum[k], decimals: 1)
                    tiers.end()
                }
                unitFields(&rising, unit, outcome)
                let published = riseCell[u][o].map { table.published($0) }
                for k in 0..<4 {
                    if let n = published[k] { rising.field(n) } else { rising.empty() }
                }
                let compared = published[0], any = published[3]
                field(
                    &rising, compared != nil && any != nil ? (compared! > 0 ? 100 * Double(any!) / Double(compared!) : 0) : nil,
                    decimals: 2)
                if let n = published[4] { rising.field(n) } else { rising.empty() }
                rising.end()
            }
        }
        try Data(tiers.bytes).write(to: folder.appendingPathComponent("risk-tiers.csv"))
        try Data(rising.bytes).write(to: folder.appendingPathComponent("rising-risk.csv"))
    }

    /// `model-transport.csv`: for each saved model, people, expected and observed events and
    /// observed over expected by tier, on this population at the development index date. Counts
    /// are suppressed and rounded as planning outputs are; ratios come from the published counts.
    static func writeTransport(_ transport: [Transport], suppress: Bool, to folder: URL) throws {
        var table = Suppression(enabled: suppress)
        let cells = transport.map { t in
            let people = t.tiers.map { table.add($0.people) }, observed = t.tiers.map { table.add($0.observed) }
            let totals = (table.add(t.tiers.reduce(0) { $0 + $1.people }), table.add(t.tiers.reduce(0) { $0 + $1.observed }))
            table.relate(total: totals.0, parts: people)
            table.relate(total: totals.1, parts: observed)
            return (people, observed)
        }
        table.protect()
        var rows = CSVRows()
        rows.raw("outcome,index_date,tier,people,expected_events,observed_events,observed_over_expected,lower_95,upper_95")
        for (t, transport) in transport.enumerated() {
            for (k, tier) in transport.tiers.enumerated() {
                rows.field(transport.outcome.rawValue)
                rows.field(transport.index)
                rows.field(tier.tier)
                let people = table.published(cells[t].0[k]), observed = table.published(cells[t].1[k])
                if let people { rows.field(people) } else { rows.empty() }
                // Expected events, the ratio and its interval only beside published counts.
                guard let people, let observed else {
                    rows.empty()
                    if let observed { rows.field(observed) } else { rows.empty() }
                    for _ in 0..<3 { rows.empty() }
                    rows.end()
                    continue
                }
                rows.field(tier.expected.rounded(), decimals: 0)
                if tier.expected > 0 {
                    rows.field(observed)
                    let ratio = Double(observed) / tier.expected
                    rows.field(ratio, decimals: 3)
                    if observed > 0, observed < people {
                        let se = ((1 - Double(observed) / Double(people)) / Double(observed)).squareRoot()
                        rows.field(ratio * exp(-CalibrationMeasures.z95 * se), decimals: 3)
                        rows.field(ratio * exp(CalibrationMeasures.z95 * se), decimals: 3)
                    } else {
                        rows.empty()
                        rows.empty()
                    }
                } else {
                    rows.field(observed)
                    for _ in 0..<3 { rows.empty() }
                }
                rows.end()
            }
        }
        try Data(rows.bytes).write(to: folder.appendingPathComponent("model-transport.csv"))
    }
}
