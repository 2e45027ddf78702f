import Foundation
import PHMCore

/// Code lists, conditions and scores, loaded from a definitions file and checked.
public struct ConditionLibrary: Sendable {
    public struct Condition: Sendable {
        public var id: String
        public var name: String
        /// Counts towards the long-term condition (LTC) count.
        public var isLTC: Bool
        public var group: String?
        var rule: Rule
    }

    /// A weighted sum of condition flags, with an optional hierarchy, divisor and categories.
    public struct Score: Sendable {
        public var id: String
        public var name: String
        public var source: String?
        public var weights: [(condition: Int, weight: Double)]
        public var hierarchy: [(stronger: Int, weaker: Int)]
        public var divideBy: Double
        public var categories: [(label: String, below: Double?)]

        /// Whether every value is a whole number (integer weights, nothing divided): such a score
        /// is written without decimals.
        public var isWholeNumber: Bool { divideBy == 1 && weights.allSatisfy { $0.weight.rounded() == $0.weight } }

        /// The category label of a score value.
        public func category(of value: Double) -> String? {
            categories.first { $0.below.map { value < $0 } ?? true }?.label
        }
    }

    public var lists: [CodeList]
    public var conditions: [Condition]
    public var scores: [Score]

    /// The library shipped with the platform (`Sources/Conditions/Library`).
    public static func standard() throws -> ConditionLibrary {
        try load(definitions: standardFolder.appendingPathComponent("definitions.yaml"))
    }

    /// The folder of the shipped library, to copy and edit.
    public static var standardFolder: URL {
        Bundle.module.url(forResource: "Library", withExtension: nil)!
    }

