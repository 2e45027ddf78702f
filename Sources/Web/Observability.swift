import Foundation
import Governance
import Hummingbird
import Logging
import NIOCore
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

/// Counters and latency histograms by route pattern, in the Prometheus text format at `/metrics`.
/// Labels are route patterns (`/api/pages/{page}`), never paths or query strings, so nothing a
/// user typed reaches them.
final class Metrics: Sendable {
    static let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private struct Histogram {
        var counts = [Int](repeating: 0, count: Metrics.buckets.count)
        var count = 0
        var sum = 0.0
    }

    private struct State {
        var requests: [String: Int] = [:]
        var latency: [String: Histogram] = [:]
        var logins: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func record(method: String, route: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests["method=\"\(method)\",route=\"\(route)\",status=\"\(status)\"", default: 0] += 1
            var h = s.latency["route=\"\(route)\"", default: Histogram()]
            h.count += 1
            h.sum += seconds
            for (i, bound) in Metrics.buckets.enumerated() where seconds <= bound { h.counts[i] += 1 }
            s.latency["route=\"\(route)\""] = h
        }
    }

    func login(_ outcome: String) { state.withLock { $0.logins["outcome=\"\(outcome)\"", default: 0] += 1 } }

    func text(activeSessions: Int) -> String {
        state.withLock { s in
            var out = "# HELP phm_http_requests_total Requests answered, by method, route pattern and status.\n"
            out += "# TYPE phm_http_requests_total counter\n"
            for (labels, n) in s.requests.sorted(by: { $0.key < $1.key }) { out += "phm_http_requests_total{\(labels)} \(n)\n" }
            out += "# HELP phm_http_request_duration_seconds Time to answer, by route pattern.\n"
            out += "# TYPE phm_http_request_duration_seconds histogram\n"
            for (labels, h) in s.latency.sorted(by: { $0.key < $1.key }) {
                for (i, bound) in Metrics.buckets.enumerated() {
                    out += "phm_http_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(h.counts[i])\n"
                }
                out += "phm_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(h.count)\n"
                out += "phm_http_request_duration_seconds_sum{\(labels)} \(h.sum)\n"
                out += "phm_http_request_duration_seconds_count{\(labels)} \(h.count)\n"
            }
            out += "# HELP phm_logins_total Sign-in attempts by outcome (allowed, denied, throttled).\n"
            out += "# TYPE phm_logins_total counter\n"
            for (labels, n) in s.logins.sorted(by: { $0.key < $1.key }) { out += "phm_logins_total{\(labels)} \(n)\n" }
            out +=
                "# HELP phm_sessions_active Signed-in sessions in the store, of every server process on the data directory (do not add up across processes).\n# TYPE phm_sessions_active gauge\n"
            out += "phm_sessions_active \(activeSessions)\n"
            return out
        }
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
