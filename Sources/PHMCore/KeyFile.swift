import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A secret key kept as hexadecimal text in a file outside the data directory (the
/// pseudonymisation key, the platform key), readable by its owner only.
public enum KeyFile {
    /// The key's bytes; surrounding white space is allowed.
    public static func read(_ url: URL) throws(KeyFileError) -> [UInt8] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw .unreadable(url.path) }
        guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw .notHex(url.path) }
        return bytes
    }

    /// Writes `bytes` as a new key file (0600, its folder 0700) unless one is there, and returns
    /// the key the file then holds: two processes starting at once agree on one key, since the
    /// new file is linked into place only if none is there yet.
    public static func create(_ url: URL, bytes: [UInt8]) throws(KeyFileError) -> [UInt8] {
        let folder = url.deletingLastPathComponent()
        let draft = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: draft) }
        guard
            (try? FileManager.default.createDirectory(
                at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])) != nil,
            FileManager.default.createFile(
                atPath: draft.path, contents: Data((Hex.encode(bytes) + "\n").utf8), attributes: [.posixPermissions: 0o600]),
            link(draft.path, url.path) == 0 || errno == EEXIST
        else { throw .unwritable(url.path) }
        return try read(url)
    }
}

/// Why a key file cannot be used.
public enum KeyFileError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreadable(String)
    case notHex(String)
    case tooShort(Int)
    case unwritable(String)
    case insideDataDirectory(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "The key file \(path) cannot be read."
        case .notHex(let path): "The key file \(path) must hold the key as hexadecimal text."
        case .tooShort(let n): "The key has \(n) bytes; it needs at least 32 (64 hex digits)."
        case .unwritable(let path): "A new key file cannot be written at \(path)."
        case .insideDataDirectory(let path):
            "The key file \(path) is inside the data or input directory; keep it elsewhere, so the data alone can neither be re-identified nor have its audit log rewritten."
        }
    }
}
