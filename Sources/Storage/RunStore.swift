import Foundation
import GRDB

/// What the store keeps about one run.
public struct RunRecord: Sendable, Codable, Equatable {
    public var id: Int64?
    public var startedAt: Date
    public var finishedAt: Date?
    public var asOf: String
    public var inputFolder: String
    public var outputFolder: String
    public var status: String
    public var registeredPeople: Int
    public var rowsIn: Int
    public var rowsQuarantined: Int

    public init(
        id: Int64? = nil, startedAt: Date, finishedAt: Date? = nil, asOf: String, inputFolder: String,
        outputFolder: String, status: String, registeredPeople: Int = 0, rowsIn: Int = 0, rowsQuarantined: Int = 0
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.asOf = asOf
        self.inputFolder = inputFolder
        self.outputFolder = outputFolder
        self.status = status
        self.registeredPeople = registeredPeople
        self.rowsIn = rowsIn
        self.rowsQuarantined = rowsQuarantined
    }
}

/// Creates `file` empty and readable by its owner only, unless it exists; SQLite gives the
/// write-ahead log and shared-memory files the same permissions as the database.
func ownerOnlyFile(_ file: URL) throws -> URL {
    if !FileManager.default.fileExists(atPath: file.path) {
        guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: file.path]) }
    }
    return file
}

/// Runs and their results (reconciliation, linkage, summaries as JSON): in a data directory's
/// `phm.sqlite`, or on a PostgreSQL server.
public final class RunStore: Sendable {
    public let database: any SQLDatabase

    /// Opens (creating if needed) the store of the data directory `directory`: its `phm.sqlite`,
    /// or the PostgreSQL database it records (`StoreLocation`).
    public convenience init(directory: URL) throws {
        self.init(database: try StoreLocation.store.database(of: directory))
    }

    /// The store in a database already open and migrated.
    public init(database: any SQLDatabase) {
        self.database = database
    }

    /// Schema changes of `phm.sqlite`, in order: the runs', then the governance store's. Never
    /// edit one after it has shipped; add another.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.column("asOf", .text).notNull()
                t.column("inputFolder", .text).notNull()
                t.column("outputFolder", .text).notNull()
                t.column("status", .text).notNull()
                t.column("registeredPeople", .integer).notNull()
                t.column("rowsIn", .integer).notNull()
                t.column("rowsQuarantined", .integer).notNull()
            }
            try db.create(table: "runResult") { t in
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("json", .text).notNull()
                t.primaryKey(["runId", "name"])
            }
        }
        // The governance tables share the file; their migrations live with their store.
        GovernanceStore.registerMigrations(&migrator)
        return migrator
    }

    static let columns =
        "id, startedAt, finishedAt, asOf, inputFolder, outputFolder, status, registeredPeople, rowsIn, rowsQuarantined"

    static func record(_ row: SQLRow) throws -> RunRecord {
        RunRecord(
            id: try row.int64(0), startedAt: try row.date(1), finishedAt: try row.optional(2, row.date), asOf: try row.string(3),
            inputFolder: try row.string(4), outputFolder: try row.string(5), status: try row.string(6),
            registeredPeople: try row.int(7), rowsIn: try row.int(8), rowsQuarantined: try row.int(9))
    }

    /// Records the start of a run and returns its id.
    public func begin(_ run: RunRecord) throws -> Int64 {
        try database.write { db in
            let row = try db.row(
                """
                INSERT INTO run (startedAt, finishedAt, asOf, inputFolder, outputFolder, status, registeredPeople, rowsIn,
                rowsQuarantined) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, run.startedAt, run.finishedAt, run.asOf, run.inputFolder, run.outputFolder, run.status,
                run.registeredPeople, run.rowsIn, run.rowsQuarantined)
            guard let row else { throw SQLValueError(column: 0, expected: "a run's id", found: .null) }
            return try row.int64(0)
        }
    }

    /// Records every run still marked running as interrupted: called with the run lock held, so
    /// none of them is still going (its process was killed or the machine stopped). Returns their ids.
    public func markInterrupted(at date: Date) throws -> [Int64] {
        try database.write { db in
            try db.rows(
                "UPDATE run SET status = 'interrupted', finishedAt = ? WHERE status = 'running' RETURNING id", date
            ).map { try $0.int64(0) }.sorted()
        }
    }

    /// Points a run at its output folder's new place (a restored backup's).
    public func moveOutputs(ofRun id: Int64, to folder: String) throws {
        try database.write { db in try db.execute("UPDATE run SET outputFolder = ? WHERE id = ?", [.text(folder), .integer(id)]) }
    }

    /// Updates a run's record.
    public func update(_ run: RunRecord) throws {
        guard let id = run.id else { throw SQLValueError(column: 0, expected: "a run's id", found: .null) }
        try database.write { db in
            try db.execute(
                """
                UPDATE run SET startedAt = ?, finishedAt = ?, asOf = ?, inputFolder = ?, outputFolder = ?, status = ?,
                registeredPeople = ?, rowsIn = ?, rowsQuarantined = ? WHERE id = ?
                """, run.startedAt, run.finishedAt, run.asOf, run.inputFolder, run.outputFolder, run.status,
                run.registeredPeople, run.rowsIn, run.rowsQuarantined, id)
        }
    }

    /// Saves a named result as JSON.
    public func save<T: Encodable>(_ value: T, named name: String, run: Int64) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        try database.write { db in
            try db.execute(
                """
                INSERT INTO runResult (runId, name, json) VALUES (?, ?, ?)
                ON CONFLICT (runId, name) DO UPDATE SET json = excluded.json
                """, run, name, json)
        }
    }

    /// The runs, newest first.
    public func runs() throws -> [RunRecord] {
        try database.read { db in try db.rows("SELECT \(Self.columns) FROM run ORDER BY id DESC").map(Self.record) }
    }

    /// When the newest run that succeeded finished; nil before any has.
    public func latestSucceededFinish() throws -> Date? {
        try database.read { db in
            try db.row("SELECT finishedAt FROM run WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1")
        }.flatMap { try $0.optional(0, $0.date) }
    }

    /// The runs in an embedded store's file (a backup's copy), newest first, read through one
    /// read-only connection: the file is neither migrated nor changed.
    public static func runs(inFile file: URL) throws -> [RunRecord] {
        var configuration = SQLiteDatabase.configuration
        configuration.readonly = true
        let queue = try DatabaseQueue(path: file.path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            try SQLiteDatabase.Connection(db: db).rows("SELECT \(Self.columns) FROM run ORDER BY id DESC").map(Self.record)
        }
    }

    /// A named result of every run that succeeded, oldest first (what run-to-run comparisons
    /// read; runs that failed or were stopped are left out).
    public func succeededResults<T: Decodable>(_ type: T.Type, named name: String) throws -> [(runId: Int64, value: T)] {
        let rows = try database.read { db in
            try db.rows(
                """
                SELECT r.id, q.json FROM run r JOIN runResult q ON q.runId = r.id AND q.name = ?
                WHERE r.status = 'succeeded' ORDER BY r.id
                """, name)
        }
        return try rows.map { row in
            (try row.int64(0), try JSONDecoder().decode(T.self, from: Data(try row.string(1).utf8)))
        }
    }

    /// A named result of a run, decoded.
    public func result<T: Decodable>(_ type: T.Type, named name: String, run: Int64) throws -> T? {
        let json = try database.read { db in
            try db.row("SELECT json FROM runResult WHERE runId = ? AND name = ?", run, name).map { try $0.string(0) }
        }
        return try json.map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
}
