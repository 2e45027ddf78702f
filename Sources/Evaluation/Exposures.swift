import Foundation
import PHMCore

/// The people a definition says were exposed, found in an evaluation base.
public struct Exposures: Sendable {
    public var exposures: [MatchedComparison.Exposure] = []
    /// When each person the source names was first exposed, in the period or not: a person is a
    /// control only before it, and their outcomes are counted only until it.
    public var firstExposure: [Int32: Day] = [:]

    mutating func exposed(_ row: Int32, on day: Day) {
        if firstExposure[row].map({ day < $0 }) ?? true { firstExposure[row] = day }
    }
    /// People the source names (listed, given the status, or registered in the place).
    public var named = 0
    /// Rows of a list that could not be read, each with its line and the rule it broke (never its
    /// values: they may identify someone).
    public var rejected: [String] = []
    /// How many rows of a list were rejected (`rejected` describes the first few).
    public var rejectedRows = 0
    /// For a place-based scheme, its practices and start day.
    public var place: (practices: Set<Int32>, start: Day)?

    /// A worklist status change as the store records it (`GovernanceStore.statusChanges`).
    public typealias StatusChange = (pseudonym: String, status: String, at: Date)

    /// The largest list read.
    public static let maximumListBytes = 64 << 20
    public static let maximumRejectedShown = 20

    public init() {}

    /// Everyone set to the status within the period, each from the first day it was set.
    public init(worklist changes: [StatusChange], status: String, from: Day, to: Day, base: EvaluationBase) {
        let rows = Self.rows(base)
        var first: [Int32: Day] = [:]
        var named = Set<String>()
        for change in changes where change.status == status {
            named.insert(change.pseudonym)
            guard let row = rows[change.pseudonym] else { continue }
            let day = Day(utc: change.at)
            exposed(row, on: day)
            if day >= from, day <= to, first[row].map({ day < $0 }) ?? true { first[row] = day }
        }
        self.named = named.count
        exposures = first.map { .init(person: $0.key, start: $0.value) }.sorted { $0.person < $1.person }
    }

    /// Everyone registered on the start day with the practices of the units named at a level
    /// (practices, a PCN's, a locality's), refused when no such unit exists or the place is
    /// every practice, or when `options` would match exactly on where people are registered.
    public init(
        place level: Level, codes: [String], start: Day, base: EvaluationBase, options: EvaluationOptions
    ) throws(EvaluationError) {
        let hierarchy = base.hierarchy, units = hierarchy.units(level)
        var practices = Set<Int32>()
        for code in codes {
            guard let u = units.firstIndex(where: { $0.code == code }) else {
                throw .invalidOptions("place: no \(level.rawValue) with code '\(code.prefix(20))'")
            }
            for p in hierarchy.practices.indices {
                let parent: Int32 =
                    switch level {
                    case .practice: Int32(p)
                    case .pcn: hierarchy.practicePCN[p]
                    case .locality: hierarchy.practiceLocality[p]
                    case .organisation: hierarchy.practiceOrganisation[p]
                    }
                if parent == Int32(u) { practices.insert(Int32(p)) }
            }
        }
        guard practices.count < hierarchy.practices.count else {
            throw .invalidOptions("place covers every practice: no one is left to compare with")
        }
        guard !options.exact.contains(where: { [.practice, .pcn, .locality].contains($0) }) else {
            throw .invalidOptions(
                "a place cannot be matched exactly on practice, PCN or locality: its controls come from elsewhere")
        }
        self.init(place: practices, start: start, base: base)
    }

    /// Everyone registered with the place's practices on the start day.
    public init(place practices: Set<Int32>, start: Day, base: EvaluationBase) {
        place = (practices, start)
        for p in 0..<base.count where practices.contains(base.practice[p]) {
            // People who join the place later are exposed from when they join.
            exposed(Int32(p), on: max(start, base.from[p]))
            if base.from[p] <= start && start < base.to[p] { exposures.append(.init(person: Int32(p), start: start)) }
        }
        named = exposures.count
    }

