import ArgumentParser
import CLI
import Foundation
import Governance
import Logging
import Outputs
import PostgresNIO
import PostgresStore
import Storage
import TestSupport
import Testing

@Suite struct PublishTests {
    /// `phm publish` of the default run: every planning table the run wrote is in PostgreSQL, cell
    /// for cell as its CSV holds it, typed; the publication is audited; person-level files are not.
    @Test(.enabled(if: PostgresTesting.url != nil, "needs the test server (scripts/test starts it)"))
    func publishedTablesEqualTheRunsCSVs() async throws {
        let shared = try RunStore(directory: DefaultRun.folder.appendingPathComponent("data"))
        let run = try #require(try shared.runs().first)
        let id = try #require(run.id)
        #expect(run.status == "succeeded")
        // A data directory of its own holding the run's record and summary under the same id, so
        // the shared one's audit log stays as it is.
        let data = temporaryFolder("publish")
        defer { try? FileManager.default.removeItem(at: data) }
        let store = try RunStore(directory: data)
        var record = run
        record.id = nil
        var begun: Int64 = 0
        repeat { begun = try store.begin(record) } while begun < id
        try store.save(try #require(try shared.result(RunSummary.self, named: "summary", run: id)), named: "summary", run: id)
        let schema = PostgresTesting.schema("default_run")
        var command = try #require(
            try PHMCommand.parseAsRoot(["publish", "--data-dir", data.path, "--to", PostgresTesting.url!, "--schema", schema])
                as? any AsyncParsableCommand)
        try await command.run()

        let url = try PostgresURL(PostgresTesting.url!)
        let folder = URL(fileURLWithPath: run.outputFolder)
        var published = 0, filled = 0
        for table in Published.planning {
            let csv = folder.appendingPathComponent(table.file)
            guard FileManager.default.fileExists(atPath: csv.path) else { continue }
            published += 1
            let expected = readCSV(csv)
            #expect(expected[0] == table.schema.map(\.name), "\(table.file)")
            let name = PlanningPublisher.name(of: table.file)
            let columns = table.schema.map { "\"\($0.name)\"::text" }.joined(separator: ", ")
            let rows = try await textRows(
                url, "SELECT array_to_json(ARRAY[\(columns)])::text FROM \(schema).\(name) WHERE run_id = \(id)")
            // As the CSV writes them: an empty cell for NULL, Y and N for a flag.
            let cells = rows.map { row in
                zip(row, table.schema).map { cell, column in
                    guard let cell else { return "" }
                    return column.kind == .flag ? (cell == "true" ? "Y" : "N") : cell
                }
            }
            #expect(cells.count == expected.count - 1, "\(table.file)")
            if !cells.isEmpty { filled += 1 }
            #expect(
                cells.sorted { $0.lexicographicallyPrecedes($1) }
                    == expected.dropFirst().sorted { $0.lexicographicallyPrecedes($1) }, "\(table.file)")
        }
        // The default run writes every planning table but the model transport table; as the first
        // run of its data directory, it has no tier transitions.
        #expect(published == 12 && filled == 11)
        let tables = try await textRows(
            url,
            "SELECT array_to_json(ARRAY[table_name::text])::text FROM information_schema.tables WHERE table_schema = '\(schema)' AND table_type = 'BASE TABLE'"
        ).compactMap(\.first).compactMap { $0 }
        #expect(
            Set(tables)
                == Set(
                    Published.planning.map { PlanningPublisher.name(of: $0.file) } + [
                        "run", "phm_publication", "published_table",
                    ]))
        let audit = try GovernanceStore(directory: data, key: try PlatformKey.load(dataDirectory: data)).auditEntries()
        #expect(audit.map { "\($0.action) \($0.outcome)" } == ["publish allowed", "publish published"])
        #expect(audit[0].detail.contains(schema) && audit[0].purpose == "planning")
        try await execute(url, "DROP SCHEMA \(schema) CASCADE")
    }
}
