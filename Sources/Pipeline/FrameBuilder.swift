import Analysis
import Cohorts
import Conditions
import Foundation
import Outputs
import PHMCore
import Risk

/// Builds a run's person frame: the registered population at as-of with everything cohorts and
/// worklists ask about, in frame rows (registered people in population order).
enum FrameBuilder {
    static func build(_ prepared: PreparedRun, risk: Stratification) -> PersonFrame {
        let population = prepared.population, rows = prepared.registered
        var frame = PersonFrame(
            runId: prepared.runId, population: population, rows: rows, library: prepared.library,
            conditions: prepared.conditions, use: prepared.utilisation)
        for outcome in Outcome.allCases {
            guard let s = risk.scores[outcome] else { continue }
            frame.risks.append(
                .init(
                    outcome: outcome.rawValue, name: outcome.name, model: s.model.algorithm.name, risk: rows.map { s.risk[$0] },
                    tier: rows.map { s.tier[$0].map { Int8($0.rawValue) } ?? -1 }, rising: rows.map { s.isRising($0) }))
        }
        var textIndex: [String: UInt16] = [:]
        frame.factors.reserveCapacity(rows.count * PersonFrame.factorsPerPerson)
        for p in rows {
            let top = risk.factors[p].prefix(PersonFrame.factorsPerPerson)
            for text in top {
                if textIndex[text] == nil {
                    textIndex[text] = UInt16(frame.factorTexts.count)
                    frame.factorTexts.append(text)
                }
                frame.factors.append(textIndex[text]!)
            }
            for _ in top.count..<PersonFrame.factorsPerPerson { frame.factors.append(.max) }
        }
        return frame
    }

    /// Each row's segment in every segmentation, as the frame holds them.
    static func segmentColumns(_ segments: SegmentAssignments, rows: [Int]) -> [PersonFrame.SegmentColumn] {
        segments.segmentations.enumerated().map { s, segmentation in
            PersonFrame.SegmentColumn(
                id: segmentation.id, name: segmentation.name, segmentIds: segmentation.segments.map(\.id),
                segmentNames: segmentation.segments.map(\.name), segment: rows.map { segments.segment[s][$0] })
        }
    }
}
