import Foundation
import PHMCore

/// A row of a published CSV table. Its columns are its coding keys, in order; a nil value is an
/// empty cell (suppressed, not available, or not applicable), a `Bool` is `Y` or `N`, and a
/// decimal is a `Fixed`, written with the places it carries.
public protocol TableRow: Codable, Sendable {
    /// The row's own columns, in order.
    static var columns: [String] { get }

    /// The columns that count people or events. Planning outputs withhold small counts, and these
    /// are empty only when withheld, so a table with counts says in a last column, `note`, which
    /// of its rows had one withheld.
    static var counts: [String] { get }

    /// Whether a column means anything for this row. Its cell is empty where it does not, and a
    /// reader tells that apart from a suppressed count by asking.
    func applies(_ column: String) -> Bool

    /// Whether a figure of the row was withheld, given which of its columns are empty: by default,
    /// when a count that applies is empty. A row whose figures come from smaller counts than its
    /// own (the women of a segment) says so too.
    func withheld(_ empty: (String) -> Bool) -> Bool
}

extension TableRow {
    public static var counts: [String] { [] }

    public func withheld(_ empty: (String) -> Bool) -> Bool {
        Self.counts.contains { empty($0) && applies($0) }
    }

    public func applies(_ column: String) -> Bool { true }

    /// The header as written: the row's columns, then `note` for a table with counts.
    public static var header: [String] { counts.isEmpty ? columns : columns + [RowNote.column] }
}

/// The last column of a table with counts: why some of a row's cells are empty.
public enum RowNote {
    public static let column = "note"
    /// A count of the row was withheld (1 to 7, or hiding one that was), and every figure
    /// derived from it with it.
    public static let suppressed = "suppressed"
}

/// A row whose columns are exactly its `CodingKeys`.
public protocol FlatRow: TableRow {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension FlatRow {
    public static var columns: [String] { CodingKeys.allCases.map(\.stringValue) }
}

/// A decimal as a table publishes it: the value and the places it is written with.
public struct Fixed: Sendable, Codable, Equatable {
    public var value: Double
    public var places: Int

    /// Nil for no value or one that is not finite: an empty cell.
    public init?(_ value: Double?, places: Int) {
        guard let value, value.isFinite else { return nil }
        self.value = value
        self.places = min(max(places, 0), 9)
    }

    /// The text a table holds: fixed places, no exponent.
    public var text: String {
        var out = CSVRows(capacity: 24)
        out.field(value, decimals: places)
        return String(decoding: out.bytes.dropLast(), as: UTF8.self)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let fixed = Fixed(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "expected a decimal, found '\(text.prefix(40))'"))
        }
        self = fixed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    /// A decimal read back from its text: an optional minus, digits, and optionally a point and
    /// more digits (no exponent, no hexadecimal, at most 40 characters); nil otherwise.
    public init?(parsing text: String) {
        let bytes = text.utf8
        let digits = bytes.drop { $0 == 0x2D && bytes.first == 0x2D }
        guard bytes.count <= 40, bytes.filter({ $0 == 0x2D }).count <= 1, bytes.filter({ $0 == 0x2E }).count <= 1,
            digits.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E }),
            digits.contains(where: { (0x30...0x39).contains($0) }),
            let value = Double(text), value.isFinite
        else { return nil }
        let places = text.utf8.firstIndex(of: 0x2E).map { text.utf8.distance(from: $0, to: text.utf8.endIndex) - 1 } ?? 0
        self.init(value, places: places)
    }
}

/// A published table: the file it is written to in a run's output folder, and its row type.
public struct OutputTable<Row: TableRow>: Sendable {
    public let file: String
    /// Whether the file ends with the rows' `note` (always, but for a table whose layout is fixed
    /// from outside).
    public let notes: Bool

    public init(file: String, notes: Bool = true) {
        self.file = file
        self.notes = notes
    }

    /// The file's header.
    public var header: [String] { notes ? Row.header : Row.columns }

