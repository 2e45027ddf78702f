import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// Where a data directory's store is: `phm.sqlite` inside it (the default), or a PostgreSQL
/// database named once, by `--store` or `$PHM_STORE`, and recorded in the directory's `store.url`.
/// Every command and server process on the directory then finds the same store without being
/// told, and one told otherwise is refused: runs recorded in one store and users in another
/// would split the audit log. The identity vault is found the same way in the data directory's
/// `vault` folder (`--vault`, `$PHM_VAULT`), in a database of its own with its own password.
public struct StoreLocation: Sendable {
    /// What is kept, for messages.
    let holds: String
    public let environmentVariable: String
    /// The variable that holds the password: the vault's credentials are not the store's.
    let passwordVariable: String
    let sqliteFile: String
    let sqliteMigrator: @Sendable () -> DatabaseMigrator
    let sqliteConfiguration: @Sendable () -> Configuration
    let postgresMigrations: PostgresMigrations
    static let recordName = "store.url"
    static let claimName = "store.claim"

    public static let store = StoreLocation(
        holds: "store", environmentVariable: "PHM_STORE", passwordVariable: "PGPASSWORD", sqliteFile: "phm.sqlite",
        sqliteMigrator: { RunStore.migrator }, sqliteConfiguration: { SQLiteDatabase.configuration },
        postgresMigrations: .store)

    public static let vault = StoreLocation(
        holds: "identity vault", environmentVariable: "PHM_VAULT", passwordVariable: "PHM_VAULT_PGPASSWORD",
        sqliteFile: "identity.sqlite", sqliteMigrator: { IdentityVault.migrator },
        sqliteConfiguration: { IdentityVault.configuration }, postgresMigrations: .vault)

    /// Where in a data directory this is kept: the store in the directory itself, the vault in
    /// its `vault` folder.
    public func folder(of dataDirectory: URL) -> URL {
        postgresMigrations.holds == "store" ? dataDirectory : dataDirectory.appendingPathComponent("vault")
    }

    /// The embedded database's file name in its folder.
    public var sqliteName: String { sqliteFile }

    /// What is kept, for messages.
    public var what: String { holds }

    /// The embedded database in `folder`, whatever the environment says: for a copy of a data
    /// directory (a restored backup), which must not be pointed at another database.
    public func embedded(in folder: URL) throws -> any SQLDatabase {
        try SQLiteDatabase(
            file: folder.appendingPathComponent(sqliteFile), migrator: sqliteMigrator(), configuration: sqliteConfiguration())
    }

