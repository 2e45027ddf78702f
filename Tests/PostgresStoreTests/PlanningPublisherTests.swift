import Foundation
import Logging
import NIOCore
import PostgresNIO
import Storage
import TestSupport
import Testing

@testable import Outputs
@testable import PostgresStore

/// Rows of a query whose one column is a JSON array of text (`array_to_json(ARRAY[...])`).
func textRows(_ url: PostgresURL, _ sql: String) async throws -> [[String?]] {
    try await url.withConnection(logger: Logger(label: "test")) { client in
        var rows: [[String?]] = []
        for try await json in try await client.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")).decode(
            String.self)
        {
            rows.append(try JSONDecoder().decode([String?].self, from: Data(json.utf8)))
        }
        return rows
    }
}

func execute(_ url: PostgresURL, _ sql: String) async throws {
    try await url.withConnection(logger: Logger(label: "test")) { client in
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
    }
}

@Suite struct PlanningPublisherTests {
    @Test func everyPlanningTableIsTypedFromItsRowType() throws {
        var flags = 0
        for table in Published.planning {
            #expect(table.untyped.isEmpty, "\(table.file): \(table.untyped)")
            let name = PlanningPublisher.name(of: table.file)
            #expect(PlanningPublisher.isIdentifier(name))
            #expect(table.schema.allSatisfy { PlanningPublisher.isIdentifier($0.name) }, "\(table.file)")
            #expect(Set(table.schema.map(\.name)).count == table.schema.count, "\(table.file)")
            flags += table.schema.filter { $0.kind == .flag }.count
        }
        #expect(Published.planning.count == 13)
        #expect(flags >= 4)
        let multimorbidity = Published.multimorbidity.schema
        #expect(multimorbidity.map(\.name) == MultimorbidityRow.columns)
        #expect(multimorbidity[0] == TableColumn("ltc_count", .text, nullable: false))
        #expect(multimorbidity[1] == TableColumn("patients", .integer, nullable: true))
        #expect(multimorbidity[2] == TableColumn("pct_patients", .decimal, nullable: true))
        let transitions = Published.tierTransitions.schema
        #expect(transitions.map(\.name) == Published.tierTransitions.header)
        #expect(transitions.first { $0.name == "previous_run" } == TableColumn("previous_run", .integer, nullable: false))
        #expect(transitions.first { $0.name == "parent_code" } == TableColumn("parent_code", .text, nullable: true))
        #expect(transitions.last == TableColumn("note", .text, nullable: true))
        let spc = Published.spc.schema
        #expect(spc.first { $0.name == "trial_limits" }?.kind == .flag)
        #expect(spc.first { $0.name == "shift" } == TableColumn("shift", .flag, nullable: true))
    }