    /// The table as CSV: its header, then one line per row.
    public func csv(_ rows: some Sequence<Row>) throws -> [UInt8] {
        var out = CSVRows(capacity: 1 << 16)
        out.raw(header.joined(separator: ","))
        // Blocks of rows written on every core, joined in order: a planning table of 350,000 rows
        // took over two seconds on one.
        let rows = Array(rows)
        let block = 16_384
        let notes = notes
        let blocks = Parallel.map((rows.count + block - 1) / block) { k -> Result<[UInt8], any Error> in
            Result {
                let range = (k * block)..<min(rows.count, (k + 1) * block)
                var part = CSVRows(capacity: min(1 << 20, 128 * range.count))
                let encoder = RowEncoder(columns: Row.columns)
                for row in rows[range] {
                    try encoder.write(row, note: notes, to: &part)
                }
                return part.bytes
            }
        }
        let parts = try blocks.map { try $0.get() }
        out.bytes.reserveCapacity(out.bytes.count + parts.reduce(0) { $0 + $1.count })
        for part in parts { out.bytes.append(contentsOf: part) }
        return out.bytes
    }

    public func write(_ rows: some Sequence<Row>, to folder: URL) throws {
        try Data(try csv(rows)).write(to: folder.appendingPathComponent(file))
    }

    /// Reads the table back. A missing column, or a cell that is not of its column's type, is an
    /// error naming the file, line and column.
    public func read(_ bytes: some Collection<UInt8>) throws(OutputError) -> [Row] {
        var records = CSVRows.parse(bytes)
        guard !records.isEmpty else { throw OutputError.unreadable(file: file, line: 1, reason: "it is empty") }
        let header = records.removeFirst()
        // The note is derived from the row, so a file written before it had one still reads.
        if let missing = Row.columns.first(where: { !header.contains($0) }) {
            throw OutputError.unreadable(file: file, line: 1, reason: "the column '\(missing)' is missing")
        }
        let decoder = RowDecoder(header: header)
        var rows: [Row] = []
        rows.reserveCapacity(records.count)
        for (k, record) in records.enumerated() {
            guard record.count == header.count else {
                throw OutputError.unreadable(
                    file: file, line: k + 2, reason: "it has \(record.count) fields, not \(header.count)")
            }
            decoder.record = record
            do { rows.append(try Row(from: decoder)) } catch {
                throw OutputError.unreadable(file: file, line: k + 2, reason: OutputError.describe(error))
            }
        }
        return rows
    }

    public func read(from folder: URL) throws(OutputError) -> [Row] {
        let url = folder.appendingPathComponent(file)
        guard let data = try? Data(contentsOf: url) else {
            throw OutputError.unreadable(file: file, line: 0, reason: "it cannot be read")
        }
        return try read(data)
    }

}

extension TableRow {
    /// Each row's cells as its table holds them (unquoted), in `header` order, through one
    /// encoder. Rows hold single values only, so encoding cannot fail; were it to, that row's cells
    /// would be empty, not wrong.
    public static func cells(of rows: [Self]) -> [[String]] {
        let encoder = RowEncoder(columns: columns)
        return rows.map { (try? encoder.strings($0)) ?? Array(repeating: "", count: header.count) }
    }
}

