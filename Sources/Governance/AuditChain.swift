import Crypto
import Foundation
import PHMCore

/// One entry of the audit log. Each entry's hash covers its own fields and the previous entry's
/// hash, so editing, deleting or reordering any entry breaks every hash after it. The hash is an
/// HMAC under the platform's audit key, kept outside the store: without the key file, no one
/// able to write the store can make a changed entry, or a re-chained log, check as intact.
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

    /// The HMAC-SHA256 of the entry's fields after `previousHash` under the audit key, as
    /// lowercase hex. Each field is length-prefixed, so no two different entries serialise alike.
    public func computedHash(_ key: PlatformKey) -> String {
        let fields = [previousHash, String(sequence), at, user, role, purpose, action, outcome, detail]
        return key.auditMAC(Data(fields.map { "\($0.utf8.count):\($0)" }.joined().utf8))
    }

    /// The most bytes of detail an entry keeps. Longer detail is replaced by its length, its
    /// SHA-256 and its start, so no request can make one entry (or the log) grow without bound.
    public static let maximumDetailBytes = 32_768

    /// A new entry chained after `previous` (nil for the first).
    public static func make(
        after previous: AuditEntry?, at date: Date, user: String, role: String, purpose: String, action: String,
        outcome: String, detail: String, key: PlatformKey
    ) -> AuditEntry {
        var entry = AuditEntry(
            sequence: (previous?.sequence ?? 0) + 1, at: timestamp(date), user: bounded(user, 256), role: role,
            purpose: purpose, action: action, outcome: outcome, detail: boundedDetail(detail),
            previousHash: previous?.hash ?? genesis, hash: "")
        entry.hash = entry.computedHash(key)
        return entry
    }

    static func bounded(_ text: String, _ bytes: Int) -> String {
        text.utf8.count <= bytes ? text : String(decoding: text.utf8.prefix(bytes), as: UTF8.self)
    }

    static func boundedDetail(_ detail: String) -> String {
        guard detail.utf8.count > maximumDetailBytes else { return detail }
        let digest = Hex.encode(SHA256.hash(data: Data(detail.utf8)))
        let start = String(decoding: detail.utf8.prefix(1_024), as: UTF8.self)
        let escaped = start.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .unicodeScalars.map { $0.value < 0x20 ? " " : String($0) }.joined()
        return #"{"truncated":true,"bytes":\#(detail.utf8.count),"sha256":"\#(digest)","start":"\#(escaped)"}"#
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
    public static func check(_ entries: [AuditEntry], key: PlatformKey) -> AuditVerification {
        var check = AuditChainCheck()
        for entry in entries where !check.add(entry, key: key) { break }
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

    /// A check carrying on after entries already accounted for (sealed into an archive):
    /// `entries` of them, the last with hash `head`.
    public init(after entries: Int, head: String) {
        self.entries = entries
        self.head = head
    }

    /// Checks the next entry; false once the chain is broken.
    @discardableResult
    public mutating func add(_ entry: AuditEntry, key: PlatformKey) -> Bool {
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
        } else if entry.computedHash(key) != entry.hash {
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
