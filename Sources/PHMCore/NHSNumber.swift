/// NHS number validation by the modulus 11 check digit (NHS Data Dictionary).
///
/// Digits 1-9 are multiplied by weights 10 down to 2 and summed; the check digit is
/// `11 - (sum mod 11)`, where 11 becomes 0 and 10 means the number cannot be valid.
public enum NHSNumber {
    /// The result of checking a candidate NHS number.
    public enum Check: Sendable, Equatable {
        /// Ten digits with a correct check digit; the number as an integer.
        case valid(UInt64)
        /// Not ten digits (spaces are not accepted: extracts carry the bare number).
        case malformed
        /// Ten digits whose check digit is wrong, or whose check digit would be 10.
        case badCheckDigit
    }

    /// Checks ten ASCII digits.
    ///
    /// - Complexity: O(1), no allocation.
    public static func check(_ bytes: UnsafeRawBufferPointer) -> Check {
        guard bytes.count == 10 else { return .malformed }
        var sum = 0
        var value: UInt64 = 0
        for i in 0..<10 {
            let d = Int(bytes[i]) &- 0x30
            guard d >= 0, d <= 9 else { return .malformed }
            value = value * 10 + UInt64(d)
            if i < 9 { sum += d * (10 - i) }
        }
        let remainder = sum % 11
        let expected = remainder == 0 ? 0 : 11 - remainder
        guard expected != 10, expected == Int(bytes[9]) - 0x30 else { return .badCheckDigit }
        return .valid(value)
    }

    public static func check(_ string: String) -> Check {
        var copy = string
        return copy.withUTF8 { check(UnsafeRawBufferPointer($0)) }
    }

    /// The check digit for nine leading digits, or nil where no tenth digit can make them valid.
    public static func checkDigit(forFirstNine value: UInt64) -> Int? {
        var sum = 0
        var rest = value
        for i in stride(from: 8, through: 0, by: -1) {
            sum += Int(rest % 10) * (10 - i)
            rest /= 10
        }
        let remainder = sum % 11
        let digit = remainder == 0 ? 0 : 11 - remainder
        return digit == 10 ? nil : digit
    }

    /// The ten-digit text of a number, with leading zeros.
    public static func text(_ value: UInt64) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, 10 - s.count)) + s
    }
}
