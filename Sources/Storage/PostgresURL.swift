import Foundation
import Logging
import PostgresNIO

/// Where a PostgreSQL database is, from a `postgresql://` URL read as libpq reads one: user, host
/// (or a Unix socket's folder, as `host=/folder`), port, database and `sslmode`, each falling back
/// to libpq's environment variables (`PGUSER`, `PGHOST`, `PGPORT`, `PGDATABASE`, `PGSSLMODE`).
///
/// The password is never part of the URL, which shows in the process list and in shell history:
/// it comes from `$PGPASSWORD`, as for `psql` (a `.pgpass` file is not read). So a URL can be
/// printed and logged as it is.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file, `FOLDER/.s.PGSQL.PORT`.
        case socket(path: String)
    }

    /// Whether the connection is encrypted. When it is, the server's certificate is always
    /// verified against the system's trusted roots and the host name.
    public enum Encryption: String, Sendable {
        case disable, prefer, require
    }

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    public var encryption: Encryption
    var password: String?

    /// The URL as given, but for a password, which it never holds.
    public let description: String

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresURLError) {
        guard text.utf8.count <= 2048 else { throw PostgresURLError("it is longer than 2,048 characters") }
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgresql", "postgres"].contains(scheme)
        else { throw PostgresURLError("it is not a postgresql:// URL") }
        guard url.password == nil else {
            throw PostgresURLError("it holds a password, which would show in the process list: give it in $PGPASSWORD")
        }
        var parameters: [String: String] = [:]
        for item in url.queryItems ?? [] {
            guard ["host", "port", "sslmode", "user", "dbname"].contains(item.name) else {
                throw PostgresURLError(
                    "its parameter '\(item.name.prefix(40))' is not one phm reads (host, port, sslmode, user, dbname)")
            }
            guard let value = item.value, !value.isEmpty else { throw PostgresURLError("its parameter '\(item.name)' is empty") }
            parameters[item.name] = value
        }
        func given(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        let portText = parameters["port"] ?? url.port.map(String.init) ?? given(environment["PGPORT"]) ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw PostgresURLError("its port '\(portText.prefix(20))' is not a number from 1 to 65535")
        }
        var host = parameters["host"] ?? given(url.host) ?? given(environment["PGHOST"]) ?? "/var/run/postgresql"
        guard !host.contains(",") else { throw PostgresURLError("it lists several hosts: phm connects to one") }
        // An IPv6 address is written in brackets in a URL.
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasPrefix("/") {
            endpoint = .socket(path: (host.hasSuffix("/") ? host : host + "/") + ".s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        user = parameters["user"] ?? given(url.user) ?? given(environment["PGUSER"]) ?? given(environment["USER"]) ?? "postgres"
        database = parameters["dbname"] ?? given(String(url.path.drop { $0 == "/" })) ?? given(environment["PGDATABASE"]) ?? user
        guard !database.contains("/") else { throw PostgresURLError("its database name '\(database.prefix(63))' holds a '/'") }
        // Over TCP, encryption is required unless the URL says otherwise: health data and the
        // password must not cross a network in clear because a server (or an attacker) said no.
        let mode = parameters["sslmode"] ?? given(environment["PGSSLMODE"]) ?? (host.hasPrefix("/") ? "disable" : "require")
        switch mode {
        case "disable": encryption = .disable
        case "allow", "prefer": encryption = .prefer
        // Certificates are always verified in full, so the weaker modes ask for as much.
        case "require", "verify-ca", "verify-full": encryption = .require
        default:
            throw PostgresURLError("its sslmode '\(mode.prefix(20))' is not one of disable, prefer, require, verify-full")
        }
        if case .socket = endpoint, encryption == .require, parameters["sslmode"] != nil {
            throw PostgresURLError("it asks for encryption over a Unix socket, which PostgreSQL does not offer")
        }
        if case .socket = endpoint { encryption = .disable }
        password = environment["PGPASSWORD"]
        description = text
    }

    /// The URL with everything resolved (host or socket folder, port, user, database, sslmode):
    /// what a data directory records, so every process reaches the same database whatever its
    /// own `PG*` variables, and two spellings of one database compare equal.
    public var canonical: String {
        func encoded(_ text: String, _ allowed: CharacterSet) -> String {
            text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
        }
        let user = encoded(self.user, .urlUserAllowed), database = encoded(self.database, .urlPathAllowed)
        switch endpoint {
        case .socket(let path):
            let file = URL(fileURLWithPath: path)
            let port = file.lastPathComponent.replacingOccurrences(of: ".s.PGSQL.", with: "")
            let folder = encoded(file.deletingLastPathComponent().path, .urlQueryAllowed.subtracting(["&", "=", "+"]))
            return "postgresql://\(user)@/\(database)?host=\(folder)&port=\(port)"
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : encoded(host, .urlHostAllowed)
            return "postgresql://\(user)@\(shown):\(port)/\(database)?sslmode=\(encryption.rawValue)"
        }
    }

    /// The configuration of one connection.
    public func configuration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS =
                switch encryption {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        // Text travels as UTF-8 whatever the database's own encoding, which converts it.
        configuration.options.additionalStartupParameters = [("application_name", "phm"), ("client_encoding", "UTF8")]
        return configuration
    }

    /// Runs `body` on a new connection to the database, closed when it returns or throws.
    public func withConnection<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(configuration: try configuration(), id: 1, logger: logger)
        do {
            let result = try await body(connection)
            // The work is done (and committed, if it was a transaction): a failure to close
            // changes nothing of it.
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// A store URL that cannot be used, and why.
public struct PostgresURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "the PostgreSQL URL cannot be used: \(reason)" }
}

extension PostgresURL {
    /// A database failure as a message to show: the server's own message, or why the connection
    /// failed. PostgresNIO hides both by default, lest a server's message reach a web page; this is
    /// for the operator running a command.
    public func describe(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError,
            let cause = transaction.closureError ?? transaction.beginError ?? transaction.commitError
        {
            return describe(cause)
        }
        switch error as? PostgresError {
        case .server(let server):
            let field = { (name: PostgresMessage.Error.Field) in server.fields[name] }
            return serverMessage(field(.message), field(.detail), field(.hint), field(.locationContext), field(.sqlState))
        case .connectionClosed: return "cannot reach PostgreSQL at \(description): the connection was closed"
        case .protocol(let message): return "PostgreSQL at \(description): \(message)"
        case nil: break
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, info[.message] != nil {
            return serverMessage(info[.message], info[.detail], info[.hint], info[.locationContext], info[.sqlState])
        }
        if let underlying = error.underlying { return "cannot reach PostgreSQL at \(description): \(underlying)" }
        return "PostgreSQL at \(description): \(error.code)"
    }

    /// The server's error fields, whichever of PostgresNIO's error types carried them.
    func serverMessage(_ message: String?, _ detail: String?, _ hint: String?, _ context: String?, _ state: String?) -> String {
        let parts = [message ?? "an error", detail, hint, context.map { "where: \($0)" }].compactMap { $0 }
        return "PostgreSQL at \(description): \(parts.joined(separator: "; "))\(state.map { " (SQLSTATE \($0))" } ?? "")"
    }
}
