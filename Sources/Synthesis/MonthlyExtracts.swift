import Foundation
import PHMCore

/// A sequence of monthly extracts cut from one synthetic health system, as a board receives them
/// month after month, with two known faults to find: one feed short by a share of its rows in
/// one month, and one practice whose coding changes from a month on.
///
/// The system is written once (`full/`), with its history and follow-up year. Month `k` (1 to
/// `months`) is what an extract taken at `asOf + (k - 1) months` would hold: care rows of the
/// `historyYears` before that day and prescriptions of the 24 months before it (as long as the
/// generator's histories of them), every primary care event before it, patients registered by
/// then with leaving and death dates not yet reached blanked, and hospital spells not yet
/// discharged left out.
public struct MonthlySequence: Sendable {
    public var months: Int
    /// A source short by a share of its rows in one month (an incomplete submission).
    public var feedDrop: FeedDrop?
    /// A practice whose primary care codes partly become local codes no list recognises, from a
    /// month on (a change of clinical system mapped badly).
    public var codingChange: CodingChange?

    public struct FeedDrop: Sendable, Equatable {
        public var file: String
        public var month: Int
        public var share: Double
        public init(file: String, month: Int, share: Double) {
            self.file = file
            self.month = month
            self.share = share
        }
    }

    public struct CodingChange: Sendable, Equatable {
        public var practice: String
        public var month: Int
        public var share: Double
        public init(practice: String, month: Int, share: Double) {
            self.practice = practice
            self.month = month
            self.share = share
        }
    }

    public init(months: Int, feedDrop: FeedDrop? = nil, codingChange: CodingChange? = nil) {
        self.months = months
        self.feedDrop = feedDrop
        self.codingChange = codingChange
    }

    /// The as-of date of month `k` (1-based).
    public static func asOf(month k: Int, first: Day) -> Day { first.adding(months: k - 1) }
}

/// Why a monthly sequence cannot be written.
public struct MonthlySequenceError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

public enum MonthlyExtracts {
    /// `months.csv`: each month's as-of date and folder; `changes.csv`: what was done to which
    /// month, with the rows it touched (the ground truth of the faults).
    public static let monthsFile = "months.csv"
    public static let changesFile = "changes.csv"

    /// Checks a sequence against the generator's options before anything is written.
    public static func check(_ sequence: MonthlySequence, _ options: SynthesisOptions) throws {
        let most = 12 * options.followUpYears + 1
        guard most >= 2, (2...most).contains(sequence.months) else {
            throw MonthlySequenceError(
                description: "--months must be 2 to \(most): the months after as-of come from the generator's follow-up year")
        }
        if let drop = sequence.feedDrop {
            guard SyntheticHealthSystem.headers.contains(where: { $0.file == drop.file }), !drop.file.hasPrefix("ground-truth"),
                drop.file != "patients.csv"
            else {
                throw MonthlySequenceError(
                    description: "--feed-drop names \(drop.file), which is not an event file of the input contract")
            }
            guard (1...sequence.months).contains(drop.month), drop.share > 0, drop.share < 1 else {
                throw MonthlySequenceError(description: "--feed-drop needs a month of the sequence and a share between 0 and 1")
            }
        }
        if let change = sequence.codingChange {
            guard (1...sequence.months).contains(change.month), change.share > 0, change.share <= 1 else {
                throw MonthlySequenceError(
                    description: "--coding-change needs a month of the sequence and a share above 0 and at most 1")
            }
        }
    }

