import Foundation
import PHMCore
import TestSupport
import Testing

@testable import Evaluation

@Suite struct DefinitionTests {
    @Test func readsAWholeDefinition() throws {
        let d = try EvaluationDefinition.parse(
            """
            name: Proactive care
            intervention:
              worklist: {cohort: frequent, status: enrolled, from: 2024-01-01, to: 2024-06-30}
            eligibility: {minimum_age: 18}
            matching: {exact: [sex, recent_emergency_admissions], controls_per_person: 3, caliper: 0.1}
            windows: {pre_months: 6, post_months: 9}
            outcomes: [emergency_admissions, cost]
            negative_controls: [elective_admissions]
            bootstrap: 200
            seed: 9
            """)
        #expect(d.name == "Proactive care")
        #expect(
            d.intervention
                == .worklist(
                    cohort: "frequent", status: "enrolled", from: Day(iso: "2024-01-01")!, to: Day(iso: "2024-06-30")!))
        #expect(d.options.exact == [.sex, .recentEmergencyAdmissions])
        #expect(d.options.controlsPerPerson == 3 && d.options.caliper == 0.1 && d.options.minimumAge == 18)
        #expect(d.options.preMonths == 6 && d.options.postMonths == 9)
        #expect(d.options.outcomes == [.emergencyAdmissions, .cost] && d.options.negativeControls == [.electiveAdmissions])
        #expect(d.options.bootstrapSamples == 200 && d.options.seed == 9)
    }

    @Test(arguments: [
        ("name: x\nintervention: {list: a.csv}\nwindow: {pre_months: 3}", "unknown key 'window'"),
        ("name: x\nintervention: {list: a.csv, place: {practices: [A], start: 2024-01-01}}", "exactly one of"),
        ("name: x\nintervention: {list: a.csv}\noutcomes: [admissions]", "'admissions' is not one of"),
        ("name: x\nintervention: {list: a.csv}\nnegative_controls: [cost]", "both an outcome and a negative control"),
        ("name: x\nintervention: {list: a.csv}\nwindows: {pre_months: 100}", "1 to 24 months"),
        ("name: x\nintervention: {list: a.csv}\nmatching: {controls_per_person: 1000000}", "controls_per_person"),
        ("name: x\nintervention: {list: a.csv}\nbootstrap: 99999999", "bootstrap"),
        ("name: x\nintervention: {worklist: {cohort: c, status: s, from: 2024-13-01, to: 2024-01-01}}", "not a date"),
        ("name: x\nintervention: {place: {pcn: N1, locality: L, start: 2024-01-01}}", "exactly one of practices"),
        ("name: x\nintervention: {list: a.csv}\neligibility: {minimum_age: 90, maximum_age: 20}", "minimum_age"),
        ("name: \"\"\nintervention: {list: a.csv}", "name must be"),
    ])
    func refusesWhatItCannotUse(text: String, message: String) {
        do {
            _ = try EvaluationDefinition.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    static func base() -> EvaluationBase {
        var hierarchy = Hierarchy()
        hierarchy.addPractice(
            .init(code: "P0", name: "P0"), pcn: .init(code: "N", name: "N"), locality: .init(code: "L", name: "L"),
            organisation: .init(code: "O", name: "O"))
        let asOf = Day(iso: "2025-01-01")!
        var base = EvaluationBase(runId: 3, asOf: asOf, firstMonth: asOf.monthNumber - 36, hierarchy: hierarchy)
        base.conditionIds = ["copd"]
        base.conditionNames = ["COPD"]
        base.events.start = [0]
        base.conditions.start = [0]
        for p in 0..<5 {
            base.pseudonym.append("pseudonym-\(p)")
            base.sex.append(p % 2 == 0 ? .female : .male)
            base.birthMonth.append(asOf.monthNumber - 600)
            base.practice.append(0)
            base.imdDecile.append(UInt8(p + 1))
            base.ethnicGroup.append(.white)
            base.from.append(Day(iso: "2015-01-01")!)
            base.to.append(asOf)
            base.eventMonth.append(asOf.monthNumber - Int32(p + 1))
            base.eventMeasure.append(UInt8(Measure.cost.index))
            base.eventAmount.append(100)
            base.events.start.append(Int32(base.eventMonth.count))
            base.condition.append(0)
            base.conditionMonth.append(asOf.monthNumber - 40)
            base.conditions.start.append(Int32(base.condition.count))
        }
        return base
    }

    /// Bad rows are counted and described by line, field and rule, never by value; the rest are used.
    @Test func readsAListAndDescribesTheRowsItRejects() throws {
        let base = Self.base()
        let text = """
            pseudonym,start_date
            pseudonym-1,2023-05-10
            pseudonym-1,2023-03-02
            pseudonym-2,2023-13-40
            pseudonym-3
            someone-else,2023-05-01
            "pseudonym-4",2023-06-01\r

            """
        let exposures = try Exposures(list: Data(text.utf8), file: "list.csv", base: base, pseudonymise: nil)
        #expect(exposures.named == 3)
        #expect(exposures.exposures.map(\.person) == [1, 4])
        #expect(exposures.exposures[0].start == Day(iso: "2023-03-02"))
        #expect(exposures.rejected.count == 2)
        #expect(exposures.rejected[0] == "list.csv line 4, start_date: not a date (YYYY-MM-DD)")
        #expect(exposures.rejected[1].hasPrefix("list.csv line 5, row:"))
        #expect(!exposures.rejected.joined().contains("pseudonym-"))

        // NHS numbers: checked, and never repeated in a message.
        let key = { (nhs: UInt64) in "pseudonym-\(nhs % 5)" }
        let nhs = "nhs_number,start_date\n9434765919,2023-05-10\n9434765918,2023-05-10\n"
        let byNumber = try Exposures(list: Data(nhs.utf8), file: "nhs.csv", base: base, pseudonymise: key)
        #expect(byNumber.exposures.map(\.person) == [4])
        #expect(byNumber.rejected == ["nhs.csv line 3, nhs_number: not a valid NHS number (ten digits, modulus 11 check)"])
        #expect(throws: EvaluationError.self) {
            try Exposures(list: Data(nhs.utf8), file: "nhs.csv", base: base, pseudonymise: nil)
        }
        #expect(throws: EvaluationError.self) {
            try Exposures(list: Data("who,when\n".utf8), file: "x.csv", base: base, pseudonymise: nil)
        }
    }

    @Test func worklistAndPlaceExposures() {
        let base = Self.base()
        let at = { (day: String) in Date(timeIntervalSince1970: Double(Day(iso: day)!.rawValue) * 86_400 + 3_600) }
        let changes: [Exposures.StatusChange] = [
            ("pseudonym-0", "enrolled", at("2022-12-01")),  // before the period
            ("pseudonym-1", "contacted", at("2023-02-01")),
            ("pseudonym-1", "enrolled", at("2023-03-05")),
            ("pseudonym-1", "enrolled", at("2023-04-05")),
            ("unknown", "enrolled", at("2023-03-05")),
        ]
        let w = Exposures(
            worklist: changes, status: "enrolled", from: Day(iso: "2023-01-01")!, to: Day(iso: "2023-06-30")!, base: base)
        #expect(w.exposures == [.init(person: 1, start: Day(iso: "2023-03-05")!)])
        // Exposed before the period: never a control after it.
        #expect(w.firstExposure[0] == Day(iso: "2022-12-01"))
        #expect(w.named == 3)
        let place = Exposures(place: [0], start: Day(iso: "2023-04-01")!, base: base)
        #expect(place.exposures.count == 5 && place.firstExposure.count == 5)
    }

    /// The fuzzer's seed, cut from a real run's base: the format it starts from must read.
    @Test func theFuzzSeedBaseReads() throws {
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/evaluation-base/small.evaluation")
        let base = try EvaluationBaseFile.read(seed)
        #expect(base.count == 40 && base.events.start.count == 41)
    }

    @Test func aBaseSurvivesTheDiskAndADamagedOneIsRefused() throws {
        let base = Self.base()
        let folder = temporaryFolder("evaluation-base")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("run-3.evaluation")
        try EvaluationBaseFile.write(base, to: url)
        let read = try EvaluationBaseFile.read(url)
        #expect(read.pseudonym == base.pseudonym && read.eventMonth == base.eventMonth && read.from == base.from)
        #expect(read.conditions.start == base.conditions.start && read.birthMonth == base.birthMonth)
        // Every truncation, and bytes flipped through the body, are refused or read whole: never a trap.
        let bytes = try Data(contentsOf: url)
        for length in stride(from: 0, to: bytes.count, by: 7) {
            try bytes.prefix(length).write(to: url)
            #expect(throws: (any Error).self) { try EvaluationBaseFile.read(url) }
        }
        for offset in stride(from: 0, to: bytes.count, by: 3) {
            var damaged = bytes
            damaged[offset] ^= 0xA5
            try damaged.write(to: url)
            _ = try? EvaluationBaseFile.read(url)
        }
    }
}
