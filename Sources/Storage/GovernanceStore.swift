import Foundation
import GRDB
import Governance

/// A user of the platform.
public struct UserRecord: Sendable, Codable, Equatable {
    public var name: String
    public var role: Role
    /// The practice a clinician works for (ODS code); nil for other roles.
    public var practiceCode: String?
    public var passwordHash: String
    public var active: Bool
    public var createdAt: Date

    public init(
        name: String, role: Role, practiceCode: String?, passwordHash: String, active: Bool = true, createdAt: Date = Date()
    ) {
        self.name = name
        self.role = role
        self.practiceCode = practiceCode
        self.passwordHash = passwordHash
        self.active = active
        self.createdAt = createdAt
    }
}

/// One saved version of a cohort definition. Versions are never changed, only added.
public struct CohortRecord: Sendable, Codable, Equatable {
    public var name: String
    public var version: Int
    /// The canonical text form and the JSON form of the definition.
    public var text: String
    public var json: String
    public var description: String
    public var savedBy: String
    public var savedAt: Date
}

/// A change of one person's status on a practice's worklist. The latest change is the status.
public struct WorklistChange: Sendable, Codable, Equatable {
    public var cohort: String
    public var practiceCode: String
    public var pseudonym: String
    public var status: String
    public var note: String
    public var changedBy: String
    public var changedAt: Date

    public init(
        cohort: String, practiceCode: String, pseudonym: String, status: String, note: String, changedBy: String, changedAt: Date
    ) {
        self.cohort = cohort
        self.practiceCode = practiceCode
        self.pseudonym = pseudonym
        self.status = status
        self.note = note
        self.changedBy = changedBy
        self.changedAt = changedAt
    }
}

extension UserRecord {
    static let columns = "name, role, practiceCode, passwordHash, active, createdAt"

    init(row: SQLRow) throws {
        let role = try row.string(1)
        guard let known = Role(rawValue: role) else {
            throw SQLValueError(column: 1, expected: "a role", found: .text(role))
        }
        self.init(
            name: try row.string(0), role: known, practiceCode: try row.optional(2, row.string),
            passwordHash: try row.string(3), active: try row.bool(4), createdAt: try row.date(5))
    }
}

extension CohortRecord {
    static let columns = "name, version, text, json, description, savedBy, savedAt"

    init(row: SQLRow) throws {
        self.init(
            name: try row.string(0), version: try row.int(1), text: try row.string(2), json: try row.string(3),
            description: try row.string(4), savedBy: try row.string(5), savedAt: try row.date(6))
    }
}

extension WorklistChange {
    static let columns = "cohort, practiceCode, pseudonym, status, note, changedBy, changedAt"

    init(row: SQLRow) throws {
        self.init(
            cohort: try row.string(0), practiceCode: try row.string(1), pseudonym: try row.string(2),
            status: try row.string(3), note: try row.string(4), changedBy: try row.string(5), changedAt: try row.date(6))
    }
}

extension AuditEntry {
    /// The columns in the table's order, which `init(row:)` reads them in.
    static let columns = "sequence, at, \"user\", role, purpose, action, outcome, detail, previousHash, hash"

    /// Read by position: checking a long log and showing the audit page read many entries.
    init(row: SQLRow) throws {
        self.init(
            sequence: try row.int64(0), at: try row.string(1), user: try row.string(2), role: try row.string(3),
            purpose: try row.string(4), action: try row.string(5), outcome: try row.string(6), detail: try row.string(7),
            previousHash: try row.string(8), hash: try row.string(9))
    }
}

/// Why a stretch of the audit log was not archived.
public struct AuditArchiveError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A new version of a cohort refused: another user owns the name.
public struct CohortOwned: Error, Sendable {
    public var name: String
    public var owner: String
}

