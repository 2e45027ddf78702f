import Governance
import Testing

@Suite struct PasswordTests {
    /// OWASP ASVS 2.1.1 and 2.1.2: 12 to 128 characters, and a long passphrase is kept whole.
    @Test func passwordsAreTwelveToOneHundredAndTwentyEightCharacters() throws {
        let hasher = PasswordHasher(logN: 4)
        #expect(throws: PasswordError.tooShort(12)) { try hasher.hash(String(repeating: "a", count: 11)) }
        #expect(throws: PasswordError.tooLong(128)) { try hasher.hash(String(repeating: "a", count: 129)) }
        let long = String(repeating: "correct horse battery staple ", count: 4) + "12"
        #expect(long.count == 118)
        let hash = try hasher.hash(long)
        #expect(PasswordHasher.verify(long, against: hash))
        #expect(!PasswordHasher.verify(String(long.dropLast()), against: hash))
    }
}
