/// A planning table's CSV turned into PostgreSQL's COPY text format as it is read, straight from
/// its bytes: no row or string is built. Every record is checked against the table's typed
/// columns on the way (its fields' count, each cell's kind, an empty cell where the column is
/// never empty, a NUL), and the first that fails stops it naming the file, line and column.
///
/// COPY text is tab-separated with `\N` for NULL; backslash, tab, line feed and carriage return
/// in text are escaped, so no text can read as `\N` or as the end-of-data marker `\.`. Each
/// row starts with the run's id.
public struct CopyText: Sendable {
    let csv: [UInt8]
    let file: String
    let columns: [TableColumn]
    let prefix: [UInt8]
    let chunk: Int
    var scanner = Scanner()
    var started = false
    /// What stopped the translation: every later call throws it again.
    var failure: CopyTextError?
    /// The rows translated so far.
    public private(set) var rows = 0

    public init(csv: [UInt8], file: String, columns: [TableColumn], runId: Int64, chunk: Int = 1 << 20) {
        self.csv = csv
        self.file = file
        self.columns = columns
        prefix = Array(String(runId).utf8)
        self.chunk = max(1, chunk)
    }

    /// The next chunk of COPY text, about `chunk` bytes of whole rows, or nil when the table is
    /// done. The first call checks the header: it must name exactly the columns, in order.
    public mutating func next() throws(CopyTextError) -> [UInt8]? {
        if let failure { throw failure }
        var out: [UInt8] = []
        out.reserveCapacity(chunk + 4096)
        // Worked on as locals: the cells are written by a method of `self`.
        var (scanner, started, rows) = (self.scanner, self.started, self.rows)
        defer { (self.scanner, self.started, self.rows) = (scanner, started, rows) }
        do {
            try csv.withUnsafeBufferPointer { bytes in
                if !started {
                    started = true
                    let header = try scanner.header(bytes, file: file, limit: columns.count)
                    guard header == columns.map(\.name) else {
                        throw CopyTextError(
                            file: file, line: 1,
                            "its header is not this version's: expected \(columns.map(\.name).joined(separator: ","))")
                    }
                }
                while out.count < chunk {
                    let line = scanner.line
                    let fields = try scanner.record(bytes, file: file) { index, cell in
                        guard index < columns.count else {
                            throw CopyTextError(file: file, line: line, "it has more than \(columns.count) fields")
                        }
                        if index == 0 { out.append(contentsOf: prefix) }
                        out.append(UInt8(ascii: "\t"))
                        try write(cell, column: columns[index], line: line, into: &out)
                    }
                    guard let fields else { break }
                    guard fields == columns.count else {
                        throw CopyTextError(file: file, line: line, "it has \(fields) fields, not \(columns.count)")
                    }
                    out.append(UInt8(ascii: "\n"))
                    rows += 1
                }
            }
        } catch let error as CopyTextError {
            failure = error
            throw error
        } catch {
            failure = CopyTextError(file: file, line: scanner.line, "\(error)")
            throw failure!
        }
        return out.isEmpty ? nil : out
    }

