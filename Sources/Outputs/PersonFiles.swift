import PHMCore

/// The person-level files of a run, by pseudonym, and the folders beside them. These hold
/// millions of rows, so the pipeline writes them column by column in parallel; their columns
/// are named here and nowhere else, and a test reads each back as its row type.
public enum PersonFiles {
    /// One row per registered person without a National Data Opt-out.
    /// What a run's projection was made from, for `phm project` (`ProjectionBasis` in Pipeline):
    /// aggregates, not suppressed, so kept with the person files rather than published.
    public static let projectionBasis = "projection-basis.json"
    public static let persons = "persons.csv"
    public static let personConditions = OutputTable<PersonConditionRow>(file: "person-conditions.csv")
    /// Each scored person's risks, tiers and top factors (`phm model score`).
    public static let riskScores = "risk-scores.csv"
    /// Rejected rows, one file per input file, identifying fields redacted.
    public static let quarantine = "quarantine"
    /// The trained models (`OUTCOME.ALGORITHM.json`) and their cards (`.md`).
    public static let models = "models"

    /// The files and folders of a run's outputs about persons (pseudonymised rows, rejected
    /// rows) or not suppressed: what retention removes first, leaving the aggregate tables.
    public static let personLevel = [persons, personConditions.file, riskScores, projectionBasis, quarantine]

    /// A quarantine file for an input file: its name for a CSV file, with `.csv` added for a
    /// FHIR export's `.ndjson` file (the quarantine file is CSV either way).
    public static func quarantine(_ inputFile: String) -> OutputTable<QuarantineRow> {
        OutputTable(file: quarantine + "/" + inputFile + (inputFile.hasSuffix(".csv") ? "" : ".csv"))
    }

    /// The fixed columns of `persons.csv`. Use and cost cover the 12 months before as-of and are
    /// named `MEASURE_12m` after `UseMeasure`; cost by setting is `cost_SETTING_12m`.
    public static let personColumns =
        [
            "pseudonym", "sex", "age", "age_band", "practice_code", "pcn_code", "locality_code", "lsoa_code", "imd_decile",
            "ethnic_group", "ae_attendances_12m", "outpatient_attendances_12m", "elective_admissions_12m",
            "emergency_admissions_12m", "emergency_cost_12m", "prescription_types_12m",
        ] + CareSetting.allCases.map { "cost_\($0.name)_12m" } + ["cost_12m", "ltc_count", "ltc_conditions"]

    /// Then, per run: each score of the condition library by its id, `ID_category` for scores
    /// with categories, `riskColumns`, and `segment_ID` per segmentation.
    public static func scoreCategory(_ score: String) -> String { score + "_category" }
    public static func segment(_ segmentation: String) -> String { "segment_" + segmentation }

    /// The per-person risk columns of `persons.csv` and `risk-scores.csv`.
    public static let riskColumns =
        Outcome.allCases.flatMap { ["risk_" + $0.rawValue, "tier_" + $0.rawValue, "rising_" + $0.rawValue] } + ["risk_factors"]

    /// `risk-scores.csv`'s columns.
    public static let riskScoreColumns = ["pseudonym", "practice_code"] + riskColumns
}

/// `person-conditions.csv`: every flagged condition of every registered person, with the date it
/// was first recorded.
public struct PersonConditionRow: FlatRow, Equatable {
    public var pseudonym: String
    public var condition: String
    /// `YYYY-MM-DD`.
    public var firstRecorded: String

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case pseudonym, condition, firstRecorded = "first_recorded"
    }
}

/// `quarantine/FILE.csv`: a rejected row, where it was and which rule it broke.
public struct QuarantineRow: FlatRow {
    /// The record's first physical line in the input file.
    public var line: Int
    public var column: String
    public var rule: String
    public var message: String
    /// The line as read, identifying fields replaced by `***`.
    public var row: String

    public enum CodingKeys: String, CodingKey, CaseIterable { case line, column, rule, message, row }

    public init(line: Int, column: String, rule: String, message: String, row: String) {
        self.line = line
        self.column = column
        self.rule = rule
        self.message = message
        self.row = row
    }
}
