/// The whole population at an as-of date, held column by column.
///
/// One row per person (struct of arrays, integer-coded categories) and, for each kind of
/// event, one table whose rows are grouped by person and in time order within a person, so a
/// person's history is a contiguous slice. No identifying field is held here: the person is a
/// pseudonym, and age and small area stand in for date of birth and postcode.
public struct Population: Sendable {
    public var asOf: Day
    public var hierarchy: Hierarchy
    public var areas: Areas
    public var codes: CodeTable

    // Person columns.
    public var pseudonym: [String] = []
    public var sex: [Sex] = []
    /// Completed years of age at `asOf` (age at death for people who died before it).
    public var age: [Int16] = []
    /// Year and month of birth as `year * 12 + month - 1`, for ages at other dates.
    public var birthMonth: [Int32] = []
    /// Index into `hierarchy.practices` of the registration current at `asOf`, or the latest one.
    public var practice: [Int32] = []
    /// Index into `areas`, or -1 where the person has no known small area.
    public var area: [Int32] = []
    public var ethnicGroup: [EthnicGroup] = []
    public var optedOut: [Bool] = []
    /// Start and end (exclusive, `Day.max` while open) of the registration used.
    public var registeredFrom: [Day] = []
    public var registeredTo: [Day] = []
    /// Date of death, or `Day.max` while alive.
    public var death: [Day] = []
    /// The first day of the person's earliest registration in the data: since when they have been
    /// in the health system's population (a move between its practices starts a later
    /// registration, not a new person). Empty where not known: then `registeredFrom`.
    public var registeredSince: [Day] = []

    // Event tables, grouped by person.
    public var clinical = ClinicalEvents()
    public var prescriptions = PrescriptionEvents()
    public var activity = ActivityEvents()

    public init(asOf: Day, hierarchy: Hierarchy, areas: Areas, codes: CodeTable) {
        self.asOf = asOf
        self.hierarchy = hierarchy
        self.areas = areas
        self.codes = codes
    }

    public var count: Int { pseudonym.count }

    /// Whether a person counts in the registered population at `asOf`: registered with a
    /// practice on that day and alive on it.
    @inline(__always)
    public func isRegistered(_ person: Int) -> Bool { isRegistered(person, on: asOf) }

    /// Whether a person was registered with a practice and alive on another day.
    @inline(__always)
    public func isRegistered(_ person: Int, on day: Day) -> Bool {
        registeredFrom[person] <= day && day < registeredTo[person] && day < death[person]
    }

    /// Since when a person has been registered in the health system's population.
    @inline(__always)
    public func since(_ person: Int) -> Day { registeredSince.isEmpty ? registeredFrom[person] : registeredSince[person] }

    /// The indices of the registered population at `asOf`, in person order.
    public var registered: [Int] { (0..<count).filter(isRegistered) }

    /// Age in completed years on another day, from year and month of birth (assuming mid-month).
    public func age(of person: Int, on day: Day) -> Int {
        let (y, m, d) = day.civil
        let months = y * 12 + m - 1 - Int(birthMonth[person])
        return (d >= 15 ? months : months - 1) / 12
    }
}

extension Population {
    /// The population with only the records of the given sources: GP clinical events and
    /// prescriptions go with `.gp`, activity with its kind's source. People and registrations stay.
    public func restricted(to sources: Set<DataSource>) -> Population {
        var out = self
        if !sources.contains(.gp) {
            out.clinical = ClinicalEvents()
            out.clinical.byPerson = PersonIndex(start: [Int32](repeating: 0, count: count + 1))
            out.prescriptions = PrescriptionEvents()
            out.prescriptions.byPerson = PersonIndex(start: [Int32](repeating: 0, count: count + 1))
        }
        let a = activity
        guard a.kind.contains(where: { !sources.contains($0.source) }) else { return out }
        var kept = ActivityEvents()
        kept.byPerson.start.reserveCapacity(count + 1)
        for person in 0..<count {
            for row in a.byPerson.rows(of: person) where sources.contains(a.kind[row].source) {
                kept.day.append(a.day[row])
                kept.endDay.append(a.endDay[row])
                kept.kind.append(a.kind[row])
                kept.cost.append(a.cost[row])
                kept.diagnosis.append(a.diagnosis[row])
                if !a.procedure.isEmpty { kept.procedure.append(a.procedure[row]) }
                kept.secondaryCodes.append(
                    contentsOf: a.secondaryCodes[Int(a.secondaryStart[row])..<Int(a.secondaryStart[row + 1])])
                kept.secondaryStart.append(Int32(kept.secondaryCodes.count))
            }
            kept.byPerson.start.append(Int32(kept.day.count))
        }
        out.activity = kept
        return out
    }
}

