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

    /// `risk-tiers.csv` and `rising-risk.csv` for the organisation and every locality, PCN and practice.
    static func writeSummaries(_ risk: Stratification, units: [PlanningUnit], to folder: URL) throws {
        var tiers = CSVRows()
        tiers.raw("level,unit_code,unit_name,outcome,tier,people,pct_people,mean_risk,expected_events")
        var rising = CSVRows()
        rising.raw(
            "level,unit_code,unit_name,outcome,people_compared,tier_rose,risk_rose_materially,rising,pct_rising,rose_into_high_or_very_high"
        )
        for unit in units {
            for outcome in Outcome.allCases {
                guard let s = risk.scores[outcome] else { continue }
                var count = [Int](repeating: 0, count: Tier.allCases.count)
                var sum = [Double](repeating: 0, count: Tier.allCases.count)
                var compared = 0, tierRose = 0, material = 0, anyRise = 0, intoHigh = 0
                for p in unit.people {
                    guard let t = s.tier[p] else { continue }
                    count[Int(t.rawValue)] += 1
                    sum[Int(t.rawValue)] += Double(s.risk[p])
                    guard let before = s.previousTier[p] else { continue }
                    compared += 1
                    if t > before { tierRose += 1 }
                    if s.roseMaterially(p) { material += 1 }
                    if s.isRising(p) { anyRise += 1 }
                    if t >= .high, before < .high { intoHigh += 1 }
                }
                let people = count.reduce(0, +)
                for tier in Tier.allCases.reversed() {
                    let k = Int(tier.rawValue)
                    tiers.field(unit.level.rawValue)
                    tiers.field(unit.code)
                    tiers.field(unit.name)
                    tiers.field(outcome.rawValue)
                    tiers.field(tier.label)
                    tiers.field(count[k])
                    tiers.field(people > 0 ? 100 * Double(count[k]) / Double(people) : 0, decimals: 2)
                    tiers.field(count[k] > 0 ? sum[k] / Double(count[k]) : 0, decimals: 4)
                    tiers.field(sum[k], decimals: 1)
                    tiers.end()
                }
                rising.field(unit.level.rawValue)
                rising.field(unit.code)
                rising.field(unit.name)
                rising.field(outcome.rawValue)
                rising.field(compared)
                rising.field(tierRose)
                rising.field(material)
                rising.field(anyRise)
                rising.field(compared > 0 ? 100 * Double(anyRise) / Double(compared) : 0, decimals: 2)
                rising.field(intoHigh)
                rising.end()
            }
        }
        try Data(tiers.bytes).write(to: folder.appendingPathComponent("risk-tiers.csv"))
        try Data(rising.bytes).write(to: folder.appendingPathComponent("rising-risk.csv"))
    }
}
