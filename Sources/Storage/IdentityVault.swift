import Foundation
import GRDB
import PHMCore

/// One person's identity as the GP spine records it, keyed by pseudonym.
public struct VaultEntry: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "identity"
    public var pseudonym: String
    public var nhsNumber: String?
    public var givenName: String
    public var familyName: String
    public var dateOfBirth: String
    public var postcode: String
    public var practiceCode: String
    public var patientIds: String

    public init(
        pseudonym: String, nhsNumber: String?, givenName: String, familyName: String, dateOfBirth: String,
        postcode: String, practiceCode: String, patientIds: String
    ) {
        self.pseudonym = pseudonym
        self.nhsNumber = nhsNumber
        self.givenName = givenName
        self.familyName = familyName
        self.dateOfBirth = dateOfBirth
        self.postcode = postcode
        self.practiceCode = practiceCode
        self.patientIds = patientIds
    }

    /// Read by column, not through `Decodable`, which cost most of a worklist page's identity lookup.
    public init(row: Row) {
        pseudonym = row["pseudonym"]
        nhsNumber = row["nhsNumber"]
        givenName = row["givenName"]
        familyName = row["familyName"]
        dateOfBirth = row["dateOfBirth"]
        postcode = row["postcode"]
        practiceCode = row["practiceCode"]
        patientIds = row["patientIds"]
    }
}

/// A quarantined row of a file with identifying columns, kept whole only here.
public struct VaultQuarantinedRow: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "quarantinedRow"
    public var runId: Int64
    public var file: String
    public var line: Int
    public var rawLine: String

    public init(runId: Int64, file: String, line: Int, rawLine: String) {
        self.runId = runId
        self.file = file
        self.line = line
        self.rawLine = rawLine
    }
}

/// What linkage keeps from one run to the next (the pipeline's `LinkageState`), by column: the
/// model's parameters as JSON, its term frequencies, and each decision with the digest of the
/// record's identity (its bytes, as `ReviewPair` and `ReviewDecision` hold it), the digest of its
/// evidence, the person's pseudonym and the probability.
public struct StoredLinkage: Sendable {
    public var model: Data
    /// Given names, family names and postcodes: people on the spine with each value.
    public var frequency: [[String: Int]]
    public var identity: [Data] = []
    public var evidence: [UInt64] = []
    public var person: [String?] = []
    public var probability: [Double] = []

    public init(model: Data, frequency: [[String: Int]]) {
        self.model = model
        self.frequency = frequency
    }
}

/// A care record identity the match weights could not decide, beside its best people, as a
/// reviewer judges it (`Session.linkageReview`). One run's queue, numbered from 1, likeliest
/// first.
public struct ReviewPair: Sendable, Codable, FetchableRecord, Equatable {
    public var id: Int64
    public var runId: Int64
    /// The digest of the record's identity (16 bytes), as linkage keys its decisions.
    public var identity: Data
    /// The file and id of the first record with this identity, and how many records have it.
    public var source: String
    public var recordId: String
    public var records: Int
    public var record: Side
    public var candidates: [Candidate]
    /// A record linked by NHS number whose other fields disagree strongly, beside the person it
    /// is linked to: "different" breaks the link.
    public var linkedByNHSNumber: Bool

    /// One side's identity, as compared (names and postcodes normalised).
    public struct Side: Sendable, Codable, Equatable {
        public var nhsNumber: String?
        public var givenName: String
        public var familyName: String
        public var dateOfBirth: String
        public var sex: String
        public var postcode: String
        public init(nhsNumber: String?, givenName: String, familyName: String, dateOfBirth: String, sex: String, postcode: String)
        {
            self.nhsNumber = nhsNumber
            self.givenName = givenName
            self.familyName = familyName
            self.dateOfBirth = dateOfBirth
            self.sex = sex
            self.postcode = postcode
        }
    }

    /// A person the record may be: their registration that scored highest, how each field
    /// agreed with the record (by level name, in `fields` order) and the match probability.
    public struct Candidate: Sendable, Codable, Equatable {
        public var person: String
        public var probability: Double
        public var practiceCode: String
        public var registration: Side
        public var levels: [String]
        public init(person: String, probability: Double, practiceCode: String, registration: Side, levels: [String]) {
            self.person = person
            self.probability = probability
            self.practiceCode = practiceCode
            self.registration = registration
            self.levels = levels
        }
    }

    public init(
        id: Int64, runId: Int64, identity: Data, source: String, recordId: String, records: Int, record: Side,
        candidates: [Candidate], linkedByNHSNumber: Bool = false
    ) {
        self.linkedByNHSNumber = linkedByNHSNumber
        self.id = id
        self.runId = runId
        self.identity = identity
        self.source = source
        self.recordId = recordId
        self.records = records
        self.record = record
        self.candidates = candidates
    }
}

