import Foundation
import Governance
import Storage

/// Signed-in sessions and sign-in attempts, kept in the store so that every server process on
/// the data directory finds a session any of them started, and counts every failed sign-in.
extension Platform {
    /// What the store finds a session by: a keyed digest of its token, so the store holds no
    /// token that would open a session.
    func tokenDigest(_ token: String) -> String { key.auditMAC(Data(("session\u{0}" + token).utf8)) }

    /// A session's CSRF token, derived from its token under the platform key: every process
    /// gives the same, and none needs it stored.
    public func csrf(forSession token: String) -> String { key.auditMAC(Data(("csrf\u{0}" + token).utf8)) }

    /// The user as at sign-in: a session ends once its user is deactivated or given another
    /// role, practice or password.
    func userDigest(_ user: UserRecord) -> String {
        let fields = [user.name, user.role.rawValue, user.practiceCode ?? "", user.passwordHash, user.active ? "1" : "0"]
        return key.auditMAC(Data(fields.joined(separator: "\u{0}").utf8))
    }

    public func saveSession(_ session: Session, token: String, started: Date, expires: Date) throws {
        try store.startSession(
            tokenDigest(token),
            StoredSession(
                user: session.user.name, purpose: session.purpose.rawValue, userDigest: userDigest(session.user),
                started: started, expires: expires),
            now: started)
    }

    /// The session a token names, whichever process started it, with when it started and when it
    /// expires if idle; nil when there is none, or its user has changed since sign-in (the session
    /// then ends).
    public func resumeSession(token: String) throws -> (session: Session, started: Date, expires: Date)? {
        let digest = tokenDigest(token)
        guard let (stored, user) = try store.sessionAndUser(digest) else { return nil }
        guard let user, user.active, userDigest(user) == stored.userDigest,
            let purpose = Purpose(rawValue: stored.purpose)
        else {
            try store.endSession(digest)
            return nil
        }
        return (Session(platform: self, user: user, purpose: purpose), stored.started, stored.expires)
    }

    public func extendSession(token: String, to expires: Date) throws { try store.extendSession(tokenDigest(token), to: expires) }

    public func endSession(token: String) throws { try store.endSession(tokenDigest(token)) }

    public func liveSessions(now: Date, startedAfter: Date) throws -> Int {
        try store.liveSessions(now: now, startedAfter: startedAfter)
    }

    /// Reserves a sign-in attempt under each key and its limit (`GovernanceStore.reserveSignIn`).
    public func reserveSignIn(_ keys: [(key: String, limit: Int)], window: TimeInterval, now: Date) throws -> TimeInterval? {
        try store.reserveSignIn(keys, window: window, now: now)
    }

    public func withdrawSignIn(keys: [String], reserved: Date) throws {
        try store.withdrawSignIn(keys: keys, reserved: reserved)
    }

    public func forgiveSignIn(userKey: String, addressKey: String, reserved: Date) throws {
        try store.forgiveSignIn(userKey: userKey, addressKey: addressKey, reserved: reserved)
    }
}
