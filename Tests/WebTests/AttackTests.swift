import Foundation
import Governance
import Hummingbird
import HummingbirdTesting
import PHMCore
import Service
import Storage
import TestSupport
import Testing

@testable import Cohorts
@testable import Web

/// What a hostile user sends, against the in-process server: every request gets a 4xx or 5xx
/// answer, the process stays up, and the next ordinary request is served.
@Suite struct AttackTests {
    /// Signs in through the API and returns bearer headers.
    func signIn(_ client: some TestClientProtocol, _ user: String = "ana", _ purpose: String = "planning") async throws
        -> HTTPFields
    {
        try await bearer(client, user, purpose)
    }

    func profile(_ client: some TestClientProtocol, _ headers: HTTPFields, _ definition: String) async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["definition": definition])
        return try await client.execute(
            uri: "/api/cohorts/profile", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    @Test func formBodiesThatOnceCrashedTheServer() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            for body in ["=", "&", "==", "=&=", "%", "%zz=%", "a=%E2%82", "&&&=x&", String(repeating: "=&", count: 5_000)] {
                let response = try await client.execute(
                    uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == .forbidden, "\(body.prefix(20))")
            }
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func formParsingIsTotalOnRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("=&%+ab0F\u{0}\u{202E}é".unicodeScalars)
        for _ in 0..<2_000 {
            let text = String(
                String.UnicodeScalarView(
                    (0..<Int.random(in: 0..<40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
            _ = Form(text)
        }
        #expect(Form("a=1&b&=2&a=3").fields == ["a": "1", "b": "", "": "2"])
        #expect(Form("x=%41%zz+y").fields == ["x": "%41%zz y"])
        #expect(Form("x=%41+%42").fields == ["x": "A B"])
    }

    @Test func definitionsPastTheLimitsAreRefusedQuickly() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let headers = try await signIn(client)
            let attacks: [(String, String)] = [
                ("condition diabetes within 100000000 months", "at most 1200 months"),
                ("condition diabetes within 100000000 years", "at most 100 years"),
                ("condition diabetes within 99999999999999999999999 months", "whole number"),
                (String(repeating: "(", count: 20_000) + "age > 1" + String(repeating: ")", count: 20_000), "longer than"),
                (String(repeating: "(", count: 5_000) + "age > 1" + String(repeating: ")", count: 5_000), "nested more than 32"),
                (String(repeating: "not ", count: 4_900) + "age > 1", "nested more than 32"),
                ((1...300).map { "age > \($0)" }.joined(separator: " and "), "more than 200"),
                ("at least 40 of (" + (1...40).map { "age > \($0)" }.joined(separator: ", ") + ")", "too wide"),
                ("sex in (" + (1...2_001).map { "v\($0)" }.joined(separator: ", ") + ")", "more than 2000 values"),
            ]
            for (definition, message) in attacks {
                let response = try await profile(client, headers, definition)
                #expect(response.status == .badRequest, "\(definition.prefix(40))")
                #expect(response.text.contains(message), "\(definition.prefix(40)): \(response.text.prefix(200))")
            }
            // JSON nested far beyond the limit never reaches the JSON parser's recursion.
            let deep =
                #"{"definition": "# + String(repeating: #"{"not": "#, count: 50_000) + #"{"age": {"above": 1}}"#
                + String(repeating: "}", count: 50_001)
            let response = try await client.execute(
                uri: "/api/cohorts/profile", method: .post, headers: headers, body: ByteBuffer(string: deep))
            #expect(response.status == .badRequest || response.status == .contentTooLarge)
            // A definition within every limit still works.
            let fine = try await profile(client, headers, String(repeating: "not ", count: 30) + "age > 1")
            #expect(fine.status == .ok)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func parsingIsLinearInTheDefinition() throws {
        // 199 criteria in one chain, and 16 levels of nesting: both parse, and each node's
        // position is kept once (a tree shaped like the definition), not copied at every level.
        let flat = (1...199).map { "age > \($0)" }.joined(separator: " and ")
        let nested = String(repeating: "not (", count: 16) + "age > 1" + String(repeating: ")", count: 16)
        for text in [flat, nested] {
            let definition = try CohortText.parse(text)
            #expect(CohortText.format(definition.expression).contains("age > 1"))
            func positions(_ w: CohortDefinition.Written) -> Int { 1 + w.children.map(positions).reduce(0, +) }
            func nodes(_ e: CohortExpression) -> Int { 1 + e.children.map(nodes).reduce(0, +) }
            #expect(positions(try #require(definition.written)) == nodes(definition.expression))
        }
        // Positions are still found at every depth.
        let definition = try CohortText.parse("age > 1 and not (sex = female or condition nothing)")
        let error = #expect(throws: CohortError.self) { try CohortQuery(definition, frame: randomFrame(10, seed: 1)) }
        #expect(error?.position == "line 1, column 34")
    }

    @Test func busyServerRefusesAtOnceAndEvaluationStopsAtItsDeadline() async throws {
        let fixture = try Fixture()
        // No time at all: the evaluation refuses rather than running on.
        let sessions = WebSessions(platform: fixture.platform)
        let (token, _) = try sessions.start(try fixture.session(.analyst, .planning))
        let headers: HTTPFields = [.authorization: "Bearer " + token, .contentType: "application/json"]
        let router = WebApp.router(platform: fixture.platform, sessions: sessions, heavy: HeavyWork(running: 1, budget: .zero))
        try await Application(router: router).test(.router) { client in
            let response = try await profile(client, headers, "age > 1")
            #expect(response.status == .serviceUnavailable || response.text.contains("took too long"))
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
        // A full queue refuses at once with Retry-After, and /health still answers.
        let heavy = HeavyWork(running: 1, admitted: 1)
        let gate = DispatchSemaphore(value: 0)
        let blocker = Task { try await heavy.run { _ in gate.wait() } }
        try await Task.sleep(for: .milliseconds(50))
        await #expect(throws: HeavyWork.Busy.self) { try await heavy.run { _ in 1 } }
        gate.signal()
        try await blocker.value
        #expect(try await heavy.run { _ in 2 } == 2)
    }

    /// Heavy work holds every worker: `/health`, pages and sign-in pages are still served, because
    /// only cohort work waits for a worker; a cohort request beyond the queue is refused with 503.
    @Test func healthAnswersWhileHeavyWorkersAreBusy() async throws {
        let fixture = try Fixture()
        let sessions = WebSessions(platform: fixture.platform)
        let (token, _) = try sessions.start(try fixture.session(.analyst, .planning))
        let headers: HTTPFields = [.authorization: "Bearer " + token, .contentType: "application/json"]
        let heavy = HeavyWork(running: 1, admitted: 1)
        let gate = DispatchSemaphore(value: 0)
        let blocker = Task { try await heavy.run { _ in gate.wait() } }
        try await Task.sleep(for: .milliseconds(50))
        let router = WebApp.router(platform: fixture.platform, sessions: sessions, heavy: heavy)
        try await Application(router: router).test(.router) { client in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/login", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/cohorts", method: .get, headers: headers).status == .ok)
            let refused = try await profile(client, headers, "age > 1")
            #expect(refused.status == .serviceUnavailable && refused.headers[.retryAfter] == "5")
        }
        // Refused before it was audited: no query is recorded as allowed that never ran.
        let audited = try fixture.session(.igLead, .administration).auditReport(latest: 10_000).latest
        #expect(!audited.isEmpty && !audited.contains { $0.detail.contains("age > 1") })
        gate.signal()
        try await blocker.value
    }

    @Test func dayArithmeticNeverOverflows() {
        let day = Day(iso: "2025-03-31")!
        #expect(day.adding(months: -100_000_000) == .earliest && day.adding(months: Int.max) == .latest)
        #expect(day.adding(months: Int.min) == .earliest)
        #expect(day.adding(days: Int.max) == .latest && day.adding(days: Int.min) == .earliest)
        #expect(Day.max.adding(days: 1) == .max && Day.max.adding(months: 1) == .latest)
        #expect(Day(year: 20_000, month: 1, day: 1) == nil && Day(year: Int.max, month: 1, day: 1) == nil)
        #expect(day.adding(months: 1) == Day(iso: "2025-04-30"))
    }
}

/// Sessions end when their user changes, and after 12 hours however busy.
@Suite struct SessionLifetimeTests {
    @Test func sessionsEndWhenTheirUserChangesOrGrowsOld() throws {
        let fixture = try Fixture()
        let sessions = WebSessions(platform: fixture.platform)
        let start = Date()
        let (analyst, _) = try sessions.start(try fixture.session(.analyst, .planning))
        let (clinician, _) = try sessions.start(try fixture.session(.clinician, .directCare))
        #expect(sessions.find(analyst, now: start.addingTimeInterval(2)) != nil)
        // The administrator deactivates the analyst and moves the clinician to another practice.
        let admin = try fixture.session(.admin, .administration)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: nil, active: false)
        try admin.setUser("cli", role: .clinician, practiceCode: "P4", password: nil)
        // At their next request both sessions are gone for good, and the analyst made active again
        // with the same role and password does not get the old session back.
        #expect(sessions.find(analyst, now: start.addingTimeInterval(4)) == nil)
        #expect(sessions.find(clinician, now: start.addingTimeInterval(4)) == nil)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: nil, active: true)
        #expect(sessions.find(analyst, now: start.addingTimeInterval(5)) == nil)
        // Deactivated and made active again between two requests: the session ended all the same.
        let (again, _) = try sessions.start(try fixture.session(.analyst, .planning))
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: nil, active: false)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: nil, active: true)
        #expect(sessions.find(again, now: start.addingTimeInterval(6)) == nil)
        // The store holds neither the token nor the CSRF token that would open a session.
        let (kept, csrf) = try sessions.start(try fixture.session(.igLead, .administration))
        for file in ["phm.sqlite", "phm.sqlite-wal"] {
            let bytes = (try? Data(contentsOf: fixture.platform.dataDirectory.appendingPathComponent(file))) ?? Data()
            #expect(bytes.range(of: Data(kept.utf8)) == nil && bytes.range(of: Data(csrf.utf8)) == nil, "\(file)")
        }
        // Idle for 30 minutes a session ends; kept busy, every 20 minutes, it lives until 12 hours
        // after sign-in and not a request longer.
        #expect(sessions.find(kept, now: Date().addingTimeInterval(WebSessions.lifetime + 1)) == nil)
        let (ig, _) = try sessions.start(try fixture.session(.igLead, .administration))
        let signedIn = Date()
        var now = signedIn
        while true {
            now = now.addingTimeInterval(20 * 60)
            let alive = sessions.find(ig, now: now) != nil
            #expect(alive == (now.timeIntervalSince(signedIn) < WebSessions.maximumAge), "\(now.timeIntervalSince(signedIn))")
            if !alive || now.timeIntervalSince(signedIn) > WebSessions.maximumAge + 3600 { break }
        }
        #expect(sessions.find(ig, now: now) == nil)
    }
}