    /// A CSV list with a header naming `start_date` and either `pseudonym` or `nhs_number` (NHS
    /// numbers are checked and pseudonymised with the run's key, then forgotten). A person listed
    /// more than once starts on their earliest date. Rows that cannot be read are counted and
    /// described in `rejected`, the rest used.
    public init(
        list data: Data, file: String, base: EvaluationBase, pseudonymise: ((UInt64) -> String)?
    ) throws(EvaluationError) {
        guard data.count <= Self.maximumListBytes else {
            throw .invalidList("\(file) is larger than \(Self.maximumListBytes >> 20) MB")
        }
        let rows = Self.rows(base)
        // Lines found one at a time (a file of empty lines must not become an array of them), a
        // byte order mark and carriage returns dropped, surrounding quotes and spaces trimmed.
        var position = data.startIndex
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { position += 3 }
        func nextLine() -> [String]? {
            guard position < data.endIndex else { return nil }
            var end = data[position...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
            let next = end < data.endIndex ? end + 1 : end
            if end > position, data[end - 1] == 13 { end -= 1 }
            defer { position = next }
            guard end > position else { return [] }
            return String(decoding: data[position..<end], as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
        }
        guard let header = nextLine()?.map({ $0.lowercased() }), header != [] else {
            throw .invalidList("\(file) is empty")
        }
        guard let startColumn = header.firstIndex(of: "start_date") else {
            throw .invalidList("\(file) line 1: no start_date column")
        }
        let idColumn: Int, byNHSNumber: Bool
        if let i = header.firstIndex(of: "pseudonym") {
            (idColumn, byNHSNumber) = (i, false)
        } else if let i = header.firstIndex(of: "nhs_number") {
            guard pseudonymise != nil else {
                throw .invalidList("\(file): an nhs_number list needs the platform's pseudonymisation key")
            }
            (idColumn, byNHSNumber) = (i, true)
        } else {
            throw .invalidList("\(file) line 1: no pseudonym or nhs_number column")
        }
        var first: [Int32: Day] = [:]
        var named = Set<String>()
        var rejectedCount = 0
        func reject(_ line: Int, _ field: String, _ rule: String) {
            rejectedCount += 1
            if rejected.count < Self.maximumRejectedShown { rejected.append("\(file) line \(line), \(field): \(rule)") }
        }
        var number = 1
        while let f = nextLine() {
            number += 1
            guard !f.isEmpty else { continue }
            guard f.count == header.count else {
                reject(number, "row", "has \(f.count) fields where the header has \(header.count)")
                continue
            }
            guard let start = Day(iso: f[startColumn]) else {
                reject(number, "start_date", "not a date (YYYY-MM-DD)")
                continue
            }
            let pseudonym: String
            if byNHSNumber {
                guard case .valid(let nhs) = NHSNumber.check(f[idColumn]) else {
                    reject(number, "nhs_number", "not a valid NHS number (ten digits, modulus 11 check)")
                    continue
                }
                pseudonym = pseudonymise!(nhs)
            } else {
                pseudonym = f[idColumn]
            }
            named.insert(pseudonym)
            guard let row = rows[pseudonym] else { continue }
            exposed(row, on: start)
            if first[row].map({ start < $0 }) ?? true { first[row] = start }
        }
        rejectedRows = rejectedCount
        if rejectedCount > rejected.count {
            rejected.append("\(rejectedCount - rejected.count) further rows rejected")
        }
        self.named = named.count
        exposures = first.map { .init(person: $0.key, start: $0.value) }.sorted { $0.person < $1.person }
    }

    static func rows(_ base: EvaluationBase) -> [String: Int32] {
        Dictionary(base.pseudonym.enumerated().map { ($1, Int32($0)) }, uniquingKeysWith: { a, _ in a })
    }
}
