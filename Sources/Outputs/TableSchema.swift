import Foundation

/// A published table's column: its name, the type of its cells and whether a cell may be empty.
public struct TableColumn: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case text, integer, decimal, flag

        /// Whether a cell's text (unquoted, not empty) is one the table writer writes for this
        /// kind: a whole number that fits 64 bits; a decimal as `Fixed` writes it (an optional
        /// minus, digits, an optional point and digits, at most 40 characters); `Y` or `N`; text
        /// of valid UTF-8 without a NUL.
        public func accepts(_ cell: UnsafeBufferPointer<UInt8>) -> Bool {
            let digits = cell.first == UInt8(ascii: "-") ? UnsafeBufferPointer(rebasing: cell.dropFirst()) : cell
            func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
            switch self {
            case .text:
                // Validated without building a string: this runs for every text cell published.
                guard !cell.contains(0) else { return false }
                return !transcode(cell.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in }
            case .flag:
                return cell.count == 1 && (cell[0] == UInt8(ascii: "Y") || cell[0] == UInt8(ascii: "N"))
            case .integer:
                guard !digits.isEmpty, digits.count <= 19, digits.allSatisfy(isDigit) else { return false }
                var value: UInt64 = 0
                for byte in digits { value = value * 10 + UInt64(byte - UInt8(ascii: "0")) }
                return value <= UInt64(Int64.max) + (cell.count > digits.count ? 1 : 0)
            case .decimal:
                // One pass, no allocation: the rule `Fixed(parsing:)` applies to a string.
                guard cell.count <= 40 else { return false }
                var points = 0, sawDigit = false
                for byte in digits {
                    if isDigit(byte) {
                        sawDigit = true
                    } else if byte == UInt8(ascii: ".") {
                        points += 1
                    } else {
                        return false
                    }
                }
                return sawDigit && points <= 1
            }
        }
    }

    public var name: String
    public var kind: Kind
    public var nullable: Bool

    public init(_ name: String, _ kind: Kind, nullable: Bool) {
        self.name = name
        self.kind = kind
        self.nullable = nullable
    }
}

extension OutputTable {
    /// The table's columns, typed from the row type itself rather than from the rows of one run:
    /// a column every row of a small run left empty still has its type. The `note` is text, never
    /// null: empty when nothing on the row was withheld.
    public var schema: [TableColumn] { probe().columns }

    /// The columns, and those the probe could not reach (none for a row of plain values, which
    /// every published row is; a test holds each planning table to it). An unreached column is
    /// typed as nullable text.
    func probe() -> (columns: [TableColumn], untyped: [String]) {
        let probe = SchemaProbe()
        _ = try? Row(from: probe)
        var columns = Row.columns.map { probe.found[$0] ?? TableColumn($0, .text, nullable: true) }
        // Every row has a note, empty when nothing was withheld.
        if header.count > columns.count { columns.append(TableColumn(RowNote.column, .text, nullable: false)) }
        return (columns, Row.columns.filter { probe.found[$0] == nil })
    }
}

/// Decodes a row type from nothing, noting the type asked for at each column and whether the
/// row asked first if it was empty (an optional).
private final class SchemaProbe: Decoder {
    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]
    var found: [String: TableColumn] = [:]
    var optional: Set<String> = []
    var current: String?

    func note(_ key: String?, _ kind: TableColumn.Kind) {
        guard let key else { return }
        found[key] = TableColumn(key, kind, nullable: optional.contains(key))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(probe: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([String].self, .init(codingPath: [], debugDescription: "a table cell holds no list"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(probe: self) }

    /// How deep values of types of their own may nest before the probe gives up on a column.
    var depth = 0

    /// A value of a type of its own (an enum, a day) fills its key's column. Numbers of other
    /// widths are typed here: decoding them through the probe again would never end.
    func nested<T: Decodable>(_ type: T.Type, _ key: String?) throws -> T {
        if T.self == Fixed.self, let zero = Fixed(0, places: 0) as? T {
            note(key, .decimal)
            return zero
        }
        if let integer = T.self as? any FixedWidthInteger.Type, let zero = integer.zero as? T {
            note(key, .integer)
            return zero
        }
        if let float = T.self as? any BinaryFloatingPoint.Type, let zero = float.zero as? T {
            note(key, .decimal)
            return zero
        }
        guard depth < 8 else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a value nested too deep for a cell"))
        }
        let outer = current
        current = key ?? current
        depth += 1
        defer {
            current = outer
            depth -= 1
        }
        return try T(from: self)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let probe: SchemaProbe
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool {
            probe.optional.insert(key.stringValue)
            return false
        }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            probe.note(key.stringValue, .flag)
            return false
        }
        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            probe.note(key.stringValue, .text)
            return ""
        }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
            probe.note(key.stringValue, .integer)
            return 0
        }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            probe.note(key.stringValue, .decimal)
            return 0
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try probe.nested(T.self, key.stringValue) }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            try probe.container(keyedBy: N.self)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try probe.unkeyedContainer() }
        func superDecoder() throws -> any Decoder { probe }
        func superDecoder(forKey key: Key) throws -> any Decoder { probe }
    }

    struct Single: SingleValueDecodingContainer {
        let probe: SchemaProbe
        var codingPath: [any CodingKey] { [] }

        func decodeNil() -> Bool {
            if let key = probe.current { probe.optional.insert(key) }
            return false
        }
        func decode(_ type: Bool.Type) throws -> Bool {
            probe.note(probe.current, .flag)
            return false
        }
        func decode(_ type: String.Type) throws -> String {
            probe.note(probe.current, .text)
            return ""
        }
        func decode(_ type: Int.Type) throws -> Int {
            probe.note(probe.current, .integer)
            return 0
        }
        func decode(_ type: Double.Type) throws -> Double {
            probe.note(probe.current, .decimal)
            return 0
        }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try probe.nested(T.self, nil) }
    }
}

/// A planning table whatever its row type: what publishing a run to a database reads.
public struct PlanningTable: Sendable {
    public let file: String
    /// The file's columns in order, typed; the header must name exactly these.
    public let schema: [TableColumn]
    /// Columns the schema probe could not type.
    let untyped: [String]

    init<Row>(_ table: OutputTable<Row>) {
        file = table.file
        (schema, untyped) = table.probe()
    }
}

extension Published {
    /// Every planning table a run writes: aggregated and suppressed, never a person's row.
    public static let planning: [PlanningTable] = [
        PlanningTable(multimorbidity), PlanningTable(multimorbidityByUnit), PlanningTable(costConcentration),
        PlanningTable(riskTiers), PlanningTable(risingRisk), PlanningTable(tierTransitions), PlanningTable(segmentProfiles),
        PlanningTable(inequalities), PlanningTable(variation), PlanningTable(spc), PlanningTable(modelTransport),
        PlanningTable(areaQuintiles), PlanningTable(projections),
    ]
}
