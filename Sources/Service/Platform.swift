import Cohorts
import Evaluation
import Foundation
import Governance
import PHMCore
import Storage
import Synchronization

/// A data directory opened for requests: its store, its identity vault and its latest person
/// frame. The command line and the web server both reach the data only through `Session`s of it.
public final class Platform: Sendable {
    public let dataDirectory: URL
    let key: PlatformKey
    let store: GovernanceStore
    let hasher: PasswordHasher
    let careGaps: [CareGap]
    private let cachedFrames = Mutex<[Purpose: PersonFrame]>([:])
    private let frameLoading = Mutex(())
    private let cachedPublication = Memo<Publication>(limit: 1)
    private let cachedBase = Mutex<(base: EvaluationBase, recordKeys: [UInt8])?>(nil)
    /// Scopes are purposes and practices: few per run.
    private let cachedScopes = Memo<Scope>(limit: 1_000)
    private let openVault = Mutex<IdentityVault?>(nil)
    private let cachedGaps = Memo<CareGapRows>(limit: 100)
    private let cachedWorklists = Memo<Worklist>(limit: 1_000)
    private let cachedMembers = Memo<(asOf: Day, members: Set<String>)?>(limit: 100)
    private let cachedEarlierFrames = Memo<PersonFrame>(limit: 1)
    /// Where the last intact check of the audit log ended and when the whole log was last
    /// checked (nil until a check, and after one finds a break), and how many checks have found
    /// it broken: a whole check that began before a break was found does not mark the log over it.
    private let auditChecked = Mutex<(mark: (checkpoint: AuditCheckpoint, wholeLogAt: Date)?, breaks: Int)>((nil, 0))

    /// The rows a session's scope covers in a frame, and their profile tally.
    struct Scope: Sendable {
        var rows: Bitset
        var tally: CohortProfile.Tally
    }

    /// - Parameters:
    ///   - hasher: the password hash cost (lower it only in tests).
    ///   - careGaps: the care gaps worklists show; the shipped set when nil.
    ///   - key: the platform key (audit log, record keys); read from `PlatformKey.defaultFile` when nil.
    public init(dataDirectory: URL, key: PlatformKey? = nil, hasher: PasswordHasher = .init(), careGaps: URL? = nil) throws {
        self.dataDirectory = dataDirectory
        self.key = try key ?? PlatformKey.load(dataDirectory: dataDirectory)
        store = try GovernanceStore(directory: dataDirectory, key: self.key)
        self.hasher = hasher
        self.careGaps = try CareGap.load(careGaps)
    }

    /// The newest run's frame for a purpose, loaded once and kept until a newer run is saved.
    /// Direct care has a frame of its own when the sharing settings give it other sources. Each
    /// frame gets its people's secret record keys and its measures' caps for publishing profiles.
    public func frame(for purpose: Purpose) throws -> PersonFrame {
        let newest = FrameFile.runs(dataDirectory: dataDirectory).first
        // A purpose without a frame of its own in the newest run reads the planning frame: the
        // same file, so one copy in memory rather than two.
        if purpose != .planning, let newest,
            !FileManager.default.fileExists(
                atPath: FrameFile.url(dataDirectory: dataDirectory, run: newest, variant: purpose.rawValue).path)
        {
            return try frame(for: .planning)
        }
        if let frame = cachedFrames.withLock({ $0[purpose] }), frame.runId == newest { return frame }
        // One load at a time: requests arriving together after a run wait for it rather than
        // each reading the frame and computing every person's record key again.
        return try frameLoading.withLock { _ in
            if let frame = cachedFrames.withLock({ $0[purpose] }), frame.runId == newest { return frame }
            var frame = try FrameFile.latest(dataDirectory: dataDirectory, variant: purpose.rawValue)
            frame.recordKeys = key.recordKeys(frame.pseudonym)
            frame.measureCaps = CohortProfile.caps(frame)
            frame.measureRows = CohortProfile.MeasureRows(frame)
            cachedFrames.withLock { $0[purpose] = frame }
            return frame
        }
    }

