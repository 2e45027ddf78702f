import Foundation
import Yams

/// A care gap: a cohort definition naming the people who have the gap, for example
/// `condition hypertension and not recorded systolic_bp within 12 months`.
public struct CareGap: Sendable {
    public var id: String
    public var name: String
    public var definition: CohortDefinition

    /// The shipped care gaps file.
    public static var standardFile: URL { Bundle.module.url(forResource: "Library/care-gaps", withExtension: "yaml")! }

    /// The shipped care gaps, or those of another file.
    public static func load(_ url: URL? = nil) throws -> [CareGap] {
        let url = url ?? standardFile
        let file = url.lastPathComponent
        struct File: Decodable {
            var care_gaps: [Entry]
            struct Entry: Decodable {
                var id: String
                var name: String
                var rule: String
            }
        }
        let parsed: File
        do { parsed = try YAMLDecoder().decode(File.self, from: try String(contentsOf: url, encoding: .utf8)) } catch let error
            as DecodingError
        {
            throw CohortError(file, "not a care gaps file: \(error)")
        }
        var seen = Set<String>()
        var gaps: [CareGap] = []
        for entry in parsed.care_gaps {
            guard seen.insert(entry.id).inserted else { throw CohortError(file, "care gap '\(entry.id)' is defined twice") }
            do { gaps.append(CareGap(id: entry.id, name: entry.name, definition: try CohortText.parse(entry.rule))) } catch {
                throw CohortError("\(file), care gap '\(entry.id)', \(error.position)", error.message)
            }
        }
        return gaps
    }
}

/// Where a person on a worklist stands.
public enum WorklistStatus: String, Sendable, Codable, CaseIterable {
    case toContact = "to_contact"
    case contacted, enrolled, declined
    case notAppropriate = "not_appropriate"
}

/// A cohort restricted to one practice, ranked by risk with the reasons and care gaps of each person.
public struct Worklist: Sendable {
    public struct Entry: Sendable {
        public var row: Int
        public var pseudonym: String
        public var rank: Int
        public var age: Int
        public var sex: String
        /// Risk of the ranking outcome, nil where not scored.
        public var risk: Double?
        public var tier: String?
        public var rising: Bool
        /// The top factors behind the risk, in plain words.
        public var reasons: [String]
        /// Ids of the care gaps the person has.
        public var gaps: [String]
    }

    public var practice: Int
    public var outcome: String?
    public var entries: [Entry]

    /// Each care gap's people in a frame, in the gaps' order.
    public static func gapRows(_ frame: PersonFrame, _ gaps: [CareGap]) throws(CohortError) -> [(id: String, rows: Bitset)] {
        var sets: [(id: String, rows: Bitset)] = []
        for gap in gaps {
            do { sets.append((gap.id, try CohortQuery(gap.definition, frame: frame).evaluate(frame))) } catch {
                throw CohortError("care gap '\(gap.id)', \(error.position)", error.message)
            }
        }
        return sets
    }

    /// The cohort's members registered at `practice`, highest risk first (ties by pseudonym).
    ///
    /// - Parameter outcome: the risk to rank by; the frame's first outcome when nil.
    public init(
        _ frame: PersonFrame, cohort: Bitset, practice: Int, gaps: [CareGap], outcome: String? = nil
    ) throws(CohortError) {
        try self.init(frame, cohort: cohort, practice: practice, gapRows: try Worklist.gapRows(frame, gaps), outcome: outcome)
    }

    /// The same, with the care gaps already evaluated on the frame (`gapRows`).
    public init(
        _ frame: PersonFrame, cohort: Bitset, practice: Int, gapRows gapSets: [(id: String, rows: Bitset)],
        outcome: String? = nil
    ) throws(CohortError) {
        self.practice = practice
        let r: Int?
        if let outcome {
            guard let found = frame.risks.firstIndex(where: { $0.outcome == outcome }) else {
                throw CohortError("outcome", "unknown outcome '\(outcome)'")
            }
            r = found
        } else {
            r = frame.risks.isEmpty ? nil : 0
        }
        self.outcome = r.map { frame.risks[$0].outcome }
        var members = Bitset(count: frame.count) { frame.practice[$0] == Int32(practice) }
        members.formIntersection(cohort)
        let rows = members.rows
        func risk(_ row: Int) -> Double? {
            guard let r, !frame.risks[r].risk[row].isNaN else { return nil }
            return Double(frame.risks[r].risk[row])
        }
        let ranked = rows.sorted { a, b in
            let x = risk(a) ?? -1, y = risk(b) ?? -1
            return x != y ? x > y : frame.pseudonym[a] < frame.pseudonym[b]
        }
        entries = ranked.enumerated().map { rank, row in
            let tier = r.flatMap { frame.risks[$0].tier[row] >= 0 ? PersonFrame.tierIds[Int(frame.risks[$0].tier[row])] : nil }
            return Entry(
                row: row, pseudonym: frame.pseudonym[row], rank: rank + 1, age: Int(frame.age[row]),
                sex: frame.sex[row].criterionValue, risk: risk(row), tier: tier,
                rising: r.map { frame.risks[$0].rising[row] } ?? false, reasons: frame.factors(of: row),
                gaps: gapSets.filter { $0.rows.contains(row) }.map(\.id))
        }
    }
}
