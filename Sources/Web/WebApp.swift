import Cohorts
import Dispatch
import Foundation
import Governance
import Hummingbird
import Logging
import NIOPosix
import PHMCore
import Service
import ServiceLifecycle
import Storage
import Synchronization

/// The web server: pages and a JSON API over the same sessions as the command line.
///
/// Browsers sign in with a form and get a session cookie (HttpOnly, Secure, SameSite=Strict);
/// every form, and every API write made with the cookie, carries the session's CSRF token.
/// Scripts sign in at `POST /api/sessions` and send the token as `Authorization: Bearer`.
/// Nothing that identifies a person ever appears in a URL.
public enum WebApp {
    /// The server and its background work, the watches of the audit log and of new runs, as
    /// services of one `ServiceGroup`. On SIGTERM or SIGINT a group stops its services in the
    /// reverse of their order: the HTTP server first (no new connections, the requests in hand
    /// finished), then the watches, so the audit log is anchored with the last request's entry in.
    /// `watching: false` leaves the watches out (tests of the routes alone).
    public static func make(
        platform: Platform, host: String = "127.0.0.1", port: Int = 8080, logger: Logger, accessLog: AccessLog = .all,
        auditCheckEvery interval: Duration = auditWatchInterval, watching: Bool = true
    ) -> some ApplicationProtocol {
        let cache = PageCache()
        let readiness = Readiness()
        let metrics = Metrics()
        return Application(
            router: router(
                platform: platform, sessions: WebSessions(platform: platform), metrics: metrics, cache: cache,
                readiness: readiness, accessLog: accessLog),
            configuration: .init(address: .hostname(host, port: port), serverName: "phm"),
            services: watching
                // Stopped in reverse: the server, then the audit watch, then the runs watch.
                ? [
                    Watch(name: "runs") { await watchRuns(platform, cache, readiness, logger) },
                    Watch(name: "audit log") {
                        await watchAuditLog(platform, logger, every: interval) { metrics.auditChecked(intact: $0) }
                    },
                ] : [],
            logger: logger)
    }

    /// A watch that runs until the group shuts down gracefully, then is cancelled (each watch
    /// finishes what it does on cancellation: the audit watch anchors the log's head). A watch
    /// that ends on its own (the audit watch at a break) then waits for the shutdown: a service
    /// that returns would stop the group, and with it the server, whose audit page must go on
    /// showing the break.
    struct Watch: ServiceLifecycle.Service {
        let name: String
        let body: @Sendable () async -> Void

        func run() async throws {
            await cancelWhenGracefulShutdown { await body() }
            try? await gracefulShutdown()
        }
    }

    /// Gets each newest run ready to serve before anyone asks: when the server starts and when
    /// a run is published, reads the run's frames and outputs and builds every page's default
    /// view. Otherwise the first users to arrive wait for that work (over a second for
    /// 100,000 people, longer with more) and hold up everyone queued behind them.
    static func watchRuns(
        _ platform: Platform, _ cache: PageCache, _ readiness: Readiness, _ logger: Logger,
        every interval: Duration = auditWatchInterval
    ) async {
        var prepared: Int64?
        while !Task.isCancelled {
            if let newest = FrameFile.runs(dataDirectory: platform.dataDirectory).first, newest != prepared {
                do {
                    // On a thread of its own: NIO's pool (one thread a core) stays free for requests.
                    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                        Thread.detachNewThread { done.resume(with: Result { try prepare(platform, cache) }) }
                    }
                    logger.info("run ready to serve", metadata: ["run": "\(newest)"])
                } catch {
                    // Not an outage: the pages say why when asked (a run with exact counts, say).
                    logger.notice("run not prepared ahead", metadata: ["run": "\(newest)", "reason": "\(error)"])
                }
                prepared = newest
            }
            readiness.markReady()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// Whether the server has got the newest run it found at start ready to serve.
    final class Readiness: Sendable {
        private let ready = Atomic(false)
        var isReady: Bool { ready.load(ordering: .acquiring) }
        func markReady() { ready.store(true, ordering: .releasing) }
    }

    /// Reads the newest run's frames and planning outputs and builds each page's default view.
    static func prepare(_ platform: Platform, _ cache: PageCache) throws {
        let publication = try platform.publication()  // the planning frame first
        _ = try platform.frame(for: .directCare)
        for dashboard in Dashboard.allCases {
            let query = try query(dashboard, publication, unit: "", indicator: nil, measure: nil, cache)
            _ = cache.page(dashboard, publication, query)
        }
    }

    /// How often the server checks the audit log's newest entries, and the whole log.
    public static let auditWatchInterval = Duration.seconds(5)
    static let auditWholeCheckInterval = Duration.seconds(60 * 60)

    /// Checks the whole audit log once, off the request path, then every few seconds the
    /// entries written since, so a view of the audit page finds little left to check and a
    /// change to a recent entry is logged within seconds; and the whole log again every hour,
    /// so an edit to an entry already checked (which carrying on cannot see) is found within
    /// the hour. Stops at the first break (logged as an error): from then on every check reads
    /// the whole log, and the audit page shows the break.
    static func watchAuditLog(
        _ platform: Platform, _ logger: Logger, every interval: Duration = auditWatchInterval,
        wholeEvery wholeInterval: Duration = auditWholeCheckInterval, checked: @Sendable (Bool) -> Void = { _ in }
    ) async {
        var whole = true
        var checkedWhole = ContinuousClock.now
        while !Task.isCancelled {
            do {
                let started = ContinuousClock.now
                let check = try await offLoop { [whole] in try platform.verifyAudit(whole: whole, anchoring: true) }
                guard case .intact = check.verification else {
                    checked(false)
                    return logger.error("audit log broken", metadata: ["result": "\(check.verification)"])
                }
                checked(true)
                if whole {
                    logger.info("audit log checked whole", metadata: ["result": "\(check.verification)"])
                    checkedWhole = started
                }
                whole = ContinuousClock.now - checkedWhole >= wholeInterval
                try await Task.sleep(for: interval)
            } catch is CancellationError {
                // Stopping: anchor the head as it is now, so the next start can check it.
                _ = try? platform.verifyAudit(whole: false, anchoring: true)
                return
            } catch {
                // The store out of reach for a while (a database restarting): try again, whole,
                // since entries may have been written meanwhile by other processes.
                logger.error("audit log could not be checked", metadata: ["error": "\(error)"])
                whole = true
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }

    static func router(
        platform: Platform, sessions: WebSessions, metrics: Metrics = Metrics(), throttle: LoginThrottle? = nil,
        cache: PageCache = PageCache(), heavy: HeavyWork = HeavyWork(), readiness: Readiness = Readiness(),
        accessLog: AccessLog = .all
    ) -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: Observe(metrics: metrics, sessions: sessions, accessLog: AccessLogSampler(accessLog)))
        router.add(middleware: SecurityHeaders())
        let routes = Routes(
            platform: platform, sessions: sessions, metrics: metrics, throttle: throttle ?? LoginThrottle(platform: platform),
            cache: cache, heavy: heavy,
            readiness: readiness)
        routes.addOpen(to: router)
        routes.addPages(to: router)
        routes.addAPI(to: router)
        return router
    }

    /// The page script, served at `/app.js`: the cohort builder's live count and suggestions while typing, and PNG downloads of charts (pages work without it).
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
        let query = try query(
            dashboard, publication, unit: code, indicator: parameters.get("indicator"), measure: parameters.get("measure"), cache)
        return (publication, query)
    }

