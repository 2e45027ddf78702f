import Foundation
import PHMCore

/// A person frame on disk: a JSON header (names, hierarchy, where each column is) followed by
/// the columns as raw little-endian arrays, each 8-byte aligned, so loading is one read and a
/// copy per column with no parsing of values.
public enum FrameFile {
    static let magic = Array("PHMFRAME1\n".utf8)

    struct Header: ColumnFile.Header {
        var runId: Int64
        var asOf: Int32
        var count: Int
        var hierarchy: Hierarchy
        var areaCodes: [String]
        /// Absent in frames saved before area indicators were kept.
        var areaIndicatorNames: [String]?
        var conditionIds: [String]
        var conditionNames: [String]
        var scoreIds: [String]
        var listIds: [String]
        var use: [UseMeasure]
        var risks: [Risk]
        var factorTexts: [String]
        var segmentations: [Segmentation]
        /// Column name -> byte range after the header.
        var columns: [String: [Int]] = [:]

        struct Risk: Codable {
            var outcome: String
            var name: String
            /// Absent in frames saved before models were chosen.
            var model: String?
        }
        struct Segmentation: Codable {
            var id: String
            var name: String
            var segmentIds: [String]
            var segmentNames: [String]
        }
    }

    /// How many runs' frames a data directory keeps: the newest, and earlier ones to compare with.
    public static let kept = 3

    /// `DATA/frames/run-ID.frame`, or `run-ID.VARIANT.frame` for a variant of the run (the
    /// direct care frame, when the data sharing settings give direct care other sources).
    public static func url(dataDirectory: URL, run: Int64, variant: String? = nil) -> URL {
        dataDirectory.appendingPathComponent("frames/run-\(run)" + (variant.map { "." + $0 } ?? "") + ".frame")
    }

