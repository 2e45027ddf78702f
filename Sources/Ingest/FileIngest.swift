import Dispatch
import Foundation
import Outputs
import PHMCore

/// Columns of one file's accepted rows, built per piece and appended in file order.
protocol RecordBatch: Sendable {
    init()
    var count: Int { get }
    /// Appends `other`'s rows except those at `skipping`, mapping piece-local code ids to global ones.
    mutating func append(_ other: Self, skipping: Set<Int>, codeMap: [Int32])
    /// Calls `body` with each piece-local code id of the rows not at `skipping`, in row order.
    func forEachCode(skipping: Set<Int>, _ body: (Int32) -> Void)
}

extension RecordBatch {
    func forEachCode(skipping: Set<Int>, _ body: (Int32) -> Void) {}
}

/// Where each contract column sits in the file's header (-1 when the optional column is absent).
public struct ColumnMap: Sendable {
    public var positions: [Int]
    /// Columns the contract does not name: header name and position.
    public var extras: [(name: String, position: Int)]
    public var fieldCount: Int

    @inline(__always) public subscript(column: Int) -> Int { positions[column] }

    /// The columns of a header row (line 1, without its line end or byte order mark): names are
    /// split at commas, trimmed of spaces and quotes and matched without case. A file whose
    /// header lacks a required column, or names one twice, cannot be read.
    public init(header: String, spec: FileSpec) throws(UnusableInput) {
        let names = header.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")).lowercased() }
        guard names.count >= 2 || spec.columns.count == 1 else {
            throw UnusableInput(
                file: spec.name, problem: "line 1 is not a comma-separated header row",
                remedy: "Save the file as CSV with a comma separator and a header row; see docs/input-contract.md.")
        }
        var positions: [Int] = []
        for column in spec.columns {
            let found = names.firstIndex(of: column.name)
            if found == nil, column.requiredColumn {
                throw UnusableInput(
                    file: spec.name, problem: "has no column '\(column.name)' in its header (line 1)",
                    remedy: "Add the column (values may be empty where the contract allows); see docs/input-contract.md.")
            }
            positions.append(found ?? -1)
        }
        var counts: [String: Int] = [:]
        for name in names { counts[name, default: 0] += 1 }
        if let duplicate = counts.first(where: { $0.value > 1 })?.key {
            throw UnusableInput(
                file: spec.name, problem: "names column '\(duplicate)' more than once in its header (line 1)",
                remedy: "Give each column a unique name.")
        }
        let known = Set(spec.columns.map(\.name))
        self.init(
            positions: positions,
            extras: names.enumerated().filter { !known.contains($0.element) }.map { (name: $0.element, position: $0.offset) },
            fieldCount: names.count)
    }

    /// The area indicators a file's further columns name (those with a name): each multiplies the
    /// inequality tables, so there are few of them; their names become output, cohort and query
    /// names, so they must be plain.
    public static func checkIndicators(_ names: [String]) throws(UnusableInput) {
        if names.count > Areas.maximumIndicators {
            throw UnusableInput(
                file: InputContract.areas.name,
                problem:
                    "has \(names.count) further columns, more than the \(Areas.maximumIndicators) area indicators a run keeps",
                remedy:
                    "Keep the area indicators to be analysed (at most \(Areas.maximumIndicators)) and remove the other columns.")
        }
        if let name = names.first(where: { !Areas.isUsableIndicatorName($0) }) {
            throw UnusableInput(
                file: InputContract.areas.name, problem: "has a column '\(name.prefix(60))' that cannot name an area indicator",
                remedy:
                    "Name each further column with lower-case letters, digits and underscores, starting with a letter (at most 40 characters), or remove it; see docs/input-contract.md."
            )
        }
    }

    init(positions: [Int], extras: [(name: String, position: Int)], fieldCount: Int) {
        self.positions = positions
        self.extras = extras
        self.fieldCount = fieldCount
    }
}

/// A key value that must be unique within a file: unique as bytes, as the contract writes it.
enum RowKey: Hashable, Sendable {
    case packed(PackedKey)
    case bytes([UInt8])

