import Analysis
import Foundation
import Outputs
import PHMCore
import Risk

/// Writes risk models, their cards, and tier and rising-risk summaries at every level.
enum RiskWriter {
    /// `models/OUTCOME.ALGORITHM.json` (the model, loadable for scoring) and `.md` (its card), and
    /// `models.json`: the summaries of the models that score people.
    static func writeModels(_ models: [RiskModel], suppress: Bool, to output: URL) throws {
        let folder = output.appendingPathComponent(PersonFiles.models)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for model in models {
            try model.save(to: folder.appendingPathComponent(model.fileName))
            let card = folder.appendingPathComponent(model.fileName.replacingOccurrences(of: ".json", with: ".md"))
            try Data(model.card.markdown.utf8).write(to: card)
        }
        try Published.models.write(
            Outcome.scoring(models, card: \.card).map { ModelSummary($0.card, suppress: suppress) }, to: output)
    }

    /// Appends a person's `PersonFiles.riskColumns`; empty where the person was not scored.
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
        rows.raw(PersonFiles.riskScoreColumns.joined(separator: ","))
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

        var tiers: [UnitRow<RiskTierRow>] = [], rising: [UnitRow<RisingRiskRow>] = []
        for (u, unit) in units.enumerated() {
            let columns = unit.columns(units)
            for (o, outcome) in outcomes.enumerated() {
                let s = stats[u][o]
                let people = table.published(totalCell[u][o])
                for tier in Tier.allCases.reversed() {
                    let k = Int(tier.rawValue)
                    let count = table.published(tierCell[u][o][k])
                    var share: Double?
                    if let count, let people { share = people > 0 ? 100 * Double(count) / Double(people) : 0 }
                    // The mean risk rounded by its spread over the published people, and the events
                    // expected as the published people times it: the exact sum over the exact mean
                    // would give the exact count.
                    let mean =
                        s.count[k] > 0 ? table.mean(s.sum[k] / Double(s.count[k]), people: count, spread: Spread.risk) : nil
                    let meanRisk = count == 0 ? 0 : mean
                    tiers.append(
                        UnitRow(
                            columns,
                            RiskTierRow(
                                outcome: outcome.rawValue, tier: tier.label, people: count, pctPeople: Fixed(share, places: 2),
                                meanRisk: Fixed(meanRisk, places: 4),
                                expectedEvents: Fixed(
                                    count.flatMap { n in meanRisk.map { table.enabled ? Double(n) * $0 : s.sum[k] } }, places: 1))
                        ))
                }
                let published = riseCell[u][o].map { table.published($0) }
                var pctRising: Double?
                if let compared = published[0], let any = published[3] {
                    pctRising = compared > 0 ? 100 * Double(any) / Double(compared) : 0
                }
                rising.append(
                    UnitRow(
                        columns,
                        RisingRiskRow(
                            outcome: outcome.rawValue, peopleCompared: published[0], tierRose: published[1],
                            riskRoseMaterially: published[2], rising: published[3], pctRising: Fixed(pctRising, places: 2),
                            roseIntoHighOrVeryHigh: published[4])))
            }
        }
        try Published.riskTiers.write(tiers, to: folder)
        try Published.risingRisk.write(rising, to: folder)
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
        var rows: [TransportRow] = []
        for (t, transport) in transport.enumerated() {
            for (k, tier) in transport.tiers.enumerated() {
                var row = TransportRow(
                    outcome: transport.outcome.rawValue, indexDate: transport.index, tier: tier.tier,
                    people: table.published(cells[t].0[k]))
                row.observedEvents = table.published(cells[t].1[k])
                // Expected events, the ratio and its interval only beside published counts.
                if let people = row.people, let observed = row.observedEvents {
                    row.expectedEvents = Fixed(tier.expected.rounded(), places: 0)
                    if tier.expected > 0 {
                        let ratio = Double(observed) / tier.expected
                        row.observedOverExpected = Fixed(ratio, places: 3)
                        if observed > 0, observed < people {
                            let se = ((1 - Double(observed) / Double(people)) / Double(observed)).squareRoot()
                            row.lower95 = Fixed(ratio * exp(-CalibrationMeasures.z95 * se), places: 3)
                            row.upper95 = Fixed(ratio * exp(CalibrationMeasures.z95 * se), places: 3)
                        }
                    }
                }
                rows.append(row)
            }
        }
        try Published.modelTransport.write(rows, to: folder)
    }
}
