import Foundation
import Governance
import PHMCore
import TestSupport
import Testing

@testable import Storage

/// What several server processes share through the store, on each store: sessions, sign-in
/// counts, users, cohorts, worklist views, settings, and one audit chain however many write.
@Suite struct SharedStoreTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shared-\(UUID().uuidString)")
    let key = PlatformKey.ephemeral()

    /// Two stores on one data directory, as two processes have.
    func stores(_ kind: TestStore) throws -> (GovernanceStore, GovernanceStore) {
        try kind.prepare(dir)
        return (try GovernanceStore(directory: dir, key: key), try GovernanceStore(directory: dir, key: key))
    }

    @Test(arguments: TestStore.available) func sessionsStartInOneProcessAndEndInAnother(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try stores(kind)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let session = StoredSession(
            user: "ana", purpose: "planning", userDigest: "d1", started: now, expires: now.addingTimeInterval(900))
        try a.startSession("t1", session, now: now)
        #expect(try b.session("t1") == session)
        // Read with its user in one statement: none yet, so the session is no one's.
        #expect(try b.sessionAndUser("t1").map { $0.user == nil } == true)
        // Expiry moves later only.
        try b.extendSession("t1", to: now.addingTimeInterval(1800))
        try a.extendSession("t1", to: now.addingTimeInterval(1200))
        #expect(try a.session("t1")?.expires == now.addingTimeInterval(1800))
        #expect(try a.liveSessions(now: now, startedAfter: now.addingTimeInterval(-1)) == 1)
        #expect(try a.liveSessions(now: now.addingTimeInterval(1800), startedAfter: now.addingTimeInterval(-1)) == 0)
        // A session idle past its expiry is dropped when the next starts.
        try b.startSession("t2", session, now: now.addingTimeInterval(2000))
        #expect(try a.session("t1") == nil && (try a.session("t2")) != nil)
        try a.endSession("t2")
        #expect(try b.session("t2") == nil)
        // A changed user's sessions end, whichever process changes the user.
        let user = UserRecord(name: "ana", role: .analyst, practiceCode: nil, passwordHash: "h")
        try a.save(user)
        try a.startSession("t3", session, now: now)
        let both = try #require(try b.sessionAndUser("t3"))
        let ana = try a.user("ana")
        #expect(both.session == session && both.user == ana && ana != nil)
        // Saved again unchanged, as read: the sessions stay.
        try b.save(try #require(try b.user("ana")))
        #expect(try a.session("t3") != nil)
        var changed = try #require(try b.user("ana"))
        changed.active = false
        try b.save(changed)
        #expect(try a.session("t3") == nil && (try a.user("ana")) == changed)
    }

    @Test(arguments: TestStore.available) func signInAttemptsAreCountedAcrossProcesses(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try stores(kind)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let keys = [(key: "user:ana", limit: 3), (key: "address:1", limit: 5)]
        #expect(try a.reserveSignIn(keys, window: 60, now: now) == nil)
        #expect(try b.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(10)) == nil)
        #expect(try a.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(20)) == nil)
        // The user's limit is reached: the wait is until the oldest attempt leaves the window.
        #expect(try b.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(30)) == 30)
        // An attempt withdrawn is taken back under every key; one forgiven clears the user's.
        try b.withdrawSignIn(keys: ["user:ana", "address:1"], reserved: now.addingTimeInterval(20))
        #expect(try a.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(30)) == nil)
        try a.forgiveSignIn(userKey: "user:ana", addressKey: "address:1", reserved: now.addingTimeInterval(30))
        for i in 0..<3 {
            #expect(try b.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(40 + Double(i))) == nil)
        }
        // Five attempts on the address within the window now: the address is at its limit.
        #expect(try a.reserveSignIn([(key: "user:bob", limit: 3), keys[1]], window: 60, now: now.addingTimeInterval(45)) == 15)
        // Past the window, everything is forgotten.
        #expect(try a.reserveSignIn(keys, window: 60, now: now.addingTimeInterval(200)) == nil)
    }

    @Test(arguments: TestStore.available) func cohortsWorklistsAndSettings(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try stores(kind)
        let first = try a.saveCohort(name: "frail", text: "t1", json: "{}", description: "d", by: "ana")
        let second = try b.saveCohort(name: "frail", text: "t2", json: "{}", description: "d", by: "ana")
        #expect(first.version == 1 && second.version == 2)
        #expect(throws: CohortOwned.self) { try a.saveCohort(name: "frail", text: "t3", json: "{}", description: "", by: "bob") }
        _ = try a.saveCohort(name: "copd", text: "c", json: "{}", description: "", by: "bob")
        #expect(try b.cohorts().map { "\($0.name) \($0.version)" } == ["copd 1", "frail 2"])
        #expect(try b.cohortVersions("frail").map(\.text) == ["t1", "t2"])
        #expect(try b.latestCohort("frail")?.text == second.text)
        #expect(try a.cohort("frail", version: 1)?.text == first.text)
        #expect(try a.cohort("frail", version: 3) == nil)
        #expect(try a.viewWorklist(user: "cli", cohort: "frail", practiceCode: "P1", run: 1) == nil)
        #expect(try b.viewWorklist(user: "cli", cohort: "frail", practiceCode: "P1", run: 2) == 1)
        #expect(try a.viewWorklist(user: "cli", cohort: "frail", practiceCode: "P1", run: 2) == 1)
        let change = WorklistChange(
            cohort: "frail", practiceCode: "P1", pseudonym: "p1", status: "contacted", note: "rang, 'no' answer",
            changedBy: "cli", changedAt: Date(timeIntervalSince1970: 1_800_000_000.25))
        try a.addWorklistChange(change)
        #expect(try b.worklistChanges(cohort: "frail", practiceCode: "P1") == [change])
        #expect(try b.sharing() == .default)
        var sharing = SharingSettings.default
        sharing.allowed[.socialCare] = [.planning]
        try a.setSharing(sharing)
        #expect(try b.sharing() == sharing)
        let installation = try a.installation()
        #expect(installation.count == 36)
        #expect(try b.installation() == installation)
    }

    /// Entries appended at once by two stores (two processes) from several threads each form one
    /// linear chain: every append reads the head and writes after it, one writer at a time.
    @Test(arguments: TestStore.available) func concurrentAppendsKeepOneChain(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try stores(kind)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let store = worker % 2 == 0 ? a : b
            for i in 0..<25 {
                _ = try? store.audit(
                    user: "u\(worker)", role: "analyst", purpose: "planning", action: "view", outcome: "allowed",
                    detail: "{\"i\":\(i)}")
            }
        }
        let entries = try a.auditEntries()
        #expect(entries.count == 200)
        #expect(entries.map(\.sequence) == Array(1...200))
        #expect(try b.verifyAudit().0 == .intact(entries: 200, head: entries.last!.hash))
    }

    /// A statement a connection has seen before runs prepared there: the same answers, a null
    /// in place of a value makes a statement of its own, a refusal of its values leaves it
    /// prepared and the connection in use, a table replaced under it is read anew, one whose
    /// rows changed shape fails once in a transaction and is retried on its own, at most 128 are
    /// kept, and a server that loses one is no longer given any.
    @Test(.enabled(if: PostgresTesting.url != nil)) func statementsRunPreparedOnceSeen() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try #require(try stores(.postgres).0.database as? PostgreSQLDatabase)
        let create = "CREATE TABLE probe (id int4 PRIMARY KEY, label text, score float8)"
        let insert = "INSERT INTO probe (id, label, score) VALUES (?, ?, ?)"
        let select = "SELECT label, score FROM probe WHERE id = ?"
        func row(_ i: Int) -> [SQLValue] { [.integer(Int64(i)), i == 4 ? .null : .text("n\(i)"), .real(Double(i) / 2)] }
        /// The statements prepared on the connection the next call gets, and its server process.
        func prepared() throws -> (statements: [String], process: Int) {
            try db.read { db in
                (
                    try db.rows("SELECT statement FROM pg_prepared_statements").map { try $0.string(0) },
                    try db.row("SELECT pg_backend_pid()")?.int(0) ?? 0
                )
            }
        }
        try db.write { try $0.execute(create, []) }
        // One thread: the pool hands back the connection used last, so each call meets the one before.
        for i in 1...8 { try db.write { try $0.execute(insert, row(i)) } }
        for i in [4, 4] {
            try db.write { try $0.execute("UPDATE probe SET label = ? WHERE id = ?", [.null, .integer(Int64(i))]) }
        }
        let answers = try db.read { db in try (1...8).map { try db.rows(select, [.integer(Int64($0))]).first?.values } }
        #expect(answers == (1...8).map { Array(row($0).dropFirst()) })
        let (statements, process) = try prepared()
        #expect(statements.contains("SELECT label, score FROM probe WHERE id = $1::int8"))
        #expect(statements.contains("INSERT INTO probe (id, label, score) VALUES ($1::int8, $2::text, $3::float8)"))
        #expect(statements.contains("UPDATE probe SET label = $1 WHERE id = $2::int8"))
        // Refused for their values, in a transaction and on their own: still prepared, and the
        // connection still the same server process.
        for _ in 0..<2 {
            let refused = #expect(throws: PostgresStoreError.self) { try db.write { try $0.execute(insert, row(1)) } }
            #expect(refused?.description.contains("duplicate key value") == true)
            #expect(refused?.description.contains("SQLSTATE 23505") == true)
            let alone = #expect(throws: PostgresStoreError.self) { try db.change(insert, row(1)) }
            #expect(alone?.description.contains("SQLSTATE 23505") == true)
        }
        let after = try prepared()
        #expect(Set(after.statements).isSuperset(of: statements) && after.process == process)
        try db.write { try $0.execute(insert, row(9)) }
        try db.write { db in
            try db.execute("DROP TABLE probe", [])
            try db.execute(create, [])
            try db.execute(insert, [.integer(1), .text("new"), .real(1)])
        }
        #expect(try db.read { try $0.rows(select, [.integer(1)]) }.map(\.values) == [[.text("new"), .real(1)]])
        let whole = "SELECT * FROM probe WHERE id = ?"
        for _ in 0..<2 { _ = try db.read { try $0.rows(whole, [.integer(1)]) } }
        try db.write { try $0.execute("ALTER TABLE probe ADD COLUMN note text", []) }
        let changed = #expect(throws: PostgresStoreError.self) { try db.read { try $0.rows(whole, [.integer(1)]) } }
        #expect(changed?.description.contains("SQLSTATE 0A000") == true)
        #expect(
            try db.read { try $0.rows(whole, [.integer(1)]) }.map(\.values) == [[.integer(1), .text("new"), .real(1), .null]])
        for _ in 0..<2 { _ = try db.read { try $0.rows(whole, [.integer(1)]) } }
        try db.write { try $0.execute("ALTER TABLE probe ADD COLUMN more text", []) }
        #expect(try db.select(whole, [.integer(1)]).map(\.values) == [[.integer(1), .text("new"), .real(1), .null, .null]])
        // The least recently used go past 128.
        try db.read { db in
            for k in 0..<140 {
                for _ in 0..<2 { _ = try db.rows("SELECT id FROM probe WHERE id = ? + \(k)", [.integer(1)]) }
            }
        }
        #expect(try prepared().statements.count == PooledConnection.capacity)
        // A server that lost them (a pooler that does not keep them): retried, and no more prepared.
        for _ in 0..<2 { _ = try db.select(select, [.integer(1)]) }
        try db.write { try $0.execute("DEALLOCATE ALL", []) }
        #expect(try db.select(select, [.integer(1)]).map(\.values) == [[.text("new"), .real(1)]])
        #expect(!db.preparesStatements)
        for _ in 0..<3 { _ = try db.select(select, [.integer(1)]) }
        #expect(try prepared().statements.isEmpty)
    }

    /// PostgreSQL aborts a transaction at its first failed statement: a write whose body went on
    /// past one is reported as failed, never as committed.
    @Test(.enabled(if: PostgresTesting.url != nil)) func anAbortedTransactionIsNotReportedCommitted() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, _) = try stores(.postgres)
        #expect(throws: (any Error).self) {
            try a.database.write { db in
                try db.execute("INSERT INTO setting (name, value) VALUES ('kept', 'no')")
                _ = try? db.execute("SELECT * FROM nowhere")
            }
        }
        #expect(try a.database.read { try $0.rows("SELECT value FROM setting WHERE name = 'kept'") }.isEmpty)
    }
}