/// Where a check of the audit log ended: the stored row of the last entry checked, and the check.
public struct AuditCheckpoint: Sendable, Equatable {
    public var row: Int64
    public var check: AuditChainCheck
    /// The latest entries the checks read, oldest first: at most `kept`, and fewer only when
    /// they are all the log holds. They are what the audit page shows, so a view of the page
    /// reads from the store only the entries stored since the view before.
    public var latest: [AuditEntry] = []

    public static let kept = 200
}

/// Users, sessions, cohorts, worklist status, the audit log and data sharing settings, in the
/// same database as the runs.
public final class GovernanceStore: Sendable {
    public let database: any SQLDatabase
    /// Authenticates audit entries and the head anchor.
    let key: PlatformKey

    /// The signed head of the audit log, outside the data directory.
    public let anchorFile: URL

    /// Audit entries waiting to be appended by whichever request appends next.
    let auditQueue = AuditQueue()

    /// Opens the store in `directory` (a pool of connections to `phm.sqlite`).
    public convenience init(directory: URL, key: PlatformKey) throws {
        self.init(runs: try RunStore(directory: directory), directory: directory, key: key)
    }

    /// The governance tables of a store already open: the same database, not a second connection.
    public init(runs: RunStore, directory: URL, key: PlatformKey) {
        database = runs.database
        self.key = key
        anchorFile = AuditAnchor.file(for: directory, key: key)
    }

