import Cohorts
import Foundation
import Governance
import Hummingbird
import Service
import Storage

extension WebApp.Routes {
    /// The JSON API (`openapi.json`): sessions, units, pages, cohorts, worklists and the audit log.
    func addAPI(to router: Router<WebContext>) {
        router.post("/api/sessions") { request, context -> Response in
            let body: API.SignIn
            do { body = try await Body.read(API.SignIn.self, from: request) } catch let bad as BadBody {
                return try WebApp.failure(bad.message, .badRequest)
            }
            guard let purpose = Purpose(rawValue: body.purpose) else {
                return try WebApp.failure(
                    "\"purpose\" must be one of \(Purpose.allCases.map(\.rawValue).joined(separator: ", "))", .badRequest)
            }
            do {
                let session = try await signIn(body.user, body.password, purpose, from: context.client)
                let (token, csrf) = try sessions.start(session)
                return try WebApp.json(
                    API.SessionStarted(
                        token: token, csrf: csrf, role: session.user.role.rawValue, purpose: purpose.rawValue,
                        idleExpirySeconds: Int(WebSessions.lifetime)), .created)
            } catch let busy as HeavyWork.Busy {
                var response = try WebApp.failure(busy.description, .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            } catch let refusal as WebApp.Refusal {
                var response = try WebApp.failure(refusal.description, .tooManyRequests)
                response.headers[.retryAfter] = refusal.retryAfter
                return response
            } catch let error as AccessError {
                return try WebApp.failure(error.description, error == .loginFailed ? .unauthorized : .forbidden)
            }
        }

        router.delete("/api/sessions") { request, _ -> Response in
            guard let token = WebApp.token(request), try await WebApp.offLoop({ sessions.find(token) }) != nil else {
                return try WebApp.failure("not signed in", .unauthorized)
            }
            try await WebApp.offLoop { try sessions.end(token) }
            return Response(status: .noContent)
        }

        router.get("/api/units") { request, _ -> Response in
            try await WebApp.api(request, sessions) { session in
                try await WebApp.offLoop {
                    let publication = try session.publication(page: "units", unit: "")
                    return try WebApp.json(API.Units(run: Int(publication.runId), units: publication.units.map(API.Unit.init)))
                }
            }
        }

        router.get("/api/pages/{page}") { request, context -> Response in
            try await WebApp.api(request, sessions) { session in
                try await WebApp.offLoop {
                    let dashboard = try WebApp.page(context)
                    let (publication, query) = try WebApp.resolve(session, dashboard, request, cache)
                    return Response(
                        status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: cache.page(dashboard, publication, query).json)))
                }
            }
        }

        // One panel of a page as a file: its table as CSV, its chart as SVG.
        func panelFile(_ format: String, _ contentType: String, _ body: @escaping @Sendable (Panel) -> String?) {
            router.get("/api/pages/{page}/{panel}/\(format)") { request, context -> Response in
                try await WebApp.api(request, sessions) { session in
                    try await WebApp.offLoop {
                        let dashboard = try WebApp.page(context)
                        let (publication, query) = try WebApp.resolve(session, dashboard, request, cache)
                        let id = context.parameters.get("panel") ?? ""
                        guard let panel = cache.page(dashboard, publication, query).panels.first(where: { $0.id == id }),
                            let content = body(panel)
                        else {
                            return try WebApp.failure(
                                "page \(dashboard.rawValue) has no panel '\(id)'\(format == "svg" ? " with a chart" : "")",
                                .notFound)
                        }
                        let file = [dashboard.rawValue, panel.id, query.unit.code].joined(separator: "-") + "." + format
                        return Response(
                            status: .ok,
                            headers: [.contentType: contentType, .contentDisposition: "attachment; filename=\"\(file)\""],
                            body: .init(byteBuffer: ByteBuffer(string: content)))
                    }
                }
            }
        }
        panelFile("csv", "text/csv; charset=utf-8") { String(decoding: $0.table.csv(), as: UTF8.self) }
        panelFile("svg", "image/svg+xml; charset=utf-8") { panel in
            panel.chart?.svg(title: panel.title, description: panel.note.isEmpty ? panel.title : panel.note)
        }