    init(_ bytes: UnsafeRawBufferPointer) {
        if let key = PackedKey(bytes) { self = .packed(key) } else { self = .bytes(Array(bytes)) }
    }
}

/// Code ids local to one piece, interned without building strings for codes already seen.
struct LocalCodes: Sendable {
    var ids: [PackedKey: Int32] = [:]
    var list: [(system: CodeSystem, code: String)] = []

    /// Normalises and interns a code; throws `code_format` when it does not fit its system.
    mutating func intern(_ bytes: UnsafeRawBufferPointer, system: CodeSystem, column: String) throws(RowError) -> Int32 {
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let id: Int32? = withUnsafeMutableBytes(of: &buffer) { out in
            out[0] = system.rawValue
            guard bytes.count <= 24,
                let n = CodeFormat.normalise(bytes, system: system, into: UnsafeMutableRawBufferPointer(rebasing: out[1...]))
            else { return nil }
            let normal = UnsafeRawBufferPointer(rebasing: out[0..<(n + 1)])
            let key = PackedKey(normal)!
            if let id = ids[key] { return id }
            let id = Int32(list.count)
            ids[key] = id
            list.append((system, Field.text(UnsafeRawBufferPointer(rebasing: normal[1...]))))
            return id
        }
        guard let id else {
            throw RowError(column, .codeFormat, "\(column) \(Field.show(bytes)) is not a valid \(system.name) code")
        }
        return id
    }
}

/// What one piece of a block produced.
struct Piece<Batch: RecordBatch>: Sendable {
    var batch = Batch()
    var codes = LocalCodes()
    var warnings: [Warning: Int] = [:]
    var rejected: [QuarantinedRow] = []
    var rowsIn = 0
    /// Rows (or resources) accepted, before keys repeated across pieces are refused.
    var accepted = 0
    /// Rows (or resources) read and deliberately not used, by reason (an export's unknown code
    /// systems, refuted diagnoses): counted, never quarantined.
    var notRead: [String: Int] = [:]
    /// Rows accepted as each of a reader's contract files (by its index), for a FHIR export; with
    /// a key, each key's file, so a repeated key is taken off its file's count.
    var variants: [Int: Int] = [:]
    var keyVariants: [Int] = []
    var lines = 0
    // For files with a key: each accepted row's key, line and raw text location.
    var keys: [RowKey] = []
    var keyLines: [Int] = []
    var keyRaw: [Range<Int>] = []
    var quotedRaw: [Int: String] = [:]

    mutating func warn(_ warning: Warning) { warnings[warning, default: 0] += 1 }
}

typealias RowDecoder<Batch: RecordBatch> = @Sendable (Row, ColumnMap, inout Piece<Batch>) throws(RowError) -> Void

/// Progress of a long read, for a terminal display.
public typealias ProgressHandler = @Sendable (_ file: String, _ done: Int, _ total: Int) -> Void

/// Reads one contract file: header, blocks, parallel pieces, quarantine, reconciliation.
struct FileIngest<Batch: RecordBatch> {
    let spec: FileSpec
    let folder: URL
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount
    var blockSize: Int = 16 << 20
    var progress: ProgressHandler?

    struct Output {
        var batch = Batch()
        var reconciliation: FileReconciliation
        var quarantine: [QuarantinedRow] = []
        var columns: ColumnMap?
    }