/// A reviewer's judgement: the record identity and the person are the same, or not. The latest
/// judgement of a pair stands; every run applies them (`ProbabilisticLinker`).
public struct ReviewDecision: Sendable, Codable, FetchableRecord, PersistableRecord, Equatable {
    public static let databaseTableName = "reviewDecision"
    public var identity: Data
    public var person: String
    public var same: Bool
    public var reviewer: String
    public var decidedAt: Date

    public init(identity: Data, person: String, same: Bool, reviewer: String, decidedAt: Date) {
        self.identity = identity
        self.person = person
        self.same = same
        self.reviewer = reviewer
        self.decidedAt = decidedAt
    }
}

/// The identity vault: the only place names, dates of birth, postcodes and NHS numbers are kept.
///
/// A separate database file (`vault/identity.sqlite`) so it can be held on restricted storage
/// and excluded from analytic copies of the data directory. Only re-identification for direct
/// care reads it.
public final class IdentityVault: Sendable {
    let database: DatabasePool

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var configuration = Configuration()
        // A run writes the vault while the server reads it: a locked file is waited for.
        configuration.busyMode = .timeout(10)
        // Re-identifying a page of a worklist looks up people scattered over the file: mapped,
        // those reads come from memory rather than a system call per page.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA mmap_size = 1073741824") }
        // A pool: worklists re-identify their pages side by side, each read on a snapshot.
        database = try DatabasePool(
            path: try ownerOnlyFile(directory.appendingPathComponent("identity.sqlite")).path, configuration: configuration)
        try IdentityVault.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-identity") { db in
            try db.create(table: "identity") { t in
                t.primaryKey("pseudonym", .text)
                t.column("nhsNumber", .text)
                t.column("givenName", .text).notNull()
                t.column("familyName", .text).notNull()
                t.column("dateOfBirth", .text).notNull()
                t.column("postcode", .text).notNull()
                t.column("practiceCode", .text).notNull()
                t.column("patientIds", .text).notNull()
            }
            try db.create(table: "quarantinedRow") { t in
                t.column("runId", .integer).notNull()
                t.column("file", .text).notNull()
                t.column("line", .integer).notNull()
                t.column("rawLine", .text).notNull()
            }
        }
        // Names, postcodes and the decisions about them are identifying: kept here, not in the store.
        migrator.registerMigration("v2-linkage-state") { db in
            try db.execute(
                sql: """
                    CREATE TABLE linkModel (id INTEGER PRIMARY KEY CHECK (id = 1), parameters BLOB NOT NULL);
                    CREATE TABLE linkFrequency (
                        field INTEGER NOT NULL, value TEXT NOT NULL, people INTEGER NOT NULL, PRIMARY KEY (field, value)
                    ) WITHOUT ROWID;
                    CREATE TABLE linkDecision (
                        identity BLOB PRIMARY KEY, evidence INTEGER NOT NULL, person TEXT, probability REAL NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3-clerical-review") { db in
            try db.execute(
                sql: """
                    CREATE TABLE reviewPair (
                        id INTEGER PRIMARY KEY, runId INTEGER NOT NULL, identity BLOB NOT NULL, source TEXT NOT NULL,
                        recordId TEXT NOT NULL, records INTEGER NOT NULL, record TEXT NOT NULL, candidates TEXT NOT NULL
                    );
                    CREATE TABLE reviewDecision (
                        identity BLOB NOT NULL, person TEXT NOT NULL, same BOOLEAN NOT NULL, reviewer TEXT NOT NULL,
                        decidedAt DATETIME NOT NULL, PRIMARY KEY (identity, person)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v4-disputed-nhs-number-links") { db in
            try db.execute(sql: "ALTER TABLE reviewPair ADD COLUMN linkedByNHSNumber BOOLEAN NOT NULL DEFAULT 0")
        }
        return migrator
    }

    /// The tables a run replaces whole when it is made current (`pruneToStaged`).
    static let linkageTables = ["linkModel", "linkFrequency", "linkDecision", "reviewPair"]

    /// `table + "Next"`, empty, with the table's own definition (its `CREATE TABLE` only: these
    /// tables have no index or trigger of their own).
    static func createStaged(_ db: Database, _ table: String) throws {
        guard
            let sql = try String.fetchOne(
                db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table])
        else { throw DatabaseError(message: "no table \(table)") }
        try db.execute(sql: "DROP TABLE IF EXISTS \(table)Next")
        // The columns and constraints as defined (the name is quoted once a table was renamed into place).
        guard let columns = sql.firstIndex(of: "(") else { throw DatabaseError(message: "table \(table) has no columns") }
        try db.execute(sql: "CREATE TABLE \(table)Next " + sql[columns...])
    }

    /// The linkage state the current run left, if any.
    public func linkage() throws -> StoredLinkage? {
        try database.read { db in
            guard let parameters = try Data.fetchOne(db, sql: "SELECT parameters FROM linkModel WHERE id = 1") else {
                return nil
            }
            var frequency = [[String: Int]](repeating: [:], count: 3)
            let rows = try Row.fetchCursor(db, sql: "SELECT field, value, people FROM linkFrequency")
            while let row = try rows.next() {
                let field: Int = row[0]
                guard frequency.indices.contains(field) else { continue }
                frequency[field][row[1]] = row[2]
            }
            var stored = StoredLinkage(model: parameters, frequency: frequency)
            let decisions = try Row.fetchCursor(db, sql: "SELECT identity, evidence, person, probability FROM linkDecision")
            while let row = try decisions.next() {
                stored.identity.append(row[0])
                stored.evidence.append(UInt64(bitPattern: row[1]))
                stored.person.append(row[2])
                stored.probability.append(row[3])
            }
            return stored
        }
    }

    /// Writes a run's linkage state and review queue beside the current ones, made current with
    /// its people (`pruneToStaged`). The model and its term frequencies are written only when
    /// `model` is new; else the current ones stay. Without a state (a run whose rules linked
    /// every record), only the queue is replaced.
    public func stageLinkage(_ state: StoredLinkage?, newModel: Bool, queue: [ReviewPair]) throws {
        try database.write { db in
            for table in Self.linkageTables { try db.execute(sql: "DROP TABLE IF EXISTS \(table)Next") }
            let staged = state == nil ? ["reviewPair"] : newModel ? Self.linkageTables : ["linkDecision", "reviewPair"]
            for table in staged { try Self.createStaged(db, table) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let insert = try db.makeStatement(
                sql: """
                    INSERT INTO reviewPairNext (id, runId, identity, source, recordId, records, record, candidates, linkedByNHSNumber)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for pair in queue {
                try insert.execute(arguments: [
                    pair.id, pair.runId, pair.identity, pair.source, pair.recordId, pair.records,
                    String(decoding: try encoder.encode(pair.record), as: UTF8.self),
                    String(decoding: try encoder.encode(pair.candidates), as: UTF8.self), pair.linkedByNHSNumber,
                ])
            }
            guard let state else { return }
            if newModel {
                try db.execute(sql: "INSERT INTO linkModelNext (id, parameters) VALUES (1, ?)", arguments: [state.model])
                let statement = try db.makeStatement(
                    sql: "INSERT INTO linkFrequencyNext (field, value, people) VALUES (?, ?, ?)")
                for (field, counts) in state.frequency.enumerated() {
                    for (value, people) in counts.sorted(by: { $0.key < $1.key }) {
                        try statement.execute(arguments: [field, value, people])
                    }
                }
            }
            // In identity order, so the B-tree is appended to.
            let order = state.identity.indices.sorted { state.identity[$0].lexicographicallyPrecedes(state.identity[$1]) }
            let statement = try db.makeStatement(
                sql: "INSERT INTO linkDecisionNext (identity, evidence, person, probability) VALUES (?, ?, ?, ?)")
            for i in order {
                try statement.execute(arguments: [
                    state.identity[i], Int64(bitPattern: state.evidence[i]), state.person[i], state.probability[i],
                ])
            }
        }
    }

    /// Replaces the vault's identities with those of the latest run: staged, merged and pruned
    /// at once. A run does the three apart, around making its frame current (`PipelineRun`).
    public func replaceIdentities(_ entries: [VaultEntry]) throws {
        try stageIdentities(entries)
        try mergeStaged()
        try pruneToStaged()
    }

    /// Writes a run's identities beside the current ones (table `identityNext`), in one
    /// transaction; the current ones are untouched, so a run killed meanwhile changes nothing.
    ///
    /// Rows go in pseudonym order so the primary-key B-tree is appended to rather than split at
    /// random, which makes a million rows several times faster to write.
    public func stageIdentities(_ entries: [VaultEntry]) throws {
        let entries = entries.sorted { $0.pseudonym < $1.pseudonym }
        try database.write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS identityNext")
            try db.execute(sql: "CREATE TABLE identityNext AS SELECT * FROM identity WHERE 0")
            let statement = try db.makeStatement(
                sql: """
                    INSERT INTO identityNext (pseudonym, nhsNumber, givenName, familyName, dateOfBirth, postcode, practiceCode, patientIds)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for e in entries {
                try statement.execute(arguments: [
                    e.pseudonym, e.nhsNumber, e.givenName, e.familyName, e.dateOfBirth, e.postcode, e.practiceCode,
                    e.patientIds,
                ])
            }
        }
    }

    /// Adds or updates the staged identities in the current ones, keeping everyone else: both the
    /// previous run's frame and the new one find their people while the run is made current.
    public func mergeStaged() throws {
        try database.write { db in
            guard try db.tableExists("identityNext") else { return }
            try db.execute(sql: "INSERT OR REPLACE INTO identity SELECT * FROM identityNext")
        }
    }

    /// Once the new run is current: keeps only its people, and drops the staged table.
    public func pruneToStaged() throws {
        try database.write { db in
            if try db.tableExists("identityNext") {
                try db.execute(sql: "DELETE FROM identity WHERE pseudonym NOT IN (SELECT pseudonym FROM identityNext)")
                try db.execute(sql: "DROP TABLE identityNext")
            }
            for table in Self.linkageTables where try db.tableExists(table + "Next") {
                try db.execute(sql: "DROP TABLE \(table)")
                try db.execute(sql: "ALTER TABLE \(table)Next RENAME TO \(table)")
            }
        }
    }

    /// Drops identities and linkage state a killed run staged and never made current.
    public func dropStaged() throws {
        try database.write { db in
            for table in ["identity"] + Self.linkageTables { try db.execute(sql: "DROP TABLE IF EXISTS \(table)Next") }
        }
    }

    public func addQuarantined(_ rows: [VaultQuarantinedRow]) throws {
        try database.write { db in
            for row in rows { try row.insert(db) }
        }
    }

    /// Keeps the raw quarantined rows of these runs only (retention: those whose person-level
    /// outputs are kept), and of no other run, finished, failed or killed.
    public func keepQuarantined(runs: [Int64]) throws {
        guard !runs.isEmpty else { return }
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM quarantinedRow WHERE runId NOT IN (\(runs.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(runs))
        }
    }

    /// Forgets what a run that did not complete staged and quarantined: its data is nobody's
    /// current record, so no identity of it stays.
    public func discard(run: Int64) throws {
        try dropStaged()
        try database.write { db in try db.execute(sql: "DELETE FROM quarantinedRow WHERE runId = ?", arguments: [run]) }
    }

    /// The identity behind a pseudonym, for direct care only.
    public func identity(of pseudonym: String) throws -> VaultEntry? {
        try identities(of: [pseudonym])[pseudonym]
    }

    /// The identities behind pseudonyms, read together, by pseudonym.
    public func identities(of pseudonyms: [String]) throws -> [String: VaultEntry] {
        try database.read { db in
            // One prepared statement for any number of people: the list goes in as one JSON array.
            let statement = try db.cachedStatement(
                sql: "SELECT * FROM identity WHERE pseudonym IN (SELECT value FROM json_each(?))")
            let list = try JSON.text(pseudonyms)
            var found: [String: VaultEntry] = [:]
            found.reserveCapacity(pseudonyms.count)
            let cursor = try VaultEntry.fetchCursor(statement, arguments: [list])
            while let entry = try cursor.next() { found[entry.pseudonym] = entry }
            return found
        }
    }

    // MARK: clerical review

    /// The current run's review queue from `offset`, and its length.
    public func reviewPairs(offset: Int, limit: Int) throws -> (pairs: [ReviewPair], total: Int) {
        try database.read { db in
            let pairs = try ReviewPair.fetchAll(
                db, sql: "SELECT * FROM reviewPair ORDER BY id LIMIT ? OFFSET ?", arguments: [max(0, limit), max(0, offset)])
            return (pairs, try Int.fetchOne(db, sql: "SELECT count(*) FROM reviewPair") ?? 0)
        }
    }

    public func reviewPair(id: Int64) throws -> ReviewPair? {
        try database.read { db in try ReviewPair.fetchOne(db, sql: "SELECT * FROM reviewPair WHERE id = ?", arguments: [id]) }
    }

    /// Every judgement, for a run to apply.
    public func reviewDecisions() throws -> [ReviewDecision] {
        try database.read { db in try ReviewDecision.fetchAll(db) }
    }

    /// The judgements of these record identities.
    public func reviewDecisions(of identities: [Data]) throws -> [ReviewDecision] {
        try database.read { db in
            try ReviewDecision.filter(identities.contains(Column("identity"))).order(Column("decidedAt")).fetchAll(db)
        }
    }

    /// Records a judgement, replacing any earlier one of the same pair; a record judged the same
    /// as one person is no longer judged the same as any other.
    public func decide(_ decision: ReviewDecision) throws {
        try database.write { db in
            if decision.same {
                try db.execute(
                    sql: "DELETE FROM reviewDecision WHERE identity = ? AND same AND person != ?",
                    arguments: [decision.identity, decision.person])
            }
            try decision.save(db)
        }
    }

    public func count() throws -> Int {
        try database.read { db in try VaultEntry.fetchCount(db) }
    }
}
