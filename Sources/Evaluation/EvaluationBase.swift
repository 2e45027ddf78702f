import Conditions
import Foundation
import PHMCore

/// What an evaluation measures, month by month, per person.
public enum Measure: String, CaseIterable, Codable, Sendable {
    case emergencyAdmissions = "emergency_admissions"
    case emergencyBedDays = "emergency_bed_days"
    case aeAttendances = "ae_attendances"
    case electiveAdmissions = "elective_admissions"
    case outpatientAttendances = "outpatient_attendances"
    /// Health and care cost in GBP, every setting but prescribing, on the record's start date.
    case cost

    public var name: String {
        switch self {
        case .emergencyAdmissions: "emergency admissions"
        case .emergencyBedDays: "emergency bed days"
        case .aeAttendances: "A&E attendances"
        case .electiveAdmissions: "planned admissions"
        case .outpatientAttendances: "outpatient attendances"
        case .cost: "cost of care (GBP)"
        }
    }
}

/// Everyone a run may evaluate, with their use of care month by month: the input of `phm evaluate`.
///
/// Built once at the end of a run and saved beside its frame, so an evaluation needs neither the
/// extracts nor a new run. It holds everyone present in the health system's population at any
/// time in the `lookbackMonths` before as-of, not only those registered at as-of: people who die
/// or leave after an intervention stay in its evaluation for the months they were there.
/// People who opted out of sharing for planning are not in it.
public struct EvaluationBase: Sendable {
    public var runId: Int64
    public var asOf: Day
    /// The first month whose activity is held (the extracts' first, or `lookbackMonths` before
    /// as-of), numbered as `Day.monthNumber` numbers them.
    public var firstMonth: Int32
    public var hierarchy: Hierarchy
    /// The long-term conditions `condition` indexes.
    public var conditionIds: [String] = []
    public var conditionNames: [String] = []

    public var pseudonym: [String] = []
    public var sex: [Sex] = []
    /// Year and month of birth as `Day.monthNumber` numbers months.
    public var birthMonth: [Int32] = []
    /// Index into `hierarchy.practices`: the latest registration in the data.
    public var practice: [Int32] = []
    /// IMD decile of the home area, 1 = most deprived; 0 where unknown.
    public var imdDecile: [UInt8] = []
    public var ethnicGroup: [EthnicGroup] = []
    /// The person is in the population from `from` (first registration) until `to` (exclusive:
    /// leaving, death or as-of, whichever comes first).
    public var from: [Day] = []
    public var to: [Day] = []

    /// Use of care, grouped by person and in month order within a person: one row per person,
    /// month and measure with any use.
    public var events = PersonIndex()
    public var eventMonth: [Int32] = []
    /// `Measure.allCases` index.
    public var eventMeasure: [UInt8] = []
    public var eventAmount: [Float] = []

    /// Long-term conditions, grouped by person: each with the month first recorded.
    public var conditions = PersonIndex()
    public var condition: [UInt16] = []
    public var conditionMonth: [Int32] = []

    /// Five years: pre and post windows of up to two years each, and covariates from the year before.
    public static let lookbackMonths: Int32 = 60

    public init(runId: Int64, asOf: Day, firstMonth: Int32, hierarchy: Hierarchy) {
        self.runId = runId
        self.asOf = asOf
        self.firstMonth = firstMonth
        self.hierarchy = hierarchy
    }

    public var count: Int { pseudonym.count }

    /// Age in completed years on the first day of a month (birth taken as mid-month, as
    /// `Population.age(of:on:)` takes it).
    @inline(__always)
    public func age(of person: Int, atStartOf month: Int32) -> Int { Int(month - birthMonth[person] - 1) / 12 }

    /// The share of a month the person was in the population (0 to 1).
    @inline(__always)
    public func exposure(of person: Int, month: Int32) -> Float {
        let start = Day(firstOfMonth: month), end = Day(firstOfMonth: month + 1)
        let days = min(end, to[person]).rawValue - max(start, from[person]).rawValue
        return days <= 0 ? 0 : Float(days) / Float(end.rawValue - start.rawValue)
    }

    /// Whether the person was in the population on a month's first day.
    @inline(__always)
    public func isPresent(_ person: Int, atStartOf month: Int32) -> Bool {
        let day = Day(firstOfMonth: month)
        return from[person] <= day && day < to[person]
    }
}

