import Cohorts
import Foundation
import Outputs
import PHMCore

/// Builds a cohort definition a criterion at a time from a form, without scripts: each "Add and
/// count" appends one criterion to the definition's text and counts the result, so the count
/// follows every step. The text stays the definition: what is composed can be edited by hand.
enum Composer {
    /// Names the form offers as suggestions (an HTML datalist: typed values work too).
    struct Vocabulary: Sendable {
        var conditions: [String] = []
        var units: [String] = []
        var localities: [String] = []
        var segments: [String] = []
        /// Code lists (for `latest` and `recorded`) and scores.
        var lists: [String] = []
        /// The run's area indicators (for `area`).
        var areaIndicators: [String] = []

        init() {}

        init(_ frame: PersonFrame) {
            conditions = frame.conditionIds
            let h = frame.hierarchy
            units = (h.localities + h.pcns + h.practices).map(\.name)
            localities = h.localities.map(\.name)
            segments = frame.segmentations.flatMap { s in s.segmentIds.map { "\(s.id) = \($0)" } }
            lists = frame.listIds + frame.scoreIds
            areaIndicators = frame.areaIndicatorNames
        }

        /// Every word the definition box suggests while typing, each once with how it is written:
        /// the language's own words as they are, this run's names as the language writes them
        /// (quoted where they are not plain words).
        var words: [(shown: String, text: String)] {
            let language = CohortText.criteria + CohortText.connectives
            let names =
                Outcome.allCases.map(\.rawValue) + PersonFrame.tierIds + ["female", "male"] + conditions + lists
                + areaIndicators + units
                + segments.flatMap { $0.components(separatedBy: " = ") }
            var seen = Set<String>()
            return (language.map { ($0, $0) } + names.map { ($0, CohortText.word($0)) }).filter { seen.insert($0.0).inserted }
        }
    }

    /// Examples in the language, from the seeds' own pilots ("people in Andover with depression and
    /// obesity", "people in Gosport with high blood pressure"), in this run's first locality.
    static func examples(_ vocabulary: Vocabulary) -> [(words: String, text: String)] {
        let place = vocabulary.localities.first ?? "Andover"
        let quoted = place.contains(" ") ? "\"\(place)\"" : place
        return [
            (
                "People in \(place) with depression and obesity",
                "locality = \(quoted) and condition depression and condition obesity"
            ),
            ("People in \(place) with high blood pressure", "locality = \(quoted) and condition hypertension"),
            (
                "Older people with several conditions and a high risk of admission",
                "age >= 75 and ltc_count >= 3 and tier emergency_admission_12m >= high"
            ),
            (
                "Obesity by a recent BMI, in the two most deprived deciles",
                "latest bmi >= 30 within 24 months and imd_decile <= 2"
            ),
            (
                "Two or more of diabetes, hypertension and COPD",
                "at least 2 of (condition diabetes, condition hypertension, condition copd)"
            ),
        ]
    }

    /// The language in brief, with examples, beside the definition.
    static func reference(_ vocabulary: Vocabulary) -> String {
        let area = vocabulary.areaIndicators.first.map { name in
            [("area \(name) >= 10", "an indicator of the area lived in: " + vocabulary.areaIndicators.joined(separator: ", "))]
        }
        let rows =
            [
                ("age >= 65, ltc_count >= 2, imd_decile <= 2", "numbers: =, !=, <, <=, >, >="),
                ("condition depression [within 12 months]", "has a condition (first recorded in the window)"),
                ("latest bmi >= 30 within 24 months", "the latest recorded value of a code list"),
                ("locality = \"Ashford Vale\", practice in (Z00001, Z00002)", "units by name or code"),
                ("emergency_admissions >= 1, cost >= 1000", "use and cost (GBP) in the last 12 months"),
                ("tier emergency_admission_12m >= high, rising persistent_high_cost", "risk tiers and rising risk"),
                ("segment bridges_to_health = frailty_dementia", "a segment of a segmentation"),
            ] + (area ?? []) + [
                ("and, or, not, ( ), at least 2 of (A, B, C)", "combining: and binds tighter than or")
            ]
        let table = rows.map { "<tr><td><code>\(Pages.escape($0.0))</code></td><td>\(Pages.escape($0.1))</td></tr>" }.joined()
        let examples = examples(vocabulary).map {
            "<li>\(Pages.escape($0.words)): <code>\(Pages.escape($0.text))</code></li>"
        }.joined()
        return """
            <details><summary>How to write a definition</summary>
            <table><caption>The cohort language in brief (the whole of it: docs/cohorts.md)</caption>\
            <thead><tr><th scope="col">Write</th><th scope="col">Meaning</th></tr></thead><tbody>\(table)</tbody></table>
            <p>Examples:</p><ul>\(examples)</ul>
            <p>Words of the language, and this run's conditions, code lists, units and segments, are suggested as you type: in the definition (with a script: arrow keys to choose, Enter to take, Escape to close) and in the value of a criterion below.</p></details>
            """
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
            <label for="add_kind">Criterion</label> <select id="add_kind" name="add_kind">\(options(kinds.map { ($0.id, $0.label) } + vocabulary.areaIndicators.map { ("area " + $0, "area indicator " + $0) }))</select>
            <label for="add_op">Comparison</label> <select id="add_op" name="add_op">\(options(operators.map { ($0, $0) }))</select>
            <label for="add_value">Value</label> <input id="add_value" name="add_value" list="vocabulary" size="24">
            <datalist id="vocabulary">\(suggestions.map { "<option value=\"\(Pages.escape($0))\">" }.joined())</datalist>
            """
    }

    /// The definition with the form's criterion appended; the definition unchanged when the
    /// form names none.
    static func append(to definition: String, join: String?, kind: String?, op: String?, value: String?) -> String {
        let value = (value ?? "").trimmingCharacters(in: .whitespaces)
        // An area indicator's kind is `area NAME`; a name this run does not have is refused when counted.
        let area = kind.flatMap { k in
            k.hasPrefix("area ") && Areas.isUsableIndicatorName(String(k.dropFirst(5))) ? (id: k, label: k, compares: true) : nil
        }
        guard let kind = area ?? kinds.first(where: { $0.id == kind }), !value.isEmpty else { return definition }
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
