import Foundation
import Service
import Synchronization

/// Logged-in browser sessions, held in memory: a random token (the cookie) names a `Session`
/// and the CSRF token its forms must send back.
///
/// A session ends after 30 idle minutes, 12 hours after sign-in whatever its use, and within a
/// second once its user is deactivated or given another role, practice or password (the user is
/// read again at the first request a second after the last read).
final class WebSessions: Sendable {
    struct Entry: Sendable {
        var session: Session
        var csrf: String
        var expires: Date
        var started: Date
        /// When the user was last found unchanged in the store.
        var userChecked: Date
    }

    /// How long a user found unchanged is trusted before the store is read again: a changed or
    /// deactivated user's sessions end within this long, without a read on every request.
    static let userRecheck: TimeInterval = 1

    /// Idle sessions end after this long.
    static let lifetime: TimeInterval = 30 * 60
    /// Every session ends this long after sign-in: a working day.
    static let maximumAge: TimeInterval = 12 * 60 * 60
    static let cookie = "phm_session"
    static let loginCookie = "phm_login"

    private let entries = Mutex<[String: Entry]>([:])

    func start(_ session: Session) -> (token: String, csrf: String) {
        let token = Self.random(), csrf = Self.random()
        let now = Date()
        entries.withLock {
            $0[token] = Entry(
                session: session, csrf: csrf, expires: now.addingTimeInterval(Self.lifetime), started: now, userChecked: now)
        }
        return (token, csrf)
    }

    /// The live session a token names, its idle expiry pushed back; nil when unknown, expired, or
    /// its user has changed since sign-in (the session then ends).
    func find(_ token: String, now: Date = Date()) -> Entry? {
        let found = entries.withLock { entries -> Entry? in
            guard var entry = entries[token] else { return nil }
            guard entry.expires > now, now.timeIntervalSince(entry.started) < Self.maximumAge else {
                entries[token] = nil
                return nil
            }
            entry.expires = min(now.addingTimeInterval(Self.lifetime), entry.started.addingTimeInterval(Self.maximumAge))
            entries[token] = entry
            return entry
        }
        guard let found else { return nil }
        guard now.timeIntervalSince(found.userChecked) >= Self.userRecheck else { return found }
        guard found.session.platform.isCurrent(found.session.user) else {
            end(token)
            return nil
        }
        entries.withLock { $0[token]?.userChecked = now }
        return found
    }

    func end(_ token: String) { entries.withLock { $0[token] = nil } }

    /// Live sessions, after dropping expired ones.
    var active: Int {
        entries.withLock { entries in
            let now = Date()
            entries = entries.filter { $0.value.expires > now && now.timeIntervalSince($0.value.started) < Self.maximumAge }
            return entries.count
        }
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
