import Foundation
import Logging
import Outputs
import PostgresNIO
import Storage

/// Publishes a run's planning tables to a PostgreSQL schema for the analysts' own tools (Power BI,
/// Excel, R): each table typed, with the run's id in every row, loaded with COPY, and a view of
/// the latest run beside it (`latest_<table>`). The tables are the run's own suppressed CSVs,
/// read back and checked against their row types; nothing at person level is ever published.
///
/// One run is published in one transaction, so a reader sees all of it or none; publishing a
/// run again replaces it. A table a later version of the platform widened gains its new columns
/// (empty for runs published before); a column whose type changed stops the publication.
public struct PlanningPublisher: Sendable {
    public let url: PostgresURL
    public let schema: String

    public init(url: PostgresURL, schema: String = "phm_planning") throws(PostgresURLError) {
        guard Self.isIdentifier(schema) else {
            throw PostgresURLError(
                "the schema '\(schema.prefix(63))' is not a lower-case name of letters, digits and _ (at most 63)")
        }
        self.url = url
        self.schema = schema
    }

    /// What one publication wrote.
    public struct Summary: Sendable, Equatable {
        public var runId: Int64
        /// Each table published and its rows, in the order published.
        public var tables: [(name: String, rows: Int)]
        /// The planning tables the run did not write (a projection not asked for, say).
        public var absent: [String]

        public static func == (a: Summary, b: Summary) -> Bool {
            a.runId == b.runId && a.absent == b.absent && a.tables.map(\.name) == b.tables.map(\.name)
                && a.tables.map(\.rows) == b.tables.map(\.rows)
        }
    }

    /// A planning table as published: its SQL name and columns, and the run's rows.
    struct Table {
        var name: String
        var columns: [TableColumn]
        var rows: [[TableCell]]?
    }

