import Foundation
import Service
import Synchronization

/// Signed-in sessions: a random token (the cookie, or a bearer token) names a `Session`, and the
/// CSRF token its forms must send back is derived from it. Sessions are kept in the store, so
/// every server process on the data directory finds a session any of them started, and a
/// restart signs no one out.
///
/// A session ends after 30 idle minutes, 12 hours after sign-in whatever its use, on sign out,
/// and at its next request once its user is deactivated or given another role, practice or
/// password (the user is read with the session at every request).
package final class WebSessions: Sendable {
    struct Entry: Sendable {
        var session: Session
        var csrf: String
        var expires: Date
        var started: Date
    }

    /// Idle sessions end after this long.
    package static let lifetime: TimeInterval = 30 * 60
    /// Every session ends this long after sign-in: a working day.
    package static let maximumAge: TimeInterval = 12 * 60 * 60
    /// A session's idle expiry is written back when it has moved this much: a busy session
    /// costs a write a minute, not one a request.
    static let extendEvery: TimeInterval = 60
    // `__Host-`: a browser keeps the cookie only as set with Secure, Path=/ and no Domain, so a
    // sibling subdomain cannot plant or overwrite it (OWASP ASVS 3.4.4).
    static let cookie = "__Host-phm_session"
    static let loginCookie = "__Host-phm_login"

    let platform: Platform

    init(platform: Platform) { self.platform = platform }

    /// The session the request being served was found to have, by the token it was found by:
    /// looked up once per request, by the middleware.
    @TaskLocal static var current: (token: String, entry: Entry?)?

    func start(_ session: Session, now: Date = Date()) throws -> (token: String, csrf: String) {
        let token = Self.random()
        try platform.saveSession(session, token: token, started: now, expires: now.addingTimeInterval(Self.lifetime))
        return (token, platform.csrf(forSession: token))
    }

    /// The live session a token names, its idle expiry pushed back (written when it has moved a
    /// minute, so a session idle for 29 to 30 minutes ends); nil when unknown, expired, its user
    /// has changed since sign-in (the session then ends), or the store cannot be read.
    func find(_ token: String, now: Date = Date()) -> Entry? {
        guard let (session, started, expires) = try? platform.resumeSession(token: token) else { return nil }
        guard expires > now, now.timeIntervalSince(started) < Self.maximumAge else {
            try? end(token)
            return nil
        }
        let later = min(now.addingTimeInterval(Self.lifetime), started.addingTimeInterval(Self.maximumAge))
        if later.timeIntervalSince(expires) >= Self.extendEvery { try? platform.extendSession(token: token, to: later) }
        return Entry(session: session, csrf: platform.csrf(forSession: token), expires: later, started: started)
    }

    /// Ends a session in the store; throws when the store cannot be written, so a sign-out that
    /// did not happen is not reported as done.
    func end(_ token: String) throws { try platform.endSession(token: token) }

    /// Live sessions, of every process.
    var active: Int {
        let now = Date()
        return (try? platform.liveSessions(now: now, startedAfter: now.addingTimeInterval(-Self.maximumAge))) ?? 0
    }

    /// 32 random bytes as hex.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares secrets in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
