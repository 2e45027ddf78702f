import Analysis
import Cohorts
import Dispatch
import Foundation
import Governance
import Hummingbird
import Logging
import PHMCore
import Service
import Storage

/// The web server: pages and a JSON API over the same sessions as the command line.
///
/// Browsers sign in with a form and get a session cookie (HttpOnly, Secure, SameSite=Strict);
/// every form, and every API write made with the cookie, carries the session's CSRF token.
/// Scripts sign in at `POST /api/sessions` and send the token as `Authorization: Bearer`.
/// Nothing that identifies a person ever appears in a URL.
public enum WebApp {
    public static func make(platform: Platform, host: String = "127.0.0.1", port: Int = 8080, logger: Logger)
        -> some ApplicationProtocol
    {
        Application(
            router: router(platform: platform, sessions: WebSessions()),
            configuration: .init(address: .hostname(host, port: port), serverName: "phm"),
            onServerRunning: { _ in Task.detached(priority: .background) { await watchAuditLog(platform, logger) } },
            logger: logger)
    }

    /// How often the server checks the audit log's newest entries.
    static let auditWatchInterval = Duration.seconds(5)

    /// Checks the whole audit log once, off the request path, then every few seconds the
    /// entries written since, so a view of the audit page finds little left to check and a
    /// change to a recent entry is logged within seconds. Stops at the first break (logged as an
    /// error): from then on every check reads the whole log, and the audit page shows the break.
    static func watchAuditLog(_ platform: Platform, _ logger: Logger, every interval: Duration = auditWatchInterval) async {
        var whole = true
        while !Task.isCancelled {
            do {
                let check = try platform.verifyAudit(whole: whole, anchoring: true)
                guard case .intact = check.verification else {
                    return logger.error("audit log broken", metadata: ["result": "\(check.verification)"])
                }
                if whole { logger.info("audit log checked whole", metadata: ["result": "\(check.verification)"]) }
                whole = false
                try await Task.sleep(for: interval)
            } catch is CancellationError {
                // Stopping: anchor the head as it is now, so the next start can check it.
                _ = try? platform.verifyAudit(whole: false, anchoring: true)
                return
            } catch {
                return logger.error("audit log could not be checked", metadata: ["error": "\(error)"])
            }
        }
    }

