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
/// (`outcome`, `in`); `rising` (an outcome id); `area` (`indicator` and a comparison). Comparisons
/// are `equals`, `not_equals`, `below`, `at_most`, `above` or `at_least`.
public enum CohortJSON {
    public static func parse(_ data: Data) throws(CohortError) -> CohortDefinition {
        guard data.count <= CohortLimits.maximumBytes else {
            throw CohortError("definition", "longer than \(CohortLimits.maximumBytes) bytes")
        }
        // Checked before parsing, so no nesting reaches the JSON parser's own recursion.
        guard JSONDepth.of(data) <= 2 * CohortLimits.maximumDepth + 4 else {
            throw CohortError("definition", "nested more than \(CohortLimits.maximumDepth) deep")
        }
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw CohortError("definition", "not valid JSON")
        }
        return try definition(value)
    }

    /// A definition already read as JSON (an API body's `definition` object).
    public static func definition(_ value: JSONValue) throws(CohortError) -> CohortDefinition {
        // The same bound as for text: measured on the value as the platform writes it.
        guard let size = try? JSON.bytes(value).count, size <= CohortLimits.maximumBytes else {
            throw CohortError("definition", "longer than \(CohortLimits.maximumBytes) bytes")
        }
        let definition = CohortDefinition(try node(value, at: ""))
        try CohortLimits.check(definition)
        return definition
    }

    public static func encode(_ expression: CohortExpression) -> Data {
        // A tree of strings, finite numbers and objects, which always encodes.
        Data((try? JSON.bytes(value(expression))) ?? Array("{}".utf8))
    }

    public static func value(_ e: CohortExpression) -> JSONValue {
        switch e {
        case .all(let c): return ["all": .array(c.map(value))]
        case .any(let c): return ["any": .array(c.map(value))]
        case .not(let c): return ["not": value(c)]
        case .atLeast(let n, let c): return ["at_least": ["n": .number(Double(n)), "of": .array(c.map(value))]]
        case .criterion(let c): return .object([c.key: criterionValue(c)])
        }
    }

    static func criterionValue(_ c: Criterion) -> JSONValue {
        func window(_ m: Int?, _ base: [String: JSONValue]) -> JSONValue {
            var d = base
            if let m { d["within_months"] = .number(Double(m)) }
            return .object(d)
        }
        func compare(_ cmp: Comparison, _ base: [String: JSONValue] = [:]) -> [String: JSONValue] {
            var d = base
            d[cmp.op.key] = .number(cmp.value)
            return d
        }
        func strings(_ v: [String]) -> JSONValue { v.count == 1 ? .string(v[0]) : .array(v.map(JSONValue.string)) }
        switch c {
        case .number(_, let cmp): return .object(compare(cmp))
        case .category(_, let v): return strings(v)
        case .condition(let id, let m): return m == nil ? .string(id) : window(m, ["id": .string(id)])
        case .recorded(let id, let m): return window(m, ["list": .string(id)])
        case .latest(let id, let cmp, let m): return window(m, compare(cmp, ["list": .string(id)]))
        case .score(let id, let cmp): return .object(compare(cmp, ["id": .string(id)]))
        case .segment(let id, let v): return ["segmentation": .string(id), "in": .array(v.map(JSONValue.string))]
        case .risk(let id, let cmp): return .object(compare(cmp, ["outcome": .string(id)]))
        case .tier(let id, let v): return ["outcome": .string(id), "in": .array(v.map(JSONValue.string))]
        case .rising(let id): return .string(id)
        case .area(let id, let cmp): return .object(compare(cmp, ["indicator": .string(id)]))
        }
    }

    static func node(_ json: JSONValue, at path: String) throws(CohortError) -> CohortExpression {
        let here = path.isEmpty ? "definition" : path
        guard let dict = json.object, dict.count == 1, let (key, value) = dict.first else {
            throw CohortError(here, "each node must be an object with exactly one key")
        }
        let at = path.isEmpty ? key : path + "." + key
        func list() throws(CohortError) -> [CohortExpression] {
            guard let items = value.array, !items.isEmpty else { throw CohortError(at, "expected a non-empty list") }
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
            guard let items = fields.values["of"]?.array, !items.isEmpty else {
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

    static func criterion(_ key: String, _ value: JSONValue, at: String) throws(CohortError) -> Criterion {
        let comparisonKeys = Comparison.Operator.allCases.map(\.key)
        if let field = NumberField(rawValue: key) {
            return .number(field, try Fields(value, at: at, allowed: comparisonKeys).comparison())
        }
        if let field = CategoryField(rawValue: key) { return .category(field, try strings(value, at: at)) }
        switch key {
        case "condition":
            if let id = value.string { return .condition(id, withinMonths: nil) }
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
            return .segment(try f.string("segmentation"), try strings(f.values["in"] ?? .null, at: at + ".in"))
        case "tier":
            let f = try Fields(value, at: at, allowed: ["outcome", "in"])
            return .tier(try f.string("outcome"), try strings(f.values["in"] ?? .null, at: at + ".in"))
        case "rising":
            guard let id = value.string else { throw CohortError(at, "expected an outcome id") }
            return .rising(id)
        case "area":
            let f = try Fields(value, at: at, allowed: ["indicator"] + comparisonKeys)
            return .area(try f.string("indicator"), try f.comparison())
        default:
            let known =
                ["all", "any", "not", "at_least"] + NumberField.allCases.map(\.rawValue)
                + CategoryField.allCases.map(\.rawValue)
                + ["condition", "recorded", "latest", "score", "risk", "segment", "tier", "rising", "area"]
            throw CohortError(at, "unknown key '\(key)'" + Suggest.hint(key, among: known))
        }
    }

    static func strings(_ value: JSONValue, at: String) throws(CohortError) -> [String] {
        if let s = value.string { return [s] }
        if let list = value.array?.compactMap(\.string), !list.isEmpty, list.count == value.array?.count { return list }
        throw CohortError(at, "expected a value or a non-empty list of values")
    }

    /// The keys of one criterion's object, checked against those it allows.
    struct Fields {
        var values: [String: JSONValue]
        var at: String

        init(_ value: JSONValue, at: String, allowed: [String]) throws(CohortError) {
            guard let dict = value.object else { throw CohortError(at, "expected an object") }
            for key in dict.keys.sorted() where !allowed.contains(key) {
                throw CohortError(at, "unknown key '\(key)'; allowed: \(allowed.joined(separator: ", "))")
            }
            values = dict
            self.at = at
        }

        func string(_ key: String) throws(CohortError) -> String {
            guard let s = values[key]?.string else { throw CohortError(at, "'\(key)' must be given as text") }
            return s
        }

        func integer(_ key: String) throws(CohortError) -> Int {
            guard let n = values[key]?.number, let i = Int(exactly: n) else {
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
            guard let n = values[op.key]?.number else {
                throw CohortError(at + "." + op.key, "expected a number")
            }
            return Comparison(op, n)
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
        case .area: "area"
        }
    }
}