    /// Writes `folder/full` (the whole system and its ground truth), then one folder per month
    /// named by its as-of date, `months.csv` and `changes.csv`.
    public static func write(
        _ sequence: MonthlySequence, _ options: SynthesisOptions, to folder: URL,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> SynthesisSummary {
        try check(sequence, options)
        if let change = sequence.codingChange {
            let codes = Geography(people: options.people, seed: options.seed).practices.map(\.code)
            guard codes.contains(change.practice) else {
                throw MonthlySequenceError(
                    description:
                        "--coding-change names \(change.practice.prefix(16)), which is not a practice (\(codes.first ?? "") to \(codes.last ?? ""))"
                )
            }
        }
        let full = folder.appendingPathComponent("full")
        guard !FileManager.default.fileExists(atPath: full.path) else {
            throw MonthlySequenceError(description: "\(folder.path) already holds a monthly sequence: write to an empty folder")
        }
        let summary = try SyntheticHealthSystem.write(options, to: full, progress: progress)
        let practiceOf = try practices(ofPatientsIn: full)
        var months = CSVRows()
        months.raw("month,as_of,folder")
        var changes = CSVRows()
        changes.raw("month,as_of,file,practice,change,rows")
        for k in 1...sequence.months {
            let asOf = MonthlySequence.asOf(month: k, first: options.asOf)
            let out = folder.appendingPathComponent(asOf.description)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let cut = Cut(
                asOf: asOf, windowStart: asOf.adding(months: -12 * options.historyYears),
                drop: sequence.feedDrop.flatMap { $0.month == k ? $0 : nil },
                recode: sequence.codingChange.flatMap { k >= $0.month ? $0 : nil }, practiceOf: practiceOf)
            for file in ["practices.csv", "areas.csv"] {
                try FileManager.default.copyItem(at: full.appendingPathComponent(file), to: out.appendingPathComponent(file))
            }
            for (file, _) in SyntheticHealthSystem.headers where !file.hasPrefix("ground-truth") {
                let touched = try cut.write(file, from: full, to: out)
                if touched.dropped > 0 {
                    changes.raw("\(k),\(asOf),\(file),,rows withheld,\(touched.dropped)")
                }
                if touched.recoded > 0, let change = cut.recode {
                    changes.raw("\(k),\(asOf),\(file),\(change.practice),codes made local,\(touched.recoded)")
                }
            }
            months.raw("\(k),\(asOf),\(asOf)")
        }
        try Data(months.bytes).write(to: folder.appendingPathComponent(monthsFile))
        try Data(changes.bytes).write(to: folder.appendingPathComponent(changesFile))
        return summary
    }

    /// Each patient id's practice code, from the whole system's `patients.csv`.
    static func practices(ofPatientsIn folder: URL) throws -> [String: String] {
        let lines = try Lines(folder.appendingPathComponent("patients.csv"))
        let id = try lines.column("patient_id"), practice = try lines.column("practice_code")
        var practiceOf: [String: String] = [:]
        for line in lines.rows {
            guard let fields = Lines.fields(line), fields.count == lines.columns else { continue }
            practiceOf[Lines.text(line, fields[id])] = Lines.text(line, fields[practice])
        }
        return practiceOf
    }

    /// What one month keeps of each file, and what it changes.
    struct Cut {
        var asOf: Day
        var windowStart: Day
        var drop: MonthlySequence.FeedDrop?
        var recode: MonthlySequence.CodingChange?
        var practiceOf: [String: String]

        /// The column whose date decides whether a row is in the month's extract (patients by
        /// when they registered, events also by the window); columns blanked when their date is
        /// not yet reached; the end date of a hospital spell, which must have passed.
        static let rules: [String: (date: String, blanked: [String], undischarged: String?)] = [
            "patients.csv": ("registered_from", ["registered_to", "date_of_death"], nil),
            "gp_events.csv": ("event_date", [], nil),
            "prescriptions.csv": ("issue_date", [], nil),
            "inpatient_spells.csv": ("admission_date", [], "discharge_date"),
            "ae_attendances.csv": ("arrival_date", [], nil),
            "outpatient_appointments.csv": ("appointment_date", [], nil),
            "care_contacts.csv": ("start_date", ["end_date"], nil),
        ]

        func write(_ file: String, from full: URL, to out: URL) throws -> (dropped: Int, recoded: Int) {
            guard let rule = Self.rules[file] else { return (0, 0) }
            let lines = try Lines(full.appendingPathComponent(file))
            let dateColumn = try lines.column(rule.date)
            let blanked = try rule.blanked.map { try lines.column($0) }
            let undischarged = try rule.undischarged.map { try lines.column($0) }
            let recodes = file == "gp_events.csv" ? recode : nil
            let patient = try lines.column("patient_id", optional: true)
            let system = try lines.column("code_system", optional: true), code = try lines.column("code", optional: true)
            var rows = CSVRows(capacity: lines.bytes.count)
            rows.bytes += lines.header
            rows.bytes.append(UInt8(ascii: "\n"))
            var dropped = 0, recoded = 0
            for line in lines.rows {
                // A malformed row (an injected fault) goes into every month as it is.
                guard let fields = Lines.fields(line), fields.count == lines.columns,
                    let day = Day(iso: Lines.text(line, fields[dateColumn]))
                else {
                    rows.bytes += line
                    rows.bytes.append(UInt8(ascii: "\n"))
                    continue
                }
                guard day < asOf else { continue }
                // Primary care keeps the whole record (a diagnosis is coded once); care and
                // prescriptions a window as long as the generator's history of them.
                let start = file == "prescriptions.csv" ? asOf.adding(months: -PersonModel.prescriptionMonths) : windowStart
                if file != "patients.csv", file != "gp_events.csv", day < start { continue }
                if let u = undischarged, let end = Day(iso: Lines.text(line, fields[u])), end >= asOf { continue }
                if let drop, drop.file == file, Self.unit(line, salt: 1) < drop.share {
                    dropped += 1
                    continue
                }
                var replaced: [Int: String] = [:]
                for b in blanked where Day(iso: Lines.text(line, fields[b])).map({ $0 >= asOf }) ?? false { replaced[b] = "" }
                if let change = recodes, let patient, let system, let code, Lines.text(line, fields[system]) == "SNOMED",
                    practiceOf[Lines.text(line, fields[patient])] == change.practice, Self.unit(line, salt: 2) < change.share
                {
                    replaced[code] = Self.localCode(line)
                    recoded += 1
                }
                for (i, range) in fields.enumerated() {
                    if i > 0 { rows.bytes.append(UInt8(ascii: ",")) }
                    if let value = replaced[i] { rows.bytes += value.utf8 } else { rows.bytes += line[range] }
                }
                rows.bytes.append(UInt8(ascii: "\n"))
            }
            try Data(rows.bytes).write(to: out.appendingPathComponent(file))
            return (dropped, recoded)
        }

        /// A number in [0, 1) fixed by the line's bytes, so each month picks the same rows.
        static func unit(_ line: ArraySlice<UInt8>, salt: UInt64) -> Double {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 &+ salt
            for b in line { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h ^= h >> 33
            h &*= 0xff51_afd7_ed55_8ccd
            h ^= h >> 33
            return Double(h >> 11) / Double(1 << 53)
        }

        /// A SNOMED CT identifier of a local extension (namespace 9990001, well formed and in no
        /// list), fixed by the line.
        static func localCode(_ line: ArraySlice<UInt8>) -> String {
            let item = String(Int(unit(line, salt: 3) * 999) + 1)
            let digits = item + "9990001" + "10"
            return digits + String(CodeFormat.verhoeffDigit(for: digits))
        }
    }

    /// A CSV file's header and rows as byte slices.
    struct Lines {
        var bytes: [UInt8]
        var header: ArraySlice<UInt8>
        var names: [String]
        var rows: [ArraySlice<UInt8>]
        var columns: Int { names.count }
        let file: String

        init(_ url: URL) throws {
            bytes = Array(try Data(contentsOf: url))
            file = url.lastPathComponent
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            header = lines.first ?? []
            names = header.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            rows = Array(lines.dropFirst())
        }

        func column(_ name: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else {
                throw MonthlySequenceError(description: "\(file) has no column \(name)")
            }
            return i
        }

        func column(_ name: String, optional: Bool) throws -> Int? { names.firstIndex(of: name) }

        /// Where each field of a line lies (quotes included), or nil when its quoting is broken.
        static func fields(_ line: ArraySlice<UInt8>) -> [Range<Int>]? {
            var ranges: [Range<Int>] = []
            var i = line.startIndex
            while true {
                let start = i
                if i < line.endIndex, line[i] == UInt8(ascii: "\"") {
                    i += 1
                    while true {
                        guard i < line.endIndex else { return nil }
                        if line[i] == UInt8(ascii: "\"") {
                            if i + 1 < line.endIndex, line[i + 1] == UInt8(ascii: "\"") { i += 2 } else { break }
                        } else {
                            i += 1
                        }
                    }
                    i += 1
                    guard i == line.endIndex || line[i] == UInt8(ascii: ",") else { return nil }
                } else {
                    while i < line.endIndex, line[i] != UInt8(ascii: ",") {
                        if line[i] == UInt8(ascii: "\"") { return nil }
                        i += 1
                    }
                }
                ranges.append(start..<i)
                guard i < line.endIndex else { return ranges }
                i += 1
            }
        }

        /// A field's text (an unquoted field's; a quoted one's with its quotes).
        static func text(_ line: ArraySlice<UInt8>, _ range: Range<Int>) -> String {
            String(decoding: line[range], as: UTF8.self)
        }
    }
}
