import Foundation
import GRDB
import PHMCore

/// One person's identity as the GP spine records it, keyed by pseudonym.
public struct VaultEntry: Sendable, Codable, Equatable {
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

    static let columns = "pseudonym, nhsNumber, givenName, familyName, dateOfBirth, postcode, practiceCode, patientIds"

    /// Read by column (in `columns` order), not through `Decodable`, which cost most of a
    /// worklist page's identity lookup.
    init(row: SQLRow) throws {
        pseudonym = try row.string(0)
        nhsNumber = try row.optional(1, row.string)
        givenName = try row.string(2)
        familyName = try row.string(3)
        dateOfBirth = try row.string(4)
        postcode = try row.string(5)
        practiceCode = try row.string(6)
        patientIds = try row.string(7)
    }

    var values: [SQLValue] {
        [
            .text(pseudonym), nhsNumber.sqlValue, .text(givenName), .text(familyName), .text(dateOfBirth), .text(postcode),
            .text(practiceCode), .text(patientIds),
        ]
    }
}

/// A quarantined row of a file with identifying columns, kept whole only here.
public struct VaultQuarantinedRow: Sendable, Codable {
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
public struct ReviewPair: Sendable, Codable, Equatable {
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
public struct ReviewDecision: Sendable, Codable, Equatable {
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
/// Apart from the store: a database file of its own (`vault/identity.sqlite`), so it can be held
/// on restricted storage and excluded from analytic copies of the data directory, or a
/// PostgreSQL database of its own with its own credentials (`--vault`, `StoreLocation.vault`).
/// Only re-identification for direct care and clerical review read it.
public final class IdentityVault: Sendable {
    let database: any SQLDatabase

    /// The vault of a data directory's `vault` folder, where its location is recorded.
    public init(directory: URL) throws {
        database = try StoreLocation.vault.database(of: directory)
    }

