import Crypto
import Foundation
import PHMCore

/// The head of an audit log, signed and kept outside the data directory, so cutting entries off
/// the end of the log (which leaves a shorter chain that still checks) is found: the log must
/// still hold the anchored entry, with the anchored hash.
///
/// Written after every intact check of the log (the server checks every few seconds), at the end
/// of every run and when the server stops; checked with every check. The file is one line:
/// `entries head written-at hmac`, the HMAC under the platform's audit key.
public struct AuditAnchor: Sendable, Equatable {
    /// How many entries the log had (the anchored entry's sequence number), and its hash.
    public var entries: Int
    public var head: String
    public var writtenAt: String

    public init(entries: Int, head: String, writtenAt: String = AuditEntry.timestamp(Date())) {
        self.entries = entries
        self.head = head
        self.writtenAt = writtenAt
    }

    /// The anchor file of a data directory: named by a hash of its path, in the key's anchors folder.
    public static func file(for dataDirectory: URL, key: PlatformKey) -> URL {
        let path = dataDirectory.standardizedFileURL.resolvingSymlinksInPath().path
        let name = Hex.encode(SHA256.hash(data: Data(path.utf8)).prefix(12))
        return key.anchors.appendingPathComponent(name + ".head")
    }

    func signed(_ key: PlatformKey) -> String {
        key.auditMAC(Data("\(entries) \(head) \(writtenAt)".utf8))
    }

    /// Writes the anchor atomically (a new file renamed into place), readable by its owner only.
    public func write(to url: URL, key: PlatformKey) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let draft = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        let line = "\(entries) \(head) \(writtenAt) \(signed(key))\n"
        guard
            FileManager.default.createFile(atPath: draft.path, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600])
        else { throw AuditAnchorError.unwritable(url.path) }
        guard rename(draft.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: draft)
            throw AuditAnchorError.unwritable(url.path)
        }
    }

    /// The anchor in `url`: nil when there is none yet; an error when it is there but altered.
    public static func read(_ url: URL, key: PlatformKey) throws -> AuditAnchor? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        guard parts.count == 4, let entries = Int(parts[0]), entries >= 0 else { throw AuditAnchorError.altered(url.path) }
        let anchor = AuditAnchor(entries: entries, head: parts[1], writtenAt: parts[2])
        guard anchor.signed(key) == parts[3] else { throw AuditAnchorError.altered(url.path) }
        return anchor
    }
}

public enum AuditAnchorError: Error, CustomStringConvertible, Sendable {
    case unwritable(String)
    case altered(String)

    public var description: String {
        switch self {
        case .unwritable(let path): "the audit anchor \(path) cannot be written"
        case .altered(let path): "the audit anchor \(path) was altered or written under another platform key"
        }
    }
}
