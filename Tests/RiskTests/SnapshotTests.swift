import Conditions
import Foundation
import Outputs
import PHMCore
import TestSupport
import Testing

@testable import Risk

@Suite struct SnapshotTests {
    static let index = Day(iso: "2025-04-01")!

    /// Three people: one with a year of hospital use and an admission after the index date, one
    /// newly registered with no events, one who registers only after the index date.
    static func population() -> Population {
        var h = Hierarchy()
        h.addPractice(
            .init(code: "A1", name: "A"), pcn: .init(code: "U1", name: "U"), locality: .init(code: "L1", name: "L"),
            organisation: .init(code: "O", name: "O"))
        var areas = Areas()
        areas.codes = ["E1"]
        areas.imdDecile = [2]
        areas.imdScore = [40]
        var codes = CodeTable()
        let medicines = ["0205051R0", "0212000B0"].map { codes.intern($0, system: .bnf) }
        var p = Population(asOf: index, hierarchy: h, areas: areas, codes: codes)
        p.appendPerson(sex: .female, age: 82, area: 0)
        p.appendPerson(sex: .male, age: 40)
        p.registeredFrom[1] = Day(iso: "2024-10-01")!
        p.appendPerson(sex: .male, age: 30)
        p.registeredFrom[2] = Day(iso: "2025-06-01")!

        let events: [(Int32, String, String?, ActivityKind, Float)] = [
            (0, "2023-01-01", "2023-01-03", .emergencyAdmission, 2000),
            (0, "2024-06-01", "2024-06-11", .emergencyAdmission, 3000),
            (0, "2024-12-01", nil, .outpatientDidNotAttend, 0),
            (0, "2025-02-01", nil, .aeAttendance, 200),
            (0, "2025-03-01", "2025-03-05", .emergencyAdmission, 4000),
            (0, "2025-06-01", "2025-06-02", .emergencyAdmission, 1500),
        ]
        p.activity.byPerson = PersonIndex(start: [0, 6, 6, 6])
        p.activity.day = events.map { Day(iso: $0.1)! }
        p.activity.endDay = events.map { $0.2.map { Day(iso: $0)! } ?? .max }
        p.activity.kind = events.map(\.3)
        p.activity.cost = events.map(\.4)
        p.activity.diagnosis = events.map { _ in -1 }
        p.activity.procedure = events.map { _ in -1 }
        p.activity.secondaryStart = [Int32](repeating: 0, count: events.count + 1)
        p.clinical.byPerson = PersonIndex(start: [0, 0, 0, 0])
        p.prescriptions.byPerson = PersonIndex(start: [0, 3, 3, 3])
        p.prescriptions.day = ["2024-05-01", "2024-11-01", "2025-01-01"].map { Day(iso: $0)! }
        p.prescriptions.code = [medicines[0], medicines[0], medicines[1]]
        p.prescriptions.cost = [10, 10, 5]
        p.prescriptions.quantity = [28, 28, 28]
        return p
    }

    @Test func featuresAndOutcomesOfConstructedPeople() throws {
        let population = SnapshotTests.population()
        let library = try ConditionLibrary.standard()
        let conditions = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 1)
        let s = Snapshot(
            population: population, conditions: conditions, library: library, index: SnapshotTests.index,
            dataEnd: Day(iso: "2026-04-01")!, workers: 2)
        #expect(s.people == [0, 1])
        func value(_ id: String, _ row: Int) -> Float { s.features[row, s.features.column(id)!] }
        #expect(value("age", 0) == 82)
        #expect(value("age_over_65", 0) == 17)
        #expect(value("age_over_80", 0) == 2)
        #expect(value("female", 0) == 1)
        #expect(value("imd_decile", 0) == 2)
        #expect(value("core20", 0) == 1)
        #expect(value("deprivation_unknown", 1) == 1)
        #expect(value("newly_registered", 1) == 1 && value("newly_registered", 0) == 0)
        // Emergency admissions 2024-06-01 and 2025-03-01 are within 12 months; only the second within 3.
        #expect(value("emergency_admissions_12m", 0) == 2)
        #expect(value("emergency_admissions_6m", 0) == 1)
        #expect(value("emergency_admissions_3m", 0) == 1)
        #expect(value("emergency_bed_days_12m", 0) == 14)
        #expect(value("days_since_emergency_admission", 0) == 31)
        #expect(value("days_since_emergency_admission", 1) == Snapshot.noRecentAdmission)
        #expect(value("ae_attendances_3m", 0) == 1)
        #expect(value("outpatient_missed_12m", 0) == 1)
        #expect(value("prescription_items_12m", 0) == 3)
        #expect(value("medicines_12m", 0) == 2)
        // 3000 + 0 + 200 + 4000 activity and 25 prescribing; 200 + 4000 + 5 from 2025-01-01 on.
        #expect(value("cost_12m", 0) == 7225)
        #expect(value("cost_3m", 0) == 4205)
        #expect(s.outcomes[.emergencyAdmission] == [1, 0])
        // Top 5% of 2 people is 1 person: person 0 in both years.
        #expect(s.outcomes[.persistentHighCost] == [1, 0])

        // Without 11 months of data after the index date there are no outcomes.
        let censored = Snapshot(
            population: population, conditions: conditions, library: library, index: SnapshotTests.index,
            dataEnd: Day(iso: "2025-09-01")!, workers: 1)
        #expect(!censored.hasOutcomes)
        #expect(censored.breakdowns(population).map(\.name) == ["sex", "age_band", "imd_quintile", "ethnic_group"])
        #expect(censored.breakdowns(population)[2].labels == ["1", "unknown"])
    }

    @Test func factorsNameWhatRaisesRiskInPlainWords() throws {
        let f = Feature("emergency_admissions_12m", "emergency admissions, last 12 months", .count)
        #expect(f.describe(2) == "emergency admissions, last 12 months: 2")
        #expect(Feature("x", "heart failure", .flag).describe(1) == "heart failure")
        #expect(Feature("c", "cost", .money).describe(1234.4) == "cost: £1234")
        #expect(Feature("s", "score", .value).describe(2.456) == "score: 2.46")
    }
}
