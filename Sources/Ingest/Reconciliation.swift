/// A row that broke a rule, kept with everything needed to find and fix it at source.
public struct QuarantinedRow: Sendable, Codable {
    public var file: String
    /// The record's first physical line in the file (the header is line 1).
    public var line: Int
    public var column: String
    public var rule: Rule
    public var message: String
    /// The line exactly as read. For files with identifying columns this goes only to the
    /// identity vault.
    public var rawLine: String
    /// The line with identifying fields replaced by `***`, safe for the analytic output folder.
    public var redactedLine: String
}
