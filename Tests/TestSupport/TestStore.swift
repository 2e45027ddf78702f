import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Storage

/// The stores a store test runs on, one test body for both: the embedded SQLite always, and
/// PostgreSQL when the test server runs (`$PHM_TEST_POSTGRES`).
public enum TestStore: String, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public static var available: [TestStore] { PostgresTesting.url == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var description: String { rawValue }

    /// Makes `directory` a data directory whose store is this one (or a vault folder, for
    /// `.vault`): for PostgreSQL, a new database of its own on the test server, so tests running
    /// side by side never meet.
    @discardableResult
    public func prepare(_ directory: URL, _ location: StoreLocation = .store) throws -> any SQLDatabase {
        try location.database(of: directory, given: try newDatabase(), environment: [:])
    }

    /// A new, empty database's URL on the test server for PostgreSQL (nil for SQLite, which
    /// needs no naming): what `--store` is given.
    public func newDatabase() throws -> String? {
        guard self == .postgres else { return nil }
        guard let server = PostgresTesting.url else { throw TestQueryFailed(description: "no test PostgreSQL server") }
        let name = "store_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try Self.createDatabase(name, on: server)
        return try Self.url(server, database: name)
    }

    /// The server's URL with another database.
    static func url(_ server: String, database: String) throws -> String {
        guard var components = URLComponents(string: server) else { throw TestQueryFailed(description: "bad URL \(server)") }
        components.path = "/" + database
        guard let url = components.string else { throw TestQueryFailed(description: "bad URL \(server)") }
        return url
    }

    /// `CREATE DATABASE` runs outside any transaction: on a connection of its own.
    static func createDatabase(_ name: String, on server: String) throws {
        let url = try PostgresURL(server)
        let logger = Logger(label: "test")
        let connection = try PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: try url.configuration(), id: 1, logger: logger
        ).wait()
        defer { try? connection.close().wait() }
        do {
            _ = try connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger).wait()
        } catch {
            throw TestQueryFailed(description: "CREATE DATABASE: \(url.describe(error))")
        }
    }
}