    @Test func copyLinesEscapeTextAndRefuseNUL() throws {
        let table = PlanningPublisher.Table(
            name: "t", columns: ["a", "b", "c", "d", "e"].map { TableColumn($0, .text, nullable: true) }, rows: nil)
        var buffer = ByteBuffer()
        try PlanningPublisher.copyLine(
            [
                .text("tab\there\nnew\\back\rcr 'q' \"d\" – ŵ"), .empty, .integer(-42), .fixed(Fixed(0.05, places: 4)!),
                .flag(true),
            ],
            runId: 9, into: &buffer, table: table, line: 2)
        #expect(
            buffer.readString(length: buffer.readableBytes)
                == "9\ttab\\there\\nnew\\\\back\\rcr 'q' \"d\" – ŵ\t\\N\t-42\t0.0500\tt\n")
        var refused = ByteBuffer()
        #expect {
            try PlanningPublisher.copyLine([.empty, .text("a\u{0}b")], runId: 1, into: &refused, table: table, line: 5)
        } throws: { error in
            "\(error)".contains("t line 5, column b") && "\(error)".contains("NUL")
        }
    }

    @Test func refusesARunThatDidNotSucceedAndABadSchemaName() async throws {
        let url = try PostgresURL("postgresql://phm@/phm?host=/nonexistent", environment: [:])
        #expect(throws: PostgresURLError.self) { try PlanningPublisher(url: url, schema: "Robert'); DROP TABLE run;--") }
        #expect(throws: PostgresURLError.self) { try PlanningPublisher(url: url, schema: "1st") }
        let publisher = try PlanningPublisher(url: url)
        for status in ["running", "failed", "interrupted", "stopped"] {
            let run = RunRecord(id: 3, startedAt: Date(), asOf: "2025-04-01", inputFolder: "", outputFolder: "", status: status)
            // Refused before any connection: the URL names no server.
            await #expect {
                try await publisher.publish(run: run, folder: temporaryFolder(), logger: Logger(label: "test"))
            } throws: { error in
                "\(error)".contains("only a succeeded run is published")
            }
        }
    }

    /// A run's output folder with two planning tables: text that COPY must escape, empty
    /// (suppressed) counts, and the reserved words `from` and `to` as columns.
    static func outputFolder(runId: Int64, patients: Int?, unitName: String, suppressed: Bool? = true) throws -> URL {
        let folder = temporaryFolder("published")
        var made = RunSummary(
            runId: runId, asOf: "2025-04-01", spinePersons: 3100, registeredPeople: 3000, planningPeople: 2990, rowsIn: 120_000,
            rowsAccepted: 119_988, rowsQuarantined: 12, reconciliationBalanced: true, careRecords: 50_000,
            careRecordsLinked: 49_000, sourcesPresent: [], bytesRead: 0, stages: [], outputFolder: folder.path)
        made.suppressed = suppressed
        try Published.run.write(made, to: folder)
        var zero = MultimorbidityRow(ltcCount: "0")
        zero.patients = patients
        zero.pctPatients = Fixed(0.4965, places: 4)
        zero.totalApcCostGbp = Fixed(80, places: 2)
        var total = MultimorbidityRow(ltcCount: "total")
        total.patients = 2125
        try Published.multimorbidity.write([zero, total], to: folder)
        let unit = UnitColumns(level: "practice", unitCode: "W00001", unitName: unitName, parentCode: "7A1")
        try Published.tierTransitions.write(
            [
                UnitRow(
                    unit,
                    TierTransitionRow(
                        outcome: "emergency_admission_12m", previousRun: 6, from: "high", to: "very_high", people: nil)),
                UnitRow(
                    unit,
                    TierTransitionRow(outcome: "emergency_admission_12m", previousRun: 6, from: "outside", to: "low", people: 45)),
            ], to: folder)
        return folder
    }

    static func run(_ id: Int64, folder: URL) -> RunRecord {
        RunRecord(
            id: id, startedAt: Date(timeIntervalSince1970: 1_743_465_600), finishedAt: Date(timeIntervalSince1970: 1_743_465_700),
            asOf: "2025-04-01", inputFolder: "/in", outputFolder: folder.path, status: "succeeded", registeredPeople: 3000,
            rowsIn: 120_000, rowsQuarantined: 12)
    }

    /// A run with exact counts, one that does not say, or a folder holding another run's outputs
    /// is refused before anything is read or any connection made.
    @Test func refusesExactCountsAndAnotherRunsFolder() async throws {
        let publisher = try PlanningPublisher(url: try PostgresURL("postgresql://phm@/phm?host=/nonexistent", environment: [:]))
        let cases: [(Bool?, Int64, String)] = [
            (false, 4, "holds exact counts (--no-suppress)"), (nil, 4, "does not record that its counts were suppressed"),
            (true, 5, "holds the outputs of run 5, not of run 4"),
        ]
        for (suppressed, made, reason) in cases {
            let folder = try Self.outputFolder(runId: made, patients: 3, unitName: "X", suppressed: suppressed)
            await #expect {
                try await publisher.publish(run: Self.run(4, folder: folder), folder: folder, logger: Logger(label: "test"))
            } throws: { error in
                "\(error)".contains(reason)
            }
        }
    }

    @Test(.enabled(if: PostgresTesting.url != nil, "needs the test server (scripts/test starts it)"))
    func publishesTypedTablesReplacingARunPublishedAgain() async throws {
        let url = try PostgresURL(PostgresTesting.url!)
        let schema = PostgresTesting.schema("publish")
        let publisher = try PlanningPublisher(url: url, schema: schema)
        let logger = Logger(label: "test")
        let name = "Ysgol \"Bryn\" – O'Neill\tWing\nB\\C ŵ"
        let first = try Self.outputFolder(runId: 7, patients: nil, unitName: name)
        let summary = try await publisher.publish(run: Self.run(7, folder: first), folder: first, logger: logger)
        #expect(summary.tables.map(\.name) == ["multimorbidity", "tier_transitions"])
        #expect(summary.tables.map(\.rows) == [2, 2])
        #expect(summary.absent.count == 11 && summary.absent.contains("projections"))

        // Every cell as the CSV holds it: text exact, empty cells NULL, decimals with their places.
        let transitions = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[run_id::text, level, unit_code, unit_name, parent_code, outcome, previous_run::text, \"from\", \"to\", people::text, note])::text FROM \(schema).tier_transitions ORDER BY \"from\""
        )
        #expect(
            transitions == [
                ["7", "practice", "W00001", name, "7A1", "emergency_admission_12m", "6", "high", "very_high", nil, "suppressed"],
                ["7", "practice", "W00001", name, "7A1", "emergency_admission_12m", "6", "outside", "low", "45", ""],
            ])
        let multimorbidity = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[ltc_count, patients::text, pct_patients::text, total_apc_cost_gbp::text, ae_attendances::text])::text FROM \(schema).latest_multimorbidity ORDER BY ltc_count"
        )
        #expect(multimorbidity == [["0", nil, "0.4965", "80.00", nil], ["total", "2125", nil, nil, nil]])
        let run = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[run_id::text, as_of::text, registered_people::text, rows_in::text, rows_quarantined::text])::text FROM \(schema).run"
        )
        #expect(run == [["7", "2025-04-01", "3000", "120000", "12"]])

        // Published again, the run replaces itself; a later run becomes the latest, the earlier stays.
        _ = try await publisher.publish(run: Self.run(7, folder: first), folder: first, logger: logger)
        let second = try Self.outputFolder(runId: 8, patients: 1055, unitName: "Second")
        _ = try await publisher.publish(run: Self.run(8, folder: second), folder: second, logger: logger)
        let counts = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[run_id::text, count(*)::text])::text FROM \(schema).multimorbidity GROUP BY run_id ORDER BY run_id"
        )
        #expect(counts == [["7", "2"], ["8", "2"]])
        let latest = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[run_id::text, patients::text])::text FROM \(schema).latest_multimorbidity ORDER BY ltc_count"
        )
        #expect(latest == [["8", "1055"], ["8", "2125"]])

        // A table from an older version gains the columns it lacks; a column of another type stops
        // the publication, and nothing of it is left behind.
        try await execute(url, "ALTER TABLE \(schema).multimorbidity DROP COLUMN ae_attendances CASCADE")
        _ = try await publisher.publish(run: Self.run(8, folder: second), folder: second, logger: logger)
        let widened = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[count(ae_attendances)::text, count(*)::text])::text FROM \(schema).latest_multimorbidity")
        #expect(widened == [["0", "2"]])
        try await execute(url, "DROP VIEW \(schema).latest_multimorbidity")
        try await execute(url, "ALTER TABLE \(schema).multimorbidity ALTER COLUMN patients TYPE text")
        let third = try Self.outputFolder(runId: 9, patients: 5, unitName: "Third")
        await #expect {
            try await publisher.publish(run: Self.run(9, folder: third), folder: third, logger: logger)
        } throws: { error in
            let message = url.describe(error)
            return message.contains("multimorbidity.patients is text in the database but bigint")
        }
        let runs = try await textRows(url, "SELECT array_to_json(ARRAY[run_id::text])::text FROM \(schema).run ORDER BY run_id")
        #expect(runs == [["7"], ["8"]])
        try await execute(url, "DROP SCHEMA \(schema) CASCADE")
    }
}
