import Foundation
import PHMCore

/// The JSON form of cohort definitions: each node an object with one key.
///
/// ```json
/// {"all": [{"locality": "Andover"}, {"condition": "depression"},
///          {"latest": {"list": "bmi", "at_least": 30, "within_months": 24}}]}
/// ```
/// Combinations: `all`, `any` (lists), `not` (a node), `at_least` (`{"n": 2, "of": [...]}`).
/// Criteria: a number field with one comparison (`{"age": {"at_least": 65}}`); a category field
/// with a value or list (`{"sex": "female"}`); `condition` and `recorded` (an id, or `{"id" or
/// "list", "within_months"}`); `latest` (`list`, a comparison, `within_months`); `score` and
/// `risk` (`id` or `outcome` and a comparison); `segment` (`segmentation`, `in`); `tier`
/// (`outcome`, `in`); `rising` (an outcome id). Comparisons are `equals`, `not_equals`, `below`,
/// `at_most`, `above` or `at_least`.
public enum CohortJSON {
    public static func parse(_ data: Data) throws(CohortError) -> CohortDefinition {
        guard data.count <= CohortLimits.maximumBytes else {
            throw CohortError("definition", "longer than \(CohortLimits.maximumBytes) bytes")
        }
        // Checked before parsing, so no nesting reaches the JSON parser's own recursion.
        guard JSONDepth.of(data) <= 2 * CohortLimits.maximumDepth + 4 else {
            throw CohortError("definition", "nested more than \(CohortLimits.maximumDepth) deep")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CohortError("definition", "not valid JSON: \((error as NSError).userInfo["NSDebugDescription"] ?? error)")
        }
        let definition = CohortDefinition(try node(object, at: ""))
        try CohortLimits.check(definition)
        return definition
    }

    public static func encode(_ expression: CohortExpression) -> Data {
        // swiftlint:disable:next force_try
        try! JSONSerialization.data(withJSONObject: object(expression), options: [.sortedKeys])
    }

    static func object(_ e: CohortExpression) -> Any {
        switch e {
        case .all(let c): return ["all": c.map(object)]
        case .any(let c): return ["any": c.map(object)]
        case .not(let c): return ["not": object(c)]
        case .atLeast(let n, let c): return ["at_least": ["n": n, "of": c.map(object)] as [String: Any]]
        case .criterion(let c): return [c.key: criterionValue(c)]
        }
    }

    static func criterionValue(_ c: Criterion) -> Any {
        func window(_ m: Int?, _ base: [String: Any]) -> Any {
            var d = base
            if let m { d["within_months"] = m }
            return d
        }
        func compare(_ cmp: Comparison, _ base: [String: Any] = [:]) -> [String: Any] {
            var d = base
            d[cmp.op.key] = cmp.value
            return d
        }
        switch c {
        case .number(_, let cmp): return compare(cmp)
        case .category(_, let v): return v.count == 1 ? v[0] : v
        case .condition(let id, let m): return m == nil ? id : window(m, ["id": id])
        case .recorded(let id, let m): return window(m, ["list": id])
        case .latest(let id, let cmp, let m): return window(m, compare(cmp, ["list": id]))
        case .score(let id, let cmp): return compare(cmp, ["id": id])
        case .segment(let id, let v): return ["segmentation": id, "in": v] as [String: Any]
        case .risk(let id, let cmp): return compare(cmp, ["outcome": id])
        case .tier(let id, let v): return ["outcome": id, "in": v] as [String: Any]
        case .rising(let id): return id
        }
    }

    static func node(_ any: Any, at path: String) throws(CohortError) -> CohortExpression {
        let here = path.isEmpty ? "definition" : path
        guard let dict = any as? [String: Any], dict.count == 1, let (key, value) = dict.first else {
            throw CohortError(here, "each node must be an object with exactly one key")
        }
        let at = path.isEmpty ? key : path + "." + key
        func list() throws(CohortError) -> [CohortExpression] {
            guard let items = value as? [Any], !items.isEmpty else { throw CohortError(at, "expected a non-empty list") }
            var out: [CohortExpression] = []
            for (i, item) in items.enumerated() { out.append(try node(item, at: "\(at)[\(i)]")) }
            return out
        }
        switch key {
        case "all": return .all(try list())
        case "any": return .any(try list())
        case "not": return .not(try node(value, at: at))
        case "at_least":
            let fields = try Fields(value, at: at, allowed: ["n", "of"])
            let n = try fields.integer("n")
            guard let items = fields.values["of"] as? [Any], !items.isEmpty else {
                throw CohortError(at + ".of", "expected a non-empty list")
            }
            var children: [CohortExpression] = []
            for (i, item) in items.enumerated() { children.append(try node(item, at: "\(at).of[\(i)]")) }
            guard n >= 1, n <= children.count else {
                throw CohortError(at + ".n", "at least \(n) of \(children.count) can never be met")
            }
            return .atLeast(n, of: children)
        default: return .criterion(try criterion(key, value, at: at))
        }
    }

