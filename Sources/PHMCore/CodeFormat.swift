/// The shape of a valid code in each code system, and its normal form.
///
/// - SNOMED CT and dm+d identifiers: 6-18 digits, no leading zero, last digit a Verhoeff check
///   digit (SNOMED CT Technical Implementation Guide, section on SCTID check digits).
/// - ICD-10: a letter, two digits, then up to two further characters, written with or without
///   the dot; stored without it. A trailing `X` filler (as in `I10X`) is dropped.
/// - OPCS-4: a letter, two digits, then up to two digits; stored without the dot.
/// - Read v2 and CTV3: five characters of letters, digits and dots (Read v2 may carry a
///   two-digit term code).
/// - BNF: a 9 to 15 character chemical substance or presentation code.
public enum CodeFormat {
    /// Writes the normal form of `bytes` into `out` and returns its length, or nil when the
    /// code does not have the form of `system`. `out` must hold at least 18 bytes.
    public static func normalise(
        _ bytes: UnsafeRawBufferPointer, system: CodeSystem, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        switch system {
        case .snomed, .dmd:
            guard (6...18).contains(bytes.count), bytes[0] != 0x30, bytes.allSatisfy(isDigit),
                verhoeffValid(bytes)
            else { return nil }
            out.copyMemory(from: bytes)
            return bytes.count
        case .icd10, .opcs4:
            var n = 0
            for (i, b) in bytes.enumerated() {
                if b == UInt8(ascii: ".") {
                    guard i == 3 else { return nil }
                    continue
                }
                guard n < 6 else { return nil }
                out[n] = (b >= 0x61 && b <= 0x7A) ? b - 0x20 : b
                n += 1
            }
            if system == .icd10, n == 4, out[3] == UInt8(ascii: "X") { n = 3 }
            guard n >= 3, n <= 5, isLetter(out[0]), isDigit(out[1]), isDigit(out[2]) else { return nil }
            for i in 3..<n {
                let ok = system == .opcs4 ? isDigit(out[i]) : (isDigit(out[i]) || isLetter(out[i]))
                guard ok else { return nil }
            }
            return n
        case .read2, .ctv3:
            let maxLength = system == .read2 ? 7 : 5
            guard bytes.count == 5 || bytes.count == maxLength,
                bytes.prefix(5).allSatisfy({ isDigit($0) || isLetter($0) || isLower($0) || $0 == 0x2E }),
                bytes.dropFirst(5).allSatisfy(isDigit)
            else { return nil }
            out.copyMemory(from: bytes)
            return bytes.count
        case .bnf:
            guard (9...15).contains(bytes.count), bytes.allSatisfy({ isDigit($0) || isLetter($0) }) else { return nil }
            out.copyMemory(from: bytes)
            return bytes.count
        }
    }

    /// The normal form of a code as text, or nil when it is not valid in `system`.
    public static func normalise(_ code: String, system: CodeSystem) -> String? {
        var copy = code
        return copy.withUTF8 { bytes in
            withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { out in
                guard bytes.count <= 32,
                    let n = normalise(UnsafeRawBufferPointer(bytes), system: system, into: out)
                else { return nil }
                return String(decoding: UnsafeRawBufferPointer(rebasing: out[0..<n]), as: UTF8.self)
            }
        }
    }

    @inline(__always) public static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) public static func isLetter(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    @inline(__always) public static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }

    /// Verhoeff's multiplication table (the dihedral group D5), and below it the permutation
    /// table: public so that a check written elsewhere (as SQL) uses the same tables.
    public static let verhoeffD: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    public static let verhoeffP: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]

    /// Whether a string of digits ends in a correct Verhoeff check digit.
    public static func verhoeffValid(_ digits: UnsafeRawBufferPointer) -> Bool {
        var c: UInt8 = 0
        for (i, b) in digits.reversed().enumerated() {
            c = verhoeffD[Int(c)][Int(verhoeffP[i % 8][Int(b - 0x30)])]
        }
        return c == 0
    }

    /// The Verhoeff check digit to append to `digits`.
    public static func verhoeffDigit(for digits: String) -> Int {
        var c: UInt8 = 0
        for (i, ch) in digits.utf8.reversed().enumerated() {
            c = verhoeffD[Int(c)][Int(verhoeffP[(i + 1) % 8][Int(ch - 0x30)])]
        }
        let inverse: [Int] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]
        return inverse[Int(c)]
    }
}
