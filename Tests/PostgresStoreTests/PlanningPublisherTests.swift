import Foundation
import Governance
import Logging
import NIOCore
import PostgresNIO
import Storage
import TestSupport
import Testing

@testable import Outputs
@testable import PostgresStore

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
        #expect(transitions.last == TableColumn("note", .text, nullable: false))
        let spc = Published.spc.schema
        #expect(spc.first { $0.name == "trial_limits" }?.kind == .flag)
        #expect(spc.first { $0.name == "shift" } == TableColumn("shift", .flag, nullable: true))
    }

    /// A data directory with a store holding run `id` (its summary recorded as `suppressed`)
    /// whose outputs are in `folder`.
    struct DataDirectory {
        let runs: RunStore
        let governance: GovernanceStore
        let run: RunRecord

        static let key = PlatformKey.ephemeral()

        init(
            run id: Int64, folder: URL, status: String = "succeeded", suppressed: Bool? = true,
            in directory: URL = temporaryFolder("publish-data")
        ) throws {
            runs = try RunStore(directory: directory)
            governance = GovernanceStore(runs: runs, directory: directory, key: Self.key)
            var record = RunRecord(
                startedAt: Date(timeIntervalSince1970: 1_743_465_600), finishedAt: Date(timeIntervalSince1970: 1_743_465_700),
                asOf: "2025-04-01", inputFolder: "/in", outputFolder: folder.path, status: status)
            // Run ids count up in a store: records without outputs take the ids before this one.
            var begun: Int64 = 0
            repeat { begun = try runs.begin(record) } while begun < id
            record.id = begun
            var summary = try Published.run.read(from: folder)
            summary.suppressed = suppressed
            try runs.save(summary, named: "summary", run: id)
            run = record
        }

        func publish(_ publisher: PlanningPublisher) async throws -> PlanningPublisher.Summary {
            try await publisher.publish(run: run, runs: runs, governance: governance, logger: Logger(label: "test"))
        }

        var audit: [String] { ((try? governance.auditEntries()) ?? []).map { "\($0.action) \($0.outcome)" } }
    }

    @Test func refusesARunThatDidNotSucceedAndABadSchemaName() async throws {
        let url = try PostgresURL("postgresql://phm@/phm?host=/nonexistent", environment: [:])
        #expect(throws: PublishError.self) { try PlanningPublisher(url: url, schema: "Robert'); DROP TABLE run;--") }
        #expect(throws: PublishError.self) { try PlanningPublisher(url: url, schema: "1st") }
        let publisher = try PlanningPublisher(url: url)
        let folder = try Self.outputFolder(runId: 3, patients: 9, unitName: "X")
        for status in ["running", "failed", "interrupted", "stopped"] {
            let data = try DataDirectory(run: 3, folder: folder, status: status)
            // Refused before any connection (the URL names no server), and audited as refused.
            await #expect {
                try await data.publish(publisher)
            } throws: { error in
                "\(error)".contains("only a succeeded run is published")
            }
            #expect(data.audit == ["publish refused"])
        }
    }

    /// A run with exact counts, one that does not say, or a folder holding another run's outputs
    /// is refused before anything is read or any connection made.
    @Test func refusesExactCountsAndAnotherRunsFolder() async throws {
        let publisher = try PlanningPublisher(url: try PostgresURL("postgresql://phm@/phm?host=/nonexistent", environment: [:]))
        let cases: [(stored: Bool?, written: Bool?, made: Int64, reason: String)] = [
            (false, false, 4, "holds exact counts (--no-suppress)"), (true, false, 4, "holds exact counts (--no-suppress)"),
            (false, true, 4, "holds exact counts (--no-suppress)"),
            (nil, nil, 4, "does not record that its counts were suppressed"),
            (true, true, 5, "holds the outputs of run 5, not of run 4"),
        ]
        for (stored, written, made, reason) in cases {
            let folder = try Self.outputFolder(runId: made, patients: 3, unitName: "X", suppressed: written)
            let data = try DataDirectory(run: 4, folder: folder, suppressed: stored)
            await #expect {
                try await data.publish(publisher)
            } throws: { error in
                "\(error)".contains(reason)
            }
            #expect(data.audit == ["publish refused"])
        }
    }

    /// A run's output folder with two planning tables: text that COPY must escape, empty
    /// (suppressed) counts, and the reserved words `from` and `to` as columns.
    static func outputFolder(
        runId: Int64, patients: Int?, unitName: String, suppressed: Bool? = true, transitions: Bool = true
    ) throws -> URL {
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
        total.pctPatients = Fixed(1, places: 4)
        try Published.multimorbidity.write([zero, total], to: folder)
        guard transitions else { return folder }
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

    @Test(.enabled(if: PostgresTesting.url != nil, "needs the test server (scripts/test starts it)"))
    func publishesTypedTablesReplacingARunPublishedAgain() async throws {
        let url = try PostgresURL(PostgresTesting.url!)
        let schema = PostgresTesting.schema("publish")
        let publisher = try PlanningPublisher(url: url, schema: schema)
        let directory = temporaryFolder("publish-data")
        let name = "Ysgol \"Bryn\" – O'Neill\tWing\nB\\C ŵ \\N \\."
        let first = try Self.outputFolder(runId: 7, patients: nil, unitName: name)
        let run7 = try DataDirectory(run: 7, folder: first, in: directory)
        let summary = try await run7.publish(publisher)
        #expect(summary.tables.map(\.name) == ["multimorbidity", "tier_transitions"])
        #expect(summary.tables.map(\.rows) == [2, 2])
        #expect(summary.absent.count == 11 && summary.absent.contains("projections"))
        #expect(run7.audit == ["publish allowed", "publish published"])

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
        #expect(multimorbidity == [["0", nil, "0.4965", "80.00", nil], ["total", "2125", "1.0000", nil, nil]])
        // The run's dates only: no count of people reaches the database but the planning tables'.
        let run = try await textRows(
            url,
            "SELECT array_to_json(array_agg(column_name::text ORDER BY ordinal_position))::text FROM information_schema.columns WHERE table_schema = '\(schema)' AND table_name = 'run'"
        )
        #expect(run == [["run_id", "as_of", "started_at", "finished_at", "published_at"]])
        let published = try await textRows(url, "SELECT array_to_json(ARRAY[run_id::text, as_of::text])::text FROM \(schema).run")
        #expect(published == [["7", "2025-04-01"]])

        // Published again, the run replaces itself; a later run becomes the latest, the earlier stays.
        _ = try await run7.publish(publisher)
        let second = try Self.outputFolder(runId: 8, patients: 1055, unitName: "Second")
        let run8 = try DataDirectory(run: 8, folder: second, in: directory)
        _ = try await run8.publish(publisher)
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

        // A table from an older version gains the columns it lacks and loses NOT NULL where this
        // version may leave a cell empty, and its view is made again to show them.
        try await execute(url, "DROP VIEW \(schema).latest_multimorbidity")
        try await execute(url, "ALTER TABLE \(schema).multimorbidity DROP COLUMN ae_attendances")
        try await execute(url, "ALTER TABLE \(schema).multimorbidity ALTER COLUMN pct_patients SET NOT NULL")
        try await execute(
            url, "CREATE VIEW \(schema).latest_multimorbidity AS SELECT run_id, ltc_count FROM \(schema).multimorbidity")
        _ = try await run8.publish(publisher)
        let widened = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[count(ae_attendances)::text, count(*)::text])::text FROM \(schema).latest_multimorbidity")
        #expect(widened == [["0", "2"]])
        let nullable = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[is_nullable::text])::text FROM information_schema.columns WHERE table_schema = '\(schema)' AND table_name = 'multimorbidity' AND column_name = 'pct_patients'"
        )
        #expect(nullable == [["YES"]])

        // A failure part way (a NUL in the second table, after the first was loaded) leaves
        // nothing of the run, and is audited as failed.
        let broken = try Self.outputFolder(runId: 9, patients: 5, unitName: "Nu\u{0}l")
        let run9 = try DataDirectory(run: 9, folder: broken, in: directory)
        await #expect {
            try await run9.publish(publisher)
        } throws: { error in
            url.describe(error).contains("tier-transitions.csv line 2: column 'unit_name' holds a NUL character")
        }
        #expect(run9.audit.suffix(2) == ["publish allowed", "publish failed"])
        let afterFailure = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[run_id::text, count(*)::text])::text FROM \(schema).multimorbidity GROUP BY run_id ORDER BY run_id"
        )
        #expect(afterFailure == [["7", "2"], ["8", "2"]])

        // Two publications at once take turns, and both land.
        let tenth = try Self.outputFolder(runId: 10, patients: 10, unitName: "Ten")
        let run10 = try DataDirectory(run: 10, folder: tenth, in: directory)
        let eleventh = try Self.outputFolder(runId: 11, patients: 11, unitName: "Eleven")
        let run11 = try DataDirectory(run: 11, folder: eleventh, in: directory)
        async let ten = run10.publish(publisher)
        async let eleven = run11.publish(publisher)
        #expect(try await [ten.runId, eleven.runId] == [10, 11])
        let runs = try await textRows(url, "SELECT array_to_json(ARRAY[run_id::text])::text FROM \(schema).run ORDER BY run_id")
        #expect(runs == [["7"], ["8"], ["10"], ["11"]])

        // A latest run that did not write a table leaves that table's view on the latest that did.
        let twelfth = try Self.outputFolder(runId: 12, patients: 12, unitName: "Twelve", transitions: false)
        let run12 = try DataDirectory(run: 12, folder: twelfth, in: directory)
        #expect(try await run12.publish(publisher).absent.contains("tier_transitions"))
        let latestOfEach = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[(SELECT max(run_id) FROM \(schema).latest_multimorbidity)::text, (SELECT max(run_id) FROM \(schema).latest_tier_transitions)::text, (SELECT max(unit_name) FROM \(schema).latest_tier_transitions)])::text"
        )
        #expect(latestOfEach == [["12", "11", "Eleven"]])

        // A column of another type, or a decimal narrowed so that it would round, stops the
        // publication naming it.
        try await execute(url, "DROP VIEW \(schema).latest_multimorbidity")
        try await execute(url, "ALTER TABLE \(schema).multimorbidity ALTER COLUMN pct_patients TYPE numeric(6,4)")
        await #expect {
            try await run8.publish(publisher)
        } throws: { error in
            url.describe(error).contains("multimorbidity.pct_patients is numeric(6,4) in the database but numeric")
        }
        try await execute(url, "ALTER TABLE \(schema).multimorbidity ALTER COLUMN pct_patients TYPE numeric")
        try await execute(url, "ALTER TABLE \(schema).multimorbidity ALTER COLUMN patients TYPE text")
        await #expect {
            try await run8.publish(publisher)
        } throws: { error in
            url.describe(error).contains("multimorbidity.patients is text in the database but bigint")
        }

        // Another data directory's runs never land in the same schema; nor do a schema's own
        // tables get widened or emptied when it was not made by phm.
        let other = try DataDirectory(run: 7, folder: first)
        await #expect {
            try await other.publish(publisher)
        } throws: { error in
            url.describe(error).contains("holds the runs of another data directory")
        }
        let foreign = PostgresTesting.schema("foreign")
        try await execute(url, "CREATE SCHEMA \(foreign)")
        try await execute(url, "CREATE TABLE \(foreign).run (id int)")
        await #expect {
            try await other.publish(try PlanningPublisher(url: url, schema: foreign))
        } throws: { error in
            url.describe(error).contains("already holds 1 tables, views, functions, types or other objects")
        }
        let functions = PostgresTesting.schema("functions")
        try await execute(url, "CREATE SCHEMA \(functions)")
        try await execute(url, "CREATE FUNCTION \(functions).answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
        await #expect {
            try await other.publish(try PlanningPublisher(url: url, schema: functions))
        } throws: { error in
            url.describe(error).contains("already holds 1 tables, views, functions")
        }
        try await execute(url, "DROP SCHEMA \(functions) CASCADE")
        try await execute(url, "DROP SCHEMA \(schema) CASCADE")
        try await execute(url, "DROP SCHEMA \(foreign) CASCADE")
    }

    /// The documented set-up: an administrator creates the schema for a publishing role that is
    /// not a superuser and cannot create schemas; a reading role sees the tables and views only.
    @Test(.enabled(if: PostgresTesting.url != nil, "needs the test server (scripts/test starts it)"))
    func aPublishingRoleWithoutRightsToCreateSchemasPublishesAndAReaderReads() async throws {
        let admin = try PostgresURL(PostgresTesting.url!)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let (publisherRole, reader, schema) = ("publisher_\(suffix)", "reader_\(suffix)", "planning_\(suffix)")
        for sql in [
            "CREATE ROLE \(publisherRole) LOGIN", "CREATE SCHEMA \(schema) AUTHORIZATION \(publisherRole)",
            "CREATE ROLE \(reader) LOGIN", "GRANT USAGE ON SCHEMA \(schema) TO \(reader)",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \(publisherRole) IN SCHEMA \(schema) GRANT SELECT ON TABLES TO \(reader)",
            "REVOKE CREATE ON DATABASE phm FROM PUBLIC", "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        ] {
            try await execute(admin, sql)
        }
        func connecting(as role: String) throws -> PostgresURL {
            try PostgresURL(PostgresTesting.url! + "&user=\(role)")
        }
        let folder = try Self.outputFolder(runId: 1, patients: 12, unitName: "One")
        let data = try DataDirectory(run: 1, folder: folder)
        _ = try await data.publish(try PlanningPublisher(url: try connecting(as: publisherRole), schema: schema))
        let read = try await textRows(
            try connecting(as: reader),
            "SELECT array_to_json(ARRAY[patients::text])::text FROM \(schema).latest_multimorbidity ORDER BY ltc_count")
        #expect(read == [["12"], ["2125"]])
        await #expect(throws: (any Error).self) {
            try await execute(try connecting(as: reader), "DELETE FROM \(schema).multimorbidity")
        }
        try await execute(admin, "DROP SCHEMA \(schema) CASCADE")
    }
}
