import Foundation
import GRDB
import Governance
import Hummingbird
import HummingbirdTesting
import Storage
import TestSupport
import Testing

@testable import Service
@testable import Web

@Suite struct ShutdownTests {
    /// A stopping server stops taking requests first and its audit watch after: the watch anchors
    /// the log's head as it stops, so the entry of the last request answered is in the anchor.
    /// (The watch's own checks are an hour apart here, so only its first check and its stop
    /// anchor the log.)
    @Test func theAuditLogIsAnchoredAfterTheLastRequestWhenTheServerStops() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        let anchor = AuditAnchor.file(for: fixture.folder, key: fixture.key)
        let app = WebApp.make(platform: fixture.platform, port: 0, logger: quietLogger, auditCheckEvery: .seconds(3_600))
        let before = try await app.test(.live) { client in
            // The watch's first check anchors the log as it is.
            for _ in 0..<500 where !FileManager.default.fileExists(atPath: anchor.path) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let first = try #require(try AuditAnchor.read(anchor, key: fixture.key))
            // The watch's finding is a gauge.
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(String(buffer: metrics.body).contains("\nphm_audit_log_intact 1"))
            // A sign-in, audited.
            _ = try await bearer(client, "ana", "planning")
            return first.entries
        }
        let entries = try fixture.platform.store.auditEntries().count
        #expect(entries > before)
        #expect(try AuditAnchor.read(anchor, key: fixture.key)?.entries == entries)
    }

    /// A broken audit log ends the audit watch but not the server: it goes on answering, and
    /// the metrics say the log is broken.
    @Test func aBrokenAuditLogDoesNotStopTheServer() async throws {
        let fixture = try Fixture()
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        _ = try fixture.session(.igLead, .administration).sharing()
        let db = try DatabaseQueue(path: fixture.folder.appendingPathComponent("phm.sqlite").path)
        try await db.write { try $0.execute(sql: "UPDATE audit SET outcome = 'denied' WHERE sequence = 2") }
        let app = WebApp.make(platform: fixture.platform, port: 0, logger: quietLogger, auditCheckEvery: .milliseconds(20))
        try await app.test(.live) { client in
            var text = ""
            for _ in 0..<500 where !text.contains("\nphm_audit_log_intact 0") {
                try await Task.sleep(for: .milliseconds(20))
                text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            }
            #expect(text.contains("\nphm_audit_log_intact 0"))
            // Well after the watch ended, the server still answers.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }
}