    /// The unit, indicator and measure asked for, each checked against the run's; an empty or
    /// missing one is the default.
    static func query(
        _ dashboard: Dashboard, _ publication: Publication, unit code: String, indicator: String?, measure: String?,
        _ cache: PageCache
    ) throws -> PageQuery {
        guard let unit = code.isEmpty ? publication.units.first : publication.unit(code) else {
            throw AccessError.invalid("no unit has the code '\(code)'")
        }
        func choose(_ asked: String?, _ options: [String]) throws -> String {
            guard let asked, !asked.isEmpty else {
                return options.contains(dashboard.preferred) ? dashboard.preferred : options.first ?? ""
            }
            guard options.contains(asked) else { throw AccessError.invalid("'\(asked)' is not one of this page's choices") }
            return asked
        }
        let choices = cache.choices(dashboard, publication)
        return PageQuery(
            unit: unit, indicator: try choose(indicator, choices.indicators), measure: try choose(measure, choices.measures))
    }

    /// The bearer token of a script, or the session cookie of a browser.
    static func token(_ request: Request) -> String? {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") { return String(header.dropFirst(7)) }
        return request.cookies[WebSessions.cookie]?.value
    }

    /// The request's session: as the middleware found it for this request's token, or looked up.
    static func authenticated(_ request: Request, _ sessions: WebSessions) -> WebSessions.Entry? {
        guard let token = token(request) else { return nil }
        if let current = WebSessions.current, current.token == token { return current.entry }
        return sessions.find(token)
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
            case .unsuppressedRun: return try failure(error.description, .serviceUnavailable)
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
            switch error {
            case .invalid: return html(page(error.description), .badRequest)
            case .unsuppressedRun: return html(page(error.description), .serviceUnavailable)
            default: return html(page(error.description), .forbidden)
            }
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

    /// Runs blocking work (the store's reads and writes, the audit entry each view writes and
    /// syncs, building a page) on the thread pool, so no event loop, and no other connection on
    /// it, waits on the disk or the database server.
    static func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await blocking.runIfActive(work)
    }

    /// More threads than cores: a store on PostgreSQL leaves a thread waiting for each answer,
    /// and with one thread per core two requests at a time reached the database. As many as a
    /// process's connections to the store (`PostgreSQLDatabase`); on the embedded store too,
    /// where the load test measured it (docs/web.md).
    static let blocking: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()

    static func json(_ value: some Encodable, _ status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSON.bytes(value))))
    }

    /// FHIR's JSON media type (FHIR R4, http.html#mime).
    static let fhirJSON = "application/fhir+json"

    /// Whether an Accept header ranks FHIR's JSON above plain JSON (RFC 9110 section 12.5.1:
    /// media ranges compared without case, each with its `q`, 1 when absent, 0 refusing); FHIR
    /// named beside a wildcard of the same quality is the more specific, so it wins.
    static func prefersFHIR(_ accept: [String]) -> Bool {
        var fhirQuality = 0.0, jsonQuality = 0.0, wildcardQuality = 0.0
        // A header field is short; more ranges than this are not read.
        for range in accept.joined(separator: ",").split(separator: ",").prefix(64) {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)).map { min(max($0, 0), 1) } ?? 0
            }
            switch type {
            case fhirJSON: fhirQuality = max(fhirQuality, quality)
            case "application/json": jsonQuality = max(jsonQuality, quality)
            case "application/*", "*/*": wildcardQuality = max(wildcardQuality, quality)
            default: break
            }
        }
        return fhirQuality > 0 && fhirQuality > jsonQuality && fhirQuality >= wildcardQuality
    }

    static func fhir(_ resource: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: fhirJSON + "; fhirVersion=4.0"],
            body: .init(byteBuffer: ByteBuffer(string: resource)))
    }

    static func failure(_ message: String, _ status: HTTPResponse.Status) throws -> Response {
        try json(API.Failure(error: message), status)
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
