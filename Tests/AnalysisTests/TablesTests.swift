import Analysis
import Foundation
import PHMCore
import TestSupport
import Testing

@Suite struct TablesTests {
    @Test func costConcentrationOfAKnownDistribution() {
        // Ten people: eight with nothing, one with 100, one with 300.
        let c = CostConcentration(costs: [0, 0, 300, 0, 0, 100, 0, 0, 0, 0])
        #expect(c.total == 400)
        #expect(c.zeroShare == 0.8)
        #expect(c.topShares[2] == 0.75)  // top 5% of ten people rounds to the top 1: 300 / 400
        #expect(c.topShares[4] == 1)  // top 20%: both
        // Gini by its definition: mean absolute difference over twice the mean.
        let x: [Double] = [0, 0, 300, 0, 0, 100, 0, 0, 0, 0]
        var sum = 0.0
        for a in x { for b in x { sum += abs(a - b) } }
        let gini = sum / (2 * Double(x.count * x.count) * (400 / 10))
        #expect(abs(c.gini - gini) < 1e-12)
        #expect(c.lorenz == [0, 0, 0, 0, 0, 0, 0, 0, 0.25])
        let equal = CostConcentration(costs: [5, 5, 5, 5])
        #expect(abs(equal.gini) < 1e-12)
        #expect(CostConcentration(costs: []).gini == 0)
    }

    static func population() -> (Population, Utilisation) {
        var h = Hierarchy()
        h.addPractice(
            .init(code: "A1", name: "A"), pcn: .init(code: "U1", name: "U"), locality: .init(code: "L1", name: "L"),
            organisation: .init(code: "O", name: "O"))
        h.addPractice(
            .init(code: "A2", name: "B"), pcn: .init(code: "U2", name: "V"), locality: .init(code: "L1", name: "L"),
            organisation: .init(code: "O", name: "O"))
        var areas = Areas()
        areas.codes = ["E01000001", "E01000002"]
        areas.imdDecile = [1, 10]
        var p = Population(asOf: Day(iso: "2025-04-01")!, hierarchy: h, areas: areas, codes: CodeTable())
        let ages = [10, 30, 50, 70, 90, 85]
        for (i, age) in ages.enumerated() {
            p.appendPerson(
                sex: i % 2 == 0 ? .female : .male, age: age, practice: i < 3 ? 0 : 1, area: i < 4 ? 0 : 1,
                death: i == 5 ? Day(iso: "2024-01-01")! : .max)
        }
        // Person 4 has two emergency admissions in the window costing 3,000 in all.
        p.activity.byPerson = PersonIndex(start: [0, 0, 0, 0, 0, 2, 2])
        p.activity.day = [Day(iso: "2024-05-01")!, Day(iso: "2024-09-01")!]
        p.activity.endDay = [.max, .max]
        p.activity.kind = [.emergencyAdmission, .emergencyAdmission]
        p.activity.cost = [1_000, 2_000]
        p.activity.diagnosis = [-1, -1]
        p.activity.procedure = [-1, -1]
        p.activity.secondaryStart = [0, 0, 0]
        p.clinical.byPerson = PersonIndex(start: [Int32](repeating: 0, count: 7))
        p.prescriptions.byPerson = PersonIndex(start: [Int32](repeating: 0, count: 7))
        return (p, Utilisation(p, window: .months(12, before: p.asOf), workers: 1))
    }

    @Test func unitsFollowTheHierarchyAndRegistration() {
        let (p, _) = TablesTests.population()
        let units = p.units()
        #expect(units.map(\.level) == [.organisation, .locality, .pcn, .pcn, .practice, .practice])
        #expect(units[0].people == [0, 1, 2, 3, 4])  // person 5 died before as-of
        #expect(units[3].people == [3, 4])
        #expect(units[5].code == "A2")
    }

    @Test func multimorbidityTable() {
        let (p, use) = TablesTests.population()
        let ltc: [UInt8] = [0, 1, 3, 6, 9, 2]
        let people = p.registered
        let table = MultimorbidityTable(people: people, ltc: ltc, use: use)
        #expect(table.rows.map(\.band) == ["0", "1", "2", "3", "4", "5", "6", "7", "8+", "total"])
        #expect(table.rows[8].patients == 1 && table.rows[8].emergency == 2 && table.rows[8].emergencyCost == 3_000)
        #expect(table.rows[9].patients == 5)
        #expect(table.rows[9].emergencyCost == 600)
        #expect(table.rows[9].share == 1)
    }

    @Test func unitsKnowTheirPracticesAndParents() {
        let (p, _) = TablesTests.population()
        let units = p.units()
        #expect(units.map(\.practices) == [[0, 1], [0, 1], [0], [1], [0], [1]])
        #expect(units.map(\.parent) == [nil, 0, 1, 1, 2, 3])
    }

    @Test func deprivationGroupsOfTheInequalityBreakdowns() {
        let b = Dictionary(uniqueKeysWithValues: Inequalities.standard.map { ($0.id, $0) })
        // Quintile q holds deciles 2q-1 and 2q (slots are deciles minus one); Core20 is deciles 1-2.
        #expect(b["imd_quintile"]!.groups.prefix(5).map(\.slots) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
        #expect(b["core20"]!.groups[0].slots == [0, 1])
        #expect(b["core20"]!.groups[1].slots == Array(2...10))
        #expect(!b["age_band"]!.standardise)
        #expect((0...100).map { AgeCell.espBand(AgeCell.of(age: $0)) } == (0...100).map(Statistics.espBand))
        #expect((0...100).map { AgeCell.ageBand(AgeCell.of(age: $0)) } == (0...100).map { AgeBand(age: $0) })
    }

    /// Quintiles of an area indicator hold about a fifth of the people each, lowest values first;
    /// equal values share a quintile and a missing value has none.
    @Test func areaIndicatorQuintilesAreWeightedByPeople() {
        var areas = Areas()
        areas.codes = (0..<6).map { "A\($0)" }
        areas.indicatorNames = ["pm25"]
        areas.indicators = [[5, 1, 3, .nan, 3, 9]]
        // Worked by hand: sorted 1 (10 people), 3 and 3 (40), 5 (10), 9 (40) of 100; each run's
        // middle at 5%, 30%, 55% and 80% of the people gives quintiles 1, 2, 3 and 5.
        let q = AreaQuintiles(areas: areas, weight: [10, 10, 20, 5, 20, 40])
        #expect(q.quintile == [[3, 1, 2, 0, 2, 5]])
        #expect(q.ranges == [[1...1, 3...3, 5...5, nil, 9...9]])
        let b = Inequalities.breakdowns(q)
        #expect(b.count == Inequalities.standard.count + 1 && b.last?.id == "area_pm25_quintile")
        #expect(b.last?.groups.map(\.label) == ["1", "2", "3", "4", "5", "unknown"])
        #expect(b.last?.groups.map(\.slots) == (27...32).map { [$0] })
        let across = Inequalities.areaQuintiles(q, 0)
        #expect(across.slots == (27...31).map { [$0] } && (0..<6).map { across.group(Int32($0)) } == [2, 0, 1, nil, 1, 4])
        #expect(Areas.isUsableIndicatorName("pm25") && Areas.isUsableIndicatorName("green_space_access_pct"))
        #expect(!Areas.isUsableIndicatorName("pm2.5") && !Areas.isUsableIndicatorName("2pm"))
        #expect(!Areas.isUsableIndicatorName("") && !Areas.isUsableIndicatorName(String(repeating: "a", count: 41)))
    }
}
