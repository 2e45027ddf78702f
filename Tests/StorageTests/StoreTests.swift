import Foundation
import Governance
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite struct StoreTests {
    func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        return url
    }

    /// Every request writes an audit entry, so a long read of the store (a whole check of the
    /// audit log, a page of the vault) must hold up no write: reads and the writer run side by side.
    @Test(arguments: TestStore.available) func aLongReadHoldsUpNoWrite(_ kind: TestStore) throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try kind.prepare(dir)
        let store = try GovernanceStore(directory: dir, key: PlatformKey.ephemeral())
        try store.audit(user: "a", role: "analyst", purpose: "planning", action: "view", outcome: "allowed", detail: "{}")
        let written = DispatchSemaphore(value: 0)
        try store.database.read { _ in
            DispatchQueue.global().async {
                _ = try? store.audit(
                    user: "b", role: "analyst", purpose: "planning", action: "view", outcome: "allowed", detail: "{}")
                written.signal()
            }
            // A single connection would make the write wait for this read to end: never, here.
            #expect(written.wait(timeout: .now() + 30) == .success)
        }
        #expect(try store.auditEntries().map(\.user) == ["a", "b"])
    }

    @Test(arguments: TestStore.available) func keepsRunsAndTheirResults(_ kind: TestStore) throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try kind.prepare(dir)
        let store = try RunStore(directory: dir)
        var run = RunRecord(startedAt: Date(), asOf: "2025-04-01", inputFolder: "in", outputFolder: "out", status: "running")
        let id = try store.begin(run)
        run.id = id
        run.status = "succeeded"
        run.registeredPeople = 42
        try store.update(run)
        try store.save(["a": 1, "b": 2], named: "counts", run: id)
        // Reopening runs the migrations again without harm.
        let reopened = try RunStore(directory: dir)
        let runs = try reopened.runs()
        #expect(runs.count == 1)
        #expect(runs[0].status == "succeeded")
        #expect(runs[0].registeredPeople == 42 && runs[0].finishedAt == nil && runs[0].asOf == "2025-04-01")
        // Dates come back to the millisecond, as they went in.
        #expect(abs(runs[0].startedAt.timeIntervalSince(run.startedAt)) < 0.001)
        #expect(try reopened.result([String: Int].self, named: "counts", run: id) == ["a": 1, "b": 2])
        #expect(try reopened.result([String: Int].self, named: "missing", run: id) == nil)
        // A run left running is marked interrupted; a result saved again replaces the first.
        #expect(try reopened.markInterrupted(at: Date()).isEmpty)
        run.status = "running"
        let second = try reopened.begin(run)
        #expect(second > id)
        #expect(try reopened.markInterrupted(at: Date()) == [second])
        #expect(try reopened.runs().map(\.status) == ["interrupted", "succeeded"])
        try reopened.save(["a": 3], named: "counts", run: id)
        try reopened.save(["a": 4], named: "counts", run: second)
        #expect(try reopened.succeededResults([String: Int].self, named: "counts").map(\.value) == [["a": 3]])
    }

    @Test func vaultHoldsIdentitiesApartFromTheStore() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try IdentityVault(directory: dir.appendingPathComponent("vault"))
        try vault.replaceIdentities([VaultTests.entry("abc")])
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("vault/identity.sqlite").path))
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("vault").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }
}

