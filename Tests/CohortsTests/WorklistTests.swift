import Foundation
import PHMCore
import TestSupport
import Testing

@testable import Cohorts

@Suite struct WorklistTests {
    /// The ranking is the practice's members by risk, highest first, ties by pseudonym, and an
    /// entry built for any stretch of ranks is the same entry the whole list has there.
    @Test func ranksByRiskAndBuildsAnyStretchAlike() throws {
        let frame = randomFrame(3_000, seed: 11)
        let cohort = try CohortQuery(try CohortText.parse("age >= 40"), frame: frame).evaluate(frame)
        let gaps = try Worklist.gapRows(
            frame, [CareGap(id: "htn", name: "Hypertension", definition: try CohortText.parse("condition hypertension"))])
        let list = try Worklist(frame, cohort: cohort, practice: 3, gapRows: gaps)
        let expected = (0..<frame.count).filter { frame.practice[$0] == 3 && frame.age[$0] >= 40 }
        #expect(Set(list.ranking) == Set(expected) && list.count == expected.count)
        func risk(_ row: Int) -> Float { frame.risks[0].risk[row].isNaN ? -1 : frame.risks[0].risk[row] }
        for (a, b) in zip(list.ranking, list.ranking.dropFirst()) {
            #expect(risk(a) > risk(b) || (risk(a) == risk(b) && frame.pseudonym[a] < frame.pseudonym[b]))
        }
        let all = list.entries(0..<list.count)
        #expect(all.map(\.row) == list.ranking && all.map(\.rank) == Array(1...list.count))
        for range in [0..<10, 7..<31, (list.count - 5)..<(list.count + 20), (list.count + 3)..<(list.count + 9)] {
            let part = list.entries(range)
            let clamped = range.clamped(to: 0..<list.count)
            #expect(part.map(\.pseudonym) == all[clamped].map(\.pseudonym))
            #expect(part.map(\.gaps) == all[clamped].map(\.gaps) && part.map(\.reasons) == all[clamped].map(\.reasons))
        }
        let withGap = all.filter { !$0.gaps.isEmpty }.map(\.row)
        #expect(withGap == all.map(\.row).filter { gaps.checked[0].rows.contains($0) } && !withGap.isEmpty)
        #expect(list.contains(pseudonym: all[0].pseudonym) && !list.contains(pseudonym: "not a pseudonym"))
    }

    /// A care gap about the risk of an outcome the run does not score (its model fell back and
    /// ranks no one) is left unchecked and says why; the other gaps and the list still work, and
    /// the outcome is found however deep in the definition it is named.
    @Test func careGapOnAnUnscoredOutcomeIsUncheckedNotFatal() throws {
        var frame = randomFrame(2_000, seed: 12)
        frame.risks.removeAll { $0.outcome == "emergency_admission_12m" }
        let gaps = [
            CareGap(id: "htn", name: "Hypertension", definition: try CohortText.parse("condition hypertension")),
            CareGap(
                id: "review", name: "High risk",
                definition: try CohortText.parse("age > 50 and not (condition obesity or tier emergency_admission_12m >= high)")),
            CareGap(id: "cost", name: "Cost", definition: try CohortText.parse("rising persistent_high_cost")),
        ]
        let rows = try Worklist.gapRows(frame, gaps)
        #expect(rows.checked.map(\.id) == ["htn", "cost"])
        #expect(rows.unchecked.map(\.id) == ["review"] && rows.unchecked[0].reason.contains("emergency_admission_12m"))
        let everyone = Bitset(count: frame.count) { _ in true }
        let list = try Worklist(frame, cohort: everyone, practice: 3, gapRows: rows)
        #expect(list.uncheckedGaps.map(\.id) == ["review"] && list.count > 0)
        #expect(list.entries(0..<list.count).allSatisfy { !$0.gaps.contains("review") })
        // With the outcome scored, the same gap is checked.
        #expect(try Worklist.gapRows(randomFrame(2_000, seed: 12), gaps).unchecked.isEmpty)
        // The shipped gap about risk is unchecked on a frame with no risks at all.
        frame.risks = []
        let aboutRisk = try CareGap.load().filter { !$0.definition.expression.outcomes.isEmpty }
        #expect(aboutRisk.map(\.id) == ["high_risk_no_review"])
        #expect(try Worklist.gapRows(frame, aboutRisk).unchecked.map(\.id) == ["high_risk_no_review"])
    }

    /// A care gaps file whose aliases would expand to a billion values is refused, not expanded.
    @Test func careGapsFileAliasesAreBounded() throws {
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            laughs += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("care-gaps-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: url) }
        try (laughs + "care_gaps: []\n").write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: CohortError.self) { try CareGap.load(url) }
        #expect(try CareGap.load().count > 0)
    }
}
