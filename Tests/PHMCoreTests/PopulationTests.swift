import PHMCore
import TestSupport
import Testing

@Suite struct PopulationTests {
    @Test func groupsRowsByPersonInTimeOrder() {
        let person: [Int32] = [2, 0, 2, 1, 0, 2]
        let day = [30, 5, 10, 7, 1, 20].map { Day(rawValue: $0) }
        let (index, order) = groupByPerson(person: person, day: day, people: 4)
        #expect(index.start == [0, 2, 3, 6, 6])
        #expect(order.map { day[Int($0)].rawValue } == [1, 5, 7, 10, 20, 30])
        #expect(index.rows(of: 3).isEmpty)
    }

    /// Long and short histories, in and out of date order with ties, come out as a stable sort by
    /// day would put them (ties in file order), and a long reversed history is not quadratic.
    @Test func longHistoriesAreOrderedStablyByDay() {
        var rng = SystemRandomNumberGenerator()
        let people = 40
        var person: [Int32] = [], day: [Day] = []
        for p in 0..<people {
            let n = p == 0 ? 200_000 : Int.random(in: 0...300, using: &rng)
            for i in 0..<n {
                person.append(Int32(p))
                day.append(Day(rawValue: p == 0 ? Int32(n - i) : Int32.random(in: 0...40, using: &rng)))
            }
        }
        var shuffled = Array(zip(person, day).enumerated())
        shuffled.shuffle(using: &rng)
        person = shuffled.map(\.element.0)
        day = shuffled.map(\.element.1)
        let (index, order) = groupByPerson(person: person, day: day, people: people)
        for p in 0..<people {
            let expected = (0..<person.count).filter { person[$0] == p }.sorted { (day[$0], $0) < (day[$1], $1) }
            #expect(index.rows(of: p).map { Int(order[$0]) } == expected, "person \(p)")
        }
    }

    /// Two people with hand-counted activity in and out of the 12-month window.
    static func smallPopulation() -> Population {
        let asOf = Day(iso: "2025-04-01")!
        var h = Hierarchy()
        h.addPractice(
            .init(code: "A1", name: "A"), pcn: .init(code: "U1", name: "U"), locality: .init(code: "L1", name: "L"),
            organisation: .init(code: "O", name: "O"))
        var p = Population(asOf: asOf, hierarchy: h, areas: Areas(), codes: CodeTable())
        p.appendPerson()
        p.appendPerson(registeredTo: Day(iso: "2024-01-01")!)
        let rows: [(Int32, String, ActivityKind, Float)] = [
            (0, "2024-03-31", .emergencyAdmission, 5_000),  // before the window
            (0, "2024-04-01", .emergencyAdmission, 2_000),
            (0, "2024-06-01", .electiveAdmission, 900),
            (0, "2024-06-01", .aeAttendance, 200),
            (0, "2025-01-01", .outpatientAttended, 150),
            (0, "2025-01-02", .outpatientDidNotAttend, 0),
            (0, "2025-03-31", .socialCare, 1_000),
            (0, "2024-09-09", .community, 0),
            (0, "2024-10-10", .community, 40),
            (0, "2023-10-10", .ambulance, 300),  // before the window
            (0, "2025-04-01", .emergencyAdmission, 3_000),  // on as-of: outcome, not history
            (1, "2024-05-01", .maternityAdmission, 1_800),
        ]
        let (index, order) = groupByPerson(person: rows.map(\.0), day: rows.map { Day(iso: $0.1)! }, people: 2)
        let sorted = order.map { rows[Int($0)] }
        p.activity.byPerson = index
        p.activity.day = sorted.map { Day(iso: $0.1)! }
        p.activity.endDay = sorted.map { _ in .max }
        p.activity.kind = sorted.map(\.2)
        p.activity.cost = sorted.map(\.3)
        p.activity.diagnosis = sorted.map { _ in -1 }
        p.activity.secondaryStart = [Int32](repeating: 0, count: sorted.count + 1)
        var codes = CodeTable()
        let a = codes.intern("0501013B0AAAAAA", system: .bnf)
        let b = codes.intern("0206020A0AAAAAA", system: .bnf)
        p.codes = codes
        let rx: [(String, Int32, Float)] = [
            ("2024-04-10", a, 2), ("2024-07-10", a, 2), ("2024-08-01", b, 5), ("2023-01-01", b, 5),
        ]
        let (rxIndex, rxOrder) = groupByPerson(person: [0, 0, 0, 0], day: rx.map { Day(iso: $0.0)! }, people: 2)
        let rxSorted = rxOrder.map { rx[Int($0)] }
        p.prescriptions.byPerson = rxIndex
        p.prescriptions.day = rxSorted.map { Day(iso: $0.0)! }
        p.prescriptions.code = rxSorted.map(\.1)
        p.prescriptions.cost = rxSorted.map(\.2)
        p.prescriptions.quantity = rxSorted.map { _ in 28 }
        return p
    }

    @Test func summarisesUseAndCostInTheWindow() {
        let p = PopulationTests.smallPopulation()
        let use = Utilisation(p, window: .months(12, before: p.asOf), workers: 2)
        #expect(use.emergencyAdmissions == [1, 0])
        #expect(use.electiveAdmissions == [1, 0])
        #expect(use.aeAttendances == [1, 0])
        #expect(use.outpatientAttendances == [1, 0])
        #expect(use.emergencyCost == [2_000, 0])
        #expect(use.apcCost == [2_900, 1_800])
        #expect(use.prescriptionTypes == [2, 0])
        #expect(use.costBySetting[Int(CareSetting.socialCare.rawValue)] == [1_000, 0])
        #expect(use.totalCost(0) == 2_000 + 900 + 200 + 150 + 1_000 + 40 + 9)
        // Contacts by setting of care_contacts.csv, counted whatever their cost.
        #expect(CareSetting.careContactSettings == [.community, .mentalHealth, .socialCare, .ambulance, .other])
        #expect(use.careContacts == [[2, 0], [0, 0], [1, 0], [0, 0], [0, 0]])
        #expect(use.secondaryCost(0) == 3_250)
    }

    @Test func registeredPopulationIsRegisteredAndAliveAtAsOf() {
        let p = PopulationTests.smallPopulation()
        #expect(p.registered == [0])
        #expect(p.age(of: 0, on: Day(iso: "2025-04-01")!) == 70)
    }
}
