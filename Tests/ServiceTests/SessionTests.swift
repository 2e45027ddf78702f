import Cohorts
import Foundation
import GRDB
import Governance
import PHMCore
import Storage
import TestSupport
import Testing

@testable import Service

@Suite(.serialized) struct SessionTests {
    /// The policy written out by hand: role -> purpose -> actions. The code's table must equal it
    /// for every combination, and every session must behave accordingly.
    static let expected: [Role: [Purpose: Set<Action>]] = [
        .analyst: [.planning: [.viewAggregates, .queryCohort, .saveCohort, .listPseudonymised, .evaluate]],
        .clinician: [
            .planning: [.viewAggregates, .queryCohort],
            .directCare: [.viewAggregates, .queryCohort, .saveCohort, .viewWorklist, .updateWorklist],
        ],
        .igLead: [.planning: [.viewAggregates], .administration: [.viewAudit, .manageSharing]],
        .admin: [.administration: [.manageUsers, .viewAudit]],
        .linkageReviewer: [.administration: [.reviewLinkage]],
    ]

    @Test func accessMatrixHoldsForEveryRoleActionAndPurpose() throws {
        let fixture = try Fixture()
        let definition = try CohortText.parse("age >= 60")
        // A cohort for worklists to open.
        _ = try fixture.session(.clinician, .directCare).saveCohort("older", definition)
        var checked = 0
        for role in Role.allCases {
            for purpose in Purpose.allCases {
                let granted = SessionTests.expected[role]?[purpose] ?? []
                let session: Session
                do { session = try fixture.session(role, purpose) } catch let error as AccessError {
                    // A role with nothing to do under a purpose cannot log in under it.
                    #expect(granted.isEmpty, "\(role) \(purpose)")
                    #expect(error == .purposeNotAllowed(role, purpose))
                    for action in Action.allCases { #expect(!AccessPolicy.allows(role, action, for: purpose)) }
                    checked += Action.allCases.count
                    continue
                }
                for action in Action.allCases {
                    let allowed = granted.contains(action)
                    #expect(AccessPolicy.allows(role, action, for: purpose) == allowed, "\(role) \(action) \(purpose)")
                    let before = try fixture.platform.store.auditEntries().count
                    var refusal: AccessError?
                    do {
                        switch action {
                        case .viewAggregates, .queryCohort:
                            // Aggregates are the cohort profile: both actions go through query.
                            if action == .queryCohort {
                                _ = try session.query(definition)
                            } else {
                                try session.authorise(.viewAggregates)
                            }
                        case .saveCohort: _ = try session.saveCohort("older-" + role.rawValue, definition)
                        case .listPseudonymised: _ = try session.members(definition)
                        case .evaluate: _ = try session.evaluate(Fixture.placeEvaluation)
                        case .viewWorklist: _ = try session.worklist("older", reason: "annual review")
                        case .updateWorklist:
                            let list = try fixture.platform.login("cli", password: Fixture.password, purpose: .directCare)
                                .worklist("older", reason: "set up")
                            try session.setStatus(cohort: "older", pseudonym: list.entries[0].entry.pseudonym, status: .contacted)
                        case .viewAudit: _ = try session.verifyAudit()
                        case .manageSharing: try session.setSharing(.socialCare, .directCare, allowed: true)
                        case .manageUsers: _ = try session.users()
                        case .reviewLinkage: _ = try session.linkageReview()
                        }
                    } catch let error as AccessError { refusal = error }
                    if allowed {
                        #expect(refusal == nil, "\(role) \(action) \(purpose): \(String(describing: refusal))")
                    } else {
                        #expect(refusal == .notAllowed(role, action, purpose), "\(role) \(action) \(purpose)")
                        // The refusal is audited.
                        let last = try #require(try fixture.platform.store.auditEntries().last)
                        #expect(last.outcome == "denied" && last.action == action.rawValue && last.user == session.user.name)
                    }
                    #expect(try fixture.platform.store.auditEntries().count > before)
                    checked += 1
                }
            }
        }
        #expect(checked == Role.allCases.count * Purpose.allCases.count * Action.allCases.count)
        #expect(AuditVerification.check(try fixture.platform.store.auditEntries(), key: fixture.key).brokenPosition == nil)
    }

    @Test func planningLeavesOutOptOutsAndSuppresses() throws {
        let fixture = try Fixture()
        let frame = fixture.frame
        let analyst = try fixture.session(.analyst, .planning)
        let everyone = try CohortText.parse("age >= 0")
        let result = try analyst.query(everyone)
        let notOptedOut = frame.optedOut.filter { !$0 }.count
        #expect(result.profile.size == notOptedOut && result.profile.populationSize == notOptedOut)
        let published = result.published()
        // Rounded to a neighbouring multiple of 5 by the cohort's cell key.
        #expect(published.size.map { $0 % 5 == 0 && abs($0 - notOptedOut) < 5 } == true)
        for g in published.groups {
            for n in [g.cohort, g.population].compactMap({ $0 }) { #expect(n == 0 || (n >= 10 && n % 5 == 0)) }
        }
        let practice = try analyst.query(try CohortText.parse("practice = P3")).published()
        #expect(practice.groups.contains { $0.cohort == nil })
        for g in practice.groups {
            for n in [g.cohort, g.population].compactMap({ $0 }) { #expect(n == 0 || (n >= 10 && n % 5 == 0)) }
        }
        let optedOut = Set(frame.pseudonym.indices.filter { frame.optedOut[$0] }.map { frame.pseudonym[$0] })
        let members = try analyst.members(try CohortText.parse("condition depression or condition obesity"))
        #expect(!members.isEmpty && members.allSatisfy { !optedOut.contains($0) })
        // Seven people or fewer: the size itself is hidden, and so are the means.
        let few = try analyst.query(try CohortText.parse("practice = P3 and age = 40 and sex = female")).published()
        #expect(few.size == nil || few.size! >= 10)
        if few.size == nil { #expect(few.measures.isEmpty) }
    }

    /// A clinician opening a worklist on a new run sees who entered it since they last looked
    /// (marked new) and how many left, against the run they looked at; opening it again on the
    /// same run keeps that comparison.
    @Test(arguments: TestStore.available) func worklistSaysWhoEnteredAndLeftSinceTheClinicianLastLooked(_ store: TestStore) throws
    {
        let fixture = try Fixture(store: store)
        let frame = fixture.frame
        let p3 = Int32(frame.hierarchy.practices.firstIndex { $0.code == "P3" }!)
        let clinician = try fixture.session(.clinician, .directCare)
        _ = try clinician.saveCohort("older", try CohortText.parse("age >= 70"), description: "over 70s")
        let first = try clinician.worklist("older", reason: "review")
        #expect(first.since == nil && first.entries.allSatisfy { !$0.isNew })

        // The next run: at P3, three members turn 60 (they leave the list), three others turn 80 (they enter).
        var next = frame
        next.runId = frame.runId + 1
        let atP3 = frame.practice.indices.filter { frame.practice[$0] == p3 }
        let leaving = Array(atP3.filter { frame.age[$0] >= 70 }.prefix(3))
        let entering = Array(atP3.filter { frame.age[$0] < 70 }.prefix(3))
        for r in leaving { next.age[r] = 60 }
        for r in entering { next.age[r] = 80 }
        try FrameFile.save(next, dataDirectory: fixture.folder)
        try FrameFile.commit(run: next.runId, dataDirectory: fixture.folder)

        // Ranking works out the members on the run looked at before: opened while that run's
        // frame is away, the list still says who entered and left. Opened again on the same run,
        // by a platform that has kept nothing, the run before is the one compared with.
        let ranked = try clinician.rank("older", reason: "review")
        let earlier = FrameFile.url(dataDirectory: fixture.folder, run: frame.runId)
        let away = fixture.folder.appendingPathComponent("away.frame")
        try FileManager.default.moveItem(at: earlier, to: away)
        #expect(throws: AccessError.self) { try fixture.session(.analyst, .planning).open(ranked) }
        let refused = try #require(try fixture.platform.store.auditEntries().last)
        #expect(refused.action == "view_worklist" && refused.outcome == "denied" && refused.user == Fixture.names[.analyst])
        for opened in 0..<2 {
            let list: PracticeWorklist
            if opened == 0 {
                list = try clinician.open(ranked)
                try FileManager.default.moveItem(at: away, to: earlier)
            } else {
                let fresh = try Platform(
                    dataDirectory: fixture.folder, key: fixture.key, hasher: PasswordHasher(logN: 4),
                    careGaps: fixture.folder.appendingPathComponent("care-gaps.yaml"))
                list = try fresh.login(Fixture.names[.clinician]!, password: Fixture.password, purpose: .directCare)
                    .worklist("older", reason: "review")
            }
            let since = try #require(list.since)
            #expect(since.runId == frame.runId && since.left == 3)
            #expect(since.entered == Set(entering.map { next.pseudonym[$0] }))
            #expect(Set(list.entries.filter(\.isNew).map(\.entry.pseudonym)) == since.entered)
        }
        let audit = try #require(try fixture.platform.store.auditEntries().last { $0.action == "view_worklist" })
        #expect(audit.detail.contains("\"since_run\":\(frame.runId)"))
    }

    @Test(arguments: TestStore.available) func directCareShowsOwnPracticeReidentifiedAndAudited(_ store: TestStore) throws {
        let fixture = try Fixture(store: store)
        let frame = fixture.frame
        let p3 = Int32(frame.hierarchy.practices.firstIndex { $0.code == "P3" }!)
        let clinician = try fixture.session(.clinician, .directCare)
        let everyone = try CohortText.parse("age >= 0")
        let result = try clinician.query(everyone)
        #expect(!result.suppressed)
        #expect(result.profile.size == frame.practice.filter { $0 == p3 }.count)
        let definition = try CohortText.parse("condition hypertension or rising emergency_admission_12m")
        _ = try clinician.saveCohort("hypertension", definition, description: "BP check")
        let list = try clinician.worklist("hypertension", reason: "hypertension recall")
        let expectedRows = try CohortQuery(definition, frame: frame).evaluate(frame).rows.filter { frame.practice[$0] == p3 }
        #expect(Set(list.entries.map(\.entry.row)) == Set(expectedRows))
        // Ranked by risk, highest first, with names from the vault.
        let risks = list.entries.map { $0.entry.risk ?? -1 }
        #expect(risks == risks.sorted(by: >))
        #expect(list.entries.allSatisfy { $0.identity?.givenName == "Given\($0.entry.row)" && $0.status == .toContact })
        // Opted-out patients stay on their own practice's worklist: opt-outs do not apply to direct care.
        #expect(list.entries.contains { frame.optedOut[$0.entry.row] } || !expectedRows.contains { frame.optedOut[$0] })
        let audit = try #require(try fixture.platform.store.auditEntries().last { $0.action == "view_worklist" })
        #expect(audit.detail.contains("hypertension recall") && audit.detail.contains(list.entries[0].entry.pseudonym))
        #expect(!audit.detail.contains("Given") && !audit.detail.contains("9434765919"))

        let first = list.entries[0].entry.pseudonym
        try clinician.setStatus(cohort: "hypertension", pseudonym: first, status: .contacted, note: "left a message")
        try clinician.setStatus(cohort: "hypertension", pseudonym: first, status: .enrolled, note: "booked")
        let again = try clinician.worklist("hypertension", reason: "follow up")
        let entry = try #require(again.entries.first { $0.entry.pseudonym == first })
        #expect(entry.status == .enrolled && entry.latest?.note == "booked" && entry.latest?.changedBy == "cli")
        #expect(try fixture.platform.store.worklistChanges(cohort: "hypertension", practiceCode: "P3").count == 2)
        // Someone at another practice cannot be touched from this worklist.
        let elsewhere = frame.pseudonym[frame.practice.firstIndex { $0 != p3 }!]
        #expect(throws: AccessError.notOnWorklist) {
            try clinician.setStatus(cohort: "hypertension", pseudonym: elsewhere, status: .declined)
        }
        // And the attempt is in the audit log as refused, without the pseudonym it named.
        let refused = try #require(try fixture.platform.store.auditEntries().last)
        #expect(
            refused.action == "update_worklist" && refused.outcome == "denied" && refused.detail.contains("not on the worklist"))
        // Care gaps are cohort definitions evaluated on the same frame.
        let gaps = try CohortQuery(
            try CohortText.parse("condition hypertension and not recorded systolic_bp within 12 months"), frame: frame
        ).evaluate(frame)
        for e in list.entries {
            #expect(e.entry.gaps.contains("hypertension_no_bp") == gaps.contains(e.entry.row))
        }
        // Reasons are the top risk factors.
        #expect(list.entries.allSatisfy { !$0.entry.reasons.isEmpty })
    }

    @Test(arguments: TestStore.available) func loginsAreCheckedAndAudited(_ store: TestStore) throws {
        let fixture = try Fixture(store: store)
        #expect(throws: AccessError.loginFailed) {
            try fixture.platform.login("ana", password: "wrong password", purpose: .planning)
        }
        #expect(throws: AccessError.loginFailed) {
            try fixture.platform.login("nobody", password: Fixture.password, purpose: .planning)
        }
        #expect(throws: AccessError.purposeNotAllowed(.analyst, .directCare)) {
            try fixture.session(.analyst, .directCare)
        }
        #expect(throws: AccessError.alreadySetUp) { try fixture.platform.createFirstAdmin("x", password: Fixture.password) }
        let admin = try fixture.session(.admin, .administration)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: nil, active: false)
        #expect(throws: AccessError.loginFailed) { try fixture.session(.analyst, .planning) }
        #expect(throws: AccessError.invalid("a clinician needs a practice, and only a clinician has one")) {
            try admin.setUser("bob", role: .clinician, practiceCode: nil, password: Fixture.password)
        }
        let log = try fixture.platform.store.auditEntries()
        #expect(log.filter { $0.action == "login" && $0.outcome == "denied" }.count == 4)
        #expect(log.contains { $0.action == "manage_users" && $0.detail.contains("\"active\":false") })
        #expect(!log.contains { $0.detail.contains(Fixture.password) })
    }

    /// Editing, deleting or reordering any stored entry fails verification at that entry.
    @Test func tamperedAuditLogFailsAtTheRightEntry() throws {
        let fixture = try Fixture()
        let ig = try fixture.session(.igLead, .administration)
        for _ in 0..<5 { _ = try ig.sharing() }
        guard case .intact(let n, _) = try ig.verifyAudit() else { Issue.record("fresh log not intact"); return }
        #expect(n >= 10)
        let path = fixture.folder.appendingPathComponent("phm.sqlite").path
        func tamper(_ sql: String) throws -> AuditVerification {
            let copy = fixture.folder.appendingPathComponent("tampered-\(UUID().uuidString).sqlite").path
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            // The store writes ahead to a log: recent entries may be in its -wal file still.
            if FileManager.default.fileExists(atPath: path + "-wal") {
                try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
            }
            let db = try DatabaseQueue(path: copy)
            try db.write { try $0.execute(sql: sql) }
            let entries = try db.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT sequence, at, user, role, purpose, action, outcome, detail, previousHash, hash FROM audit ORDER BY rowid"
                ).map {
                    AuditEntry(
                        sequence: $0[0], at: $0[1], user: $0[2], role: $0[3], purpose: $0[4], action: $0[5], outcome: $0[6],
                        detail: $0[7], previousHash: $0[8], hash: $0[9])
                }
            }
            return AuditVerification.check(entries, key: fixture.key)
        }
        #expect(
            try tamper("UPDATE audit SET user = 'someone else' WHERE sequence = 4")
                == .broken(position: 4, sequence: 4, reason: "its contents were changed after it was written"))
        #expect(try tamper("DELETE FROM audit WHERE sequence = 6").brokenPosition == 6)
        #expect(try tamper("DELETE FROM audit WHERE sequence = 1").brokenPosition == 1)
        // Reordering: entry 3's row now holds entry 5 and the other way round.
        let swap = """
            UPDATE audit SET sequence = -1 WHERE sequence = 3; UPDATE audit SET sequence = 3 WHERE sequence = 5;
            UPDATE audit SET sequence = 5 WHERE sequence = -1;
            """
        #expect(try tamper(swap).brokenPosition == 3)
        // Rewriting an entry and its hash breaks the chain at the next entry.
        let entries = try fixture.platform.store.auditEntries()
        var forged = entries[6]
        forged.detail = #"{"forged":true}"#
        forged.hash = forged.computedHash(fixture.key)
        #expect(
            try tamper("UPDATE audit SET detail = '{\"forged\":true}', hash = '\(forged.hash)' WHERE sequence = 7").brokenPosition
                == 8)
    }
}