    func run(codes: inout CodeTable, decode: @escaping RowDecoder<Batch>) throws -> Output {
        let path = folder.appendingPathComponent(spec.name).path
        let started = DispatchTime.now()
        guard FileManager.default.fileExists(atPath: path) else {
            if spec.requiredFile {
                throw UnusableInput(
                    file: spec.name, problem: "is missing from \(folder.path)",
                    remedy: "Every extract needs practices.csv, areas.csv and patients.csv; see docs/input-contract.md.")
            }
            return Output(reconciliation: FileReconciliation(file: spec.name, present: false))
        }
        let total = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var reader = try BlockReader(path: path, displayName: spec.name, blockSize: blockSize)
        var output = Output(reconciliation: FileReconciliation(file: spec.name, present: true))
        var seen = Set<RowKey>()
        var nextLine = 2
        var columns: ColumnMap?

        // Block N is parsed on the workers while block N-1 is merged here: merging (file order,
        // repeated keys, code ids) is serial, and would otherwise leave the other cores idle.
        var inFlight: ParsedBlock<Batch>?
        // A read error leaves a parse in flight: it is waited for, not left running on the cores.
        defer { _ = inFlight?.wait() }
        // A queue of this read's own (not the shared pool, which a caller on it may be filling).
        let parser = DispatchQueue(label: "phm.ingest.parse")
        func mergeInFlight() {
            guard let parsed = inFlight else { return }
            inFlight = nil
            let pieces = parsed.wait()
            if spec.keyColumn != nil, seen.isEmpty, !parsed.block.isEmpty {
                // Size the key set once from the first block, rather than rehashing as it grows.
                let rows = pieces.reduce(0) { $0 + $1.rowsIn }
                seen.reserveCapacity(Int(Double(total) / Double(parsed.block.count) * Double(rows) * 1.1) + 16)
            }
            var line = nextLine
            parsed.block.withUnsafeBytes { bytes in
                for var piece in pieces {
                    merge(&piece, firstLine: line, block: bytes, seen: &seen, codes: &codes, into: &output)
                    line += piece.lines
                }
            }
            nextLine = line
            progress?(spec.name, parsed.bytesRead, total)
            reader.recycle(parsed.takeBlock())
        }
        while var block = try reader.next() {
            if let problem = TextProblem.find(in: block) {
                // The line is counted from the blocks before, so those are merged first.
                mergeInFlight()
                // The first block starts with the header (line 1), a later one at `nextLine`.
                throw problem.unusable(spec.name, block: block, firstLine: columns == nil ? 1 : nextLine)
            }
            if columns == nil {
                let (map, headerEnd) = try readHeader(&block)
                columns = map
                output.reconciliation.extraColumns = map.extras.map(\.name)
                output.reconciliation.extraColumnsKept = spec.keepsExtraColumns
                block.removeSubrange(0..<headerEnd)
            }
            // The block moves to the parse, which unquotes fields in its storage: no copy is shared.
            let parsed = ParsedBlock<Batch>(block: consume block, bytesRead: reader.bytesRead)
            let map = columns!
            parser.async { [self] in
                parsed.parse { processBlock(&$0, map: map, decode: decode) }
            }
            mergeInFlight()
            inFlight = parsed
        }
        mergeInFlight()
        if columns == nil {
            throw UnusableInput(
                file: spec.name, problem: "is empty (it has no header row)",
                remedy: "Write the header row of column names; see docs/input-contract.md.")
        }
        output.columns = columns
        output.reconciliation.bytes = reader.bytesRead
        output.reconciliation.seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return output
    }

    /// Parses the header row; returns the column map and where the data starts.
    private func readHeader(_ block: inout [UInt8]) throws -> (ColumnMap, Int) {
        var start = 0
        if block.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        let newline = block[start...].firstIndex(of: 0x0A) ?? block.count
        var end = newline
        if end > start, block[end - 1] == 0x0D { end -= 1 }
        let map = try ColumnMap(header: String(decoding: block[start..<end], as: UTF8.self), spec: spec)
        return (map, min(newline + 1, block.count))
    }

    /// Parses a block's pieces in parallel.
    private func processBlock(_ block: inout [UInt8], map: ColumnMap, decode: RowDecoder<Batch>) -> [Piece<Batch>] {
        block.withUnsafeMutableBytes { bytes -> [Piece<Batch>] in
            guard let base = bytes.baseAddress else { return [] }
            let ranges = BlockReader.pieces(of: UnsafeRawBufferPointer(bytes), count: workers * 2)
            let shared = Unchecked(base)
            return Parallel.map(ranges.count) { k in
                parse(base: shared.value, range: ranges[k], map: map, decode: decode)
            }
        }
    }