extension EvaluationBase {
    /// Builds the base from a run's population and its conditions at as-of, one pass over each
    /// person's records, people split across cores.
    ///
    /// - Complexity: O(people + activity records).
    public init(
        runId: Int64, population: Population, conditions: ConditionResults, library: ConditionLibrary, workers: Int
    ) {
        let asOf = population.asOf
        let firstMonth = Self.firstCoveredMonth(population.activity.day, asOf: asOf)
        self.init(runId: runId, asOf: asOf, firstMonth: firstMonth, hierarchy: population.hierarchy)
        let ltc = library.ltcConditions
        conditionIds = ltc.map { library.conditions[$0].id }
        conditionNames = ltc.map { library.conditions[$0].name }
        let ltcIndex = ltc.enumerated().reduce(into: [Int32](repeating: -1, count: library.conditions.count)) {
            $0[$1.element] = Int32($1.offset)
        }

        let windowStart = Day(firstOfMonth: firstMonth)
        let people = (0..<population.count).filter { p in
            let end = min(population.registeredTo[p], population.death[p], asOf)
            return !population.optedOut[p] && population.since(p) < end && end > windowStart
        }
        let parts = Parallel.ranges(people.count, parts: workers * 4)
        let measures = Measure.allCases.count
        let partials = Parallel.map(parts.count) { k -> EvaluationBase in
            var part = EvaluationBase(runId: runId, asOf: asOf, firstMonth: firstMonth, hierarchy: Hierarchy())
            part.events.start = [0]
            part.conditions.start = [0]
            // One person's use by month and measure, and the cells touched, so resetting is cheap.
            var cells = [Float](repeating: 0, count: Int(Self.lookbackMonths + 1) * measures)
            var touched: [Int] = []
            let activity = population.activity
            for p in people[parts[k]] {
                let from = population.since(p)
                let to = min(population.registeredTo[p], population.death[p], asOf)
                part.pseudonym.append(population.pseudonym[p])
                part.sex.append(population.sex[p])
                part.birthMonth.append(population.birthMonth[p])
                part.practice.append(population.practice[p])
                let area = Int(population.area[p])
                part.imdDecile.append(area >= 0 ? population.areas.imdDecile[area] : 0)
                part.ethnicGroup.append(population.ethnicGroup[p])
                part.from.append(from)
                part.to.append(to)

                func add(_ month: Int32, _ measure: Measure, _ amount: Float) {
                    let cell = Int(month - firstMonth) * measures + measure.index
                    if cells[cell] == 0 { touched.append(cell) }
                    cells[cell] += amount
                }
                for row in activity.byPerson.rows(of: p) {
                    let day = activity.day[row]
                    guard day >= from, day < to, day >= windowStart else { continue }
                    let month = day.monthNumber
                    switch activity.kind[row] {
                    case .emergencyAdmission:
                        add(month, .emergencyAdmissions, 1)
                        let end = min(activity.endDay[row], asOf)
                        let days = max(0, day.days(to: end))
                        if days > 0 { add(month, .emergencyBedDays, Float(days)) }
                    case .aeAttendance: add(month, .aeAttendances, 1)
                    case .electiveAdmission: add(month, .electiveAdmissions, 1)
                    case .outpatientAttended: add(month, .outpatientAttendances, 1)
                    default: break
                    }
                    let cost = activity.cost[row]
                    if cost > 0 { add(month, .cost, cost) }
                }
                touched.sort()
                for cell in touched where cells[cell] != 0 {
                    part.eventMonth.append(firstMonth + Int32(cell / measures))
                    part.eventMeasure.append(UInt8(cell % measures))
                    part.eventAmount.append(cells[cell])
                    cells[cell] = 0
                }
                touched.removeAll(keepingCapacity: true)
                part.events.start.append(Int32(part.eventMonth.count))

                var held: [(UInt16, Int32)] = []
                for row in conditions.flaggedRows(of: p) {
                    let i = ltcIndex[Int(conditions.firstCondition[row])]
                    if i >= 0 { held.append((UInt16(i), conditions.firstDay[row].monthNumber)) }
                }
                held.sort { $0.0 < $1.0 }
                for (c, month) in held {
                    part.condition.append(c)
                    part.conditionMonth.append(month)
                }
                part.conditions.start.append(Int32(part.condition.count))
            }
            return part
        }
        for part in partials { append(part) }
    }

    /// The first month the extracts cover, at most `lookbackMonths` before as-of: the first of
    /// three months in a row each with at least half the activity of the median month with any (a stray old record, or a spell admitted years before its discharge, does not
    /// make the years before coverage read as years with no use).
    static func firstCoveredMonth(_ days: [Day], asOf: Day) -> Int32 {
        let last = asOf.monthNumber, first = last - lookbackMonths
        var counts = [Int](repeating: 0, count: Int(lookbackMonths))
        for day in days {
            let m = day.monthNumber
            if m >= first && m < last { counts[Int(m - first)] += 1 }
        }
        let active = counts.filter { $0 > 0 }.sorted()
        guard !active.isEmpty else { return last }
        let median = active[active.count / 2]
        let covered = counts.map { 2 * $0 >= median }
        for m in 0..<(counts.count - 2) where covered[m] && covered[m + 1] && covered[m + 2] { return first + Int32(m) }
        return last
    }

    /// Appends another base's people after this one's.
    mutating func append(_ other: EvaluationBase) {
        pseudonym += other.pseudonym
        sex += other.sex
        birthMonth += other.birthMonth
        practice += other.practice
        imdDecile += other.imdDecile
        ethnicGroup += other.ethnicGroup
        from += other.from
        to += other.to
        let eventOffset = Int32(eventMonth.count), conditionOffset = Int32(condition.count)
        events.start += other.events.start.dropFirst().map { $0 + eventOffset }
        eventMonth += other.eventMonth
        eventMeasure += other.eventMeasure
        eventAmount += other.eventAmount
        conditions.start += other.conditions.start.dropFirst().map { $0 + conditionOffset }
        condition += other.condition
        conditionMonth += other.conditionMonth
    }
}

extension Measure {
    /// Position in `allCases`, as the base stores it.
    public var index: Int {
        switch self {
        case .emergencyAdmissions: 0
        case .emergencyBedDays: 1
        case .aeAttendances: 2
        case .electiveAdmissions: 3
        case .outpatientAttendances: 4
        case .cost: 5
        }
    }
}
