import Foundation

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
        let given = (given ?? environment[environmentVariable]).flatMap { $0.isEmpty ? nil : $0 }
        let record = directory.appendingPathComponent(recordName)
        let recorded = try recorded(record)
        switch (given, recorded) {
        case (let url?, let kept?) where url != kept:
            throw StoreLocationError(
                "\(directory.path) keeps its store at \(kept) (\(recordName)), not \(url): every command and server on a data directory uses one store"
            )
        case (let url?, nil):
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("phm.sqlite").path) {
                throw StoreLocationError(
                    "\(directory.path) already keeps its store in phm.sqlite; its users, runs and audit log would be left behind in it. Give a PostgreSQL store to a new data directory."
                )
            }
            let database = try PostgreSQLDatabase(url: try PostgresURL(url, environment: environment))
            let draft = directory.appendingPathComponent("." + recordName + ".partial")
            guard
                FileManager.default.createFile(
                    atPath: draft.path, contents: Data((url + "\n").utf8), attributes: [.posixPermissions: 0o600]),
                rename(draft.path, record.path) == 0
            else { throw StoreLocationError("\(record.path) cannot be written") }
            return database
        case (_, let kept?):
            return try PostgreSQLDatabase(url: try PostgresURL(kept, environment: environment))
        case (nil, nil):
            return try SQLiteDatabase(file: directory.appendingPathComponent("phm.sqlite"), migrator: RunStore.migrator)
        }
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