    private func parse(base: UnsafeMutableRawPointer, range: Range<Int>, map: ColumnMap, decode: RowDecoder<Batch>) -> Piece<
        Batch
    > {
        var piece = Piece<Batch>()
        let keyPosition = spec.keyColumn.map { map[$0] }
        let keyName = spec.keyColumn.map { spec.columns[$0].name } ?? ""
        piece.lines = forEachRecord(in: base, range: range, firstLine: 0, maxFields: map.fieldCount + 8) {
            row, raw, badQuoting in
            piece.rowsIn += 1
            var failure: RowError?
            if badQuoting {
                failure = RowError("(row)", .quoting, "the row's quotes are unbalanced or inside an unquoted field")
            } else if row.fieldCount != map.fieldCount {
                failure = RowError("(row)", .fieldCount, "the row has \(row.fieldCount) fields; the header has \(map.fieldCount)")
            } else if let keyPosition, row[keyPosition].isEmpty {
                failure = RowError(keyName, .missingValue, "\(keyName) is required but empty")
            } else {
                do throws(RowError) {
                    let before = piece.batch.count
                    try decode(row, map, &piece)
                    piece.accepted += piece.batch.count - before
                    if let keyPosition, piece.batch.count > before {
                        piece.keys.append(RowKey(row[keyPosition]))
                        piece.keyLines.append(row.line)
                        let start = base.distance(to: UnsafeMutableRawPointer(mutating: raw.baseAddress!))
                        if start >= range.lowerBound && start < range.upperBound {
                            piece.keyRaw.append(start..<(start + raw.count))
                        } else {
                            piece.quotedRaw[piece.keys.count - 1] = Field.text(raw)
                            piece.keyRaw.append(0..<0)
                        }
                    }
                } catch {
                    failure = error
                }
            }
            if let failure {
                piece.rejected.append(quarantined(row, raw: raw, error: failure, map: map))
            }
        }
        return piece
    }

    /// Builds a quarantine entry, with identifying fields redacted in its safe copy.
    private func quarantined(_ row: Row, raw: UnsafeRawBufferPointer, error: RowError, map: ColumnMap) -> QuarantinedRow {
        let rawText = Field.text(raw)
        var redacted = rawText
        if spec.hasIdentifyingColumns {
            if row.fieldCount == map.fieldCount {
                let hidden = Set(spec.columns.indices.filter { spec.columns[$0].identifying }.map { map[$0] })
                redacted = (0..<row.fieldCount).map { i -> String in
                    if hidden.contains(i) { return row[i].isEmpty ? "" : "***" }
                    let value = Field.text(row[i])
                    return value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                        ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
                }.joined(separator: ",")
            } else {
                redacted = "*** (the row could not be split into its fields, so it is withheld here; the identity vault keeps it)"
            }
        }
        return QuarantinedRow(
            file: spec.name, line: row.line, column: error.column, rule: error.rule, message: error.message,
            rawLine: rawText, redactedLine: redacted)
    }

    /// Appends a piece in file order: fixes line numbers, rejects keys seen before, maps code ids.
    func merge(
        _ piece: inout Piece<Batch>, firstLine: Int, block: UnsafeRawBufferPointer, seen: inout Set<RowKey>,
        codes: inout CodeTable, into output: inout Output
    ) {
        var skipping = Set<Int>()
        var rejected = piece.rejected
        for i in rejected.indices { rejected[i].line += firstLine }
        if let keyColumn = spec.keyColumn {
            let name = spec.columns[keyColumn].name
            for (i, key) in piece.keys.enumerated() where !seen.insert(key).inserted {
                skipping.insert(i)
                if i < piece.keyVariants.count { piece.variants[piece.keyVariants[i], default: 0] -= 1 }
                let raw = piece.quotedRaw[i] ?? Field.text(UnsafeRawBufferPointer(rebasing: block[piece.keyRaw[i]]))
                rejected.append(
                    QuarantinedRow(
                        file: spec.name, line: piece.keyLines[i] + firstLine, column: name, rule: .duplicateKey,
                        message: "\(name) repeats a value from an earlier row", rawLine: raw,
                        redactedLine: spec.hasIdentifyingColumns
                            ? "*** (duplicate row withheld here; the identity vault keeps it)" : raw))
            }
        }
        // Only the codes of rows kept join the extract's table: a code read from a row that a later
        // field, or a repeated key, quarantined is no code of the extract.
        var codeMap = [Int32](repeating: -1, count: piece.codes.list.count)
        piece.batch.forEachCode(skipping: skipping) { id in
            guard id >= 0, codeMap[Int(id)] < 0 else { return }
            let local = piece.codes.list[Int(id)]
            codeMap[Int(id)] = codes.intern(local.code, system: local.system)
        }
        output.batch.append(piece.batch, skipping: skipping, codeMap: codeMap)
        rejected.sort { $0.line < $1.line }
        output.quarantine.append(contentsOf: rejected)
        output.reconciliation.rowsIn += piece.rowsIn
        output.reconciliation.accepted += piece.accepted - skipping.count
        for (reason, n) in piece.notRead {
            var reasons = output.reconciliation.notRead ?? [:]
            reasons[ExportReader.bounded(reason, reasons), default: 0] += n
            output.reconciliation.notRead = reasons
        }
        output.reconciliation.quarantined += rejected.count
        for row in rejected { output.reconciliation.quarantinedByRule[row.rule.rawValue, default: 0] += 1 }
        for (warning, n) in piece.warnings { output.reconciliation.warnings[warning.rawValue, default: 0] += n }
    }
}

