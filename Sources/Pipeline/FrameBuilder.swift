import Analysis
import Cohorts
import Conditions
import Foundation
import PHMCore
import Risk

/// Builds a run's person frame: the registered population at as-of with everything cohorts and
/// worklists ask about, in frame rows (registered people in population order).
enum FrameBuilder {
    static func build(_ prepared: PreparedRun, risk: Stratification, segments: SegmentAssignments) -> PersonFrame {
        let population = prepared.population, rows = prepared.registered
        let results = prepared.conditions, library = prepared.library, use = prepared.utilisation
        var frame = PersonFrame(
            runId: prepared.runId, asOf: population.asOf, hierarchy: population.hierarchy, areaCodes: population.areas.codes)
        frame.pseudonym = rows.map { population.pseudonym[$0] }
        frame.age = rows.map { population.age[$0] }
        frame.sex = rows.map { population.sex[$0] }
        frame.ethnicGroup = rows.map { population.ethnicGroup[$0] }
        frame.practice = rows.map { population.practice[$0] }
        frame.area = rows.map { population.area[$0] }
        frame.imdDecile = rows.map { population.area[$0] >= 0 ? population.areas.imdDecile[Int(population.area[$0])] : 0 }
        frame.optedOut = rows.map { population.optedOut[$0] }
        frame.ltcCount = rows.map { results.ltcCount[$0] }

        frame.conditionIds = library.conditions.map(\.id)
        frame.conditionNames = library.conditions.map(\.name)
        frame.conditions = [PersonFrame.Postings](repeating: .init(), count: library.conditions.count)
        frame.listIds = library.lists.map(\.name)
        frame.lists = [PersonFrame.ListPostings](repeating: .init(), count: library.lists.count)
        let history = results.lists
        for (row, p) in rows.enumerated() {
            for i in results.flaggedRows(of: p) {
                let c = Int(results.firstCondition[i])
                frame.conditions[c].rows.append(Int32(row))
                frame.conditions[c].day.append(results.firstDay[i])
            }
            for i in history.rows(of: p) {
                let l = Int(history.list[i])
                frame.lists[l].rows.append(Int32(row))
                frame.lists[l].lastRecorded.append(history.lastRecorded[i])
                frame.lists[l].latestValue.append(history.latestValue[i])
                frame.lists[l].latestValueDay.append(history.latestValueDay[i])
            }
        }
        frame.scoreIds = library.scores.map(\.id)
        frame.scores = results.scores.map { column in rows.map { column[$0] } }

        frame.use[.aeAttendances] = rows.map { Float(use.aeAttendances[$0]) }
        frame.use[.outpatientAttendances] = rows.map { Float(use.outpatientAttendances[$0]) }
        frame.use[.electiveAdmissions] = rows.map { Float(use.electiveAdmissions[$0]) }
        frame.use[.emergencyAdmissions] = rows.map { Float(use.emergencyAdmissions[$0]) }
        frame.use[.prescriptionTypes] = rows.map { Float(use.prescriptionTypes[$0]) }
        frame.use[.cost] = rows.map { Float(use.totalCost($0)) }
        frame.use[.emergencyCost] = rows.map { Float(use.emergencyCost[$0]) }

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
        frame.segmentations = segments.segmentations.enumerated().map { s, segmentation in
            PersonFrame.SegmentColumn(
                id: segmentation.id, name: segmentation.name, segmentIds: segmentation.segments.map(\.id),
                segmentNames: segmentation.segments.map(\.name), segment: rows.map { segments.segment[s][$0] })
        }
        return frame
    }
}
