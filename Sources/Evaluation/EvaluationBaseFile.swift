import Cohorts
import Foundation
import PHMCore

/// An evaluation base on disk, beside its run's frame: `DATA/frames/run-ID.evaluation`.
///
/// Saved as a draft that `FrameFile.commit` makes current with the run's frames, and removed
/// with them when the run is no longer kept.
public enum EvaluationBaseFile {
    static let magic = Array("PHMEVAL1\n".utf8)

    struct Header: ColumnFile.Header {
        var runId: Int64
        var asOf: Int32
        var firstMonth: Int32
        var count: Int
        var hierarchy: Hierarchy
        var conditionIds: [String]
        var conditionNames: [String]
        var columns: [String: [Int]] = [:]
    }

    /// The most one person's use of one measure in one month can be (GBP 1 billion of cost).
    static let maximumAmount: Float = 1e9

    public static func url(dataDirectory: URL, run: Int64) -> URL {
        dataDirectory.appendingPathComponent("frames/run-\(run).evaluation")
    }

    /// Saves the base as a draft of its run, synchronised to disk before the run's frames are committed.
    public static func save(_ base: EvaluationBase, dataDirectory: URL) throws {
        try FileManager.default.createDirectory(
            at: dataDirectory.appendingPathComponent("frames"), withIntermediateDirectories: true)
        try write(
            base, to: url(dataDirectory: dataDirectory, run: base.runId).appendingPathExtension("partial"), synchronise: true)
    }

    /// The base of the newest run with a frame.
    public static func latest(dataDirectory: URL) throws -> EvaluationBase {
        guard let run = FrameFile.runs(dataDirectory: dataDirectory).first else {
            throw FrameFileError.none(dataDirectory.path)
        }
        let file = url(dataDirectory: dataDirectory, run: run)
        guard FileManager.default.fileExists(atPath: file.path) else { throw EvaluationError.noBase(run: run) }
        return try read(file)
    }

    public static func write(_ base: EvaluationBase, to url: URL, synchronise: Bool = false) throws {
        var file = ColumnFile.Writer()
        file.add(strings: "pseudonym", base.pseudonym)
        file.add("sex", base.sex.map(\.rawValue))
        file.add("birthMonth", base.birthMonth)
        file.add("practice", base.practice)
        file.add("imdDecile", base.imdDecile)
        file.add("ethnicGroup", base.ethnicGroup.map(\.rawValue))
        file.add("from", base.from.map(\.rawValue))
        file.add("to", base.to.map(\.rawValue))
        file.add("events", base.events.start)
        file.add("eventMonth", base.eventMonth)
        file.add("eventMeasure", base.eventMeasure)
        file.add("eventAmount", base.eventAmount)
        file.add("conditions", base.conditions.start)
        file.add("condition", base.condition)
        file.add("conditionMonth", base.conditionMonth)
        let header = Header(
            runId: base.runId, asOf: base.asOf.rawValue, firstMonth: base.firstMonth, count: base.count,
            hierarchy: base.hierarchy, conditionIds: base.conditionIds, conditionNames: base.conditionNames)
        try file.write(magic: magic, header: header, to: url, synchronise: synchronise)
    }

    /// Reads a base and checks every index within it, so the code reading it can trust them.
    public static func read(_ url: URL) throws -> EvaluationBase {
        try read(ColumnFile.Reader<Header>(url, magic: magic), name: url.lastPathComponent)
    }

    /// A base from its bytes (`name` for messages).
    public static func read(_ data: Data, name: String) throws -> EvaluationBase {
        try read(ColumnFile.Reader<Header>(data, name: name, magic: magic), name: name)
    }

    static func read(_ file: ColumnFile.Reader<Header>, name: String) throws -> EvaluationBase {
        let h = file.header
        let damaged = ColumnFileError.damaged(name)
        var base = EvaluationBase(
            runId: h.runId, asOf: Day(rawValue: h.asOf), firstMonth: h.firstMonth, hierarchy: h.hierarchy)
        base.conditionIds = h.conditionIds
        base.conditionNames = h.conditionNames
        base.pseudonym = try file.strings("pseudonym", count: h.count)
        base.sex = try file.column("sex", UInt8.self).map { Sex(rawValue: $0) ?? .unknown }
        base.birthMonth = try file.column("birthMonth", Int32.self)
        base.practice = try file.column("practice", Int32.self)
        base.imdDecile = try file.column("imdDecile", UInt8.self)
        base.ethnicGroup = try file.column("ethnicGroup", UInt8.self).map { EthnicGroup(rawValue: $0) ?? .unknown }
        base.from = try file.days("from")
        base.to = try file.days("to")
        base.events = PersonIndex(start: try file.column("events", Int32.self))
        base.eventMonth = try file.column("eventMonth", Int32.self)
        base.eventMeasure = try file.column("eventMeasure", UInt8.self)
        base.eventAmount = try file.column("eventAmount", Float.self)
        base.conditions = PersonIndex(start: try file.column("conditions", Int32.self))
        base.condition = try file.column("condition", UInt16.self)
        base.conditionMonth = try file.column("conditionMonth", Int32.self)

        let n = h.count
        func offsets(_ start: [Int32], _ rows: Int) -> Bool {
            start.count == n + 1 && start.first == 0 && Int(start.last!) == rows
                && zip(start, start.dropFirst()).allSatisfy { $0 <= $1 }
        }
        let lastMonth = base.asOf.monthNumber
        let valid =
            [
                base.sex.count, base.birthMonth.count, base.practice.count, base.imdDecile.count, base.ethnicGroup.count,
                base.from.count, base.to.count,
            ].allSatisfy { $0 == n }
            && offsets(base.events.start, base.eventMonth.count)
            && base.eventMeasure.count == base.eventMonth.count && base.eventAmount.count == base.eventMonth.count
            && offsets(base.conditions.start, base.condition.count) && base.conditionMonth.count == base.condition.count
            && base.practice.allSatisfy { $0 >= 0 && Int($0) < base.hierarchy.practices.count }
            && base.eventMeasure.allSatisfy { Int($0) < Measure.allCases.count }
            && base.eventAmount.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= maximumAmount }
            && base.eventMonth.allSatisfy { $0 >= base.firstMonth && $0 <= lastMonth }
            && base.condition.allSatisfy { Int($0) < base.conditionIds.count }
            && base.birthMonth.allSatisfy { (Day.earliest.monthNumber...lastMonth).contains($0) }
            && base.conditionMonth.allSatisfy { (Day.earliest.monthNumber...Day.latest.monthNumber).contains($0) }
            && base.conditionNames.count == base.conditionIds.count && base.imdDecile.allSatisfy { $0 <= 10 }
            && base.firstMonth <= lastMonth && Int(lastMonth) - Int(base.firstMonth) <= 600
            && base.hierarchy.isConsistent
        guard valid else { throw damaged }
        return base
    }
}
