import Foundation

/// A signed-in session as the store keeps it: whose, under which purpose, a digest of the user
/// as at sign-in (so a changed user ends it), and when it started and expires.
public struct StoredSession: Sendable, Equatable {
    public var user: String
    public var purpose: String
    public var userDigest: String
    public var started: Date
    public var expires: Date

    public init(user: String, purpose: String, userDigest: String, started: Date, expires: Date) {
        self.user = user
        self.purpose = purpose
        self.userDigest = userDigest
        self.started = started
        self.expires = expires
    }
}

extension GovernanceStore {
    /// Saves a new session, and drops those already ended (idle past `expires`).
    public func startSession(_ tokenDigest: String, _ session: StoredSession, now: Date) throws {
        try database.write { db in
            try db.execute("DELETE FROM session WHERE expires <= ?", now.timeIntervalSince1970)
            try db.execute(
                "INSERT INTO session (tokenDigest, \"user\", purpose, userDigest, started, expires) VALUES (?, ?, ?, ?, ?, ?)",
                tokenDigest, session.user, session.purpose, session.userDigest, session.started.timeIntervalSince1970,
                session.expires.timeIntervalSince1970)
        }
    }

    public func session(_ tokenDigest: String) throws -> StoredSession? {
        try sessionAndUser(tokenDigest)?.session
    }

    /// A session and its user as the store has them now (nil for a user since removed), in one
    /// statement: every request asks.
    public func sessionAndUser(_ tokenDigest: String) throws -> (session: StoredSession, user: UserRecord?)? {
        let columns = UserRecord.columns.components(separatedBy: ", ").map { "u." + $0 }.joined(separator: ", ")
        return try database.select(
            """
            SELECT s."user", s.purpose, s.userDigest, s.started, s.expires, \(columns)
            FROM session s LEFT JOIN "user" u ON u.name = s."user" WHERE s.tokenDigest = ?
            """, [.text(tokenDigest)]
        ).first.map { row in
            let session = StoredSession(
                user: try row.string(0), purpose: try row.string(1), userDigest: try row.string(2),
                started: Date(timeIntervalSince1970: try row.double(3)), expires: Date(timeIntervalSince1970: try row.double(4)))
            return (session, row.isNull(5) ? nil : try UserRecord(row: SQLRow(Array(row.values[5...]))))
        }
    }

    /// Moves a session's idle expiry later (never earlier).
    public func extendSession(_ tokenDigest: String, to expires: Date) throws {
        try database.write { db in
            try db.execute(
                "UPDATE session SET expires = ? WHERE tokenDigest = ? AND expires < ?", expires.timeIntervalSince1970,
                tokenDigest, expires.timeIntervalSince1970)
        }
    }

    public func endSession(_ tokenDigest: String) throws {
        try database.write { db in try db.execute("DELETE FROM session WHERE tokenDigest = ?", tokenDigest) }
    }

    /// Sessions not yet idle past their expiry nor started before `startedAfter`.
    public func liveSessions(now: Date, startedAfter: Date) throws -> Int {
        try database.read { db in
            try db.row(
                "SELECT count(*) FROM session WHERE expires > ? AND started > ?", now.timeIntervalSince1970,
                startedAfter.timeIntervalSince1970
            ).map { try $0.int(0) } ?? 0
        }
    }

    /// Reserves a sign-in attempt before its password is checked, in one transaction whichever
    /// process asks: for each key (a user name, an address) with its limit, the attempts within
    /// `window` before `now` are counted, and when none is at its limit the attempt is recorded
    /// under every key. Returns nil when reserved, or how long until the oldest counted attempt
    /// of a key at its limit leaves the window.
    public func reserveSignIn(_ keys: [(key: String, limit: Int)], window: TimeInterval, now: Date) throws -> TimeInterval? {
        try database.write { db in
            let since = now.timeIntervalSince1970 - window
            // Attempts past the window are forgotten, so made-up names cannot grow the table without end.
            try db.execute("DELETE FROM signInAttempt WHERE at <= ?", since)
            var wait: TimeInterval?
            for (key, limit) in keys {
                let times = try db.rows("SELECT at FROM signInAttempt WHERE key = ? ORDER BY at LIMIT ?", key, limit)
                    .map { try $0.double(0) }
                if times.count >= limit { wait = max(wait ?? 0, times[0] - since) }
            }
            if let wait { return wait }
            for (key, _) in keys {
                try db.execute("INSERT INTO signInAttempt (key, at) VALUES (?, ?)", key, now.timeIntervalSince1970)
            }
            return nil
        }
    }

    /// A reserved attempt was no guess (the server was busy, the purpose not the role's): its
    /// rows alone are taken back, under every key.
    public func withdrawSignIn(keys: [String], reserved: Date) throws {
        try database.write { db in
            for key in keys { try Self.deleteAttempt(db, key: key, at: reserved) }
        }
    }

    /// A reserved attempt succeeded: the user's attempts are forgotten, and this one is taken off
    /// the address.
    public func forgiveSignIn(userKey: String, addressKey: String, reserved: Date) throws {
        try database.write { db in
            try db.execute("DELETE FROM signInAttempt WHERE key = ?", userKey)
            try Self.deleteAttempt(db, key: addressKey, at: reserved)
        }
    }

    /// One attempt of a key at a time: another at the same instant stays.
    static func deleteAttempt(_ db: any SQLConnection, key: String, at: Date) throws {
        try db.execute(
            "DELETE FROM signInAttempt WHERE rowid = (SELECT rowid FROM signInAttempt WHERE key = ? AND at = ? LIMIT 1)", key,
            at.timeIntervalSince1970)
    }
}