    /// A locked file is waited for (a run writes the vault while the server reads it), and the
    /// file is mapped: re-identifying a page of a worklist looks up people scattered over it,
    /// read from memory rather than with a system call per page.
    static var configuration: Configuration {
        var configuration = SQLiteDatabase.configuration
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA mmap_size = 1073741824") }
        return configuration
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

    /// The linkage state the current run left, if any.
    public func linkage() throws -> StoredLinkage? {
        try database.read { db in
            guard let parameters = try db.row("SELECT parameters FROM linkModel WHERE id = 1") else { return nil }
            var frequency = [[String: Int]](repeating: [:], count: 3)
            try db.forEachRow("SELECT field, value, people FROM linkFrequency", []) { row in
                let field = try row.int(0)
                guard frequency.indices.contains(field) else { return }
                frequency[field][try row.string(1)] = try row.int(2)
            }
            var stored = StoredLinkage(model: try parameters.data(0), frequency: frequency)
            try db.forEachRow("SELECT identity, evidence, person, probability FROM linkDecision", []) { row in
                stored.identity.append(try row.data(0))
                stored.evidence.append(UInt64(bitPattern: try row.int64(1)))
                stored.person.append(try row.optional(2, row.string))
                stored.probability.append(try row.double(3))
            }
            return stored
        }
    }

    /// Writes a run's linkage state and review queue beside the current ones, made current with
    /// its people (`pruneToStaged`). The model and its term frequencies are written only when
    /// `model` is new; else the current ones stay. Without a state (a run whose rules linked
    /// every record), only the queue is replaced.
    public func stageLinkage(_ state: StoredLinkage?, newModel: Bool, queue: [ReviewPair]) throws {
        try database.writeAlone { db in
            for table in Self.linkageTables { try db.execute("DROP TABLE IF EXISTS \(table)Next") }
            let staged = state == nil ? ["reviewPair"] : newModel ? Self.linkageTables : ["linkDecision", "reviewPair"]
            for table in staged { try db.createEmptyCopy(of: table, as: table + "Next") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            func json(_ value: some Encodable) throws -> SQLValue {
                .text(String(decoding: try encoder.encode(value), as: UTF8.self))
            }
            try db.insert(into: "reviewPairNext", columns: ReviewPair.columns, count: queue.count) { i in
                let pair = queue[i]
                return [
                    .integer(pair.id), .integer(pair.runId), .blob(pair.identity), .text(pair.source), .text(pair.recordId),
                    .integer(Int64(pair.records)), try json(pair.record), try json(pair.candidates),
                    .bool(pair.linkedByNHSNumber),
                ]
            }
            guard let state else { return }
            if newModel {
                try db.execute("INSERT INTO linkModelNext (id, parameters) VALUES (1, ?)", state.model)
                let counts = state.frequency.enumerated().flatMap { field, counts in
                    counts.sorted { $0.key < $1.key }.map { (field, $0.key, $0.value) }
                }
                try db.insert(into: "linkFrequencyNext", columns: ["field", "value", "people"], count: counts.count) { i in
                    let (field, value, people) = counts[i]
                    return [.integer(Int64(field)), .text(value), .integer(Int64(people))]
                }
            }
            // In identity order, so the B-tree is appended to.
            let order = state.identity.indices.sorted { state.identity[$0].lexicographicallyPrecedes(state.identity[$1]) }
            try db.insert(
                into: "linkDecisionNext", columns: ["identity", "evidence", "person", "probability"], count: order.count
            ) { i in
                let i = order[i]
                return [
                    .blob(state.identity[i]), .integer(Int64(bitPattern: state.evidence[i])), state.person[i].sqlValue,
                    .real(state.probability[i]),
                ]
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

    /// Writes a run's identities beside the current ones (table `identityNext`, keyed as
    /// `identity` is), in one transaction; the current ones are untouched, so a run killed
    /// meanwhile changes nothing.
    ///
    /// Rows go in pseudonym order so the primary-key B-tree is appended to rather than split at
    /// random, which makes a million rows several times faster to write.
    public func stageIdentities(_ entries: [VaultEntry]) throws {
        let entries = entries.sorted { $0.pseudonym < $1.pseudonym }
        try database.writeAlone { db in
            try db.execute("DROP TABLE IF EXISTS identityNext")
            try db.createEmptyCopy(of: "identity", as: "identityNext")
            let columns = VaultEntry.columns.components(separatedBy: ", ")
            try db.insert(into: "identityNext", columns: columns, count: entries.count) { entries[$0].values }
        }
    }

    /// Adds or updates the staged identities in the current ones, keeping everyone else: both the
    /// previous run's frame and the new one find their people while the run is made current.
    public func mergeStaged() throws {
        try database.writeAlone { db in
            guard try db.tableExists("identityNext") else { return }
            // `WHERE true` lets SQLite read ON CONFLICT as the upsert's, not a join's. Only people
            // whose identity changed are written again: most are unchanged from run to run.
            let columns = VaultEntry.columns.components(separatedBy: ", ").dropFirst()
            let changed = columns.map { column in
                column == "nhsNumber"
                    ? "(identity.nhsNumber IS NULL) <> (excluded.nhsNumber IS NULL) OR identity.nhsNumber <> excluded.nhsNumber"
                    : "identity.\(column) <> excluded.\(column)"
            }
            try db.execute(
                """
                INSERT INTO identity (\(VaultEntry.columns)) SELECT \(VaultEntry.columns) FROM identityNext WHERE true
                ON CONFLICT (pseudonym) DO UPDATE SET \(columns.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                WHERE \(changed.joined(separator: " OR "))
                """)
        }
    }

    /// Once the new run is current: keeps only its people, and drops the staged table.
    public func pruneToStaged() throws {
        try database.writeAlone { db in
            if try db.tableExists("identityNext") {
                // Each person looked up by key in the staged table: a join on both databases.
                try db.execute(
                    "DELETE FROM identity WHERE NOT EXISTS (SELECT 1 FROM identityNext n WHERE n.pseudonym = identity.pseudonym)"
                )
                try db.execute("DROP TABLE identityNext")
            }
            for table in Self.linkageTables where try db.tableExists(table + "Next") {
                try db.execute("DROP TABLE \(table)")
                try db.execute("ALTER TABLE \(table)Next RENAME TO \(table)")
            }
        }
        // Once the run's people are current, on its own: statistics that cannot be refreshed now
        // (a lock autovacuum holds) leave the run as it is, and autovacuum refreshes them later.
        try? database.writeAlone { db in try db.refreshStatistics(of: ["identity"] + Self.linkageTables) }
    }

    /// Drops identities and linkage state a killed run staged and never made current.
    public func dropStaged() throws {
        try database.writeAlone { db in
            for table in ["identity"] + Self.linkageTables { try db.execute("DROP TABLE IF EXISTS \(table)Next") }
        }
    }

    public func addQuarantined(_ rows: [VaultQuarantinedRow]) throws {
        try database.writeAlone { db in
            try db.insert(into: "quarantinedRow", columns: ["runId", "file", "line", "rawLine"], count: rows.count) { i in
                [.integer(rows[i].runId), .text(rows[i].file), .integer(Int64(rows[i].line)), .text(rows[i].rawLine)]
            }
        }
    }

    /// Keeps the raw quarantined rows of these runs only (retention: those whose person-level
    /// outputs are kept), and of no other run, finished, failed or killed.
    public func keepQuarantined(runs: [Int64]) throws {
        guard !runs.isEmpty else { return }
        try database.writeAlone { db in
            try db.execute(
                "DELETE FROM quarantinedRow WHERE runId NOT IN (\(runs.map { _ in "?" }.joined(separator: ",")))",
                runs.map(SQLValue.integer))
        }
    }

    /// Forgets what a run that did not complete staged and quarantined: its data is nobody's
    /// current record, so no identity of it stays.
    public func discard(run: Int64) throws {
        try dropStaged()
        try database.writeAlone { db in try db.execute("DELETE FROM quarantinedRow WHERE runId = ?", run) }
    }

    /// The identity behind a pseudonym, for direct care only.
    public func identity(of pseudonym: String) throws -> VaultEntry? {
        try identities(of: [pseudonym])[pseudonym]
    }

    /// The identities behind pseudonyms, read together, by pseudonym.
    /// Up to 512 people (a worklist's page) are one statement, one round trip on PostgreSQL; more
    /// are read in several, on one snapshot.
    public func identities(of pseudonyms: [String]) throws -> [String: VaultEntry] {
        let asked = Set(pseudonyms).map(SQLValue.text)
        func read(_ rows: (String, [SQLValue]) throws -> [SQLRow]) throws -> [String: VaultEntry] {
            var found: [String: VaultEntry] = [:]
            found.reserveCapacity(asked.count)
            try Self.inLists(asked) { list, values in
                for row in try rows("SELECT \(VaultEntry.columns) FROM identity WHERE pseudonym IN \(list)", values) {
                    let entry = try VaultEntry(row: row)
                    found[entry.pseudonym] = entry
                }
            }
            return found
        }
        if asked.count <= Self.inListLengths[Self.inListLengths.count - 1] { return try read(database.select) }
        return try database.read { db in try read(db.rows) }
    }

    /// `values` as `IN (?, ...)` lists of a few fixed lengths, the last padded by repeating a
    /// value: few distinct statements for any number of values, each prepared once on SQLite.
    static let inListLengths = [1, 8, 64, 128, 512]

    static func inLists(_ values: [SQLValue], _ body: (String, [SQLValue]) throws -> Void) throws {
        let lengths = inListLengths
        var start = 0
        while start < values.count {
            let chunk = Array(values[start..<min(values.count, start + lengths[lengths.count - 1])])
            let length = lengths.first { $0 >= chunk.count } ?? chunk.count
            let padded = chunk + Array(repeating: chunk[chunk.count - 1], count: length - chunk.count)
            try body("(" + Array(repeating: "?", count: length).joined(separator: ", ") + ")", padded)
            start += chunk.count
        }
    }

    // MARK: clerical review

    /// The current run's review queue from `offset`, and its length.
    public func reviewPairs(offset: Int, limit: Int) throws -> (pairs: [ReviewPair], total: Int) {
        try database.read { db in
            let pairs = try db.rows(
                "SELECT \(ReviewPair.columns.joined(separator: ", ")) FROM reviewPair ORDER BY id LIMIT ? OFFSET ?",
                max(0, limit), max(0, offset)
            ).map(ReviewPair.init(row:))
            return (pairs, try db.row("SELECT count(*) FROM reviewPair")?.int(0) ?? 0)
        }
    }

    public func reviewPair(id: Int64) throws -> ReviewPair? {
        try database.read { db in
            try db.row("SELECT \(ReviewPair.columns.joined(separator: ", ")) FROM reviewPair WHERE id = ?", id)
                .map(ReviewPair.init(row:))
        }
    }

    /// Every judgement, for a run to apply.
    public func reviewDecisions() throws -> [ReviewDecision] {
        try database.read { db in
            try db.rows("SELECT \(ReviewDecision.columns) FROM reviewDecision").map(ReviewDecision.init(row:))
        }
    }

    /// The judgements of these record identities, oldest first.
    public func reviewDecisions(of identities: [Data]) throws -> [ReviewDecision] {
        try database.read { db in
            var decisions: [ReviewDecision] = []
            // Each identity once: in two lists, its judgements would be read twice.
            try Self.inLists(Set(identities).map(SQLValue.blob)) { list, values in
                try db.forEachRow("SELECT \(ReviewDecision.columns) FROM reviewDecision WHERE identity IN \(list)", values) {
                    decisions.append(try ReviewDecision(row: $0))
                }
            }
            return decisions.sorted { $0.decidedAt < $1.decidedAt }
        }
    }

    /// Records a judgement, replacing any earlier one of the same pair; a record judged the same
    /// as one person is no longer judged the same as any other.
    public func decide(_ decision: ReviewDecision) throws {
        try database.write { db in
            if decision.same {
                try db.execute(
                    "DELETE FROM reviewDecision WHERE identity = ? AND same AND person != ?", decision.identity,
                    decision.person)
            }
            try db.execute(
                """
                INSERT INTO reviewDecision (\(ReviewDecision.columns)) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (identity, person) DO UPDATE SET same = excluded.same, reviewer = excluded.reviewer,
                decidedAt = excluded.decidedAt
                """, decision.identity, decision.person, decision.same, decision.reviewer, decision.decidedAt)
        }
    }

    public func count() throws -> Int {
        try database.read { db in try db.row("SELECT count(*) FROM identity")?.int(0) ?? 0 }
    }
}

extension ReviewPair {
    static let columns = [
        "id", "runId", "identity", "source", "recordId", "records", "record", "candidates", "linkedByNHSNumber",
    ]

    /// In `columns` order; the record and candidates are kept as JSON.
    init(row: SQLRow) throws {
        let decoder = JSONDecoder()
        self.init(
            id: try row.int64(0), runId: try row.int64(1), identity: try row.data(2), source: try row.string(3),
            recordId: try row.string(4), records: try row.int(5),
            record: try decoder.decode(Side.self, from: Data(try row.string(6).utf8)),
            candidates: try decoder.decode([Candidate].self, from: Data(try row.string(7).utf8)),
            linkedByNHSNumber: try row.bool(8))
    }
}

extension ReviewDecision {
    static let columns = "identity, person, same, reviewer, decidedAt"

    init(row: SQLRow) throws {
        self.init(
            identity: try row.data(0), person: try row.string(1), same: try row.bool(2), reviewer: try row.string(3),
            decidedAt: try row.date(4))
    }
}
