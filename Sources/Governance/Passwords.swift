import Crypto
import Foundation
import _CryptoExtras

/// Password hashes with scrypt (Percival 2009; RFC 7914), a memory-hard slow hash.
///
/// Stored as `scrypt$N$r$p$salt$hash` (salt and hash base64), so the cost can be raised later
/// and old hashes still verify. The default cost, N = 2^15, r = 8, p = 1, uses 32 MB and is the
/// interactive-login setting RFC 7914 section 2 discusses.
public struct PasswordHasher: Sendable {
    public var logN: Int
    public var blockSize: Int
    public var parallelism: Int

    public init(logN: Int = 15, blockSize: Int = 8, parallelism: Int = 1) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// The minimum length of a password, as NCSC guidance advises at least 8 characters.
    /// OWASP ASVS 2.1.1 and 2.1.2: at least 12 characters, at most 128.
    public static let minimumLength = 12
    public static let maximumLength = 128

    public func hash(_ password: String) throws -> String {
        guard password.count >= Self.minimumLength else { throw PasswordError.tooShort(Self.minimumLength) }
        guard password.count <= Self.maximumLength else { throw PasswordError.tooLong(Self.maximumLength) }
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let key = try derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return ["scrypt", String(logN), String(blockSize), String(parallelism), Data(salt).base64EncodedString(), key]
            .joined(separator: "$")
    }

    /// A well-formed stored hash no password matches: verified when a user name is unknown, so a
    /// wrong name costs what a wrong password does and names cannot be probed by timing.
    public static let decoy = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    /// Whether a password matches a stored hash, compared in constant time.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]),
            let p = Int(parts[3]), let salt = Data(base64Encoded: parts[4]), (1...20).contains(logN),
            let key = try? PasswordHasher().derive(password, salt: Array(salt), logN: logN, r: r, p: p)
        else { return false }
        let a = Array(key.utf8), b = Array(parts[5].utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) throws -> String {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logN, blockSize: r, parallelism: p)
        return key.withUnsafeBytes { Data($0).base64EncodedString() }
    }
}

public enum PasswordError: Error, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case tooLong(Int)
    public var description: String {
        switch self {
        case .tooShort(let n): "a password must be at least \(n) characters"
        case .tooLong(let n): "a password must be at most \(n) characters"
        }
    }
}
