import Foundation
import Logging
import Outputs
import PostgresNIO
import Storage

/// Publishes a run's planning tables to a PostgreSQL schema for the analysts' own tools (Power BI,
/// Excel, R): each table typed, with the run's id in every row, loaded with COPY, and a view of
/// the latest run beside it (`latest_<table>`). The tables are the run's own suppressed CSVs,
/// read back and checked against their row types; nothing at person level is ever published.
/// Names are always quoted: two columns are `from` and `to`, which SQL reserves.
///
/// One run is published in one transaction, so a reader sees all of it or none; publishing a
/// run again replaces it. A table a later version of the platform widened gains its new columns
/// (empty for runs published before); a column whose type changed stops the publication. A
/// schema holds the runs of one data directory: it is marked as phm's when first published to,
/// and a schema holding anything else is refused.
public struct PlanningPublisher: Sendable {
    public let url: PostgresURL
    public let schema: String

    public init(url: PostgresURL, schema: String = "phm_planning") throws(PublishError) {
        guard Self.isIdentifier(schema) else {
            throw PublishError("the schema '\(schema.prefix(63))' is not a lower-case name of letters, digits and _ (at most 63)")
        }
        self.url = url
        self.schema = schema
    }

    /// What one publication wrote.
    public struct Summary: Sendable, Equatable {
        public struct Table: Sendable, Equatable {
            public var name: String
            public var rows: Int
        }

        public var runId: Int64
        /// Each table published, in the order published.
        public var tables: [Table]
        /// The planning tables the run did not write (a projection not asked for, say).
        public var absent: [String]
    }

    /// A planning table as published: its SQL name, its file and columns, and whether the run
    /// wrote it.
    struct Table {
        var name: String
        var file: URL
        var columns: [TableColumn]
        var written: Bool
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

    /// A name checked by `isIdentifier`, quoted: so it holds no quote, and a reserved word is a name.
    static func quoted(_ name: String) -> String { "\"" + name + "\"" }

    /// Checks the run, reads its planning tables from its output folder and publishes them. Every
    /// attempt is audited in `governance`: refused (and why) before anything is read, or allowed
    /// before the database is reached, then failed if it did not complete.
    public func publish(run: RunRecord, runs: RunStore, governance: GovernanceStore, logger: Logger) async throws -> Summary {
        guard let runId = run.id else { throw PublishError("the run has no id") }
        struct Detail: Encodable {
            var run: Int64, to: String, schema: String, reason: String?
        }
        func audit(_ outcome: String, _ reason: String? = nil) throws {
            let detail = Detail(run: runId, to: url.description, schema: schema, reason: reason)
            let entry = try governance.audit(
                user: "pipeline", role: "system", purpose: "planning", action: "publish", outcome: outcome,
                detail: String(decoding: try JSONEncoder().encode(detail), as: UTF8.self))
            _ = try governance.advanceAnchor(to: entry)
        }
        let folder = URL(fileURLWithPath: run.outputFolder)
        do {
            try check(run, runId: runId, runs: runs, folder: folder)
        } catch {
            // `check` throws only a PublishError, the reason to record.
            try audit("refused", error.description)
            throw error
        }
        let tables = Published.planning.map { table in
            let file = folder.appendingPathComponent(table.file)
            return Table(
                name: Self.name(of: table.file), file: file, columns: table.schema,
                written: FileManager.default.fileExists(atPath: file.path))
        }
        for table in tables {
            let names = [table.name, "latest_" + table.name, table.name + "_run"] + table.columns.map(\.name)
            if let bad = names.first(where: { !Self.isIdentifier($0) }) {
                throw PublishError("'\(bad)' in the table \(table.name) is not a lower-case SQL name of at most 63 characters")
            }
        }
        let source = try governance.installation()
        try audit("allowed")
        let published: [Summary.Table]
        do {
            published = try await url.withConnection(logger: logger) { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await write(tables, run: run, runId: runId, source: source, on: connection, logger: logger)
                }
            }
        } catch {
            // The attempt's own error is the one to report, whether or not this entry is written.
            try? audit("failed", url.describe(error))
            throw error
        }
        try audit("published", "\(published.count) tables, \(published.reduce(0) { $0 + $1.rows }) rows")
        return Summary(runId: runId, tables: published, absent: tables.filter { !$0.written }.map(\.name))
    }