    static func router(
        platform: Platform, sessions: WebSessions, metrics: Metrics = Metrics(), throttle: LoginThrottle = LoginThrottle(),
        cache: PageCache = PageCache(), heavy: HeavyWork = HeavyWork()
    ) -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: Observe(metrics: metrics, sessions: sessions))
        router.add(middleware: SecurityHeaders())
        let openAPI = ByteBuffer(bytes: (try? Data(contentsOf: openAPIDocument)) ?? Data())

        // MARK: open routes

        let script = ByteBuffer(bytes: (try? Data(contentsOf: appScript)) ?? Data())
        router.get("/app.js") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: script))
        }
        router.get("/app.css") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Pages.stylesheet)))
        }
        router.get("/health") { _, _ -> Response in
            let run = FrameFile.runs(dataDirectory: platform.dataDirectory).first
            return try json(API.Health(status: "ok", run: run.map { Int($0) } ?? 0))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.text(activeSessions: sessions.active))))
        }
        router.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAPI))
        }

        /// Signs in, unless the name or address has failed too often lately. The attempt is
        /// counted before its password is checked, so concurrent guesses all count.
        @Sendable func signIn(_ name: String, _ password: String, _ purpose: Purpose, from client: String) async throws -> Session
        {
            let reserved = Date()
            if let wait = throttle.reserve(user: name, address: client, now: reserved) {
                metrics.login("throttled")
                try platform.recordThrottledLogin(name, purpose: purpose)
                throw Refusal.throttled(seconds: wait)
            }
            do {
                // The slow password hash runs off the server's event loops.
                let session = try await heavy.run { _ in try platform.login(name, password: password, purpose: purpose) }
                throttle.succeeded(user: name, address: client, reserved: reserved)
                metrics.login("allowed")
                return session
            } catch let error as AccessError where error == .loginFailed {
                metrics.login("denied")
                throw error
            } catch {
                // Anything but a wrong password (a purpose the role lacks, a busy server) is no
                // guess: the reservation is given back.
                throttle.succeeded(user: name, address: client, reserved: reserved)
                if error is AccessError { metrics.login("denied") }
                throw error
            }
        }

        // MARK: pages

        router.get("/login") { _, _ -> Response in
            // A pre-login CSRF token, in a cookie and in the form (double submit).
            let token = WebSessions.random()
            var response = html(Pages.login(csrf: token, message: nil))
            response.setCookie(cookie(WebSessions.loginCookie, token))
            return response
        }

        router.post("/login") { request, context -> Response in
            let form = try await Form(request)
            guard let expected = request.cookies[WebSessions.loginCookie]?.value,
                WebSessions.same(expected, form["csrf"] ?? "")
            else { return html(Pages.login(csrf: WebSessions.random(), message: "Your form expired: try again."), .forbidden) }
            guard let purpose = Purpose(rawValue: form["purpose"] ?? "") else {
                return html(Pages.login(csrf: expected, message: "Choose a purpose."), .badRequest)
            }
            do {
                let session = try await signIn(form["user"] ?? "", form["password"] ?? "", purpose, from: context.client)
                let (token, _) = sessions.start(session)
                var response = Response.redirect(to: "/")
                response.setCookie(cookie(WebSessions.cookie, token))
                return response
            } catch let busy as HeavyWork.Busy {
                var response = html(Pages.login(csrf: expected, message: busy.description), .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            } catch let refusal as Refusal {
                var response = html(Pages.login(csrf: expected, message: refusal.description), .tooManyRequests)
                response.headers[.retryAfter] = refusal.retryAfter
                return response
            } catch let error as AccessError {
                return html(Pages.login(csrf: expected, message: error.description), .unauthorized)
            }
        }

        router.post("/logout") { request, context -> Response in
            let form = try await Form(request)
            if let token = request.cookies[WebSessions.cookie]?.value, let entry = sessions.find(token),
                WebSessions.same(entry.csrf, form["csrf"] ?? "")
            {
                sessions.end(token)
            }
            return .redirect(to: "/login")
        }

        // Home is the first page the session may open.
        router.get("/") { request, _ -> Response in
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            return .redirect(to: Pages.menu(entry.session).first?.path ?? "/login")
        }

        for dashboard in Dashboard.allCases {
            router.get(RouterPath(dashboard.path)) { request, _ -> Response in
                guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
                do {
                    let (publication, query) = try resolve(entry.session, dashboard, request, cache)
                    let body = cache.page(dashboard, publication, query).html
                    return html(Pages.page(dashboard.title + ": " + query.unit.name, body, signedIn: entry))
                } catch {
                    return try failure(dashboard.title, error, entry)
                }
            }
        }

        router.get("/cohorts") { request, _ -> Response in
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            do {
                let words = Composer.Vocabulary(try entry.session.builderFrame())
                return html(Pages.cohort(entry, definition: "", result: nil, error: nil, vocabulary: words))
            } catch {
                return try failure("Cohorts", error, entry)
            }
        }

        /// The cohort page after counting (`save` false) or saving a definition, with any
        /// mistake or refusal shown beside the definition.
        @Sendable func cohortPage(_ request: Request, save: Bool) async throws -> Response {
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            let written = form["definition"] ?? ""
            let text =
                !save && form["compose"] != nil
                ? Composer.append(
                    to: written, join: form["add_join"], kind: form["add_kind"], op: form["add_op"], value: form["add_value"])
                : written
            let words: Composer.Vocabulary
            do { words = Composer.Vocabulary(try entry.session.builderFrame()) } catch {
                return try failure("Cohorts", error, entry)
            }
            func page(_ error: String, _ status: HTTPResponse.Status) -> Response {
                html(Pages.cohort(entry, definition: text, result: nil, error: error, vocabulary: words), status)
            }
            do {
                if save {
                    let name = form["name"] ?? ""
                    let saved = try await heavy.run { deadline in
                        try entry.session.until(deadline).saveCohort(name, try Session.definition(text))
                    }
                    return html(Pages.cohort(entry, definition: text, result: nil, error: nil, saved: saved, vocabulary: words))
                }
                let result = try await heavy.run { deadline in
                    try entry.session.until(deadline).query(try Session.definition(text))
                }
                return html(Pages.cohort(entry, definition: text, result: result, error: nil, vocabulary: words))
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
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            do { return html(Pages.worklists(entry, cohorts: try entry.session.cohorts())) } catch {
                return try failure("Worklists", error, entry)
            }
        }

        // Opening a worklist re-identifies people: a POST with a reason, never a link.
        router.post("/worklists/open") { request, context -> Response in
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            do {
                let version = try WebApp.version(form["version"])
                let list = try await heavy.run { deadline in
                    let session = entry.session.until(deadline)
                    // The status form on each row posts here too, then the list is shown again.
                    if let pseudonym = form["pseudonym"] {
                        try session.setStatus(
                            cohort: form["cohort"] ?? "", version: version, pseudonym: pseudonym,
                            status: try status(form["status"]), note: form["note"] ?? "")
                    }
                    return try session.worklist(
                        form["cohort"] ?? "", version: version, reason: form["reason"] ?? "",
                        offset: Int(form["offset"] ?? "") ?? 0, limit: Pages.worklistPage)
                }
                return html(Pages.worklist(entry, list, reason: form["reason"] ?? ""))
            } catch {
                return try failure("Worklist", error, entry)
            }
        }

        router.get("/audit") { request, _ -> Response in
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            return try auditPage(entry, whole: false)
        }
        router.post("/audit/verify") { request, _ -> Response in
            guard let entry = authenticated(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            return try auditPage(entry, whole: true)
        }

        // MARK: API

        router.post("/api/sessions") { request, context -> Response in
            let body: API.SignIn
            do { body = try await Body.read(API.SignIn.self, from: request) } catch let bad as BadBody {
                return try failure(bad.message, .badRequest)
            }
            guard let purpose = Purpose(rawValue: body.purpose) else {
                return try failure(
                    "\"purpose\" must be one of \(Purpose.allCases.map(\.rawValue).joined(separator: ", "))", .badRequest)
            }
            do {
                let session = try await signIn(body.user, body.password, purpose, from: context.client)
                let (token, csrf) = sessions.start(session)
                return try json(
                    API.SessionStarted(
                        token: token, csrf: csrf, role: session.user.role.rawValue, purpose: purpose.rawValue,
                        idleExpirySeconds: Int(WebSessions.lifetime)), .created)
            } catch let busy as HeavyWork.Busy {
                var response = try failure(busy.description, .serviceUnavailable)
                response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
                return response
            } catch let refusal as Refusal {
                var response = try failure(refusal.description, .tooManyRequests)
                response.headers[.retryAfter] = refusal.retryAfter
                return response
            } catch let error as AccessError {
                return try failure(error.description, error == .loginFailed ? .unauthorized : .forbidden)
            }
        }

        router.delete("/api/sessions") { request, _ -> Response in
            guard let token = WebApp.token(request), sessions.find(token) != nil else {
                return try failure("not signed in", .unauthorized)
            }
            sessions.end(token)
            return Response(status: .noContent)
        }

        router.get("/api/units") { request, _ -> Response in
            try await api(request, sessions) { session in
                let publication = try session.publication(page: "units", unit: "")
                return try json(API.Units(run: Int(publication.runId), units: publication.units.map(API.Unit.init)))
            }
        }

        router.get("/api/pages/{page}") { request, context -> Response in
            try await api(request, sessions) { session in
                let dashboard = try page(context)
                let (publication, query) = try resolve(session, dashboard, request, cache)
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: cache.page(dashboard, publication, query).json)))
            }
        }

        router.get("/api/pages/{page}/{panel}/csv") { request, context -> Response in
            try await api(request, sessions) { session in
                let dashboard = try page(context)
                let (publication, query) = try resolve(session, dashboard, request, cache)
                let id = context.parameters.get("panel") ?? ""
                guard let panel = cache.page(dashboard, publication, query).panels.first(where: { $0.id == id }) else {
                    return try failure("page \(dashboard.rawValue) has no panel '\(id)'", .notFound)
                }
                let file = [dashboard.rawValue, panel.id, query.unit.code].joined(separator: "-") + ".csv"
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(file)\"",
                    ], body: .init(byteBuffer: ByteBuffer(bytes: panel.table.csv())))
            }
        }

        router.post("/api/cohorts/profile") { request, _ -> Response in
            try await api(request, sessions, reading: API.ProfileQuery.self) { session, body in
                let result = try await heavy.run { deadline in try session.until(deadline).query(try body.definition.parsed()) }
                return try json(API.Profile(result))
            }
        }

        router.get("/api/cohorts") { request, _ -> Response in
            try await api(request, sessions) { session in
                try json(API.Cohorts(cohorts: try session.cohorts().map(API.Cohort.init)))
            }
        }

        router.post("/api/cohorts") { request, _ -> Response in
            try await api(request, sessions, reading: API.SaveCohort.self) { session, body in
                let saved = try await heavy.run { deadline in
                    try session.until(deadline).saveCohort(
                        body.name, try body.definition.parsed(), description: body.description ?? "")
                }
                return try json(API.Cohort(saved), .created)
            }
        }

        router.post("/api/worklists") { request, _ -> Response in
            try await api(request, sessions, reading: API.OpenWorklist.self) { session, body in
                // A page's worth unless asked, at most 100: only those returned are re-identified,
                // and no one can act on more people than that at a sitting.
                let limit = min(Pages.worklistMaximum, max(1, body.limit ?? Pages.worklistPage))
                let list = try await heavy.run { deadline in
                    try session.until(deadline).worklist(
                        body.cohort, version: body.version, reason: body.reason, offset: body.offset ?? 0, limit: limit)
                }
                return try json(API.Worklist(list))
            }
        }

        router.post("/api/worklists/status") { request, _ -> Response in
            try await api(request, sessions, reading: API.SetStatus.self) { session, body in
                try await heavy.run { deadline in
                    try session.until(deadline).setStatus(
                        cohort: body.cohort, version: body.version, pseudonym: body.pseudonym, status: try status(body.status),
                        note: body.note ?? "")
                }
                return try json(API.Saved(saved: true))
            }
        }

        router.get("/api/audit") { request, _ -> Response in
            try await api(request, sessions) { session in
                let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 200
                let whole = request.uri.queryParameters.get("whole") == "true"
                let (check, entries) = try session.auditReport(latest: min(max(0, limit), 10_000), whole: whole)
                var intact = false
                if case .intact = check.verification { intact = true }
                return try json(
                    API.Audit(
                        intact: intact, verification: check.verification.description, whole: check.whole,
                        wholeLogCheckedAt: AuditEntry.timestamp(check.wholeLogCheckedAt), checked: check.checked,
                        entries: entries.reversed().map(API.Audit.Entry.init)))
            }
        }
        return router
    }

    /// The cohort builder's live count, served at `/app.js` (the only script; pages work without it).
    static let appScript = Bundle.module.url(forResource: "app", withExtension: "js")!

    /// The OpenAPI 3.1 document of the API, served at `/openapi.json`.
    static let openAPIDocument = Bundle.module.url(forResource: "openapi", withExtension: "json")!

    // MARK: requests

    /// Why a sign-in was refused before the password was checked.
    enum Refusal: Error, CustomStringConvertible {
        case throttled(seconds: Int)
        var description: String {
            switch self {
            case .throttled(let s): "too many failed sign-ins: try again in \(max(1, (s + 59) / 60)) minutes"
            }
        }
        var retryAfter: String {
            switch self {
            case .throttled(let s): String(s)
            }
        }
    }

    static func status(_ text: String?) throws -> WorklistStatus {
        guard let status = WorklistStatus(rawValue: text ?? "") else {
            throw AccessError.invalid(
                "unknown status '\(text ?? "")': one of \(WorklistStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return status
    }

    static func page(_ context: WebContext) throws -> Dashboard {
        let name = context.parameters.get("page") ?? ""
        guard let dashboard = Dashboard(rawValue: name) else {
            throw AccessError.invalid(
                "no page is called '\(name)': one of \(Dashboard.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return dashboard
    }

    /// The published outputs (audited as a view of the page) and the unit, indicator and measure
    /// a request asks for, with defaults: the organisation, emergency admissions.
    static func resolve(_ session: Session, _ dashboard: Dashboard, _ request: Request, _ cache: PageCache) throws -> (
        Publication, PageQuery
    ) {
        let parameters = request.uri.queryParameters
        let code = parameters.get("unit") ?? ""
        let publication = try session.publication(page: dashboard.rawValue, unit: code)
        guard let unit = code.isEmpty ? publication.units.first : publication.unit(code) else {
            throw AccessError.invalid("no unit has the code '\(code)'")
        }
        func choose(_ asked: String?, _ options: [String]) throws -> String {
            guard let asked, !asked.isEmpty else {
                return options.contains(Dashboard.defaultIndicator) ? Dashboard.defaultIndicator : options.first ?? ""
            }
            guard options.contains(asked) else { throw AccessError.invalid("'\(asked)' is not one of this page's choices") }
            return asked
        }
        let choices = cache.choices(dashboard, publication)
        let query = PageQuery(
            unit: unit, indicator: try choose(parameters.get("indicator"), choices.indicators),
            measure: try choose(parameters.get("measure"), choices.measures))
        return (publication, query)
    }

    /// The bearer token of a script, or the session cookie of a browser.
    static func token(_ request: Request) -> String? {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") { return String(header.dropFirst(7)) }
        return request.cookies[WebSessions.cookie]?.value
    }

    static func authenticated(_ request: Request, _ sessions: WebSessions) -> WebSessions.Entry? {
        token(request).flatMap { sessions.find($0) }
    }

    /// Runs an API call for its session. A browser's cookie must bring the CSRF token in
    /// `X-CSRF-Token` for writes; a bearer token is never sent by a browser on its own, so needs none.
    /// A body that is not a JSON object within the limits is refused before the call.
    static func api(
        _ request: Request, _ sessions: WebSessions, write: Bool = false, _ work: (Session) async throws -> Response
    ) async throws -> Response {
        guard let entry = authenticated(request, sessions) else { return try failure("not signed in", .unauthorized) }
        let bearer = request.headers[.authorization]?.hasPrefix("Bearer ") == true
        if write && !bearer && !WebSessions.same(entry.csrf, request.headers[.init("X-CSRF-Token")!] ?? "") {
            return try failure("missing or wrong X-CSRF-Token", .forbidden)
        }
        do { return try await work(entry.session) } catch let error as AccessError {
            switch error {
            case .notAllowed, .purposeNotAllowed, .notOnWorklist, .notOwner: return try failure(error.description, .forbidden)
            case .unknownCohort, .unknownUser, .unknownVersion: return try failure(error.description, .notFound)
            default: return try failure(error.description, .badRequest)
            }
        } catch let error as CohortError {
            return try failure(error.description, .badRequest)
        } catch let error as BadBody {
            return try failure(error.message, .badRequest)
        } catch let busy as HeavyWork.Busy {
            var response = try failure(busy.description, .serviceUnavailable)
            response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
            return response
        }
    }

    /// A write with a JSON body of type `Body`, read only once the caller is known.
    static func api<Body: Decodable & Sendable>(
        _ request: Request, _ sessions: WebSessions, reading: Body.Type, _ work: (Session, Body) async throws -> Response
    ) async throws -> Response {
        try await api(request, sessions, write: true) { session in
            try await work(session, try await Web.Body.read(Body.self, from: request))
        }
    }

    /// A worklist version from a form: absent or empty for the latest, else a positive whole number.
    static func version(_ text: String?) throws -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let v = Int(text), v >= 1 else { throw AccessError.invalid("a version is a whole number from 1") }
        return v
    }

    /// The audit log checked from where the last check ended, or whole through the page's form.
    static func auditPage(_ entry: WebSessions.Entry, whole: Bool) throws -> Response {
        do {
            let report = try entry.session.auditReport(latest: 200, whole: whole)
            return html(Pages.audit(entry, report.check, entries: report.latest))
        } catch {
            return try failure("Audit", error, entry)
        }
    }

    /// A refusal or a definition that does not fit the run, as a page; other errors go on up.
    static func failure(_ title: String, _ error: any Error, _ entry: WebSessions.Entry) throws -> Response {
        let page = { (message: String) in
            Pages.page(title, "<p role=\"alert\" class=\"error\">\(Pages.escape(message))</p>", signedIn: entry)
        }
        switch error {
        case let error as AccessError:
            if case .invalid = error { return html(page(error.description), .badRequest) }
            return html(page(error.description), .forbidden)
        case let error as CohortError: return html(page(error.description), .unprocessableContent)
        case let busy as HeavyWork.Busy:
            var response = html(page(busy.description), .serviceUnavailable)
            response.headers[.retryAfter] = HeavyWork.Busy.retryAfter
            return response
        default: throw error
        }
    }

    static func cookie(_ name: String, _ value: String) -> Cookie {
        Cookie(name: name, value: value, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    static func html(_ body: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSON.bytes(value))))
    }

    static func failure(_ message: String, _ status: HTTPResponse.Status) throws -> Response {
        try json(API.Failure(error: message), status)
    }

}

/// Security headers on every response: no inline scripts or styles, no framing, no sniffing.
struct SecurityHeaders: RouterMiddleware {
    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// A URL-encoded form body (`FormFields`), at most 64 KiB.
struct Form {
    var fields: [String: String] = [:]

    /// Forms are small: a definition, a note, a few choices.
    static let maximumBytes = 1 << 16

    init(_ request: Request) async throws {
        self.init(String(buffer: try await request.body.collect(upTo: Self.maximumBytes)))
    }

    init(_ body: String) { fields = FormFields.parse(body) }

    subscript(_ key: String) -> String? { fields[key] }
}

/// A request body that is not the JSON object a route expects.
struct BadBody: Error {
    var message: String
}

/// Reading a JSON request body as a `Decodable` type. Reading is total: a body that is too
/// large, too deeply nested, not a JSON object or not of the type's shape is refused with a
/// `BadBody` naming the field, for the route to answer 400.
enum Body {
    /// Bodies are small: a definition of at most `CohortLimits.maximumBytes`, a few fields.
    static let maximumBytes = 1 << 16
    /// Deeper than any definition allows, shallow enough for the JSON parser's recursion.
    static let maximumDepth = 2 * CohortLimits.maximumDepth + 8

    static func read<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try decode(T.self, from: Data(try await request.body.collect(upTo: maximumBytes).readableBytesView))
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(BadBody) -> T {
        guard JSONDepth.of(data) <= maximumDepth else {
            throw BadBody(message: "the body is nested more than \(maximumDepth) deep")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            throw BadBody(message: explain(error))
        } catch {
            throw BadBody(message: "the body must be a JSON object")
        }
    }

    /// What is wrong, by field: `expected "cohort"`, `"limit" must be a whole number`.
    static func explain(_ error: DecodingError) -> String {
        func name(_ path: [any CodingKey]) -> String { "\"" + path.map(\.stringValue).joined(separator: ".") + "\"" }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type, is Int?.Type: "a whole number"
            case is String.Type, is String?.Type: "text"
            default: "of another kind"
            }
        }
        switch error {
        case .keyNotFound(let key, let context): return "expected " + name(context.codingPath + [key])
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return context.codingPath.isEmpty
                ? "the body must be a JSON object" : name(context.codingPath) + " must be " + kind(type)
        case .dataCorrupted(let context):
            // A value its field cannot hold, or text that is not JSON.
            return context.codingPath.isEmpty
                ? "the body must be a JSON object" : name(context.codingPath) + " has a value of the wrong kind"
        @unknown default: return "the body must be a JSON object"
        }
    }
}