    /// Whether the data directory keeps this on PostgreSQL (its URL recorded there).
    public func isOnPostgreSQL(in dataDirectory: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder(of: dataDirectory).appendingPathComponent(Self.recordName).path)
    }

    /// What `directory` keeps. `given` (or the environment variable) names a PostgreSQL database
    /// by URL; the first time, it is recorded, once the database is reached and its tables made.
    public func database(
        of directory: URL, given: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any SQLDatabase {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The URL is read as libpq reads it, but for the password, which is this one's own.
        var resolving = environment
        resolving["PGPASSWORD"] = environment[passwordVariable]
        let given = try (given ?? environment[environmentVariable]).flatMap {
            $0.isEmpty ? nil : try PostgresURL($0, environment: resolving)
        }
        let record = directory.appendingPathComponent(Self.recordName)
        // One process at a time decides: two starting together on a new directory must not
        // record two databases, or one record and one SQLite file.
        return try Self.withLock(directory) {
            let kept = try recorded(in: directory, environment: environment)
            switch (given, kept) {
            case (let url?, let kept?) where url.canonical != kept.canonical:
                throw StoreLocationError(
                    "\(directory.path) keeps its \(holds) at \(kept.canonical) (\(Self.recordName)), not \(url.canonical): every command and server on a data directory uses one \(holds)"
                )
            case (let url?, nil):
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent(sqliteFile).path) {
                    throw StoreLocationError(
                        "\(directory.path) already keeps its \(holds) in \(sqliteFile), which would be left behind. Give a PostgreSQL \(holds) to a new data directory."
                    )
                }
                let database = try PostgreSQLDatabase.open(url, migrations: postgresMigrations)
                try claim(database, for: directory)
                try Self.write(url.canonical, to: record)
                return database
            case (_, let kept?):
                let database = try PostgreSQLDatabase.open(kept, migrations: postgresMigrations)
                try claim(database, for: directory)
                return database
            case (nil, nil):
                return try SQLiteDatabase(
                    file: directory.appendingPathComponent(sqliteFile), migrator: sqliteMigrator(),
                    configuration: sqliteConfiguration())
            }
        }
    }

    /// The database recorded in `directory`, if any, reached as recorded: only the password comes
    /// from this process, from this location's own variable.
    func recorded(in directory: URL, environment: [String: String]) throws -> PostgresURL? {
        try Self.recorded(directory.appendingPathComponent(Self.recordName)).map {
            try PostgresURL($0, environment: environment[passwordVariable].map { ["PGPASSWORD": $0] } ?? [:])
        }
    }

    /// A PostgreSQL database serves one data directory: the first to use it claims it with a
    /// random name, kept in the database and in the directory's `store.claim`, and one with
    /// another claim, or none, is refused. Two directories' runs would otherwise meet in one
    /// store, and in one vault each run would rewrite the other's identities and linkage state.
    /// Server processes sharing a data directory share its claim, and so does a copy of it.
    func claim(_ database: PostgreSQLDatabase, for directory: URL) throws {
        let file = directory.appendingPathComponent(Self.claimName)
        let kept = try Self.recorded(file).map { text in
            guard let uuid = UUID(uuidString: text) else {
                throw StoreLocationError("\(file.path) does not hold a claim (a UUID): it names this directory's \(holds)")
            }
            return uuid
        }
        // The file first, on disk, then the database: a claim in the database is never left
        // without the directory that made it knowing it.
        let made = kept == nil
        let mine = (kept ?? UUID()).uuidString.lowercased()
        if made { try Self.write(mine, to: file) }
        // One statement, so of two directories claiming a new database at once one wins.
        let owner = try database.change(
            """
            INSERT INTO phm_owner (id, claim, directory) VALUES (1, ?, ?)
            ON CONFLICT (id) DO UPDATE SET claim = phm_owner.claim RETURNING claim, directory
            """, [.text(mine), .text(Self.host + ":" + directory.path)]
        ).first.map { (claim: try $0.string(0), directory: try $0.string(1)) }
        guard let owner, owner.claim == mine else {
            if made { unlink(file.path) }
            throw StoreLocationError(
                "the \(holds) at \(database.location) belongs to the data directory \(owner?.directory ?? "?"), not \(directory.path): each data directory needs a \(holds) database of its own (docs/architecture.md, One data directory per database)"
            )
        }
    }

    /// This machine's name, to say which data directory claimed a database.
    static var host: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "?" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes a one-line record whole or not at all, readable by the owner alone, and on disk
    /// before it is relied on.
    static func write(_ line: String, to record: URL) throws {
        let folder = record.deletingLastPathComponent()
        let draft = folder.appendingPathComponent(".\(record.lastPathComponent).\(UUID().uuidString)")
        defer { unlink(draft.path) }
        do {
            guard
                FileManager.default.createFile(
                    atPath: draft.path, contents: Data((line + "\n").utf8), attributes: [.posixPermissions: 0o600])
            else { throw StoreLocationError("\(record.path) cannot be written") }
            let handle = try FileHandle(forUpdating: draft)
            defer { try? handle.close() }
            try handle.synchronize()
        } catch {
            throw StoreLocationError("\(record.path) cannot be written")
        }
        guard rename(draft.path, record.path) == 0 else { throw StoreLocationError("\(record.path) cannot be written") }
        let parent = open(folder.path, O_RDONLY | O_CLOEXEC)
        if parent >= 0 {
            _ = fsync(parent)
            close(parent)
        }
    }

    /// Runs `body` holding an exclusive lock on the directory's `.store.lock`.
    static func withLock<T>(_ directory: URL, _ body: () throws -> T) throws -> T {
        let file = open(directory.appendingPathComponent(".store.lock").path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw StoreLocationError("\(directory.path)/.store.lock cannot be opened") }
        defer { close(file) }
        guard flock(file, LOCK_EX) == 0 else { throw StoreLocationError("\(directory.path)/.store.lock cannot be locked") }
        return try body()
    }

    /// The line recorded in a record file (`store.url`, `store.claim`), if any.
    static func recorded(_ record: URL) throws -> String? {
        guard FileManager.default.fileExists(atPath: record.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: record.path), data.count <= 4096,
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty
        else { throw StoreLocationError("\(record.path) does not hold one line of text") }
        return text
    }
}

/// The store named cannot be the data directory's, and why.
public struct StoreLocationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
