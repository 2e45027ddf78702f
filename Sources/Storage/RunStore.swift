import Foundation
import GRDB

/// What the store keeps about one run.
public struct RunRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "run"
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

/// A named report of a run (reconciliation, linkage, summary), stored as JSON.
struct StoredReport: Sendable, Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "runResult"
    var runId: Int64
    var name: String
    var json: String
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

/// The embedded store of a data directory: run metadata and results, in `phm.sqlite`.
public final class RunStore: Sendable {
    let database: DatabasePool

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A pool in write-ahead logging: a commit appends to the log with one sync (every request
        // writes an audit entry), and reads run side by side with each other and with the one
        // writer, each on a snapshot. A single connection made every request wait behind any
        // long read: a whole check of the audit log held up sign-in for seconds.
        database = try DatabasePool(
            path: try ownerOnlyFile(directory.appendingPathComponent("phm.sqlite")).path, configuration: Self.configuration)
        try RunStore.migrator.migrate(database)
    }

    /// Other processes write the same file (a run beside the server, `phm publish`, a command
    /// of an administrator's): a write finding it locked waits for them, as long as a commit can
    /// take, rather than failing at once.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return configuration
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

    /// Records the start of a run and returns its id.
    public func begin(_ run: RunRecord) throws -> Int64 {
        try database.write { db in
            try run.insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Records every run still marked running as interrupted: called with the run lock held, so
    /// none of them is still going (its process was killed or the machine stopped). Returns their ids.
    public func markInterrupted(at date: Date) throws -> [Int64] {
        try database.write { db in
            let stale = try Int64.fetchAll(db, sql: "SELECT id FROM run WHERE status = 'running' ORDER BY id")
            try db.execute(
                sql: "UPDATE run SET status = 'interrupted', finishedAt = ? WHERE status = 'running'", arguments: [date])
            return stale
        }
    }

    /// Updates a run's record.
    public func update(_ run: RunRecord) throws {
        try database.write { db in try run.update(db) }
    }

    /// Saves a named result as JSON.
    public func save<T: Encodable>(_ value: T, named name: String, run: Int64) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        try database.write { db in try StoredReport(runId: run, name: name, json: json).save(db) }
    }

    /// The runs, newest first.
    public func runs() throws -> [RunRecord] {
        try database.read { db in try RunRecord.order(Column("id").desc).fetchAll(db) }
    }

    /// A named result of every run that succeeded, oldest first (what run-to-run comparisons
    /// read; runs that failed or were stopped are left out).
    public func succeededResults<T: Decodable>(_ type: T.Type, named name: String) throws -> [(runId: Int64, value: T)] {
        let rows = try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id, q.json FROM run r JOIN runResult q ON q.runId = r.id AND q.name = ?
                    WHERE r.status = 'succeeded' ORDER BY r.id
                    """, arguments: [name])
        }
        return try rows.map { row in
            (row["id"], try JSONDecoder().decode(T.self, from: Data((row["json"] as String).utf8)))
        }
    }

    /// A named result of a run, decoded.
    public func result<T: Decodable>(_ type: T.Type, named name: String, run: Int64) throws -> T? {
        try database.read { db in
            guard let row = try StoredReport.filter(Column("runId") == run && Column("name") == name).fetchOne(db) else {
                return nil
            }
            return try JSONDecoder().decode(T.self, from: Data(row.json.utf8))
        }
    }
}
