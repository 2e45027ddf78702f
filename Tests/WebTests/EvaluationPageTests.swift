import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import Web

@Suite struct EvaluationPageTests {
    /// An analyst under planning evaluates a place-based scheme on the page and through the API:
    /// diagnostics, charts with their tables, and effects, all published for planning; a list
    /// of people is refused here with where to evaluate it; a clinician may not evaluate at all.
    @Test func analystEvaluatesAPlaceOnThePageAndThroughTheAPI() async throws {
        let fixture = try Fixture()
        try await fixture.app.test(.router) { client in
            let (cookie, token) = try await signIn(client, "ana", "planning")
            let blank = try await client.execute(uri: "/evaluations", method: .get, headers: [.cookie: cookie])
            #expect(blank.status == .ok && blank.text.contains("<textarea id=\"definition\""))
            #expect(blank.text.contains("<a href=\"/evaluations\">Evaluations</a>"))
            let page = try await client.execute(
                uri: "/evaluations", method: .post, headers: formHeaders(cookie),
                body: form(["definition": Fixture.placeEvaluation, "csrf": token]))
            #expect(page.status == .ok, "\(page.text.prefix(2_000))")
            for part in [
                "<h2>Scheme at P0</h2>", "Published for planning", "People at each step", "<table id=\"effects\"",
                "<table id=\"balance\"", "Emergency admissions: event study", "The event study as a table",
                "The overlap as a table", "<svg", "<h2>Synthetic control</h2>",
                "No synthetic control: it needs a pre window of at least 12 months",
            ] {
                #expect(page.text.contains(part), "\(part)")
            }
            #expect(!page.text.contains("role=\"alert\""))
            let list = try await client.execute(
                uri: "/evaluations", method: .post, headers: formHeaders(cookie),
                body: form(["definition": "name: x\nintervention:\n  list: people.csv\n", "csrf": token]))
            #expect(list.status == .badRequest && list.text.contains("phm evaluate"))
            let forged = try await client.execute(
                uri: "/evaluations", method: .post, headers: formHeaders(cookie),
                body: form(["definition": Fixture.placeEvaluation, "csrf": "forged"]))
            #expect(forged.status == .forbidden)

            let api = try await bearer(client, "ana", "planning")
            let body = try JSONSerialization.data(withJSONObject: ["definition": Fixture.placeEvaluation])
            let response = try await client.execute(
                uri: "/api/evaluations", method: .post, headers: api, body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
            let json = try object(response)
            #expect(json["planning"] as? Bool == true && json["name"] as? String == "Scheme at P0")
            let effects = try #require(json["effects"] as? [[String: Any]])
            #expect(effects.first?["outcome"] as? String == "emergency_admissions")
            let steps = try #require(json["steps"] as? [[String: Any]])
            #expect(steps.compactMap { $0["people"] as? Int }.allSatisfy { $0 == 0 || $0 % 5 == 0 } && !steps.isEmpty)
            let bad = try await client.execute(
                uri: "/api/evaluations", method: .post, headers: api,
                body: ByteBuffer(string: #"{"definition": "name: x\nwindows: {pre_months: 99}\n"}"#))
            #expect(bad.status == .badRequest)

            let (clinician, _) = try await signIn(client, "cli", "direct_care")
            let refused = try await client.execute(uri: "/evaluations", method: .get, headers: [.cookie: clinician])
            #expect(refused.status == .forbidden && !refused.text.contains("<textarea id=\"definition\""))
        }
    }
}
