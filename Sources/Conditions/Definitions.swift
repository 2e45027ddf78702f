import Foundation

/// The definitions file (`definitions.yaml`): code lists, conditions and scores, editable by
/// users without rebuilding the platform.
struct DefinitionsFile: Decodable {
    var version: Int
    var codelists: [String: ListSpec]
    var conditions: [ConditionSpec]
    var scores: [ScoreSpec]?

    struct ListSpec: Decodable {
        var system: String
        /// A CSV file in the OpenCodelists layout, relative to the definitions file.
        var file: String?
        /// Codes written inline.
        var codes: [String]?
    }

    struct ConditionSpec: Decodable {
        var id: String
        var name: String
        /// Counts towards the long-term condition count (the 37 Cambridge Multimorbidity Score conditions).
        var ltc: Bool?
        var group: String?
        var rule: RuleSpec
    }

    struct ScoreSpec: Decodable {
        var id: String
        var name: String
        var source: String?
        var weights: [String: Double]
        /// Pairs `[stronger, weaker]`: when the stronger condition is present the weaker scores 0.
        var hierarchy: [[String]]?
        var divideBy: Double?
        var categories: [CategorySpec]?

        enum CodingKeys: String, CodingKey {
            case id, name, source, weights, hierarchy
            case divideBy = "divide_by"
            case categories
        }
    }

    struct CategorySpec: Decodable {
        var label: String
        /// Upper bound (exclusive); the last category has none.
        var below: Double?
    }
}

/// A condition rule as written in the definitions file. Every rule looks only at events before
/// the as-of date.
indirect enum RuleSpec: Decodable {
    /// A code from the lists was ever recorded.
    case ever([String])
    /// A code from the lists was recorded in the `months` before as-of.
    case recordedWithin(lists: [String], months: Int)
    /// The first code from the lists was recorded in the `months` before as-of (a new diagnosis).
    case firstRecordedWithin(lists: [String], months: Int)
    /// The latest code from `lists` is not followed (on or after its date) by a code from `resolved`.
    case latestNotResolved(lists: [String], resolved: [String])
    /// A value rule on the latest values recorded with codes from `lists`.
    case value(ValueSpec)
    /// At least `atLeast` prescriptions from the lists in the `months` before as-of.
    case prescriptions(lists: [String], months: Int, atLeast: Int)
    /// At least `atLeast` different medicines (distinct codes) from the lists in the `months` before as-of.
    case distinctPrescriptions(lists: [String], months: Int, atLeast: Int)
    case all([RuleSpec])
    case any([RuleSpec])
    case not(RuleSpec)
    /// Another condition defined earlier in the file.
    case condition(String)

    struct ValueSpec: Decodable {
        var lists: [String]
        /// How many of the most recent values to look at.
        var last: Int?
        /// `latest`, `max`, `min` or `mean` of those values.
        var take: String?
        var bounds: Bounds
        var withinMonths: Int?

        enum CodingKeys: String, CodingKey {
            case lists, last, take
            case withinMonths = "within_months"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lists = try c.decode([String].self, forKey: .lists)
            last = try c.decodeIfPresent(Int.self, forKey: .last)
            take = try c.decodeIfPresent(String.self, forKey: .take)
            withinMonths = try c.decodeIfPresent(Int.self, forKey: .withinMonths)
            bounds = try Bounds(from: decoder)
        }
    }

    private struct ListsMonths: Decodable {
        var lists: [String]
        var months: Int
        var atLeast: Int?
        var resolved: [String]?
        enum CodingKeys: String, CodingKey {
            case lists, months, resolved
            case atLeast = "at_least"
        }
    }

    private struct ListsResolved: Decodable {
        var lists: [String]
        var resolved: [String]
    }

    static let kinds = [
        "ever", "recorded_within", "first_recorded_within", "latest_not_resolved", "value", "prescriptions",
        "distinct_prescriptions", "all", "any", "not", "condition",
    ]

    init(from decoder: any Decoder) throws {
        let (container, key) = try RuleKey.single(decoder, kinds: RuleSpec.kinds)
        switch key.stringValue {
        case "ever":
            self = .ever(try container.strings(forKey: key))
        case "recorded_within":
            let spec = try container.decode(ListsMonths.self, forKey: key)
            self = .recordedWithin(lists: spec.lists, months: spec.months)
        case "first_recorded_within":
            let spec = try container.decode(ListsMonths.self, forKey: key)
            self = .firstRecordedWithin(lists: spec.lists, months: spec.months)
        case "latest_not_resolved":
            let spec = try container.decode(ListsResolved.self, forKey: key)
            self = .latestNotResolved(lists: spec.lists, resolved: spec.resolved)
        case "value": self = .value(try container.decode(ValueSpec.self, forKey: key))
        case "prescriptions":
            let spec = try container.decode(ListsMonths.self, forKey: key)
            self = .prescriptions(lists: spec.lists, months: spec.months, atLeast: spec.atLeast ?? 1)
        case "distinct_prescriptions":
            let spec = try container.decode(ListsMonths.self, forKey: key)
            self = .distinctPrescriptions(lists: spec.lists, months: spec.months, atLeast: spec.atLeast ?? 1)
        case "all": self = .all(try container.decode([RuleSpec].self, forKey: key))
        case "any": self = .any(try container.decode([RuleSpec].self, forKey: key))
        case "not": self = .not(try container.decode(RuleSpec.self, forKey: key))
        case "condition": self = .condition(try container.decode(String.self, forKey: key))
        default:
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath + [key],
                    debugDescription:
                        "unknown rule '\(key.stringValue)'; expected one of: \(RuleSpec.kinds.joined(separator: ", "))"))
        }
    }
}
