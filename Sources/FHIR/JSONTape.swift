import Foundation

/// One JSON text parsed into a flat list of tokens, without building any values: a reader then
/// looks up the few fields it needs and copies only those. Parsing is one pass over the bytes
/// with an explicit stack, so it is linear in the text and no input can exhaust the call stack.
///
/// The tape refers to the bytes it parsed by offset; it is valid only with those bytes, which
/// the caller keeps alive and passes to every accessor.
public struct JSONTape: Sendable {
    public enum Kind: UInt8, Sendable {
        case object, array, string, number, `true`, `false`, null
    }

    public struct Token: Sendable {
        public var kind: Kind
        /// Whether a string holds escapes (its raw bytes are then not its value).
        public var escaped = false
        /// A string's bytes between its quotes; a container's from its opening to past its closing bracket.
        public var start: Int32
        public var end: Int32
        /// The index of the token after this value and everything inside it.
        public var next: Int32
    }

    /// Where and why a text is not JSON.
    public struct Failure: Error, Sendable, Equatable {
        public var offset: Int
        public var reason: String
    }

    public private(set) var tokens: [Token] = []
    private var stack: [Int32] = []
    /// The deepest nesting accepted: FHIR resources nest a dozen levels at most.
    public var maximumDepth = 64

    public init() {}

