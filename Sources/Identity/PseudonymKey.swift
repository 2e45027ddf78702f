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
    /// An HMAC that has taken in the key already: each pseudonym starts from a copy of it, so
    /// the key's two padded blocks are hashed once rather than once per person.
    private let keyed: HMAC<SHA256>

    /// A key from raw bytes (at least 32).
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 32 else { throw KeyFileError.tooShort(bytes.count) }
        key = SymmetricKey(data: bytes)
        keyed = HMAC<SHA256>(key: key)
    }

    private func mac(_ message: UnsafeRawBufferPointer) -> String {
        var mac = keyed
        mac.update(data: message)
        return Hex.encode(mac.finalize())
    }

    /// Reads a key file.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: try KeyFile.read(url))
    }

    /// Writes a new random 32-byte key to `url`, readable by its owner only (unless a key is
    /// already there), and returns the key the file holds.
    public static func create(at url: URL) throws -> PseudonymKey {
        try PseudonymKey(bytes: try KeyFile.create(url, bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }))
    }

    /// HMAC-SHA256 of `message` under the key, as 64 lowercase hex digits.
    public func pseudonym(of message: String) -> String {
        var message = message
        return message.withUTF8 { mac(UnsafeRawBufferPointer($0)) }
    }

    /// The person key of someone with a valid NHS number: HMAC-SHA256 of its ten digits.
    public func pseudonym(nhsNumber: UInt64) -> String {
        var digits = [UInt8](repeating: 0x30, count: 10)
        var rest = nhsNumber
        for i in stride(from: 9, through: 0, by: -1) {
            digits[i] = 0x30 + UInt8(rest % 10)
            rest /= 10
        }
        return digits.withUnsafeBytes { mac($0) }
    }

    /// The person key of someone with no valid NHS number, from the GP system's patient id.
    public func pseudonym(patientId: String) -> String {
        pseudonym(of: "gp-patient-id:" + patientId)
    }
}
