import Analysis
import Cohorts
import Evaluation
import Foundation
import Governance
import PHMCore
import Storage

/// One user working under one purpose. Every request checks the access policy first and is
/// written to the audit log, allowed or denied.
///
/// The purpose decides whom a request sees: planning sees everyone without a National Data
/// Opt-out, with small numbers suppressed; direct care sees the clinician's own practice only,
/// unsuppressed. Identities come from the vault only through `worklist`.
public struct Session: Sendable {
    public let platform: Platform
    public let user: UserRecord
    public let purpose: Purpose
    /// When cohort evaluation for this request must stop (nil: no limit, as on the command line).
    public var deadline: ContinuousClock.Instant?

    init(platform: Platform, user: UserRecord, purpose: Purpose) {
        self.platform = platform
        self.user = user
        self.purpose = purpose
    }

    /// The same session with cohort evaluation bounded by `deadline`.
    public func until(_ deadline: ContinuousClock.Instant) -> Session {
        var session = self
        session.deadline = deadline
        return session
    }

    var store: GovernanceStore { platform.store }

    /// Checks the policy for an action and audits the outcome with `detail`.
    func authorise(_ action: Action, detail: [String: JSONValue] = [:]) throws {
        let allowed = AccessPolicy.allows(user.role, action, for: purpose)
        try store.audit(
            user: user.name, role: user.role.rawValue, purpose: purpose.rawValue, action: action.rawValue,
            outcome: allowed ? "allowed" : "denied", detail: Session.json(detail))
        guard allowed else { throw AccessError.notAllowed(user.role, action, purpose) }
    }

    /// Audits a refusal the policy does not decide (another owner, another session), with why.
    func refuse(_ action: Action, detail: [String: JSONValue]) throws {
        try store.audit(
            user: user.name, role: user.role.rawValue, purpose: purpose.rawValue, action: action.rawValue,
            outcome: "denied", detail: Session.json(detail))
    }

    /// Audit details are built from strings, numbers and flags, which always encode.
    static func json(_ detail: [String: JSONValue]) -> String { (try? JSON.text(JSONValue.object(detail))) ?? "{}" }

    // MARK: scope

    /// The rows a request may see under this session's purpose.
    public func scope(_ frame: PersonFrame) throws -> Bitset {
        switch purpose {
        case .planning: return Bitset(count: frame.count) { !frame.optedOut[$0] }
        case .directCare:
            let practice = try ownPractice(frame)
            return Bitset(count: frame.count) { frame.practice[$0] == Int32(practice) }
        case .administration: return Bitset(count: frame.count)
        }
    }

    func ownPractice(_ frame: PersonFrame) throws -> Int {
        guard let code = user.practiceCode else { throw AccessError.invalid("user \(user.name) has no practice") }
        guard let q = frame.hierarchy.practices.firstIndex(where: { $0.code == code }) else {
            throw AccessError.noPractice(code)
        }
        return q
    }

    /// Whether counts are suppressed for this session.
    public var suppresses: Bool { purpose == .planning }

    // MARK: published outputs

    /// The newest run's published planning outputs, for a page or API call about a unit. They
    /// are suppressed aggregates whatever the purpose; each view is audited with its page and unit.
    public func publication(page: String, unit: String) throws -> Publication {
        try authorise(.viewAggregates, detail: ["page": .string(page), "unit": .string(unit)])
        return try platform.publication()
    }

    // MARK: cohorts

