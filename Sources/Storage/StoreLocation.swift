import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a data directory's store is: `phm.sqlite` inside it (the default), or a PostgreSQL
/// database named once, by `--store` or `$PHM_STORE`, and recorded in the directory's `store.url`.
/// Every command and server process on the directory then finds the same store without being
/// told, and one told otherwise is refused: runs recorded in one store and users in another
/// would split the audit log.
public enum StoreLocation {
    public static let environmentVariable = "PHM_STORE"
    static let recordName = "store.url"

    /// The store of `directory`. `given` (or `$PHM_STORE`) names a PostgreSQL database by URL;
    /// the first time, it is recorded, once the database is reached and its tables made.
    public static func database(
        of directory: URL, given: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any SQLDatabase {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let given = try (given ?? environment[environmentVariable]).flatMap {
            $0.isEmpty ? nil : try PostgresURL($0, environment: environment)
        }
        let record = directory.appendingPathComponent(recordName)
        // One process at a time decides: two starting together on a new directory must not
        // record two stores, or one record and one phm.sqlite.
        return try withLock(directory) {
            // A recorded store is reached as recorded: only the password comes from this process.
            let kept = try recorded(record).map {
                try PostgresURL($0, environment: environment["PGPASSWORD"].map { ["PGPASSWORD": $0] } ?? [:])
            }
            switch (given, kept) {
            case (let url?, let kept?) where url.canonical != kept.canonical:
                throw StoreLocationError(
                    "\(directory.path) keeps its store at \(kept.canonical) (\(recordName)), not \(url.canonical): every command and server on a data directory uses one store"
                )
            case (let url?, nil):
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("phm.sqlite").path) {
                    throw StoreLocationError(
                        "\(directory.path) already keeps its store in phm.sqlite; its users, runs and audit log would be left behind in it. Give a PostgreSQL store to a new data directory."
                    )
                }
                let database = try PostgreSQLDatabase.open(url)
                let draft = directory.appendingPathComponent(".\(recordName).\(UUID().uuidString)")
                defer { unlink(draft.path) }
                guard
                    FileManager.default.createFile(
                        atPath: draft.path, contents: Data((url.canonical + "\n").utf8), attributes: [.posixPermissions: 0o600]),
                    rename(draft.path, record.path) == 0
                else { throw StoreLocationError("\(record.path) cannot be written") }
                return database
            case (_, let kept?):
                return try PostgreSQLDatabase.open(kept)
            case (nil, nil):
                return try SQLiteDatabase(file: directory.appendingPathComponent("phm.sqlite"), migrator: RunStore.migrator)
            }
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

    /// The URL recorded in the directory, if any.
    static func recorded(_ record: URL) throws -> String? {
        guard FileManager.default.fileExists(atPath: record.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: record.path), data.count <= 4096,
            let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty
        else { throw StoreLocationError("\(record.path) does not hold a store URL") }
        return text
    }
}

/// The store named cannot be the data directory's, and why.
public struct StoreLocationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