    /// Only a run that succeeded with suppressed counts is published: exact counts
    /// (`--no-suppress`) are for direct analysis in a secure environment, and no page serves them
    /// either. Both the store's record of the run and its output folder must say so.
    func check(_ run: RunRecord, runId: Int64, runs: RunStore, folder: URL) throws(PublishError) {
        guard run.status == "succeeded" else {
            throw PublishError(
                "run \(runId) \(run.status == "running" ? "is still running" : "did not succeed"): only a succeeded run is published"
            )
        }
        let recorded: RunSummary?
        do { recorded = try runs.result(RunSummary.self, named: "summary", run: runId) } catch {
            throw PublishError("run \(runId)'s summary in the store cannot be read: \(error)")
        }
        let written: RunSummary
        do { written = try Published.run.read(from: folder) } catch { throw PublishError("run \(runId)'s \(error)") }
        guard written.runId == runId else {
            throw PublishError("\(folder.path) holds the outputs of run \(written.runId), not of run \(runId)")
        }
        for summary in [recorded, written] where summary?.suppressed != true {
            let what =
                summary == nil
                ? "has no summary in the store"
                : summary?.suppressed == false
                    ? "holds exact counts (--no-suppress)" : "does not record that its counts were suppressed"
            throw PublishError(
                "run \(runId) \(what): only tables under disclosure control are published (exact counts are for direct analysis in a secure environment)"
            )
        }
    }

