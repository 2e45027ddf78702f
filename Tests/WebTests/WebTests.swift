import Cohorts
import Foundation
import Governance
import Hummingbird
import HummingbirdTesting
import Logging
import PHMCore
import Service
import Storage
import TestSupport
import Testing

@testable import Web

extension Fixture {
    var app: some ApplicationProtocol { WebApp.make(platform: platform, logger: quietLogger, watching: false) }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    /// `name=value` of a Set-Cookie header, and the whole header.
    func cookie(_ name: String) -> (pair: String, header: String)? {
        for header in headers[values: .setCookie] where header.hasPrefix(name + "=") {
            return (String(header.prefix { $0 != ";" }), header)
        }
        return nil
    }
}

/// The hidden CSRF field of a page.
func csrf(in page: String) -> String {
    let marker = "name=\"csrf\" value=\""
    let start = page.range(of: marker)!.upperBound
    return String(page[start...].prefix { $0 != "\"" })
}

func form(_ fields: [String: String]) -> ByteBuffer {
    ByteBuffer(
        string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&"))
}

@Suite struct WebTests {
    @Test func healthAndSecurityHeaders() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text == #"{"status":"ok","run":1}"#)
                let csp = try #require(response.headers[.contentSecurityPolicy])
                #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"))
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
            }
            // Every answer carries the headers, refusals included (OWASP ASVS 14.4), and no CORS
            // header lets another origin read it; API answers are never rendered in place.
            for (uri, status) in [
                ("/health", HTTPResponse.Status.ok), ("/no-such-page", .notFound), ("/api/units", .unauthorized),
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == status, "\(uri)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(uri)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                    #expect(response.headers[.init("X-Frame-Options")!] == "DENY", "\(uri)")
                    #expect(response.headers[.init("Referrer-Policy")!] == "no-referrer", "\(uri)")
                    #expect(response.headers[.cacheControl] == "no-store", "\(uri)")
                    #expect(response.headers[.strictTransportSecurity]?.hasPrefix("max-age=") == true, "\(uri)")
                    #expect(response.headers[.accessControlAllowOrigin] == nil, "\(uri)")
                    #expect((response.headers[.contentDisposition] != nil) == uri.hasPrefix("/api/"), "\(uri)")
                }
            }
            // Pages need a session.
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
        }
    }

    @Test func loginNeedsItsFormTokenAndSetsASecureCookie() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let login = try await client.execute(uri: "/login", method: .get)
            let token = csrf(in: login.text)
            let loginCookie = try #require(login.cookie(WebSessions.loginCookie))
            let contentType: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            var headers = contentType
            headers[.cookie] = loginCookie.pair
            // Without the token from the form: refused.
            let forged = try await client.execute(
                uri: "/login", method: .post, headers: headers,
                body: form(["user": "ana", "password": Fixture.password, "purpose": "planning", "csrf": "x"]))
            #expect(forged.status == .forbidden && forged.cookie(WebSessions.cookie) == nil)
            // A wrong password: refused and audited.
            let wrong = try await client.execute(
                uri: "/login", method: .post, headers: headers,
                body: form(["user": "ana", "password": "not the password", "purpose": "planning", "csrf": token]))
            #expect(wrong.status == .unauthorized && wrong.text.contains("login failed"))
            // The right one: a session cookie no script can read, sent only to this site over HTTPS.
            let ok = try await client.execute(
                uri: "/login", method: .post, headers: headers,
                body: form(["user": "ana", "password": Fixture.password, "purpose": "planning", "csrf": token]))
            #expect(ok.status == .seeOther)
            let session = try #require(ok.cookie(WebSessions.cookie))
            for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] { #expect(session.header.contains(attribute)) }
            // A `__Host-` cookie: kept by a browser only as set for this host, so no other host can plant one.
            #expect(session.pair.hasPrefix("__Host-") && !session.header.lowercased().contains("domain="))

            var signedIn = contentType
            signedIn[.cookie] = session.pair
            // Home is the first page of the role's menu.
            let home = try await client.execute(uri: "/", method: .get, headers: signedIn)
            #expect(home.status == .seeOther && home.headers[.location] == "/overview")
            // A cohort through the form: suppressed for planning, and never a pseudonym on the page.
            let page = try await client.execute(uri: "/cohorts", method: .get, headers: signedIn)
            #expect(page.text.contains("ana (analyst, planning)"))
            // The live count's script: the project's own, from this site, and the place it writes to.
            #expect(page.text.contains(#"<script src="/app.js" defer></script>"#) && page.text.contains(#"id="live-count""#))
            let script = try await client.execute(uri: "/app.js", method: .get)
            #expect(script.status == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("/api/cohorts/profile") && script.text.contains("X-CSRF-Token"))
            let sessionToken = csrf(in: page.text)
            let noToken = try await client.execute(
                uri: "/cohorts", method: .post, headers: signedIn, body: form(["definition": "age >= 65"]))
            #expect(noToken.status == .forbidden)
            let result = try await client.execute(
                uri: "/cohorts", method: .post, headers: signedIn,
                body: form(["definition": "age >= 65", "csrf": sessionToken]))
            #expect(result.status == .ok && result.text.contains("Counts of 1 to 7 are suppressed"))
            #expect(!fixture.frame.pseudonym.prefix(500).contains { result.text.contains($0) })
            let mistake = try await client.execute(
                uri: "/cohorts", method: .post, headers: signedIn,
                body: form(["definition": "condition depresion", "csrf": sessionToken]))
            #expect(mistake.status == .badRequest && mistake.text.contains("did you mean &#39;depression&#39;"))

            // The API: the same session, the token in a header.
            var api: HTTPFields = [.contentType: "application/json", .cookie: session.pair]
            let refused = try await client.execute(
                uri: "/api/cohorts/profile", method: .post, headers: api,
                body: ByteBuffer(string: #"{"definition": "age >= 65"}"#))
            #expect(refused.status == .forbidden)
            api[.init("X-CSRF-Token")!] = sessionToken
            let json = try await client.execute(
                uri: "/api/cohorts/profile", method: .post, headers: api,
                body: ByteBuffer(string: #"{"definition": {"age": {"at_least": 65}}}"#))
            #expect(json.status == .ok)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.body.readableBytesView)) as? [String: Any])
            let expected = (0..<fixture.frame.count).filter { fixture.frame.age[$0] >= 65 && !fixture.frame.optedOut[$0] }.count
            // Rounded to a neighbouring multiple of 5 by its cell key.
            #expect([expected / 5 * 5, expected / 5 * 5 + 5].contains(object["size"] as? Int ?? -1))
            #expect(object["suppressed"] as? Bool == true)

            // Signing out ends the session.
            _ = try await client.execute(uri: "/logout", method: .post, headers: signedIn, body: form(["csrf": sessionToken]))
            let after = try await client.execute(uri: "/", method: .get, headers: signedIn)
            #expect(after.status == .seeOther && after.headers[.location] == "/login")
            let afterAPI = try await client.execute(uri: "/api/units", method: .get, headers: signedIn)
            #expect(afterAPI.status == .unauthorized)
        }
        let log = try GovernanceStore(directory: fixture.folder, key: fixture.key).auditEntries()
        #expect(log.contains { $0.action == "login" && $0.outcome == "denied" && $0.user == "ana" })
        #expect(log.contains { $0.action == "query_cohort" && $0.user == "ana" })
    }
}

/// Signs in through the form and returns the cookie header and the session's CSRF token.
/// Headers for posting a form as a signed-in browser.
func formHeaders(_ cookie: String) -> HTTPFields {
    [.contentType: "application/x-www-form-urlencoded", .cookie: cookie]
}

func signIn(_ client: some TestClientProtocol, _ user: String, _ purpose: String) async throws -> (cookie: String, csrf: String) {
    let login = try await client.execute(uri: "/login", method: .get)
    let headers: HTTPFields = [
        .contentType: "application/x-www-form-urlencoded", .cookie: login.cookie(WebSessions.loginCookie)!.pair,
    ]
    let ok = try await client.execute(
        uri: "/login", method: .post, headers: headers,
        body: form(["user": user, "password": Fixture.password, "purpose": purpose, "csrf": csrf(in: login.text)]))
    let cookie = ok.cookie(WebSessions.cookie)!.pair
    let page = try await client.execute(uri: "/cohorts", method: .get, headers: [.cookie: cookie])
    return (cookie, csrf(in: page.text))
}

@Suite struct WorklistPageTests {
    @Test func clinicianSavesACohortOpensTheWorklistAndRecordsAStatus() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let (cookie, token) = try await signIn(client, "cli", "direct_care")
            let headers = formHeaders(cookie)
            let saved = try await client.execute(
                uri: "/cohorts/save", method: .post, headers: headers,
                body: form(["name": "older", "definition": "age >= 70", "csrf": token]))
            #expect(saved.status == .ok && saved.text.contains("Saved older version 1"))
            let choose = try await client.execute(uri: "/worklists", method: .get, headers: headers)
            #expect(choose.text.contains("older: age &gt;= 70"))
            let list = try await client.execute(
                uri: "/worklists/open", method: .post, headers: headers,
                body: form(["cohort": "older", "reason": "frailty review", "csrf": token]))
            #expect(list.status == .ok)
            let p3 = Int32(fixture.frame.hierarchy.practices.firstIndex { $0.code == "P3" }!)
            let rows = (0..<fixture.frame.count).filter { fixture.frame.practice[$0] == p3 && fixture.frame.age[$0] >= 70 }
            #expect(list.text.contains("of \(rows.count) people at P3"))
            // Fifty to a page: every person at the practice is named on exactly one page.
            var pages = [list.text]
            for offset in stride(from: Pages.worklistPage, to: rows.count, by: Pages.worklistPage) {
                #expect(
                    pages.last!.contains(
                        "<input type=\"hidden\" name=\"offset\" value=\"\(offset)\"><button type=\"submit\">Next 50"))
                let next = try await client.execute(
                    uri: "/worklists/open", method: .post, headers: headers,
                    body: form(["cohort": "older", "reason": "frailty review", "csrf": token, "offset": "\(offset)"]))
                pages.append(next.text)
            }
            #expect(rows.count > Pages.worklistPage && pages.count > 1)
            #expect(rows.allSatisfy { row in pages.filter { $0.contains("Given\(row) Family<") }.count == 1 })
            let first = fixture.frame.pseudonym[rows[0]]
            let updated = try await client.execute(
                uri: "/worklists/open", method: .post, headers: headers,
                body: form([
                    "cohort": "older", "reason": "frailty review", "csrf": token, "pseudonym": first, "status": "enrolled",
                    "note": "booked",
                ]))
            #expect(updated.text.contains("value=\"booked\""))
            #expect(updated.text.contains("<option value=\"enrolled\" selected>"))
            // The audit page is the IG lead's, not the clinician's.
            let audit = try await client.execute(uri: "/audit", method: .get, headers: headers)
            #expect(audit.status == .forbidden)
        }
        try await fixture.app.test(.router) { client in
            let (cookie, igToken) = try await signIn(client, "ig", "administration")
            let audit = try await client.execute(uri: "/audit", method: .get, headers: [.cookie: cookie])
            #expect(audit.status == .ok && audit.text.contains("intact:") && audit.text.contains("view_worklist"))
            #expect(!audit.text.contains("Given"))
            // The first view checks the whole log; the next only what was written since (the
            // one entry recording the first view), until the whole log is checked again on demand.
            #expect(audit.text.contains("Checked from the first entry just now."))
            let again = try await client.execute(uri: "/audit", method: .get, headers: [.cookie: cookie])
            #expect(again.text.contains("this view checked the 1 entry written since"))
            let forged = try await client.execute(
                uri: "/audit/verify", method: .post, headers: formHeaders(cookie), body: form(["csrf": "forged"]))
            #expect(forged.status == .forbidden)
            let whole = try await client.execute(
                uri: "/audit/verify", method: .post, headers: formHeaders(cookie), body: form(["csrf": igToken]))
            #expect(whole.status == .ok && whole.text.contains("intact:") && whole.text.contains("Checked from the first entry"))
            // An analyst cannot open worklists at all.
            let (analyst, token) = try await signIn(client, "ana", "planning")
            let refused = try await client.execute(
                uri: "/worklists/open", method: .post,
                headers: formHeaders(analyst),
                body: form(["cohort": "older", "reason": "curious", "csrf": token]))
            #expect(refused.status == .forbidden && !refused.text.contains("Given"))
        }
    }
}