/// The identity vault, one body for both databases: identities staged beside the current ones and
/// made current, linkage state and the review queue replaced whole, judgements, quarantined rows.
@Suite struct VaultTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString)")

    static func entry(_ pseudonym: String, family: String = "Lovelace", nhsNumber: String? = "9434765919") -> VaultEntry {
        VaultEntry(
            pseudonym: pseudonym, nhsNumber: nhsNumber, givenName: "Ada", familyName: family, dateOfBirth: "1950-12-10",
            postcode: "LS14AP", practiceCode: "A00001", patientIds: "P-" + pseudonym)
    }

    func vault(_ kind: TestStore) throws -> IdentityVault {
        try kind.prepare(dir, .vault)
        return try IdentityVault(directory: dir)
    }

    @Test(arguments: TestStore.available) func identitiesAreReplacedByTheLatestRun(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try vault(kind)
        let first = (0..<700).map { Self.entry(String(format: "p%04d", $0)) }
        try vault.replaceIdentities(first)
        try vault.replaceIdentities(first)
        #expect(try vault.count() == 700)
        // Looked up in lists of several lengths, with people the vault does not know.
        let asked = (0..<650).map { String(format: "p%04d", $0 * 2) }
        let found = try vault.identities(of: asked)
        #expect(found.count == 350 && found.values.allSatisfy { $0 == Self.entry($0.pseudonym) })
        #expect(try vault.identity(of: "p0001") == Self.entry("p0001"))
        #expect(try vault.identity(of: "nobody") == nil && (try vault.identities(of: [])).isEmpty)

        // A run stages its people: until made current, the current ones answer; merged, both
        // runs' people are found (a changed name updated); pruned, only the new run's.
        try vault.stageIdentities([Self.entry("p0001", family: "Byron", nhsNumber: nil), Self.entry("new")])
        #expect(try vault.identity(of: "new") == nil && vault.count() == 700)
        try vault.mergeStaged()
        #expect(try vault.count() == 701 && vault.identity(of: "p0001")?.familyName == "Byron")
        #expect(try vault.identity(of: "p0001")?.nhsNumber == nil && vault.identity(of: "p0002") != nil)
        try vault.pruneToStaged()
        #expect(try vault.count() == 2 && vault.identities(of: ["p0001", "new", "p0002"]).keys.sorted() == ["new", "p0001"])
        // A run killed after staging changes nothing.
        try vault.stageIdentities([Self.entry("other")])
        try vault.dropStaged()
        try vault.mergeStaged()
        try vault.pruneToStaged()
        #expect(try vault.count() == 2 && vault.identity(of: "other") == nil)
    }

    /// A run's people, loaded into the vault, are planned with statistics at once: PostgreSQL
    /// knows how many rows the identities and the linkage state hold as soon as a run is current.
    @Test(.enabled(if: PostgresTesting.url != nil)) func aLoadedVaultHasItsStatistics() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try vault(.postgres)
        try vault.stageIdentities((0..<2_000).map { Self.entry(String(format: "p%05d", $0)) })
        try vault.mergeStaged()
        try vault.pruneToStaged()
        let rows = try vault.database.read { db in
            try db.row("SELECT reltuples::float8 FROM pg_class WHERE relname = 'identity'").map { try $0.double(0) }
        }
        #expect(rows == 2_000)
    }

    @Test(arguments: TestStore.available) func linkageStateAndReviewQueueAreReplacedWhole(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try vault(kind)
        #expect(try vault.linkage() == nil)
        var state = StoredLinkage(model: Data([1, 2, 3]), frequency: [["ADA": 3, "ÉMILE": 1], ["LOVELACE": 2], [:]])
        for i in 0..<250 {
            state.identity.append(Data((0..<16).map { UInt8(($0 * 7 + i) % 256) }))
            state.evidence.append(UInt64.max - UInt64(i))
            state.person.append(i % 3 == 0 ? nil : "p\(i)")
            state.probability.append(Double(i) / 250)
        }
        let side = ReviewPair.Side(
            nhsNumber: nil, givenName: "ADA", familyName: "LOVELACE", dateOfBirth: "1950-12-10", sex: "F", postcode: "LS14AP")
        let queue = (1...3).map { i in
            ReviewPair(
                id: Int64(i), runId: 7, identity: state.identity[i], source: "ae_attendances", recordId: "R\(i)", records: i,
                record: side,
                candidates: [
                    .init(
                        person: "p\(i)", probability: 0.5, practiceCode: "A00001", registration: side, levels: ["exact", "none"])
                ], linkedByNHSNumber: i == 2)
        }
        try vault.stageLinkage(state, newModel: true, queue: queue)
        // Staged, not yet current.
        #expect(try vault.linkage() == nil && vault.reviewPairs(offset: 0, limit: 10).total == 0)
        try vault.pruneToStaged()
        let read = try #require(try vault.linkage())
        #expect(read.model == state.model && read.frequency == state.frequency)
        let stored = Dictionary(uniqueKeysWithValues: read.identity.indices.map { (read.identity[$0], $0) })
        #expect(stored.count == 250)
        for i in state.identity.indices {
            let j = try #require(stored[state.identity[i]])
            #expect(read.evidence[j] == state.evidence[i] && read.person[j] == state.person[i])
            #expect(read.probability[j] == state.probability[i])
        }
        let (pairs, total) = try vault.reviewPairs(offset: 1, limit: 5)
        #expect(total == 3 && pairs == Array(queue.dropFirst()))
        #expect(try vault.reviewPair(id: 1) == queue[0])
        // A later run keeping the model replaces the decisions and the queue only.
        var next = StoredLinkage(model: Data([9]), frequency: [[:], [:], [:]])
        next.identity = [Data([0])]
        next.evidence = [1]
        next.person = ["p0"]
        next.probability = [1]
        try vault.stageLinkage(next, newModel: false, queue: [])
        try vault.pruneToStaged()
        let kept = try #require(try vault.linkage())
        #expect(kept.model == state.model && kept.frequency == state.frequency && kept.identity == [Data([0])])
        #expect(try vault.reviewPairs(offset: 0, limit: 10).total == 0)
    }

    @Test(arguments: TestStore.available) func judgementsAndQuarantinedRows(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try vault(kind)
        let record = Data([1, 2, 3, 4]), other = Data([5])
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        func decide(_ identity: Data, _ person: String, _ same: Bool, _ minutes: Double) throws {
            try vault.decide(
                ReviewDecision(identity: identity, person: person, same: same, reviewer: "rev", decidedAt: start + minutes * 60))
        }
        try decide(record, "a", true, 0)
        try decide(record, "b", false, 1)
        try decide(other, "a", false, 2)
        // Judged the same as b: no longer the same as a; a judgement of the same pair replaces it.
        try decide(record, "b", true, 3)
        try decide(other, "a", true, 4)
        let decisions = try vault.reviewDecisions(of: [record])
        #expect(decisions.map(\.person) == ["b"] && decisions[0].same && decisions[0].decidedAt == start + 180)
        #expect(try vault.reviewDecisions().count == 2 && vault.reviewDecisions(of: [other, Data([9])]).map(\.same) == [true])

        try vault.addQuarantined([
            VaultQuarantinedRow(runId: 1, file: "ae.csv", line: 2, rawLine: "x,\"y\""),
            VaultQuarantinedRow(runId: 2, file: "ae.csv", line: 3, rawLine: "z"),
            VaultQuarantinedRow(runId: 3, file: "ae.csv", line: 4, rawLine: "w"),
        ])
        try vault.keepQuarantined(runs: [1, 3])
        try vault.discard(run: 3)
        let left = try vault.database.read { db in
            try db.rows("SELECT runId, rawLine FROM quarantinedRow").map { (try $0.int64(0), try $0.string(1)) }
        }
        #expect(left.map(\.0) == [1] && left.map(\.1) == ["x,\"y\""])
    }

    /// The store and the vault each need a database of their own: one holding the other is
    /// refused, whichever came first.
    @Test(.enabled(if: PostgresTesting.url != nil)) func theStoreAndTheVaultNeedDatabasesOfTheirOwn() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try #require(try TestStore.postgres.newDatabase())
        _ = try StoreLocation.store.database(of: dir.appendingPathComponent("a"), given: first, environment: [:])
        let vault = #expect(throws: PostgresStoreError.self) {
            try StoreLocation.vault.database(of: dir.appendingPathComponent("b"), given: first, environment: [:])
        }
        #expect(vault?.description.contains("v1-store") == true)
        let second = try #require(try TestStore.postgres.newDatabase())
        _ = try StoreLocation.vault.database(of: dir.appendingPathComponent("c"), given: second, environment: [:])
        let store = #expect(throws: PostgresStoreError.self) {
            try StoreLocation.store.database(of: dir.appendingPathComponent("d"), given: second, environment: [:])
        }
        #expect(store?.description.contains("vault-v1") == true)
    }

    /// A store or vault database serves one data directory: a second directory given it is
    /// refused, and so is its own directory once the claim there is lost, until it is put back.
    @Test(.enabled(if: PostgresTesting.url != nil)) func aDatabaseServesOneDataDirectory() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        for location in [StoreLocation.store, .vault] {
            let url = try #require(try TestStore.postgres.newDatabase())
            let (mine, other) = (
                dir.appendingPathComponent("\(location.environmentVariable)-a"),
                dir.appendingPathComponent("\(location.environmentVariable)-b")
            )
            _ = try location.database(of: mine, given: url, environment: [:])
            let claim = mine.appendingPathComponent("store.claim")
            let claimed = try String(contentsOf: claim, encoding: .utf8)
            _ = try location.database(of: mine, environment: [:])
            let refused = #expect(throws: StoreLocationError.self) {
                try location.database(of: other, given: url, environment: [:])
            }
            // The message names the directory that claimed it, never the claim.
            #expect(refused?.description.contains("belongs to the data directory") == true)
            #expect(refused?.description.contains(mine.path) == true)
            #expect(refused?.description.contains(claimed.trimmingCharacters(in: .whitespacesAndNewlines)) == false)
            for record in ["store.url", "store.claim"] {
                #expect(!FileManager.default.fileExists(atPath: other.appendingPathComponent(record).path))
            }
            try FileManager.default.removeItem(at: claim)
            #expect(throws: StoreLocationError.self) { try location.database(of: mine, environment: [:]) }
            #expect(!FileManager.default.fileExists(atPath: claim.path))
            for wrong in ["00000000-0000-0000-0000-000000000000", "not a claim"] {
                try Data((wrong + "\n").utf8).write(to: claim)
                #expect(throws: StoreLocationError.self) { try location.database(of: mine, environment: [:]) }
            }
            // Put back (in capitals, as a UUID may be written), it is this directory's again.
            try Data(claimed.uppercased().utf8).write(to: claim)
            _ = try location.database(of: mine, environment: [:])
        }
    }

    /// The vault's password is its own: the store's `$PGPASSWORD` never reaches it, given or
    /// recorded, nor the vault's the store.
    @Test(.enabled(if: PostgresTesting.url != nil)) func eachDatabaseHasItsOwnPassword() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ["PGPASSWORD": "the store's", "PHM_VAULT_PGPASSWORD": "the vault's"]
        func password(_ location: StoreLocation, _ folder: String, given: String?, _ environment: [String: String]) throws
            -> String?
        {
            let database = try location.database(of: dir.appendingPathComponent(folder), given: given, environment: environment)
            return try #require(database as? PostgreSQLDatabase).url.password
        }
        #expect(try password(.vault, "a", given: try TestStore.postgres.newDatabase(), environment) == "the vault's")
        #expect(try password(.store, "b", given: try TestStore.postgres.newDatabase(), environment) == "the store's")
        #expect(
            try password(.vault, "c", given: try TestStore.postgres.newDatabase(), ["PGPASSWORD": "the store's"]) == nil)
        // Recorded, then reached by another process: the password of its environment, its own.
        let recorded = try #require(try TestStore.postgres.newDatabase())
        let folder = dir.appendingPathComponent("d")
        _ = try StoreLocation.vault.database(of: folder, given: recorded, environment: [:])
        #expect(try StoreLocation.vault.recorded(in: folder, environment: ["PGPASSWORD": "s"])?.password == nil)
        #expect(try StoreLocation.vault.recorded(in: folder, environment: environment)?.password == "the vault's")
        #expect(try StoreLocation.store.recorded(in: folder, environment: environment)?.password == "the store's")
    }

    /// IN lists of a few fixed lengths: every value asked once, the last list padded with its
    /// own last value.
    @Test func inListsCoverEveryValue() throws {
        for count in [0, 1, 2, 8, 9, 64, 65, 100, 128, 129, 511, 512, 513, 1100] {
            let values = (0..<count).map { SQLValue.integer(Int64($0)) }
            var seen: [SQLValue] = [], lengths: [Int] = []
            try IdentityVault.inLists(values) { list, arguments in
                #expect(list.filter { $0 == "?" }.count == arguments.count)
                lengths.append(arguments.count)
                seen += arguments
            }
            #expect(lengths.allSatisfy { IdentityVault.inListLengths.contains($0) }, "\(count): \(lengths)")
            // The last list is padded to the next length only: a worklist's page of 100 asks 128.
            let rest = count - 512 * max(0, lengths.count - 1)
            #expect(count == 0 || lengths.last == IdentityVault.inListLengths.first { $0 >= rest })
            #expect(lengths.dropLast().allSatisfy { $0 == 512 })
            #expect(Set(seen.map { "\($0)" }) == Set(values.map { "\($0)" }) && seen.prefix(count) == values[...])
        }
    }
}

