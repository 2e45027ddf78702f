import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The store on a PostgreSQL server (`--store postgresql://...`): what several server processes
/// share. The store's calls are synchronous, as they are on SQLite: they run on the server's
/// blocking thread pool or in a command, never on an event loop, and wait there for the server's
/// answer on NIO's own threads.
public final class PostgreSQLDatabase: SQLDatabase {
    let url: PostgresURL
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    let idle = NIOLockedValueBox<[PostgresConnection]>([])
    /// At most this many connections at once; a caller past it waits for one to be returned.
    let slots: DispatchSemaphore
    let nextID = NIOLockedValueBox(0)
    public var location: String { url.description }

    /// Connects, and brings the database's tables up to this version's (`PostgresMigrations`).
    init(
        url: PostgresURL, migrations: PostgresMigrations, connections: Int = 8, logger: Logger = Logger(label: "phm.store")
    ) throws {
        self.url = url
        var configuration = try url.configuration()
        // No statement, lock wait or transaction left idle holds the store for long: a server
        // process stopped while holding the writers' lock frees it within a minute, and its
        // requests fail rather than wait without end.
        configuration.options.additionalStartupParameters += [
            ("statement_timeout", "60s"), ("lock_timeout", "10s"), ("idle_in_transaction_session_timeout", "60s"),
            ("search_path", "public"),
        ]
        self.configuration = configuration
        self.logger = logger
        slots = DispatchSemaphore(value: max(1, connections))
        try migrations.migrate(self)
    }

    /// One pool per database in a process, whoever opens the store: a run opens it several times.
    static let opened = NIOLockedValueBox<[String: PostgreSQLDatabase]>([:])

    /// The store (or vault) in the database `url` names, connected and migrated once per process.
    static func open(_ url: PostgresURL, migrations: PostgresMigrations = .store) throws -> PostgreSQLDatabase {
        // A database opened as the store is not the vault: keyed by both, the second is refused
        // by its migrations.
        let key = migrations.holds + " " + url.canonical
        if let database = opened.withLockedValue({ $0[key] }) { return database }
        let database = try PostgreSQLDatabase(url: url, migrations: migrations)
        return opened.withLockedValue { opened in
            if let first = opened[key] { return first }
            opened[key] = database
            return database
        }
    }

    deinit {
        for connection in idle.withLockedValue({ $0 }) { connection.close().whenComplete { _ in } }
    }

