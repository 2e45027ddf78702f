/// UK postcode normalisation: upper case, no spaces, checked against the shape of a postcode
/// (outward code `A9`, `A99`, `AA9`, `AA99`, `A9A` or `AA9A`, then inward code `9AA`).
public enum Postcode {
    /// The normalised postcode, or nil when the text is not shaped like a UK postcode.
    public static func normalise(_ bytes: UnsafeRawBufferPointer) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(8)
        for b in bytes where b != 0x20 {
            let upper = (b >= 0x61 && b <= 0x7A) ? b - 0x20 : b
            out.append(upper)
        }
        guard (5...7).contains(out.count) else { return nil }
        func letter(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
        func digit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        let inward = out.suffix(3)
        guard digit(inward[inward.startIndex]), letter(inward[inward.startIndex + 1]),
            letter(inward[inward.startIndex + 2])
        else { return nil }
        let outward = Array(out.prefix(out.count - 3))
        guard letter(outward[0]) else { return nil }
        let rest = outward.dropFirst()
        let shapes: [[(UInt8) -> Bool]] = [
            [digit], [digit, digit], [letter, digit], [letter, digit, digit], [digit, letter], [letter, digit, letter],
        ]
        let matches = shapes.contains { shape in
            shape.count == rest.count && zip(shape, rest).allSatisfy { $0($1) }
        }
        return matches ? String(decoding: out, as: UTF8.self) : nil
    }

    public static func normalise(_ string: String) -> String? {
        var copy = string
        return copy.withUTF8 { normalise(UnsafeRawBufferPointer($0)) }
    }
}

/// Name normalisation for linkage: upper case ASCII letters only (hyphens, apostrophes,
/// spaces and accents dropped), so "O'Brien-Smith" and "OBRIEN SMITH" agree.
public enum NameKey {
    public static func normalise(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            if b >= 0x41 && b <= 0x5A {
                out.append(b)
            } else if b >= 0x61 && b <= 0x7A {
                out.append(b - 0x20)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func normalise(_ string: String) -> String {
        var copy = string
        return copy.withUTF8 { normalise(UnsafeRawBufferPointer($0)) }
    }
}
