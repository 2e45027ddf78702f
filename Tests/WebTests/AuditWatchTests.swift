import Foundation
import GRDB
import Governance
import Logging
import Service
import Synchronization
import TestSupport
import Testing

@testable import Web

/// The server's watch over the audit log: whole once, then what was written since, until a break.
@Suite struct AuditWatchTests {
    /// Waits up to 10 s for a condition.
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func checksWholeThenCarriesOnAndStopsAtABreak() async throws {
        let fixture = try Fixture()
        let captured = LogLines()
        let logger = captured.logger
        let watcher = Task { await WebApp.watchAuditLog(fixture.platform, logger, every: .milliseconds(20)) }
        defer { watcher.cancel() }
        #expect(try await eventually { captured.has(.info, "audit log checked whole") })
        // The watcher has checked it whole, so a view carries on from there.
        let ig = try fixture.session(.igLead, .administration)
        let view = try ig.auditReport(latest: 0).check
        #expect(!view.whole)
        guard case .intact(let n, _) = view.verification else { Issue.record("\(view.verification)"); return }
        // A recent entry changed behind the platform's back is found and logged as an error.
        _ = try ig.sharing()
        let db = try DatabaseQueue(path: fixture.folder.appendingPathComponent("phm.sqlite").path)
        try await db.write { try $0.execute(sql: "UPDATE audit SET outcome = 'denied' WHERE sequence = \(n + 1)") }
        // Required: the watch returns only at a break, so the test waits for it below.
        try #require(try await eventually { captured.has(.error, "audit log broken") })
        #expect(captured.has(.error, "broken at entry \(n + 1)"))
        await watcher.value
    }

    /// An entry edited after it was checked, its hash left alone, is past where carrying on
    /// reads: the watch's next whole check finds it.
    @Test func checksWholeAgainOnItsInterval() async throws {
        let fixture = try Fixture()
        let captured = LogLines()
        let logger = captured.logger
        let ig = try fixture.session(.igLead, .administration)
        for _ in 0..<3 { _ = try ig.sharing() }
        let watcher = Task {
            await WebApp.watchAuditLog(fixture.platform, logger, every: .milliseconds(20), wholeEvery: .milliseconds(300))
        }
        defer { watcher.cancel() }
        #expect(try await eventually { captured.has(.info, "audit log checked whole") })
        let db = try DatabaseQueue(path: fixture.folder.appendingPathComponent("phm.sqlite").path)
        try await db.write { try $0.execute(sql: "UPDATE audit SET outcome = 'denied' WHERE sequence = 2") }
        // Required: the watch returns only at a break, so the test waits for it below.
        try #require(try await eventually { captured.has(.error, "audit log broken") })
        #expect(captured.has(.error, "broken at entry 2"))
        await watcher.value
    }
}
