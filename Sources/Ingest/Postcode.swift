/// UK postcode normalisation: upper case, no spaces, checked against the shape of a postcode
/// (outward code `A9`, `A99`, `AA9`, `AA99`, `A9A` or `AA9A`, then inward code `9AA`).
public enum Postcode {
    /// The normalised postcode, or nil when the text is not shaped like a UK postcode.
    ///
    /// - Complexity: O(n), no heap allocation for the check.
    public static func normalise(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard bytes.count <= 10 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10) { out -> String? in
            var n = 0
            for b in bytes where b != 0x20 {
                out[n] = (b >= 0x61 && b <= 0x7A) ? b - 0x20 : b
                n += 1
            }
            guard (5...7).contains(n) else { return nil }
            @inline(__always) func letter(_ i: Int) -> Bool { out[i] >= 0x41 && out[i] <= 0x5A }
            @inline(__always) func digit(_ i: Int) -> Bool { out[i] >= 0x30 && out[i] <= 0x39 }
            // Inward code: digit letter letter.
            guard digit(n - 3), letter(n - 2), letter(n - 1), letter(0) else { return nil }
            // Outward code after its first letter: 9, 99, A9, A99, 9A or A9A.
            let ok: Bool
            switch n - 4 {
            case 1: ok = digit(1)
            case 2: ok = (digit(1) && digit(2)) || (letter(1) && digit(2)) || (digit(1) && letter(2))
            case 3: ok = letter(1) && digit(2) && (digit(3) || letter(3))
            default: ok = false
            }
            return ok ? String(decoding: UnsafeBufferPointer(rebasing: out[0..<n]), as: UTF8.self) : nil
        }
    }
}

/// Name normalisation for linkage: upper case ASCII letters only (hyphens, apostrophes,
/// spaces and accents dropped), so "O'Brien-Smith" and "OBRIEN SMITH" agree.
public enum NameKey {
    public static func normalise(_ bytes: UnsafeRawBufferPointer) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, bytes.count)) { out in
            var n = 0
            for b in bytes {
                if b >= 0x41 && b <= 0x5A {
                    out[n] = b
                    n += 1
                } else if b >= 0x61 && b <= 0x7A {
                    out[n] = b - 0x20
                    n += 1
                }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: out[0..<n]), as: UTF8.self)
        }
    }

    public static func normalise(_ string: String) -> String {
        var copy = string
        return copy.withUTF8 { normalise(UnsafeRawBufferPointer($0)) }
    }
}
