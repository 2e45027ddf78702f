import Foundation
import GRDB

/// A value bound to a statement or read from a row, the same whichever database holds the store.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case bool(Bool)
    case date(Date)
}

/// What can be bound to a statement's `?`.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .bool(self) } }
extension Date: SQLBindable { public var sqlValue: SQLValue { .date(self) } }
extension Data: SQLBindable { public var sqlValue: SQLValue { .blob(self) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A value of a row was not of the type asked for: the store holds what this version did not write.
public struct SQLValueError: Error, CustomStringConvertible, Sendable {
    public var column: Int
    public var expected: String
    public var found: SQLValue
    /// The kind of value found, never the value: it may be a password hash.
    public var description: String {
        let kind =
            switch found {
            case .null: "nothing"
            case .integer: "an integer"
            case .real: "a number"
            case .text: "text"
            case .blob: "bytes"
            case .bool: "a boolean"
            case .date: "a date"
            }
        return "the store's column \(column + 1) holds \(kind), not \(expected)"
    }
}

/// One row of a result, read by position: the two databases spell column names differently
/// (PostgreSQL folds them to lower case), never their order.
public struct SQLRow: Sendable {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    public func isNull(_ i: Int) -> Bool { values[i] == .null }

    public func string(_ i: Int) throws -> String {
        guard case .text(let v) = values[i] else { throw SQLValueError(column: i, expected: "text", found: values[i]) }
        return v
    }

    public func int64(_ i: Int) throws -> Int64 {
        switch values[i] {
        case .integer(let v): return v
        // An aggregate of integers may come back as a number with a fraction of zero.
        case .real(let v) where v.rounded() == v && abs(v) < 9e15: return Int64(v)
        default: throw SQLValueError(column: i, expected: "an integer", found: values[i])
        }
    }

    public func int(_ i: Int) throws -> Int {
        let v = try int64(i)
        guard let int = Int(exactly: v) else { throw SQLValueError(column: i, expected: "an integer", found: values[i]) }
        return int
    }

    public func double(_ i: Int) throws -> Double {
        switch values[i] {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: throw SQLValueError(column: i, expected: "a number", found: values[i])
        }
    }

    /// SQLite keeps booleans as integers: 0 is false, any other true, as GRDB reads them.
    public func bool(_ i: Int) throws -> Bool {
        switch values[i] {
        case .bool(let v): return v
        case .integer(let v): return v != 0
        default: throw SQLValueError(column: i, expected: "a boolean", found: values[i])
        }
    }

    /// SQLite keeps dates as GRDB writes them (text, `yyyy-MM-dd HH:mm:ss.SSS` in UTC) and
    /// reads what GRDB reads (also seconds since 1970).
    public func date(_ i: Int) throws -> Date {
        if case .date(let v) = values[i] { return v }
        guard let date = Date.fromDatabaseValue(values[i].databaseValue) else {
            throw SQLValueError(column: i, expected: "a date", found: values[i])
        }
        return date
    }

    public func data(_ i: Int) throws -> Data {
        guard case .blob(let v) = values[i] else { throw SQLValueError(column: i, expected: "bytes", found: values[i]) }
        return v
    }

    public func optional<T>(_ i: Int, _ read: (Int) throws -> T) throws -> T? { isNull(i) ? nil : try read(i) }
}

/// Statements on one connection, inside a transaction the database opened. SQL is written once
/// for both databases: `?` placeholders, standard SQL, `"user"` quoted (PostgreSQL reserves it),
/// and `rowid` for insertion order (SQLite's own, a column of that name in PostgreSQL).
public protocol SQLConnection {
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    /// Each row of the result in turn, without making them all into rows first (PostgreSQL's
    /// answer is received whole, SQLite's read as it goes).
    func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws
    /// Whether the table exists: the catalogues differ.
    func tableExists(_ table: String) throws -> Bool
    /// A new, empty table `copy` with the columns and constraints of `table`, for writing a
    /// replacement beside it: the two databases copy a definition differently.
    func createEmptyCopy(of table: String, as copy: String) throws
    /// Brings the planner's statistics up to date after tables are loaded or replaced whole.
    /// PostgreSQL plans a table it has no statistics for as a small one: a worklist's `IN`
    /// list of identities, planned so on a vault just loaded, read all 100,000 rows (18 ms)
    /// rather than its 100 by key (1.4 ms), until autovacuum came round. SQLite looks keys
    /// up by primary key without statistics.
    func refreshStatistics(of tables: [String]) throws
}

extension SQLConnection {
    public func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    public func execute(_ sql: String, _ arguments: any SQLBindable...) throws {
        try execute(sql, arguments.map(\.sqlValue))
    }

    public func rows(_ sql: String, _ arguments: any SQLBindable...) throws -> [SQLRow] {
        try rows(sql, arguments.map(\.sqlValue))
    }

    public func row(_ sql: String, _ arguments: any SQLBindable...) throws -> SQLRow? {
        try rows(sql, arguments.map(\.sqlValue)).first
    }

    /// Inserts many rows, about a hundred to a statement: a statement per row would cost a round
    /// trip each on PostgreSQL. At most 999 values to a statement, the most SQLite before 3.32
    /// binds. `values(i)` gives row `i`'s values in `columns` order.
    public func insert(into table: String, columns: [String], count: Int, _ values: (Int) throws -> [SQLValue]) throws {
        let perStatement = max(1, 999 / max(1, columns.count))
        let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var start = 0
        while start < count {
            let rows = min(perStatement, count - start)
            var arguments: [SQLValue] = []
            arguments.reserveCapacity(rows * columns.count)
            for row in start..<start + rows {
                let values = try values(row)
                precondition(values.count == columns.count, "a row of \(table) with \(values.count) values")
                arguments += values
            }
            try execute(head + Array(repeating: tuple, count: rows).joined(separator: ", "), arguments)
            start += rows
        }
    }
}

/// Where the store's tables live: SQLite in a data directory (`SQLiteDatabase`) or a PostgreSQL
/// server shared by several server processes (`PostgresDatabase`, module PostgresStore).
public protocol SQLDatabase: Sendable {
    /// Reads on one consistent snapshot.
    func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// Writes in one transaction, one writer at a time whichever process writes: the audit
    /// chain, cohort ownership and sign-in counts read and then write, and rely on it.
    func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// Where the store is, for messages: a file, or a server and database without credentials.
    var location: String { get }
    /// The rows of one statement, read on a snapshot: what a read of one statement needs, in
    /// fewer round trips on PostgreSQL.
    func select(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// One statement that writes and reads nothing before it (an upsert), with the rows it
    /// returns: atomic on its own, so on PostgreSQL it runs without a transaction around it or
    /// the writers' lock, in one round trip.
    func change(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Writes, in one transaction, tables that another guarantee keeps to one writer at a time
    /// (the identity vault's tables a run writes: the run holds the data directory's `run.lock`,
    /// and the vault's other writer, a reviewer's judgement, writes only its own table). On
    /// PostgreSQL it takes neither the writers' lock, so a long load holds up no other writer,
    /// nor the one-minute statement timeout; on SQLite it is a write like any other.
    func writeAlone<T>(_ body: (any SQLConnection) throws -> T) throws -> T
}

extension SQLDatabase {
    public func select(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try read { try $0.rows(sql, arguments) }
    }

    public func change(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try write { try $0.rows(sql, arguments) }
    }

    public func writeAlone<T>(_ body: (any SQLConnection) throws -> T) throws -> T { try write(body) }
}
