import Evaluation
import Foundation
import Governance
import Storage
import TestSupport
import Testing

@testable import Service

@Suite struct EvaluationSessionTests {
    /// An analyst's evaluation is audited with its definition and published for planning; what
    /// cannot be evaluated is refused with a reason, and an evaluation past its deadline stops.
    @Test func evaluationsArePublishedForPlanningAuditedAndBounded() throws {
        let fixture = try Fixture()
        let analyst = try fixture.session(.analyst, .planning)
        let result = try analyst.evaluate(Fixture.placeEvaluation)
        #expect(result.planning && result.propensityModel.isEmpty && result.name == "Scheme at P0")
        #expect(result.steps.compactMap(\.people).allSatisfy { $0 == 0 || ($0 >= 10 && $0 % 5 == 0) })
        // Coarse rounding of a small place's rates never shows a relative change below -100%.
        for e in result.effects {
            for change in [e.relative, e.naiveRelative] { #expect((change.low ?? 0) >= -1 && (change.estimate ?? 0) >= -1) }
        }
        let audited = try #require(try fixture.platform.store.auditEntries().last)
        #expect(audited.action == "evaluate" && audited.user == "ana" && audited.detail.contains("Scheme at P0"))
        // The page's starting definition runs on the data as it is; only those who may evaluate get it.
        #expect(try analyst.evaluate(try analyst.evaluationExample()).name == "Scheme at P0 from 2023-11-01")
        #expect(throws: AccessError.self) { try fixture.session(.clinician, .directCare).evaluationExample() }
        // Asked again, the same answer: the rounding is keyed by the people, not drawn afresh.
        #expect(try analyst.evaluate(Fixture.placeEvaluation) == result)

        func refusal(_ text: String) -> String? {
            do {
                _ = try analyst.evaluate(text)
                return nil
            } catch let error as AccessError {
                return error.description
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal("name: x\nintervention:\n  list: people.csv\n")?.contains("phm evaluate") == true)
        #expect(refusal(Fixture.placeEvaluation.replacingOccurrences(of: "[P0]", with: "[P9]"))?.contains("P9") == true)
        #expect(refusal("name: x\nwindoes: {}\n")?.contains("windoes") == true)
        #expect(refusal(String(repeating: "#", count: Session.maximumEvaluationDefinition + 1)) != nil)
        // Worklist statuses name no one in this evaluation data: too few exposed, said plainly.
        let worklist = "name: w\nintervention:\n  worklist: {cohort: older, status: enrolled, from: 2023-01-01, to: 2023-06-30}\n"
        #expect(refusal(worklist)?.contains("fewer than 10 exposed") == true)
        let late = analyst.until(ContinuousClock.now.advanced(by: .seconds(-1)))
        #expect(throws: AccessError.invalid(EvaluationError.tookTooLong.description)) {
            try late.evaluate(Fixture.placeEvaluation)
        }
    }
}
