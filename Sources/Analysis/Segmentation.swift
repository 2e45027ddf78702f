import Conditions
import Foundation
import PHMCore

/// A way of dividing the population into segments: ordered rules, each person in the first
/// segment whose rule they meet, the last segment taking everyone else.
public struct Segmentation: Sendable {
    public struct Segment: Sendable {
        public var id: String
        public var name: String
        /// Nil for the last segment: everyone not in an earlier one.
        public var rule: SegmentRule?
    }

    public var id: String
    public var name: String
    public var source: String?
    public var segments: [Segment]

    /// The seed's segmentation: LTC band (0, 1, 2-4, 5-7, 8+) by age band (A 0-17 ... E 80+),
    /// named band digit then age letter, e.g. `5D`.
    public static let ltcByAge: Segmentation = {
        func bounds(_ r: ClosedRange<Int>) -> Bounds { Bounds(atLeast: Double(r.lowerBound), atMost: Double(r.upperBound)) }
        let segments = LTCBand.allCases.flatMap { l in
            AgeBand.allCases.map { a in
                Segment(
                    id: l.id + a.letter, name: "LTC band \(l.id), age band \(a.letter)",
                    rule: .all([.measure(.ltcCount, bounds(l.counts)), .measure(.age, bounds(a.ages))]))
            }
        }
        // The last cell takes everyone left, who can only be 8+ and 80+.
        var all = segments
        all[all.count - 1].rule = nil
        return Segmentation(
            id: "ltc_age", name: "Long-term conditions by age band", source: "the seed multimorbidity table",
            segments: all)
    }()

    /// The segment of a person, by the first rule they meet.
    public func segment(of person: Int, _ facts: PersonFacts) -> Int {
        for (i, s) in segments.enumerated() {
            guard let rule = s.rule else { return i }
            if rule.holds(person, facts) { return i }
        }
        return segments.count - 1
    }
}

/// What segment rules and indicators read about a person.
public struct PersonFacts: Sendable {
    public var population: Population
    public var conditions: ConditionResults
    public var use: Utilisation
    /// In the high or very high tier of emergency admission risk at as-of, when scored.
    public var highRisk: [Bool]?
    /// Emergency admission risk 12 months before as-of (NaN where not scored), when scored.
    public var previousRisk: [Float]?

    public init(
        population: Population, conditions: ConditionResults, use: Utilisation, highRisk: [Bool]? = nil,
        previousRisk: [Float]? = nil
    ) {
        self.population = population
        self.conditions = conditions
        self.use = use
        self.highRisk = highRisk
        self.previousRisk = previousRisk
    }

    func value(_ m: SegmentRule.Measure, _ p: Int) -> Double? {
        switch m {
        case .age: return Double(population.age[p])
        case .ltcCount: return Double(conditions.ltcCount[p])
        case .imdDecile:
            let a = Int(population.area[p])
            return a >= 0 ? Double(population.areas.imdDecile[a]) : nil
        case .emergencyAdmissions: return Double(use.emergencyAdmissions[p])
        case .aeAttendances: return Double(use.aeAttendances[p])
        case .outpatientAttendances: return Double(use.outpatientAttendances[p])
        case .electiveAdmissions: return Double(use.electiveAdmissions[p])
        case .prescriptionTypes: return Double(use.prescriptionTypes[p])
        case .totalCost: return use.totalCost(p)
        }
    }
}

/// A rule over a person's attributes, conditions, scores and use of care in the 12 months
/// before as-of.
public indirect enum SegmentRule: Sendable {
    public enum Measure: String, Sendable, CaseIterable {
        case age
        case ltcCount = "ltc_count"
        case imdDecile = "imd_decile"
        case emergencyAdmissions = "emergency_admissions"
        case aeAttendances = "ae_attendances"
        case outpatientAttendances = "outpatient_attendances"
        case electiveAdmissions = "elective_admissions"
        case prescriptionTypes = "prescription_types"
        case totalCost = "total_cost"
    }

    case condition(Int)
    case score(Int, Bounds)
    case measure(Measure, Bounds)
    case sex(Set<Sex>)
    case ethnicGroup(Set<EthnicGroup>)
    case all([SegmentRule])
    case any([SegmentRule])
    case not(SegmentRule)

    public func holds(_ p: Int, _ facts: PersonFacts) -> Bool {
        switch self {
        case .condition(let c): return facts.conditions.has(p, c)
        case .score(let s, let b): return b.accepts(facts.conditions.scores[s][p])
        case .measure(let m, let b): return facts.value(m, p).map(b.accepts) ?? false
        case .sex(let s): return s.contains(facts.population.sex[p])
        case .ethnicGroup(let e): return e.contains(facts.population.ethnicGroup[p])
        case .all(let rules): return rules.allSatisfy { $0.holds(p, facts) }
        case .any(let rules): return rules.contains { $0.holds(p, facts) }
        case .not(let rule): return !rule.holds(p, facts)
        }
    }
}

