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

        @OptionGroup var platform: PlatformOptions

        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The port to listen on.") var port = 8080

        func run() async throws {
            var logger = Logger(label: "phm")
            logger.logLevel = .info
            let app = WebApp.make(platform: try platform.platform(), host: host, port: port, logger: logger)
            try await app.runService()
        }
    }
}