/// A published output that cannot be read back as its type.
public enum OutputError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let line, let reason):
            line > 0 ? "\(file) line \(line): \(reason)" : "\(file): \(reason)"
        }
    }

    static func describe(_ error: any Error) -> String {
        func column(_ path: [any CodingKey]) -> String { path.last.map { "column '\($0.stringValue)'" } ?? "a column" }
        switch error as? DecodingError {
        case .keyNotFound(let key, _): return "column '\(key.stringValue)' is missing"
        case .valueNotFound(_, let context): return "\(column(context.codingPath)) is empty"
        case .typeMismatch(_, let context), .dataCorrupted(let context):
            return "\(column(context.codingPath)): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}

// MARK: Encoding

/// Writes rows of one table: each field into its column's cell, then the cells in order.
final class RowEncoder: Encoder {
    enum Cell {
        case empty, text(String), integer(Int), fixed(Fixed), flag(Bool)
    }

    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let columns: [String]
    let index: [String: Int]
    var cells: [Cell]
    /// The column a single value is written to.
    var current: Int?
    /// The column after the last one written: fields mostly come in column order, and comparing
    /// one name is cheaper than hashing it.
    var next = 0

    init(columns: [String]) {
        self.columns = columns
        index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        cells = Array(repeating: .empty, count: columns.count)
    }

    func column(_ key: some CodingKey) -> Int? {
        let name = key.stringValue
        let found = next < columns.count && columns[next] == name ? next : index[name]
        if let found { next = found + 1 }
        return found
    }

    func write<Row: TableRow>(_ row: Row, note: Bool, to out: inout CSVRows) throws {
        try fill(row)
        for cell in cells {
            switch cell {
            case .empty: out.empty()
            case .text(let s): out.field(s)
            case .integer(let n): out.field(n)
            case .fixed(let f): out.field(f.value, decimals: f.places)
            case .flag(let b): out.field(b ? "Y" : "N")
            }
        }
        if note && !Row.counts.isEmpty { out.field(self.note(row)) }
        out.end()
    }

    func strings<Row: TableRow>(_ row: Row) throws -> [String] {
        try fill(row)
        let strings = cells.map { cell in
            switch cell {
            case .empty: ""
            case .text(let s): s
            case .integer(let n): String(n)
            case .fixed(let f): f.text
            case .flag(let b): b ? "Y" : "N"
            }
        }
        return Row.counts.isEmpty ? strings : strings + [note(row)]
    }

    /// The row's `note`, from which of its cells are empty (looked up in the encoder's own index
    /// of the columns: one built per row was most of the time a large table took to write).
    private func note(_ row: some TableRow) -> String {
        let withheld = row.withheld { name in
            guard let c = index[name], case .empty = cells[c] else { return false }
            return true
        }
        return withheld ? RowNote.suppressed : ""
    }

    private func fill(_ row: some Encodable) throws {
        for i in cells.indices { cells[i] = .empty }
        current = nil
        next = 0
        try row.encode(to: self)
    }

    func set<Key: CodingKey>(_ cell: Cell, _ key: Key) throws {
        guard let column = column(key) else {
            throw EncodingError.invalidValue(cell, .init(codingPath: [key], debugDescription: "the table has no such column"))
        }
        cells[column] = cell
    }

    /// A single value: into the column of the key being encoded.
    func set(_ cell: Cell) throws {
        guard let current else {
            throw EncodingError.invalidValue(cell, .init(codingPath: [], debugDescription: "a value outside any column"))
        }
        cells[current] = cell
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { Unsupported(codingPath: codingPath) }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: RowEncoder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { try encoder.set(.empty, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try encoder.set(.flag(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { try encoder.set(.text(value), key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try encoder.set(.integer(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws {
            try encoder.set(Fixed(value, places: 6).map { .fixed($0) } ?? .empty, key)
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            // Comparing types first spares a dynamic cast for every other value.
            if T.self == Fixed.self, let fixed = value as? Fixed { return try encoder.set(.fixed(fixed), key) }
            // A value of its own (an enum, a day) fills this key's column; a row within a row
            // (the unit columns) fills its own columns.
            encoder.current = encoder.column(key)
            defer { encoder.current = nil }
            try value.encode(to: encoder)
        }

        mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
            encoder.container(keyedBy: N.self)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Unsupported(codingPath: [key])
        }
        mutating func superEncoder() -> any Encoder { encoder }
        mutating func superEncoder(forKey key: Key) -> any Encoder { encoder }
    }

    struct Single: SingleValueEncodingContainer {
        let encoder: RowEncoder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws { try encoder.set(.empty) }
        mutating func encode(_ value: Bool) throws { try encoder.set(.flag(value)) }
        mutating func encode(_ value: String) throws { try encoder.set(.text(value)) }
        mutating func encode(_ value: Int) throws { try encoder.set(.integer(value)) }
        mutating func encode(_ value: Double) throws {
            try encoder.set(Fixed(value, places: 6).map { .fixed($0) } ?? .empty)
        }
        mutating func encode<T: Encodable>(_ value: T) throws {
            if T.self == Fixed.self, let fixed = value as? Fixed { return try encoder.set(.fixed(fixed)) }
            try value.encode(to: encoder)
        }
    }

    /// Lists have no place in a cell: encoding one is an error, not a trap.
    struct Unsupported: UnkeyedEncodingContainer {
        var codingPath: [any CodingKey]
        var count: Int { 0 }

        private func fail() -> EncodingError {
            .invalidValue([Int](), .init(codingPath: codingPath, debugDescription: "a table cell holds one value, not a list"))
        }
        mutating func encodeNil() throws { throw fail() }
        mutating func encode<T: Encodable>(_ value: T) throws { throw fail() }
        mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type) -> KeyedEncodingContainer<N> {
            KeyedEncodingContainer(Keyed<N>(encoder: RowEncoder(columns: [])))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
        mutating func superEncoder() -> any Encoder { RowEncoder(columns: []) }
    }
}

// MARK: Decoding

/// Reads rows of one table by column name.
final class RowDecoder: Decoder {
    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let index: [String: Int]
    var record: [String] = []
    var current: (any CodingKey)?

    init(header: [String]) {
        index = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func cell(_ key: (any CodingKey)?) throws -> String {
        guard let key = key ?? current else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a cell without a column"))
        }
        guard let column = index[key.stringValue], column < record.count else {
            throw DecodingError.keyNotFound(key, .init(codingPath: [key], debugDescription: "no such column"))
        }
        return record[column]
    }

    func value<T>(_ key: (any CodingKey)?, _ parse: (String) -> T?, _ expected: String) throws -> T {
        let text = try cell(key)
        let path = (key ?? current).map { [$0] } ?? []
        guard !text.isEmpty else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: path, debugDescription: "the cell is empty"))
        }
        guard let value = parse(text) else {
            throw DecodingError.typeMismatch(
                T.self, .init(codingPath: path, debugDescription: "expected \(expected), found '\(text.prefix(40))'"))
        }
        return value
    }

    static func flag(_ text: String) -> Bool? { text == "Y" ? true : text == "N" ? false : nil }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(
            [String].self, .init(codingPath: current.map { [$0] } ?? [], debugDescription: "a table cell holds no list"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: RowDecoder
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { decoder.index.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { decoder.index[key.stringValue] != nil }
        func decodeNil(forKey key: Key) throws -> Bool { try decoder.cell(key).isEmpty }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decoder.value(key, RowDecoder.flag, "Y or N") }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try decoder.cell(key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decoder.value(key, { Int($0) }, "a whole number") }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            try decoder.value(key, { Fixed(parsing: $0)?.value }, "a decimal")
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            if T.self == Fixed.self, let fixed = try decoder.value(key, Fixed.init(parsing:), "a decimal") as? T {
                return fixed
            }
            let outer = decoder.current
            decoder.current = key
            defer { decoder.current = outer }
            return try T(from: decoder)
        }

        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            try decoder.container(keyedBy: N.self)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try decoder.unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: RowDecoder
        var codingPath: [any CodingKey] { decoder.current.map { [$0] } ?? [] }

        func decodeNil() -> Bool { (try? decoder.cell(nil).isEmpty) ?? true }
        func decode(_ type: Bool.Type) throws -> Bool { try decoder.value(nil, RowDecoder.flag, "Y or N") }
        func decode(_ type: String.Type) throws -> String { try decoder.cell(nil) }
        func decode(_ type: Int.Type) throws -> Int { try decoder.value(nil, { Int($0) }, "a whole number") }
        func decode(_ type: Double.Type) throws -> Double {
            try decoder.value(nil, { Fixed(parsing: $0)?.value }, "a decimal")
        }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
    }
}
