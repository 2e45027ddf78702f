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
        @OptionGroup var logs: LogOptions

        @Option(help: "The address to listen on (default: $PHM_HOST, the configuration file, else 127.0.0.1).")
        var host: String?

        @Option(help: "The port to listen on (default: $PHM_PORT, the configuration file, else 8080).")
        var port: Int?

        @Option(
            name: .customLong("access-log"),
            help:
                "Which answered requests get a log line: all, off, or 1/N for one in N (default: $PHM_ACCESS_LOG, the configuration file, else all). Refusals and failures always do."
        )
        var accessLog: String?

        /// Fills in what the command line left out from the environment and the configuration
        /// file (the data directory's settings are filled in by `platform`).
        mutating func validate() throws { try resolve(SettingSources(file: platform.config)) }

        mutating func resolve(_ sources: SettingSources) throws {
            try logs.resolve(sources)
            host = try sources.text("host", flag: host)
            port = try sources.value("port", flag: port.map(String.init)) { Int($0) }
            accessLog = try sources.text("access-log", flag: accessLog)
        }

        var address: (host: String, port: Int) { (host ?? "127.0.0.1", port ?? 8080) }

        var access: AccessLog { accessLog.flatMap(AccessLog.init) ?? .all }

        func run() async throws {
            // Both formats to standard output, for the service manager or container runtime.
            LoggingSystem.bootstrap { [json = logs.json] label -> any LogHandler in
                json ? JSONLogHandler(label: label) : StreamLogHandler.standardOutput(label: label)
            }
            var logger = Logger(label: "phm")
            logger.logLevel = logs.logLevel
            let app = WebApp.make(
                platform: try platform.platform(), host: address.host, port: address.port, logger: logger,
                accessLog: access)
            try await app.runService()
        }
    }
}