/// A segmentation definitions file could not be read.
public struct SegmentationError: Error, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

extension Segmentation {
    /// The segmentations shipped with the platform (Bridges to Health), from `segmentations.yaml`.
    public static func standard(library: ConditionLibrary) throws -> [Segmentation] {
        try load(definitions: standardFile, library: library)
    }

    /// The shipped segmentations file.
    public static var standardFile: URL {
        Bundle.module.url(forResource: "segmentations", withExtension: "yaml", subdirectory: "Library")!
    }

    /// Reads a segmentations file; rules are checked against the condition library.
    public static func load(definitions url: URL, library: ConditionLibrary) throws -> [Segmentation] {
        let file = url.lastPathComponent
        let spec: SegmentationsFile
        do {
            spec = try YAMLInput.decode(SegmentationsFile.self, from: try String(contentsOf: url, encoding: .utf8))
        } catch let error as DecodingError {
            throw SegmentationError(file: file, message: ConditionLibrary.explain(error))
        } catch {
            throw SegmentationError(file: file, message: "\(error)")
        }
        var seen = Set<String>([Segmentation.ltcByAge.id])
        return try spec.segmentations.enumerated().map { i, s in
            let at = "segmentations[\(i)] (\(s.id))"
            guard seen.insert(s.id).inserted else { throw SegmentationError(file: file, message: "\(at): the id is used twice") }
            guard let last = s.segments.last, last.rule == nil else {
                throw SegmentationError(file: file, message: "\(at): the last segment must have no rule, to take everyone else")
            }
            let segments = try s.segments.enumerated().map { j, seg in
                let here = "\(at).segments[\(j)] (\(seg.id))"
                if j < s.segments.count - 1, seg.rule == nil {
                    throw SegmentationError(file: file, message: "\(here): only the last segment may have no rule")
                }
                return Segment(
                    id: seg.id, name: seg.name,
                    rule: try seg.rule.map { try $0.compile(library: library, at: here, file: file) })
            }
            return Segmentation(id: s.id, name: s.name, source: s.source, segments: segments)
        }
    }
}

struct SegmentationsFile: Decodable {
    var version: Int
    var segmentations: [Spec]

    struct Spec: Decodable {
        var id: String
        var name: String
        var source: String?
        var segments: [SegmentSpec]
    }

    struct SegmentSpec: Decodable {
        var id: String
        var name: String
        var rule: SegmentRuleSpec?
    }
}