@Suite struct LinkageReviewPageTests {
    /// The linkage reviewer sees the queue's size, then pairs side by side (only through a
    /// form), judges one, and nobody else can; every view and judgement is audited, by pair and
    /// pseudonym, never by name.
    @Test func reviewerJudgesPairsSideBySideAndNobodyElseSeesThem() async throws {
        let fixture = try Fixture()
        let vault = try IdentityVault(directory: fixture.folder.appendingPathComponent("vault"))
        let person = fixture.frame.pseudonym[2]
        try await fixture.app.test(.router) { client in
            let (cookie, token) = try await signIn(client, "rev", "administration")
            let headers = formHeaders(cookie)
            let queue = try await client.execute(uri: "/linkage-review", method: .get, headers: [.cookie: cookie])
            #expect(queue.status == .ok && queue.text.contains("2 care record identities of run \(fixture.frame.runId)"))
            #expect(queue.text.contains("<a href=\"/linkage-review\">Linkage review</a>") && !queue.text.contains("GIVEN"))
            let page = try await client.execute(
                uri: "/linkage-review/open", method: .post, headers: headers, body: form(["csrf": token, "offset": "0"]))
            #expect(page.status == .ok && page.text.contains("Pair 1: 1 record</h2>") && page.text.contains("<td>C1</td>"))
            // Neither the source's kind of care nor a pseudonym is shown beside a name.
            #expect(!page.text.contains("care_contacts") && !page.text.contains(person))
            #expect(
                page.text.contains("Pair 2: 2 records, linked by NHS number though")
                    && page.text.contains("Person 1: 90.0% likely"))
            #expect(page.text.contains("GIVEN0 <span class=\"meta\">(Jaro-Winkler 0.92+)</span>"))
            func judge(_ fields: [String: String]) async throws -> TestResponse {
                var body = ["csrf": token, "run": "\(fixture.frame.runId)", "pair": "1", "candidate": "0", "offset": "0"]
                body.merge(fields) { _, new in new }
                return try await client.execute(uri: "/linkage-review/judge", method: .post, headers: headers, body: form(body))
            }
            let judged = try await judge(["judgement": "same"])
            #expect(judged.status == .ok && judged.text.contains("Judged the same person by rev"))
            // Not a candidate of the pair, a queue since replaced, no judgement, a forged form: refused.
            for bad in [["candidate": "2"], ["candidate": "-1"], ["run": "\(fixture.frame.runId + 1)"], ["pair": "99"]] {
                let refused = try await judge(bad.merging(["judgement": "different"]) { a, _ in a })
                #expect(refused.status == .badRequest && refused.text.contains("not in the review queue as shown"), "\(bad)")
            }
            for bad in [["judgement": "maybe"], ["judgement": "same", "candidate": "99999999999999999999999"]] {
                #expect(try await judge(bad).status == .badRequest)
            }
            #expect(try await judge(["judgement": "different", "csrf": "forged"]).status == .forbidden)
            var decisions = try vault.reviewDecisions()
            #expect(decisions.count == 1 && decisions[0].same && decisions[0].person == person && decisions[0].reviewer == "rev")
            // The same record judged the same as the other person: that judgement replaces the first.
            #expect(try await judge(["judgement": "same", "candidate": "1"]).status == .ok)
            decisions = try vault.reviewDecisions()
            #expect(decisions.count == 1 && decisions[0].person == fixture.frame.pseudonym[3])
        }
        try await fixture.app.test(.router) { client in
            for (user, purpose) in [
                ("ana", "planning"), ("cli", "direct_care"), ("ig", "administration"), ("adm", "administration"),
            ] {
                let (cookie, token) = try await signIn(client, user, purpose)
                let queue = try await client.execute(uri: "/linkage-review", method: .get, headers: [.cookie: cookie])
                #expect(queue.status == .forbidden && !queue.text.contains("href=\"/linkage-review\""), "\(user)")
                let page = try await client.execute(
                    uri: "/linkage-review/open", method: .post, headers: formHeaders(cookie),
                    body: form(["csrf": token, "offset": "0"]))
                #expect(page.status == .forbidden && !page.text.contains("GIVEN"), "\(user)")
            }
        }
        let entries = try GovernanceStore(directory: fixture.folder, key: fixture.key).auditEntries().filter {
            $0.action == "review_linkage"
        }
        let shown = try #require(entries.first { $0.user == "rev" && $0.detail.contains("\"pairs\":[1,2]") })
        #expect(shown.detail.contains(fixture.frame.pseudonym[2]) && shown.detail.contains(fixture.frame.pseudonym[5]))
        let judged = try #require(
            entries.first { $0.user == "rev" && $0.detail.contains("\"judgement\":\"same\"") && $0.outcome == "allowed" })
        #expect(judged.detail.contains("\"record\":\"C1\"") && judged.detail.contains(person))
        #expect(entries.filter { $0.outcome == "refused" }.count == 4)
        #expect(entries.filter { $0.outcome == "denied" }.count == 8)
        #expect(!entries.contains { $0.detail.contains("GIVEN") || $0.detail.contains("FAMILY") })
    }
}