    /// Parses a definition written as JSON (starting with `{`) or as text.
    public static func definition(_ source: String) throws(CohortError) -> CohortDefinition {
        source.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{")
            ? try CohortJSON.parse(Data(source.utf8)) : try CohortText.parse(source)
    }

    /// A cohort counted and profiled within this session's scope: audited (`authorised`), then
    /// worked out (`profile`). The server, once it has admitted the request, audits on the
    /// store's threads and works the profile out in a heavy-work slot, so no slot waits on the
    /// store.
    public func query(_ definition: CohortDefinition) throws -> CohortResult { try profile(authorised(definition)) }

    /// A cohort query allowed and audited, for `profile` of the same session.
    public struct AuthorisedQuery: Sendable {
        let user: String
        let purpose: Purpose
        let definition: CohortDefinition
    }

    public func authorised(_ definition: CohortDefinition) throws -> AuthorisedQuery {
        try authorise(.queryCohort, detail: ["definition": .string(CohortText.format(definition.expression))])
        return AuthorisedQuery(user: user.name, purpose: purpose, definition: definition)
    }

    public func profile(_ query: AuthorisedQuery) throws -> CohortResult {
        guard query.user == user.name, query.purpose == purpose else {
            try refuse(.queryCohort, detail: ["reason": "authorised for another session"])
            throw AccessError.invalid("a cohort query is profiled by the session it was authorised for")
        }
        let definition = query.definition
        let frame = try platform.frame(for: purpose)
        let start = DispatchTime.now().uptimeNanoseconds
        var rows = try CohortQuery(definition, frame: frame).evaluate(frame, until: deadline)
        // The scope and its half of the profile are the same for every cohort in it.
        let population = try platform.scope(frame, "\(purpose.rawValue)/\(user.practiceCode ?? "")") { try scope(frame) }
        rows.formIntersection(population.rows)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let profile = CohortProfile(cohort: CohortProfile.Tally(frame, rows: rows), population: population.tally)
        return CohortResult(profile: profile, suppressed: suppresses, runId: frame.runId, asOf: frame.asOf, seconds: seconds)
    }

    /// Saves a new version of a named cohort after checking it against the latest run.
    /// Only the cohort's owner (who saved version 1) adds versions; others save under a new name.
    public func saveCohort(_ name: String, _ definition: CohortDefinition, description: String = "") throws -> CohortRecord {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 != 47 && $0 != 127 }) else {
            throw AccessError.invalid("a cohort name needs at least one character and no spaces or slashes")
        }
        try Session.check(name, "a cohort name", 64)
        try Session.check(description, "a description", 1_000)
        let text = CohortText.format(definition.expression)
        try authorise(.saveCohort, detail: ["cohort": .string(name), "definition": .string(text)])
        _ = try CohortQuery(definition, frame: try platform.frame(for: purpose))
        do {
            return try store.saveCohort(
                name: name, text: text, json: String(decoding: CohortJSON.encode(definition.expression), as: UTF8.self),
                description: description, by: user.name)
        } catch let owned as CohortOwned {
            try refuse(.saveCohort, detail: ["cohort": .string(name), "reason": "owned by another user"])
            throw AccessError.notOwner(cohort: name, owner: owned.owner)
        }
    }

    /// Refuses text with control or invisible characters, or longer than `maximum`.
    static func check(_ text: String, _ field: String, _ maximum: Int, lineBreaks: Bool = false) throws {
        if let problem = SafeText.problem(text, field: field, maximumLength: maximum, lineBreaks: lineBreaks) {
            throw AccessError.invalid(problem)
        }
    }

    // MARK: evaluations

    /// The longest evaluation definition accepted.
    public static let maximumEvaluationDefinition = 4_000

    /// Evaluates an intervention on the newest run's evaluation data: a worklist status set in a
    /// period, or a place from a start date, against matched controls. Under planning the result
    /// is published with disclosure control (`planning` is true); a list of people is evaluated
    /// only by `phm evaluate`, which reads its file.
    public func evaluate(_ text: String) throws -> EvaluationResult {
        try authorise(.evaluate, detail: ["definition": .string(String(text.prefix(Session.maximumEvaluationDefinition)))])
        try Session.check(text, "an evaluation definition", Session.maximumEvaluationDefinition, lineBreaks: true)
        let definition: EvaluationDefinition
        do { definition = try EvaluationDefinition.parse(text) } catch { throw AccessError.invalid("\(error)") }
        let (base, recordKeys) = try evaluationBase()
        let exposures: Exposures
        switch definition.intervention {
        case .worklist(let cohort, let status, let from, let to):
            exposures = Exposures(
                worklist: try store.statusChanges(cohort: cohort), status: status, from: from, to: to, base: base)
        case .place(let level, let codes, let start):
            do {
                exposures = try Exposures(place: level, codes: codes, start: start, base: base, options: definition.options)
            } catch { throw AccessError.invalid(error.description) }
        case .list:
            throw AccessError.invalid(
                "a list of people is evaluated with `phm evaluate`, which reads the list's file; here, use a worklist or a place")
        }
        do {
            return try EvaluationResult.evaluate(
                name: definition.name, base: base, exposures: exposures, options: definition.options,
                recordKeys: suppresses ? recordKeys : nil, deadline: deadline, workers: 1)
        } catch { throw AccessError.invalid(error.description) }
    }

    /// A definition to start from that runs on the newest run's data as it is: a place-based
    /// scheme at its first practice, starting early enough for a 12-month post window.
    public func evaluationExample() throws -> String {
        try authorise(.evaluate, detail: ["page": "evaluations"])
        let base = try evaluationBase().base
        let practice = base.hierarchy.practices.first?.code ?? "PRACTICE"
        let start = Day(firstOfMonth: base.asOf.monthNumber - 14)
        return """
            name: Scheme at \(practice) from \(start)
            intervention:
              place: {practices: [\(practice)], start: \(start)}
              # or:  worklist: {cohort: NAME, status: enrolled, from: \(start), to: \(start.adding(months: 5))}
            matching: {exact: [recent_emergency_admissions], controls_per_person: 2}
            windows: {pre_months: 12, post_months: 12}
            outcomes: [emergency_admissions, ae_attendances, emergency_bed_days, cost]
            negative_controls: [elective_admissions]
            """
    }

    /// The newest run's evaluation data, or why there is none, in words.
    func evaluationBase() throws -> (base: EvaluationBase, recordKeys: [UInt8]) {
        do { return try platform.evaluationBase() } catch let error as EvaluationError {
            throw AccessError.invalid(error.description)
        } catch {
            // Not the file's path or the reader's words: they are the server's, not the user's.
            throw AccessError.invalid("the newest run's evaluation data cannot be read: run the pipeline again")
        }
    }

    /// The latest version of every saved cohort (definitions only: no people).
    public func cohorts() throws -> [CohortRecord] {
        try authorise(.queryCohort, detail: ["list": "cohorts"])
        return try store.cohorts()
    }

    /// The frame the cohort builder suggests names from (conditions, lists, units), for a user
    /// allowed to query cohorts; audited as a view of the builder.
    public func builderFrame() throws -> PersonFrame {
        try authorise(.queryCohort, detail: ["page": "cohort_builder"])
        return try platform.frame(for: purpose)
    }

    public func cohortVersions(_ name: String) throws -> [CohortRecord] {
        try authorise(.queryCohort, detail: ["cohort": .string(name)])
        let versions = try store.cohortVersions(name)
        guard !versions.isEmpty else { throw AccessError.unknownCohort(name) }
        return versions
    }

    /// The pseudonyms of a cohort's members, for analysis under planning; audited as an export.
    public func members(_ definition: CohortDefinition) throws -> [String] {
        try authorise(.listPseudonymised, detail: ["definition": .string(CohortText.format(definition.expression))])
        let frame = try platform.frame(for: purpose)
        var rows = try CohortQuery(definition, frame: frame).evaluate(frame, until: deadline)
        rows.formIntersection(try scope(frame))
        return rows.rows.map { frame.pseudonym[$0] }
    }

    // MARK: worklists

    /// A saved cohort's members at the clinician's own practice, ranked by risk, re-identified
    /// from the vault. Every person shown is written to the audit log with the reason.
    ///
    /// `version` pins the version the clinician opened: paging and status changes carry it, so a
    /// newer version saved meanwhile does not change the list under them. Without it, the latest.
    ///
    /// `format` names how the people leave the platform, for the audit: `list` to be read, `csv`
    /// or `fhir` for another system to load.
    public func worklist(
        _ cohort: String, version: Int? = nil, reason: String, offset: Int = 0, limit: Int = .max, format: String = "list"
    ) throws -> PracticeWorklist {
        try open(try rank(cohort, version: version, reason: reason), offset: offset, limit: limit, format: format)
    }

    /// A worklist ranked and not yet opened: the part of `worklist` that evaluates cohorts. The web
    /// server runs it among the heavy work, a few at a time, and `open`, which only reads and
    /// writes the store and the vault, with the light requests, so no heavy slot waits on a database.
    public struct RankedWorklist: Sendable {
        let user: String
        let purpose: Purpose
        let practiceCode: String
        let reason: String
        let saved: CohortRecord
        let list: Worklist
        let frame: PersonFrame
        /// The members on the run this user last opened the list on, for "since last look".
        let before: (run: Int64, asOf: Day, members: Set<String>)?
    }

    /// Ranks a saved cohort at the clinician's own practice, and works out its members on the run
    /// this user last opened it on, for `open` to show who entered and left since.
    public func rank(_ cohort: String, version: Int? = nil, reason: String) throws -> RankedWorklist {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw AccessError.invalid("re-identification needs a reason")
        }
        try Session.check(reason, "a reason", 500)
        // Allowed requests are audited by `open` with the people re-identified; a refusal here.
        if !AccessPolicy.allows(user.role, .viewWorklist, for: purpose) {
            try authorise(.viewWorklist, detail: ["cohort": .string(cohort), "reason": .string(reason)])
        }
        let (saved, list, frame) = try ownPracticeWorklist(of: cohort, version: version)
        let practiceCode = user.practiceCode!
        // The run `open`'s record of this look will name as the one before (unless the user opens
        // the list on another run meanwhile, when "since last look" waits for the next look). An
        // earlier run's members that cannot be worked out in time wait for the next look too.
        var before: (run: Int64, asOf: Day, members: Set<String>)?
        if let run = try? store.worklistRunBefore(
            user: user.name, cohort: cohort, practiceCode: practiceCode, run: frame.runId),
            let members = (try? platform.members(saved, run: run, purpose: purpose, practiceCode: practiceCode, until: deadline))
                ?? nil
        {
            before = (run, members.asOf, members.members)
        }
        return RankedWorklist(
            user: user.name, purpose: purpose, practiceCode: practiceCode, reason: reason, saved: saved, list: list,
            frame: frame, before: before)
    }

    /// Opens part of a ranked worklist: records the look, audits every person shown with the
    /// reason, and re-identifies them from the vault. Only the session that ranked it opens it.
    public func open(_ ranked: RankedWorklist, offset: Int = 0, limit: Int = .max, format: String = "list") throws
        -> PracticeWorklist
    {
        let (saved, list, frame, cohort, reason) = (ranked.saved, ranked.list, ranked.frame, ranked.saved.name, ranked.reason)
        guard ranked.user == user.name, ranked.purpose == purpose, ranked.practiceCode == user.practiceCode else {
            try refuse(.viewWorklist, detail: ["cohort": .string(cohort), "reason": "ranked for another session"])
            throw AccessError.invalid("a worklist is opened by the session that ranked it")
        }
        let practiceCode = ranked.practiceCode
        // Ranked from the frame alone; only the part shown is built and re-identified (data minimisation).
        let start = min(max(0, offset), list.count)
        let shown = list.entries(start..<(start + min(max(0, limit), list.count - start)))
        // Who entered and left the list since this user last looked, on the run they looked at.
        var since: PracticeWorklist.SinceLastLook?
        if let run = try store.viewWorklist(user: user.name, cohort: cohort, practiceCode: practiceCode, run: frame.runId),
            let before = ranked.before, before.run == run
        {
            let now = Set(list.ranking.map { frame.pseudonym[$0] })
            since = .init(
                runId: run, asOf: before.asOf, entered: now.subtracting(before.members),
                left: before.members.subtracting(now).count)
        }
        try authorise(
            .viewWorklist,
            detail: [
                "cohort": .string(cohort), "version": .number(Double(saved.version)), "reason": .string(reason),
                "practice": .string(practiceCode), "reidentified": .array(shown.map { .string($0.pseudonym) }),
                "offset": .number(Double(start)), "total": .number(Double(list.count)),
                "since_run": since.map { .number(Double($0.runId)) } ?? .null, "format": .string(format),
            ])
        let identities = try platform.vault().identities(of: shown.map(\.pseudonym))
        var status: [String: WorklistChange] = [:]
        for change in try store.worklistChanges(cohort: cohort, practiceCode: practiceCode) {
            status[change.pseudonym] = change
        }
        let entries = shown.map { entry in
            PracticeWorklist.Entry(
                entry: entry, identity: identities[entry.pseudonym], latest: status[entry.pseudonym],
                isNew: since?.entered.contains(entry.pseudonym) ?? false)
        }
        return PracticeWorklist(
            cohort: saved, practiceCode: practiceCode, outcome: list.outcome, rankedBy: list.rankedBy, entries: entries,
            gaps: platform.careGaps.map { ($0.id, $0.name) }, uncheckedGaps: list.uncheckedGaps, total: list.count,
            offset: start, since: since)
    }

    /// A version (the latest when nil) of a saved cohort, ranked at the clinician's own practice
    /// on this purpose's frame.
    func ownPracticeWorklist(of cohort: String, version: Int? = nil) throws -> (CohortRecord, Worklist, PersonFrame) {
        let found = try version.map { try store.cohort(cohort, version: $0) } ?? store.latestCohort(cohort)
        guard let saved = found else {
            throw version.map { AccessError.unknownVersion(cohort, $0) } ?? AccessError.unknownCohort(cohort)
        }
        let frame = try platform.frame(for: purpose)
        return (saved, try platform.worklist(saved, frame, purpose, practice: try ownPractice(frame), until: deadline), frame)
    }

    /// Records a new status (and note) for a person on one of the clinician's worklists (the
    /// version they opened, or the latest).
    public func setStatus(cohort: String, version: Int? = nil, pseudonym: String, status: WorklistStatus, note: String = "")
        throws
    {
        try Session.check(note, "a note", 2_000, lineBreaks: true)
        try authorise(
            .updateWorklist,
            detail: ["cohort": .string(cohort), "pseudonym": .string(pseudonym), "status": .string(status.rawValue)])
        let (_, list, _) = try ownPracticeWorklist(of: cohort, version: version)
        guard list.contains(pseudonym: pseudonym) else {
            try refuse(.updateWorklist, detail: ["cohort": .string(cohort), "reason": "not on the worklist"])
            throw AccessError.notOnWorklist
        }
        try store.addWorklistChange(
            WorklistChange(
                cohort: cohort, practiceCode: user.practiceCode!, pseudonym: pseudonym, status: status.rawValue, note: note,
                changedBy: user.name, changedAt: Date()))
    }

    // MARK: governance

    public func auditLog() throws -> [AuditEntry] {
        try authorise(.viewAudit)
        return try store.auditEntries()
    }

    /// The whole log checked from its first entry.
    public func verifyAudit() throws -> AuditVerification {
        try authorise(.viewAudit, detail: ["verify": "whole"])
        return try platform.verifyAudit(whole: true).verification
    }

    /// The log checked (only the entries since the last check, unless `whole`), and its latest entries.
    public func auditReport(latest: Int, whole: Bool = false) throws -> (check: AuditCheck, latest: [AuditEntry]) {
        try authorise(.viewAudit, detail: ["verify": whole ? "whole" : "since_last_check", "latest": .number(Double(latest))])
        // The entries this check read, as a second read would find them; a longer list, or a
        // broken log, read from the store.
        let check = try platform.verifyAudit(whole: whole)
        return (check, try check.latest(latest) ?? store.latestAuditEntries(latest))
    }

    /// The seals of the stretches of the log moved to archive files.
    public func auditSeals() throws -> [AuditSeal] {
        try authorise(.viewAudit, detail: ["seals": true])
        return try store.auditSeals()
    }

    /// Moves the log's entries up to `through` into an archive file in `folder`, sealed.
    public func archiveAudit(through: Int, to folder: URL) throws -> AuditSeal {
        try authorise(.viewAudit, detail: ["archive_through": .number(Double(through))])
        return try store.archiveAudit(through: through, to: folder)
    }

    /// Checks an archive file against its seal (found by the file's name).
    public func verifyAuditArchive(_ data: Data, named name: String) throws -> AuditVerification {
        try authorise(.viewAudit, detail: ["verify_archive": .string(name)])
        let seals = try store.auditSeals()
        guard let i = seals.firstIndex(where: { $0.archive == name }) else {
            throw AccessError.invalid("no seal names the archive \(name)")
        }
        return AuditArchive.verify(data, key: platform.key, seal: seals[i], previous: i > 0 ? seals[i - 1] : nil)
    }

    public func sharing() throws -> SharingSettings {
        try authorise(.manageSharing, detail: ["view": true])
        return try store.sharing()
    }

    /// Allows or stops a source for a purpose; takes effect at the next run.
    public func setSharing(_ source: DataSource, _ purpose: Purpose, allowed: Bool) throws {
        guard purpose != .administration else { throw AccessError.invalid("data is shared for planning or direct care") }
        try authorise(
            .manageSharing,
            detail: ["source": .string(source.rawValue), "purpose": .string(purpose.rawValue), "allowed": .bool(allowed)])
        var settings = try store.sharing()
        if allowed { settings.allowed[source, default: []].insert(purpose) } else { settings.allowed[source]?.remove(purpose) }
        try store.setSharing(settings)
    }

    public func users() throws -> [UserRecord] {
        try authorise(.manageUsers, detail: ["list": "users"])
        return try store.users()
    }

    /// Adds a user, or changes an existing user's role, practice, password or whether active.
    public func setUser(_ name: String, role: Role, practiceCode: String?, password: String?, active: Bool = true) throws {
        guard !name.isEmpty, !name.contains(" ") else { throw AccessError.invalid("a user name needs a character and no spaces") }
        try Session.check(name, "a user name", 64)
        try authorise(
            .manageUsers,
            detail: [
                "user": .string(name), "role": .string(role.rawValue), "practice": .string(practiceCode ?? ""),
                "active": .bool(active), "password_set": .bool(password != nil),
            ])
        guard (role == .clinician) == (practiceCode != nil) else {
            throw AccessError.invalid("a clinician needs a practice, and only a clinician has one")
        }
        let existing = try store.user(name)
        guard existing != nil || password != nil else { throw AccessError.invalid("a new user needs a password") }
        let hash = try password.map { try platform.hasher.hash($0) } ?? existing!.passwordHash
        try store.save(
            UserRecord(
                name: name, role: role, practiceCode: practiceCode, passwordHash: hash, active: active,
                createdAt: existing?.createdAt ?? Date()))
    }
}