/// What an evaluation of a worklist intervention reads: every practice's changes to one cohort's
/// worklists, oldest first, with the moment each was made.
@Test(arguments: TestStore.available) func statusChangesOfACohortAtEveryPractice(_ kind: TestStore) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    try kind.prepare(dir)
    let store = try GovernanceStore(directory: dir, key: PlatformKey.ephemeral())
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let changes = [("frail", "P1", "a", "contacted"), ("other", "P1", "a", "enrolled"), ("frail", "P2", "b", "enrolled")]
    for (i, (cohort, practice, pseudonym, status)) in changes.enumerated() {
        try store.addWorklistChange(
            WorklistChange(
                cohort: cohort, practiceCode: practice, pseudonym: pseudonym, status: status, note: "",
                changedBy: "gp", changedAt: start.addingTimeInterval(Double(i) * 86_400)))
    }
    let read = try store.statusChanges(cohort: "frail")
    #expect(read.map(\.pseudonym) == ["a", "b"] && read.map(\.status) == ["contacted", "enrolled"])
    #expect(read.map(\.at) == [start, start.addingTimeInterval(2 * 86_400)])
    #expect(try store.statusChanges(cohort: "none").isEmpty)
}

/// Checking the audit log from where the last check ended.
@Suite struct AuditCheckpointTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)")
    let key = PlatformKey.ephemeral()

    func store(_ kind: TestStore, entries: Int) throws -> GovernanceStore {
        try kind.prepare(dir)
        let store = try GovernanceStore(directory: dir, key: key)
        for i in 0..<entries { try append(store, i) }
        return store
    }

    func append(_ store: GovernanceStore, _ i: Int) throws {
        try store.audit(
            user: "u\(i % 3)", role: "analyst", purpose: "planning", action: "view_aggregates", outcome: "allowed",
            detail: #"{"page":"overview"}"#)
    }

    /// A statement of its own on the store, as someone editing it behind the platform's back.
    func tamper(_ store: GovernanceStore, _ sql: String) throws {
        try store.database.write { try $0.execute(sql) }
    }

    @Test(arguments: TestStore.available) func carriesOnFromTheLastCheckAndAgreesWithAWholeCheck(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 20)
        let (first, checkpoint) = try store.verifyAudit()
        guard case .intact(20, _) = first, let checkpoint else { Issue.record("\(first)"); return }
        for i in 20..<27 { try append(store, i) }
        let (next, advanced) = try store.verifyAudit(after: checkpoint)
        #expect(next == (try store.verifyAudit().0))
        guard case .intact(27, _) = next else { Issue.record("\(next)"); return }
        #expect(advanced!.row > checkpoint.row && advanced!.check.entries == 27)
        // Nothing new: nothing more to read, the same answer.
        #expect(try store.verifyAudit(after: advanced) == (next, advanced))
    }

    /// The latest entries a check read are the store's latest, as the audit page shows them:
    /// carried on from check to check, cut at the seal when older entries are archived, at most
    /// `AuditCheckpoint.kept`, and the same as a whole check's.
    @Test(arguments: TestStore.available) func theLatestEntriesReadAreTheStoresLatest(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 150)
        let kept = AuditCheckpoint.kept
        var checkpoint = try #require(try store.verifyAudit().1)
        #expect(checkpoint.latest == (try store.latestAuditEntries(kept)) && checkpoint.latest.count == 150)
        for i in 150..<260 { try append(store, i) }
        checkpoint = try #require(try store.verifyAudit(after: checkpoint).1)
        #expect(checkpoint.latest.map(\.sequence) == Array(61...260))
        #expect(checkpoint.latest == (try store.latestAuditEntries(kept)))
        let archives = dir.appendingPathComponent("archives")
        _ = try store.archiveAudit(through: 40, to: archives)
        checkpoint = try #require(try store.verifyAudit(after: checkpoint).1)
        #expect(checkpoint.latest.map(\.sequence) == Array(61...260))
        _ = try store.archiveAudit(through: 250, to: archives)
        for i in 260..<263 { try append(store, i) }
        checkpoint = try #require(try store.verifyAudit(after: checkpoint).1)
        #expect(checkpoint.latest.map(\.sequence) == Array(251...263))
        #expect(checkpoint.latest == (try store.latestAuditEntries(kept)))
        #expect(try store.verifyAudit().1?.latest == checkpoint.latest)
    }

    @Test(arguments: TestStore.available) func findsChangesAfterTheCheckpointAndAtIt(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 10)
        let checkpoint = try store.verifyAudit().1!
        for i in 10..<15 { try append(store, i) }
        try tamper(store, "UPDATE audit SET detail = '{}' WHERE sequence = 13")
        #expect(
            try store.verifyAudit(after: checkpoint)
                == (.broken(position: 13, sequence: 13, reason: "its contents were changed after it was written"), nil))
        try tamper(store, "DELETE FROM audit WHERE sequence = 10")
        let (lost, none) = try store.verifyAudit(after: checkpoint)
        #expect(none == nil)
        #expect(
            lost
                == .broken(
                    position: 10, sequence: 10,
                    reason: "the last entry of the previous check was removed or changed after it was checked"))
    }

    /// Rewriting an earlier entry with every hash after it changes the head the last check ended
    /// at, so carrying on finds it. An edit that leaves the hashes alone is found by a whole check
    /// only: the reason the platform checks the whole log at start and on demand.
    @Test(arguments: TestStore.available) func earlierEditsFoundByHeadOrByAWholeCheck(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 12)
        let checkpoint = try store.verifyAudit().1!
        try tamper(store, #"UPDATE audit SET "user" = 'someone else' WHERE sequence = 4"#)
        #expect(try store.verifyAudit(after: checkpoint).0 == .intact(entries: 12, head: checkpoint.check.head))
        #expect(
            try store.verifyAudit().0
                == .broken(position: 4, sequence: 4, reason: "its contents were changed after it was written"))
        // Re-chain from entry 4 to the end, as a forger covering the edit would: without the
        // platform key, with a key of their own, every check still finds it.
        let forger = PlatformKey.ephemeral()
        var entries = try store.auditEntries()
        for i in 3..<entries.count {
            if i > 3 { entries[i].previousHash = entries[i - 1].hash }
            entries[i].hash = entries[i].computedHash(forger)
            try tamper(
                store,
                "UPDATE audit SET previousHash = '\(entries[i].previousHash)', hash = '\(entries[i].hash)' WHERE sequence = \(i + 1)"
            )
        }
        #expect(
            try store.verifyAudit().0
                == .broken(position: 4, sequence: 4, reason: "its contents were changed after it was written"))
        #expect(try store.verifyAudit(after: checkpoint).0.description.contains("removed or changed after it was checked"))
    }

    /// Entries cut from the end leave a chain that checks; the signed anchor outside the data
    /// directory finds it. An altered anchor is reported, and the anchor never moves back.
    @Test(arguments: TestStore.available) func cuttingTheEndIsFoundByTheAnchor(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 40)
        let checkpoint = try #require(try store.verifyAudit().1)
        try store.anchor(checkpoint.check)
        #expect(try AuditAnchor.read(store.anchorFile, key: key)?.entries == 40)
        try tamper(store, "DELETE FROM audit WHERE sequence > 20")
        let (cut, none) = try store.verifyAudit()
        #expect(none == nil)
        #expect(cut.description.contains("ends at entry 20 but its anchor") && cut.description.contains("recorded 40"))
        // A run appending to the cut log does not move the anchor back over the cut.
        let appended = try store.audit(
            user: "pipeline", role: "system", purpose: "planning", action: "run", outcome: "allowed", detail: "{}")
        #expect(try store.advanceAnchor(to: appended) == false)
        #expect(try AuditAnchor.read(store.anchorFile, key: key)?.entries == 40)
        // An edited anchor file is refused.
        let text = try String(contentsOf: store.anchorFile, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "40 ", with: "21 ").utf8).write(to: store.anchorFile)
        #expect(try store.verifyAudit().0.description.contains("was altered"))
        // The anchor lives outside the data directory.
        #expect(!store.anchorFile.path.hasPrefix(dir.path))
    }

    /// One request cannot make one entry (or the log) grow without bound.
    @Test(arguments: TestStore.available) func longDetailIsKeptAsItsDigest(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try store(kind, entries: 0)
        let long = #"{"definition":""# + String(repeating: "x", count: 200_000) + #""}"#
        let entry = try store.audit(
            user: "ana", role: "analyst", purpose: "planning", action: "query_cohort", outcome: "allowed", detail: long)
        #expect(entry.detail.utf8.count < 2_000 && entry.detail.contains(#""truncated":true"#) && entry.detail.contains("200017"))
        #expect((try JSONSerialization.jsonObject(with: Data(entry.detail.utf8))) is [String: Any])
        guard case .intact(1, _) = try store.verifyAudit().0 else { Issue.record("not intact"); return }
    }
}

