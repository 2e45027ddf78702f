import PHMCore

/// A validation rule a row can break. The raw value is the stable name used in quarantine
/// files, reconciliation and the docs.
public enum Rule: String, Sendable, Codable, CaseIterable, Comparable {
    case fieldCount = "field_count"
    case quoting = "quoting"
    case missingValue = "missing_value"
    case dateFormat = "date_format"
    case dateRange = "date_range"
    case dateOrder = "date_order"
    case numberFormat = "number_format"
    case negativeAmount = "negative_amount"
    case outOfRange = "out_of_range"
    case enumValue = "enum_value"
    case codeFormat = "code_format"
    case unknownPractice = "unknown_practice"
    case unknownArea = "unknown_lsoa"
    case unknownPatient = "unknown_patient"
    case duplicateKey = "duplicate_key"
    case textFormat = "text_format"
    case jsonSyntax = "json_syntax"
    case resourceType = "resource_type"
    case lineLength = "line_length"

    public static func < (lhs: Rule, rhs: Rule) -> Bool { lhs.rawValue < rhs.rawValue }

    /// One sentence for the docs and for users reading a quarantine file.
    public var explanation: String {
        switch self {
        case .fieldCount: "The row has a different number of fields from the header."
        case .quoting: "A quote is unbalanced or appears inside an unquoted field (RFC 4180)."
        case .missingValue: "A required value is empty."
        case .dateFormat: "A date is not a real calendar date written YYYY-MM-DD."
        case .dateRange: "A date is before 1890-01-01 or after 2100-12-31."
        case .dateOrder: "An end date is before its start date (or a death before a birth)."
        case .numberFormat: "A number is not a plain decimal such as 12 or 1234.56."
        case .negativeAmount: "A cost or quantity is negative."
        case .outOfRange: "A number is outside its allowed range (e.g. IMD decile 1-10)."
        case .enumValue: "A value is not one of the codes the contract allows."
        case .codeFormat: "A clinical or organisation code does not have the form of its code system."
        case .unknownPractice: "The practice_code is not in practices.csv."
        case .unknownArea: "The lsoa_code is not in areas.csv."
        case .unknownPatient: "The patient_id is not in patients.csv."
        case .duplicateKey: "The row's key (e.g. record_id) already appeared earlier in the file."
        case .textFormat: "A text value contains control characters or is longer than 200 bytes."
        case .jsonSyntax: "A line of a FHIR export is not one JSON object in UTF-8 (RFC 8259)."
        case .resourceType: "A FHIR resource is not of the type its file holds, or lacks resourceType."
        case .lineLength: "A line of a FHIR export is longer than the 16 MiB one resource may take."
        }
    }
}

/// A problem that keeps a row but makes one of its fields unusable, counted per file.
public enum Warning: String, Sendable, Codable, CaseIterable, Comparable {
    case nhsNumberMalformed = "nhs_number_malformed"
    case nhsNumberCheckDigit = "nhs_number_check_digit"
    case postcodeFormat = "postcode_format"
    case dateOfBirthFormat = "date_of_birth_format"
    case sexValue = "sex_value"
    case costMissing = "cost_missing"
    case ethnicCategoryValue = "ethnic_category_value"

    public static func < (lhs: Warning, rhs: Warning) -> Bool { lhs.rawValue < rhs.rawValue }

    public var explanation: String {
        switch self {
        case .nhsNumberMalformed: "nhs_number is not ten digits; linkage treats it as missing."
        case .nhsNumberCheckDigit: "nhs_number fails the modulus 11 check; linkage treats it as missing."
        case .postcodeFormat: "postcode is not a UK postcode; linkage treats it as missing."
        case .dateOfBirthFormat: "date_of_birth on a secondary care record is not a valid date; linkage treats it as missing."
        case .sexValue: "sex on a secondary care record is not M, F, I or U; linkage treats it as missing."
        case .costMissing: "A FHIR Encounter has no ChargeItem giving its cost; its cost is read as 0."
        case .ethnicCategoryValue:
            "ethnic_category on a secondary care record is not an NHS ethnic category code; linkage quality counts it as unknown."
        }
    }
}

/// The first rule a row broke: which column, which rule, and a message safe to show anyone.
///
/// Messages never repeat the value of an identifying column (NHS number, names, date of birth,
/// postcode).
public struct RowError: Error, Sendable {
    public var column: String
    public var rule: Rule
    public var message: String

    public init(_ column: String, _ rule: Rule, _ message: String) {
        self.column = column
        self.rule = rule
        self.message = message
    }
}
