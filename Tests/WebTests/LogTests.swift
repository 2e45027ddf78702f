import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Web

/// Keeps every line logged through it, for the tests to read.
final class LogLines: Sendable {
    private let lines = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])
    var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lines.withLock { $0 } }

    struct Handler: LogHandler {
        let sink: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.lines.withLock {
                $0.append((event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 }))
            }
        }
    }

    var logger: Logger { Logger(label: "test") { _ in Handler(sink: self) } }

    /// Whether a line at `level` holds `text` in its message or metadata.
    func has(_ level: Logger.Level, _ text: String) -> Bool {
        all.contains { $0.level == level && "\($0.message) \($0.metadata)".contains(text) }
    }
}

@Suite struct LogTests {
    /// Successful requests are logged all, none or one in N as asked; refusals always, at a
    /// higher level; a line holds the route pattern, never the path a user typed.
    @Test(arguments: [(AccessLog.all, 6), (.off, 0), (.sample(3), 2)])
    func accessLinesFollowTheSettingAndRefusalsAlwaysShow(_ setting: AccessLog, _ lines: Int) async throws {
        let fixture = try Fixture()
        let log = LogLines()
        let app = WebApp.make(platform: fixture.platform, logger: log.logger, accessLog: setting, watching: false)
        try await app.test(.router) { client in
            for _ in 0..<6 { _ = try await client.execute(uri: "/health", method: .get) }
            let missing = try await client.execute(uri: "/no-such-page-9434765919", method: .get)
            #expect(missing.status == .notFound)
        }
        let requests = log.all.filter { $0.message == "request" }
        #expect(requests.filter { $0.metadata["status"]?.description == "200" }.count == lines)
        let refused = try #require(requests.first { $0.metadata["status"]?.description == "404" })
        #expect(refused.level == .notice && refused.metadata["route"]?.description.contains("no-such-page") == false)
        #expect(!log.all.contains { $0.message.contains("9434765919") || "\($0.metadata)".contains("9434765919") })
    }

    @Test func accessLogSettingsRead() {
        #expect(
            AccessLog("all") == .all && AccessLog("off") == .off && AccessLog("1/10") == .sample(10) && AccessLog("1/1") == .all)
        for bad in ["", "some", "1/0", "1/-2", "2/3", "1/"] { #expect(AccessLog(bad) == nil, "\(bad)") }
    }

    /// A JSON line is one object on one line whatever the message holds, with the time, level,
    /// label, message and metadata.
    @Test func jsonLinesAreOneObjectEach() throws {
        let written = Mutex<[String]>([])
        var logger = Logger(label: "phm") { JSONLogHandler(label: $0) { line in written.withLock { $0.append(line) } } }
        logger[metadataKey: "process"] = "serve"
        logger.warning(
            "a \"quoted\"\nmessage", metadata: ["route": "/api/pages/{page}", "status": .stringConvertible(404), "level": "mine"])
        logger.debug("below the level")
        let lines = written.withLock { $0 }
        #expect(lines.count == 1 && lines[0].hasSuffix("\n") && lines[0].dropLast().allSatisfy { $0 != "\n" })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String])
        #expect(object["level"] == "warning" && object["label"] == "phm" && object["message"] == "a \"quoted\"\nmessage")
        #expect(object["route"] == "/api/pages/{page}" && object["status"] == "404" && object["process"] == "serve")
        #expect(object["metadata.level"] == "mine")
        #expect(ISO8601DateFormatter().date(from: String(object["time"]!.prefix(19)) + "Z") != nil)
    }
}
