import PHMCore

/// Monthly counts of activity for every unit, for statistical process control charts.
///
/// Activity of the people registered at as-of is counted in the calendar month it started, in
/// each of the `months` complete months before as-of, and attributed to each person's practice
/// at as-of (and so to its PCN, locality and organisation).
public struct MonthlySeries: Sendable {
    public enum Measure: String, Sendable, CaseIterable {
        case emergencyAdmissions = "emergency_admissions"
        case aeAttendances = "ae_attendances"
        case electiveAdmissions = "elective_admissions"
        case outpatientAttendances = "outpatient_attendances"

        /// Which way is better: fewer emergency admissions and A&E attendances; planned care has no
        /// better direction.
        public var improvement: String {
            switch self {
            case .emergencyAdmissions, .aeAttendances: "lower"
            case .electiveAdmissions, .outpatientAttendances: "neither"
            }
        }

        init?(_ kind: ActivityKind) {
            switch kind {
            case .emergencyAdmission: self = .emergencyAdmissions
            case .aeAttendance: self = .aeAttendances
            case .electiveAdmission: self = .electiveAdmissions
            case .outpatientAttended: self = .outpatientAttendances
            default: return nil
            }
        }
    }

    /// The first day of each month, oldest first.
    public var months: [Day]
    /// Counts by unit, then `[measure * months + month]`.
    public var counts: [[Double]]

    public init(population: Population, units: [PlanningUnit], months: Int = 36) {
        let civil = population.asOf.civil
        let current = Day(year: civil.year, month: civil.month, day: 1)!
        // Complete months only: the month of as-of is never complete before as-of.
        let last = current.adding(months: -1)
        self.months = (0..<months).map { last.adding(months: $0 - months + 1) }
        let starts = self.months.map(\.rawValue) + [last.adding(months: 1).rawValue]
        let measures = Measure.allCases.count
        let practiceCount = population.hierarchy.practices.count
        let byPractice = PlanningUnit.peopleByPractice(units, population: population)
        let activity = population.activity
        let practiceCounts = Parallel.map(practiceCount) { q in
            var c = [Double](repeating: 0, count: measures * months)
            for p in byPractice[q] {
                for row in activity.byPerson.rows(of: p) {
                    guard let m = Measure(activity.kind[row]) else { continue }
                    let day = activity.day[row].rawValue
                    guard day >= starts[0], day < starts[months] else { continue }
                    // Binary search for the month.
                    var low = 0, high = months - 1
                    while low < high {
                        let mid = (low + high + 1) / 2
                        if starts[mid] <= day { low = mid } else { high = mid - 1 }
                    }
                    c[m.rawIndex * months + low] += 1
                }
            }
            return c
        }
        counts = units.map { unit in
            var c = [Double](repeating: 0, count: measures * months)
            for q in unit.practices {
                for k in c.indices { c[k] += practiceCounts[q][k] }
            }
            return c
        }
    }

    /// The series of one measure for one unit.
    public func series(unit: Int, _ measure: Measure) -> ArraySlice<Double> {
        let start = measure.rawIndex * months.count
        return counts[unit][start..<(start + months.count)]
    }
}

extension MonthlySeries.Measure {
    var rawIndex: Int { Self.allCases.firstIndex(of: self)! }
}