    /// Reads in one read-only transaction on a snapshot (`REPEATABLE READ`), as SQLite's reads are.
    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction(begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], body)
    }

    /// Writes one at a time, as SQLite's do: each transaction first takes an advisory lock that
    /// every writer to this database takes, whichever process it is in.
    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        // READ COMMITTED whatever the server's default, so each statement after the lock sees
        // the writer before's commit (a snapshot taken before the lock was granted would not).
        try transaction(begin: ["BEGIN ISOLATION LEVEL READ COMMITTED", "SELECT pg_advisory_xact_lock(\(Self.writeLock))"], body)
    }

    /// A long load of a run's own tables: a bound of half an hour rather than a minute.
    public func writeAlone<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction(begin: ["BEGIN ISOLATION LEVEL READ COMMITTED", "SET LOCAL statement_timeout = '30min'"], body)
    }

    /// The advisory lock of the store's writers: `phm store` in ASCII. Publishing planning
    /// tables takes another.
    static let writeLock: Int64 = 0x70_686d_7374_6f72

    /// One statement on its own, without BEGIN and COMMIT: PostgreSQL runs it on a snapshot of
    /// its own, in one round trip rather than three. Every request reads its session this way.
    public func select(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try statement(sql, arguments)
    }

    /// One statement in a transaction of its own, committed when it ends.
    public func change(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try statement(sql, arguments)
    }

    func statement(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let connection = try checkOut()
        do {
            let rows = try Connection(connection: connection, logger: logger).rows(sql, arguments)
            checkIn(connection, reusable: true)
            return rows
        } catch {
            // The server's refusal of a statement leaves the connection ready; anything else
            // (a connection lost) may not have closed it yet.
            checkIn(connection, reusable: (error as? PSQLError)?.code == .server)
            throw reported(error)
        }
    }

    /// A transaction on a connection of the pool. A connection whose transaction could not be
    /// ended is closed, never returned to the pool.
    func transaction<T>(begin: [String], _ body: (any SQLConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        let sql = Connection(connection: connection, logger: logger)
        do {
            for statement in begin { try sql.execute(statement, []) }
            let result = try body(sql)
            // A transaction a failed statement aborted ends in ROLLBACK, whatever COMMIT says.
            let tag = try connection.query(PostgresQuery(unsafeSQL: "COMMIT"), logger: logger).wait().metadata.command
            guard tag == "COMMIT" else { throw PostgresStoreError("PostgreSQL at \(url): the transaction was rolled back") }
            checkIn(connection, reusable: true)
            return result
        } catch {
            checkIn(connection, reusable: (try? sql.execute("ROLLBACK", [])) != nil)
            throw reported(error)
        }
    }

    /// PostgresNIO keeps the server's message out of an error's description, lest it reach a
    /// page; the server turns errors into a generic 500 anyway, and a command's operator needs
    /// the message.
    func reported(_ error: any Error) -> any Error {
        error is PSQLError ? PostgresStoreError(url.describe(error)) : error
    }

    /// A connection of the pool, waited for at most 30 seconds: given back with `checkIn`.
    func checkOut() throws -> PostgresConnection {
        guard slots.wait(timeout: .now() + 30) == .success else {
            throw PostgresStoreError("PostgreSQL at \(url): every connection of this process stayed busy for 30 seconds")
        }
        do {
            // A connection the server closed while idle (a restart, a failover) is dropped, not used.
            var connection: PostgresConnection
            repeat {
                connection = try idle.withLockedValue { $0.popLast() } ?? connect()
            } while connection.isClosed
            return connection
        } catch {
            slots.signal()
            throw error
        }
    }

    /// Back to the pool, or closed when it is in a state not to be trusted.
    func checkIn(_ connection: PostgresConnection, reusable: Bool) {
        if reusable && !connection.isClosed {
            idle.withLockedValue { $0.append(connection) }
        } else {
            try? connection.close().wait()
        }
        slots.signal()
    }

    func connect() throws -> PostgresConnection {
        let id = nextID.withLockedValue {
            $0 += 1
            return $0
        }
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger
            ).wait()
        } catch {
            throw PostgresStoreError(url.describe(error))
        }
    }

    /// Statements on one connection, waiting for each answer.
    struct Connection: SQLConnection {
        let connection: PostgresConnection
        let logger: Logger

        func execute(_ sql: String, _ arguments: [SQLValue]) throws {
            _ = try connection.query(try Self.query(sql, arguments), logger: logger).wait()
        }

        func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
            let result = try connection.query(try Self.query(sql, arguments), logger: logger).wait()
            for row in result.rows { try body(SQLRow(try row.map(Self.value))) }
        }

        func tableExists(_ table: String) throws -> Bool {
            try rows("SELECT to_regclass(?) IS NOT NULL", [.text(table)]).first?.bool(0) ?? false
        }

        /// Columns, defaults, constraints and indexes alike.
        func createEmptyCopy(of table: String, as copy: String) throws {
            try execute("CREATE TABLE \(copy) (LIKE \(table) INCLUDING ALL)", [])
        }

        func refreshStatistics(of tables: [String]) throws {
            try execute("ANALYZE " + tables.joined(separator: ", "), [])
        }

        /// `?` becomes `$1`, `$2`... outside quoted text and names. The store's SQL has no
        /// comments, dollar quotes or escape strings, whose `?` would be misread: refused.
        static func query(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQuery {
            var text: [UInt8] = []
            text.reserveCapacity(sql.utf8.count + 16)
            var quote: UInt8?
            var n = 0
            var previous: UInt8 = 0
            for byte in sql.utf8 {
                if let q = quote {
                    if byte == q { quote = nil }
                    text.append(byte)
                } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                    quote = byte
                    text.append(byte)
                } else if byte == UInt8(ascii: "?") {
                    n += 1
                    text += Array("$\(n)".utf8)
                } else {
                    let pair = (previous, byte)
                    if byte == UInt8(ascii: "$") || pair == (UInt8(ascii: "-"), UInt8(ascii: "-"))
                        || pair == (UInt8(ascii: "/"), UInt8(ascii: "*"))
                    {
                        throw PostgresStoreError("a statement of the store holds a comment or a dollar sign")
                    }
                    text.append(byte)
                }
                previous = quote == nil ? byte : 0
            }
            guard quote == nil else { throw PostgresStoreError("a statement of the store has an unclosed quote") }
            guard n == arguments.count else {
                throw PostgresStoreError("a statement has \(n) placeholders and \(arguments.count) arguments")
            }
            let sql = String(decoding: text, as: UTF8.self)
            var binds = PostgresBindings(capacity: arguments.count)
            for argument in arguments {
                switch argument {
                case .null: binds.appendNull()
                case .integer(let v): binds.append(v)
                case .real(let v): binds.append(v)
                case .text(let v): binds.append(v)
                case .blob(let v): binds.append(ByteBuffer(bytes: v))
                case .bool(let v): binds.append(v)
                case .date(let v): binds.append(v)
                }
            }
            return PostgresQuery(unsafeSQL: sql, binds: binds)
        }

        static func value(_ cell: PostgresCell) throws -> SQLValue {
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .float4, .float8: return .real(try cell.decode(Double.self))
            case .text, .varchar, .name, .bpchar: return .text(try cell.decode(String.self))
            case .bytea: return .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
            case .bool: return .bool(try cell.decode(Bool.self))
            case .timestamptz, .timestamp: return .date(try cell.decode(Date.self))
            default:
                throw PostgresStoreError("column \(cell.columnName) has a type the store does not use (\(cell.dataType))")
            }
        }
    }
}

/// The PostgreSQL store could not be used, and why (without credentials).
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