/// Archiving stretches of the audit log: the store keeps only what follows, every part checks.
@Suite struct AuditArchiveTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("archive-\(UUID().uuidString)")
    let key = PlatformKey.ephemeral()

    @Test(arguments: TestStore.available) func archivedStretchesStayVerifiable(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try kind.prepare(dir)
        let store = try GovernanceStore(directory: dir, key: key)
        func append(_ n: Int) throws {
            for i in 0..<n {
                let entry = try store.audit(
                    user: "u\(i)", role: "analyst", purpose: "planning", action: "view", outcome: "allowed", detail: "{}")
                try store.advanceAnchor(to: entry)
            }
        }
        try append(30)
        let recorded = try store.auditEntries()[19].hash
        let archives = dir.appendingPathComponent("archives")
        let first = try store.archiveAudit(through: 12, to: archives)
        try append(5)
        // A check that ended at the newest entry carries on after that entry is archived (as the
        // server's watch does), and runs still move the anchor.
        let checkpoint = try #require(try store.verifyAudit().1)
        let second = try store.archiveAudit(through: 35, to: archives)
        #expect(try store.verifyAudit(after: checkpoint).1 != nil)
        try append(5)
        #expect(try AuditAnchor.read(store.anchorFile, key: key)?.entries == 40)
        #expect(try store.auditEntries().map(\.sequence) == Array(36...40))
        // The store's log checks from the latest seal, anchor included.
        #expect(try store.verifyAudit().0 == .intact(entries: 40, head: try store.auditEntries().last!.hash))
        // Each archive checks against its seal; a changed archive does not.
        let firstData = try Data(contentsOf: archives.appendingPathComponent(first.archive))
        let secondData = try Data(contentsOf: archives.appendingPathComponent(second.archive))
        #expect(AuditArchive.verify(firstData, key: key, seal: first) == .intact(entries: 12, head: first.head))
        #expect(
            AuditArchive.verify(secondData, key: key, seal: second, previous: first) == .intact(entries: 35, head: second.head))
        // A head recorded mid-stretch is found in its archive, and only there.
        #expect(AuditArchive.holds(secondData, hash: recorded) && !AuditArchive.holds(firstData, hash: recorded))
        // Out of order: the second archive does not start where nothing was sealed before.
        #expect(AuditArchive.verify(secondData, key: key, seal: second).description.contains("previous seal"))
        var edited = String(decoding: secondData, as: UTF8.self)
        edited = edited.replacingOccurrences(of: "\"user\":\"u20\"", with: "\"user\":\"someone\"")
        #expect(AuditArchive.verify(Data(edited.utf8), key: key, seal: second).description.contains("SHA-256 differs"))
        #expect(AuditArchive.verify(Data(edited.utf8), key: key).description.contains("changed after it was written"))
        // Only what is in the log and after the last seal can be archived.
        #expect(throws: AuditArchiveError.self) { try store.archiveAudit(through: 30, to: archives) }
        #expect(throws: AuditArchiveError.self) { try store.archiveAudit(through: 99, to: archives) }
        // A forged seal (hiding entries) is found.
        try store.database.write { try $0.execute("UPDATE auditSeal SET through = 11 WHERE through = 12") }
        #expect(try store.verifyAudit().0.description.contains("seal of entries to 11 was altered"))
    }
}

