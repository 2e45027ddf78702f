/// A set of frame rows as one bit per row, 64 rows to a word, so and, or and not over a million
/// people are 15,625 word operations each.
public struct Bitset: Sendable, Equatable {
    public private(set) var words: [UInt64]
    public let count: Int

    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    public static func all(_ count: Int) -> Bitset {
        var set = Bitset(count: count)
        for w in set.words.indices { set.words[w] = ~0 }
        set.clearTail()
        return set
    }

    /// The rows for which `include` holds.
    public init(count: Int, where include: (Int) -> Bool) {
        self.init(count: count)
        words.withUnsafeMutableBufferPointer { words in
            // Without a branch per row (whether a row is in is as good as random), and whole
            // words with a fixed count of 64 and unchecked shifts, so the loop vectorises.
            let whole = count >> 6
            for w in 0..<whole {
                var word: UInt64 = 0
                let base = w << 6
                for bit in 0..<64 { word |= UInt64(include(base &+ bit) ? 1 : 0) &<< UInt64(bit) }
                words[w] = word
            }
            if whole < words.count {
                var word: UInt64 = 0
                let base = whole << 6
                for bit in 0..<(count - base) { word |= UInt64(include(base + bit) ? 1 : 0) &<< UInt64(bit) }
                words[whole] = word
            }
        }
    }

    @inline(__always)
    public func contains(_ row: Int) -> Bool { words[row >> 6] & (1 << UInt64(row & 63)) != 0 }

    @inline(__always)
    public mutating func insert(_ row: Int) { words[row >> 6] |= 1 << UInt64(row & 63) }

    public var cardinality: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Calls `body` with each row in the set, ascending, without building an array.
    @inline(__always)
    public func forEach(_ body: (Int) throws -> Void) rethrows {
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                try body(w << 6 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }

    /// The rows in the set, ascending.
    public var rows: [Int] {
        var out: [Int] = []
        out.reserveCapacity(cardinality)
        forEach { out.append($0) }
        return out
    }

    public mutating func formIntersection(_ other: Bitset) {
        words.withUnsafeMutableBufferPointer { a in
            other.words.withUnsafeBufferPointer { b in for i in a.indices { a[i] &= b[i] } }
        }
    }

    public mutating func formUnion(_ other: Bitset) {
        words.withUnsafeMutableBufferPointer { a in
            other.words.withUnsafeBufferPointer { b in for i in a.indices { a[i] |= b[i] } }
        }
    }

    public mutating func formComplement() {
        words.withUnsafeMutableBufferPointer { a in for i in a.indices { a[i] = ~a[i] } }
        clearTail()
    }

    /// Rows in at least `n` of `sets`: `atLeast[j]` holds the rows in j or more of the sets seen
    /// so far, updated highest first so each set counts once.
    public static func atLeast(_ n: Int, of sets: [Bitset], count: Int) -> Bitset {
        guard n > 0 else { return .all(count) }
        guard n <= sets.count else { return Bitset(count: count) }
        var atLeast = [Bitset](repeating: Bitset(count: count), count: n + 1)
        atLeast[0] = .all(count)
        for set in sets {
            for j in stride(from: n, through: 1, by: -1) {
                var gained = atLeast[j - 1]
                gained.formIntersection(set)
                atLeast[j].formUnion(gained)
            }
        }
        return atLeast[n]
    }

    private mutating func clearTail() {
        let tail = count & 63
        if tail != 0, !words.isEmpty { words[words.count - 1] &= (1 << UInt64(tail)) - 1 }
    }
}
