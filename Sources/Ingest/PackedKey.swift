import PHMCore

/// A short ASCII key (an id or a code) packed into integers, so it can be hashed and compared
/// without allocating a `String` for every row.
public struct PackedKey: Hashable, Sendable {
    var a: UInt64 = 0
    var b: UInt64 = 0
    var c: UInt64 = 0
    var length: UInt8 = 0

    /// The longest key that packs; longer ones are kept as strings by the caller.
    public static let capacity = 24

    /// Packs up to 24 bytes, or returns nil for a longer key.
    @inline(__always)
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= PackedKey.capacity else { return nil }
        length = UInt8(bytes.count)
        for i in 0..<bytes.count {
            let shift = UInt64((i & 7) * 8)
            let v = UInt64(bytes[i]) << shift
            switch i >> 3 {
            case 0: a |= v
            case 1: b |= v
            default: c |= v
            }
        }
    }

    public init?(_ string: String) {
        var copy = string
        guard let key = copy.withUTF8({ PackedKey(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = key
    }

    /// The key's text.
    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(length))
        for i in 0..<Int(length) {
            let word = i < 8 ? a : (i < 16 ? b : c)
            bytes.append(UInt8(truncatingIfNeeded: word >> UInt64((i & 7) * 8)))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Maps keys read from bytes to dense indices, packing short keys and keeping longer ones as their
/// bytes (not as strings: two strings that differ in their bytes can be equal as Unicode text).
public struct KeyIndex: Sendable {
    private var packed: [PackedKey: Int32] = [:]
    private var long: [[UInt8]: Int32] = [:]

    public init() {}

    public var count: Int { packed.count + long.count }

    @inline(__always)
    public func find(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        if let key = PackedKey(bytes) { return packed[key] }
        return long[Array(bytes)]
    }

    /// Inserts a key; returns false (and changes nothing) if it is already present.
    @discardableResult
    public mutating func insert(_ bytes: UnsafeRawBufferPointer, value: Int32) -> Bool {
        if let key = PackedKey(bytes) {
            guard packed[key] == nil else { return false }
            packed[key] = value
            return true
        }
        let key = Array(bytes)
        guard long[key] == nil else { return false }
        long[key] = value
        return true
    }

    /// Inserts a key given as text.
    @discardableResult
    public mutating func insert(_ text: String, value: Int32) -> Bool {
        var copy = text
        return copy.withUTF8 { insert(UnsafeRawBufferPointer($0), value: value) }
    }

    public mutating func reserveCapacity(_ n: Int) { packed.reserveCapacity(n) }
}
