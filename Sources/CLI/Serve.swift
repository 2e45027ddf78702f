import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Service
import Web

extension PHMCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the web pages and JSON API over a data directory (stops cleanly on Ctrl-C or SIGTERM).")

        @Option(name: .customLong("data-dir"), help: "The data directory holding the store, the vault and the latest run.")
        var dataDirectory = "phm-data"

        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The port to listen on.") var port = 8080

        @Option(
            name: .customLong("care-gaps"), help: "A care gaps file for worklists (default: the shipped set).")
        var careGaps: String?

        func run() async throws {
            var logger = Logger(label: "phm")
            logger.logLevel = .info
            let platform = try Console.reportingFailures {
                try Platform(
                    dataDirectory: URL(fileURLWithPath: dataDirectory), careGaps: careGaps.map { URL(fileURLWithPath: $0) })
            }
            let app = WebApp.make(platform: platform, host: host, port: port, logger: logger)
            try await app.runService()
        }
    }
}