@Suite struct AuditCheckTests {
    /// The platform checks the whole log first, then carries on from the last check; a break
    /// found on the way is reported, and every check after it reads the whole log again.
    @Test func carriesOnUntilBrokenThenChecksWhole() throws {
        let fixture = try Fixture()
        let ig = try fixture.session(.igLead, .administration)
        let first = try ig.auditReport(latest: 3).check
        guard case .intact(let n, _) = first.verification else { Issue.record("\(first.verification)"); return }
        #expect(first.whole && first.checked == n)
        for _ in 0..<4 { _ = try ig.sharing() }
        let next = try ig.auditReport(latest: 3)
        // The four views and this check's own entry.
        #expect(!next.check.whole && next.check.checked == 5 && next.check.wholeLogCheckedAt == first.wholeLogCheckedAt)
        #expect(next.latest.count == 3 && next.latest.last?.action == "view_audit")
        let db = try DatabaseQueue(path: fixture.folder.appendingPathComponent("phm.sqlite").path)
        // An entry written after the last check is changed.
        _ = try ig.sharing()
        try db.write { try $0.execute(sql: "UPDATE audit SET detail = '{}' WHERE sequence = \(n + 6)") }
        let broken = try ig.auditReport(latest: 0).check
        #expect(!broken.whole && broken.verification.brokenPosition == n + 6)
        let again = try ig.auditReport(latest: 0).check
        #expect(again.whole && again.verification.brokenPosition == n + 6)
    }
}

