@preconcurrency import Crypto
import Foundation
import PHMCore

/// The secret key behind every pseudonym, read from a key file kept outside the data directory.
///
/// The file holds the key as hexadecimal text (at least 32 bytes, so 64 hex digits), with
/// optional surrounding white space. A data provider holding the same file can pseudonymise at
/// source and obtain the same person keys (see docs/pseudonymisation.md).
public struct PseudonymKey: Sendable {
    let key: SymmetricKey

    /// A key from raw bytes (at least 32).
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 32 else { throw KeyFileError.tooShort(bytes.count) }
        key = SymmetricKey(data: bytes)
    }

    /// Reads a key file.
    public init(contentsOf url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw KeyFileError.unreadable(url.path) }
        guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw KeyFileError.notHex(url.path)
        }
        try self.init(bytes: bytes)
    }

    /// Writes a new random 32-byte key to `url`, readable by its owner only, and returns it.
    public static func create(at url: URL) throws -> PseudonymKey {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let hex = Hex.encode(bytes) + "\n"
        guard FileManager.default.createFile(atPath: url.path, contents: Data(hex.utf8), attributes: [.posixPermissions: 0o600])
        else { throw KeyFileError.unwritable(url.path) }
        return try PseudonymKey(bytes: bytes)
    }

    /// HMAC-SHA256 of `message` under the key, as 64 lowercase hex digits.
    public func pseudonym(of message: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)
        return Hex.encode(mac)
    }

    /// The person key of someone with a valid NHS number: HMAC-SHA256 of its ten digits.
    public func pseudonym(nhsNumber: UInt64) -> String {
        var digits = [UInt8](repeating: 0x30, count: 10)
        var rest = nhsNumber
        for i in stride(from: 9, through: 0, by: -1) {
            digits[i] = 0x30 + UInt8(rest % 10)
            rest /= 10
        }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: digits, using: key))
    }

    /// The person key of someone with no valid NHS number, from the GP system's patient id.
    public func pseudonym(patientId: String) -> String {
        pseudonym(of: "gp-patient-id:" + patientId)
    }
}

/// Why a key file cannot be used.
public enum KeyFileError: Error, CustomStringConvertible, Sendable {
    case unreadable(String)
    case notHex(String)
    case tooShort(Int)
    case unwritable(String)
    case insideDataDirectory(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "The key file \(path) cannot be read."
        case .notHex(let path): "The key file \(path) must hold the key as hexadecimal text."
        case .tooShort(let n): "The pseudonymisation key has \(n) bytes; it needs at least 32 (64 hex digits)."
        case .unwritable(let path): "A new key file cannot be written at \(path)."
        case .insideDataDirectory(let path):
            "The key file \(path) is inside the data or input directory; keep it elsewhere so the data alone cannot be re-identified."
        }
    }
}