    /// Loads a definitions file and the code list files it names (paths relative to it).
    public static func load(definitions url: URL) throws -> ConditionLibrary {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw DefinitionError(file: url.lastPathComponent, message: "cannot be read as UTF-8 text")
        }
        return try load(definitions: text, from: url)
    }

    /// Reads definitions already in memory; `url` names them in messages and anchors the code
    /// list files they name.
    public static func load(definitions text: String, from url: URL) throws -> ConditionLibrary {
        let name = url.lastPathComponent
        let file: DefinitionsFile
        do {
            file = try YAMLInput.decode(DefinitionsFile.self, from: text)
        } catch let error as DecodingError {
            throw DefinitionError(file: name, message: ConditionLibrary.explain(error))
        } catch {
            throw DefinitionError(file: name, message: "is not valid YAML: \(error)")
        }
        guard file.version == 1 else {
            throw DefinitionError(file: name, message: "version \(file.version) is not supported (expected 1)")
        }

        var lists: [CodeList] = []
        var listIndex: [String: Int] = [:]
        for (listName, spec) in file.codelists.sorted(by: { $0.key < $1.key }) {
            guard let system = CodeSystem(name: spec.system.uppercased()) else {
                throw DefinitionError(
                    file: name,
                    message:
                        "code list '\(listName)': unknown system '\(spec.system)' (expected one of \(CodeSystem.allCases.map(\.name).joined(separator: ", ")))"
                )
            }
            var list: CodeList
            if let path = spec.file {
                list = try CodeList.load(
                    csv: url.deletingLastPathComponent().appendingPathComponent(path), name: listName, system: system)
                if let codes = spec.codes {
                    list = CodeList(name: listName, system: system, entries: Array(list.exact) + list.prefixes + codes)
                }
            } else if let codes = spec.codes {
                list = CodeList(name: listName, system: system, entries: codes)
            } else {
                throw DefinitionError(file: name, message: "code list '\(listName)' needs 'file' or 'codes'")
            }
            listIndex[listName] = lists.count
            lists.append(list)
        }

        var conditions: [Condition] = []
        var conditionIndex: [String: Int] = [:]
        for spec in file.conditions {
            guard conditionIndex[spec.id] == nil else {
                throw DefinitionError(file: name, message: "condition '\(spec.id)' is defined twice")
            }
            let rule = try Rule(
                spec.rule, lists: listIndex, conditions: conditionIndex, context: "condition '\(spec.id)'", file: name)
            conditionIndex[spec.id] = conditions.count
            conditions.append(Condition(id: spec.id, name: spec.name, isLTC: spec.ltc ?? false, group: spec.group, rule: rule))
        }

        var scores: [Score] = []
        for spec in file.scores ?? [] {
            func index(_ id: String) throws -> Int {
                guard let i = conditionIndex[id] else {
                    throw DefinitionError(file: name, message: "score '\(spec.id)' names unknown condition '\(id)'")
                }
                return i
            }
            let weights = try spec.weights.sorted { $0.key < $1.key }.map { (condition: try index($0.key), weight: $0.value) }
            let hierarchy = try (spec.hierarchy ?? []).map { pair -> (stronger: Int, weaker: Int) in
                guard pair.count == 2 else {
                    throw DefinitionError(file: name, message: "score '\(spec.id)': each hierarchy entry is [stronger, weaker]")
                }
                return (try index(pair[0]), try index(pair[1]))
            }
            scores.append(
                Score(
                    id: spec.id, name: spec.name, source: spec.source, weights: weights, hierarchy: hierarchy,
                    divideBy: spec.divideBy ?? 1,
                    categories: (spec.categories ?? []).map { ($0.label, $0.below) }))
        }
        return ConditionLibrary(lists: lists, conditions: conditions, scores: scores)
    }

    /// The conditions that count towards the LTC count, in file order.
    public var ltcConditions: [Int] { conditions.indices.filter { conditions[$0].isLTC } }

    public func condition(_ id: String) -> Int? { conditions.firstIndex { $0.id == id } }

    public func score(_ id: String) -> Int? { scores.firstIndex { $0.id == id } }

    public static func explain(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "at \(path(context.codingPath)): missing '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// A rule compiled to list and condition indices.
indirect enum Rule: Sendable {
    case ever([Int])
    case recordedWithin([Int], months: Int)
    case firstRecordedWithin([Int], months: Int)
    case latestNotResolved([Int], resolved: [Int])
    case value(ValueRule)
    case prescriptions([Int], months: Int, atLeast: Int)
    case distinctPrescriptions([Int], months: Int, atLeast: Int)
    case all([Rule])
    case any([Rule])
    case not(Rule)
    case condition(Int)

    struct ValueRule: Sendable {
        enum Take: String, Sendable { case latest, max, min, mean }
        var lists: [Int]
        var last: Int
        var take: Take
        var bounds: Bounds
        var withinMonths: Int?

        func accepts(_ x: Double) -> Bool { bounds.accepts(x) }
    }

    init(_ spec: RuleSpec, lists: [String: Int], conditions: [String: Int], context: String, file: String) throws {
        func resolve(_ names: [String]) throws -> [Int] {
            guard !names.isEmpty else {
                throw DefinitionError(file: file, message: "\(context): a rule needs at least one code list")
            }
            return try names.map { n in
                guard let i = lists[n] else { throw DefinitionError(file: file, message: "\(context): unknown code list '\(n)'") }
                return i
            }
        }
        func sub(_ s: RuleSpec) throws -> Rule { try Rule(s, lists: lists, conditions: conditions, context: context, file: file) }
        switch spec {
        case .ever(let names): self = .ever(try resolve(names))
        case .recordedWithin(let names, let months): self = .recordedWithin(try resolve(names), months: months)
        case .firstRecordedWithin(let names, let months): self = .firstRecordedWithin(try resolve(names), months: months)
        case .latestNotResolved(let names, let resolved):
            self = .latestNotResolved(try resolve(names), resolved: try resolve(resolved))
        case .value(let v):
            guard let take = ValueRule.Take(rawValue: v.take ?? "latest") else {
                throw DefinitionError(file: file, message: "\(context): 'take' must be latest, max, min or mean")
            }
            guard !v.bounds.isEmpty else {
                throw DefinitionError(file: file, message: "\(context): a value rule needs below, at_least, above or at_most")
            }
            self = .value(
                ValueRule(
                    lists: try resolve(v.lists), last: max(1, v.last ?? 1), take: take, bounds: v.bounds,
                    withinMonths: v.withinMonths))
        case .prescriptions(let names, let months, let atLeast):
            self = .prescriptions(try resolve(names), months: months, atLeast: atLeast)
        case .distinctPrescriptions(let names, let months, let atLeast):
            self = .distinctPrescriptions(try resolve(names), months: months, atLeast: atLeast)
        case .all(let rules): self = .all(try rules.map(sub))
        case .any(let rules): self = .any(try rules.map(sub))
        case .not(let rule): self = .not(try sub(rule))
        case .condition(let id):
            guard let i = conditions[id] else {
                throw DefinitionError(file: file, message: "\(context): condition '\(id)' is not defined before it is used")
            }
            self = .condition(i)
        }
    }

    /// Lists whose earliest code dates the condition (positive branches only).
    var datingLists: [Int] {
        switch self {
        case .ever(let l), .recordedWithin(let l, _), .firstRecordedWithin(let l, _), .latestNotResolved(let l, _),
            .prescriptions(let l, _, _),
            .distinctPrescriptions(let l, _, _):
            l
        case .value(let v): v.lists
        case .all(let rules), .any(let rules): rules.flatMap(\.datingLists)
        case .not, .condition: []
        }
    }
}
