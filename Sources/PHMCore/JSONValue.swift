import Foundation

/// Any JSON value, for the few places whose shape is open: audit details, and cohort
/// definitions read from JSON before they are checked. Everything else is a `Codable` type.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var number: Double? {
        if case .number(let x) = self { return x }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Booleans first: a JSON number never decodes as one, `true` never as a number.
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        if case .object(let o) = self {
            // Keys sorted, so the same value always gives the same bytes, and written as given.
            var keyed = encoder.container(keyedBy: ObjectKey.self)
            for (key, value) in o.sorted(by: { $0.key < $1.key }) { try keyed.encode(value, forKey: ObjectKey(stringValue: key)) }
            return
        }
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        // JSON has no NaN or infinity: such a number is written as null.
        case .number(let x): if x.isFinite { try c.encode(x) } else { try c.encodeNil() }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object: break
        }
    }

    /// An object's key, as given.
    struct ObjectKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

/// JSON as the platform writes it: API bodies, audit details, saved definitions. `Encodable`
/// values are written straight to bytes, in one pass with no tree in between (Foundation's
/// `JSONEncoder` builds one, and took about twice as long for an API worklist):
/// - a type's keys in the order it declares them, camelCase names as snake_case (`asOf` is
///   `as_of`); a `JSONValue` object's keys sorted and as given, so the same value always gives
///   the same bytes;
/// - numbers as the shortest text that reads back the same, whole numbers without a fraction;
///   NaN and infinities, which JSON lacks, as null;
/// - `<`, `>` and `&` escaped in strings, so JSON can never close markup around it.
/// Containers are written in the order they are asked for, as every synthesised `encode(to:)`
/// does; a hand-written one that returns to a parent container before finishing a nested one
/// is not supported.
public enum JSON {
    public static func bytes(_ value: some Encodable) throws -> [UInt8] {
        let output = JSONOutput()
        try output.value(value)
        return output.bytes
    }

    public static func text(_ value: some Encodable) throws -> String { String(decoding: try bytes(value), as: UTF8.self) }
}

/// The bytes written so far, and the containers still open.
///
/// Its state is touched for every byte by code that never overlaps itself (one writer, one
/// thread), so the runtime's exclusivity checks, which took half the time, are left out.
final class JSONOutput {
    @exclusivity(unchecked) var bytes: [UInt8] = []
    /// For each open container: its closing byte, and whether it holds an element yet.
    @exclusivity(unchecked) var open: [(close: UInt8, empty: Bool)] = []
    /// Whether the value being written has written anything.
    @exclusivity(unchecked) var started = false

    init() { bytes.reserveCapacity(4096) }

    static let hex = Array("0123456789abcdef".utf8)

    /// A value in its slot: whatever containers it opens are closed once it is written, and a
    /// value that writes nothing is an empty object, as Foundation writes it.
    func value(_ value: some Encodable) throws {
        let depth = open.count
        started = false
        try value.encode(to: JSONByteEncoder(output: self, depth: depth))
        close(downTo: depth)
        if !started { bytes.append(contentsOf: "{}".utf8) }
        started = true
    }

    func openContainer(_ opening: UInt8, _ closing: UInt8) {
        started = true
        bytes.append(opening)
        open.append((closing, true))
    }

    func close(downTo depth: Int) {
        while open.count > depth { bytes.append(open.removeLast().close) }
    }

    /// Before an element of the container at `level`: closes anything nested in the last
    /// element, and separates this element from it.
    func element(at level: Int) {
        close(downTo: level + 1)
        guard level < open.count else { return }
        if open[level].empty { open[level].empty = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    func key(_ key: some CodingKey) {
        if key is JSONValue.ObjectKey {
            string(key.stringValue)
            return bytes.append(UInt8(ascii: ":"))
        }
        var name = key.stringValue
        name.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            // Most names are one lower-case word: copied whole.
            if !utf8.contains(where: {
                $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") || $0 < 0x20 || $0 == 0x22 || $0 == 0x5C
            }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
                    bytes.append(UInt8(ascii: "_"))
                    bytes.append(byte + 32)
                } else {
                    bytes.append(byte < 0x20 || byte == 0x22 || byte == 0x5C ? UInt8(ascii: "_") : byte)
                }
            }
        }
        bytes.append(contentsOf: "\":".utf8)
    }

    // MARK: scalars

    func null() {
        started = true
        bytes.append(contentsOf: "null".utf8)
    }

    func bool(_ b: Bool) {
        started = true
        bytes.append(contentsOf: (b ? "true" : "false").utf8)
    }