    /// The SQL name of a table file: `multimorbidity-by-unit.csv` is `multimorbidity_by_unit`.
    public static func name(of file: String) -> String {
        String(file.dropLast(file.hasSuffix(".csv") ? 4 : 0).map { $0 == "-" ? "_" : $0 })
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 63, first == UInt8(ascii: "_") || (97...122).contains(first)
        else { return false }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (97...122).contains($0) || (48...57).contains($0) }
    }

    /// Reads the run's planning tables from its output folder, then publishes them.
    public func publish(run: RunRecord, folder: URL, logger: Logger) async throws -> Summary {
        guard let runId = run.id else { throw PublishError("the run has no id") }
        guard run.status == "succeeded" else {
            throw PublishError(
                "run \(runId) \(run.status == "running" ? "is still running" : "did not succeed"): only a succeeded run is published"
            )
        }
        // Exact counts (`--no-suppress`) are for direct analysis in a secure environment: no page
        // serves them and nothing publishes them. Checked before any table is read.
        let made: RunSummary
        do { made = try Published.run.read(from: folder) } catch { throw PublishError("run \(runId)'s \(error)") }
        guard made.runId == runId else {
            throw PublishError("\(folder.path) holds the outputs of run \(made.runId), not of run \(runId)")
        }
        guard made.suppressed == true else {
            throw PublishError(
                "run \(runId) \(made.suppressed == false ? "holds exact counts (--no-suppress)" : "does not record that its counts were suppressed"): its tables are for direct analysis in a secure environment and are never published"
            )
        }
        let tables = try Published.planning.map { table in
            Table(name: Self.name(of: table.file), columns: table.schema, rows: try table.cells(folder))
        }
        for table in tables {
            if let bad = ([table.name] + table.columns.map(\.name)).first(where: { !Self.isIdentifier($0) }) {
                throw PublishError("'\(bad)' in the table \(table.name) is not a lower-case SQL name")
            }
        }
        try await url.withConnection(logger: logger) { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await write(tables, run: run, runId: runId, on: connection, logger: logger)
            }
        }
        return Summary(
            runId: runId, tables: tables.compactMap { t in t.rows.map { (t.name, $0.count) } },
            absent: tables.filter { $0.rows == nil }.map(\.name))
    }

    private func write(_ tables: [Table], run: RunRecord, runId: Int64, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        func execute(_ sql: String) async throws {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        // Two publications at once take turns: each reads and widens the tables it writes.
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lock))", logger: logger)
        try await execute("CREATE SCHEMA IF NOT EXISTS \(Self.quoted(schema))")
        try await execute("SET LOCAL search_path TO \(Self.quoted(schema))")
        try await execute(
            """
            CREATE TABLE IF NOT EXISTS run (
                run_id bigint PRIMARY KEY, as_of date NOT NULL, started_at timestamptz NOT NULL,
                finished_at timestamptz, registered_people bigint NOT NULL, rows_in bigint NOT NULL,
                rows_quarantined bigint NOT NULL, published_at timestamptz NOT NULL)
            """)
        for table in tables {
            let columns = table.columns.map { "\(Self.quoted($0.name)) \(Self.type($0.kind))\($0.nullable ? "" : " NOT NULL")" }
                .joined(separator: ", ")
            let name = Self.quoted(table.name)
            try await execute(
                "CREATE TABLE IF NOT EXISTS \(name) (run_id bigint NOT NULL REFERENCES run ON DELETE CASCADE, \(columns))")
            try await execute("CREATE INDEX IF NOT EXISTS \(Self.quoted(table.name + "_run")) ON \(name) (run_id)")
            try await widen(table, on: connection, logger: logger)
        }
        // Publishing a run again replaces it, in every table (the rows cascade).
        try await connection.query("DELETE FROM run WHERE run_id = \(runId)", logger: logger)
        try await connection.query(
            """
            INSERT INTO run VALUES (\(runId), \(run.asOf)::date, \(run.startedAt), \(run.finishedAt),
            \(run.registeredPeople), \(run.rowsIn), \(run.rowsQuarantined), now())
            """, logger: logger)
        for table in tables {
            if let rows = table.rows, !rows.isEmpty {
                try await connection.copyFrom(
                    table: table.name, columns: ["run_id"] + table.columns.map(\.name), logger: logger
                ) { writer in
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity(1 << 20)
                    for (line, row) in rows.enumerated() {
                        try Self.copyLine(row, runId: runId, into: &buffer, table: table, line: line + 2)
                        if buffer.readableBytes >= 1 << 20 {
                            try await writer.write(buffer)
                            buffer.clear()
                        }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
            }
            try await execute(
                "CREATE OR REPLACE VIEW \(Self.quoted("latest_" + table.name)) AS SELECT * FROM \(Self.quoted(table.name)) WHERE run_id = (SELECT max(run_id) FROM run)"
            )
            try await execute(
                "COMMENT ON TABLE \(Self.quoted(table.name)) IS 'phm planning table \(table.name), one row per unit and breakdown per run; suppressed as the run''s CSV is'"
            )
        }
    }

    /// Adds the columns a table lacks (a later version's); refuses a column of another type.
    private func widen(_ table: Table, on connection: PostgresConnection, logger: Logger) async throws {
        var existing: [String: String] = [:]
        let rows = try await connection.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = \(schema) AND table_name = \(table.name)",
            logger: logger)
        for try await (name, type) in rows.decode((String, String).self) { existing[name] = type }
        for column in table.columns {
            if let type = existing[column.name] {
                guard type == Self.type(column.kind) else {
                    throw PublishError(
                        "\(schema).\(table.name).\(column.name) is \(type) in the database but \(Self.type(column.kind)) in this version: rename or drop the table to publish"
                    )
                }
            } else {
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL:
                            "ALTER TABLE \(Self.quoted(table.name)) ADD COLUMN \(Self.quoted(column.name)) \(Self.type(column.kind))"
                    ),
                    logger: logger)
            }
        }
    }

    /// A name checked by `isIdentifier`, quoted: so it holds no quote, and a reserved word is a name.
    static func quoted(_ name: String) -> String { "\"" + name + "\"" }

    /// The key of the advisory lock publications take.
    static let lock: Int64 = 0x7068_6d5f_7075_62

    /// A column's SQL type, as `information_schema` names it. A decimal is `numeric`: exactly the
    /// figure the CSV holds, not a binary approximation of it.
    static func type(_ kind: TableColumn.Kind) -> String {
        switch kind {
        case .text: "text"
        case .integer: "bigint"
        case .decimal: "numeric"
        case .flag: "boolean"
        }
    }

    /// One row in COPY's text format: tab-separated, `\N` for an empty cell, and backslash,
    /// tab, line feed and carriage return escaped in text. A NUL, which PostgreSQL text cannot
    /// hold, stops the publication naming the table, line and column.
    static func copyLine(_ row: [TableCell], runId: Int64, into buffer: inout ByteBuffer, table: Table, line: Int) throws {
        buffer.writeString(String(runId))
        for (index, cell) in row.enumerated() {
            buffer.writeInteger(UInt8(ascii: "\t"))
            switch cell {
            case .empty: buffer.writeStaticString("\\N")
            case .integer(let n): buffer.writeString(String(n))
            case .fixed(let f): buffer.writeString(f.text)
            case .flag(let b): buffer.writeInteger(UInt8(ascii: b ? "t" : "f"))
            case .text(let text):
                for byte in text.utf8 {
                    switch byte {
                    case 0:
                        let column = index < table.columns.count ? table.columns[index].name : "?"
                        throw PublishError(
                            "\(table.name) line \(line), column \(column): a NUL character, which PostgreSQL text cannot hold")
                    case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                    case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                    case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                    case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                    default: buffer.writeInteger(byte)
                    }
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}

/// Why a run was not published.
public struct PublishError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