        router.post("/api/cohorts/profile") { request, _ -> Response in
            try await WebApp.api(request, sessions, reading: API.ProfileQuery.self) { session, body in
                let result = try await heavy.run(first: { try session.authorised(try body.definition.parsed()) }) {
                    query, deadline in try session.until(deadline).profile(query)
                }
                return try WebApp.json(API.Profile(result))
            }
        }

        router.get("/api/cohorts") { request, _ -> Response in
            try await WebApp.api(request, sessions) { session in
                try await WebApp.offLoop {
                    try WebApp.json(API.Cohorts(cohorts: try session.cohorts().map(API.Cohort.init)))
                }
            }
        }

        router.post("/api/cohorts") { request, _ -> Response in
            try await WebApp.api(request, sessions, reading: API.SaveCohort.self) { session, body in
                let saved = try await heavy.run { deadline in
                    try session.until(deadline).saveCohort(
                        body.name, try body.definition.parsed(), description: body.description ?? "")
                }
                return try WebApp.json(API.Cohort(saved), .created)
            }
        }

        router.post("/api/worklists") { request, _ -> Response in
            try await WebApp.api(request, sessions, reading: API.OpenWorklist.self) { session, body in
                // A page's worth unless asked, at most 100: only those returned are re-identified,
                // and no one can act on more people than that at a sitting.
                let limit = min(Pages.worklistMaximum, max(1, body.limit ?? Pages.worklistPage))
                // A clinical system asks for the same people as a FHIR R4 Group, by NHS number.
                let fhir = WebApp.prefersFHIR(request.headers[values: .accept])
                // Ranked among the heavy work, opened (the store and the vault) with the light requests.
                let ranked = try await heavy.run { deadline in
                    try session.until(deadline).rank(body.cohort, version: body.version, reason: body.reason)
                }
                let list = try await WebApp.offLoop {
                    try session.open(ranked, offset: body.offset ?? 0, limit: limit, format: fhir ? "fhir" : "list")
                }
                var response = fhir ? WebApp.fhir(list.fhirGroup) : try WebApp.json(API.Worklist(list))
                response.headers[.vary] = "Accept"
                return response
            }
        }

        router.post("/api/worklists/status") { request, _ -> Response in
            try await WebApp.api(request, sessions, reading: API.SetStatus.self) { session, body in
                try await heavy.run { deadline in
                    try session.until(deadline).setStatus(
                        cohort: body.cohort, version: body.version, pseudonym: body.pseudonym,
                        status: try WebApp.status(body.status),
                        note: body.note ?? "")
                }
                return try WebApp.json(API.Saved(saved: true))
            }
        }

        router.post("/api/evaluations") { request, _ -> Response in
            try await WebApp.api(request, sessions, reading: API.Evaluate.self) { session, body in
                let result = try await heavy.run { deadline in try session.until(deadline).evaluate(body.definition) }
                return try WebApp.json(API.Evaluation(result))
            }
        }

        router.get("/api/audit") { request, _ -> Response in
            try await WebApp.api(request, sessions) { session in
                try await WebApp.offLoop {
                    let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 200
                    let whole = request.uri.queryParameters.get("whole") == "true"
                    let (check, entries) = try session.auditReport(latest: min(max(0, limit), 10_000), whole: whole)
                    var intact = false
                    if case .intact = check.verification { intact = true }
                    return try WebApp.json(
                        API.Audit(
                            intact: intact, verification: check.verification.description, whole: check.whole,
                            wholeLogCheckedAt: AuditEntry.timestamp(check.wholeLogCheckedAt), checked: check.checked,
                            entries: entries.reversed().map(API.Audit.Entry.init)))
                }
            }
        }
    }
}
