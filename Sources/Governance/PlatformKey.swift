@preconcurrency import Crypto
import Foundation
import PHMCore

/// The platform's own secret, kept in a key file outside the data directory (like the
/// pseudonymisation key, and never in the store), from which two keys are derived with HKDF
/// (RFC 5869):
/// - the audit key, which authenticates every entry of the audit log and the signed head file,
///   so someone able to write `phm.sqlite` but without this file cannot rewrite or cut the log
///   unnoticed;
/// - the record-key secret, which gives each person the random record key of cell-key
///   perturbation; without it no one can work out the noise a published count carries.
///
/// The file holds at least 32 bytes as hexadecimal text. It is created on first use, readable
/// by its owner only; every command working on the same data directory must read the same file.
public struct PlatformKey: Sendable {
    let auditKey: SymmetricKey
    let recordKeySecret: SymmetricKey
    /// Where the signed heads of audit logs are kept: beside the key file, outside any data
    /// directory (`AuditAnchor`).
    public let anchors: URL

    init(bytes: [UInt8], anchors: URL) throws {
        self.anchors = anchors
        guard bytes.count >= 32 else { throw KeyFileError.tooShort(bytes.count) }
        let master = SymmetricKey(data: bytes)
        func derive(_ purpose: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: master, salt: Data("phm platform key".utf8), info: Data(purpose.utf8), outputByteCount: 32)
        }
        auditKey = derive("audit log")
        recordKeySecret = derive("cell-key record keys")
    }

    /// A key that lives only in memory: for tests and one-off demonstrations.
    public static func ephemeral() -> PlatformKey {
        // swiftlint:disable:next force_try
        try! PlatformKey(
            bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) },
            anchors: FileManager.default.temporaryDirectory.appendingPathComponent("phm-anchors-\(UUID().uuidString)"))
    }

    /// `$PHM_PLATFORM_KEY_FILE`, or `~/.config/phm/platform.key`.
    public static var defaultFile: URL {
        if let path = ProcessInfo.processInfo.environment["PHM_PLATFORM_KEY_FILE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config/phm/platform.key")
    }

    /// Reads the key file, creating it (owner-only) when there is none. Two processes starting
    /// at once agree on one key: the new file is linked into place only if none is there yet.
    public static func load(_ url: URL = defaultFile, dataDirectory: URL? = nil) throws -> PlatformKey {
        if let dataDirectory, url.standardizedFileURL.path.hasPrefix(dataDirectory.standardizedFileURL.path + "/") {
            throw KeyFileError.insideDataDirectory(url.path)
        }
        let bytes =
            FileManager.default.fileExists(atPath: url.path)
            ? try KeyFile.read(url) : try KeyFile.create(url, bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        return try PlatformKey(bytes: bytes, anchors: url.deletingLastPathComponent().appendingPathComponent("audit-anchors"))
    }

    /// Each person's record key, 0 to 255: the first byte of an HMAC of their pseudonym. Stable
    /// across runs (pseudonyms are), uniform, and unknowable without the key file.
    public func recordKeys(_ pseudonyms: [String]) -> [UInt8] {
        pseudonyms.map { pseudonym in
            HMAC<SHA256>.authenticationCode(for: Data(pseudonym.utf8), using: recordKeySecret).withUnsafeBytes { $0[0] }
        }
    }

    /// HMAC-SHA256 of `message` under the audit key, as 64 lowercase hex digits.
    public func auditMAC(_ message: some DataProtocol) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: auditKey))
    }
}
