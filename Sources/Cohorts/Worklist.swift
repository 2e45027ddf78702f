import Conditions
import Foundation

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
        let text = try String(contentsOf: url, encoding: .utf8)
        do { parsed = try YAMLInput.decode(File.self, from: text) } catch let error as DecodingError {
            throw CohortError(file, "not a care gaps file: \(error)")
        } catch let error as YAMLInputError {
            throw CohortError(file, "\(error)")
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

/// Each care gap's people in a run's frame, and the care gaps the run cannot check.
public struct CareGapRows: Sendable {
    /// The gaps checked, in the gaps' order, with the frame rows of the people who have each.
    public var checked: [(id: String, rows: Bitset)]
    /// The gaps not checked, with why: each asks about the risk of an outcome that no model scores
    /// in this run (the run fell back and ranks no one on it).
    public var unchecked: [(id: String, reason: String)]
}

/// Where a person on a worklist stands.
public enum WorklistStatus: String, Sendable, Codable, CaseIterable {
    case toContact = "to_contact"
    case contacted, enrolled, declined
    case notAppropriate = "not_appropriate"
}

/// A cohort restricted to one practice, ranked by risk. The ranking is found from the frame
/// alone; each person's entry (reasons and care gaps) is built only when asked for, so a page of
/// a long list costs the page, not the list.
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
    /// The outcome and model whose risks rank the list, in words; nil when nothing ranks it.
    public var rankedBy: String?
    /// The members' rows in the frame, highest risk first (ties by pseudonym).
    public var ranking: [Int]
    let frame: PersonFrame
    let gapSets: [(id: String, rows: Bitset)]
    /// The care gaps this run cannot check, with why.
    public let uncheckedGaps: [(id: String, reason: String)]
    /// The index of the ranking outcome in `frame.risks`.
    let risks: Int?

    public var count: Int { ranking.count }

    public func contains(pseudonym: String) -> Bool { ranking.contains { frame.pseudonym[$0] == pseudonym } }

    /// The entries of the ranks in `ranks` (0 is the highest risk), clamped to the list.
    public func entries(_ ranks: Range<Int>) -> [Entry] {
        ranks.clamped(to: 0..<count).map { rank in
            let row = ranking[rank]
            let tier = risks.flatMap {
                frame.risks[$0].tier[row] >= 0 ? PersonFrame.tierIds[Int(frame.risks[$0].tier[row])] : nil
            }
            return Entry(
                row: row, pseudonym: frame.pseudonym[row], rank: rank + 1, age: Int(frame.age[row]),
                sex: frame.sex[row].criterionValue, risk: Self.risk(frame, risks, row), tier: tier,
                rising: risks.map { frame.risks[$0].rising[row] } ?? false, reasons: frame.factors(of: row),
                gaps: gapSets.filter { $0.rows.contains(row) }.map(\.id))
        }
    }

    /// A person's risk of outcome `risks`, nil where not scored.
    static func risk(_ frame: PersonFrame, _ risks: Int?, _ row: Int) -> Double? {
        guard let risks, !frame.risks[risks].risk[row].isNaN else { return nil }
        return Double(frame.risks[risks].risk[row])
    }

    /// Each care gap's people in a frame, in the gaps' order. A gap that asks about an outcome the
    /// frame has no risk for is left unchecked and says so, rather than failing every worklist.
    public static func gapRows(_ frame: PersonFrame, _ gaps: [CareGap]) throws(CohortError) -> CareGapRows {
        let scored = Set(frame.risks.map(\.outcome))
        var rows = CareGapRows(checked: [], unchecked: [])
        for gap in gaps {
            if let outcome = gap.definition.expression.outcomes.subtracting(scored).sorted().first {
                rows.unchecked.append((gap.id, "no model scores the risk of '\(outcome)' in this run"))
                continue
            }
            do { rows.checked.append((gap.id, try CohortQuery(gap.definition, frame: frame).evaluate(frame))) } catch {
                throw CohortError("care gap '\(gap.id)', \(error.position)", error.message)
            }
        }
        return rows
    }

    /// The cohort's members registered at `practice`, highest risk first (ties by pseudonym),
    /// with the care gaps evaluated on the frame (`gapRows`).
    ///
    /// - Parameter outcome: the risk to rank by; the frame's first outcome when nil.
    public init(
        _ frame: PersonFrame, cohort: Bitset, practice: Int, gapRows: CareGapRows, outcome: String? = nil
    ) throws(CohortError) {
        var index: Int? = frame.risks.isEmpty ? nil : 0
        if let outcome {
            guard let found = frame.risks.firstIndex(where: { $0.outcome == outcome }) else {
                throw CohortError("outcome", "unknown outcome '\(outcome)'")
            }
            index = found
        }
        risks = index
        self.practice = practice
        self.outcome = index.map { frame.risks[$0].outcome }
        rankedBy = index.map { i in
            let risk = frame.risks[i]
            return "risk of \(risk.name)" + (risk.model.isEmpty ? "" : ", from \(risk.model)")
        }
        self.frame = frame
        gapSets = gapRows.checked
        uncheckedGaps = gapRows.unchecked
        var members = Bitset(count: frame.count) { frame.practice[$0] == Int32(practice) }
        members.formIntersection(cohort)
        let keyed = members.rows.map { (row: $0, risk: Self.risk(frame, index, $0) ?? -1) }
        ranking = keyed.sorted { a, b in
            a.risk != b.risk ? a.risk > b.risk : frame.pseudonym[a.row] < frame.pseudonym[b.row]
        }.map(\.row)
    }
}