    /// The runs with a saved frame in a data directory, newest first.
    public static func runs(dataDirectory: URL) -> [Int64] {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory.appendingPathComponent("frames").path)) ?? []
        return names.compactMap { name -> Int64? in
            guard name.hasPrefix("run-"), name.hasSuffix(".frame") else { return nil }
            return Int64(name.dropFirst(4).dropLast(6))
        }.sorted(by: >)
    }

    /// Saves a run's frame in a data directory, as a draft (`.partial`) that no reader sees
    /// until `commit` makes the run's frames current.
    public static func save(_ frame: PersonFrame, dataDirectory: URL, variant: String? = nil) throws {
        let folder = dataDirectory.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // On disk before `commit` renames it into place.
        try write(frame, to: draft(url(dataDirectory: dataDirectory, run: frame.runId, variant: variant)), synchronise: true)
    }

    static func draft(_ url: URL) -> URL { url.appendingPathExtension("partial") }

    /// Makes a run's saved frames current, each by one rename: variants first, then the planning
    /// frame, whose presence makes the run the newest. A process killed between renames leaves
    /// the previous run current. Then removes the frames of all but the newest `keep` runs.
    public static func commit(run: Int64, dataDirectory: URL, keep: Int = kept) throws {
        let folder = dataDirectory.appendingPathComponent("frames")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let drafts = names.filter { $0.hasPrefix("run-\(run).") && $0.hasSuffix(".partial") }
        let planning = "run-\(run).frame.partial"
        for name in drafts.filter({ $0 != planning }) + drafts.filter({ $0 == planning }) {
            let target = folder.appendingPathComponent(String(name.dropLast(".partial".count)))
            guard rename(folder.appendingPathComponent(name).path, target.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
            }
        }
        let old = Set(runs(dataDirectory: dataDirectory).dropFirst(max(1, keep)))
        for name in names {
            let run = name.dropFirst(4).prefix { $0 != "." }
            if name.hasPrefix("run-"), let id = Int64(run), old.contains(id) {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    /// Removes what a killed run leaves: drafts never committed, and variants (and other files of
    /// the run, such as its evaluation base) committed without their planning frame (the run
    /// never became current).
    public static func removeDrafts(dataDirectory: URL) {
        let folder = dataDirectory.appendingPathComponent("frames")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let current = Set(runs(dataDirectory: dataDirectory))
        for name in names {
            let run = Int64(name.dropFirst(4).prefix { $0 != "." })
            let orphan = name.hasPrefix("run-") && run.map { !current.contains($0) } == true
            if name.hasSuffix(".partial") || orphan {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    /// The newest run's frame in a data directory; its variant when asked for and saved.
    public static func latest(dataDirectory: URL, variant: String? = nil) throws -> PersonFrame {
        guard let run = runs(dataDirectory: dataDirectory).first else { throw FrameFileError.none(dataDirectory.path) }
        if let variant {
            let specific = url(dataDirectory: dataDirectory, run: run, variant: variant)
            if FileManager.default.fileExists(atPath: specific.path) { return try read(specific) }
        }
        return try read(url(dataDirectory: dataDirectory, run: run))
    }

    public static func write(_ frame: PersonFrame, to url: URL, synchronise: Bool = false) throws {
        var file = ColumnFile.Writer()
        func add<T>(_ name: String, _ array: [T]) { file.add(name, array) }
        file.add(strings: "pseudonym", frame.pseudonym)
        add("age", frame.age)
        add("sex", frame.sex.map(\.rawValue))
        add("ethnicGroup", frame.ethnicGroup.map(\.rawValue))
        add("practice", frame.practice)
        add("area", frame.area)
        for (k, values) in frame.areaIndicators.enumerated() { add("areaIndicator.\(k)", values) }
        add("imdDecile", frame.imdDecile)
        add("optedOut", frame.optedOut.map { $0 ? UInt8(1) : 0 })
        add("ltcCount", frame.ltcCount)
        for (c, postings) in frame.conditions.enumerated() {
            add("condition.\(c).rows", postings.rows)
            add("condition.\(c).day", postings.day.map(\.rawValue))
        }
        for (s, values) in frame.scores.enumerated() { add("score.\(s)", values) }
        for (l, postings) in frame.lists.enumerated() {
            add("list.\(l).rows", postings.rows)
            add("list.\(l).lastRecorded", postings.lastRecorded.map(\.rawValue))
            add("list.\(l).latestValue", postings.latestValue)
            add("list.\(l).latestValueDay", postings.latestValueDay.map(\.rawValue))
        }
        let use = UseMeasure.allCases.filter { frame.use[$0] != nil }
        for m in use { add("use.\(m.rawValue)", frame.use[m]!) }
        for (r, risk) in frame.risks.enumerated() {
            add("risk.\(r).risk", risk.risk)
            add("risk.\(r).tier", risk.tier)
            add("risk.\(r).rising", risk.rising.map { $0 ? UInt8(1) : 0 })
        }
        add("factors", frame.factors)
        for (s, segmentation) in frame.segmentations.enumerated() { add("segmentation.\(s)", segmentation.segment) }

        let header = Header(
            runId: frame.runId, asOf: frame.asOf.rawValue, count: frame.count, hierarchy: frame.hierarchy,
            areaCodes: frame.areaCodes, areaIndicatorNames: frame.areaIndicatorNames, conditionIds: frame.conditionIds,
            conditionNames: frame.conditionNames,
            scoreIds: frame.scoreIds, listIds: frame.listIds, use: use,
            risks: frame.risks.map { .init(outcome: $0.outcome, name: $0.name, model: $0.model) }, factorTexts: frame.factorTexts,
            segmentations: frame.segmentations.map {
                .init(id: $0.id, name: $0.name, segmentIds: $0.segmentIds, segmentNames: $0.segmentNames)
            })
        try file.write(magic: magic, header: header, to: url, synchronise: synchronise)
    }

    public static func read(_ url: URL) throws -> PersonFrame {
        let file: ColumnFile.Reader<Header>
        do { file = try ColumnFile.Reader(url, magic: magic) } catch .notThisKind {
            throw FrameFileError.notAFrame(url.lastPathComponent)
        } catch { throw FrameFileError.truncated(url.lastPathComponent) }
        let header = file.header
        func column<T>(_ name: String, _ type: T.Type) throws -> [T] {
            do { return try file.column(name, type) } catch { throw FrameFileError.truncated(url.lastPathComponent) }
        }
        func days(_ name: String) throws -> [Day] {
            do { return try file.days(name) } catch { throw FrameFileError.truncated(url.lastPathComponent) }
        }

        var frame = PersonFrame(
            runId: header.runId, asOf: Day(rawValue: header.asOf), hierarchy: header.hierarchy, areaCodes: header.areaCodes)
        do { frame.pseudonym = try file.strings("pseudonym", count: header.count) } catch {
            throw FrameFileError.truncated(url.lastPathComponent)
        }
        frame.age = try column("age", Int16.self)
        frame.sex = try column("sex", UInt8.self).map { Sex(rawValue: $0) ?? .unknown }
        frame.ethnicGroup = try column("ethnicGroup", UInt8.self).map { EthnicGroup(rawValue: $0) ?? .unknown }
        frame.practice = try column("practice", Int32.self)
        frame.area = try column("area", Int32.self)
        frame.areaIndicatorNames = header.areaIndicatorNames ?? []
        frame.areaIndicators = try frame.areaIndicatorNames.indices.map { try column("areaIndicator.\($0)", Float.self) }
        frame.imdDecile = try column("imdDecile", UInt8.self)
        frame.optedOut = try column("optedOut", UInt8.self).map { $0 != 0 }
        frame.ltcCount = try column("ltcCount", UInt8.self)
        frame.conditionIds = header.conditionIds
        frame.conditionNames = header.conditionNames
        for c in header.conditionIds.indices {
            var p = PersonFrame.Postings()
            p.rows = try column("condition.\(c).rows", Int32.self)
            p.day = try days("condition.\(c).day")
            frame.conditions.append(p)
        }
        frame.scoreIds = header.scoreIds
        frame.scores = try header.scoreIds.indices.map { try column("score.\($0)", Double.self) }
        frame.listIds = header.listIds
        for l in header.listIds.indices {
            var p = PersonFrame.ListPostings()
            p.rows = try column("list.\(l).rows", Int32.self)
            p.lastRecorded = try days("list.\(l).lastRecorded")
            p.latestValue = try column("list.\(l).latestValue", Float.self)
            p.latestValueDay = try days("list.\(l).latestValueDay")
            frame.lists.append(p)
        }
        for m in header.use { frame.use[m] = try column("use.\(m.rawValue)", Float.self) }
        for (r, risk) in header.risks.enumerated() {
            frame.risks.append(
                .init(
                    outcome: risk.outcome, name: risk.name, model: risk.model ?? "",
                    risk: try column("risk.\(r).risk", Float.self),
                    tier: try column("risk.\(r).tier", Int8.self),
                    rising: try column("risk.\(r).rising", UInt8.self).map { $0 != 0 }))
        }
        frame.factorTexts = header.factorTexts
        frame.factors = try column("factors", UInt16.self)
        for (s, segmentation) in header.segmentations.enumerated() {
            frame.segmentations.append(
                .init(
                    id: segmentation.id, name: segmentation.name, segmentIds: segmentation.segmentIds,
                    segmentNames: segmentation.segmentNames, segment: try column("segmentation.\(s)", UInt8.self)))
        }
        // Every column and list within the frame's people, checked once here so the code reading
        // them (unchecked, for speed) can trust them.
        let n = header.count
        func within(_ rows: [Int32]) -> Bool {
            var previous: Int32 = -1
            for row in rows {
                guard row > previous, Int(row) < n else { return false }
                previous = row
            }
            return true
        }
        let columns = [
            frame.pseudonym.count, frame.age.count, frame.sex.count, frame.ethnicGroup.count, frame.practice.count,
            frame.area.count, frame.imdDecile.count, frame.optedOut.count, frame.ltcCount.count,
            frame.factors.count / PersonFrame.factorsPerPerson,
        ]
        let valid =
            columns.allSatisfy { $0 == n } && frame.factors.count == n * PersonFrame.factorsPerPerson
            && frame.scores.allSatisfy { $0.count == n } && frame.use.values.allSatisfy { $0.count == n }
            && frame.risks.allSatisfy { $0.risk.count == n && $0.tier.count == n && $0.rising.count == n }
            && frame.segmentations.allSatisfy { $0.segment.count == n }
            && frame.conditions.allSatisfy { within($0.rows) && $0.day.count == $0.rows.count }
            && frame.lists.allSatisfy {
                within($0.rows) && $0.lastRecorded.count == $0.rows.count && $0.latestValue.count == $0.rows.count
                    && $0.latestValueDay.count == $0.rows.count
            }
            && frame.hierarchy.isConsistent
            && frame.practice.allSatisfy { $0 >= 0 && Int($0) < frame.hierarchy.practices.count }
            && frame.area.allSatisfy { $0 >= -1 && Int($0) < frame.areaCodes.count }
            && frame.areaIndicators.allSatisfy { $0.count == frame.areaCodes.count }
            && frame.age.allSatisfy { $0 >= 0 } && frame.imdDecile.allSatisfy { $0 <= 10 }
            && frame.risks.allSatisfy { $0.tier.allSatisfy { $0 >= -1 && Int($0) < PersonFrame.tierIds.count } }
            && frame.segmentations.allSatisfy { s in s.segment.allSatisfy { $0 == .max || Int($0) < s.segmentIds.count } }
            && frame.factors.allSatisfy { $0 == .max || Int($0) < frame.factorTexts.count }
        guard valid else { throw FrameFileError.truncated(url.lastPathComponent) }
        frame.indexConditions()
        return frame
    }
}

public enum FrameFileError: Error, CustomStringConvertible {
    case notAFrame(String)
    case truncated(String)
    case none(String)

    public var description: String {
        switch self {
        case .notAFrame(let f): "\(f) is not a person frame"
        case .truncated(let f): "\(f) is damaged or truncated; run the pipeline again to rebuild it"
        case .none(let d): "no run has been saved in \(d) yet; run `phm run` (or `phm demo`) first"
        }
    }
}
