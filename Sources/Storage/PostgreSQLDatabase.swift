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
    let idle = NIOLockedValueBox<[PooledConnection]>([])
    /// At most this many connections at once; a caller past it waits for one to be returned.
    let slots: DispatchSemaphore
    let nextID = NIOLockedValueBox(0)
    /// Whether this process prepares statements on the database: until the server is found to
    /// have lost one, as behind a connection pooler that does not keep them.
    let preparing = NIOLockedValueBox(true)
    var preparesStatements: Bool { preparing.withLockedValue { $0 } }
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
        for pooled in idle.withLockedValue({ $0 }) { pooled.connection.close().whenComplete { _ in } }
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

    func statement(_ text: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let connection = try checkOut()
        let sql = Connection(pooled: connection, logger: logger)
        do {
            let rows: [SQLRow]
            do {
                rows = try sql.rows(text, arguments)
            } catch  where PooledConnection.isStale(error) {
                // Outside a transaction nothing was done: again, now unprepared.
                rows = try sql.rows(text, arguments)
            }
            checkIn(connection, reusable: true)
            return rows
        } catch {
            // The server's refusal of a statement leaves the connection ready; anything else
            // (a connection lost) may not have closed it yet.
            checkIn(connection, reusable: Self.refusedByServer(error))
            throw reported(error)
        }
    }

    /// Whether the server answered with an error (the connection is still in step), in either
    /// of PostgresNIO's error types: a prepared statement's errors come in the older one.
    static func refusedByServer(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.code == .server }
        if case .server = error as? PostgresError { return true }
        return false
    }

    /// A transaction on a connection of the pool. A connection whose transaction could not be
    /// ended is closed, never returned to the pool.
    func transaction<T>(begin: [String], _ body: (any SQLConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        let sql = Connection(pooled: connection, logger: logger)
        do {
            do {
                for statement in begin { try sql.execute(statement, []) }
            } catch  where PooledConnection.isStale(error) {
                // Before the body (the writers' lock is a prepared statement): nothing was done,
                // so the transaction begins again, now unprepared.
                try sql.execute("ROLLBACK", [])
                for statement in begin { try sql.execute(statement, []) }
            }
            let result = try body(sql)
            // A transaction a failed statement aborted ends in ROLLBACK, whatever COMMIT says.
            let tag = try connection.connection.query(PostgresQuery(unsafeSQL: "COMMIT"), logger: logger).wait().metadata
                .command
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
        error is PSQLError || error is PostgresError ? PostgresStoreError(url.describe(error)) : error
    }

    /// A connection of the pool, waited for at most 30 seconds: given back with `checkIn`.
    func checkOut() throws -> PooledConnection {
        guard slots.wait(timeout: .now() + 30) == .success else {
            throw PostgresStoreError("PostgreSQL at \(url): every connection of this process stayed busy for 30 seconds")
        }
        do {
            // A connection the server closed while idle (a restart, a failover) is dropped, not used.
            var connection: PooledConnection
            repeat {
                connection =
                    try idle.withLockedValue { $0.popLast() }
                    ?? PooledConnection(connect(), preparing: preparing, location: url.description)
            } while connection.connection.isClosed
            return connection
        } catch {
            slots.signal()
            throw error
        }
    }

    /// Back to the pool, or closed when it is in a state not to be trusted.
    func checkIn(_ connection: PooledConnection, reusable: Bool) {
        if reusable && !connection.connection.isClosed {
            idle.withLockedValue { $0.append(connection) }
        } else {
            try? connection.connection.close().wait()
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
        let pooled: PooledConnection
        let logger: Logger

        func execute(_ sql: String, _ arguments: [SQLValue]) throws {
            _ = try run(sql, arguments)
        }

        func forEachRow(_ sql: String, _ arguments: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
            for row in try run(sql, arguments) { try body(SQLRow(try row.map(Self.value))) }
        }

        /// A statement run as prepared on this connection once it has been seen here before,
        /// else parsed and planned for this one use.
        func run(_ sql: String, _ arguments: [SQLValue]) throws -> [PostgresRow] {
            let (text, binds) = try Self.statement(sql, arguments)
            if let prepared = try pooled.prepared(text, logger: logger) {
                do {
                    return try prepared.execute(binds).wait()
                } catch {
                    pooled.forget(text, after: error, logger: logger)
                    throw error
                }
            }
            var bindings = PostgresBindings(capacity: binds.count)
            for bind in binds { bindings.append(bind) }
            return try pooled.connection.query(PostgresQuery(unsafeSQL: text, binds: bindings), logger: logger).wait().rows
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

        /// `?` becomes `$1`, `$2`... outside quoted text and names, cast to its value's type
        /// (`$1::int8`), so a statement prepared once takes the types its values have (as an
        /// unprepared one does) and a value of another type makes another statement. A null has
        /// no type of its own and takes its place's. The store's SQL has no comments, dollar
        /// quotes or escape strings, whose `?` would be misread: refused.
        static func statement(_ sql: String, _ arguments: [SQLValue]) throws -> (text: String, binds: [PostgresData]) {
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
                    // Appended in place: every statement passes through here.
                    text.append(UInt8(ascii: "$"))
                    text.append(contentsOf: String(n).utf8)
                    if n <= arguments.count, let type = Self.cast(arguments[n - 1]) {
                        text.append(contentsOf: "::".utf8)
                        text.append(contentsOf: type.utf8)
                    }
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
            let binds = arguments.map { argument -> PostgresData in
                switch argument {
                case .null: .null
                case .integer(let v): PostgresData(int64: v)
                case .real(let v): PostgresData(double: v)
                case .text(let v): PostgresData(string: v)
                case .blob(let v): PostgresData(bytes: v)
                case .bool(let v): PostgresData(bool: v)
                case .date(let v): PostgresData(date: v)
                }
            }
            return (String(decoding: text, as: UTF8.self), binds)
        }

        /// The type a value is bound as, as PostgreSQL names it.
        static func cast(_ value: SQLValue) -> String? {
            switch value {
            case .null: nil
            case .integer: "int8"
            case .real: "float8"
            case .text: "text"
            case .blob: "bytea"
            case .bool: "bool"
            case .date: "timestamptz"
            }
        }

        static func value(_ cell: PostgresCell) throws -> SQLValue {
            guard cell.bytes != nil else { return .null }
            // Every Bind asks for binary rows; a prepared statement's description of its rows,
            // taken when it was prepared, says text.
            var cell = cell
            cell.format = .binary
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

/// A connection of the pool and the statements prepared on it. A statement is prepared the
/// second time the connection sees it (a one-off, such as a migration, costs no extra round
/// trip), and then runs without being parsed and analysed again: under a load of worklists,
/// parsing, analysing and planning took about a third of PostgreSQL's CPU time. At most
/// `capacity` statements are kept, the least recently used closed first. Used by one caller at a
/// time (it is checked out of the pool), so it takes no lock.
final class PooledConnection: @unchecked Sendable {
    let connection: PostgresConnection
    /// The database's switch, shared by its connections, and its URL for the log.
    let preparing: NIOLockedValueBox<Bool>
    let location: String
    private var seen: Set<String> = []
    private var prepared: [String: (statement: PreparedQuery, used: Int)] = [:]
    private var uses = 0
    static let capacity = 128
    /// Longer statements (a load's inserts of a hundred rows) are neither kept nor remembered:
    /// they would hold memory on both sides for little gain.
    static let longest = 8_192

    init(_ connection: PostgresConnection, preparing: NIOLockedValueBox<Bool>, location: String) {
        self.connection = connection
        self.preparing = preparing
        self.location = location
    }

    /// The statement prepared, or nil to run it unprepared this time. Only statements that plan
    /// (not transaction control or definitions) are prepared.
    func prepared(_ text: String, logger: Logger) throws -> PreparedQuery? {
        guard preparing.withLockedValue({ $0 }) else { return nil }
        uses += 1
        if let entry = prepared[text] {
            prepared[text] = (entry.statement, uses)
            return entry.statement
        }
        guard text.utf8.count <= Self.longest, Self.plans(text) else { return nil }
        guard seen.remove(text) != nil else {
            if seen.count >= 4 * Self.capacity { seen.removeAll() }
            seen.insert(text)
            return nil
        }
        let statement = try connection.prepare(query: text).wait()
        if prepared.count >= Self.capacity, let oldest = prepared.min(by: { $0.value.used < $1.value.used }) {
            prepared[oldest.key] = nil
            oldest.value.statement.deallocate().whenComplete { _ in }
        }
        prepared[text] = (statement, uses)
        return statement
    }

    /// A statement refused for its values (a constraint) stays prepared. One the server no
    /// longer has, or can no longer run as prepared, or that failed otherwise, runs unprepared
    /// next; a lost one means the server does not keep them (a connection pooler), so the
    /// process stops preparing statements on this database.
    func forget(_ text: String, after error: any Error, logger: Logger) {
        if Self.state(error) != nil && !Self.isStale(error) { return }
        // Closed on the server too, where it may still be (it is no error to close one it lost).
        prepared.removeValue(forKey: text)?.statement.deallocate().whenComplete { _ in }
        guard Self.state(error) == "26000" else { return }
        let was = preparing.withLockedValue { preparing in
            defer { preparing = false }
            return preparing
        }
        if was {
            logger.warning(
                "PostgreSQL at \(location) lost a prepared statement: statements are no longer prepared on this database (a connection pooler between must keep prepared statements)"
            )
        }
    }

    /// The SQLSTATE of a prepared statement's error, when the server sent one (PostgresNIO
    /// gives those errors in its older type).
    static func state(_ error: any Error) -> String? {
        if case .server(let message) = error as? PostgresError { return message.fields[.sqlState] }
        return nil
    }

    /// A prepared statement the server no longer has (26000), or whose rows changed shape
    /// under it (0A000): nothing was done, and the statement runs again unprepared.
    static func isStale(_ error: any Error) -> Bool { ["26000", "0A000"].contains(state(error)) }

    static func plans(_ text: String) -> Bool {
        let head = text.utf8.prefix(6).lazy.map { $0 | 0x20 }
        return ["select", "insert", "update", "delete", "with"].contains { head.starts(with: $0.utf8) }
    }
}
