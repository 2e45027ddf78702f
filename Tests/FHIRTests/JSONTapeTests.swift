import FHIR
import Foundation
import Testing

/// The tape parser against Foundation's JSON parser: the same texts accepted and refused, the
/// same strings read, on hand-picked cases and on thousands of mutated ones.
@Suite struct JSONTapeTests {
    func parse(_ text: [UInt8]) -> JSONTape? {
        var tape = JSONTape()
        return text.withUnsafeBytes { (try? tape.parse($0)) != nil ? tape : nil }
    }

    /// Foundation's verdict, with its one leniency taken out: it accepts a comma before a closing
    /// bracket, which RFC 8259 does not allow (and the tape refuses).
    func foundationAccepts(_ text: [UInt8]) -> Bool {
        let trailingComma = text.indices.contains { i in
            text[i] == UInt8(ascii: ",")
                && text[(i + 1)...].first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }).map { $0 == 0x5D || $0 == 0x7D }
                    == true
        }
        return !trailingComma && (try? JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])) != nil
    }

    @Test func readsKeysArraysAndEscapedStrings() throws {
        let text = Array(#"{"a": [1, -2.5e3, "x\"\u00e9\ud83d\ude00\n"], "b": {"c": null, "d": true}, "e\u0041": "k"}"#.utf8)
        let tape = try #require(parse(text))
        text.withUnsafeBytes { bytes in
            let a = tape.value("a", in: 0, bytes)
            let items = Array(tape.elements(of: a))
            #expect(items.count == 3)
            #expect(tape.kind(items[0]) == .number)
            #expect(tape.raw(items[1], bytes).map { String(decoding: $0, as: UTF8.self) } == "-2.5e3")
            #expect(tape.string(items[2], bytes) == "x\"é😀\n")
            #expect(tape.kind(tape.value("c", in: tape.value("b", in: 0, bytes)!, bytes)) == .null)
            #expect(tape.kind(tape.value("d", in: tape.value("b", in: 0, bytes)!, bytes)) == .true)
            // A key written with an escape is still the key it spells.
            #expect(tape.string(tape.value("eA", in: 0, bytes), bytes) == "k")
            #expect(tape.value("missing", in: 0, bytes) == nil)
            #expect(tape.value("a", in: items[0], bytes) == nil)
        }
    }

    @Test func aLoneSurrogateReadsAsTheReplacementCharacter() throws {
        let text = Array(#"["\ud800x"]"#.utf8)
        let tape = try #require(parse(text))
        text.withUnsafeBytes { bytes in
            #expect(tape.string(Array(tape.elements(of: 0))[0], bytes) == "\u{FFFD}x")
        }
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]", "[.5]", "[1e]", "[-]", "[+1]",
        "\"\\x\"", "\"\\u12\"", "\"a\u{01}b\"", "[true false]", "nul", "[1] [2]", "{\"a\":1}}", "'a'", "[1,2",
        "\"unterminated",
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(parse(Array(text.utf8)) == nil)
        #expect(!foundationAccepts(Array(text.utf8)))
    }

    @Test func refusesNestingDeeperThanItsLimitWithoutRecursion() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        var tape = JSONTape()
        #expect(throws: JSONTape.Failure.self) { try deep.withUnsafeBytes { try tape.parse($0) } }
        let ok = Array((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8)
        #expect(parse(ok) != nil)
    }

    /// Mutations of valid FHIR-like text: the tape accepts exactly what Foundation accepts, and
    /// reads the same `id` string when both accept.
    @Test func agreesWithFoundationOnMutatedText() {
        let seeds = [
            #"{"resourceType":"Patient","id":"p\u00e91","name":[{"family":"O'Brien","given":["Ann","Marie"]}],"x":[1.5e-3,-0,true,null]}"#,
            #"{"resourceType":"Observation","id":"o\/2","valueQuantity":{"value":31.4,"unit":"kg/m2"},"component":[]}"#,
            #"[{"id":"\"q\""},{},[],"",0]"#,
        ]
        let alphabet = Array(#"{}[]:,"\/ -+.0123456789eEtrufalsn\u0041x"#.utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state >> 1)
        }
        var agreed = 0
        for round in 0..<20_000 {
            var text = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<(1 + next() % 3) {
                let at = next() % (text.count + 1)
                switch next() % 3 {
                case 0: text.insert(alphabet[next() % alphabet.count], at: at)
                case 1: if at < text.count { text.remove(at: at) }
                default: if at < text.count { text[at] = alphabet[next() % alphabet.count] }
                }
            }
            let tape = parse(text)
            let accepted = foundationAccepts(text)
            #expect((tape != nil) == accepted, "\(String(decoding: text, as: UTF8.self))")
            if let tape, accepted,
                let object = try? JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])
                    as? [String: Any], let id = object["id"] as? String
            {
                text.withUnsafeBytes { bytes in #expect(tape.string(tape.value("id", in: 0, bytes), bytes) == id) }
            }
            if (tape != nil) == accepted { agreed += 1 }
        }
        #expect(agreed == 20_000)
    }
}