/// A block being parsed on the workers, and its pieces once they are done.
///
/// The parse owns the block until it signals; the merge reads the block and the pieces only
/// after waiting for that signal, which orders the parse's writes before the merge's reads.
private final class ParsedBlock<Batch: RecordBatch>: @unchecked Sendable {
    private(set) var block: [UInt8]
    let bytesRead: Int
    private var pieces: [Piece<Batch>] = []
    private let done = DispatchSemaphore(value: 0)

    init(block: consuming [UInt8], bytesRead: Int) {
        self.block = block
        self.bytesRead = bytesRead
    }

    func parse(_ body: (inout [UInt8]) -> [Piece<Batch>]) {
        pieces = body(&block)
        done.signal()
    }

    func wait() -> [Piece<Batch>] {
        done.wait()
        return pieces
    }

    /// The block's storage, once merged, for the reader to fill again.
    func takeBlock() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &block)
        return taken
    }
}

/// Why a block is not CSV text: a NUL byte, or bytes that are not UTF-8.
struct TextProblem {
    var offset: Int
    var isNUL: Bool

    static func find(in block: [UInt8]) -> TextProblem? {
        block.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
            if let nul = memchr(base, 0, bytes.count) {
                return TextProblem(offset: base.distance(to: UnsafeRawPointer(nul)), isNUL: true)
            }
            return UTF8Check.firstInvalid(bytes).map { TextProblem(offset: $0, isNUL: false) }
        }
    }

    /// The message naming the file and the line, for a block whose first line is `firstLine`.
    func unusable(_ file: String, block: [UInt8], firstLine: Int) -> UnusableInput {
        let line = firstLine + block[..<offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        return isNUL
            ? UnusableInput(
                file: file, problem: "is not CSV text (a NUL byte at line \(line))",
                remedy: "Export the extract as UTF-8 CSV; see docs/input-contract.md.")
            : UnusableInput(
                file: file, problem: "is not UTF-8 (first invalid byte at line \(line))",
                remedy: "Re-export the file as UTF-8 (for example with iconv -f WINDOWS-1252 -t UTF-8).")
    }
}

/// UTF-8 validation, with a fast path for ASCII.
enum UTF8Check {
    /// The offset of the first byte that breaks UTF-8, or nil if all is valid.
    static func firstInvalid(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            // Skip ASCII eight bytes at a time.
            while i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < n else { break }
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            let length: Int
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return i
            }
            guard i + length <= n else { return i }
            for k in 1..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            if b == 0xE0 && bytes[i + 1] < 0xA0 { return i }
            if b == 0xED && bytes[i + 1] > 0x9F { return i }
            if b == 0xF0 && bytes[i + 1] < 0x90 { return i }
            if b == 0xF4 && bytes[i + 1] > 0x8F { return i }
            i += length
        }
        return nil
    }
}

extension Array {
    /// Appends `other` except the elements at `skipping`.
    mutating func append(_ other: [Element], skipping: Set<Int>) {
        if skipping.isEmpty {
            append(contentsOf: other)
        } else {
            for (i, element) in other.enumerated() where !skipping.contains(i) { append(element) }
        }
    }
}
