import PHMCore

/// One hand-built person: who they are, and their history as (date, system, code, value) for GP
/// codes, prescriptions as (date, BNF code), emergency admissions as (date, primary ICD-10,
/// secondary ICD-10 codes) and A&E attendances by date.
public struct History: Sendable {
    public var age = 70
    public var sex = Sex.female
    public var area: Int32 = -1
    public var clinical: [(String, CodeSystem, String, Float)] = []
    public var prescriptions: [(String, String)] = []
    public var admissions: [(String, String, [String])] = []
    public var aeAttendances: [String] = []

    public init(
        age: Int = 70, sex: Sex = .female, area: Int32 = -1, clinical: [(String, CodeSystem, String, Float)] = [],
        prescriptions: [(String, String)] = [], admissions: [(String, String, [String])] = [], aeAttendances: [String] = []
    ) {
        self.age = age
        self.sex = sex
        self.area = area
        self.clinical = clinical
        self.prescriptions = prescriptions
        self.admissions = admissions
        self.aeAttendances = aeAttendances
    }
}

/// A population of hand-built people in one practice, with their events grouped by person.
public func constructedPopulation(_ people: [History], asOf: Day, areas: Areas = Areas()) -> Population {
    var codes = CodeTable()
    var h = Hierarchy()
    h.addPractice(
        .init(code: "A1", name: "A"), pcn: .init(code: "U1", name: "U"), locality: .init(code: "L1", name: "L"),
        organisation: .init(code: "O", name: "O"))
    var p = Population(asOf: asOf, hierarchy: h, areas: areas, codes: CodeTable())
    var clinical: [(Int32, Day, Int32, Float)] = []
    var rx: [(Int32, Day, Int32)] = []
    var care: [(Int32, Day, Int32, [Int32], ActivityKind)] = []
    for (i, person) in people.enumerated() {
        p.appendPerson(sex: person.sex, age: person.age, area: person.area)
        for (d, system, code, value) in person.clinical {
            clinical.append(
                (Int32(i), Day(iso: d)!, codes.intern(CodeFormat.normalise(code, system: system)!, system: system), value))
        }
        for (d, code) in person.prescriptions { rx.append((Int32(i), Day(iso: d)!, codes.intern(code, system: .bnf))) }
        for (d, primary, secondary) in person.admissions {
            care.append(
                (
                    Int32(i), Day(iso: d)!, codes.intern(CodeFormat.normalise(primary, system: .icd10)!, system: .icd10),
                    secondary.map { codes.intern(CodeFormat.normalise($0, system: .icd10)!, system: .icd10) },
                    .emergencyAdmission
                ))
        }
        for d in person.aeAttendances { care.append((Int32(i), Day(iso: d)!, -1, [], .aeAttendance)) }
    }
    p.codes = codes
    let (ci, co) = groupByPerson(person: clinical.map(\.0), day: clinical.map(\.1), people: people.count)
    p.clinical.byPerson = ci
    p.clinical.day = co.map { clinical[Int($0)].1 }
    p.clinical.code = co.map { clinical[Int($0)].2 }
    p.clinical.value = co.map { clinical[Int($0)].3 }
    let (ri, ro) = groupByPerson(person: rx.map(\.0), day: rx.map(\.1), people: people.count)
    p.prescriptions.byPerson = ri
    p.prescriptions.day = ro.map { rx[Int($0)].1 }
    p.prescriptions.code = ro.map { rx[Int($0)].2 }
    p.prescriptions.cost = ro.map { _ in 1 }
    p.prescriptions.quantity = ro.map { _ in 28 }
    let (ai, ao) = groupByPerson(person: care.map(\.0), day: care.map(\.1), people: people.count)
    p.activity.byPerson = ai
    let rows = ao.map { care[Int($0)] }
    p.activity.day = rows.map(\.1)
    p.activity.endDay = rows.map { _ in .max }
    p.activity.kind = rows.map(\.4)
    p.activity.cost = rows.map { $0.4 == .emergencyAdmission ? 1_000 : 200 }
    p.activity.diagnosis = rows.map(\.2)
    p.activity.procedure = rows.map { _ in -1 }
    p.activity.secondaryStart = [0]
    for row in rows {
        p.activity.secondaryCodes.append(contentsOf: row.3)
        p.activity.secondaryStart.append(Int32(p.activity.secondaryCodes.count))
    }
    return p
}