    /// Parses `bytes` as one JSON value (surrounding white space allowed); the root is token 0.
    ///
    /// The bytes must be valid UTF-8 (checked by the caller, once per block of lines).
    /// - Complexity: O(n) in the length of the text.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        tokens.removeAll(keepingCapacity: true)
        stack.removeAll(keepingCapacity: true)
        guard bytes.count < Int(Int32.max) else { throw Failure(offset: 0, reason: "the text is too long") }
        var parser = Parser(bytes: bytes)
        try parser.run(&tokens, &stack, maximumDepth: maximumDepth)
    }

    // MARK: Reading

    /// The value of `key` in the object at `object`, or nil if the token is not an object or lacks the key.
    public func value(_ key: StaticString, in object: Int, _ bytes: UnsafeRawBufferPointer) -> Int? {
        guard object >= 0, object < tokens.count, tokens[object].kind == .object else { return nil }
        let name = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        var k = object + 1
        let end = Int(tokens[object].next)
        while k < end {
            if equals(k, name, bytes) { return k + 1 }
            k = Int(tokens[k + 1].next)
        }
        return nil
    }

    /// The elements of the array at `array` (none if the token is not an array).
    public func elements(of array: Int?) -> Elements {
        guard let array, array >= 0, array < tokens.count, tokens[array].kind == .array else {
            return Elements(tokens: tokens, first: 0, end: 0)
        }
        return Elements(tokens: tokens, first: array + 1, end: Int(tokens[array].next))
    }

    public struct Elements: Sequence, IteratorProtocol {
        let tokens: [Token]
        var first: Int
        let end: Int

        public mutating func next() -> Int? {
            guard first < end else { return nil }
            defer { first = Int(tokens[first].next) }
            return first
        }
    }

    public func kind(_ token: Int?) -> Kind? { token.map { tokens[$0].kind } }

    /// Whether the string at `token` is exactly `text`.
    public func equals(_ token: Int?, _ text: StaticString, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let token else { return false }
        return equals(token, UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount), bytes)
    }

    /// Whether the string at `token` is exactly the UTF-8 `text`.
    public func equals(_ token: Int, _ text: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let t = tokens[token]
        guard t.kind == .string else { return false }
        if t.escaped {
            var decoded: [UInt8] = []
            appendString(token, bytes, to: &decoded)
            return decoded.elementsEqual(text)
        }
        return Int(t.end - t.start) == text.count
            && (text.isEmpty || memcmp(bytes.baseAddress! + Int(t.start), text.baseAddress!, text.count) == 0)
    }

    /// The raw bytes of a number, or of a string without escapes (nil for anything else).
    public func raw(_ token: Int?, _ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let token else { return nil }
        let t = tokens[token]
        guard t.kind == .number || (t.kind == .string && !t.escaped) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[Int(t.start)..<Int(t.end)])
    }

    /// The string at `token`, escapes decoded (nil if it is not a string).
    public func string(_ token: Int?, _ bytes: UnsafeRawBufferPointer) -> String? {
        guard let token, tokens[token].kind == .string else { return nil }
        var decoded: [UInt8] = []
        appendString(token, bytes, to: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Appends a string's value (escapes decoded, as UTF-8) or a number's text to `out`.
    /// Returns false, appending nothing, for any other kind of value.
    @discardableResult
    public func appendString(_ token: Int, _ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) -> Bool {
        let t = tokens[token]
        guard t.kind == .string || t.kind == .number else { return false }
        let range = Int(t.start)..<Int(t.end)
        guard t.escaped else {
            out.append(contentsOf: bytes[range])
            return true
        }
        var i = range.lowerBound
        while i < range.upperBound {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = Self.hex4(bytes, i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= range.upperBound, bytes[i] == UInt8(ascii: "\\"),
                    bytes[i + 1] == UInt8(ascii: "u")
                {
                    let low = Self.hex4(bytes, i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                // A lone surrogate is not a character: it reads as the replacement character.
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: out.append(e)  // \" \\ \/
            }
        }
        return true
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | UInt32(Parser.hexValue(bytes[at + k]) ?? 0) }
        return value
    }
}

/// The single pass behind `JSONTape.parse`: a state machine over the bytes.
private struct Parser {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    enum Expect { case value, valueOrClose, keyOrClose, key, colon, commaOrClose, done }

    mutating func run(_ tokens: inout [JSONTape.Token], _ stack: inout [Int32], maximumDepth: Int) throws(JSONTape.Failure) {
        var expect = Expect.value
        let n = bytes.count
        func fail(_ reason: String, at offset: Int) -> JSONTape.Failure { JSONTape.Failure(offset: offset, reason: reason) }
        func afterValue() -> Expect { stack.isEmpty ? .done : .commaOrClose }
        while true {
            skipSpace()
            if expect == .done {
                guard i == n else { throw fail("there is more text after the JSON value", at: i) }
                return
            }
            guard i < n else { throw fail("the text ends inside a JSON value", at: i) }
            let c = bytes[i]
            switch expect {
            case .value, .valueOrClose:
                if expect == .valueOrClose, c == UInt8(ascii: "]") {
                    close(&tokens, &stack)
                    expect = afterValue()
                    continue
                }
                switch c {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < maximumDepth else {
                        throw fail("the JSON nests deeper than \(maximumDepth) levels", at: i)
                    }
                    stack.append(Int32(tokens.count))
                    let object = c == UInt8(ascii: "{")
                    tokens.append(.init(kind: object ? .object : .array, start: Int32(i), end: Int32(i), next: 0))
                    i += 1
                    expect = object ? .keyOrClose : .valueOrClose
                    continue
                case UInt8(ascii: "\""): try string(&tokens)
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(&tokens)
                case UInt8(ascii: "t"): try literal("true", .true, &tokens)
                case UInt8(ascii: "f"): try literal("false", .false, &tokens)
                case UInt8(ascii: "n"): try literal("null", .null, &tokens)
                default: throw fail("a JSON value cannot start with \(Self.describe(c))", at: i)
                }
                expect = afterValue()
            case .keyOrClose, .key:
                if expect == .keyOrClose, c == UInt8(ascii: "}") {
                    close(&tokens, &stack)
                    expect = afterValue()
                    continue
                }
                guard c == UInt8(ascii: "\"") else { throw fail("an object key must be a string in quotes", at: i) }
                try string(&tokens)
                expect = .colon
            case .colon:
                guard c == UInt8(ascii: ":") else { throw fail("a ':' must follow an object key", at: i) }
                i += 1
                expect = .value
            case .commaOrClose:
                let top = tokens[Int(stack[stack.count - 1])].kind
                if c == UInt8(ascii: ",") {
                    i += 1
                    expect = top == .object ? .key : .value
                } else if (c == UInt8(ascii: "}") && top == .object) || (c == UInt8(ascii: "]") && top == .array) {
                    close(&tokens, &stack)
                    expect = afterValue()
                } else {
                    throw fail("expected ',' or the end of the \(top == .object ? "object" : "array")", at: i)
                }
            case .done: break
            }
        }
    }

    private mutating func close(_ tokens: inout [JSONTape.Token], _ stack: inout [Int32]) {
        let open = Int(stack.removeLast())
        i += 1
        tokens[open].end = Int32(i)
        tokens[open].next = Int32(tokens.count)
    }

    private mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func string(_ tokens: inout [JSONTape.Token]) throws(JSONTape.Failure) {
        let open = i
        var j = i + 1
        var escaped = false
        while true {
            guard j < bytes.count else { throw .init(offset: open, reason: "a string is not closed") }
            let c = bytes[j]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw .init(offset: j, reason: "a string holds a control character (escape it)") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard j + 1 < bytes.count else { throw .init(offset: j, reason: "a string ends inside an escape") }
                switch bytes[j + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    j += 2
                case UInt8(ascii: "u"):
                    guard j + 6 <= bytes.count, (2..<6).allSatisfy({ Self.hexValue(bytes[j + $0]) != nil }) else {
                        throw .init(offset: j, reason: "a \\u escape needs four hexadecimal digits")
                    }
                    j += 6
                default: throw .init(offset: j, reason: "a string holds an unknown escape")
                }
                continue
            }
            j += 1
        }
        tokens.append(
            .init(kind: .string, escaped: escaped, start: Int32(open + 1), end: Int32(j), next: Int32(tokens.count + 1)))
        i = j + 1
    }

    private mutating func number(_ tokens: inout [JSONTape.Token]) throws(JSONTape.Failure) {
        let start = i
        func digit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= 0x30 && bytes[k] <= 0x39 }
        var j = i
        if bytes[j] == UInt8(ascii: "-") { j += 1 }
        guard digit(j) else { throw .init(offset: start, reason: "a number needs a digit") }
        if bytes[j] == UInt8(ascii: "0") { j += 1 } else { while digit(j) { j += 1 } }
        if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
            j += 1
            guard digit(j) else { throw .init(offset: start, reason: "a number needs a digit after its decimal point") }
            while digit(j) { j += 1 }
        }
        if j < bytes.count, bytes[j] == UInt8(ascii: "e") || bytes[j] == UInt8(ascii: "E") {
            j += 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            guard digit(j) else { throw .init(offset: start, reason: "a number needs a digit in its exponent") }
            while digit(j) { j += 1 }
        }
        tokens.append(.init(kind: .number, start: Int32(start), end: Int32(j), next: Int32(tokens.count + 1)))
        i = j
    }

    private mutating func literal(_ word: StaticString, _ kind: JSONTape.Kind, _ tokens: inout [JSONTape.Token])
        throws(JSONTape.Failure)
    {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count, memcmp(bytes.baseAddress! + i, word.utf8Start, n) == 0 else {
            throw .init(offset: i, reason: "expected \(word)")
        }
        tokens.append(.init(kind: kind, start: Int32(i), end: Int32(i + n), next: Int32(tokens.count + 1)))
        i += n
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func describe(_ b: UInt8) -> String {
        (0x21..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte \(b)"
    }
}
