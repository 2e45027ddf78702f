import PHMCore

/// Each person's conditions, LTC count and scores at an as-of date.
public struct ConditionResults: Sendable {
    public var asOf: Day
    public var conditionCount: Int
    /// Words of condition flags per person.
    public var wordsPerPerson: Int
    public var flags: [UInt64]
    /// First-recorded dates of each person's flagged conditions: rows
    /// `firstStart[p] ..< firstStart[p + 1]` of `firstCondition` and `firstDay`.
    public var firstStart: [Int32]
    public var firstCondition: [UInt16]
    public var firstDay: [Day]
    /// Number of flagged conditions that count as long-term conditions.
    public var ltcCount: [UInt8]
    /// Score values by score, then person.
    public var scores: [[Double]]
    /// Each person's history of every code list touched before as-of: rows
    /// `lists.start[p] ..< lists.start[p + 1]`.
    public var lists = ListHistory()
    /// Events whose code is in no code list, by code system, and the distinct codes behind them.
    public var unmatchedEvents: [String: Int]
    public var unmatchedCodes: [String: Int]
    /// For each code id of the population's code table, whether any code list holds it.
    public var codeRecognised: [Bool] = []

    @inline(__always)
    public func has(_ person: Int, _ condition: Int) -> Bool {
        flags[person * wordsPerPerson + condition >> 6] & (1 << UInt64(condition & 63)) != 0
    }

    /// Rows of `firstCondition` and `firstDay` holding a person's flagged conditions.
    @inline(__always)
    public func flaggedRows(of person: Int) -> Range<Int> { Int(firstStart[person])..<Int(firstStart[person + 1]) }

    /// The flagged conditions of a person with their first-recorded dates.
    public func conditions(of person: Int) -> [(condition: Int, firstRecorded: Day)] {
        flaggedRows(of: person).map { (Int(firstCondition[$0]), firstDay[$0]) }
    }
}

/// For each person, the code lists with a code recorded before as-of: when last recorded, and the
/// latest value recorded with one (cohorts ask "latest BMI 30 or more in the last 2 years").
public struct ListHistory: Sendable {
    public var start: [Int32] = [0]
    /// Index into the library's `lists`.
    public var list: [UInt16] = []
    public var lastRecorded: [Day] = []
    /// The latest value recorded with a code of the list, NaN where none, and its day.
    public var latestValue: [Float] = []
    public var latestValueDay: [Day] = []
    public init() {}

    @inline(__always)
    public func rows(of person: Int) -> Range<Int> { Int(start[person])..<Int(start[person + 1]) }

    mutating func append(_ other: ListHistory) {
        let base = Int32(list.count)
        start.append(contentsOf: other.start.dropFirst().map { $0 + base })
        list.append(contentsOf: other.list)
        lastRecorded.append(contentsOf: other.lastRecorded)
        latestValue.append(contentsOf: other.latestValue)
        latestValueDay.append(contentsOf: other.latestValueDay)
    }
}