/// A cohort's size and profile within a session's scope, suppressed for planning.
public struct CohortResult: Sendable {
    public var profile: CohortProfile
    public var suppressed: Bool
    public var runId: Int64
    public var asOf: Day
    /// Time to evaluate the definition and restrict it to the scope.
    public var seconds: Double

    /// The profile as it may be shown. For planning, every count is published by cell-key
    /// perturbation (`Suppression.perturbed`: 1 to 7 hidden, others randomly rounded to 5 by the
    /// cell's key), with secondary suppression across each breakdown that partitions the people
    /// (and the pyramid's bands within each sex); means are of values capped at the population's
    /// 99.9th centile, rounded to a step one person cannot cross (`Suppression.mean`), and hidden
    /// with a cohort under 10.
    public func published() -> PublishedProfile {
        var table = Suppression(enabled: suppressed)
        let size = table.add(profile.size, key: profile.sizeKey)
        let total = table.add(profile.populationSize, key: profile.populationKey)
        let cells = profile.groups.map {
            (cohort: table.add($0.cohort, key: $0.cohortKey), population: table.add($0.population, key: $0.populationKey))
        }
        func members(_ breakdown: String) -> [Int] { profile.groups.indices.filter { profile.groups[$0].breakdown == breakdown } }
        let breakdowns = profile.groups.map(\.breakdown).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for b in breakdowns where !CohortProfile.overlapping.contains(b) && !b.hasPrefix("age_") {
            table.relate(total: size, parts: members(b).map { cells[$0].cohort })
            table.relate(total: total, parts: members(b).map { cells[$0].population })
        }
        for sex in ["female", "male"] {
            guard let s = profile.groups.firstIndex(where: { $0.breakdown == "sex" && $0.group == sex }) else { continue }
            table.relate(total: cells[s].cohort, parts: members("age_" + sex).map { cells[$0].cohort })
            table.relate(total: cells[s].population, parts: members("age_" + sex).map { cells[$0].population })
        }
        table.protect()
        let shownSize = table.published(size)
        let measures: [CohortProfile.Measure]
        if !suppressed {
            measures = profile.measures
        } else if let shownSize, shownSize > Suppression.smallestPerturbed, let shownTotal = table.published(total) {
            // Whether means are shown depends on the published size alone (15 or more means at
            // least 11 people): hiding them below a true 10 beside a shown 10 would tell 8 or 9.
            // Shares of a yes/no measure are counts, published by the tier breakdowns instead.
            // So are contact counts whose cap is 0 to 1: their mean is the share with a contact.
            let shares = profile.measures.filter {
                $0.measure.hasPrefix("rising_")
                    || ($0.measure.hasSuffix("_contacts_12m") && ($0.cap.map { $0.upperBound - $0.lowerBound <= 1 } ?? true))
            }.map(\.measure)
            measures = profile.measures.enumerated().filter { !shares.contains($0.element.measure) }.map { i, m in
                func shown(_ value: Double, _ n: Int, _ published: Int, _ key: UInt8) -> Double {
                    guard n >= Suppression.smallestPerturbed else { return .nan }
                    guard let cap = m.cap else { return .nan }
                    // A mean over the people whose value is known (a risk only over those scored)
                    // is rounded at the precision of that many, not of the whole cohort: otherwise
                    // 11 scored people among 1,000 would have their mean shown to a thousandth of
                    // the cap. Only the 1, 2 or 5 step of the rounding says how many that is.
                    return Suppression.mean(
                        value, people: min(published, n), spread: cap.upperBound - cap.lowerBound,
                        key: Suppression.key(key, i)) ?? .nan
                }
                return CohortProfile.Measure(
                    measure: m.measure, cohort: shown(m.cohortCapped, m.cohortCount, shownSize, profile.sizeKey),
                    population: shown(m.populationCapped, m.populationCount, shownTotal, profile.populationKey), cap: m.cap)
            }
        } else {
            measures = []
        }
        return PublishedProfile(
            size: shownSize, populationSize: table.published(total),
            groups: profile.groups.indices.map {
                .init(
                    group: profile.groups[$0], cohort: table.published(cells[$0].cohort),
                    population: table.published(cells[$0].population))
            },
            measures: measures)
    }
}

