import Cohorts
import Dispatch
import Foundation
import Governance
import Hummingbird
import Logging
import PHMCore
import Service

/// The web server: pages and a JSON API over the same sessions as the command line.
///
/// Browsers log in with a form and get a session cookie (HttpOnly, Secure, SameSite=Strict);
/// every form and every API call that changes or reads patient data carries the session's CSRF
/// token. Nothing that identifies a person ever appears in a URL.
public enum WebApp {
    public static func make(platform: Platform, host: String = "127.0.0.1", port: Int = 8080, logger: Logger)
        -> some ApplicationProtocol
    {
        Application(
            router: router(platform: platform, sessions: WebSessions()),
            configuration: .init(address: .hostname(host, port: port), serverName: "phm"), logger: logger)
    }

    static func router(platform: Platform, sessions: WebSessions) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: SecurityHeaders())

        router.get("/app.css") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Pages.stylesheet)))
        }

        router.get("/health") { _, _ -> Response in
            let run = FrameFile.runs(dataDirectory: platform.dataDirectory).first
            return json(["status": "ok", "run": run.map { Int($0) } ?? 0])
        }

        router.get("/login") { _, _ -> Response in
            // A pre-login CSRF token, in a cookie and in the form (double submit).
            let token = WebSessions.random()
            var response = html(Pages.login(csrf: token, message: nil))
            response.setCookie(cookie(WebSessions.loginCookie, token))
            return response
        }

        router.post("/login") { request, context -> Response in
            let form = try await Form(request, context: context)
            guard let expected = request.cookies[WebSessions.loginCookie]?.value,
                WebSessions.same(expected, form["csrf"] ?? "")
            else { return html(Pages.login(csrf: WebSessions.random(), message: "Your form expired: try again."), .forbidden) }
            guard let purpose = Purpose(rawValue: form["purpose"] ?? "") else {
                return html(Pages.login(csrf: expected, message: "Choose a purpose."), .badRequest)
            }
            let name = form["user"] ?? "", password = form["password"] ?? ""
            do {
                // The slow password hash runs off the server's event loops.
                let session = try await offload { try platform.login(name, password: password, purpose: purpose) }
                let (token, _) = sessions.start(session)
                var response = Response.redirect(to: "/")
                response.setCookie(cookie(WebSessions.cookie, token))
                return response
            } catch let error as AccessError {
                return html(Pages.login(csrf: expected, message: error.description), .unauthorized)
            }
        }

        router.post("/logout") { request, context -> Response in
            let form = try await Form(request, context: context)
            if let token = request.cookies[WebSessions.cookie]?.value, let entry = sessions.find(token),
                WebSessions.same(entry.csrf, form["csrf"] ?? "")
            {
                sessions.end(token)
            }
            return .redirect(to: "/login")
        }

        router.get("/") { request, _ -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            let frame = try platform.frame(for: entry.session.purpose)
            return html(Pages.overview(entry, frame: frame, people: try entry.session.scope(frame).cardinality))
        }

        router.get("/cohorts") { request, _ -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            return html(Pages.cohort(entry, definition: "", result: nil, error: nil))
        }

        router.post("/cohorts") { request, context -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request, context: context)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            let text = form["definition"] ?? ""
            do {
                let result = try entry.session.query(try Session.definition(text))
                return html(Pages.cohort(entry, definition: text, result: result, error: nil))
            } catch let error as CohortError {
                return html(Pages.cohort(entry, definition: text, result: nil, error: error.description), .badRequest)
            } catch let error as AccessError {
                return html(Pages.cohort(entry, definition: text, result: nil, error: error.description), .forbidden)
            }
        }

        router.post("/cohorts/save") { request, context -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request, context: context)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            let text = form["definition"] ?? ""
            do {
                let saved = try entry.session.saveCohort(form["name"] ?? "", try Session.definition(text))
                return html(Pages.cohort(entry, definition: text, result: nil, error: nil, saved: saved))
            } catch let error as CohortError {
                return html(Pages.cohort(entry, definition: text, result: nil, error: error.description), .badRequest)
            } catch let error as AccessError {
                return html(Pages.cohort(entry, definition: text, result: nil, error: error.description), .forbidden)
            }
        }

        router.get("/worklists") { request, _ -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            do { return html(Pages.worklists(entry, cohorts: try entry.session.cohorts())) } catch {
                return try failure("Worklists", error, entry)
            }
        }

        // Opening a worklist re-identifies people: a POST with a reason, never a link.
        router.post("/worklists/open") { request, context -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            let form = try await Form(request, context: context)
            guard WebSessions.same(entry.csrf, form["csrf"] ?? "") else { return html(Pages.forbidden, .forbidden) }
            do {
                // The status form on each row posts here too, then the list is shown again.
                if let pseudonym = form["pseudonym"] {
                    guard let status = WorklistStatus(rawValue: form["status"] ?? "") else {
                        throw AccessError.invalid("unknown status '\(form["status"] ?? "")'")
                    }
                    try entry.session.setStatus(
                        cohort: form["cohort"] ?? "", pseudonym: pseudonym, status: status, note: form["note"] ?? "")
                }
                let list = try entry.session.worklist(form["cohort"] ?? "", reason: form["reason"] ?? "")
                return html(Pages.worklist(entry, list, reason: form["reason"] ?? ""))
            } catch {
                return try failure("Worklist", error, entry)
            }
        }

        router.get("/audit") { request, _ -> Response in
            guard let entry = signedIn(request, sessions) else { return .redirect(to: "/login") }
            do {
                let verification = try entry.session.verifyAudit()
                return html(Pages.audit(entry, verification: verification, entries: try entry.session.auditLog().suffix(200)))
            } catch {
                return try failure("Audit", error, entry)
            }
        }

        // The API: the same session cookie, with the CSRF token in a header.
        router.post("/api/cohorts/profile") { request, context -> Response in
            guard let entry = signedIn(request, sessions) else { return json(["error": "not signed in"], .unauthorized) }
            guard WebSessions.same(entry.csrf, request.headers[.init("X-CSRF-Token")!] ?? "") else {
                return json(["error": "missing or wrong X-CSRF-Token"], .forbidden)
            }
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                let definition = object["definition"]
            else { return json(["error": "expected {\"definition\": text or JSON definition}"], .badRequest) }
            do {
                let source =
                    definition is String
                    ? definition as! String
                    : String(decoding: try JSONSerialization.data(withJSONObject: definition), as: UTF8.self)
                let result = try entry.session.query(try Session.definition(source))
                return json(ProfileJSON.object(result))
            } catch let error as CohortError {
                return json(["error": error.description], .badRequest)
            } catch let error as AccessError {
                return json(["error": error.description], .forbidden)
            }
        }
        return router
    }

    /// A refusal or a definition that does not fit the run, as a page; other errors go on up.
    static func failure(_ title: String, _ error: any Error, _ entry: WebSessions.Entry) throws -> Response {
        let page = { (message: String) in
            Pages.page(title, "<p role=\"alert\" class=\"error\">\(Pages.escape(message))</p>", signedIn: entry)
        }
        switch error {
        case let error as AccessError: return html(page(error.description), .forbidden)
        case let error as CohortError: return html(page(error.description), .unprocessableContent)
        default: throw error
        }
    }

    static func signedIn(_ request: Request, _ sessions: WebSessions) -> WebSessions.Entry? {
        request.cookies[WebSessions.cookie].flatMap { sessions.find($0.value) }
    }

    static func cookie(_ name: String, _ value: String) -> Cookie {
        Cookie(name: name, value: value, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    static func html(_ body: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    static func json(_ object: [String: Any], _ status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Runs blocking work (password hashing) on a dispatch thread.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// Security headers on every response: no inline scripts or styles, no framing, no sniffing.
struct SecurityHeaders: RouterMiddleware {
    func handle(_ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response)
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

/// A URL-encoded form body.
struct Form {
    var fields: [String: String] = [:]

    init(_ request: Request, context: BasicRequestContext) async throws {
        let body = try await request.body.collect(upTo: 1 << 16)
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
    }

    subscript(_ key: String) -> String? { fields[key] }
}

/// A cohort result as JSON, suppressed as the session's purpose requires.
enum ProfileJSON {
    static func object(_ result: CohortResult) -> [String: Any] {
        let p = result.published()
        func count(_ n: Int?) -> Any { n.map { $0 as Any } ?? NSNull() }
        func number(_ x: Double) -> Any { x.isNaN ? NSNull() : x }
        return [
            "run": Int(result.runId), "as_of": result.asOf.description, "suppressed": result.suppressed,
            "size": count(p.size), "population": count(p.populationSize),
            "groups": p.groups.map {
                [
                    "breakdown": $0.group.breakdown, "group": $0.group.group, "cohort": count($0.cohort),
                    "population": count($0.population),
                ] as [String: Any]
            },
            "measures": p.measures.map {
                ["measure": $0.measure, "cohort": number($0.cohort), "population": number($0.population)] as [String: Any]
            },
        ]
    }
}