    func integer(_ n: Int64) {
        started = true
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        // Digits from the magnitude as unsigned, so Int64.min has one too.
        var m = n.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) = (
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            )
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                count += 1
            } while m > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    func unsigned(_ n: UInt64) {
        if n <= UInt64(Int64.max) { return integer(Int64(n)) }
        started = true
        bytes.append(contentsOf: String(n).utf8)
    }

    func number(_ x: Double) {
        guard x.isFinite else { return null() }
        if x == x.rounded(), abs(x) < 1e15 { return integer(Int64(x)) }
        started = true
        bytes.append(contentsOf: x.description.utf8)
    }

    func string(_ s: String) {
        started = true
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole, from the string's own bytes.
        var s = s
        let clean = s.withUTF8 { utf8 in
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x3C || byte == 0x3E || byte == 0x26 {
                return false
            }
            bytes.append(contentsOf: utf8)
            return true
        }
        if clean { return bytes.append(UInt8(ascii: "\"")) }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case 0x0A: bytes.append(contentsOf: #"\n"#.utf8)
            case 0x0D: bytes.append(contentsOf: #"\r"#.utf8)
            case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
            // Other control characters, and < > & so JSON cannot close a script or markup.
            case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 15)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

struct JSONByteEncoder: Encoder {
    let output: JSONOutput
    /// How many containers were open when this value began: the one it opens is at this level.
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Opens the value's container, unless this value opened it already (asking twice gives
    /// the same container, as in Foundation).
    private func level(_ opening: UInt8, _ closing: UInt8) -> Int {
        if output.open.count <= depth { output.openContainer(opening, closing) }
        return depth
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedJSON<Key>(output: output, level: level(UInt8(ascii: "{"), UInt8(ascii: "}"))))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedJSON(output: output, level: level(UInt8(ascii: "["), UInt8(ascii: "]")))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleJSON(output: output, depth: depth) }
}

struct KeyedJSON<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let output: JSONOutput
    let level: Int
    var codingPath: [any CodingKey] { [] }

    private func begin(_ key: Key) {
        output.element(at: level)
        output.key(key)
    }

    mutating func encodeNil(forKey key: Key) throws {
        begin(key)
        output.null()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        begin(key)
        output.bool(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        begin(key)
        output.string(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        begin(key)
        output.number(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        begin(key)
        output.number(Double(value))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        begin(key)
        output.integer(Int64(value))
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        begin(key)
        output.integer(value)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try encode(UInt64(value), forKey: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try encode(Int(value), forKey: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        begin(key)
        output.unsigned(value)
    }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        begin(key)
        try output.value(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        begin(key)
        return JSONByteEncoder(output: output, depth: output.open.count).container(keyedBy: NestedKey.self)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        begin(key)
        return JSONByteEncoder(output: output, depth: output.open.count).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        output.element(at: level)
        output.string("super")
        output.bytes.append(UInt8(ascii: ":"))
        return JSONByteEncoder(output: output, depth: output.open.count)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        begin(key)
        return JSONByteEncoder(output: output, depth: output.open.count)
    }
}

struct UnkeyedJSON: UnkeyedEncodingContainer {
    let output: JSONOutput
    let level: Int
    var codingPath: [any CodingKey] { [] }
    private(set) var count = 0

    private mutating func begin() {
        output.element(at: level)
        count += 1
    }

    mutating func encodeNil() throws {
        begin()
        output.null()
    }
    mutating func encode(_ value: Bool) throws {
        begin()
        output.bool(value)
    }
    mutating func encode(_ value: String) throws {
        begin()
        output.string(value)
    }
    mutating func encode(_ value: Double) throws {
        begin()
        output.number(value)
    }
    mutating func encode(_ value: Float) throws {
        begin()
        output.number(Double(value))
    }
    mutating func encode(_ value: Int) throws {
        begin()
        output.integer(Int64(value))
    }
    mutating func encode(_ value: Int8) throws { try encode(Int(value)) }
    mutating func encode(_ value: Int16) throws { try encode(Int(value)) }
    mutating func encode(_ value: Int32) throws { try encode(Int(value)) }
    mutating func encode(_ value: Int64) throws {
        begin()
        output.integer(value)
    }
    mutating func encode(_ value: UInt) throws { try encode(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try encode(Int(value)) }
    mutating func encode(_ value: UInt16) throws { try encode(Int(value)) }
    mutating func encode(_ value: UInt32) throws { try encode(Int(value)) }
    mutating func encode(_ value: UInt64) throws {
        begin()
        output.unsigned(value)
    }
    mutating func encode(_ value: some Encodable) throws {
        begin()
        try output.value(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        begin()
        return JSONByteEncoder(output: output, depth: output.open.count).container(keyedBy: NestedKey.self)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        begin()
        return JSONByteEncoder(output: output, depth: output.open.count).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        begin()
        return JSONByteEncoder(output: output, depth: output.open.count)
    }
}

struct SingleJSON: SingleValueEncodingContainer {
    let output: JSONOutput
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { output.null() }
    mutating func encode(_ value: Bool) throws { output.bool(value) }
    mutating func encode(_ value: String) throws { output.string(value) }
    mutating func encode(_ value: Double) throws { output.number(value) }
    mutating func encode(_ value: Float) throws { output.number(Double(value)) }
    mutating func encode(_ value: Int) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: Int8) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: Int16) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: Int32) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: Int64) throws { output.integer(value) }
    mutating func encode(_ value: UInt) throws { output.unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { output.integer(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { output.unsigned(value) }
    mutating func encode(_ value: some Encodable) throws {
        // The same slot: the value's own containers are closed by whoever began the slot.
        try value.encode(to: JSONByteEncoder(output: output, depth: depth))
    }
}
