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

        @Option(
            name: .customLong("log-level"),
            help: "trace, debug, info, notice, warning, error or critical (default: $PHM_LOG_LEVEL, else info).")
        var logLevel: String?

        @Option(
            name: .customLong("log-format"), help: "text or json: one JSON object a line (default: $PHM_LOG_FORMAT, else text).")
        var logFormat: String?

        @Option(
            name: .customLong("access-log"),
            help:
                "Which answered requests get a log line: all, off, or 1/N for one in N (default: $PHM_ACCESS_LOG, else all). Refusals and failures always do."
        )
        var accessLog: String?

        /// Each setting from its flag, else its environment variable, else the default.
        struct Logs: Equatable {
            var level: Logger.Level
            var json: Bool
            var access: AccessLog
        }

        func logs(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Logs {
            func setting(_ flag: String?, _ variable: String) -> (String, String)? {
                if let flag { return (flag, "--" + variable.dropFirst(4).lowercased().replacingOccurrences(of: "_", with: "-")) }
                if let value = environment[variable], !value.isEmpty { return (value, "$" + variable) }
                return nil
            }
            var logs = Logs(level: .info, json: false, access: .all)
            if let (text, from) = setting(logLevel, "PHM_LOG_LEVEL") {
                guard let level = Logger.Level(rawValue: text) else {
                    throw ValidationError(
                        "\(from) \(text): not a log level (trace, debug, info, notice, warning, error, critical)")
                }
                logs.level = level
            }
            if let (text, from) = setting(logFormat, "PHM_LOG_FORMAT") {
                guard ["text", "json"].contains(text) else { throw ValidationError("\(from) \(text): text or json") }
                logs.json = text == "json"
            }
            if let (text, from) = setting(accessLog, "PHM_ACCESS_LOG") {
                guard let access = AccessLog(text) else { throw ValidationError("\(from) \(text): all, off or 1/N") }
                logs.access = access
            }
            return logs
        }

        func validate() throws { _ = try logs() }

        func run() async throws {
            let logs = try logs()
            // Both formats to standard output, for the service manager or container runtime.
            LoggingSystem.bootstrap { label -> any LogHandler in
                logs.json ? JSONLogHandler(label: label) : StreamLogHandler.standardOutput(label: label)
            }
            var logger = Logger(label: "phm")
            logger.logLevel = logs.level
            let app = WebApp.make(
                platform: try platform.platform(), host: host, port: port, logger: logger, accessLog: logs.access)
            try await app.runService()
        }
    }
}