    /// Writes the run's tables in the transaction `connection` is in; returns each table written
    /// with its rows.
    private func write(
        _ tables: [Table], run: RunRecord, runId: Int64, source: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Summary.Table] {
        func execute(_ sql: String) async throws {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        // Two publications at once take turns: each reads and widens the tables it writes.
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lock))", logger: logger)
        try await claim(source: source, on: connection, logger: logger)
        try await execute("SET LOCAL search_path TO \(Self.quoted(schema))")
        var created: Set<String> = []
        for table in tables {
            let name = Self.quoted(table.name)
            let columns = table.columns.map { "\(Self.quoted($0.name)) \(Self.type($0.kind))\($0.nullable ? "" : " NOT NULL")" }
            let changed = try await widen(table, on: connection, logger: logger)
            if changed == nil {
                try await execute(
                    """
                    CREATE TABLE \(name) (
                        run_id bigint NOT NULL REFERENCES run ON DELETE CASCADE, \(columns.joined(separator: ", ")))
                    """)
                try await execute("CREATE INDEX \(Self.quoted(table.name + "_run")) ON \(name) (run_id)")
                try await execute(
                    "COMMENT ON TABLE \(name) IS 'phm planning table \(table.name): one row per unit and breakdown of each run, suppressed as the run''s CSV is'"
                )
                created.insert(table.name)
            } else if changed != 0 {
                created.insert(table.name)
            }
        }
        // Publishing a run again replaces it, in every table (the rows cascade).
        try await connection.query("DELETE FROM run WHERE run_id = \(runId)", logger: logger)
        try await connection.query(
            """
            INSERT INTO run (run_id, as_of, started_at, finished_at, published_at)
            VALUES (\(runId), \(run.asOf)::date, \(run.startedAt), \(run.finishedAt), now())
            """, logger: logger)
        var published: [Summary.Table] = []
        for table in tables {
            if table.written {
                // Read as it is sent: the server stores one chunk while the next is made.
                let csv: [UInt8]
                do { csv = Array(try Data(contentsOf: table.file)) } catch {
                    throw PublishError("\(table.file.path) cannot be read: \(error.localizedDescription)")
                }
                var text = CopyText(csv: csv, file: table.file.lastPathComponent, columns: table.columns, runId: runId)
                try await connection.copyFrom(
                    table: table.name, columns: ["run_id"] + table.columns.map(\.name), logger: logger
                ) { writer in
                    while let chunk = try text.next() { try await writer.write(ByteBuffer(bytes: chunk)) }
                }
                published.append(Summary.Table(name: table.name, rows: text.rows))
                try await connection.query(
                    "INSERT INTO published_table (run_id, table_name, rows) VALUES (\(runId), \(table.name), \(text.rows))",
                    logger: logger)
            }
            // Replacing a view locks out its readers until commit: only a new or widened table's.
            let viewed = try await exists("latest_" + table.name, on: connection, logger: logger)
            if created.contains(table.name) || !viewed {
                try await execute(
                    """
                    CREATE OR REPLACE VIEW \(Self.quoted("latest_" + table.name)) AS SELECT * FROM \(Self.quoted(table.name))
                    WHERE run_id = (
                        SELECT run.run_id FROM run JOIN published_table USING (run_id)
                        WHERE published_table.table_name = '\(table.name)' ORDER BY run.as_of DESC, run.run_id DESC LIMIT 1)
                    """)
            }
        }
        return published
    }

    /// Makes the schema phm's, or checks that it is and holds this data directory's runs. An
    /// existing schema is used as it is (a database administrator may create it for the
    /// publishing role, which then needs no right to create schemas), but only if it is empty or
    /// was made by a publication from the same data directory: so `--schema public` cannot widen or
    /// empty another application's tables, and two data directories' run ids never meet.
    private func claim(source: String, on connection: PostgresConnection, logger: Logger) async throws {
        let name = Self.quoted(schema)
        let found = try await connection.query("SELECT 1 FROM pg_namespace WHERE nspname = \(schema)", logger: logger)
        var present = false
        for try await _ in found.decode(Int.self) { present = true }
        if !present { try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(name)"), logger: logger) }
        let marker = try await connection.query(
            "SELECT to_regclass(\(schema + ".phm_publication"))::text", logger: logger)
        var marked = false
        for try await table in marker.decode(String?.self) { marked = table != nil }
        if marked {
            let rows = try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT source FROM \(name).phm_publication"), logger: logger)
            var sources: [String] = []
            for try await owner in rows.decode(String.self) { sources.append(owner) }
            guard sources == [source] else {
                throw PublishError(
                    "the schema \(schema) holds the runs of another data directory: publish each data directory to a schema of its own"
                )
            }
            return
        }
        // Relations (tables, views, sequences, indexes), functions and types of their own: a
        // table's row type and array types come with what they belong to.
        let objects = try await connection.query(
            """
            SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = n.oid)
                 + (SELECT count(*) FROM pg_proc WHERE pronamespace = n.oid)
                 + (SELECT count(*) FROM pg_type WHERE typnamespace = n.oid AND typrelid = 0 AND typcategory <> 'A')
            FROM pg_namespace n WHERE n.nspname = \(schema)
            """, logger: logger)
        for try await count in objects.decode(Int64.self) where count > 0 {
            throw PublishError(
                "the schema \(schema) already holds \(count) tables, views, functions, types or other objects that phm did not publish: choose an empty or new schema (--schema)"
            )
        }
        for sql in [
            "CREATE TABLE \(name).phm_publication (source text NOT NULL)",
            "COMMENT ON TABLE \(name).phm_publication IS 'the data directory whose runs phm publish writes here'",
            """
            CREATE TABLE \(name).run (
                run_id bigint PRIMARY KEY, as_of date NOT NULL, started_at timestamptz NOT NULL,
                finished_at timestamptz, published_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE \(name).published_table (
                run_id bigint NOT NULL REFERENCES \(name).run ON DELETE CASCADE, table_name text NOT NULL,
                rows bigint NOT NULL, PRIMARY KEY (run_id, table_name))
            """,
        ] {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        try await connection.query("INSERT INTO \(unescaped: name).phm_publication (source) VALUES (\(source))", logger: logger)
    }

    private func exists(_ relation: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query("SELECT to_regclass(\(schema + "." + relation))::text", logger: logger)
        var found = false
        for try await name in rows.decode(String?.self) { found = name != nil }
        return found
    }

    /// Brings an existing table to this version's columns: adds those it lacks (a later
    /// version's), lets a column this version may leave empty be NULL, and refuses a column of
    /// another type. Returns how many columns it changed, or nil when there is no such table.
    private func widen(_ table: Table, on connection: PostgresConnection, logger: Logger) async throws -> Int? {
        var existing: [String: (type: String, nullable: Bool)] = [:]
        // The type with its modifiers: a numeric narrowed to numeric(5,1) would round figures.
        let rows = try await connection.query(
            """
            SELECT attname::text, format_type(atttypid, atttypmod), NOT attnotnull FROM pg_attribute
            WHERE attrelid = to_regclass(\(schema + "." + Self.quoted(table.name))) AND attnum > 0 AND NOT attisdropped
            """, logger: logger)
        for try await (name, type, nullable) in rows.decode((String, String, Bool).self) {
            existing[name] = (type, nullable)
        }
        guard !existing.isEmpty else { return nil }
        var changed = 0
        let name = Self.quoted(table.name)
        for column in table.columns {
            let sql: String
            if let found = existing[column.name] {
                guard found.type == Self.type(column.kind) else {
                    throw PublishError(
                        "\(schema).\(table.name).\(column.name) is \(found.type) in the database but \(Self.type(column.kind)) in this version: rename or drop the table to publish"
                    )
                }
                guard column.nullable && !found.nullable else { continue }
                sql = "ALTER TABLE \(name) ALTER COLUMN \(Self.quoted(column.name)) DROP NOT NULL"
            } else {
                sql = "ALTER TABLE \(name) ADD COLUMN \(Self.quoted(column.name)) \(Self.type(column.kind))"
            }
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            changed += 1
        }
        return changed
    }

    /// The key of the advisory lock publications take.
    static let lock: Int64 = 0x7068_6d5f_7075_62

    /// A column's SQL type, as `format_type` names it. A decimal is `numeric`: exactly the
    /// figure the CSV holds, not a binary approximation of it.
    static func type(_ kind: TableColumn.Kind) -> String {
        switch kind {
        case .text: "text"
        case .integer: "bigint"
        case .decimal: "numeric"
        case .flag: "boolean"
        }
    }
}

/// Why a run was not published.
public struct PublishError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