    /// The governance tables' schema changes, registered after the runs' first (`RunStore.migrator`).
    /// Never edit one after it has shipped; add another.
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-governance") { db in
            try db.create(table: "user") { t in
                t.primaryKey("name", .text)
                t.column("role", .text).notNull()
                t.column("practiceCode", .text)
                t.column("passwordHash", .text).notNull()
                t.column("active", .boolean).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "cohort") { t in
                t.column("name", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("text", .text).notNull()
                t.column("json", .text).notNull()
                t.column("description", .text).notNull()
                t.column("savedBy", .text).notNull()
                t.column("savedAt", .datetime).notNull()
                t.primaryKey(["name", "version"])
            }
            try db.create(table: "worklistChange") { t in
                t.column("cohort", .text).notNull()
                t.column("practiceCode", .text).notNull()
                t.column("pseudonym", .text).notNull()
                t.column("status", .text).notNull()
                t.column("note", .text).notNull()
                t.column("changedBy", .text).notNull()
                t.column("changedAt", .datetime).notNull()
            }
            try db.create(index: "worklistChangeByList", on: "worklistChange", columns: ["cohort", "practiceCode"])
            try db.create(table: "audit") { t in
                t.column("sequence", .integer).notNull()
                t.column("at", .text).notNull()
                t.column("user", .text).notNull()
                t.column("role", .text).notNull()
                t.column("purpose", .text).notNull()
                t.column("action", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("previousHash", .text).notNull()
                t.column("hash", .text).notNull()
            }
            try db.create(table: "setting") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
            }
        }
        // Each audit entry is chained to the one with the highest sequence: found by index, not a scan.
        migrator.registerMigration("v3-audit-sequence-index") { db in
            try db.create(index: "auditSequence", on: "audit", columns: ["sequence"])
        }
        // Stretches of the audit log moved out to archive files, each sealed by its last entry.
        migrator.registerMigration("v4-audit-seals") { db in
            try db.create(table: "auditSeal") { t in
                t.primaryKey("through", .integer)
                t.column("head", .text).notNull()
                t.column("archive", .text).notNull()
                t.column("archiveSHA256", .text).notNull()
                t.column("sealedAt", .text).notNull()
                t.column("mac", .text).notNull()
            }
        }
        // For each user, cohort and practice: the run their worklist was last opened on, and the
        // run before that, so a list can say who entered and left it since they last looked.
        migrator.registerMigration("v5-worklist-views") { db in
            try db.create(table: "worklistView") { t in
                t.column("user", .text).notNull()
                t.column("cohort", .text).notNull()
                t.column("practiceCode", .text).notNull()
                t.column("runId", .integer).notNull()
                t.column("previousRunId", .integer)
                t.primaryKey(["user", "cohort", "practiceCode"])
            }
        }
        // Sessions and failed sign-ins in the store, shared by every server process on the data
        // directory (`SessionStore.swift`). A session is found by a keyed digest of its token,
        // never the token itself.
        migrator.registerMigration("v6-shared-sessions") { db in
            try db.create(table: "session") { t in
                t.primaryKey("tokenDigest", .text)
                t.column("user", .text).notNull()
                t.column("purpose", .text).notNull()
                t.column("userDigest", .text).notNull()
                t.column("started", .double).notNull()
                t.column("expires", .double).notNull()
            }
            try db.create(index: "sessionExpires", on: "session", columns: ["expires"])
            try db.create(table: "signInAttempt") { t in
                t.column("key", .text).notNull()
                t.column("at", .double).notNull()
            }
            try db.create(index: "signInAttemptByKey", on: "signInAttempt", columns: ["key", "at"])
        }
    }

    /// Records that a user opened a cohort's worklist at a practice on a run, and returns the run
    /// they had looked at it on before this one (nil the first time).
    public func viewWorklist(user: String, cohort: String, practiceCode: String, run: Int64) throws -> Int64? {
        // One statement, which every worklist request makes: the run looked at last becomes the
        // one before, unless it is this run again, when the comparison stays with the run before it.
        let row = try database.change(
            """
            INSERT INTO worklistView ("user", cohort, practiceCode, runId, previousRunId) VALUES (?, ?, ?, ?, NULL)
            ON CONFLICT ("user", cohort, practiceCode) DO UPDATE SET
            previousRunId = \(Self.runBefore("excluded.runId")), runId = excluded.runId
            RETURNING previousRunId
            """, [.text(user), .text(cohort), .text(practiceCode), .integer(run)]
        ).first
        return try row?.optional(0, row!.int64)
    }

    /// The run `viewWorklist` on `run` would return, without recording the look.
    public func worklistRunBefore(user: String, cohort: String, practiceCode: String, run: Int64) throws -> Int64? {
        let row = try database.select(
            "SELECT \(Self.runBefore("?")) FROM worklistView WHERE \"user\" = ? AND cohort = ? AND practiceCode = ?",
            [.integer(run), .text(user), .text(cohort), .text(practiceCode)]
        ).first
        return try row?.optional(0, row!.int64)
    }

    /// The run a look on `run` compares with: the run looked at last, unless it is this run
    /// again, when the comparison stays with the run before it.
    static func runBefore(_ run: String) -> String {
        "CASE WHEN worklistView.runId = \(run) THEN worklistView.previousRunId ELSE worklistView.runId END"
    }

    /// Where a run wrote its outputs.
    public func outputFolder(ofRun id: Int64) throws -> String? {
        try database.read { db in try db.row("SELECT outputFolder FROM run WHERE id = ?", id).map { try $0.string(0) } }
    }

    // MARK: users

    public func user(_ name: String) throws -> UserRecord? {
        try database.select("SELECT \(UserRecord.columns) FROM \"user\" WHERE name = ?", [.text(name)]).first
            .map(UserRecord.init(row:))
    }

    public func users() throws -> [UserRecord] {
        try database.read { db in
            try db.rows("SELECT \(UserRecord.columns) FROM \"user\"").map(UserRecord.init(row:))
        }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Saves a user. A changed user's sessions end in the same transaction: a user deactivated
    /// and then made active again does not get the old sessions back.
    public func save(_ user: UserRecord) throws {
        try database.write { db in
            let before = try db.row("SELECT \(UserRecord.columns) FROM \"user\" WHERE name = ?", user.name)
                .map(UserRecord.init(row:))
            if let before, before != user {
                try db.execute("DELETE FROM session WHERE \"user\" = ?", user.name)
            }
            try db.execute(
                """
                INSERT INTO "user" (\(UserRecord.columns)) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET role = excluded.role, practiceCode = excluded.practiceCode,
                passwordHash = excluded.passwordHash, active = excluded.active, createdAt = excluded.createdAt
                """, user.name, user.role.rawValue, user.practiceCode, user.passwordHash, user.active, user.createdAt)
        }
    }

    // MARK: cohorts

    /// Saves a new version of a cohort (1 for a new name) and returns it. Only the cohort's
    /// owner, who saved its first version, adds versions: checked in the same transaction as the
    /// insert, so two users saving a new name at once cannot both own it.
    public func saveCohort(name: String, text: String, json: String, description: String, by user: String) throws
        -> CohortRecord
    {
        try database.write { db in
            let owner = try db.row("SELECT savedBy FROM cohort WHERE name = ? ORDER BY version LIMIT 1", name)
                .map { try $0.string(0) }
            if let owner, owner != user { throw CohortOwned(name: name, owner: owner) }
            let latest =
                try db.row("SELECT MAX(version) FROM cohort WHERE name = ?", name).flatMap { try $0.optional(0, $0.int) } ?? 0
            let record = CohortRecord(
                name: name, version: latest + 1, text: text, json: json, description: description, savedBy: user,
                savedAt: Date())
            try db.execute(
                "INSERT INTO cohort (\(CohortRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)", record.name, record.version,
                record.text, record.json, record.description, record.savedBy, record.savedAt)
            return record
        }
    }

    /// A cohort's versions, oldest first.
    public func cohortVersions(_ name: String) throws -> [CohortRecord] {
        try database.read { db in
            try db.rows("SELECT \(CohortRecord.columns) FROM cohort WHERE name = ? ORDER BY version", name)
                .map(CohortRecord.init(row:))
        }
    }

    /// One version of a cohort.
    public func cohort(_ name: String, version: Int) throws -> CohortRecord? {
        try database.select(
            "SELECT \(CohortRecord.columns) FROM cohort WHERE name = ? AND version = ?", [.text(name), .integer(Int64(version))]
        ).first.map(CohortRecord.init(row:))
    }

    /// A cohort's newest version.
    public func latestCohort(_ name: String) throws -> CohortRecord? {
        try database.select(
            "SELECT \(CohortRecord.columns) FROM cohort WHERE name = ? ORDER BY version DESC LIMIT 1", [.text(name)]
        ).first.map(CohortRecord.init(row:))
    }

    /// The latest version of every cohort, by name.
    public func cohorts() throws -> [CohortRecord] {
        try database.read { db in
            try db.rows(
                """
                SELECT \(CohortRecord.columns) FROM cohort c
                WHERE c.version = (SELECT MAX(version) FROM cohort WHERE name = c.name)
                """
            ).map(CohortRecord.init(row:))
            // By bytes, as SQLite orders text: PostgreSQL would order by the database's collation.
        }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    // MARK: worklists

    public func addWorklistChange(_ change: WorklistChange) throws {
        try database.write { db in
            try db.execute(
                "INSERT INTO worklistChange (\(WorklistChange.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)", change.cohort,
                change.practiceCode, change.pseudonym, change.status, change.note, change.changedBy, change.changedAt)
        }
    }

    /// Every change to a practice's worklist for a cohort, oldest first.
    public func worklistChanges(cohort: String, practiceCode: String) throws -> [WorklistChange] {
        try database.select(
            "SELECT \(WorklistChange.columns) FROM worklistChange WHERE cohort = ? AND practiceCode = ? ORDER BY rowid",
            [.text(cohort), .text(practiceCode)]
        ).map(WorklistChange.init(row:))
    }

    /// Who was given which status when, on a cohort's worklists at every practice, oldest first:
    /// what an evaluation of a worklist intervention reads (`Exposures.StatusChange`).
    public func statusChanges(cohort: String) throws -> [(pseudonym: String, status: String, at: Date)] {
        try database.read { db in
            try db.rows("SELECT pseudonym, status, changedAt FROM worklistChange WHERE cohort = ? ORDER BY rowid", cohort)
                .map { (pseudonym: try $0.string(0), status: try $0.string(1), at: try $0.date(2)) }
        }
    }

    // MARK: audit

    /// Appends an entry chained to the last one, and returns once it is committed.
    ///
    /// Requests arriving together are appended together: whichever finds no append under way
    /// appends every entry waiting, in one transaction, in the order they arrived, and the
    /// others wait for it. Each append takes the writers' lock and a sync; one per request
    /// bounded the requests a second that a store on PostgreSQL could serve to one per lock
    /// round trip, whatever the number of server processes.
    @discardableResult
    public func audit(
        user: String, role: String, purpose: String, action: String, outcome: String, detail: String, at date: Date = Date()
    ) throws -> AuditEntry {
        let request = AuditQueue.Request(
            user: user, role: role, purpose: purpose, action: action, outcome: outcome, detail: detail, at: date)
        return try auditQueue.append(request) { batch in try self.append(batch) }
    }

    /// Appends entries in one transaction, each chained to the one before.
    func append(_ batch: [AuditQueue.Request]) throws -> [AuditEntry] {
        try database.write { db in
            let last = try db.row("SELECT \(AuditEntry.columns) FROM audit ORDER BY sequence DESC LIMIT 1")
                .map(AuditEntry.init(row:))
            // After an archive of every entry, the log goes on from the seal.
            var previous =
                try last
                ?? Self.latestSeal(db).map {
                    AuditEntry(
                        sequence: Int64($0.through), at: "", user: "", role: "", purpose: "", action: "", outcome: "", detail: "",
                        previousHash: "", hash: $0.head)
                }
            let entries = batch.map { r in
                let entry = AuditEntry.make(
                    after: previous, at: r.at, user: r.user, role: r.role, purpose: r.purpose, action: r.action,
                    outcome: r.outcome, detail: r.detail, key: key)
                previous = entry
                return entry
            }
            try db.insert(into: "audit", columns: AuditEntry.columns.components(separatedBy: ", "), count: entries.count) {
                let e = entries[$0]
                return [
                    .integer(e.sequence), .text(e.at), .text(e.user), .text(e.role), .text(e.purpose), .text(e.action),
                    .text(e.outcome), .text(e.detail), .text(e.previousHash), .text(e.hash),
                ]
            }
            return entries
        }
    }

    /// Entries are checked a page at a time, in stored order, on one snapshot: a long log is
    /// never held in memory whole.
    static let auditPage = 10_000

    /// Checks the log in stored order: from its first entry, or only the entries stored after
    /// `checkpoint`, once the entry that check ended at is found still in place and unchanged.
    /// Then the signed anchor must still be in the log: a log cut short, or an anchored entry
    /// replaced, is broken however well the rest chains. Returns where this check ended, to
    /// carry on from next time; nil once the log is broken.
    public func verifyAudit(after checkpoint: AuditCheckpoint? = nil) throws -> (AuditVerification, AuditCheckpoint?) {
        let anchor: AuditAnchor?
        do { anchor = try AuditAnchor.read(anchorFile, key: key) } catch {
            return (.broken(position: 0, sequence: 0, reason: "\(error)"), nil)
        }
        return try database.read { db in
            // A log whose older stretches were archived starts after its latest seal; every seal
            // must be authentic, each after the one before.
            let seals = try Self.seals(db)
            for (i, seal) in seals.enumerated() where !seal.isAuthentic(key) || (i > 0 && seal.through <= seals[i - 1].through) {
                return (.broken(position: 0, sequence: 0, reason: "the seal of entries to \(seal.through) was altered"), nil)
            }
            let seal = seals.last
            // A check that ended inside a stretch archived since starts again from the seal.
            let checkpoint = checkpoint.flatMap { c in seal.map { c.check.entries <= $0.through } == true ? nil : c }
            var check = checkpoint?.check ?? seal.map { AuditChainCheck(after: $0.through, head: $0.head) } ?? AuditChainCheck()
            var row = checkpoint?.row ?? 0
            var latest = (checkpoint?.latest ?? []).filter { $0.sequence > Int64(seal?.through ?? 0) }
            if let checkpoint, checkpoint.row > 0 {
                let last = try db.row("SELECT \(AuditEntry.columns) FROM audit WHERE rowid = ?", checkpoint.row)
                    .map(AuditEntry.init(row:))
                guard let last, last.hash == checkpoint.check.head, last.computedHash(key) == last.hash else {
                    check.lostHead()
                    return (check.result, nil)
                }
            }
            while true {
                let page = try db.rows(
                    "SELECT \(AuditEntry.columns), rowid FROM audit WHERE rowid > ? ORDER BY rowid LIMIT ?", row, Self.auditPage)
                for (i, next) in page.enumerated() {
                    let entry = try AuditEntry(row: next)
                    guard check.add(entry, key: key) else { return (check.result, nil) }
                    row = try next.int64(10)
                    if i >= page.count - AuditCheckpoint.kept { latest.append(entry) }
                }
                latest = Array(latest.suffix(AuditCheckpoint.kept))
                if page.count < Self.auditPage { break }
            }
            if let anchor, anchor.entries > (seal?.through ?? 0) || anchor.entries == seal?.through {
                if anchor.entries > check.entries {
                    let reason =
                        "the log ends at entry \(check.entries) but its anchor written at \(anchor.writtenAt) recorded \(anchor.entries): entries were cut from the end"
                    return (.broken(position: check.entries + 1, sequence: Int64(anchor.entries), reason: reason), nil)
                }
                let anchored =
                    anchor.entries == seal?.through
                    ? seal?.head
                    : try db.row("SELECT hash FROM audit WHERE sequence = ?", anchor.entries).map { try $0.string(0) }
                guard anchored == anchor.head else {
                    let reason = "entry \(anchor.entries) is not the one anchored at \(anchor.writtenAt)"
                    return (.broken(position: anchor.entries, sequence: Int64(anchor.entries), reason: reason), nil)
                }
            }
            return (check.result, AuditCheckpoint(row: row, check: check, latest: latest))
        }
    }

    static func seals(_ db: any SQLConnection) throws -> [AuditSeal] {
        try db.rows("SELECT through, head, archive, archiveSHA256, sealedAt, mac FROM auditSeal ORDER BY through").map {
            AuditSeal(
                through: try $0.int(0), head: try $0.string(1), archive: try $0.string(2), archiveSHA256: try $0.string(3),
                sealedAt: try $0.string(4), mac: try $0.string(5))
        }
    }

    static func latestSeal(_ db: any SQLConnection) throws -> AuditSeal? { try seals(db).last }

    /// The seals of archived stretches, oldest first.
    public func auditSeals() throws -> [AuditSeal] { try database.read { db in try Self.seals(db) } }

    /// Moves the entries up to `through` out of the store into an archive file in `folder`, once
    /// the whole log is found intact, and seals them: the log in the store then starts after
    /// them, chained to the sealed head, and the archive can be checked on its own against the
    /// seal. So the log need not grow without end and every stretch stays verifiable.
    public func archiveAudit(through: Int, to folder: URL, at date: Date = Date()) throws -> AuditSeal {
        let (verification, checkpoint) = try verifyAudit()
        guard case .intact(let entries, _) = verification, checkpoint != nil else {
            throw AuditArchiveError("the log is not intact: \(verification)")
        }
        let after = try database.read { db in try Self.latestSeal(db) }
        let from = (after?.through ?? 0) + 1
        guard through >= from, through <= entries else {
            throw AuditArchiveError("entries \(from) to \(entries) can be archived; \(through) is not among them")
        }
        let stretch = try database.read { db in
            try db.rows("SELECT \(AuditEntry.columns) FROM audit WHERE sequence <= ? ORDER BY rowid", through)
                .map(AuditEntry.init(row:))
        }
        guard stretch.count == through - from + 1, let last = stretch.last, last.sequence == Int64(through) else {
            throw AuditArchiveError("entries \(from) to \(through) are not all in the log")
        }
        let data = try AuditArchive.lines(after: from - 1, head: after?.head ?? AuditEntry.genesis, entries: stretch)
        let name = "audit-\(from)-\(through).jsonl"
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = folder.appendingPathComponent(name)
        guard !FileManager.default.fileExists(atPath: file.path) else { throw AuditArchiveError("\(file.path) exists") }
        let draft = folder.appendingPathComponent("." + name + ".partial")
        // On disk (synced) before the entries leave the store.
        guard FileManager.default.createFile(atPath: draft.path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw AuditArchiveError("\(file.path) cannot be written") }
        let handle = try FileHandle(forWritingTo: draft)
        try handle.synchronize()
        try handle.close()
        guard rename(draft.path, file.path) == 0 else { throw AuditArchiveError("\(file.path) cannot be written") }
        let seal = AuditSeal(
            through: through, head: last.hash, archive: name, archiveSHA256: AuditArchive.sha256(data),
            sealedAt: AuditEntry.timestamp(date), key: key)
        do {
            try database.write { db in
                // Another archive sealed meanwhile: this one's file would not start where its seal ends.
                guard try Self.latestSeal(db)?.through == after?.through else {
                    throw AuditArchiveError("another archive was sealed meanwhile: archive again")
                }
                try db.execute(
                    "INSERT INTO auditSeal (through, head, archive, archiveSHA256, sealedAt, mac) VALUES (?, ?, ?, ?, ?, ?)",
                    seal.through, seal.head, seal.archive, seal.archiveSHA256, seal.sealedAt, seal.mac)
                try db.execute("DELETE FROM audit WHERE sequence <= ?", through)
            }
        } catch {
            // Not sealed: the file must not stand as if it were.
            try? FileManager.default.removeItem(at: file)
            throw error
        }
        return seal
    }

    /// Moves the anchor to `entry` (just appended) when the anchored entry is still in the log as
    /// anchored; otherwise leaves the anchor, so a log cut short stays found. Returns whether it moved.
    @discardableResult
    public func advanceAnchor(to entry: AuditEntry) throws -> Bool {
        let anchor = try AuditAnchor.read(anchorFile, key: key)
        if let anchor, anchor.entries > 0 {
            let (anchored, seal) = try database.read { db in
                (
                    try db.row("SELECT hash FROM audit WHERE sequence = ?", anchor.entries).map { try $0.string(0) },
                    try Self.latestSeal(db)
                )
            }
            // An anchored entry since archived is covered by the seal (checked with the archive).
            let sealed = seal.map { anchor.entries < $0.through || (anchor.entries == $0.through && anchor.head == $0.head) }
            guard anchored == anchor.head || sealed == true, Int64(anchor.entries) <= entry.sequence else { return false }
        }
        try AuditAnchor(entries: Int(entry.sequence), head: entry.hash).write(to: anchorFile, key: key)
        return true
    }

    /// Anchors the head an intact check ended at, unless the anchor already records as much.
    public func anchor(_ check: AuditChainCheck) throws {
        if let anchor = try? AuditAnchor.read(anchorFile, key: key), anchor.entries >= check.entries { return }
        try AuditAnchor(entries: check.entries, head: check.head).write(to: anchorFile, key: key)
    }

    /// The newest entries, oldest first.
    public func latestAuditEntries(_ count: Int) throws -> [AuditEntry] {
        try database.read { db in
            try db.rows("SELECT \(AuditEntry.columns) FROM audit ORDER BY rowid DESC LIMIT ?", max(0, count)).reversed()
                .map(AuditEntry.init(row:))
        }
    }

    /// The log in stored order (by row, not by sequence, so reordering shows).
    public func auditEntries() throws -> [AuditEntry] {
        try database.read { db in try db.rows("SELECT \(AuditEntry.columns) FROM audit ORDER BY rowid").map(AuditEntry.init(row:))
        }
    }

    /// The data directory's own random identity, made on first use: what tells its runs from
    /// another data directory's where both could meet (a database the runs are published to).
    public func installation() throws -> String {
        try database.write { db in
            try db.execute(
                "INSERT INTO setting (name, value) VALUES ('installation', ?) ON CONFLICT (name) DO NOTHING",
                UUID().uuidString.lowercased())
            return try db.row("SELECT value FROM setting WHERE name = 'installation'").map { try $0.string(0) } ?? ""
        }
    }

    // MARK: sharing

    public func sharing() throws -> SharingSettings {
        try database.read { db in
            guard let json = try db.row("SELECT value FROM setting WHERE name = 'sharing'").map({ try $0.string(0) }) else {
                return .default
            }
            return try JSONDecoder().decode(SharingSettings.self, from: Data(json.utf8))
        }
    }

    public func setSharing(_ settings: SharingSettings) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(settings), as: UTF8.self)
        try database.write { db in
            try db.execute(
                "INSERT INTO setting (name, value) VALUES ('sharing', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                json)
        }
    }
}

