import Cohorts
import Foundation
import PHMCore

/// Builds a cohort definition a criterion at a time from a form, without scripts: each "Add and
/// count" appends one criterion to the definition's text and counts the result, so the count
/// follows every step. The text stays the definition: what is composed can be edited by hand.
enum Composer {
    /// Names the form offers as suggestions (an HTML datalist: typed values work too).
    struct Vocabulary: Sendable {
        var conditions: [String] = []
        var units: [String] = []
        var segments: [String] = []

        init() {}

        init(_ frame: PersonFrame) {
            conditions = frame.conditionIds
            let h = frame.hierarchy
            units = (h.localities + h.pcns + h.practices).map(\.name)
            segments = frame.segmentations.flatMap { s in s.segmentIds.map { "\(s.id) = \($0)" } }
        }
    }

    /// The kinds of criterion the form composes: how each is written in the cohort language.
    static let kinds: [(id: String, label: String, compares: Bool)] = [
        ("condition", "has condition", false), ("age", "age", true), ("sex", "sex is", false),
        ("ltc_count", "long-term conditions", true), ("imd_decile", "deprivation decile (1 most deprived)", true),
        ("locality", "locality is", false), ("pcn", "PCN is", false), ("practice", "practice is", false),
        ("tier emergency_admission_12m", "emergency admission risk tier", true),
        ("emergency_admissions", "emergency admissions in 12 months", true), ("cost", "cost of care in 12 months (GBP)", true),
        ("segment", "segment", false),
    ]

    static let operators = [">=", "<=", "=", ">", "<", "!="]
    static let joins = ["and", "or", "and not"]

    static func form(_ vocabulary: Vocabulary) -> String {
        func options(_ items: [(String, String)]) -> String {
            items.map { "<option value=\"\(Pages.escape($0.0))\">\(Pages.escape($0.1))</option>" }.joined()
        }
        let suggestions =
            vocabulary.conditions + vocabulary.units + vocabulary.segments + PersonFrame.tierIds
            + ["female", "male"]
        return """
            <label for="add_join">Join</label> <select id="add_join" name="add_join">\(options(joins.map { ($0, $0) }))</select>
            <label for="add_kind">Criterion</label> <select id="add_kind" name="add_kind">\(options(kinds.map { ($0.id, $0.label) }))</select>
            <label for="add_op">Comparison</label> <select id="add_op" name="add_op">\(options(operators.map { ($0, $0) }))</select>
            <label for="add_value">Value</label> <input id="add_value" name="add_value" list="vocabulary" size="24">
            <datalist id="vocabulary">\(suggestions.map { "<option value=\"\(Pages.escape($0))\">" }.joined())</datalist>
            """
    }

    /// The definition with the form's criterion appended; the definition unchanged when the
    /// form names none.
    static func append(to definition: String, join: String?, kind: String?, op: String?, value: String?) -> String {
        let value = (value ?? "").trimmingCharacters(in: .whitespaces)
        guard let kind = kinds.first(where: { $0.id == kind }), !value.isEmpty else { return definition }
        let comparison = operators.contains(op ?? "") ? op! : "="
        // Names with spaces or punctuation are quoted; numbers and ids are not.
        let quoted =
            value.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
            ? value : "\"\(value.replacingOccurrences(of: "\"", with: ""))\""
        let criterion: String
        switch kind.id {
        case "condition": criterion = "condition \(quoted)"
        case "segment": criterion = "segment \(value)"  // written as SEGMENTATION = SEGMENT
        default: criterion = "\(kind.id) \(kind.compares ? comparison : "=") \(quoted)"
        }
        let text = definition.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return join == "and not" ? "not " + criterion : criterion }
        return "\(text) \(joins.contains(join ?? "") ? join! : "and") \(criterion)"
    }
}
