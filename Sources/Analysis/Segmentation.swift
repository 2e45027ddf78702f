import Cohorts
import Conditions
import Foundation
import PHMCore

/// A way of dividing the population into segments: an ordered list of cohorts, each person in
/// the first whose definition they meet, the last segment taking everyone else. Definitions are
/// in the cohort language, so any fact a cohort can state divides a population too.
public struct Segmentation: Sendable {
    public struct Segment: Sendable {
        public var id: String
        public var name: String
        /// Nil for the last segment: everyone not in an earlier one.
        public var rule: CohortExpression?
    }

    public var id: String
    public var name: String
    public var source: String?
    public var segments: [Segment]

    /// The seed's segmentation: LTC band (0, 1, 2-4, 5-7, 8+) by age band (A 0-17 ... E 80+),
    /// named band digit then age letter, e.g. `5D`.
    public static let ltcByAge: Segmentation = {
        func within(_ field: NumberField, _ r: ClosedRange<Int>) -> [CohortExpression] {
            [
                .criterion(.number(field, Comparison(.atLeast, Double(r.lowerBound)))),
                .criterion(.number(field, Comparison(.atMost, Double(r.upperBound)))),
            ]
        }
        let segments = LTCBand.allCases.flatMap { l in
            AgeBand.allCases.map { a in
                Segment(
                    id: l.id + a.letter, name: "\(l.label) \(l == .one ? "LTC" : "LTCs"), aged \(a.label)",
                    rule: .all(within(.ltcCount, l.counts) + within(.age, a.ages)))
            }
        }
        // The last cell takes everyone left, who can only be 8+ and 80+.
        var all = segments
        all[all.count - 1].rule = nil
        return Segmentation(
            id: "ltc_age", name: "Long-term conditions by age band", source: "the seed multimorbidity table",
            segments: all)
    }()
}

/// What indicators and segment profiles read about a person.
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
}

/// A segmentation definitions file could not be read, or a definition does not fit the run.
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

    /// Reads a segmentations file. Each segment but the last is a cohort definition, as text
    /// (`where`) or in the JSON form (`rule`); conditions, scores and code lists are checked
    /// against the condition library before any data is read.
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
            guard let last = s.segments.last, last.rule == nil, last.where == nil else {
                throw SegmentationError(file: file, message: "\(at): the last segment must have no rule, to take everyone else")
            }
            let segments = try s.segments.enumerated().map { j, seg in
                let here = "\(at).segments[\(j)] (\(seg.id))"
                func fail(_ message: String) -> SegmentationError {
                    SegmentationError(file: file, message: "\(here): \(message)")
                }
                let definition: CohortDefinition?
                do {
                    switch (seg.where, seg.rule) {
                    case (let text?, nil): definition = try CohortText.parse(text)
                    case (nil, let rule?): definition = try CohortJSON.definition(Self.current(rule))
                    case (nil, nil) where j == s.segments.count - 1: definition = nil
                    case (nil, nil): throw fail("only the last segment may have no rule")
                    case (.some, .some): throw fail("give the segment's definition once: 'where' (text) or 'rule'")
                    }
                } catch let error as CohortError {
                    throw fail(error.description)
                }
                if let definition { try check(definition.expression, library: library).map { throw fail($0) } }
                return Segment(id: seg.id, name: seg.name, rule: definition?.expression)
            }
            return Segmentation(id: s.id, name: s.name, source: s.source, segments: segments)
        }
    }

    /// The first name a segment definition uses that the library lacks, or a segmentation inside
    /// one, as a message; nil when it fits. Units and risk outcomes are checked on the run's frame.
    static func check(_ e: CohortExpression, library: ConditionLibrary) -> String? {
        func unknown(_ what: String, _ id: String, _ names: [String]) -> String {
            "unknown \(what) '\(id)'" + Suggest.hint(id, among: names)
        }
        switch e {
        case .all(let c), .any(let c), .atLeast(_, of: let c): return c.lazy.compactMap { check($0, library: library) }.first
        case .not(let c): return check(c, library: library)
        case .criterion(let criterion):
            switch criterion {
            case .condition(let id, _) where library.condition(id) == nil:
                return unknown("condition", id, library.conditions.map(\.id))
            case .score(let id, _) where library.score(id) == nil: return unknown("score", id, library.scores.map(\.id))
            case .recorded(let id, _) where !library.lists.contains(where: { $0.name == id }),
                .latest(let id, _, _) where !library.lists.contains(where: { $0.name == id }):
                return unknown("code list", id, library.lists.map(\.name))
            case .segment: return "a segment cannot be defined by another segmentation's segments"
            default: return nil
            }
        }
    }

    /// A rule as earlier files wrote it, in the cohort language's JSON form: `total_cost` is
    /// now `cost`, and a number with several bounds (`{age: {at_least: 18, at_most: 44}}`) is
    /// all of them.
    static func current(_ rule: JSONValue) -> JSONValue {
        switch rule {
        case .array(let items): return .array(items.map(current))
        case .object(let o):
            guard o.count == 1, let (key, value) = o.first else { return rule }
            let name = key == "total_cost" ? UseMeasure.cost.rawValue : key
            if NumberField(rawValue: name) != nil, let bounds = value.object, bounds.count > 1 {
                return .object(["all": .array(bounds.keys.sorted().map { .object([name: .object([$0: bounds[$0]!])]) })])
            }
            return .object([name: current(value)])
        default: return rule
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
        /// The definition as cohort text.
        var `where`: String?
        /// The definition in the cohort language's JSON form.
        var rule: JSONValue?
    }
}

/// Each registered person's segment in every segmentation.
public struct SegmentAssignments: Sendable {
    public var segmentations: [Segmentation]
    /// By segmentation, then person; `unassigned` for people not registered at as-of.
    public var segment: [[UInt8]]

    public static let unassigned = UInt8.max

    /// Assigns the frame's rows, which are `people` of a population of `count`: each segment's
    /// definition is evaluated once on the whole frame, and each row goes to the first segment
    /// it is in.
    public init(_ segmentations: [Segmentation], frame: PersonFrame, people: [Int], count: Int) throws {
        precondition(segmentations.allSatisfy { $0.segments.count < Int(SegmentAssignments.unassigned) }, "too many segments")
        self.segmentations = segmentations
        segment = try segmentations.map { s in
            var column = [UInt8](repeating: SegmentAssignments.unassigned, count: count)
            var left = Bitset.all(frame.count)
            for (i, seg) in s.segments.enumerated() {
                var members = left
                if let rule = seg.rule {
                    do { members = try CohortQuery(CohortDefinition(rule), frame: frame).evaluate(frame) } catch {
                        throw SegmentationError(file: s.id, message: "segment \(seg.id): \(error)")
                    }
                    members.formIntersection(left)
                }
                members.forEach { column[people[$0]] = UInt8(i) }
                members.formComplement()
                left.formIntersection(members)
            }
            return column
        }
    }

    /// The segment id of a person in a segmentation, or nil when unassigned.
    public func label(_ segmentation: Int, _ person: Int) -> String? {
        let s = segment[segmentation][person]
        return s == SegmentAssignments.unassigned ? nil : segmentations[segmentation].segments[Int(s)].id
    }
}