    /// The newest run's evaluation data with its people's record keys, loaded once and kept until
    /// a newer run is saved.
    func evaluationBase() throws -> (base: EvaluationBase, recordKeys: [UInt8]) {
        let newest = FrameFile.runs(dataDirectory: dataDirectory).first
        if let cached = cachedBase.withLock({ $0 }), cached.base.runId == newest { return cached }
        return try frameLoading.withLock { _ in
            if let cached = cachedBase.withLock({ $0 }), cached.base.runId == newest { return cached }
            let base = try EvaluationBaseFile.latest(dataDirectory: dataDirectory)
            let loaded = (base: base, recordKeys: key.recordKeys(base.pseudonym))
            cachedBase.withLock { $0 = loaded }
            return loaded
        }
    }

    /// When the newest run that succeeded finished; nil before any has.
    public func latestRunFinished() throws -> Date? {
        try RunStore(database: store.database).latestSucceededFinish()
    }

    /// The newest run's published planning outputs, read once and kept until a newer run is saved.
    public func publication() throws -> Publication {
        let frame = try frame(for: .planning)
        return try cachedPublication.value(String(frame.runId)) {
            guard let folder = try store.outputFolder(ofRun: frame.runId) else {
                throw AccessError.invalid("run \(frame.runId) is not in the store")
            }
            return try Publication(folder: URL(fileURLWithPath: folder), frame: frame)
        }
    }

    /// Each care gap's people in a purpose's frame, evaluated once per run.
    func careGapRows(_ frame: PersonFrame, _ purpose: Purpose) throws -> CareGapRows {
        try cachedGaps.value("\(frame.runId)/\(purpose.rawValue)") { try Worklist.gapRows(frame, careGaps) }
    }

    /// A saved cohort version's members at a practice, ranked once per run: versions never change.
    func worklist(
        _ saved: CohortRecord, _ frame: PersonFrame, _ purpose: Purpose, practice: Int, until deadline: ContinuousClock.Instant?
    ) throws -> Worklist {
        try cachedWorklists.value("\(frame.runId)/\(purpose.rawValue)/\(practice)/\(saved.version)/\(saved.name)") {
            let rows = try CohortQuery(try CohortJSON.parse(Data(saved.json.utf8)), frame: frame).evaluate(
                frame, until: deadline)
            return try Worklist(frame, cohort: rows, practice: practice, gapRows: try careGapRows(frame, purpose))
        }
    }

    /// A saved cohort version's members at a practice on an earlier run, if its frame is still
    /// kept and the definition still evaluates on it (the library may have changed since). The
    /// earlier frame is read once per run and purpose, under the loading lock.
    func members(
        _ saved: CohortRecord, run: Int64, purpose: Purpose, practiceCode: String, until deadline: ContinuousClock.Instant?
    ) throws -> (asOf: Day, members: Set<String>)? {
        try cachedMembers.value("\(run)/\(purpose.rawValue)/\(practiceCode)/\(saved.version)/\(saved.name)") {
            () throws(CohortError) -> (asOf: Day, members: Set<String>)? in
            guard let frame = earlierFrame(run: run, purpose: purpose),
                let practice = frame.hierarchy.practices.firstIndex(where: { $0.code == practiceCode }),
                let query = try? CohortQuery(try CohortJSON.parse(Data(saved.json.utf8)), frame: frame)
            else { return nil }
            // Out of time is not kept as "no longer evaluates": the next look tries again.
            let rows = try query.evaluate(frame, until: deadline)
            return (frame.asOf, Set(rows.rows.filter { frame.practice[$0] == practice }.map { frame.pseudonym[$0] }))
        }
    }

    /// An earlier run's frame for a purpose (its own variant, else its planning frame), nil when gone.
    private func earlierFrame(run: Int64, purpose: Purpose) -> PersonFrame? {
        frameLoading.withLock { _ in
            try? cachedEarlierFrames.value("\(run)/\(purpose.rawValue)") {
                let variant = FrameFile.url(dataDirectory: dataDirectory, run: run, variant: purpose.rawValue)
                let url =
                    FileManager.default.fileExists(atPath: variant.path)
                    ? variant : FrameFile.url(dataDirectory: dataDirectory, run: run)
                return try FrameFile.read(url)
            }
        }
    }

    /// The identity vault, opened once. Only `Session.worklist` reads it.
    func vault() throws -> IdentityVault {
        try openVault.withLock { vault in
            if let vault { return vault }
            let opened = try IdentityVault(directory: dataDirectory.appendingPathComponent("vault"))
            vault = opened
            return opened
        }
    }

