import PHMCore

/// Each person's coded history before as-of reduced to what the condition rules read, per code
/// list: an engine that keeps the events elsewhere (Spark) sends these instead of the events, and
/// `ConditionEngine.evaluate(_:asOf:workers:)` comes to the same results as from the events.
///
/// A person's rows are `rows(of:)`, one per code list with a code recorded, in list order.
public struct CodeFacts: Sendable {
    /// The day the events were reduced at: only events before it count, and windows end there.
    public var asOf: Day
    public var start: [Int32] = [0]
    /// Index into the library's `lists`.
    public var list: [Int32] = []
    /// The first and latest day a code of the list was recorded.
    public var first: [Day] = []
    public var last: [Day] = []
    /// The latest value recorded with a code of the list (NaN where none) and its day
    /// (`Int32.min` where none).
    public var latestValue: [Float] = []
    public var latestValueDay: [Day] = []
    /// How many values were recorded with a code of the list, and the latest of them (as many as
    /// the list's `ConditionEngine.valueDepths`, or all when fewer), oldest first, at `recentStart[r] ..< recentStart[r + 1]`.
    public var valueCount: [Int32] = []
    public var recentStart: [Int32] = [0]
    public var recentValue: [Float] = []
    public var recentDay: [Day] = []
    /// Prescriptions of the list issued within each of `ConditionEngine.prescriptionWindows`
    /// (months before as-of): `prescribed[r * windows + w]`.
    public var prescribed: [Int32] = []
    /// For each person, each prescribed code of any list (an id of the engine's code table) with
    /// the day it was last issued: `issuedCode[issuedStart[p] ..< issuedStart[p + 1]]`.
    public var issuedStart: [Int32] = [0]
    public var issuedCode: [Int32] = []
    public var issuedDay: [Day] = []
    /// Events whose code is in no list, by code system name.
    public var unmatchedEvents: [String: Int] = [:]

    public init(asOf: Day) {
        self.asOf = asOf
    }

    public var count: Int { start.count - 1 }

    @inline(__always)
    public func rows(of person: Int) -> Range<Int> { Int(start[person])..<Int(start[person + 1]) }

    /// What is wrong with these facts as input to `engine`, or nil: every index in range, rows in
    /// list order, counts that add up. `evaluate` reads them without bounds checks.
    public func problem(for engine: ConditionEngine) -> String? {
        let lists = engine.library.lists.count, windows = engine.prescriptionWindows.count
        let n = list.count
        guard start.first == 0, start.last.map(Int.init) == n, zip(start, start.dropFirst()).allSatisfy({ $0 <= $1 })
        else { return "the rows of each person do not follow one another" }
        guard [first.count, last.count, latestValue.count, latestValueDay.count, valueCount.count].allSatisfy({ $0 == n }),
            recentStart.count == n + 1,
            prescribed.count == n * windows
        else { return "the columns are not all one row per person and list" }
        for p in 0..<count {
            let r = rows(of: p)
            guard r.allSatisfy({ list[$0] >= 0 && Int(list[$0]) < lists }) else { return "a code list out of range" }
            guard zip(r.dropFirst(), r).allSatisfy({ list[$0] > list[$1] }) else { return "a person's lists not in order" }
        }
        guard recentStart.first == 0, recentStart.last.map(Int.init) == recentValue.count, recentDay.count == recentValue.count
        else { return "the recent values do not add up" }
        for r in 0..<n {
            guard recentStart[r] >= 0, recentStart[r] <= recentStart[r + 1], Int(recentStart[r + 1]) <= recentDay.count
            else { return "the recent values do not add up" }
            let values = Int(recentStart[r])..<Int(recentStart[r + 1])
            let recent = values.count
            guard zip(values, values.dropFirst()).allSatisfy({ recentDay[$0] <= recentDay[$1] })
            else { return "a list's recent values not oldest first" }
            guard valueCount[r] >= 0, recent == min(Int(valueCount[r]), engine.valueDepths[Int(list[r])]),
                first[r] <= last[r], last[r] < asOf, latestValueDay[r] <= last[r],
                prescribed[r * windows..<(r + 1) * windows].allSatisfy({ $0 >= 0 })
            else {
                return "a list's days, values or counts do not fit it"
            }
        }
        guard issuedStart.count == count + 1, issuedStart.first == 0, issuedStart.last.map(Int.init) == issuedCode.count,
            zip(issuedStart, issuedStart.dropFirst()).allSatisfy({ $0 <= $1 }), issuedDay.count == issuedCode.count,
            issuedCode.allSatisfy({ $0 >= 0 && Int($0) < engine.codeCount }), issuedDay.allSatisfy({ $0 < asOf })
        else { return "the issued codes do not add up" }
        return nil
    }
}
