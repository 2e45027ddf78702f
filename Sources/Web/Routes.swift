import Cohorts
import Foundation
import Governance
import Hummingbird
import Service
import Storage

extension WebApp {
    /// The server's routes and what they share: the platform, sessions, metrics, the sign-in
    /// throttle, built pages and the bound on heavy work. Pages, the API and the open routes are
    /// added by the files beside this one.
    struct Routes: Sendable {
        let platform: Platform
        let sessions: WebSessions
        let metrics: Metrics
        let throttle: LoginThrottle
        let cache: PageCache
        let heavy: HeavyWork
        let readiness: Readiness

        /// Liveness, readiness, metrics, the OpenAPI document and the page script and styles: no sign-in.
        func addOpen(to router: Router<WebContext>) {
            let openAPI = ByteBuffer(bytes: (try? Data(contentsOf: openAPIDocument)) ?? Data())
            let script = ByteBuffer(bytes: (try? Data(contentsOf: appScript)) ?? Data())
            router.get("/app.js") { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: script))
            }
            router.get("/app.css") { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: Pages.stylesheet)))
            }
            router.get("/favicon.svg") { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8", .cacheControl: "max-age=86400"],
                    body: .init(byteBuffer: ByteBuffer(string: Pages.icon)))
            }
            router.get("/health") { _, _ -> Response in
                let run = FrameFile.runs(dataDirectory: platform.dataDirectory).first
                return try json(API.Health(status: "ok", run: run.map { Int($0) } ?? 0))
            }
            // Ready once the newest run at start has been got ready (or there is none): a load
            // balancer sends no one here before then. It stays ready while later runs are prepared.
            router.get("/health/ready") { _, _ -> Response in
                let run = FrameFile.runs(dataDirectory: platform.dataDirectory).first.map { Int($0) } ?? 0
                return readiness.isReady
                    ? try json(API.Health(status: "ready", run: run))
                    : try failure("preparing the newest run to serve", .serviceUnavailable)
            }
            router.get("/metrics") { _, _ -> Response in
                let readings = try await WebApp.offLoop {
                    let vault = StoreLocation.vault.folder(of: platform.dataDirectory)
                        .appendingPathComponent(StoreLocation.vault.sqliteName).path
                    let bytes = [vault, vault + "-wal"].compactMap {
                        (try? FileManager.default.attributesOfItem(atPath: $0))?[.size] as? Int
                    }
                    return Metrics.Readings(
                        activeSessions: sessions.active,
                        // A store out of reach leaves this gauge out, not the whole scrape.
                        latestRunAge: (try? platform.latestRunFinished()).map { Date().timeIntervalSince($0) },
                        vaultBytes: bytes.isEmpty ? nil : bytes.reduce(0, +))
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: metrics.text(readings))))
            }
            router.get("/openapi.json") { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAPI))
            }
        }

        /// Signs in, unless the name or address has failed too often lately. The attempt is
        /// counted before its password is checked, so concurrent guesses all count.
        func signIn(_ name: String, _ password: String, _ purpose: Purpose, from client: String) async throws -> Session {
            let reserved = Date()
            if let wait = try await WebApp.offLoop({ try throttle.reserve(user: name, address: client, now: reserved) }) {
                metrics.login("throttled")
                try await WebApp.offLoop { try platform.recordThrottledLogin(name, purpose: purpose) }
                throw Refusal.throttled(seconds: wait)
            }
            do {
                // The slow password hash runs off the server's event loops.
                let session = try await heavy.run { _ in try platform.login(name, password: password, purpose: purpose) }
                // The password was right: a failure to forgive the name does not refuse the sign-in.
                try? await WebApp.offLoop { try throttle.succeeded(user: name, address: client, reserved: reserved) }
                metrics.login("allowed")
                return session
            } catch let error as AccessError where error == .loginFailed {
                metrics.login("denied")
                throw error
            } catch {
                // Anything but a wrong password (a purpose the role lacks, a busy server) is no
                // guess: the reservation is given back.
                try? await WebApp.offLoop { try throttle.withdraw(user: name, address: client, reserved: reserved) }
                if error is AccessError { metrics.login("denied") }
                throw error
            }
        }
    }
}