    /// A scope of a frame (a purpose, and for direct care a practice) with its profile tally,
    /// found once per run: the same for every cohort drawn from it.
    func scope(_ frame: PersonFrame, _ key: String, _ find: () throws -> Bitset) rethrows -> Scope {
        try cachedScopes.value("\(frame.runId)/\(key)") {
            let rows = try find()
            return Scope(rows: rows, tally: CohortProfile.Tally(frame, rows: rows))
        }
    }

    /// Checks the audit log: the whole of it when `whole`, or when it has not been found intact
    /// since the platform opened; otherwise only the entries written since the last check, once
    /// the entry that check ended at is found unchanged. A whole check also finds entries
    /// before that point edited without rewriting the hashes after them.
    ///
    /// `anchoring` moves the signed anchor to the head found (whole checks always do): the
    /// server's own check every few seconds anchors, page views do not write files.
    public func verifyAudit(whole: Bool, anchoring: Bool = false) throws -> AuditCheck {
        if whole {
            // Not under the lock: a long read should not hold up the short checks of page views.
            let breaks = auditChecked.withLock { $0.breaks }
            let (verification, checkpoint) = try store.verifyAudit()
            if let checkpoint { try store.anchor(checkpoint.check) }
            let now = Date()
            auditChecked.withLock { state in
                guard let checkpoint else {
                    state = (nil, state.breaks + 1)
                    return
                }
                // A break found by a check since this one began stands, and a mark a later
                // check set stays (the whole log up to this one's end now checked too).
                guard state.breaks == breaks else { return }
                if let mark = state.mark, mark.checkpoint.check.entries > checkpoint.check.entries {
                    state.mark = (mark.checkpoint, now)
                } else {
                    state.mark = (checkpoint, now)
                }
            }
            return AuditCheck(
                verification: verification, whole: true, wholeLogCheckedAt: now, checked: checkpoint?.check.entries ?? 0,
                latest: checkpoint?.latest)
        }
        // One at a time, each carrying on from the last: concurrent views of the audit page
        // would otherwise each read the same stretch of new entries.
        return try auditChecked.withLock { state in
            let mark = state.mark
            let before = mark?.checkpoint.check.entries ?? 0
            let (verification, checkpoint) = try store.verifyAudit(after: mark?.checkpoint)
            if anchoring, let checkpoint { try store.anchor(checkpoint.check) }
            let now = Date()
            let check = AuditCheck(
                verification: verification, whole: mark == nil, wholeLogCheckedAt: mark?.wholeLogAt ?? now,
                checked: (checkpoint?.check.entries ?? before) - before, latest: checkpoint?.latest)
            // A broken log is never marked: every later check reads it whole.
            state.mark = checkpoint.map { ($0, check.wholeLogCheckedAt) }
            if checkpoint == nil { state.breaks += 1 }
            return check
        }
    }

