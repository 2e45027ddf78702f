/// Rules for text that people type and others later read: names, descriptions, reasons, notes.
///
/// Control characters and Unicode format characters (bidirectional overrides such as U+202E,
/// zero-width joiners) are refused: they can make a name show as something else on a page, in a
/// terminal or in the audit log (the "Trojan Source" trick, CVE-2021-42574). Lengths are bounded
/// so no one field can fill a page or a log entry.
public enum SafeText {
    /// Why `text` breaks the rules for `field`, or nil when it keeps them.
    public static func problem(
        _ text: String, field: String, maximumLength: Int, lineBreaks: Bool = false
    ) -> String? {
        // Bytes too: one character can carry any number of combining marks.
        if text.count > maximumLength || text.utf8.count > 4 * maximumLength {
            return "\(field) can be at most \(maximumLength) characters"
        }
        for scalar in text.unicodeScalars {
            if lineBreaks && (scalar == "\n" || scalar == "\r") { continue }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned:
                let code = String(scalar.value, radix: 16, uppercase: true)
                return
                    "\(field) has an invisible or control character (U+\(String(repeating: "0", count: max(0, 4 - code.count)) + code))"
            default: continue
            }
        }
        return nil
    }
}
