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

        @Option(name: .customLong("data-dir"), help: "The data directory holding the store.")
        var dataDirectory = "phm-data"

        @Option(help: "The database: postgresql://USER@HOST:PORT/DATABASE?sslmode=require (password from $PGPASSWORD).")
        var to: String

        @Option(name: .customLong("run"), help: "The run to publish (default: the latest that succeeded).")
        var runId: Int64?

        @Option(help: "The schema to publish into.")
        var schema = "phm_planning"

        func run() async throws {
            let publisher = try Console.reportingFailures { try PlanningPublisher(url: try PostgresURL(to), schema: schema) }
            let directory = URL(fileURLWithPath: dataDirectory)
            let store = try RunStore(directory: directory)
            let runs = try store.runs()
            guard let run = runId.map({ id in runs.first { $0.id == id } }) ?? runs.first(where: { $0.status == "succeeded" })
            else {
                throw CommandFailure(
                    message: runId.map { "there is no run \($0) in \(dataDirectory)" }
                        ?? "no run in \(dataDirectory) has succeeded")
            }
            // Publishing exports planning outputs, so it is audited as a run is, before it starts.
            let governance = GovernanceStore(
                runs: store, directory: directory, key: try PlatformKey.load(dataDirectory: directory))
            struct Detail: Encodable { var run: Int64?, to: String, schema: String }
            let detail = String(
                decoding: try JSONEncoder().encode(Detail(run: run.id, to: publisher.url.description, schema: schema)),
                as: UTF8.self)
            let entry = try governance.audit(
                user: "pipeline", role: "system", purpose: Purpose.planning.rawValue, action: "publish", outcome: "allowed",
                detail: detail)
            if try !governance.advanceAnchor(to: entry) {
                Console.log("the audit log no longer holds its anchored entry: run `phm audit verify`")
            }
            var logger = Logger(label: "phm.publish")
            logger.logLevel = .error
            let summary: PlanningPublisher.Summary
            do {
                summary = try await publisher.publish(run: run, folder: URL(fileURLWithPath: run.outputFolder), logger: logger)
            } catch let error as PublishError {
                throw CommandFailure(message: error.description)
            } catch {
                throw CommandFailure(message: publisher.url.describe(error))
            }
            let rows = summary.tables.reduce(0) { $0 + $1.rows }
            print("published run \(summary.runId) to \(schema) at \(publisher.url): \(summary.tables.count) tables, \(rows) rows")
            if !summary.absent.isEmpty { print("not written by this run: \(summary.absent.joined(separator: ", "))") }
        }
    }
}