    /// Starts a session for a user under a purpose, or refuses; either way the attempt is audited.
    public func login(_ name: String, password: String, purpose: Purpose) throws -> Session {
        let user = try store.user(name)
        // A wrong name costs as much as a wrong password, so names cannot be probed by timing.
        let ok = PasswordHasher.verify(password, against: user?.passwordHash ?? PasswordHasher.decoy) && user?.active == true
        guard let user, ok else {
            try store.audit(
                user: name, role: user?.role.rawValue ?? "", purpose: purpose.rawValue, action: "login", outcome: "denied",
                detail: #"{"reason":"unknown user, wrong password or inactive account"}"#)
            throw AccessError.loginFailed
        }
        guard AccessPolicy.purposes(of: user.role).contains(purpose) else {
            try store.audit(
                user: name, role: user.role.rawValue, purpose: purpose.rawValue, action: "login", outcome: "denied",
                detail: #"{"reason":"purpose not open to this role"}"#)
            throw AccessError.purposeNotAllowed(user.role, purpose)
        }
        try store.audit(
            user: name, role: user.role.rawValue, purpose: purpose.rawValue, action: "login", outcome: "allowed", detail: "{}")
        return Session(platform: self, user: user, purpose: purpose)
    }

    /// Audits a sign-in refused without checking its password, after too many failures.
    public func recordThrottledLogin(_ name: String, purpose: Purpose) throws {
        try store.audit(
            user: name, role: "", purpose: purpose.rawValue, action: "login", outcome: "denied",
            detail: #"{"reason":"too many failed sign-ins"}"#)
    }

    /// Creates the first administrator of an empty data directory. Refused once any user exists.
    public func createFirstAdmin(_ name: String, password: String) throws {
        guard try store.users().isEmpty else { throw AccessError.alreadySetUp }
        try store.save(UserRecord(name: name, role: .admin, practiceCode: nil, passwordHash: try hasher.hash(password)))
        try store.audit(
            user: name, role: Role.admin.rawValue, purpose: Purpose.administration.rawValue, action: "create_first_admin",
            outcome: "allowed", detail: Session.json(["user": .string(name)]))
    }

    /// For a demonstration on synthetic data: one user of each role, with random passwords to
    /// print, in a data directory with no users yet. The clinician works at `practiceCode`.
    public func createDemoUsers(practiceCode: String) throws -> [(name: String, role: Role, password: String)] {
        let users = Role.allCases.map { role in
            (name: role.rawValue, role: role, password: "demo-" + String(WebSafe.random().prefix(12)))
        }
        let admin = users.first { $0.role == .admin }!
        try createFirstAdmin(admin.name, password: admin.password)
        let session = try login(admin.name, password: admin.password, purpose: .administration)
        for user in users where user.role != .admin {
            try session.setUser(
                user.name, role: user.role, practiceCode: user.role == .clinician ? practiceCode : nil, password: user.password)
        }
        return users
    }
}

/// The result of checking the audit log.
public struct AuditCheck: Sendable {
    public var verification: AuditVerification
    /// Whether this check read the log from its first entry, or carried on from the last check.
    public var whole: Bool
    /// When the whole log was last checked from its first entry.
    public var wholeLogCheckedAt: Date
    /// How many entries this check read (when intact).
    public var checked: Int
    /// The latest entries, oldest first, as the check read them (`AuditCheckpoint.latest`); nil
    /// when the log is broken.
    public var latest: [AuditEntry]?

    /// The latest `count` entries, oldest first, from those the check read when it read enough.
    public func latest(_ count: Int) -> [AuditEntry]? {
        let count = max(0, count)
        guard let latest, count <= latest.count || latest.count < AuditCheckpoint.kept else { return nil }
        return Array(latest.suffix(count))
    }
}

/// Why a request was refused. Messages name the rule, never a patient.
public enum AccessError: Error, Equatable, CustomStringConvertible {
    case loginFailed
    case purposeNotAllowed(Role, Purpose)
    case notAllowed(Role, Action, Purpose)
    case alreadySetUp
    case noPractice(String)
    case notOnWorklist
    case unknownCohort(String)
    case unknownVersion(String, Int)
    case notOwner(cohort: String, owner: String)
    case unknownUser(String)
    case invalid(String)
    /// The newest run was published with exact counts (or does not say), so nothing serves its outputs.
    case unsuppressedRun(Int64, recorded: Bool)

    public var description: String {
        switch self {
        case .loginFailed: "login failed: unknown user, wrong password or inactive account"
        case .purposeNotAllowed(let r, let p): "the \(r.rawValue) role cannot work under the \(p.rawValue) purpose"
        case .notAllowed(let r, let a, let p): "the \(r.rawValue) role may not \(a.rawValue) for \(p.rawValue)"
        case .alreadySetUp: "this data directory already has users; an administrator must add more"
        case .noPractice(let code): "practice \(code) is not in the latest run"
        case .notOnWorklist: "that person is not on this worklist"
        case .unknownCohort(let name): "no saved cohort is called '\(name)'"
        case .unknownVersion(let name, let v): "cohort '\(name)' has no version \(v)"
        case .notOwner(let name, let owner):
            "cohort '\(name)' belongs to \(owner): only its owner saves new versions; save yours under another name"
        case .unknownUser(let name): "no user is called '\(name)'"
        case .invalid(let message): message
        case .unsuppressedRun(let run, let recorded):
            recorded
                ? "run \(run) was published with --no-suppress (exact counts, for direct analysis only), so its outputs "
                    + "are not shown here: run `phm run` again without --no-suppress"
                : "run \(run) does not record whether its outputs were suppressed (an earlier version wrote it), so "
                    + "they are not shown here: run `phm run` again"
        }
    }
}

/// Random text for demo passwords.
enum WebSafe {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let letters = Array("abcdefghjkmnpqrstuvwxyz23456789")
        return String((0..<16).map { _ in letters[Int.random(in: 0..<letters.count, using: &generator)] })
    }
}
