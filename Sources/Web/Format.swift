import Foundation

/// How a number is shown to people: thousands separators, pounds, percentages with a sensible
/// precision. CSV downloads and the API keep the published digits.
enum Format: String, Sendable {
    /// `share` is a fraction shown as a percentage (0.25 as 25.0%).
    case count, money, percent, share, rate, decimal, ratio, text

    func show(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        switch self {
        case .count: return Format.grouped(value, decimals: 0)
        case .money: return (value < 0 ? "-£" : "£") + Format.grouped(abs(value), decimals: abs(value) >= 100 ? 0 : 2)
        case .percent: return value == 0 ? "0%" : Format.grouped(value, decimals: abs(value) >= 1 ? 1 : 2) + "%"
        case .share: return Format.percent.show(100 * value)
        case .rate: return Format.grouped(value, decimals: 1)
        case .ratio: return Format.grouped(value, decimals: 2)
        case .decimal: return Format.grouped(value, decimals: abs(value) >= 100 ? 0 : abs(value) >= 1 ? 2 : 3)
        case .text: return Format.grouped(value, decimals: 0)
        }
    }

    /// A published field: numbers formatted, text escaped as it is, empty shown as suppressed.
    /// A decimal or money field at a given number of places (other formats as `show(field:)`).
    func show(field: String, places: Int) -> String {
        guard let value = Double(field), value.isFinite else { return show(field: field) }
        switch self {
        case .money: return (value < 0 ? "-£" : "£") + Format.grouped(abs(value), decimals: places)
        case .decimal: return Format.grouped(value, decimals: places)
        default: return show(field: field)
        }
    }

    func show(field: String) -> String {
        if self == .text { return field }
        guard !field.isEmpty else { return "" }
        guard let value = Double(field) else { return field }
        return show(value)
    }

    /// `1234567.891` as `1,234,567.89` for two decimals.
    static func grouped(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : Substring(text)
        let parts = digits.split(separator: ".", maxSplits: 1)
        var whole = ""
        for (i, c) in parts[0].reversed().enumerated() {
            if i > 0 && i % 3 == 0 { whole.append(",") }
            whole.append(c)
        }
        let result = String(whole.reversed()) + (parts.count > 1 ? "." + parts[1] : "")
        return negative && result.contains(where: { $0 != "0" && $0 != "." && $0 != "," }) ? "-" + result : result
    }
}