    static func criterion(_ key: String, _ value: Any, at: String) throws(CohortError) -> Criterion {
        let comparisonKeys = Comparison.Operator.allCases.map(\.key)
        if let field = NumberField(rawValue: key) {
            return .number(field, try Fields(value, at: at, allowed: comparisonKeys).comparison())
        }
        if let field = CategoryField(rawValue: key) { return .category(field, try strings(value, at: at)) }
        switch key {
        case "condition":
            if let id = value as? String { return .condition(id, withinMonths: nil) }
            let f = try Fields(value, at: at, allowed: ["id", "within_months"])
            return .condition(try f.string("id"), withinMonths: try f.optionalInteger("within_months"))
        case "recorded":
            let f = try Fields(value, at: at, allowed: ["list", "within_months"])
            return .recorded(try f.string("list"), withinMonths: try f.optionalInteger("within_months"))
        case "latest":
            let f = try Fields(value, at: at, allowed: ["list", "within_months"] + comparisonKeys)
            return .latest(try f.string("list"), try f.comparison(), withinMonths: try f.optionalInteger("within_months"))
        case "score":
            let f = try Fields(value, at: at, allowed: ["id"] + comparisonKeys)
            return .score(try f.string("id"), try f.comparison())
        case "risk":
            let f = try Fields(value, at: at, allowed: ["outcome"] + comparisonKeys)
            return .risk(try f.string("outcome"), try f.comparison())
        case "segment":
            let f = try Fields(value, at: at, allowed: ["segmentation", "in"])
            return .segment(try f.string("segmentation"), try strings(f.values["in"] as Any, at: at + ".in"))
        case "tier":
            let f = try Fields(value, at: at, allowed: ["outcome", "in"])
            return .tier(try f.string("outcome"), try strings(f.values["in"] as Any, at: at + ".in"))
        case "rising":
            guard let id = value as? String else { throw CohortError(at, "expected an outcome id") }
            return .rising(id)
        default:
            let known =
                ["all", "any", "not", "at_least"] + NumberField.allCases.map(\.rawValue)
                + CategoryField.allCases.map(\.rawValue)
                + ["condition", "recorded", "latest", "score", "risk", "segment", "tier", "rising"]
            throw CohortError(at, "unknown key '\(key)'" + Suggest.hint(key, among: known))
        }
    }

    static func strings(_ value: Any, at: String) throws(CohortError) -> [String] {
        if let s = value as? String { return [s] }
        if let list = value as? [String], !list.isEmpty { return list }
        throw CohortError(at, "expected a value or a non-empty list of values")
    }

    /// The keys of one criterion's object, checked against those it allows.
    struct Fields {
        var values: [String: Any]
        var at: String

        init(_ value: Any, at: String, allowed: [String]) throws(CohortError) {
            guard let dict = value as? [String: Any] else { throw CohortError(at, "expected an object") }
            for key in dict.keys.sorted() where !allowed.contains(key) {
                throw CohortError(at, "unknown key '\(key)'; allowed: \(allowed.joined(separator: ", "))")
            }
            values = dict
            self.at = at
        }

        func string(_ key: String) throws(CohortError) -> String {
            guard let s = values[key] as? String else { throw CohortError(at, "'\(key)' must be given as text") }
            return s
        }

        func integer(_ key: String) throws(CohortError) -> Int {
            guard let n = values[key] as? NSNumber, let i = Int(exactly: n.doubleValue) else {
                throw CohortError(at + "." + key, "expected a whole number")
            }
            return i
        }

        func optionalInteger(_ key: String) throws(CohortError) -> Int? {
            values[key] == nil ? nil : try integer(key)
        }

        func comparison() throws(CohortError) -> Comparison {
            let given = Comparison.Operator.allCases.filter { values[$0.key] != nil }
            guard given.count == 1, let op = given.first else {
                throw CohortError(
                    at, "expected exactly one comparison: \(Comparison.Operator.allCases.map(\.key).joined(separator: ", "))")
            }
            guard let n = values[op.key] as? NSNumber else {
                throw CohortError(at + "." + op.key, "expected a number")
            }
            return Comparison(op, n.doubleValue)
        }
    }
}

extension Criterion {
    /// The key naming the criterion in JSON, and its head word in text.
    public var key: String {
        switch self {
        case .number(let f, _): f.rawValue
        case .category(let f, _): f.rawValue
        case .condition: "condition"
        case .recorded: "recorded"
        case .latest: "latest"
        case .score: "score"
        case .segment: "segment"
        case .risk: "risk"
        case .tier: "tier"
        case .rising: "rising"
        }
    }
}
