/// How large a cohort definition may be. Anyone allowed to query cohorts can send one, so each
/// bound keeps parsing and evaluation short whatever is sent; each is far beyond what a person
/// writes (the longest shipped care gap has 6 criteria).
public enum CohortLimits {
    /// Text or JSON.
    public static let maximumBytes = 20_000
    /// Groups, `not`s and `at least`s inside one another.
    public static let maximumDepth = 32
    /// Criteria and combinations together: each is at most one pass over the frame.
    public static let maximumNodes = 200
    /// Values in one `in (...)` list.
    public static let maximumValues = 2_000
    /// `at least n of (k items)` keeps n + 1 running sets and updates them k times: n x k passes.
    public static let maximumAtLeastWork = 1_000
    /// 100 years: every record of a living person.
    public static let maximumWindowMonths = 1_200

    /// Refuses a definition past any bound, naming where.
    public static func check(_ definition: CohortDefinition) throws(CohortError) {
        var nodes = 0
        func visit(_ e: CohortExpression, _ path: [Int], depth: Int) throws(CohortError) {
            nodes += 1
            guard nodes <= maximumNodes else {
                throw CohortError("definition", "more than \(maximumNodes) criteria and combinations")
            }
            guard depth <= maximumDepth else {
                throw CohortError(definition.position(of: path), "nested more than \(maximumDepth) deep")
            }
            switch e {
            case .atLeast(let n, let c) where n * c.count > maximumAtLeastWork:
                throw CohortError(
                    definition.position(of: path),
                    "'at least \(n) of' \(c.count) is too wide: n times the number of items can be at most \(maximumAtLeastWork)")
            case .criterion(let c):
                if c.values.count > maximumValues {
                    throw CohortError(definition.position(of: path), "more than \(maximumValues) values")
                }
                if let m = c.windowMonths, m > maximumWindowMonths {
                    throw CohortError(definition.position(of: path), "a window can be at most \(maximumWindowMonths) months")
                }
            default: break
            }
            for (i, child) in e.children.enumerated() { try visit(child, path + [i], depth: depth + 1) }
        }
        try visit(definition.expression, [], depth: 0)
    }
}

extension Criterion {
    /// The values a category, segment or tier criterion accepts.
    var values: [String] {
        switch self {
        case .category(_, let v), .segment(_, let v), .tier(_, let v): v
        default: []
        }
    }

    /// The window of a criterion about records, in months.
    var windowMonths: Int? {
        switch self {
        case .condition(_, let m), .recorded(_, let m), .latest(_, _, withinMonths: let m): m
        default: nil
        }
    }
}
