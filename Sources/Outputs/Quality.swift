import Foundation

extension Published {
    public static let quality = OutputReport<QualityHistory>(file: "quality.json")
}

/// The figures a feed is watched by, month after month ([data-quality.md](../../docs/data-quality.md)
/// lists them): for the run as a whole, each source file, and each practice.
public enum QualityFigure: String, Sendable, Codable, CaseIterable {
    case registered
    case rows
    case rowsPer1000 = "rows_per_1000"
    case latestMonthPer1000 = "latest_month_per_1000"
    case emptyMonths = "empty_months"
    case daysSinceLatest = "days_since_latest"
    case quarantineRate = "quarantine_rate"
    case linkedShare = "linked_share"
    case unrecognisedCodeShare = "unrecognised_code_share"
    case withoutNHSNumberShare = "without_nhs_number_share"
    case ethnicityUnknownShare = "ethnicity_unknown_share"
    case meanCost = "mean_cost"

    public var explanation: String {
        switch self {
        case .registered: "People registered at as-of."
        case .rows: "Rows read from the file."
        case .rowsPer1000: "Accepted rows (for a practice: its primary care events) per 1,000 registered people."
        case .latestMonthPer1000: "Rows dated in the month before as-of, per 1,000 registered people."
        case .emptyMonths: "Months of the 12 before as-of with no rows dated in them."
        case .daysSinceLatest: "Days from the latest row dated before as-of to as-of."
        case .quarantineRate: "Rows quarantined as a share of rows read (with :RULE, under that rule)."
        case .linkedShare: "Care records linked to a person, as a share (with :RULE, linked by that rule)."
        case .unrecognisedCodeShare: "Coded rows whose code no list of the condition library holds, as a share."
        case .withoutNHSNumberShare: "Rows (for the run: registered people) without a valid NHS number, as a share."
        case .ethnicityUnknownShare: "Registered people with no ethnic category recorded, or not stated, as a share."
        case .meanCost: "Mean cost of the accepted rows, in pounds."
        }
    }

    /// Whether `name` (a figure, or `figure:RULE` for the two figures kept by rule) is one.
    public static func isKnown(_ name: String) -> Bool {
        let parts = name.split(separator: ":", maxSplits: 1)
        guard let figure = parts.first.flatMap({ QualityFigure(rawValue: String($0)) }) else { return false }
        return parts.count == 1 || figure == .quarantineRate || figure == .linkedShare
    }
}

/// What the figures describe: the run, a source file, or a practice.
public struct QualitySubject: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable { case run, source, practice, provider }
    public var kind: Kind
    /// `all` for the run, the file name for a source, the practice code, or a provider's code
    /// and file (`RXX inpatient_spells.csv`).
    public var id: String

    public init(_ kind: Kind, _ id: String) {
        self.kind = kind
        self.id = id
    }

    public static let run = QualitySubject(.run, "all")

    public var description: String {
        switch kind {
        case .run: "the run"
        case .source: id
        case .practice: "practice \(id)"
        case .provider: "provider \(id)"
        }
    }
}

/// One run's figures.
public struct QualityReport: Sendable, Codable {
    public struct Entry: Sendable, Codable {
        public var subject: QualitySubject
        /// By figure name (`figure` or `figure:RULE`).
        public var figures: [String: Double]
        /// Figures not given because they would show fewer than 8 people or a few records' values.
        public var withheld: [String]

        public init(subject: QualitySubject, figures: [String: Double], withheld: [String] = []) {
            self.subject = subject
            self.figures = figures
            self.withheld = withheld
        }

        enum CodingKeys: String, CodingKey { case subject, figures, withheld }

        /// Reads entries stored before figures were withheld, too.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            subject = try c.decode(QualitySubject.self, forKey: .subject)
            figures = try c.decode([String: Double].self, forKey: .figures)
            withheld = try c.decodeIfPresent([String].self, forKey: .withheld) ?? []
        }
    }

    public var asOf: String
    public var entries: [Entry]
    /// Practices left out because they have too few registered people to publish.
    public var practicesWithheld: Int

    public init(asOf: String, entries: [Entry], practicesWithheld: Int) {
        self.asOf = asOf
        self.entries = entries
        self.practicesWithheld = practicesWithheld
    }

    public func value(_ subject: QualitySubject, _ figure: String) -> Double? {
        entries.first { $0.subject == subject }?.figures[figure]
    }

    public func isWithheld(_ subject: QualitySubject, _ figure: String) -> Bool {
        entries.first { $0.subject == subject }?.withheld.contains(figure) ?? false
    }
}

/// A gate's outcome in one run.
public struct GateOutcome: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable {
        /// The figure met the rule.
        case passed
        /// The figure broke the rule: the run stopped.
        case failed
        /// The figure broke the rule and an authorised user let the run go on.
        case accepted
        /// The rule could not be checked (a figure missing, too few earlier runs).
        case notChecked = "not_checked"
    }

    public var gate: String
    public var subject: QualitySubject
    public var figure: String
    public var value: Double?
    /// The median of earlier runs the figure was compared with, for a relative rule.
    public var baseline: Double?
    public var rule: String
    public var result: Result
    public var message: String
    public var acceptedBy: String?

    public init(
        gate: String, subject: QualitySubject, figure: String, value: Double?, baseline: Double?, rule: String,
        result: Result, message: String
    ) {
        self.gate = gate
        self.subject = subject
        self.figure = figure
        self.value = value
        self.baseline = baseline
        self.rule = rule
        self.result = result
        self.message = message
    }
}

/// `quality.json`: each figure of this run with its series over the earlier runs and what a
/// control chart (Making Data Count's rules) finds, and the gates checked.
public struct QualityHistory: Sendable, Codable {
    public struct Run: Sendable, Codable, Equatable {
        public var runId: Int64
        public var asOf: String
        public init(runId: Int64, asOf: String) {
            self.runId = runId
            self.asOf = asOf
        }
    }

    /// One figure of one subject over the runs.
    public struct Series: Sendable, Codable {
        public var subject: QualitySubject
        public var figure: String
        /// One per run of `runs`, nil where the run had no such figure.
        public var values: [Double?]
        /// The control chart's mean and limits over the values present, and for each run
        /// `above` or `below` where a special cause lies.
        public var mean: Double?
        public var lowerLimit: Double?
        public var upperLimit: Double?
        public var specialCause: [String?]
        public var trialLimits: Bool

        public init(
            subject: QualitySubject, figure: String, values: [Double?], mean: Double?, lowerLimit: Double?,
            upperLimit: Double?, specialCause: [String?], trialLimits: Bool
        ) {
            self.subject = subject
            self.figure = figure
            self.values = values
            self.mean = mean
            self.lowerLimit = lowerLimit
            self.upperLimit = upperLimit
            self.specialCause = specialCause
            self.trialLimits = trialLimits
        }
    }

    /// The runs of the series, oldest first; the last is this run.
    public var runs: [Run]
    public var current: QualityReport
    public var series: [Series]
    public var gates: [GateOutcome]
    /// What each figure means.
    public var figures: [String: String]

    public init(runs: [Run], current: QualityReport, series: [Series], gates: [GateOutcome]) {
        self.runs = runs
        self.current = current
        self.series = series
        self.gates = gates
        figures = Dictionary(uniqueKeysWithValues: QualityFigure.allCases.map { ($0.rawValue, $0.explanation) })
    }
}
