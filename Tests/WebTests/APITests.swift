import Analysis
import Cohorts
import Foundation
import Governance
import Hummingbird
import HummingbirdTesting
import Logging
import PHMCore
import Service
import TestSupport
import Testing

@testable import Web

func object(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

/// Signs in through the API and returns the bearer header.
func bearer(_ client: some TestClientProtocol, _ user: String, _ purpose: String) async throws -> HTTPFields {
    let response = try await client.execute(
        uri: "/api/sessions", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"user": "\#(user)", "password": "\#(Fixture.password)", "purpose": "\#(purpose)"}"#))
    #expect(response.status == .created)
    let token = try #require(try object(response)["token"] as? String)
    return [.authorization: "Bearer " + token, .contentType: "application/json"]
}

@Suite struct APITests {
    /// The OpenAPI document is valid OpenAPI 3.1 (checked by openapi-spec-validator) and names
    /// exactly the API routes the router serves.
    @Test func openAPIDocumentIsValidAndMatchesTheRoutes() async throws {
        let fixture = try Fixture()
        let router = WebApp.router(platform: fixture.platform, sessions: WebSessions(platform: fixture.platform))
        let served = Set(
            router.routes.map { "\($0.method.rawValue) \($0.path)" }.filter {
                $0.contains(" /api/") || $0.contains(" /health") || $0.hasSuffix(" /metrics") || $0.hasSuffix(" /openapi.json")
            })
        let url = WebApp.openAPIDocument
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let described = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        #expect(
            described == served, "only described: \(described.subtracting(served)); only served: \(served.subtracting(described))"
        )
        #expect(served.count >= 14)

        let check = try runProgram([
            crossCheckPython, "-c",
            "import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; validate(read_from_filename(sys.argv[1])[0]); print('valid')",
            url.path,
        ])
        #expect(check.status == 0 && check.output.contains("valid"), Comment(rawValue: check.errors))
    }

    /// FHIR is served when the Accept header ranks it above plain JSON, and only then.
    @Test func acceptChoosesFHIROnlyWhenPreferred() {
        for (accept, fhir) in [
            (["application/fhir+json"], true), (["Application/FHIR+JSON; fhirVersion=4.0"], true),
            (["application/fhir+json, */*;q=0.8"], true), (["application/fhir+json, */*"], true),
            (["application/json", "application/fhir+json;q=0.9"], false), (["application/fhir+json;q=0"], false),
            (["application/json, application/fhir+json"], false), (["application/json;q=0.5, application/fhir+json"], true),
            (["*/*"], false), ([], false), (["application/fhir+json;q=nonsense"], false), (["text/html"], false),
        ] {
            #expect(WebApp.prefersFHIR(accept) == fhir, "\(accept)")
        }
        // Hostile headers: odd qualities, a megabyte of ranges, parameters without end.
        #expect(!WebApp.prefersFHIR(["application/fhir+json;q=nan"]))
        #expect(WebApp.prefersFHIR(["application/fhir+json;q=1e308"]))
        #expect(!WebApp.prefersFHIR([String(repeating: "*/*;q=1,", count: 125_000) + "application/fhir+json"]))
        #expect(!WebApp.prefersFHIR(["application/fhir+json" + String(repeating: ";q=0", count: 100_000)]))
    }

    /// Readiness is distinct from liveness: 503 until the server has got the newest run ready.
    @Test func readyOnlyOnceTheNewestRunIsPrepared() async throws {
        let fixture = try Fixture()
        let readiness = WebApp.Readiness()
        let router = WebApp.router(
            platform: fixture.platform, sessions: WebSessions(platform: fixture.platform), readiness: readiness)
        try await Application(router: router).test(.router) { client in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let preparing = try await client.execute(uri: "/health/ready", method: .get)
            #expect(preparing.status == .serviceUnavailable && String(buffer: preparing.body).contains("preparing"))
            readiness.markReady()
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok && String(buffer: ready.body).contains(#""status":"ready""#))
        }
    }

    @Test func bearerTokensThrottlingAndMetrics() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            // A script signs in and profiles a cohort with its bearer token: no CSRF token needed.
            let headers = try await bearer(client, "ana", "planning")
            let profile = try await client.execute(
                uri: "/api/cohorts/profile", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"definition": "age >= 65"}"#))
            let profiled = try object(profile)
            #expect(profile.status == .ok && profiled["suppressed"] as? Bool == true)
            // Saved cohorts through the API.
            let saved = try await client.execute(
                uri: "/api/cohorts", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"name": "older", "definition": {"age": {"at_least": 65}}}"#))
            let savedCohort = try object(saved)
            #expect(saved.status == .created && savedCohort["version"] as? Int == 1)
            let list = try object(try await client.execute(uri: "/api/cohorts", method: .get, headers: headers))
            #expect((list["cohorts"] as? [[String: Any]])?.first?["definition"] as? String == "age >= 65")
            // The analyst may not open a worklist or the audit log.
            let worklist = try await client.execute(
                uri: "/api/worklists", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"cohort": "older", "reason": "curious"}"#))
            #expect(worklist.status == .forbidden)
            #expect(try await client.execute(uri: "/api/audit", method: .get, headers: headers).status == .forbidden)
            // No token, a wrong token, a signed-out token: refused.
            #expect(try await client.execute(uri: "/api/cohorts", method: .get).status == .unauthorized)
            #expect(
                try await client.execute(uri: "/api/cohorts", method: .get, headers: [.authorization: "Bearer nope"]).status
                    == .unauthorized)
            #expect(try await client.execute(uri: "/api/sessions", method: .delete, headers: headers).status == .noContent)
            #expect(try await client.execute(uri: "/api/cohorts", method: .get, headers: headers).status == .unauthorized)

            // A clinician's worklist and a status change through the API.
            let clinician = try await bearer(client, "cli", "direct_care")
            _ = try await client.execute(
                uri: "/api/cohorts", method: .post, headers: clinician,
                body: ByteBuffer(string: #"{"name": "seventy", "definition": "age >= 70"}"#))
            let open = try await client.execute(
                uri: "/api/worklists", method: .post, headers: clinician,
                body: ByteBuffer(string: #"{"cohort": "seventy", "reason": "frailty review", "offset": 10, "limit": 20}"#))
            let opened = try object(open)
            let entries = try #require(opened["entries"] as? [[String: Any]])
            // The list says what ranks it: the frame's first outcome and its model, kept in the frame file.
            #expect(opened["ranked_by"] as? String == "risk of emergency_admission_12m, from test model")
            let p3 = Int32(fixture.frame.hierarchy.practices.firstIndex { $0.code == "P3" }!)
            let total = (0..<fixture.frame.count).filter { fixture.frame.practice[$0] == p3 && fixture.frame.age[$0] >= 70 }.count
            // Only the part asked for is re-identified: ranks 11 to 30 of the whole list.
            #expect(opened["total"] as? Int == total && total > 30)
            #expect(entries.count == 20 && entries.first?["rank"] as? Int == 11)
            #expect(entries.allSatisfy { ($0["given_name"] as? String)?.hasPrefix("Given") == true })
            // A clinical system asks for the same people as a FHIR Group: by NHS number, in rank order.
            var asFHIR = clinician
            asFHIR[.accept] = "application/fhir+json"
            let groupResponse = try await client.execute(
                uri: "/api/worklists", method: .post, headers: asFHIR,
                body: ByteBuffer(string: #"{"cohort": "seventy", "reason": "frailty review", "offset": 10, "limit": 20}"#))
            #expect(groupResponse.headers[.contentType]?.hasPrefix("application/fhir+json") == true)
            #expect(groupResponse.headers[.vary] == "Accept")
            let group = try object(groupResponse)
            let members = try #require(group["member"] as? [[String: Any]])
            let numbers = members.compactMap {
                (($0["entity"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String
            }
            #expect(group["resourceType"] as? String == "Group" && group["quantity"] as? Int == 20)
            #expect(group["id"] as? String == "worklist-seventy-v1-from-11")
            #expect((group["name"] as? String)?.hasSuffix("ranks 11 to 30 of \(total)") == true)
            #expect(numbers == entries.compactMap { $0["nhs_number"] as? String } && numbers.count == 20)
            let groupFile = FileManager.default.temporaryDirectory.appendingPathComponent("worklist-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: groupFile) }
            try Data(groupResponse.body.readableBytesView).write(to: groupFile)
            let validation = try validateFHIR([groupFile.path])
            #expect(validation.status == 0 && validation.output.contains("Group=1"), "\(validation.output)\(validation.errors)")
            // However many are asked for, one call re-identifies at most 100.
            _ = try await client.execute(
                uri: "/api/cohorts", method: .post, headers: clinician,
                body: ByteBuffer(string: #"{"name": "everyone", "definition": "age >= 0"}"#))
            let everyone = try object(
                try await client.execute(
                    uri: "/api/worklists", method: .post, headers: clinician,
                    body: ByteBuffer(string: #"{"cohort": "everyone", "reason": "registration check", "limit": 100000}"#)))
            #expect((everyone["total"] as? Int ?? 0) > 100 && (everyone["entries"] as? [Any])?.count == 100)
            let pseudonym = try #require(entries.first?["pseudonym"] as? String)
            let status = try await client.execute(
                uri: "/api/worklists/status", method: .post, headers: clinician,
                body: ByteBuffer(
                    string: #"{"cohort": "seventy", "pseudonym": "\#(pseudonym)", "status": "contacted", "note": "called"}"#))
            #expect(status.status == .ok)
            let bad = try await client.execute(
                uri: "/api/worklists/status", method: .post, headers: clinician,
                body: ByteBuffer(string: #"{"cohort": "seventy", "pseudonym": "\#(pseudonym)", "status": "maybe"}"#))
            let refusal = try object(bad)
            #expect(
                bad.status == .badRequest
                    && refusal["error"] as? String
                        == "unknown status 'maybe': one of to_contact, contacted, enrolled, declined, not_appropriate"
            )

            // The IG lead reads the verified log: the re-identification is there, no name is.
            let ig = try await bearer(client, "ig", "administration")
            let audit = try await client.execute(uri: "/api/audit?limit=5", method: .get, headers: ig)
            let log = try object(audit)
            #expect(log["intact"] as? Bool == true && (log["entries"] as? [[String: Any]])?.count == 5)
            #expect(!audit.text.contains("Given") && audit.text.contains("view_worklist"))
            // Checked whole the first time, then only the entry written since, or whole when asked.
            #expect(log["whole"] as? Bool == true)
            let since = try object(try await client.execute(uri: "/api/audit?limit=0", method: .get, headers: ig))
            #expect(since["whole"] as? Bool == false && since["checked"] as? Int == 1 && since["intact"] as? Bool == true)
            let whole = try object(try await client.execute(uri: "/api/audit?limit=0&whole=true", method: .get, headers: ig))
            #expect(whole["whole"] as? Bool == true && (whole["checked"] as? Int ?? 0) > 10)

            // Five wrong passwords for a name, then even the right one is refused until the window passes.
            for _ in 0..<LoginThrottle.perUser {
                let wrong = try await client.execute(
                    uri: "/api/sessions", method: .post,
                    body: ByteBuffer(string: #"{"user": "ana", "password": "guess", "purpose": "planning"}"#))
                #expect(wrong.status == .unauthorized)
            }
            let throttled = try await client.execute(
                uri: "/api/sessions", method: .post,
                body: ByteBuffer(string: #"{"user": "ana", "password": "\#(Fixture.password)", "purpose": "planning"}"#))
            #expect(throttled.status == .tooManyRequests && Int(throttled.headers[.retryAfter] ?? "") ?? 0 > 800)
            // Another user is not held up by the name's failures.
            _ = try await bearer(client, "cli", "planning")

            // Metrics count requests by route pattern and sign-ins by outcome, and carry no names.
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains(#"phm_logins_total{outcome="throttled"} 1"#))
            #expect(metrics.text.contains(#"phm_logins_total{outcome="denied"} 5"#))
            #expect(metrics.text.contains(#"route="/api/cohorts/profile",status="200"} 1"#))
            #expect(metrics.text.contains(#"phm_http_request_duration_seconds_count{route="/api/worklists"}"#))
            #expect(!metrics.text.contains("ana") && !metrics.text.contains(pseudonym))
            // The platform's gauges: sessions, and the vault's size on the embedded store.
            #expect(metrics.text.contains("\nphm_sessions_active ") && metrics.text.contains("\nphm_vault_bytes "))
        }
        let log = try fixture.platform.login("ig", password: Fixture.password, purpose: .administration).auditLog()
        #expect(log.contains { $0.action == "login" && $0.detail.contains("too many failed sign-ins") })
    }

    @Test func throttleCountsByNameAndAddressWithinTheWindow() throws {
        let throttle = LoginThrottle(platform: try Fixture().platform), start = Date()
        // Each reservation counts as a failure until it succeeds.
        for k in 0..<LoginThrottle.perUser {
            #expect(
                try throttle.reserve(user: k == 0 ? "Ana" : "ana", address: "10.0.0.1", now: start.addingTimeInterval(Double(k)))
                    == nil)
        }
        #expect(try throttle.reserve(user: "ANA", address: "10.0.0.2", now: start.addingTimeInterval(10)) == 890)
        #expect(try throttle.reserve(user: "ana", address: "10.0.0.2", now: start.addingTimeInterval(901)) == nil)
        // One address guessing many names.
        for k in 0..<LoginThrottle.perAddress { _ = try throttle.reserve(user: "user\(k)", address: "10.0.0.9", now: start) }
        #expect(try throttle.reserve(user: "someone", address: "10.0.0.9", now: start) != nil)
        // A success forgives the name and gives back its address's reservation.
        let at = start.addingTimeInterval(902)
        #expect(try throttle.reserve(user: "bo", address: "10.0.0.3", now: at) == nil)
        try throttle.succeeded(user: "bo", address: "10.0.0.3", reserved: at)
        for k in 0..<LoginThrottle.perAddress {
            #expect(try throttle.reserve(user: "u\(k)", address: "10.0.0.3", now: at) == nil)
        }
        // An attempt that was no guess (a busy server) is taken back alone: the name's earlier
        // failures still count.
        let later = start.addingTimeInterval(2000)
        for k in 0..<(LoginThrottle.perUser - 1) {
            #expect(try throttle.reserve(user: "cy", address: "10.0.1.\(k)", now: later) == nil)
        }
        #expect(try throttle.reserve(user: "cy", address: "10.0.2.1", now: later.addingTimeInterval(1)) == nil)
        try throttle.withdraw(user: "cy", address: "10.0.2.1", reserved: later.addingTimeInterval(1))
        #expect(try throttle.reserve(user: "cy", address: "10.0.2.2", now: later.addingTimeInterval(2)) == nil)
        #expect(try throttle.reserve(user: "cy", address: "10.0.2.3", now: later.addingTimeInterval(3)) != nil)
    }

    /// Twelve wrong passwords sent at once: the reservation is taken before the password hash, so
    /// no more than the limit are checked and the rest are refused with 429.
    @Test func concurrentWrongPasswordsAreThrottledAtTheLimit() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await client.execute(
                            uri: "/api/sessions", method: .post, headers: [.contentType: "application/json"],
                            body: ByteBuffer(string: #"{"user":"ana","password":"wrong","purpose":"planning"}"#)
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == LoginThrottle.perUser)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 12 - LoginThrottle.perUser)
        }
    }
}

@Suite struct JSONValueTests {
    /// Any value reads back as written, and Foundation's own reader agrees with the bytes.
    @Test func readsBackAsWritten() throws {
        var random = SystemRandomNumberGenerator()
        func value(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &random) {
            case 0: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &random)))
            case 1: return .number(Double.random(in: -1e6...1e6, using: &random))
            case 2:
                return .string(
                    ["plain", "quote \" and \\ back", "line\nbreak\ttab", "<tag>&amp;", "naïve £ 😀", "\u{01}", "a/b"]
                        .randomElement()!)
            case 3: return .bool(Bool.random(using: &random))
            case 4: return .null
            case 5: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in value(depth + 1) })
            default:
                return .object(
                    Dictionary(
                        uniqueKeysWithValues: (0..<Int.random(in: 0...4, using: &random)).map { ("k\($0)", value(depth + 1)) }))
            }
        }
        for _ in 0..<200 {
            let object: JSONValue = ["root": value(0), "n": 0.1, "big": 1e20, "whole": 3.0]
            let bytes = try JSON.bytes(object)
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) == object)
            #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
        }
        #expect(try JSON.text(["b": 1, "a": [true, "x", nil]] as JSONValue) == #"{"a":[true,"x",null],"b":1}"#)
        // JSON has no NaN: written as null rather than refused.
        #expect(try JSON.text([.number(.nan), .number(.infinity)] as JSONValue) == "[null,null]")
        // A flag is never read as a number, nor a number as a flag.
        #expect(try JSONDecoder().decode([JSONValue].self, from: Data("[true, 1, 0, false]".utf8)) == [true, 1, 0, false])
    }

    /// Typed values read back, by Foundation, as Foundation's own encoder writes them: keys
    /// snake_cased, optionals left out or written as null, nested and empty values, extreme
    /// integers, and strings that need escaping.
    @Test func typedValuesReadBackAsFoundationWritesThem() throws {
        struct Empty: Encodable {}
        struct Inner: Encodable {
            var nestedList: [[Int]]
            var flag: Bool?
        }
        struct Outer: Encodable {
            var idleExpirySeconds: Int
            var smallest: Int64
            var largest: UInt64
            var ratio: Double
            var single: Float
            var text: String
            var absent: String?
            var inner: Inner
            var inners: [Inner]
            var empty: Empty
            var tags: [String]
            var value: JSONValue
        }
        let texts = ["plain", "quote \" and \\ back", "line\nbreak\ttab", "<tag>&amp;", "naïve £ 😀", "\u{01}\u{1F}", "a/b", ""]
        for (i, text) in texts.enumerated() {
            let value = Outer(
                idleExpirySeconds: 1800, smallest: .min, largest: .max, ratio: [0.1, 1e20, -2.5e-9, 3][i % 4],
                single: 0.5, text: text, absent: i % 2 == 0 ? nil : text,
                inner: Inner(nestedList: [[1, 2], [], [3]], flag: i % 3 == 0 ? nil : true),
                inners: Array(repeating: Inner(nestedList: [], flag: false), count: i % 3), empty: Empty(), tags: texts,
                value: ["b": [1, nil, "x"], "a": ["z": true]])
            let foundation = JSONEncoder()
            foundation.keyEncodingStrategy = .convertToSnakeCase
            let mine = try JSONSerialization.jsonObject(with: Data(try JSON.bytes(value))) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: try foundation.encode(value)) as? NSDictionary
            #expect(mine != nil && mine == theirs, "\(String(decoding: (try? JSON.bytes(value)) ?? [], as: UTF8.self))")
        }
        #expect(try JSON.text(["<a>": "&"] as JSONValue) == #"{"\u003ca\u003e":"\u0026"}"#)
        #expect(try JSON.text([Double.nan, 1.5, -0.0, 1e16, 123456789012, 1.5e-7]) == "[null,1.5,0,1e+16,123456789012,1.5e-07]")
    }

    /// A request body is read as its type, or refused with a message that names the field.
    @Test func requestBodiesNameWhatIsWrong() throws {
        func problem(_ text: String) -> String? {
            do {
                _ = try Body.decode(API.OpenWorklist.self, from: Data(text.utf8))
                return nil
            } catch { return error.message }
        }
        #expect(problem(#"{"cohort": "c", "reason": "r", "limit": 2.0}"#) == nil)
        #expect(problem(#"{"cohort": "c"}"#) == #"expected "reason""#)
        #expect(problem(#"{"cohort": 3, "reason": "r"}"#) == #""cohort" must be text"#)
        #expect(problem(#"{"cohort": "c", "reason": "r", "limit": true}"#) == #""limit" must be a whole number"#)
        #expect(problem(#"{"cohort": "c", "reason": "r", "limit": 2.5}"#) == #""limit" must be a whole number"#)
        #expect(problem(#"{"cohort": "c", "reason": "r", "limit": 1e300}"#) == #""limit" must be a whole number"#)
        #expect(problem(#"{"cohort": "c", "reason": "r", "limit": null}"#) == nil)
        #expect(problem(#"{"cohort": null, "reason": "r"}"#) == #""cohort" must be text"#)
        for notAnObject in ["[]", "3", "", "{", #""text""#, "nul"] {
            #expect(problem(notAnObject) == "the body must be a JSON object", "\(notAnObject)")
        }
        #expect(problem(String(repeating: "[", count: 100)) == "the body is nested more than \(Body.maximumDepth) deep")
        // Hostile bodies: any bytes, or valid JSON of any shape, give a value or a refusal, never a trap.
        var random = SystemRandomNumberGenerator()
        let pieces = [
            "{", "}", "[", "]", ",", ":", "\"cohort\"", "\"limit\"", "\"reason\"", "1e999", "-0", "2.5", "null",
            "true", "\"\\u0000\"", "\"\\ud800\"", "\u{FF}", " ",
        ]
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...40, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            _ = problem(text)
            _ = try? Body.decode(API.SaveCohort.self, from: Data(text.utf8))
            _ = try? Body.decode(API.SignIn.self, from: Data((0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }))
        }
    }
}

@Suite struct ComposerTests {
    @Test func appendsOneCriterionAtATimeInTheCohortLanguage() throws {
        var text = Composer.append(to: "", join: "and", kind: "condition", op: ">=", value: "depression")
        #expect(text == "condition depression")
        text = Composer.append(to: text, join: "and", kind: "age", op: ">=", value: " 40 ")
        #expect(text == "condition depression and age >= 40")
        text = Composer.append(to: text, join: "or", kind: "locality", op: ">", value: "Ashford Vale")
        #expect(text == #"condition depression and age >= 40 or locality = "Ashford Vale""#)
        text = Composer.append(to: text, join: "and not", kind: "tier emergency_admission_12m", op: ">=", value: "high")
        #expect(text.hasSuffix("and not tier emergency_admission_12m >= high"))
        _ = try Session.definition(text)
        #expect(
            Composer.append(to: "", join: "and not", kind: "condition", op: nil, value: "dementia") == "not condition dementia")
        #expect(Composer.append(to: "age > 3", join: "and", kind: "nonsense", op: "=", value: "x") == "age > 3")
        #expect(Composer.append(to: "age > 3", join: "and", kind: "age", op: "=", value: "  ") == "age > 3")
        #expect(
            Composer.append(to: "", join: "and", kind: "segment", op: "=", value: "bridges_to_health = frailty_dementia")
                == "segment bridges_to_health = frailty_dementia")
        // An area indicator, and nothing that only looks like one.
        #expect(
            Composer.append(to: "age > 3", join: "and", kind: "area pm25", op: ">=", value: "9.5")
                == "age > 3 and area pm25 >= 9.5")
        #expect(Composer.append(to: "age > 3", join: "and", kind: "area pm2.5) or (x", op: ">=", value: "1") == "age > 3")
        var words = Composer.Vocabulary()
        words.areaIndicators = ["pm25"]
        #expect(Composer.form(words).contains(#"<option value="area pm25">area indicator pm25</option>"#))
    }

    @Test func theCohortFormCountsAfterEachCriterion() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let (cookie, token) = try await signIn(client, "ana", "planning")
            let headers = formHeaders(cookie)
            let first = try await client.execute(
                uri: "/cohorts", method: .post, headers: headers,
                body: form([
                    "csrf": token, "definition": "", "compose": "1", "add_join": "and", "add_kind": "age", "add_op": ">=",
                    "add_value": "65",
                ]))
            #expect(first.status == .ok && first.text.contains(">age &gt;= 65</textarea>"))
            let second = try await client.execute(
                uri: "/cohorts", method: .post, headers: headers,
                body: form([
                    "csrf": token, "definition": "age >= 65", "compose": "1", "add_join": "and", "add_kind": "sex",
                    "add_op": ">=",
                    "add_value": "female",
                ]))
            #expect(second.text.contains(">age &gt;= 65 and sex = female</textarea>"))
            let expected = (0..<fixture.frame.count).filter {
                fixture.frame.age[$0] >= 65 && fixture.frame.sex[$0] == .female && !fixture.frame.optedOut[$0]
            }.count
            #expect([expected / 5 * 5, expected / 5 * 5 + 5].contains { second.text.contains("<h2>\(Pages.number($0)) of") })
            #expect(second.text.contains("<datalist id=\"vocabulary\">") && second.text.contains("<option value=\"depression\">"))
        }
    }
}