/// Audit entries of requests arriving together: each request gets its own entry, in batches of
/// at most 256; a batch that fails is appended again entry by entry, so only the entry at fault
/// fails its request.
@Test func auditEntriesAreGroupedAndAFailureStaysWithItsEntry() throws {
    struct Refused: Error {}
    /// What the threads saw, under a lock.
    final class Seen: @unchecked Sendable {
        let lock = NSLock()
        var batches: [[String]] = [], results: [Int: Result<AuditEntry, any Error>] = [:]
    }
    let queue = AuditQueue(), seen = Seen()
    @Sendable func write(_ batch: [AuditQueue.Request]) throws -> [AuditEntry] {
        usleep(1000)
        guard !batch.contains(where: { $0.detail == "bad" }) else { throw Refused() }
        seen.lock.withLock { seen.batches.append(batch.map(\.detail)) }
        return batch.map {
            AuditEntry(
                sequence: 0, at: "", user: $0.user, role: "", purpose: "", action: "", outcome: "", detail: $0.detail,
                previousHash: "", hash: "")
        }
    }
    let group = DispatchGroup()
    for t in 0..<64 {
        group.enter()
        Thread {
            for k in 0..<10 {
                let i = t * 10 + k
                let request = AuditQueue.Request(
                    user: "u\(i)", role: "r", purpose: "p", action: "a", outcome: "o", detail: i == 300 ? "bad" : "\(i)",
                    at: Date())
                let result = Result { try queue.append(request, write) }
                seen.lock.withLock { seen.results[i] = result }
            }
            group.leave()
        }.start()
    }
    group.wait()
    let (batches, results) = seen.lock.withLock { (seen.batches, seen.results) }
    #expect(results.count == 640)
    for (i, result) in results {
        switch result {
        case .success(let entry): #expect(i != 300 && entry.user == "u\(i)")
        case .failure: #expect(i == 300)
        }
    }
    let written = batches.flatMap { $0 }
    #expect(written.count == 639 && Set(written).count == 639 && !written.contains("bad"))
    #expect(batches.allSatisfy { $0.count <= 256 } && batches.contains { $0.count > 1 }, "\(batches.map(\.count))")
}
