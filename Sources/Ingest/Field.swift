import PHMCore

/// Typed readers for one field's bytes. Each throws a `RowError` naming the column and rule.
enum Field {
    static let earliest = Day(year: 1890, month: 1, day: 1)!
    static let latest = Day(year: 2100, month: 12, day: 31)!

    static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// A short printable excerpt of a non-identifying value for messages.
    static func show(_ bytes: UnsafeRawBufferPointer) -> String {
        let s = text(UnsafeRawBufferPointer(rebasing: bytes.prefix(40)))
        return "'" + s + (bytes.count > 40 ? "…" : "") + "'"
    }

    static func required(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) {
        if bytes.isEmpty { throw RowError(column, .missingValue, "\(column) is required but empty") }
    }

    static func date(_ bytes: UnsafeRawBufferPointer, _ column: String, identifying: Bool = false) throws(RowError) -> Day {
        try required(bytes, column)
        return try optionalDate(bytes, column, identifying: identifying)!
    }

    static func optionalDate(
        _ bytes: UnsafeRawBufferPointer, _ column: String, identifying: Bool = false
    ) throws(RowError) -> Day? {
        if bytes.isEmpty { return nil }
        // The excerpt only for a message: building it for every date read would cost more than the parse.
        func shown() -> String { identifying ? "" : " " + show(bytes) }
        guard let day = Day(iso: bytes) else {
            throw RowError(column, .dateFormat, "\(column)\(shown()) is not a valid YYYY-MM-DD date")
        }
        guard day >= earliest, day <= latest else {
            throw RowError(column, .dateRange, "\(column)\(shown()) is outside 1890-01-01 to 2100-12-31")
        }
        return day
    }

    /// A plain decimal: optional minus sign, digits, optional fraction. No exponent, no thousands separators.
    static func optionalDecimal(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) -> Double? {
        if bytes.isEmpty { return nil }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        var integer: Double = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            integer = integer * 10 + Double(bytes[i] - 0x30)
            digits += 1
            i += 1
        }
        var fraction: Double = 0
        var scale: Double = 1
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                fraction = fraction * 10 + Double(bytes[i] - 0x30)
                scale *= 10
                digits += 1
                i += 1
            }
        }
        guard i == bytes.count, digits > 0, digits <= 15 else {
            throw RowError(column, .numberFormat, "\(column) \(show(bytes)) is not a decimal number")
        }
        let value = integer + fraction / scale
        return negative ? -value : value
    }

    static func money(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) -> Double {
        try required(bytes, column)
        return try optionalMoney(bytes, column)!
    }

    static func optionalMoney(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) -> Double? {
        guard let value = try optionalDecimal(bytes, column) else { return nil }
        if value < 0 { throw RowError(column, .negativeAmount, "\(column) \(show(bytes)) is negative") }
        return value
    }

    static func flag(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) -> Bool {
        try required(bytes, column)
        if bytes.count == 1 {
            if bytes[0] == UInt8(ascii: "Y") { return true }
            if bytes[0] == UInt8(ascii: "N") { return false }
        }
        throw RowError(column, .enumValue, "\(column) \(show(bytes)) must be Y or N")
    }

    /// Free text: printable, at most 200 bytes.
    static func optionalText(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) {
        guard bytes.count <= 200, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw RowError(column, .textFormat, "\(column) has control characters or is longer than 200 bytes")
        }
    }

    /// An organisation code (ODS style): 3-10 upper-case letters and digits.
    static func orgCode(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) {
        try required(bytes, column)
        guard (3...10).contains(bytes.count), bytes.allSatisfy(isUpperAlnum) else {
            throw RowError(
                column, .codeFormat, "\(column) \(show(bytes)) is not an organisation code (3-10 upper-case letters and digits)")
        }
    }

    /// An identifier from a source system: 1-64 printable bytes without spaces at either end.
    static func identifier(_ bytes: UnsafeRawBufferPointer, _ column: String) throws(RowError) {
        try required(bytes, column)
        guard bytes.count <= 64, bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw RowError(column, .textFormat, "\(column) must be 1-64 printable characters without spaces")
        }
    }

    @inline(__always)
    static func isUpperAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A)
    }
}