/// Audit entries waiting to be appended (`GovernanceStore.audit`): a group commit, as a database
/// groups the syncs of transactions committing together.
final class AuditQueue: @unchecked Sendable {
    /// One entry to append, and once appended, the entry or why it was not.
    final class Request {
        let user: String, role: String, purpose: String, action: String, outcome: String, detail: String, at: Date
        var result: Result<AuditEntry, any Error>?

        init(user: String, role: String, purpose: String, action: String, outcome: String, detail: String, at: Date) {
            (self.user, self.role, self.purpose, self.action, self.outcome, self.detail, self.at) = (
                user, role, purpose, action, outcome, detail, at
            )
        }
    }

    /// Guards `waiting` and `appending`, and wakes the requests waiting when a batch is done.
    private let condition = NSCondition()
    private var waiting: [Request] = []
    private var appending = false
    /// At most this many entries to a transaction.
    static let batch = 256

    /// Queues `request` and waits until it is appended, by this caller or another.
    func append(_ request: Request, _ write: ([Request]) throws -> [AuditEntry]) throws -> AuditEntry {
        condition.lock()
        defer { condition.unlock() }
        waiting.append(request)
        while request.result == nil {
            guard !appending else {
                condition.wait()
                continue
            }
            appending = true
            let batch = Array(waiting.prefix(Self.batch))
            waiting.removeFirst(batch.count)
            condition.unlock()
            let results = Self.append(batch, write)
            condition.lock()
            for (r, result) in zip(batch, results) { r.result = result }
            appending = false
            condition.broadcast()
        }
        return try request.result!.get()
    }

    /// The batch in one transaction; failing that, each entry in one of its own, so an entry
    /// that cannot be appended (or a moment the store was out of reach) fails its own request,
    /// not every request that arrived with it.
    static func append(_ batch: [Request], _ write: ([Request]) throws -> [AuditEntry]) -> [Result<AuditEntry, any Error>] {
        func checked(_ requests: [Request]) throws -> [AuditEntry] {
            let entries = try write(requests)
            precondition(entries.count == requests.count, "\(entries.count) audit entries appended for \(requests.count)")
            return entries
        }
        do {
            return try checked(batch).map { .success($0) }
        } catch {
            guard batch.count > 1 else { return [.failure(error)] }
            return batch.map { r in Result { try checked([r])[0] } }
        }
    }
}
