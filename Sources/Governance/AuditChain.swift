import Crypto
import Foundation

/// One entry of the audit log. Each entry's hash covers its own fields and the previous entry's
/// hash, so editing, deleting or reordering any entry breaks every hash after it.
public struct AuditEntry: Sendable, Codable, Equatable {
    /// 1, 2, 3... with no gaps.
    public var sequence: Int64
    /// ISO 8601, UTC, to the millisecond.
    public var at: String
    public var user: String
    public var role: String
    public var purpose: String
    public var action: String
    /// `allowed` or `denied`.
    public var outcome: String
    /// What was done, as JSON: cohort ids, pseudonyms re-identified and the reason, and so on.
    /// Never an NHS number, name, date of birth or postcode.
    public var detail: String
    public var previousHash: String
    public var hash: String

    public static let genesis = String(repeating: "0", count: 64)

    public init(
        sequence: Int64, at: String, user: String, role: String, purpose: String, action: String, outcome: String,
        detail: String, previousHash: String, hash: String
    ) {
        self.sequence = sequence
        self.at = at
        self.user = user
        self.role = role
        self.purpose = purpose
        self.action = action
        self.outcome = outcome
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash of the entry's fields after `previousHash`, as lowercase hex SHA-256.
    public var computedHash: String {
        let fields = [
            previousHash, String(sequence), at, user, role, purpose, action, outcome, detail,
        ]
        // Each field length-prefixed, so no two different entries serialise alike.
        let canonical = fields.map { "\($0.utf8.count):\($0)" }.joined()
        // Hex by table: `String(format:)` per byte took most of the time of checking a long log.
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(canonical.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// A new entry chained after `previous` (nil for the first).
    public static func make(
        after previous: AuditEntry?, at date: Date, user: String, role: String, purpose: String, action: String,
        outcome: String, detail: String
    ) -> AuditEntry {
        var entry = AuditEntry(
            sequence: (previous?.sequence ?? 0) + 1, at: timestamp(date), user: user, role: role, purpose: purpose,
            action: action, outcome: outcome, detail: detail, previousHash: previous?.hash ?? genesis, hash: "")
        entry.hash = entry.computedHash
        return entry
    }

    /// `2026-11-23T05:06:12.345Z`. A format style, not an `ISO8601DateFormatter`, whose
    /// creation per entry cost more than the rest of writing one.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!))
    }
}

/// The result of checking an audit log from its first entry.
public enum AuditVerification: Sendable, Equatable, CustomStringConvertible {
    case intact(entries: Int, head: String)
    /// The first entry (by position in the log) that does not fit, and why.
    case broken(position: Int, sequence: Int64, reason: String)

    public var description: String {
        switch self {
        case .intact(let n, let head): "intact: \(n) entries, head \(head)"
        case .broken(let position, let sequence, let reason):
            "broken at entry \(position) (sequence \(sequence)): \(reason)"
        }
    }

    /// Checks entries in stored order from the first: see `AuditChainCheck`.
    public static func check(_ entries: [AuditEntry]) -> AuditVerification {
        var check = AuditChainCheck()
        for entry in entries where !check.add(entry) { break }
        return check.result
    }
}

/// A check of an audit log fed one entry at a time in stored order: sequence numbers run
/// 1, 2, 3..., each entry names the hash before it, and each hash matches its entry's contents.
/// It starts at the first entry, or carries on from where an earlier check of the same log ended,
/// so a log checked once need only have its newer entries checked.
public struct AuditChainCheck: Sendable, Equatable {
    /// How many entries have been checked.
    public private(set) var entries: Int
    /// The hash of the last entry checked (`AuditEntry.genesis` before the first).
    public private(set) var head: String
    /// The first break found; nothing after it is checked.
    public private(set) var broken: AuditVerification?

    public init() {
        entries = 0
        head = AuditEntry.genesis
    }

    public var result: AuditVerification { broken ?? .intact(entries: entries, head: head) }

    /// Checks the next entry; false once the chain is broken.
    @discardableResult
    public mutating func add(_ entry: AuditEntry) -> Bool {
        guard broken == nil else { return false }
        let position = entries + 1
        if entry.sequence != Int64(position) {
            let reason =
                entry.sequence > Int64(position)
                ? "sequence \(entry.sequence) where \(position) was expected: entries are missing"
                : "sequence \(entry.sequence) where \(position) was expected: entries are out of order or repeated"
            broken = .broken(position: position, sequence: entry.sequence, reason: reason)
        } else if entry.previousHash != head {
            broken = .broken(
                position: position, sequence: entry.sequence,
                reason: "does not follow the entry before it (entries deleted, inserted or reordered)")
        } else if entry.computedHash != entry.hash {
            broken = .broken(
                position: position, sequence: entry.sequence, reason: "its contents were changed after it was written")
        }
        guard broken == nil else { return false }
        entries = position
        head = entry.hash
        return true
    }

    /// The last entry an earlier check ended at is no longer there as it was.
    public mutating func lostHead() {
        broken = .broken(
            position: entries, sequence: Int64(entries),
            reason: "the last entry of the previous check was removed or changed after it was checked")
    }
}