/// Archives and anchors are files an administrator hands back: whatever they hold, checking them
/// answers, and never traps.
@Suite struct AuditFileInputTests {
    @Test func malformedArchivesAndAnchorsAreReportedNotTrapped() throws {
        let key = PlatformKey.ephemeral()
        var rng = SystemRandomNumberGenerator()
        let pieces = [
            "{", "}", "\n", "\"after\":", "0", "\"head\":\"", "\"sequence\":", "-1", "99999999999999999999", "[", "]", ",",
        ]
        for _ in 0..<500 {
            let text = (0..<Int.random(in: 0..<60, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            #expect(AuditArchive.verify(Data(text.utf8), key: key) != .intact(entries: 1, head: ""))
        }
        let deep = String(repeating: "[", count: 100_000) + "\n" + String(repeating: "{\"a\":", count: 50_000)
        #expect(AuditArchive.verify(Data(deep.utf8), key: key).description.contains("does not start"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("anchor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let anchor = folder.appendingPathComponent("a.head")
        for text in ["", "1", "-5 x y z", "1 2 3 4 5", String(repeating: "9", count: 100_000) + " h t m"] {
            try Data(text.utf8).write(to: anchor)
            #expect(throws: AuditAnchorError.self) { try AuditAnchor.read(anchor, key: key) }
        }
    }
}

/// Stores written before the SQL was shared with PostgreSQL keep reading, and what is written
/// now is what GRDB's records wrote: dates as UTC text to the millisecond, booleans as integers.
@Test func theEmbeddedStoreKeepsItsFormat() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("format-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try GovernanceStore(directory: dir, key: PlatformKey.ephemeral())
    try store.database.write { db in
        try db.execute(
            #"INSERT INTO "user" (name, role, practiceCode, passwordHash, active, createdAt) VALUES ('old', 'clinician', 'P1', 'h', 1, '2024-02-29 23:59:58.125')"#
        )
    }
    let old = try #require(try store.user("old"))
    #expect(old.role == .clinician && old.practiceCode == "P1" && old.active)
    #expect(old.createdAt == Date(timeIntervalSince1970: 1_709_251_198.125))
    try store.save(UserRecord(name: "new", role: .analyst, practiceCode: nil, passwordHash: "h", createdAt: old.createdAt))
    let written = try store.database.read { db in
        try db.row(#"SELECT createdAt, typeof(active), active, typeof(practiceCode) FROM "user" WHERE name = 'new'"#)
    }
    #expect(written?.values == [.text("2024-02-29 23:59:58.125"), .text("integer"), .integer(1), .text("null")])
}

/// The placeholders of the shared SQL become PostgreSQL's numbered ones outside quotes; SQL the
/// rewriting could misread is refused.
@Test func placeholdersAreNumberedOutsideQuotes() throws {
    let query = try PostgreSQLDatabase.Connection.statement(#"SELECT '?', "a?", ? FROM t WHERE x = ?"#, [.integer(1), .null])
    #expect(query.text == #"SELECT '?', "a?", $1::int8 FROM t WHERE x = $2"#)
    for sql in ["SELECT 1 -- ?", "SELECT /* ? */ 1", "SELECT $$?$$", "SELECT 'open"] {
        #expect(throws: PostgresStoreError.self) { try PostgreSQLDatabase.Connection.statement(sql, []) }
    }
    #expect(throws: PostgresStoreError.self) { try PostgreSQLDatabase.Connection.statement("SELECT ?", []) }
}
