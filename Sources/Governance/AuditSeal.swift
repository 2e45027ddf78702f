import Crypto
import Foundation
import PHMCore

/// A stretch of the audit log moved out of the store into an archive file: the log in the store
/// then starts after entry `through`, chained to `head`. The seal is signed with the audit key,
/// so it cannot be forged to hide entries; the archive file is named with its SHA-256, so it
/// can be checked on its own (`AuditArchive.verify`) against the seal.
public struct AuditSeal: Sendable, Equatable {
    /// The last archived entry's sequence number and hash.
    public var through: Int
    public var head: String
    /// The archive file's name and SHA-256.
    public var archive: String
    public var archiveSHA256: String
    public var sealedAt: String
    public var mac: String

    /// A new seal, signed with the audit key.
    public init(through: Int, head: String, archive: String, archiveSHA256: String, sealedAt: String, key: PlatformKey) {
        self.init(through: through, head: head, archive: archive, archiveSHA256: archiveSHA256, sealedAt: sealedAt, mac: "")
        mac = signature(key)
    }

    public init(through: Int, head: String, archive: String, archiveSHA256: String, sealedAt: String, mac: String) {
        self.through = through
        self.head = head
        self.archive = archive
        self.archiveSHA256 = archiveSHA256
        self.sealedAt = sealedAt
        self.mac = mac
    }

    func signature(_ key: PlatformKey) -> String {
        key.auditMAC(Data("seal \(through) \(head) \(archive.utf8.count):\(archive) \(archiveSHA256) \(sealedAt)".utf8))
    }

    public func isAuthentic(_ key: PlatformKey) -> Bool { signature(key) == mac }
}

/// An archive file of audit entries: JSON Lines, a first line naming the entry before the stretch
/// (`{"after": N, "head": HASH}`), then one entry per line.
public enum AuditArchive {
    public static func lines(after: Int, head: String, entries: [AuditEntry]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(Start(after: after, head: head))
        data.append(0x0A)
        for entry in entries {
            data.append(try encoder.encode(entry))
            data.append(0x0A)
        }
        return data
    }

    struct Start: Codable {
        var after: Int
        var head: String
    }

    public static func sha256(_ data: Data) -> String {
        Hex.encode(SHA256.hash(data: data))
    }

    /// Whether an archive file holds the entry with `hash` (check the file with `verify` first).
    public static func holds(_ data: Data, hash: String) -> Bool {
        let decoder = JSONDecoder()
        return data.split(separator: 0x0A, omittingEmptySubsequences: true).dropFirst().contains {
            (try? decoder.decode(AuditEntry.self, from: $0))?.hash == hash
        }
    }

    /// Checks an archive file's chain from its first line: every entry in order, linked and
    /// authentic under the key; and, given its seal (and the seal before it), that the file and
    /// its last entry are the sealed ones and that it starts where the previous seal ends.
    public static func verify(_ data: Data, key: PlatformKey, seal: AuditSeal? = nil, previous: AuditSeal? = nil)
        -> AuditVerification
    {
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        let decoder = JSONDecoder()
        guard let first = lines.first, let start = try? decoder.decode(Start.self, from: first) else {
            return .broken(position: 0, sequence: 0, reason: "the archive does not start with the entry before it")
        }
        if let seal, sha256(data) != seal.archiveSHA256 {
            return .broken(position: 0, sequence: 0, reason: "the archive is not the sealed file (its SHA-256 differs)")
        }
        // It starts where the previous seal ended (or at the first entry).
        if seal != nil, start.after != (previous?.through ?? 0) || start.head != (previous?.head ?? AuditEntry.genesis) {
            return .broken(position: 0, sequence: 0, reason: "the archive does not start where the previous seal ends")
        }
        var check = AuditChainCheck(after: start.after, head: start.head)
        for (i, line) in lines.dropFirst().enumerated() {
            guard let entry = try? decoder.decode(AuditEntry.self, from: line) else {
                return .broken(position: start.after + i + 1, sequence: 0, reason: "line \(i + 2) is not an audit entry")
            }
            guard check.add(entry, key: key) else { return check.result }
        }
        if let seal, check.entries != seal.through || check.head != seal.head {
            return .broken(
                position: check.entries, sequence: Int64(check.entries), reason: "the archive does not end at its seal")
        }
        return check.result
    }
}
