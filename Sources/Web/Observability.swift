import CoreMetrics
import Foundation
import Governance
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Service
import Storage
import Synchronization

/// The request context: Hummingbird's core storage and the client's address, which login
/// throttling counts by.
struct WebContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, or "local" when there is none (in-process tests).
    var client: String { remoteAddress?.ipAddress ?? "local" }
}

/// The server's metrics through swift-metrics, into a Prometheus registry of the server's own
/// (swift-prometheus), written in the Prometheus text format at `/metrics`: requests by method,
/// route pattern and status, latency histograms by route pattern, sign-ins by outcome, and the
/// platform's gauges, set as they are scraped. Labels are route patterns (`/api/pages/{page}`),
/// never paths or query strings, so nothing a user typed reaches them.
final class Metrics: Sendable {
    static let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// 1 while the audit watch last found the log intact, 0 once it found a break; unset before
    /// its first check.
    private let auditIntact = Mutex<Int?>(nil)

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "phm_http_request_duration_seconds": Self.buckets.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        ]
        self.factory = factory
    }

    func record(method: String, route: String, status: Int, seconds: Double) {
        CoreMetrics.Counter(
            label: "phm_http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))],
            factory: factory
        ).increment()
        CoreMetrics.Timer(label: "phm_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64((seconds * 1e9).rounded()))
    }

    func login(_ outcome: String) {
        CoreMetrics.Counter(label: "phm_logins_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    func auditChecked(intact: Bool) { auditIntact.withLock { $0 = intact ? 1 : 0 } }

    /// What the platform's gauges read when scraped.
    struct Readings {
        var activeSessions: Int
        /// Seconds since the newest run that succeeded finished.
        var latestRunAge: Double?
        /// The identity vault's file with its write-ahead log, on the embedded store.
        var vaultBytes: Int?
    }

    func text(_ readings: Readings) -> String {
        func gauge(_ name: String, _ value: Double) {
            CoreMetrics.Gauge(label: name, factory: factory).record(value)
        }
        gauge("phm_sessions_active", Double(readings.activeSessions))
        if let age = readings.latestRunAge { gauge("phm_latest_run_age_seconds", age) }
        if let bytes = readings.vaultBytes { gauge("phm_vault_bytes", Double(bytes)) }
        if let intact = auditIntact.withLock({ $0 }) { gauge("phm_audit_log_intact", Double(intact)) }
        return registry.emitToString()
    }
}

/// Times every request, counts it in `Metrics` and writes one structured log line: method,
/// route pattern, status, milliseconds and the signed-in user's role and purpose. Never the
/// path's query, a body or a patient.
struct Observe: RouterMiddleware {
    let metrics: Metrics
    let sessions: WebSessions
    let accessLog: AccessLogSampler

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws
        -> Response
    {
        let start = DispatchTime.now().uptimeNanoseconds
        var status = 500
        // The request's session, looked up once (two indexed reads in the store, off the request's
        // task) for the route and for this log line.
        let token = WebApp.token(request)
        let entry: WebSessions.Entry? = if let token { try await WebApp.offLoop { sessions.find(token) } } else { nil }
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let route = context.endpointPath ?? "unmatched"
            metrics.record(method: request.method.rawValue, route: route, status: status, seconds: seconds)
            var metadata: Logger.Metadata = [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
                "ms": .string(String(format: "%.2f", seconds * 1000)),
            ]
            if let entry {
                metadata["user"] = .string(entry.session.user.name)
                metadata["role"] = .string(entry.session.user.role.rawValue)
                metadata["purpose"] = .string(entry.session.purpose.rawValue)
            }
            if accessLog.logs(status: status) {
                context.logger.log(level: status >= 500 ? .error : status >= 400 ? .notice : .info, "request", metadata: metadata)
            }
        }
        do {
            let response = try await WebSessions.$current.withValue(token.map { ($0, entry) }) {
                try await next(request, context)
            }
            status = Int(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            status = Int(error.status.code)
            throw error
        }
    }
}

/// Slows down password guessing: after 5 failed sign-ins for a user name, or 20 from one
/// address, within 15 minutes, further attempts are refused without checking the password
/// until the window has passed. A successful sign-in clears its name's failures. Counted in the
/// store, so every server process on the data directory counts every attempt.
final class LoginThrottle: Sendable {
    static let window: TimeInterval = 15 * 60
    static let perUser = 5
    static let perAddress = 20

    let platform: Platform

    init(platform: Platform) { self.platform = platform }

    /// Reserves a sign-in attempt before its password is checked: the attempt counts as a failure
    /// of its name and address from now, until `succeeded` clears it. So concurrent attempts, in
    /// this process or another, cannot all pass the check before any failure is recorded. Returns
    /// nil when reserved, or the seconds to wait when the name or address has failed too often
    /// lately.
    func reserve(user: String, address: String, now: Date = Date()) throws -> Int? {
        let keys = [("user:" + user.lowercased(), Self.perUser), ("address:" + address, Self.perAddress)]
        guard let wait = try platform.reserveSignIn(keys.map { (key: $0.0, limit: $0.1) }, window: Self.window, now: now)
        else { return nil }
        return max(1, Int(wait.rounded(.up)))
    }

    /// The reserved attempt made at `reserved` was no guess: only it is taken back, under the
    /// name and the address, so errors cannot be used to wipe a name's failures.
    func withdraw(user: String, address: String, reserved: Date) throws {
        try platform.withdrawSignIn(keys: ["user:" + user.lowercased(), "address:" + address], reserved: reserved)
    }

    /// The reserved attempt made at `reserved` succeeded: the name's failures are forgiven and
    /// the reservation is taken off the address.
    func succeeded(user: String, address: String, reserved: Date) throws {
        try platform.forgiveSignIn(userKey: "user:" + user.lowercased(), addressKey: "address:" + address, reserved: reserved)
    }
}
