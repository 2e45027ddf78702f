import ArrowIPC
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import SwiftProtobuf

/// Where a Spark Connect server listens: `spark://HOST:PORT` or `sc://HOST:PORT` (Spark's own
/// scheme), port 15002 when none is given. Plaintext: the server is expected on the same host or
/// a private network, as Spark Connect's own default is; TLS and tokens are not yet spoken.
public struct SparkAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    init(host: String, port: Int = 15002) {
        self.host = host
        self.port = port
    }

    /// Parses an address, refusing anything but a scheme, a host and a port. A refusal does not
    /// repeat what it was given: Spark's own connection strings carry tokens (`;token=...`).
    public init(_ text: String) throws(SparkError) {
        let refused = SparkError.address(
            "not understood: expected spark://HOST:PORT or sc://HOST:PORT, as spark://127.0.0.1:15002 (no user, token or options)"
        )
        var rest = Substring(text)
        guard let scheme = ["spark://", "sc://"].first(where: { rest.hasPrefix($0) }) else { throw refused }
        rest = rest.dropFirst(scheme.count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let host = parts.first, !host.isEmpty, host.count <= 253,
            host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
        else { throw refused }
        var port = 15002
        if parts.count == 2 {
            guard let given = Int(parts[1]), (1...65535).contains(given) else { throw refused }
            port = given
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { "spark://\(host):\(port)" }
}

public enum SparkError: Error, Equatable, CustomStringConvertible {
    case address(String)
    /// The server refused or failed the query: its message, cut to a length a log can hold, with
    /// every quoted value in it replaced by '…' (Spark quotes the values it could not read, and
    /// those can be a person's).
    case server(String)
    /// The server could not be reached, or the call broke off.
    case unreachable(String)
    /// The result was not what the query asked for.
    case result(String)

    public var description: String {
        switch self {
        case .address(let what): "Spark address \(what)"
        case .server(let what): "Spark refused the query: \(what)"
        case .unreachable(let what): "Spark Connect server unreachable: \(what)"
        case .result(let what): "Spark result unusable: \(what)"
        }
    }
}

/// A value bound to a named parameter of a SQL query (`:name`), so values never become SQL text.
public enum SparkValue: Sendable, Equatable {
    case integer(Int64)
    case double(Double)
    case string(String)
    case boolean(Bool)
    /// Days since 1970-01-01.
    case date(Int32)
    /// Arrays, for a small table sent with a query (`inline(arrays_zip(:a, :b)) AS (a, b)`).
    case integers([Int64])
    case strings([String])
}

/// One Spark Connect session on a server: queries sent as plans, results read from Arrow batches.
public struct SparkSession: Sendable {
    public let address: SparkAddress
    let sessionID = UUID().uuidString.lowercased()
    /// The largest message accepted: Spark aims at Arrow batches of 4 MiB, but sends a larger
    /// one when a single row is larger.
    static let largestMessage = 64 << 20
    /// The most bytes of Arrow batches one result may bring: what comes back are per-person facts,
    /// which for 57 million people fit well within it.
    public var largestResult = 16 << 30

    /// Who the platform says it is to the server, and the client it names.
    static let user = Spark_Connect_UserContext.with { $0.userID = "phm" }

    public init(_ address: SparkAddress) {
        self.address = address
    }

    /// Runs `body` with a connection to the server, closed when it returns.
    public func connect<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: address.host, port: address.port), transportSecurity: .plaintext)
        do {
            return try await withGRPCClient(transport: transport) { client in
                let spark = Spark_Connect_SparkConnectService.Client(wrapping: client)
                let connection = Connection(session: self, client: spark)
                let result: T
                do {
                    result = try await body(connection)
                } catch {
                    await connection.release()
                    throw error
                }
                await connection.release()
                return result
            }
        } catch let error as RPCError {
            throw SparkSession.mapped(error)
        }
    }

    static func mapped(_ error: RPCError) -> SparkError {
        let message = redacted(String(error.message.prefix(2000)))
        switch error.code {
        case .unavailable, .deadlineExceeded, .cancelled: return .unreachable(message)
        case .resourceExhausted:
            return .result("a response message larger than \(largestMessage >> 20) MiB (\(message))")
        default: return .server(message)
        }
    }

    /// A message with the text between single quotes replaced by '…'.
    static func redacted(_ message: String) -> String {
        var out = ""
        var quoted = false
        for character in message {
            if character == "'" {
                out += quoted ? "…'" : "'"
                quoted.toggle()
            } else if !quoted {
                out.append(character)
            }
        }
        return quoted ? out + "…" : out
    }

    /// A session's open connection.
    public struct Connection: Sendable {
        let session: SparkSession
        let client: Spark_Connect_SparkConnectService.Client<HTTP2ClientTransport.Posix>

        /// The result of a SQL query, its named parameters bound to `values`.
        public func query(_ sql: String, _ values: [String: SparkValue] = [:]) async throws -> ArrowTable {
            try await collect(Self.relation(sql, values))
        }

        /// A SQL query as a plan's relation, with its values bound by name.
        static func relation(_ sql: String, _ values: [String: SparkValue]) -> Spark_Connect_Relation {
            var relation = Spark_Connect_Relation()
            relation.sql = Spark_Connect_SQL.with {
                $0.query = sql
                $0.namedArguments = values.mapValues { value in Spark_Connect_Expression.with { $0.literal = value.literal } }
            }
            return relation
        }

        /// Registers files read by one of Spark's data sources (`csv`, `text`, `parquet`) as a
        /// temporary view of the session, with `schema` (a DDL column list, `a STRING, b INT`) where
        /// the source takes one, and the source's `options`.
        public func createView(
            _ name: String, reading format: String, paths: [String], schema: String? = nil, options: [String: String] = [:]
        ) async throws {
            var read = Spark_Connect_Read.DataSource()
            read.format = format
            if let schema { read.schema = schema }
            read.options = options
            read.paths = paths
            var relation = Spark_Connect_Relation()
            relation.read = Spark_Connect_Read.with { $0.dataSource = read }
            try await createView(name, of: relation)
        }

        /// Ends the session on the server, letting go of its views and cached rows at once rather
        /// than when the server's session timeout comes; a failure here changes nothing.
        func release() async {
            var request = Spark_Connect_ReleaseSessionRequest()
            request.sessionID = session.sessionID
            request.userContext = SparkSession.user
            request.clientType = SparkSession.user.userID
            _ = try? await client.releaseSession(request: ClientRequest(message: request)) { _ in }
        }

        /// Registers a query's result as a temporary view, so later queries can name it.
        public func createView(_ name: String, query sql: String, _ values: [String: SparkValue] = [:]) async throws {
            try await createView(name, of: Self.relation(sql, values))
        }

        func createView(_ name: String, of relation: Spark_Connect_Relation) async throws {
            var command = Spark_Connect_Command()
            command.createDataframeView = Spark_Connect_CreateDataFrameViewCommand.with {
                $0.input = relation
                $0.name = name
                $0.isGlobal = false
                $0.replace = true
            }
            var plan = Spark_Connect_Plan()
            plan.command = command
            try await execute(plan)
        }

        /// The rows of a relation, from the Arrow batches the server streams back.
        func collect(_ relation: Spark_Connect_Relation) async throws -> ArrowTable {
            var plan = Spark_Connect_Plan()
            plan.root = relation
            let (streams, rows) = try await execute(plan)
            let table: ArrowTable
            do {
                table = try ArrowStreamReader.read(streams: streams)
            } catch {
                throw SparkError.result(error.description)
            }
            guard table.rowCount == rows else {
                throw SparkError.result("the server announced \(rows) rows and sent \(table.rowCount)")
            }
            return table
        }

        /// Executes a plan, returning the Arrow streams of its result (none for a command) and the
        /// rows the server says they hold.
        @discardableResult
        func execute(_ plan: Spark_Connect_Plan) async throws -> (streams: [[UInt8]], rows: Int) {
            var request = Spark_Connect_ExecutePlanRequest()
            request.sessionID = session.sessionID
            request.userContext = SparkSession.user
            request.clientType = SparkSession.user.userID
            request.plan = plan
            var options = CallOptions.defaults
            // The transport applies the request limit to responses too.
            options.maxResponseMessageBytes = SparkSession.largestMessage
            options.maxRequestMessageBytes = SparkSession.largestMessage
            // Fail when the server is not there, rather than wait for it to appear.
            options.waitForReady = false
            let largestResult = session.largestResult
            do {
                return try await client.executePlan(request: ClientRequest(message: request), options: options) { response in
                    // The call ending without an error is the end of the result (the request asks for no
                    // reattachable execution); each batch says how many rows it holds and where they start,
                    // which the decoded table is checked against.
                    var streams: [[UInt8]] = []
                    var rows = 0, bytes = 0
                    for try await message in response.messages {
                        guard case .arrowBatch(let batch) = message.responseType else { continue }
                        guard batch.rowCount >= 0, batch.rowCount <= Int64(Int32.max) else {
                            throw SparkError.result("a batch of \(batch.rowCount) rows")
                        }
                        if batch.hasStartOffset, batch.startOffset != Int64(rows) {
                            throw SparkError.result("a batch starting at row \(batch.startOffset) after \(rows) rows")
                        }
                        bytes += batch.data.count
                        guard bytes <= largestResult else {
                            throw SparkError.result("a result of more than \(largestResult >> 20) MiB")
                        }
                        streams.append(Array(batch.data))
                        rows += Int(batch.rowCount)
                    }
                    return (streams, rows)
                }
            } catch let error as RPCError {
                throw SparkSession.mapped(error)
            }
        }
    }
}

extension SparkValue {
    var literal: Spark_Connect_Expression.Literal {
        var literal = Spark_Connect_Expression.Literal()
        switch self {
        case .integer(let v): literal.long = v
        case .double(let v): literal.double = v
        case .string(let v): literal.string = v
        case .boolean(let v): literal.boolean = v
        case .date(let v): literal.date = v
        case .integers(let v):
            literal.array.elementType.long = .init()
            literal.array.elements = v.map { SparkValue.integer($0).literal }
        case .strings(let v):
            literal.array.elementType.string = .init()
            literal.array.elements = v.map { SparkValue.string($0).literal }
        }
        return literal
    }
}
