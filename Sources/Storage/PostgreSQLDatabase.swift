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
    public init(url: PostgresURL, connections: Int = 8, logger: Logger = Logger(label: "phm.store")) throws {
        self.url = url
        configuration = try url.configuration()
        self.logger = logger
        slots = DispatchSemaphore(value: max(1, connections))
        try PostgresMigrations.migrate(self)
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
        try transaction(begin: ["BEGIN", "SELECT pg_advisory_xact_lock(\(Self.writeLock))"], body)
    }

    /// The advisory lock of the store's writers: `phm store` in ASCII. Publishing planning
    /// tables takes another.
    static let writeLock: Int64 = 0x70_686d_7374_6f72

    /// A transaction on a connection of the pool. A connection whose transaction could not be
    /// ended is closed, never returned to the pool.
    func transaction<T>(begin: [String], _ body: (any SQLConnection) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let connection = try idle.withLockedValue { $0.popLast() } ?? connect()
        let sql = Connection(connection: connection, logger: logger)
        do {
            for statement in begin { try sql.execute(statement, []) }
            let result = try body(sql)
            try sql.execute("COMMIT", [])
            idle.withLockedValue { $0.append(connection) }
            return result
        } catch {
            do {
                try sql.execute("ROLLBACK", [])
                idle.withLockedValue { $0.append(connection) }
            } catch {
                try? connection.close().wait()
            }
            // PostgresNIO keeps the server's message out of an error's description, lest it reach
            // a page; the server turns errors into a generic 500 anyway, and a command's operator
            // needs the message.
            if error is PSQLError { throw PostgresStoreError(url.describe(error)) }
            throw error
        }
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

        func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            let result = try connection.query(try Self.query(sql, arguments), logger: logger).wait()
            return try result.rows.map { row in SQLRow(try row.map(Self.value)) }
        }

        /// `?` becomes `$1`, `$2`... outside quoted text and names.
        static func query(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQuery {
            var text = ""
            text.reserveCapacity(sql.utf8.count + 16)
            var quote: Character?
            var n = 0
            for c in sql {
                if let q = quote {
                    if c == q { quote = nil }
                    text.append(c)
                } else if c == "'" || c == "\"" {
                    quote = c
                    text.append(c)
                } else if c == "?" {
                    n += 1
                    text += "$\(n)"
                } else {
                    text.append(c)
                }
            }
            guard n == arguments.count else {
                throw PostgresStoreError("a statement has \(n) placeholders and \(arguments.count) arguments")
            }
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
            return PostgresQuery(unsafeSQL: text, binds: binds)
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
