import Foundation

/// Builds CSV rows straight into bytes.
public struct CSVRows: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    /// Text, quoted when it holds a comma, quote or line break. Text a spreadsheet would run as
    /// a formula (starting `=`, `+`, `-`, `@`, tab or carriage return, and not a number) is
    /// written after a `'`, as OWASP advises for CSV injection, so opening a file runs nothing.
    public mutating func field(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let formula = utf8.first.map(CSVRows.startsFormula) == true && Double(String(decoding: utf8, as: UTF8.self)) == nil
            if formula || utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(0x22)
                if formula { bytes.append(0x27) }
                for b in utf8 {
                    if b == 0x22 { bytes.append(0x22) }
                    bytes.append(b)
                }
                bytes.append(0x22)
            } else {
                bytes.append(contentsOf: utf8)
            }
        }
        bytes.append(0x2C)
    }

    /// `= + - @`, tab and carriage return.
    static func startsFormula(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D: true
        default: false
        }
    }

    public mutating func field(_ value: Int) {
        if value < 0 { bytes.append(0x2D) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var v = value.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(0x30 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
        bytes.append(0x2C)
    }

    public mutating func field(_ day: Day) {
        let (y, m, d) = day.civil
        guard (0...9999).contains(y) else { return field(day.description) }
        bytes.append(contentsOf: [
            UInt8(0x30 + y / 1000), UInt8(0x30 + y / 100 % 10), UInt8(0x30 + y / 10 % 10), UInt8(0x30 + y % 10), 0x2D,
            UInt8(0x30 + m / 10), UInt8(0x30 + m % 10), 0x2D, UInt8(0x30 + d / 10), UInt8(0x30 + d % 10), 0x2C,
        ])
    }

    /// Money with two decimals.
    public mutating func field(money: Double) { field(money, decimals: 2) }

    /// A decimal with one place.
    public mutating func field(tenths value: Double) { field(value, decimals: 1) }

    /// A decimal with a fixed number of places (up to 9).
    public mutating func field(_ value: Double, decimals: Int) {
        guard value.isFinite else {
            empty()
            return
        }
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        // A sum of costs can pass what an Int holds (each cost read has at most 15 digits).
        guard abs(value) * Double(scale) < 9e18 else { return field(String(format: "%.\(decimals)f", value)) }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        if value < 0 && scaled != 0 { bytes.append(0x2D) }
        field(scaled / scale)
        guard decimals > 0 else { return }
        bytes.removeLast()
        bytes.append(0x2E)
        // The fraction's digits written in place from the right, over zeros.
        var fraction = scaled % scale
        bytes.append(contentsOf: repeatElement(0x30, count: decimals))
        var i = bytes.count - 1
        while fraction > 0 {
            bytes[i] = UInt8(0x30 + fraction % 10)
            fraction /= 10
            i -= 1
        }
        bytes.append(0x2C)
    }

    public mutating func empty() { bytes.append(0x2C) }

    /// Ends the row (replacing the trailing comma).
    public mutating func end() {
        if bytes.last == 0x2C { bytes.removeLast() }
        bytes.append(0x0A)
    }

    public mutating func raw(_ line: String) {
        bytes.append(contentsOf: line.utf8)
        bytes.append(0x0A)
    }
}

extension CSVRows {
    /// Reads CSV written by `CSVRows` (or any RFC 4180 file) back into records of fields:
    /// quoted fields may hold commas, doubled quotes and line breaks; `\r\n` ends a record too.
    public static func parse(_ bytes: some Collection<UInt8>) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var inQuotes = false, afterQuote = false
        var iterator = bytes.makeIterator()
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        while let b = iterator.next() {
            if inQuotes {
                if b == 0x22 {
                    inQuotes = false
                    afterQuote = true
                } else {
                    field.append(b)
                }
                continue
            }
            switch b {
            case 0x22:
                // A quote straight after a closing quote is an escaped quote.
                if afterQuote { field.append(0x22) }
                inQuotes = true
            case 0x2C: endField()
            case 0x0A:
                endField()
                records.append(record)
                record.removeAll()
            case 0x0D: break
            default: field.append(b)
            }
            afterQuote = false
        }
        if !field.isEmpty || !record.isEmpty {
            endField()
            records.append(record)
        }
        return records
    }
}
