import Foundation

/// A calendar date with no time zone, stored as days since 1970-01-01.
///
/// Dates in health data are civil dates ("admitted on 3 May"), so the platform never converts
/// them through clocks or time zones. Conversions use Howard Hinnant's `days_from_civil`
/// algorithm, valid for the whole proleptic Gregorian calendar.
public struct Day: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Days since 1970-01-01 (negative before it).
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Creates a day from a valid year (within `Day.years`), month (1-12) and day of month, or
    /// returns nil.
    public init?(year: Int, month: Int, day: Int) {
        guard Day.years.contains(year), (1...12).contains(month), day >= 1, day <= Day.daysInMonth(year: year, month: month)
        else { return nil }
        rawValue = Int32(Day.daysFromCivil(year: year, month: month, day: day))
    }

    /// The years a day can be made in. Far wider than any health record, and narrow enough that
    /// arithmetic on them can never overflow; sums that leave the range stop at its ends.
    public static let years = -9_999...9_999
    public static let earliest = Day(rawValue: Int32(daysFromCivil(year: years.lowerBound, month: 1, day: 1)))
    public static let latest = Day(rawValue: Int32(daysFromCivil(year: years.upperBound, month: 12, day: 31)))

    /// Parses `YYYY-MM-DD` (exactly ten ASCII bytes) or returns nil.
    ///
    /// - Complexity: O(1), no allocation.
    public init?(iso bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 10, bytes[4] == 0x2D, bytes[7] == 0x2D else { return nil }
        @inline(__always) func digits(_ from: Int, _ to: Int) -> Int? {
            var value = 0
            for i in from..<to {
                let d = Int(bytes[i]) &- 0x30
                guard d >= 0, d <= 9 else { return nil }
                value = value &* 10 &+ d
            }
            return value
        }
        guard let year = digits(0, 4), let month = digits(5, 7), let day = digits(8, 10) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM-DD` from a string or returns nil.
    public init?(iso string: String) {
        var copy = string
        guard let day = copy.withUTF8({ Day(iso: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = day
    }

    public static func < (lhs: Day, rhs: Day) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The year, month and day of month.
    public var civil: (year: Int, month: Int, day: Int) {
        Day.civilFromDays(Int(rawValue))
    }

    public var year: Int { civil.year }

    /// `YYYY-MM-DD`.
    public var description: String {
        let (y, m, d) = civil
        return "\(Day.pad(y, 4))-\(Day.pad(m, 2))-\(Day.pad(d, 2))"
    }

    /// The same day of the month `months` months later (or earlier), clamped to the month's end,
    /// and to `Day.earliest...Day.latest` however many months are added.
    public func adding(months: Int) -> Day {
        let (y, m, d) = civil
        let limit = (Day.years.upperBound - Day.years.lowerBound + 1) * 12
        let total = y * 12 + (m - 1) + Swift.min(Swift.max(months, -limit), limit)
        let year = total >= 0 ? total / 12 : (total - 11) / 12
        let month = total - year * 12 + 1
        if year < Day.years.lowerBound { return .earliest }
        if year > Day.years.upperBound { return .latest }
        let day = Swift.min(d, Day.daysInMonth(year: year, month: month))
        return Day(year: year, month: month, day: day)!
    }

    /// `days` days later (or earlier); never past `Day.earliest` or `Day.latest` from a day within
    /// them (`Day.max`, the open end of a period, stays where it is when days are added).
    public func adding(days: Int) -> Day {
        let sum = Int(rawValue).addingReportingOverflow(days)
        if sum.overflow { return days > 0 ? Day(rawValue: Swift.max(rawValue, Day.latest.rawValue)) : .earliest }
        let low = Swift.min(Int(rawValue), Int(Day.earliest.rawValue)), high = Swift.max(Int(rawValue), Int(Day.latest.rawValue))
        return Day(rawValue: Int32(Swift.min(Swift.max(sum.partialValue, low), high)))
    }

    /// Days from `self` to `other` (positive when `other` is later).
    public func days(to other: Day) -> Int { Int(other.rawValue) - Int(rawValue) }

    /// Completed years of age on `day` for someone born on `self`.
    public func age(on day: Day) -> Int {
        let birth = civil
        let now = day.civil
        var years = now.year - birth.year
        if (now.month, now.day) < (birth.month, birth.day) { years -= 1 }
        return years
    }

    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Day {
    /// The month holding the day, numbered `year * 12 + month - 1`, so months count on by one.
    public var monthNumber: Int32 {
        let (y, m, _) = civil
        return Int32(y * 12 + m - 1)
    }

    /// The first day of a month numbered as `monthNumber` numbers them, within `earliest...latest`.
    public init(firstOfMonth month: Int32) {
        let m = Int(month), first = Int(Day.earliest.monthNumber), last = Int(Day.latest.monthNumber)
        let clamped = Swift.min(Swift.max(m, first), last)
        let year = clamped >= 0 ? clamped / 12 : (clamped - 11) / 12
        self = Day(year: year, month: clamped - year * 12 + 1, day: 1)!
    }
}

extension Day {
    /// The calendar day (UTC) of an instant, within `earliest...latest`.
    public init(utc date: Date) {
        let seconds = date.timeIntervalSince1970
        let days = seconds.isFinite ? (seconds / 86_400).rounded(.down) : 0
        let clamped = Swift.min(Swift.max(days, Double(Day.earliest.rawValue)), Double(Day.latest.rawValue))
        self.init(rawValue: Int32(clamped))
    }
}

/// A half-open range of days, `[start, end)`, as used for history windows before an as-of date.
public struct DayWindow: Sendable, Hashable, Codable {
    public var start: Day
    public var end: Day

    public init(start: Day, end: Day) {
        self.start = start
        self.end = end
    }

    /// The `months` months before `asOf`, excluding `asOf` itself.
    public static func months(_ months: Int, before asOf: Day) -> DayWindow {
        DayWindow(start: asOf.adding(months: -months), end: asOf)
    }

    /// The `months` months from `asOf`, including `asOf`.
    public static func months(_ months: Int, from asOf: Day) -> DayWindow {
        DayWindow(start: asOf, end: asOf.adding(months: months))
    }

    @inline(__always)
    public func contains(_ day: Day) -> Bool { day >= start && day < end }

    @inline(__always)
    public func contains(raw: Int32) -> Bool { raw >= start.rawValue && raw < end.rawValue }
}