@Suite struct LinkageReviewAttackTests {
    /// The review forms with hostile numbers and text: every answer is a page (shown or
    /// refused), nothing is judged, and the server goes on serving.
    @Test func reviewFormsAreTotal() async throws {
        let fixture = try Fixture()
        let vault = try IdentityVault(directory: fixture.folder.appendingPathComponent("vault"))
        try await fixture.app.test(.router) { client in
            let (cookie, token) = try await signIn(client, "rev", "administration")
            let numbers = [
                "", "-1", "0", "1", "2", "-9223372036854775808", "9223372036854775807", "99999999999999999999", "1e9", "NaN",
                "0x10", " 1", "1\u{0}", "\u{202E}1", String(repeating: "9", count: 10_000),
            ]
            var rng = Xoshiro(seed: 9)
            for _ in 0..<300 {
                let pick = { numbers[rng.int(0..<numbers.count)] }
                let fields = [
                    "csrf": token, "offset": pick(), "run": pick(), "pair": pick(), "candidate": pick(),
                    "judgement": ["same", "different", "", "SAME", "same\u{0}", String(repeating: "x", count: 5_000)][
                        rng.int(0..<6)],
                ]
                // A valid run, pair and candidate never come together: nothing is judged.
                guard !(fields["run"] == "\(fixture.frame.runId)" && ["1", "2"].contains(fields["pair"]!)) else { continue }
                for path in ["/linkage-review/open", "/linkage-review/judge"] {
                    let response = try await client.execute(
                        uri: path, method: .post, headers: formHeaders(cookie), body: form(fields))
                    #expect([.ok, .badRequest].contains(response.status), "\(path) \(fields)")
                }
            }
            #expect(try vault.reviewDecisions().isEmpty)
            #expect(try await client.execute(uri: "/linkage-review", method: .get, headers: [.cookie: cookie]).status == .ok)
        }
    }
}
