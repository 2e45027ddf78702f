import PHMCore

/// A cohort definition: criteria about a person combined with and, or, not and "at least n of".
///
/// Written either as text (`age >= 65 and condition depression and latest bmi >= 30 within 24
/// months`, see `CohortText`) or as JSON (see `CohortJSON`); both give this tree, which names
/// conditions, code lists and units by id and is checked against a run's frame by `CohortQuery`.
public indirect enum CohortExpression: Sendable, Equatable {
    case all([CohortExpression])
    case any([CohortExpression])
    case not(CohortExpression)
    case atLeast(Int, of: [CohortExpression])
    case criterion(Criterion)

    /// The children of a combination, in order (empty for a criterion).
    public var children: [CohortExpression] {
        switch self {
        case .all(let c), .any(let c), .atLeast(_, of: let c): c
        case .not(let c): [c]
        case .criterion: []
        }
    }

    /// The outcomes whose risk, tier or rising the expression asks about.
    public var outcomes: Set<String> {
        switch self {
        case .criterion(.risk(let id, _)), .criterion(.tier(let id, _)), .criterion(.rising(let id)): [id]
        case .criterion: []
        default: children.reduce(into: []) { $0.formUnion($1.outcomes) }
        }
    }
}

/// One fact about a person at the frame's as-of date.
public enum Criterion: Sendable, Equatable {
    /// Age, deprivation, LTC count, or use and cost of care in the last 12 months.
    case number(NumberField, Comparison)
    /// Sex, ethnic group, or where the person is registered or lives; true for any of the values.
    case category(CategoryField, [String])
    /// Has the condition; with a window, first recorded within the last `months`.
    case condition(String, withinMonths: Int?)
    /// A code of the list recorded (ever, or within the last `months`).
    case recorded(String, withinMonths: Int?)
    /// The latest value recorded with a code of the list compares true, and (with a window) was
    /// recorded within the last `months`.
    case latest(String, Comparison, withinMonths: Int?)
    case score(String, Comparison)
    /// In one of the segments of a segmentation.
    case segment(String, [String])
    /// Risk of an outcome in the next 12 months, as a probability.
    case risk(String, Comparison)
    /// In one of the tiers of an outcome's risk.
    case tier(String, [String])
    /// The outcome's risk is rising.
    case rising(String)
    /// The area indicator (`areas.csv`: `pm25`, `green_space_access_pct`, ...) of the area the
    /// person lives in compares true; never where the area or its value is not known.
    case area(String, Comparison)
}

/// A numeric fact about a person: age, deprivation, LTC count, or a measure of use and cost.
public enum NumberField: Sendable, Hashable, CaseIterable {
    case age, imdDecile, imdQuintile, ltcCount
    case use(UseMeasure)

    public static let allCases: [NumberField] =
        [.age, .imdDecile, .imdQuintile, .ltcCount] + UseMeasure.allCases.map { .use($0) }

    public var rawValue: String {
        switch self {
        case .age: "age"
        case .imdDecile: "imd_decile"
        case .imdQuintile: "imd_quintile"
        case .ltcCount: "ltc_count"
        case .use(let m): m.rawValue
        }
    }

    public init?(rawValue: String) {
        guard let field = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = field
    }
}

public enum CategoryField: String, Sendable, CaseIterable {
    case sex
    case ethnicGroup = "ethnic_group"
    case practice, pcn, locality, organisation
    case lsoa
}

/// A comparison with a number.
public struct Comparison: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "!=", below = "<", atMost = "<=", above = ">", atLeast = ">="

        /// The key naming the operator in JSON.
        public var key: String {
            switch self {
            case .equal: "equals"
            case .notEqual: "not_equals"
            case .below: "below"
            case .atMost: "at_most"
            case .above: "above"
            case .atLeast: "at_least"
            }
        }
    }

    public var op: Operator
    public var value: Double

    public init(_ op: Operator, _ value: Double) {
        self.op = op
        self.value = value
    }

    /// The comparison with its number as a 32-bit float would hold it, for values kept as floats
    /// (use, risk, latest values, area indicators): `9.1` typed then equals `9.1` read from a file.
    public var inFloat: Comparison { Comparison(op, Double(Float(value))) }

    /// The values accepted, as those within `low...high`, or outside it when `outside`: the same
    /// answer as `accepts` for every finite value and NaN.
    public var range: (low: Double, high: Double, outside: Bool) {
        switch op {
        case .equal: (value, value, false)
        case .notEqual: (value, value, true)
        case .below: (-.infinity, value.nextDown, false)
        case .atMost: (-.infinity, value, false)
        case .above: (value.nextUp, .infinity, false)
        case .atLeast: (value, .infinity, false)
        }
    }

    @inline(__always)
    public func accepts(_ x: Double) -> Bool {
        switch op {
        case .equal: x == value
        case .notEqual: x != value
        case .below: x < value
        case .atMost: x <= value
        case .above: x > value
        case .atLeast: x >= value
        }
    }
}

/// Sex and ethnic group values as criteria name them.
extension Sex {
    public var criterionValue: String { String(describing: self) }
}

extension EthnicGroup {
    public var criterionValue: String { self == .notStated ? "not_stated" : String(describing: self) }
}
