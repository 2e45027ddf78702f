/// Each person's use and cost of care in a window (e.g. the 12 months before as-of).
///
/// Counts follow the seed table's definitions: A&E attendances; outpatient attendances (did not
/// attend excluded); elective and emergency admissions by admission date; admitted patient care
/// (APC) cost of all admissions starting in the window; unique prescription types (distinct
/// codes issued). A record's whole cost counts on its start date.
public struct Utilisation: Sendable {
    public var window: DayWindow
    public var aeAttendances: [Int32]
    public var outpatientAttendances: [Int32]
    public var electiveAdmissions: [Int32]
    public var emergencyAdmissions: [Int32]
    public var apcCost: [Double]
    public var emergencyCost: [Double]
    public var prescriptionTypes: [Int32]
    /// Cost by setting (indexed by `CareSetting.rawValue`), then by person.
    public var costBySetting: [[Double]]
    /// Contacts of `care_contacts.csv` starting in the window, by setting (indexed as
    /// `CareSetting.careContactSettings`), then by person.
    public var careContacts: [[Int32]]

    public func totalCost(_ person: Int) -> Double {
        costBySetting.reduce(0) { $0 + $1[person] }
    }

    public func secondaryCost(_ person: Int) -> Double {
        costBySetting[Int(CareSetting.ae.rawValue)][person] + costBySetting[Int(CareSetting.outpatient.rawValue)][person]
            + costBySetting[Int(CareSetting.admitted.rawValue)][person]
    }

    /// One pass over each person's events, people split across cores.
    ///
    /// - Complexity: O(events in the population).
    public init(_ population: Population, window: DayWindow, workers: Int) {
        self.window = window
        let n = population.count
        let parts = Parallel.ranges(n, parts: workers * 4)
        let partials = Parallel.map(parts.count) { k in
            Utilisation(population, window: window, people: parts[k])
        }
        aeAttendances = partials.flatMap(\.aeAttendances)
        outpatientAttendances = partials.flatMap(\.outpatientAttendances)
        electiveAdmissions = partials.flatMap(\.electiveAdmissions)
        emergencyAdmissions = partials.flatMap(\.emergencyAdmissions)
        apcCost = partials.flatMap(\.apcCost)
        emergencyCost = partials.flatMap(\.emergencyCost)
        prescriptionTypes = partials.flatMap(\.prescriptionTypes)
        costBySetting = CareSetting.allCases.map { s in partials.flatMap { $0.costBySetting[Int(s.rawValue)] } }
        careContacts = CareSetting.careContactSettings.indices.map { k in partials.flatMap { $0.careContacts[k] } }
    }

    private init(_ population: Population, window: DayWindow, people: Range<Int>) {
        self.window = window
        let n = people.count
        aeAttendances = [Int32](repeating: 0, count: n)
        outpatientAttendances = aeAttendances
        electiveAdmissions = aeAttendances
        emergencyAdmissions = aeAttendances
        prescriptionTypes = aeAttendances
        apcCost = [Double](repeating: 0, count: n)
        emergencyCost = apcCost
        costBySetting = CareSetting.allCases.map { _ in [Double](repeating: 0, count: n) }
        careContacts = CareSetting.careContactSettings.map { _ in [Int32](repeating: 0, count: n) }
        let contact = CareSetting.allCases.map { CareSetting.careContactSettings.firstIndex(of: $0) ?? -1 }
        let activity = population.activity
        let prescriptions = population.prescriptions
        var codes = Set<Int32>()
        for (i, person) in people.enumerated() {
            for row in activity.byPerson.rows(of: person) where window.contains(activity.day[row]) {
                let cost = Double(activity.cost[row])
                let kind = activity.kind[row]
                costBySetting[Int(kind.setting.rawValue)][i] += cost
                let k = contact[Int(kind.setting.rawValue)]
                if k >= 0 { careContacts[k][i] += 1 }
                switch kind {
                case .aeAttendance: aeAttendances[i] += 1
                case .outpatientAttended: outpatientAttendances[i] += 1
                case .electiveAdmission: electiveAdmissions[i] += 1
                case .emergencyAdmission:
                    emergencyAdmissions[i] += 1
                    emergencyCost[i] += cost
                default: break
                }
                if kind.isAdmission { apcCost[i] += cost }
            }
            codes.removeAll(keepingCapacity: true)
            let prescribing = Int(CareSetting.primaryCarePrescribing.rawValue)
            for row in prescriptions.byPerson.rows(of: person) where window.contains(prescriptions.day[row]) {
                codes.insert(prescriptions.code[row])
                costBySetting[prescribing][i] += Double(prescriptions.cost[row])
            }
            prescriptionTypes[i] = Int32(codes.count)
        }
    }
}
