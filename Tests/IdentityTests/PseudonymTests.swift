import Foundation
import Identity
import PHMCore
import TestSupport
import Testing

@Suite struct PseudonymTests {
    /// RFC 4231 test case 2: HMAC-SHA256 with key "Jefe" is a known answer; keys shorter than 32
    /// bytes are refused, so the case is checked through the same code path with the key padded
    /// as HMAC itself pads it (with zero bytes to the block size), which leaves the MAC unchanged.
    @Test func matchesRFC4231KnownAnswer() throws {
        var key = Array("Jefe".utf8)
        key += [UInt8](repeating: 0, count: 64 - key.count)
        let mac = try PseudonymKey(bytes: key).pseudonym(of: "what do ya want for nothing?")
        #expect(mac == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func personKeyIsHMACOfTheTenDigitNumber() throws {
        let key = try PseudonymKey(bytes: Array(0..<32))
        #expect(key.pseudonym(nhsNumber: 9_434_765_919) == key.pseudonym(of: "9434765919"))
        #expect(key.pseudonym(nhsNumber: 123_456_789) == key.pseudonym(of: "0123456789"))
        #expect(key.pseudonym(patientId: "P1") != key.pseudonym(of: "P1"))
    }

    /// An independent implementation (Python's hmac module) gives the same person keys, so a data
    /// provider holding the key file can pseudonymise at source.
    @Test func agreesWithAnIndependentImplementation() throws {
        let folder = temporaryFolder("key")
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyFile = folder.appendingPathComponent("pseudonymisation.key")
        let key = try PseudonymKey.create(at: keyFile)
        let numbers: [UInt64] = [9_434_765_919, 4_010_232_137, 9_990_000_018]
        let script = """
            import hmac, hashlib, sys
            key = bytes.fromhex(open(sys.argv[1]).read().strip())
            for n in sys.argv[2:]:
                print(hmac.new(key, n.encode(), hashlib.sha256).hexdigest())
            """
        let run = try runProgram(["/usr/bin/env", "python3", "-c", script, keyFile.path] + numbers.map { String($0) })
        #expect(run.status == 0, "\(run.errors)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines == numbers.map { key.pseudonym(nhsNumber: $0) })
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func refusesWeakOrMalformedKeys() {
        #expect(throws: KeyFileError.self) { try PseudonymKey(bytes: [1, 2, 3]) }
        let folder = temporaryFolder("key")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("k")
        try? Data("not hex at all".utf8).write(to: file)
        #expect(throws: KeyFileError.self) { try PseudonymKey(contentsOf: file) }
        try? Data(String(repeating: "ab", count: 16).utf8).write(to: file)
        #expect(throws: KeyFileError.self) { try PseudonymKey(contentsOf: file) }
        try? Data((String(repeating: "aB", count: 32) + "\n").utf8).write(to: file)
        #expect(throws: Never.self) { try PseudonymKey(contentsOf: file) }
    }
}
