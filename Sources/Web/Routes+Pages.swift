import Cohorts
import Evaluation
import Foundation
import Governance
import Hummingbird
import Service
import Storage

extension WebApp.Routes {
    /// The HTML pages: sign-in, the dashboards, cohorts, worklists and the audit log.
    func addPages(to router: Router<WebContext>) {
        router.get("/login") { _, _ -> Response in
            // A pre-login CSRF token, in a cookie and in the form (double submit).
            let token = WebSessions.random()
            var response = WebApp.html(Pages.login(csrf: token, message: nil))
            response.setCookie(WebApp.cookie(WebSessions.loginCookie, token))
            return response
        }

        router.post("/login") { request, context -> Response in
            let form = try await Form(request)
            guard let expected = request.cookies[WebSessions.loginCookie]?.value,
                WebSessions.same(expected, form["csrf"] ?? "")
            else {
                return WebApp.html(Pages.login(csrf: WebSessions.random(), message: "Your form expired: try again."), .forbidden)
            }
            guard let purpose = Purpose(rawValue: form["purpose"] ?? "") else {
                return WebApp.html(Pages.login(csrf: expected, message: "Choose a purpose."), .badRequest)
            }
            do {
                let session = try await signIn(form["user"] ?? "", form["password"] ?? "", purpose, from: context.client)
                let (token, _) = try sessions.start(session)
                var response = Response.redirect(to: "/")
                response.setCookie(WebApp.cookie(WebSessions.cookie, token))
                return response
            } catch let busy as HeavyWork.Busy {
                var response = WebApp.html(Pages.login(csrf: expected, message: busy.description), .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            } catch let refusal as WebApp.Refusal {
                var response = WebApp.html(Pages.login(csrf: expected, message: refusal.description), .tooManyRequests)
                response.headers[.retryAfter] = refusal.retryAfter
                return response
            } catch let error as AccessError {
                return WebApp.html(Pages.login(csrf: expected, message: error.description), .unauthorized)
            }
        }

        router.post("/logout") { request, context -> Response in
            let form = try await Form(request)
            // The session is looked up in the store, off the event loops and the task pool.
            if let token = request.cookies[WebSessions.cookie]?.value,
                let entry = try await WebApp.offLoop({ sessions.find(token) }),
                WebSessions.same(entry.csrf, form["csrf"] ?? "")
            {
                try await WebApp.offLoop { try sessions.end(token) }
            }
            return .redirect(to: "/login")
        }

        // Home is the first page the session may open.
        router.get("/") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            return .redirect(to: Pages.menu(entry.session).first?.path ?? "/login")
        }

        for dashboard in Dashboard.allCases {
            router.get(RouterPath(dashboard.path)) { request, _ -> Response in
                guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
                do {
                    return try await WebApp.offLoop {
                        let (publication, query) = try WebApp.resolve(entry.session, dashboard, request, cache)
                        let body = cache.page(dashboard, publication, query).html
                        return WebApp.html(Pages.page(dashboard.title + ": " + query.unit.name, body, signedIn: entry))
                    }
                } catch {
                    return try WebApp.failure(dashboard.title, error, entry)
                }
            }
        }

        router.get("/cohorts") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            do {
                let words = Composer.Vocabulary(try await WebApp.offLoop { try entry.session.builderFrame() })
                return WebApp.html(Pages.cohort(entry, definition: "", result: nil, error: nil, vocabulary: words))
            } catch {
                return try WebApp.failure("Cohorts", error, entry)
            }
        }

        /// The cohort page after counting (`save` false) or saving a definition, with any
        /// mistake or refusal shown beside the definition.
        @Sendable func cohortPage(_ request: Request, save: Bool) async throws -> Response {
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return WebApp.html(Pages.forbidden, .forbidden) }
            let written = form["definition"] ?? ""
            let text =
                !save && form["compose"] != nil
                ? Composer.append(
                    to: written, join: form["add_join"], kind: form["add_kind"], op: form["add_op"], value: form["add_value"])
                : written
            let words: Composer.Vocabulary
            do { words = Composer.Vocabulary(try await WebApp.offLoop { try entry.session.builderFrame() }) } catch {
                return try WebApp.failure("Cohorts", error, entry)
            }
            func page(_ error: String, _ status: HTTPResponse.Status) -> Response {
                WebApp.html(Pages.cohort(entry, definition: text, result: nil, error: error, vocabulary: words), status)
            }
            do {
                if save {
                    let name = form["name"] ?? ""
                    let saved = try await heavy.run { deadline in
                        try entry.session.until(deadline).saveCohort(name, try Session.definition(text))
                    }
                    return WebApp.html(
                        Pages.cohort(entry, definition: text, result: nil, error: nil, saved: saved, vocabulary: words))
                }
                let result = try await heavy.run(first: { try entry.session.authorised(try Session.definition(text)) }) {
                    query, deadline in try entry.session.until(deadline).profile(query)
                }
                return WebApp.html(Pages.cohort(entry, definition: text, result: result, error: nil, vocabulary: words))
            } catch let error as CohortError {
                return page(error.description, .badRequest)
            } catch let error as AccessError {
                if case .invalid = error { return page(error.description, .badRequest) }
                return page(error.description, .forbidden)
            } catch let busy as HeavyWork.Busy {
                var response = page(busy.description, .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            }
        }