/// A segment rule as written: exactly one key, e.g. `{condition: dementia}`,
/// `{score: {id: efi, at_least: 0.24}}`, `{age: {below: 1}}`, `{sex: F}`,
/// `{ethnic_group: [Asian, Black]}`, `{all: [...]}`, `{any: [...]}`, `{not: {...}}`.
indirect enum SegmentRuleSpec: Decodable {
    case condition(String)
    case score(id: String, bounds: Bounds)
    case measure(String, Bounds)
    case sex([String])
    case ethnicGroup([String])
    case all([SegmentRuleSpec])
    case any([SegmentRuleSpec])
    case not(SegmentRuleSpec)

    /// `{id: ..., at_least: ...}`: the score and its bounds side by side.
    private struct ScoreSpec: Decodable {
        var id: String
        var bounds: Bounds
        enum CodingKeys: String, CodingKey { case id }
        init(from decoder: any Decoder) throws {
            id = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .id)
            bounds = try Bounds(from: decoder)
        }
    }

    static let kinds =
        ["condition", "score", "sex", "ethnic_group", "all", "any", "not"] + SegmentRule.Measure.allCases.map(\.rawValue)

    init(from decoder: any Decoder) throws {
        let (container, key) = try RuleKey.single(decoder, kinds: SegmentRuleSpec.kinds)
        switch key.stringValue {
        case "condition": self = .condition(try container.decode(String.self, forKey: key))
        case "score":
            let s = try container.decode(ScoreSpec.self, forKey: key)
            self = .score(id: s.id, bounds: s.bounds)
        case "sex": self = .sex(try container.strings(forKey: key))
        case "ethnic_group": self = .ethnicGroup(try container.strings(forKey: key))
        case "all": self = .all(try container.decode([SegmentRuleSpec].self, forKey: key))
        case "any": self = .any(try container.decode([SegmentRuleSpec].self, forKey: key))
        case "not": self = .not(try container.decode(SegmentRuleSpec.self, forKey: key))
        case let name where SegmentRule.Measure(rawValue: name) != nil:
            self = .measure(name, try container.decode(Bounds.self, forKey: key))
        default:
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath + [key],
                    debugDescription:
                        "unknown rule '\(key.stringValue)'; one of: \(SegmentRuleSpec.kinds.joined(separator: ", "))"))
        }
    }

    func compile(library: ConditionLibrary, at place: String, file: String) throws -> SegmentRule {
        func fail(_ message: String) -> SegmentationError { SegmentationError(file: file, message: "\(place): \(message)") }
        switch self {
        case .condition(let id):
            guard let c = library.condition(id) else { throw fail("unknown condition '\(id)'") }
            return .condition(c)
        case .score(let id, let bounds):
            guard let s = library.score(id) else { throw fail("unknown score '\(id)'") }
            guard !bounds.isEmpty else { throw fail("score '\(id)' needs at_least, at_most, above or below") }
            return .score(s, bounds)
        case .measure(let name, let bounds):
            guard !bounds.isEmpty else { throw fail("'\(name)' needs at_least, at_most, above or below") }
            return .measure(SegmentRule.Measure(rawValue: name)!, bounds)
        case .sex(let codes):
            let sexes = try codes.map { code -> Sex in
                guard code.utf8.count == 1, let s = Sex(code: code.utf8.first!) else {
                    throw fail("unknown sex '\(code)'; one of M, F, I, U")
                }
                return s
            }
            return .sex(Set(sexes))
        case .ethnicGroup(let labels):
            let groups = try labels.map { label -> EthnicGroup in
                guard let g = EthnicGroup.allCases.first(where: { $0.label == label }) else {
                    throw fail(
                        "unknown ethnic group '\(label)'; one of \(EthnicGroup.allCases.map(\.label).joined(separator: ", "))")
                }
                return g
            }
            return .ethnicGroup(Set(groups))
        case .all(let rules): return .all(try rules.map { try $0.compile(library: library, at: place, file: file) })
        case .any(let rules): return .any(try rules.map { try $0.compile(library: library, at: place, file: file) })
        case .not(let rule): return .not(try rule.compile(library: library, at: place, file: file))
        }
    }
}

/// Each registered person's segment in every segmentation.
public struct SegmentAssignments: Sendable {
    public var segmentations: [Segmentation]
    /// By segmentation, then person; `unassigned` for people not registered at as-of.
    public var segment: [[UInt8]]

    public static let unassigned = UInt8.max

    public init(_ segmentations: [Segmentation], facts: PersonFacts, workers: Int) {
        precondition(segmentations.allSatisfy { $0.segments.count < Int(SegmentAssignments.unassigned) }, "too many segments")
        self.segmentations = segmentations
        let population = facts.population
        let parts = Parallel.ranges(population.count, parts: workers * 4)
        let pieces = Parallel.map(parts.count) { k in
            segmentations.map { s in
                parts[k].map { p in
                    population.isRegistered(p) ? UInt8(s.segment(of: p, facts)) : SegmentAssignments.unassigned
                }
            }
        }
        segment = segmentations.indices.map { s in pieces.flatMap { $0[s] } }
    }

    /// The segment id of a person in a segmentation, or nil when unassigned.
    public func label(_ segmentation: Int, _ person: Int) -> String? {
        let s = segment[segmentation][person]
        return s == SegmentAssignments.unassigned ? nil : segmentations[segmentation].segments[Int(s)].id
    }
}
