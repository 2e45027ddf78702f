import Foundation
import GRDB

/// The store in a data directory's `phm.sqlite`: the embedded default, with nothing to install.
public final class SQLiteDatabase: SQLDatabase {
    let pool: DatabasePool
    public let location: String

    /// A pool in write-ahead logging: a commit appends to the log with one sync (every request
    /// writes an audit entry), and reads run side by side with each other and with the one
    /// writer, each on a snapshot. A single connection made every request wait behind any long
    /// read: a whole check of the audit log held up sign-in for seconds.
    init(file: URL, migrator: DatabaseMigrator, configuration: Configuration = SQLiteDatabase.configuration) throws {
        pool = try DatabasePool(path: try ownerOnlyFile(file).path, configuration: configuration)
        try migrator.migrate(pool)
        location = file.path
    }

    /// Other processes write the same file (a run beside the server, `phm publish`, a command
    /// of an administrator's, a second server): a write finding it locked waits for them, as
    /// long as a commit can take, rather than failing at once.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return configuration
    }

    /// A consistent copy of the database in `source` written to `file` (new, owner-only), with
    /// SQLite's online backup while others go on reading and writing. The source is only read
    /// (not migrated); the copy is left in rollback-journal mode, a single file.
    public static func backup(_ source: URL, to file: URL) throws {
        let original = try DatabasePool(path: source.path, configuration: Self.configuration)
        let copy = try DatabaseQueue(path: try ownerOnlyFile(file).path)
        try original.backup(to: copy)
        try copy.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = DELETE") }
        try copy.close()
        try original.close()
    }

    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try pool.read { db in try body(Connection(db: db)) }
    }

    /// GRDB writes in `BEGIN IMMEDIATE`: the file's write lock is taken first, so one process
    /// writes at a time.
    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try pool.write { db in try body(Connection(db: db)) }
    }

    struct Connection: SQLConnection {
        let db: Database

        func execute(_ sql: String, _ arguments: [SQLValue]) throws {
            try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(arguments.map(\.databaseValue)))
        }

        func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: sql), arguments: StatementArguments(arguments.map(\.databaseValue)))
            while let row = try rows.next() { try body(SQLRow(row.databaseValues.map(SQLValue.init))) }
        }

        func tableExists(_ table: String) throws -> Bool { try db.tableExists(table) }

        /// The table's `CREATE TABLE` as stored, under the new name: these tables have no index
        /// or trigger of their own.
        func createEmptyCopy(of table: String, as copy: String) throws {
            guard
                let sql = try String.fetchOne(
                    db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table]),
                let columns = sql.firstIndex(of: "(")
            else { throw DatabaseError(message: "no table \(table)") }
            try db.execute(sql: "CREATE TABLE \(copy) " + sql[columns...])
        }

        func refreshStatistics(of tables: [String]) throws {}
    }
}

extension SQLValue {
    /// As GRDB keeps it: booleans as 0 and 1, dates as UTC text to the millisecond.
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .text(let v): v.databaseValue
        case .blob(let v): v.databaseValue
        case .bool(let v): v.databaseValue
        case .date(let v): v.databaseValue
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let v): self = .integer(v)
        case .double(let v): self = .real(v)
        case .string(let v): self = .text(v)
        case .blob(let v): self = .blob(v)
        }
    }
}