    private func write(_ cell: UnsafeBufferPointer<UInt8>, column: TableColumn, line: Int, into buffer: inout [UInt8]) throws {
        if cell.isEmpty {
            switch (column.kind, column.nullable) {
            case (_, true): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            // Text the row type always holds may be empty text.
            case (.text, false): break
            default: throw CopyTextError(file: file, line: line, "column '\(column.name)' is empty, which it never is")
            }
            return
        }
        guard column.kind.accepts(cell) else {
            let what: String =
                switch column.kind {
                case .text: "holds a NUL character or bytes that are not UTF-8, which PostgreSQL text cannot hold"
                case .integer: "is not a whole number of at most 64 bits"
                case .decimal: "is not a decimal"
                case .flag: "is not Y or N"
                }
            throw CopyTextError(file: file, line: line, "column '\(column.name)' \(what)")
        }
        switch column.kind {
        case .flag: buffer.append(cell[0] == UInt8(ascii: "Y") ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .integer, .decimal: buffer.append(contentsOf: cell)
        case .text:
            var start = cell.startIndex
            for i in cell.indices {
                let escaped: UInt8
                switch cell[i] {
                case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
                case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
                case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
                case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
                default: continue
                }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: cell[start..<i]))
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(escaped)
                start = i + 1
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: cell[start...]))
        }
    }

    /// Walks RFC 4180 CSV as the table writer writes it: fields separated by commas, quoted when
    /// they hold a comma, quote or line break, with `""` for a quote; `\r\n` or `\n` ends a record.
    struct Scanner: Sendable {
        var position = 0
        /// The line the next record starts on, counting line breaks inside quoted fields.
        var line = 1
        /// A quoted field's bytes, unquoted.
        var field: [UInt8] = []

        /// The header's names; more than `limit` is an error, so a header of commas builds no
        /// string for each.
        mutating func header(_ bytes: UnsafeBufferPointer<UInt8>, file: String, limit: Int) throws -> [String] {
            var names: [String] = []
            let found = try record(bytes, file: file) { index, cell in
                guard index < limit else { throw CopyTextError(file: file, line: 1, "its header has more than \(limit) names") }
                names.append(String(decoding: cell, as: UTF8.self))
            }
            guard found != nil else { throw CopyTextError(file: file, line: 1, "it is empty") }
            return names
        }

        /// Hands each field of the next record to `cell` with its index; returns how many there
        /// were, or nil at the end of the file.
        mutating func record(
            _ bytes: UnsafeBufferPointer<UInt8>, file: String, _ cell: (Int, UnsafeBufferPointer<UInt8>) throws -> Void
        ) throws -> Int? {
            guard position < bytes.count else { return nil }
            let startLine = line
            var index = 0
            while true {
                var end = position
                if bytes[position] == UInt8(ascii: "\"") {
                    // A quoted field: its bytes, unquoted, into `field`.
                    field.removeAll(keepingCapacity: true)
                    var i = position + 1
                    while true {
                        guard i < bytes.count else {
                            throw CopyTextError(file: file, line: startLine, "a quoted field is not closed")
                        }
                        let byte = bytes[i]
                        if byte == UInt8(ascii: "\"") {
                            if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                                field.append(byte)
                                i += 2
                                continue
                            }
                            i += 1
                            break
                        }
                        if byte == UInt8(ascii: "\n") { line += 1 }
                        field.append(byte)
                        i += 1
                    }
                    try field.withUnsafeBufferPointer { try cell(index, $0) }
                    end = i
                } else {
                    // The writer quotes any field holding a quote or a line break: one here is
                    // not the writer's, and would read differently elsewhere.
                    while end < bytes.count {
                        let byte = bytes[end]
                        if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { break }
                        if byte == UInt8(ascii: "\"") {
                            throw CopyTextError(file: file, line: startLine, "a quote inside a field that is not quoted")
                        }
                        end += 1
                    }
                    try cell(index, UnsafeBufferPointer(rebasing: bytes[position..<end]))
                }
                index += 1
                // A carriage return only as the first half of a line end.
                if end < bytes.count && bytes[end] == UInt8(ascii: "\r") {
                    guard end + 1 < bytes.count && bytes[end + 1] == UInt8(ascii: "\n") else {
                        throw CopyTextError(file: file, line: line, "a carriage return that does not end a line")
                    }
                    end += 1
                }
                guard end < bytes.count else {
                    position = end
                    return index
                }
                switch bytes[end] {
                case UInt8(ascii: ","):
                    position = end + 1
                    // A comma at the very end of the file still leaves an empty last field.
                    if position == bytes.count {
                        try cell(index, UnsafeBufferPointer(rebasing: bytes[position..<position]))
                        return index + 1
                    }
                case UInt8(ascii: "\n"):
                    position = end + 1
                    line += 1
                    return index
                default:
                    throw CopyTextError(file: file, line: startLine, "a quoted field is followed by text before the next comma")
                }
            }
        }
    }
}

/// A planning table's file that does not hold what its type says, and where.
public struct CopyTextError: Error, Sendable, CustomStringConvertible {
    var file: String
    var line: Int
    var reason: String

    init(file: String, line: Int, _ reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { "\(file) line \(line): \(reason)" }
}