/// A cohort query is audited when it is authorised, before any of it is worked out, and is
/// profiled only by the session it was authorised for.
@Test func aQueryIsProfiledByTheSessionItWasAuthorisedFor() throws {
    let fixture = try Fixture()
    let analyst = try fixture.session(.analyst, .planning)
    let clinician = try fixture.session(.clinician, .directCare)
    let query = try analyst.authorised(try Session.definition("age >= 75"))
    let audited = try fixture.platform.store.latestAuditEntries(1)
    #expect(audited.map(\.action) == ["query_cohort"] && audited.map(\.outcome) == ["allowed"])
    #expect(throws: AccessError.self) { try clinician.profile(query) }
    let refused = try fixture.platform.store.latestAuditEntries(1)
    #expect(refused.map(\.outcome) == ["denied"] && refused[0].detail.contains("authorised for another session"))
    let profiled = try analyst.profile(query).profile
    let queried = try analyst.query(try Session.definition("age >= 75")).profile
    #expect(profiled.size > 0 && profiled.size == queried.size && profiled.populationSize == queried.populationSize)
}

/// The audit page's entries are those its check read: the store's latest, the view's own entry
/// last. A longer list than the check keeps, or the entries of a broken log, are read from the store.
@Test func theAuditPageShowsTheEntriesItsCheckRead() throws {
    let fixture = try Fixture()
    let store = fixture.platform.store
    let ig = try fixture.session(.igLead, .administration)
    for _ in 0..<AuditCheckpoint.kept { _ = try ig.sharing() }
    #expect(try ig.auditReport(latest: -1).latest.isEmpty)
    for count in [0, 3, AuditCheckpoint.kept, AuditCheckpoint.kept + 50] {
        let report = try ig.auditReport(latest: count)
        #expect(report.latest == (try store.latestAuditEntries(count)))
        #expect(report.latest.last?.action == (count == 0 ? nil : "view_audit"))
        #expect(report.check.latest?.count == AuditCheckpoint.kept)
    }
    _ = try ig.sharing()
    let db = try DatabaseQueue(path: fixture.folder.appendingPathComponent("phm.sqlite").path)
    try db.write { try $0.execute(sql: "UPDATE audit SET detail = '{}' WHERE sequence = (SELECT max(sequence) FROM audit)") }
    let broken = try ig.auditReport(latest: 5)
    #expect(broken.check.latest == nil && broken.check.verification.brokenPosition != nil)
    #expect(broken.latest == (try store.latestAuditEntries(5)))
    #expect(broken.latest.contains { $0.action == "manage_sharing" && $0.detail == "{}" })
}

extension AuditVerification {
    var brokenPosition: Int? {
        if case .broken(let position, _, _) = self { return position }
        return nil
    }
}

@Suite struct DemoUserTests {
    @Test func demoUsersOneOfEachRoleOnlyInAnEmptyDataDirectory() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FrameFile.save(randomFrame(200, seed: 2), dataDirectory: folder)
        try FrameFile.commit(run: 1, dataDirectory: folder)
        let platform = try Platform(dataDirectory: folder, hasher: PasswordHasher(logN: 4))
        let users = try platform.createDemoUsers(practiceCode: "P3")
        #expect(Set(users.map(\.role)) == Set(Role.allCases))
        for user in users {
            for purpose in AccessPolicy.purposes(of: user.role) {
                let session = try platform.login(user.name, password: user.password, purpose: purpose)
                #expect(session.user.role == user.role)
                #expect(session.user.practiceCode == (user.role == .clinician ? "P3" : nil))
            }
        }
        #expect(Set(users.map(\.password)).count == users.count)
        #expect(throws: AccessError.alreadySetUp) { try platform.createDemoUsers(practiceCode: "P3") }
    }
}
