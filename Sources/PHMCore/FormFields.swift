import Foundation

/// URL-encoded form fields (`application/x-www-form-urlencoded`). Parsing is total: any text
/// gives some fields, never a trap.
public enum FormFields {
    /// `a=1&b=2`: `+` is a space, `%XX` a byte; a pair with no `=` is a name with an empty value,
    /// and a bad escape leaves the text as sent. The first of repeated names wins.
    public static func parse(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=") ?? pair.endIndex
            let name = decode(pair[..<equals])
            let value = equals < pair.endIndex ? decode(pair[pair.index(after: equals)...]) : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
