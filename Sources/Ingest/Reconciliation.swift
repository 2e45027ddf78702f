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

/// Counts for one input file: every row read is either accepted or quarantined.
public struct FileReconciliation: Sendable, Codable {
    public var file: String
    public var present: Bool
    public var bytes: Int = 0
    public var rowsIn: Int = 0
    public var accepted: Int = 0
    public var quarantined: Int = 0
    public var quarantinedByRule: [String: Int] = [:]
    /// Rows kept whose identity fields were unusable, by warning.
    public var warnings: [String: Int] = [:]
    /// Columns the contract does not name.
    public var extraColumns: [String] = []
    /// Whether those columns were kept (area indicators) rather than ignored.
    public var extraColumnsKept = false
    public var seconds: Double = 0

    public init(file: String, present: Bool) {
        self.file = file
        self.present = present
    }

    /// Rows in equals rows accepted plus rows quarantined.
    public var balances: Bool { rowsIn == accepted + quarantined }
}