        router.post("/cohorts") { request, _ -> Response in try await cohortPage(request, save: false) }
        router.post("/cohorts/save") { request, _ -> Response in try await cohortPage(request, save: true) }

        router.get("/worklists") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            do {
                let cohorts = try await WebApp.offLoop { try entry.session.cohorts() }
                return WebApp.html(Pages.worklists(entry, cohorts: cohorts))
            } catch {
                return try WebApp.failure("Worklists", error, entry)
            }
        }

        // Opening a worklist re-identifies people: a POST with a reason, never a link.
        router.post("/worklists/open") { request, context -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return WebApp.html(Pages.forbidden, .forbidden) }
            do {
                let version = try WebApp.version(form["version"])
                let ranked = try await heavy.run { deadline in
                    let session = entry.session.until(deadline)
                    // The status form on each row posts here too, then the list is shown again.
                    if let pseudonym = form["pseudonym"] {
                        try session.setStatus(
                            cohort: form["cohort"] ?? "", version: version, pseudonym: pseudonym,
                            status: try WebApp.status(form["status"]), note: form["note"] ?? "")
                    }
                    return try session.rank(form["cohort"] ?? "", version: version, reason: form["reason"] ?? "")
                }
                let list = try await WebApp.offLoop {
                    try entry.session.open(ranked, offset: Int(form["offset"] ?? "") ?? 0, limit: Pages.worklistPage)
                }
                return WebApp.html(Pages.worklist(entry, list, reason: form["reason"] ?? ""))
            } catch {
                return try WebApp.failure("Worklist", error, entry)
            }
        }

        router.get("/evaluations") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            do {
                let example = try await WebApp.offLoop { try entry.session.evaluationExample() }
                return WebApp.html(Pages.evaluation(entry, definition: example, result: nil, error: nil))
            } catch {
                return try WebApp.failure("Evaluations", error, entry)
            }
        }

        router.post("/evaluations") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return WebApp.html(Pages.forbidden, .forbidden) }
            let text = form["definition"] ?? ""
            do {
                let result = try await heavy.run { deadline in try entry.session.until(deadline).evaluate(text) }
                return WebApp.html(Pages.evaluation(entry, definition: text, result: result, error: nil))
            } catch let error as AccessError {
                let status: HTTPResponse.Status = if case .invalid = error { .badRequest } else { .forbidden }
                return WebApp.html(Pages.evaluation(entry, definition: text, result: nil, error: error.description), status)
            } catch let busy as HeavyWork.Busy {
                var response = WebApp.html(
                    Pages.evaluation(entry, definition: text, result: nil, error: busy.description), .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            }
        }

        router.get("/linkage-review") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            do {
                let (total, run) = try await WebApp.offLoop { try entry.session.linkageReviewQueue() }
                return WebApp.html(Pages.linkageReviewQueue(entry, total: total, run: run))
            } catch {
                return try WebApp.failure("Linkage review", error, entry)
            }
        }

        // Showing pairs re-identifies both sides: a POST, never a link. A judgement posts to
        // its own path, then the same page is shown again.
        @Sendable func reviewPage(_ request: Request, judge: Bool) async throws -> Response {
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return WebApp.html(Pages.forbidden, .forbidden) }
            let offset = min(max(0, Int(form["offset"] ?? "") ?? 0), 1 << 40)
            do {
                return try await WebApp.offLoop {
                    var message: String?
                    if judge {
                        do {
                            guard let run = Int64(form["run"] ?? ""), let pair = Int64(form["pair"] ?? ""),
                                let candidate = Int(form["candidate"] ?? ""), let judgement = form["judgement"],
                                ["same", "different"].contains(judgement)
                            else {
                                throw AccessError.invalid("a judgement needs a run, a pair, a person and same or different")
                            }
                            try entry.session.judge(run: run, pair: pair, candidate: candidate, same: judgement == "same")
                        } catch AccessError.invalid(let problem) {
                            message = problem
                        }
                    }
                    let review = try entry.session.linkageReview(offset: offset)
                    return WebApp.html(Pages.linkageReview(entry, review, message: message), message == nil ? .ok : .badRequest)
                }
            } catch {
                return try WebApp.failure("Linkage review", error, entry)
            }
        }
        router.post("/linkage-review/open") { request, _ -> Response in try await reviewPage(request, judge: false) }
        router.post("/linkage-review/judge") { request, _ -> Response in try await reviewPage(request, judge: true) }

        router.get("/audit") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            return try await WebApp.offLoop { try WebApp.auditPage(entry, whole: false) }
        }
        router.post("/audit/verify") { request, _ -> Response in
            guard let entry = WebApp.authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return WebApp.html(Pages.forbidden, .forbidden) }
            return try await WebApp.offLoop { try WebApp.auditPage(entry, whole: true) }
        }
    }
}
