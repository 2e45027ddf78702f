/// A table read from Arrow IPC streams (https://arrow.apache.org/docs/format/Columnar.html): named
/// columns of equal length, each of one of the types the reader knows.
public struct ArrowTable: Sendable, Equatable {
    public var columns: [ArrowColumn]
    public var rowCount: Int

    public init(columns: [ArrowColumn], rowCount: Int) {
        self.columns = columns
        self.rowCount = rowCount
    }

    /// The column of that name; an error naming the columns there are when there is none.
    public func column(_ name: String) throws(ArrowError) -> ArrowColumn {
        guard let column = columns.first(where: { $0.name == name }) else {
            throw .missingColumn(name, present: columns.map(\.name))
        }
        return column
    }
}

public struct ArrowColumn: Sendable, Equatable {
    public var name: String
    public var values: ArrowValues

    public init(name: String, values: ArrowValues) {
        self.name = name
        self.values = values
    }
}

/// A column's values, nil where the column is null. Integers of every width (but unsigned 64-bit)
/// come as `Int64`, floating point of either precision as `Double`, dates as days since
/// 1970-01-01, timestamps as microseconds since 1970-01-01 00:00 (in UTC when the column has a
/// time zone; a column without one holds wall-clock times).
public enum ArrowValues: Sendable, Equatable {
    case integers([Int64?])
    case doubles([Double?])
    case strings([String?])
    case booleans([Bool?])
    case dates([Int32?])
    case timestamps([Int64?])
    /// A column of Arrow's null type: only a length.
    case nulls(Int)

    public var count: Int {
        switch self {
        case .integers(let v): v.count
        case .doubles(let v): v.count
        case .strings(let v): v.count
        case .booleans(let v): v.count
        case .dates(let v): v.count
        case .timestamps(let v): v.count
        case .nulls(let n): n
        }
    }

    /// Parts of one column in order, joined in one pass; nil when they are not all of one kind.
    static func joined(_ parts: [ArrowValues]) -> ArrowValues? {
        guard let first = parts.first else { return nil }
        func join<T>(_ pick: (ArrowValues) -> [T]?) -> [T]? {
            var all: [T] = []
            all.reserveCapacity(parts.reduce(0) { $0 + $1.count })
            for part in parts {
                guard let values = pick(part) else { return nil }
                all.append(contentsOf: values)
            }
            return all
        }
        switch first {
        case .integers:
            return join { if case .integers(let v) = $0 { v } else { nil } }.map(ArrowValues.integers)
        case .doubles:
            return join { if case .doubles(let v) = $0 { v } else { nil } }.map(ArrowValues.doubles)
        case .strings:
            return join { if case .strings(let v) = $0 { v } else { nil } }.map(ArrowValues.strings)
        case .booleans:
            return join { if case .booleans(let v) = $0 { v } else { nil } }.map(ArrowValues.booleans)
        case .dates:
            return join { if case .dates(let v) = $0 { v } else { nil } }.map(ArrowValues.dates)
        case .timestamps:
            return join { if case .timestamps(let v) = $0 { v } else { nil } }.map(ArrowValues.timestamps)
        case .nulls:
            var total = 0
            for part in parts {
                guard case .nulls(let n) = part else { return nil }
                total += n
            }
            return .nulls(total)
        }
    }
}

public enum ArrowError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not an Arrow IPC stream, or one the reader cannot follow.
    case malformed(String)
    /// A valid stream with something the reader does not read: a type, compression, big-endian data.
    case unsupported(String)
    case missingColumn(String, present: [String])

    public var description: String {
        switch self {
        case .malformed(let what): "Arrow stream malformed: \(what)"
        case .unsupported(let what): "Arrow stream not supported: \(what)"
        case .missingColumn(let name, let present):
            "Arrow result has no column \(name) (it has \(present.joined(separator: ", ")))"
        }
    }
}
