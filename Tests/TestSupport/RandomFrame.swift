import Cohorts
import Foundation
import PHMCore

/// A frame of random people: every column the language reads, with unknowns (NaN risk,
/// unassigned segments, no area) mixed in.
public func randomFrame(_ n: Int, seed: UInt64) -> PersonFrame {
    var rng = Xoshiro(seed: seed)
    var h = Hierarchy()
    for q in 0..<12 {
        h.addPractice(
            .init(code: "P\(q)", name: "Practice \(q)"), pcn: .init(code: "N\(q % 4)", name: "PCN \(q % 4)"),
            locality: .init(code: "L\(q % 3)", name: ["Andover", "Gosport", "Basingstoke"][q % 3]),
            organisation: .init(code: "ORG", name: "Health board"))
    }
    let asOf = Day(year: 2025, month: 4, day: 1)!
    var frame = PersonFrame(runId: 1, asOf: asOf, hierarchy: h, areaCodes: (0..<20).map { "E0100\($0)" })
    for i in 0..<n {
        frame.pseudonym.append(String(format: "%064x", i))
        frame.age.append(Int16(rng.int(0..<100)))
        frame.sex.append(Sex.allCases[rng.int(0..<4)])
        frame.ethnicGroup.append(EthnicGroup.allCases[rng.int(0..<EthnicGroup.allCases.count)])
        frame.practice.append(Int32(rng.int(0..<12)))
        let area = rng.chance(0.05) ? -1 : rng.int(0..<20)
        frame.area.append(Int32(area))
        frame.imdDecile.append(area < 0 ? 0 : UInt8(area % 10 + 1))
        frame.optedOut.append(rng.chance(0.03))
        frame.ltcCount.append(UInt8(rng.int(0..<7)))
    }
    frame.areaIndicatorNames = ["pm25", "green_space_access_pct"]
    frame.areaIndicators = [
        (0..<20).map { $0 == 7 ? .nan : Float(5 + $0 % 9) }, (0..<20).map { Float(40 + 3 * $0) },
    ]
    frame.conditionIds = ["depression", "obesity", "hypertension", "diabetes"]
    frame.conditionNames = frame.conditionIds
    for c in frame.conditionIds.indices {
        var p = PersonFrame.Postings()
        for row in 0..<n where rng.chance(0.1 + 0.05 * Double(c)) {
            p.rows.append(Int32(row))
            p.day.append(asOf.adding(days: -rng.int(1..<3000)))
        }
        frame.conditions.append(p)
    }
    frame.scoreIds = ["cms", "efi"]
    frame.scores = frame.scoreIds.map { _ in (0..<n).map { _ in Double(rng.int(0..<40)) / 10 } }
    frame.listIds = ["bmi", "systolic_bp", "hba1c"]
    for _ in frame.listIds {
        var p = PersonFrame.ListPostings()
        for row in 0..<n where rng.chance(0.4) {
            p.rows.append(Int32(row))
            p.lastRecorded.append(asOf.adding(days: -rng.int(1..<1500)))
            let valued = rng.chance(0.8)
            p.latestValue.append(valued ? Float(rng.int(15..<60)) : .nan)
            p.latestValueDay.append(valued ? asOf.adding(days: -rng.int(1..<1500)) : Day(rawValue: Int32.min))
        }
        frame.lists.append(p)
    }
    for m in UseMeasure.allCases {
        frame.use[m] = (0..<n).map { _ in m == .cost || m == .emergencyCost ? Float(rng.int(0..<10_000)) : Float(rng.int(0..<4)) }
    }
    for outcome in ["emergency_admission_12m", "persistent_high_cost"] {
        let scored = (0..<n).map { _ in !rng.chance(0.02) }
        frame.risks.append(
            .init(
                outcome: outcome, name: outcome, model: "test model", risk: scored.map { $0 ? Float(rng.uniform()) : .nan },
                tier: scored.map { $0 ? Int8(rng.int(0..<4)) : -1 }, rising: scored.map { $0 && rng.chance(0.1) }))
    }
    frame.factorTexts = ["age", "emergency admissions"]
    frame.factors = (0..<n * 3).map { _ in UInt16(rng.int(0..<2)) }
    frame.segmentations = [
        .init(
            id: "bridges_to_health", name: "B2H", segmentIds: ["healthy", "stable", "frailty"],
            segmentNames: ["Healthy", "Stable", "Frailty"],
            segment: (0..<n).map { _ in rng.chance(0.05) ? .max : UInt8(rng.int(0..<3)) })
    ]
    return frame
}