/// A cohort profile with suppressed counts as nil.
public struct PublishedProfile: Sendable {
    public struct Group: Sendable {
        public var group: CohortProfile.Group
        public var cohort: Int?
        public var population: Int?
    }
    public var size: Int?
    public var populationSize: Int?
    public var groups: [Group]
    public var measures: [CohortProfile.Measure]
}

/// A worklist with identities from the vault and each person's latest status.
public struct PracticeWorklist: Sendable {
    public struct Entry: Sendable {
        public var entry: Worklist.Entry
        public var identity: VaultEntry?
        public var latest: WorklistChange?
        /// On the list now, not when this user last looked.
        public var isNew = false
        public var status: WorklistStatus { latest.flatMap { WorklistStatus(rawValue: $0.status) } ?? .toContact }
    }

    /// The list's changes since the user last looked at it, on an earlier run whose frame is kept.
    public struct SinceLastLook: Sendable {
        public var runId: Int64
        public var asOf: Day
        /// People on the list now who were not then.
        public var entered: Set<String>
        /// People on the list then who are not now (their condition, risk or registration changed).
        public var left: Int
    }
    public var cohort: CohortRecord
    public var practiceCode: String
    public var outcome: String?
    /// The model whose risks rank the list, in words.
    public var rankedBy: String?
    /// The people shown: `offset` onwards in rank order.
    public var entries: [Entry]
    public var gaps: [(id: String, name: String)]
    /// The care gaps this run cannot check, with why; nobody's gaps include them.
    public var uncheckedGaps: [(id: String, reason: String)]
    /// Everyone on the list, shown or not.
    public var total: Int
    public var offset: Int
    /// Nil the first time the user opens the list, or when the run they last looked at is gone.
    public var since: SinceLastLook?
}
