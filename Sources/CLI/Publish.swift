import ArgumentParser
import Foundation
import Governance
import Logging
import PostgresStore
import Storage

extension PHMCommand {
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Publish a run's planning tables to PostgreSQL for BI tools: typed tables holding the run's id, and views of the latest run (see docs/outputs.md)."
        )

        @OptionGroup var directory: DataDirectoryOptions

        @Option(help: "The database: postgresql://USER@HOST:PORT/DATABASE?sslmode=require (password from $PGPASSWORD).")
        var to: String

        @Option(name: .customLong("run"), help: "The run to publish (default: the latest that succeeded).")
        var runId: Int64?

        @Option(help: "The schema to publish into.")
        var schema = "phm_planning"

        mutating func validate() throws { try directory.resolve(SettingSources(file: directory.config)) }

        func run() async throws {
            try self.directory.useKeyFiles()
            let dataDirectory = self.directory.dataDirectory
            let publisher = try Console.reportingFailures { try PlanningPublisher(url: try PostgresURL(to), schema: schema) }
            let directory = URL(fileURLWithPath: dataDirectory)
            let store = try RunStore(directory: directory)
            let runs = try store.runs()
            let chosen: RunRecord?
            if let runId {
                chosen = runs.first { $0.id == runId }
                if chosen == nil { throw CommandFailure(message: "there is no run \(runId) in \(dataDirectory)") }
            } else {
                chosen = runs.first { $0.status == "succeeded" }
                if chosen == nil { throw CommandFailure(message: "no run in \(dataDirectory) has succeeded") }
            }
            guard let run = chosen else { return }
            let governance = GovernanceStore(
                runs: store, directory: directory, key: try PlatformKey.load(dataDirectory: directory))
            var logger = Logger(label: "phm.publish")
            logger.logLevel = .error
            let summary: PlanningPublisher.Summary
            do {
                summary = try await publisher.publish(run: run, runs: store, governance: governance, logger: logger)
            } catch {
                throw CommandFailure(message: publisher.url.describe(error))
            }
            let rows = summary.tables.reduce(0) { $0 + $1.rows }
            print("published run \(summary.runId) to \(schema) at \(publisher.url): \(summary.tables.count) tables, \(rows) rows")
            if !summary.absent.isEmpty { print("not written by this run: \(summary.absent.joined(separator: ", "))") }
        }
    }
}