extension Day {
    /// A day after any real date, used for open-ended periods.
    public static let max = Day(rawValue: Int32.max)
}

/// Per-person offsets into an event table: the events of person `p` are rows
/// `start[p] ..< start[p + 1]`.
public struct PersonIndex: Sendable {
    public var start: [Int32] = [0]
    public init() {}
    public init(start: [Int32]) { self.start = start }

    @inline(__always)
    public func rows(of person: Int) -> Range<Int> { Int(start[person])..<Int(start[person + 1]) }
}

/// Coded entries of the primary care record.
public struct ClinicalEvents: Sendable {
    public var byPerson = PersonIndex()
    public var day: [Day] = []
    /// Id in the population's `CodeTable`.
    public var code: [Int32] = []
    /// The recorded value, NaN where none.
    public var value: [Float] = []
    public init() {}
    public var count: Int { day.count }
}

/// Primary care prescription issues.
public struct PrescriptionEvents: Sendable {
    public var byPerson = PersonIndex()
    public var day: [Day] = []
    public var code: [Int32] = []
    public var quantity: [Float] = []
    /// Cost in GBP, 0 where not given.
    public var cost: [Float] = []
    public init() {}
    public var count: Int { day.count }
}

/// Secondary, community, mental health and social care records linked to a person.
public struct ActivityEvents: Sendable {
    public var byPerson = PersonIndex()
    /// Admission, arrival, appointment or contact start.
    public var day: [Day] = []
    /// Discharge or contact end, `Day.max` where open or not applicable.
    public var endDay: [Day] = []
    public var kind: [ActivityKind] = []
    public var cost: [Float] = []
    /// Primary diagnosis code id, -1 where none.
    public var diagnosis: [Int32] = []
    /// Primary procedure code id (OPCS-4), -1 where none.
    public var procedure: [Int32] = []
    /// Secondary diagnoses of row `r` are `secondaryCodes[secondaryStart[r] ..< secondaryStart[r + 1]]`.
    public var secondaryStart: [Int32] = [0]
    public var secondaryCodes: [Int32] = []
    public init() {}
    public var count: Int { day.count }
}

/// Groups rows by person and orders each person's rows by day.
///
/// Counting sort by person, then insertion sort within each person (histories are short and
/// mostly arrive in date order). Returns the per-person offsets and the row permutation.
///
/// - Complexity: O(n + people) plus the small per-person sorts.
public func groupByPerson(person: [Int32], day: [Day], people: Int) -> (index: PersonIndex, order: [Int32]) {
    var start = [Int32](repeating: 0, count: people + 1)
    for p in person { start[Int(p) + 1] += 1 }
    for i in 0..<people { start[i + 1] += start[i] }
    var next = start
    var order = [Int32](repeating: 0, count: person.count)
    for (row, p) in person.enumerated() {
        order[Int(next[Int(p)])] = Int32(row)
        next[Int(p)] += 1
    }
    order.withUnsafeMutableBufferPointer { order in
        day.withUnsafeBufferPointer { day in
            for p in 0..<people {
                let lo = Int(start[p]), hi = Int(start[p + 1])
                guard hi - lo > 1 else { continue }
                if hi - lo > 64 {
                    // A long history out of date order would cost its length squared by insertion;
                    // rows are still in file order here, so (day, row) sorts stably by day.
                    order[lo..<hi].sort { (day[Int($0)], $0) < (day[Int($1)], $1) }
                    continue
                }
                for i in (lo + 1)..<hi {
                    let row = order[i]
                    let key = day[Int(row)]
                    var j = i - 1
                    while j >= lo, day[Int(order[j])] > key {
                        order[j + 1] = order[j]
                        j -= 1
                    }
                    order[j + 1] = row
                }
            }
        }
    }
    return (PersonIndex(start: start), order)
}

extension Array {
    /// The elements at the given positions, in that order.
    public func permuted(by order: [Int32]) -> [Element] {
        withUnsafeBufferPointer { source in order.map { source[Int($0)] } }
    }
}
