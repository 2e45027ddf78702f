import Cohorts
import Evaluation
import Foundation
import Governance
import PHMCore
import Service
import Storage

/// The JSON API's bodies as types: what each route reads and writes. `openapi.json` describes
/// the same shapes, and a test checks every example below against it, so the two cannot drift.
/// Property names become snake_case keys (`asOf` is `as_of`).
package enum API {
    // MARK: requests

    struct SignIn: Decodable {
        var user: String
        var password: String
        var purpose: String
    }

    /// A cohort definition as cohort text, or as the JSON form (an object).
    enum Definition: Decodable {
        case text(String)
        case json(JSONValue)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) {
                self = .text(text)
            } else {
                self = .json(try c.decode(JSONValue.self))
            }
        }

        func parsed() throws(CohortError) -> CohortDefinition {
            switch self {
            case .text(let text): try Session.definition(text)
            case .json(let value): try CohortJSON.definition(value)
            }
        }
    }

    struct ProfileQuery: Decodable {
        var definition: Definition
    }

    /// An evaluation definition in its YAML form (`docs/evaluation.md`).
    struct Evaluate: Decodable {
        var definition: String
    }

    struct SaveCohort: Decodable {
        var name: String
        var definition: Definition
        var description: String?
    }

    struct OpenWorklist: Decodable {
        var cohort: String
        var reason: String
        @WholeNumber var offset: Int?
        @WholeNumber var limit: Int?
        @WholeNumber var version: Int?
    }

    struct SetStatus: Decodable {
        var cohort: String
        var pseudonym: String
        var status: String
        var note: String?
        @WholeNumber var version: Int?
    }

    // MARK: responses

    struct Failure: Encodable {
        var error: String
    }

    struct Health: Encodable {
        var status: String
        var run: Int
    }

    struct SessionStarted: Encodable {
        var token: String
        var csrf: String
        var role: String
        var purpose: String
        var idleExpirySeconds: Int
    }

    struct Unit: Encodable {
        var level: String
        var code: String
        var name: String
        @Null var parent: String?
    }

    struct Units: Encodable {
        var run: Int
        var units: [Unit]
    }

    /// A table cell: numbers as numbers, text as text, suppressed or empty cells as null.
    enum Cell: Encodable, Equatable {
        case number(Double)
        case text(String)
        case empty

        init(_ field: String, _ format: Format) {
            if field.isEmpty {
                self = .empty
            } else if format != .text, let x = Double(field) {
                self = x.isFinite ? .number(x) : .empty
            } else {
                self = .text(field)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .number(let x): try c.encode(x)
            case .text(let s): try c.encode(s)
            case .empty: try c.encodeNil()
            }
        }
    }

    struct PagePanel: Encodable {
        var id: String
        var title: String
        var note: String
        var columns: [String]
        var rows: [[Cell]]
    }

    struct Page: Encodable {
        var page: String
        var title: String
        var run: Int
        var asOf: String
        var unit: Unit
        var path: [Unit]
        var children: [Unit]
        var indicator: String
        var indicators: [String]
        var measure: String
        var measures: [String]
        var panels: [PagePanel]
    }

    struct Cohort: Encodable {
        var name: String
        var version: Int
        var definition: String
        var description: String
        var savedBy: String
        var savedAt: String
    }

    struct Cohorts: Encodable {
        var cohorts: [Cohort]
    }

    struct Profile: Encodable {
        struct Group: Encodable {
            var breakdown: String
            var group: String
            @Null var cohort: Int?
            @Null var population: Int?
        }

        struct Measure: Encodable {
            var measure: String
            @Null var cohort: Double?
            @Null var population: Double?
            @Null var cappedTo: [Double]?
        }

        var run: Int
        var asOf: String
        var suppressed: Bool
        @Null var size: Int?
        @Null var population: Int?
        var groups: [Group]
        var measures: [Measure]
    }

    package struct Worklist: Encodable {
        struct Entry: Encodable {
            var rank: Int
            var pseudonym: String
            @Null var givenName: String?
            @Null var familyName: String?
            @Null var nhsNumber: String?
            @Null var dateOfBirth: String?
            var age: Int
            @Null var risk: Double?
            @Null var tier: String?
            var rising: Bool
            var reasons: [String]
            var gaps: [String]
            var status: String
            var note: String
            /// On the list now, not when this user last looked at it.
            var newSinceLastLook = false
        }

        var cohort: String
        var version: Int
        var practice: String
        var total: Int
        var offset: Int
        @Null var outcome: String?
        @Null var rankedBy: String?
        var entries: [Entry]
        /// Care gaps this run cannot check, with why.
        var uncheckedGaps: [UncheckedGap]
        /// What changed since this user last looked, on an earlier run; null the first time.
        @Null var sinceLastLook: SinceLastLook? = nil

        struct SinceLastLook: Encodable {
            var run: Int64
            var asOf: String
            var entered: Int
            var left: Int
        }

        struct UncheckedGap: Encodable {
            var id: String
            var reason: String
        }
    }

    /// An evaluation's result: diagnostics first, then effects (`EvaluationResult`).
    package struct Evaluation: Encodable {
        struct Step: Encodable {
            var step: String
            @Null var people: Int?
        }
        struct IndexMonth: Encodable {
            var month: String
            @Null var treated: Int?
        }
        struct Interval: Encodable {
            @Null var estimate: Double?
            @Null var low: Double?
            @Null var high: Double?
        }
        struct Effect: Encodable {
            var outcome: String
            var description: String
            var negativeControl: Bool
            @Null var treatedPre: Double?
            @Null var treatedPost: Double?
            @Null var controlsPre: Double?
            @Null var controlsPost: Double?
            var relative: Interval
            var absolute: Interval
            var naiveRelative: Interval
            var naiveAbsolute: Interval
        }
        struct EventMonth: Encodable {
            var outcome: String
            var month: Int
            var difference: Interval
        }
        struct Balance: Encodable {
            var covariate: String
            var description: String
            var treatedBefore: Double
            var controlsBefore: Double
            var smdBefore: Double
            var treatedAfter: Double
            var controlsAfter: Double
            var smdAfter: Double
            var fails: Bool
        }
        struct Synthetic: Encodable {
            struct Weight: Encodable {
                var practice: String
                var weight: Double
            }
            struct Month: Encodable {
                var month: Int
                var place: Double
                var synthetic: Double
            }
            var outcome: String
            var description: String
            var weights: [Weight]
            var donors: Int
            var preRmspe: Double
            var postRmspe: Double
            var effect: Double
            @Null var relative: Double?
            var pValue: Double
            var months: [Month]
        }
        struct Overlap: Encodable {
            var treated: [Double]
            var controls: [Double]
            var equipoiseTreated: Double
            var equipoiseControls: Double
        }

        var name: String
        var run: Int64
        var asOf: String
        var planning: Bool
        var balanced: Bool
        var balanceLimit: Double
        var preMonths: Int
        var postMonths: Int
        var intervalMethod: String
        var steps: [Step]
        var indexMonths: [IndexMonth]
        var effects: [Effect]
        var eventStudy: [EventMonth]
        var balance: [Balance]
        var overlap: Overlap
        var syntheticControl: [Synthetic]
        @Null var syntheticControlNote: String?
        var warnings: [String]
    }

    struct Saved: Encodable {
        var saved: Bool
    }

    struct Audit: Encodable {
        struct Entry: Encodable {
            var sequence: Int
            var at: String
            var user: String
            var role: String
            var purpose: String
            var action: String
            var outcome: String
            var detail: String
            var hash: String
        }

        var intact: Bool
        var verification: String
        var whole: Bool
        var wholeLogCheckedAt: String
        var checked: Int
        var entries: [Entry]
    }
}

/// An optional that a JSON body always shows, as null when absent (synthesised encoding would
/// leave the key out, and clients read a missing key and a null differently).
@propertyWrapper
struct Null<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value = wrappedValue { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension Null: Sendable where Value: Sendable {}

/// A whole number in a request body however JSON writes it (`2`, `2.0`), or absent or null.
/// Anything else is refused naming the field (the decoder's own error for `2.5` names none).
@propertyWrapper
struct WholeNumber: Decodable, Sendable {
    var wrappedValue: Int?

    init(wrappedValue: Int?) { self.wrappedValue = wrappedValue }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { return }
        let wrong = DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: ""))
        guard let x = try? c.decode(Double.self), let n = Int(exactly: x) else { throw wrong }
        wrappedValue = n
    }
}

extension KeyedDecodingContainer {
    /// A missing whole number is nil, as a missing optional is.
    func decode(_ type: WholeNumber.Type, forKey key: Key) throws -> WholeNumber {
        try decodeIfPresent(type, forKey: key) ?? WholeNumber(wrappedValue: nil)
    }
}

extension API.Page {
    /// A page's panels: each table's columns and rows, numbers as numbers and suppressed cells null.
    init(_ dashboard: Dashboard, _ p: Publication, _ q: PageQuery, panels: [Panel]) {
        page = dashboard.rawValue
        title = dashboard.title
        run = Int(p.runId)
        asOf = p.asOf.description
        unit = API.Unit(q.unit)
        path = p.path(to: q.unit.code).map(API.Unit.init)
        children = p.children(of: q.unit.code).map(API.Unit.init)
        indicator = q.indicator
        indicators = dashboard.indicators(p)
        measure = q.measure
        measures = dashboard.measures(p)
        self.panels = panels.map { panel in
            let formats = panel.table.columns.map(Format.of(column:))
            return API.PagePanel(
                id: panel.id, title: panel.title, note: panel.note, columns: panel.table.columns,
                rows: panel.table.rows.map { row in row.indices.map { API.Cell(row[$0], formats[$0]) } })
        }
    }
}

extension API.Unit {
    init(_ u: PublishedUnit) {
        level = u.level.rawValue
        code = u.code
        name = u.name
        parent = u.parent
    }
}

extension API.Cohort {
    init(_ c: CohortRecord) {
        name = c.name
        version = c.version
        definition = c.text
        description = c.description
        savedBy = c.savedBy
        savedAt = ISO8601DateFormatter().string(from: c.savedAt)
    }
}

extension API.Profile {
    /// A cohort result, suppressed as the session's purpose requires.
    init(_ result: CohortResult) {
        let p = result.published()
        func number(_ x: Double) -> Double? { x.isFinite ? x : nil }
        run = Int(result.runId)
        asOf = result.asOf.description
        suppressed = result.suppressed
        size = p.size
        population = p.populationSize
        groups = p.groups.map {
            Group(breakdown: $0.group.breakdown, group: $0.group.group, cohort: $0.cohort, population: $0.population)
        }
        measures = p.measures.map {
            Measure(
                measure: $0.measure, cohort: number($0.cohort), population: number($0.population),
                cappedTo: $0.cap.map { [$0.lowerBound, $0.upperBound] })
        }
    }
}

extension API.Worklist {
    init(_ list: PracticeWorklist) {
        cohort = list.cohort.name
        version = list.cohort.version
        practice = list.practiceCode
        total = list.total
        offset = list.offset
        outcome = list.outcome
        rankedBy = list.rankedBy
        entries = list.entries.map { e in
            Entry(
                rank: e.entry.rank, pseudonym: e.entry.pseudonym, givenName: e.identity?.givenName,
                familyName: e.identity?.familyName, nhsNumber: e.identity?.nhsNumber,
                dateOfBirth: e.identity?.dateOfBirth, age: e.entry.age, risk: e.entry.risk.flatMap { $0.isFinite ? $0 : nil },
                tier: e.entry.tier, rising: e.entry.rising, reasons: e.entry.reasons, gaps: e.entry.gaps,
                status: e.status.rawValue, note: e.latest?.note ?? "", newSinceLastLook: e.isNew)
        }
        uncheckedGaps = list.uncheckedGaps.map { UncheckedGap(id: $0.id, reason: $0.reason) }
        sinceLastLook = list.since.map {
            SinceLastLook(run: $0.runId, asOf: $0.asOf.description, entered: $0.entered.count, left: $0.left)
        }
    }
}

extension API.Audit.Entry {
    init(_ e: AuditEntry) {
        sequence = Int(e.sequence)
        at = e.at
        user = e.user
        role = e.role
        purpose = e.purpose
        action = e.action
        outcome = e.outcome
        detail = e.detail
        hash = e.hash
    }
}

extension API.Worklist {
    /// A page of `people` entries shaped like a practice's worklist, every field filled: the
    /// API's largest body, for the JSON benchmark (`phm-bench --json-only`).
    package static func sample(people: Int) -> API.Worklist {
        API.Worklist(
            cohort: "older people at risk", version: 1, practice: "A81001", total: 650, offset: 0,
            outcome: "emergency_admission_12m", rankedBy: "boosted trees",
            entries: (0..<people).map { i in
                Entry(
                    rank: i + 1, pseudonym: String(repeating: "3f9a", count: 16), givenName: "Alice", familyName: "Smith",
                    nhsNumber: "9434765919", dateOfBirth: "1950-01-01", age: 76, risk: 0.3141 + Double(i) / 1000, tier: "high",
                    rising: i % 2 == 0, reasons: ["age 76", "emergency admissions, last 12 months: 3", "heart failure"],
                    gaps: ["bp_check"], status: "to_contact", note: "")
            }, uncheckedGaps: [])
    }
}

extension API.Evaluation {
    init(_ r: EvaluationResult) {
        func interval(_ i: EvaluationResult.Interval) -> Interval { Interval(estimate: i.estimate, low: i.low, high: i.high) }
        name = r.name
        run = r.runId
        asOf = r.asOf
        planning = r.planning
        balanced = r.balanced
        balanceLimit = r.balanceLimit
        preMonths = r.options.preMonths
        postMonths = r.options.postMonths
        intervalMethod = EvaluationResult.intervalMethod
        steps = r.steps.map { Step(step: $0.step, people: $0.people) }
        indexMonths = r.indexMonths.map { IndexMonth(month: $0.month, treated: $0.treated) }
        effects = r.effects.map { e in
            Effect(
                outcome: e.outcome, description: e.description, negativeControl: e.negativeControl, treatedPre: e.treatedPre,
                treatedPost: e.treatedPost, controlsPre: e.controlsPre, controlsPost: e.controlsPost,
                relative: interval(e.relative), absolute: interval(e.absolute), naiveRelative: interval(e.naiveRelative),
                naiveAbsolute: interval(e.naiveAbsolute))
        }
        eventStudy = r.eventStudy.map { EventMonth(outcome: $0.outcome, month: $0.month, difference: interval($0.difference)) }
        balance = r.balance.map { b in
            Balance(
                covariate: b.covariate, description: b.description, treatedBefore: b.treatedBefore,
                controlsBefore: b.controlsBefore, smdBefore: b.smdBefore, treatedAfter: b.treatedAfter,
                controlsAfter: b.controlsAfter, smdAfter: b.smdAfter, fails: b.fails)
        }
        overlap = Overlap(
            treated: r.overlap.treated, controls: r.overlap.controls, equipoiseTreated: r.overlap.equipoiseTreated,
            equipoiseControls: r.overlap.equipoiseControls)
        syntheticControl = r.syntheticControl.map { c in
            Synthetic(
                outcome: c.outcome, description: c.description,
                weights: c.weights.map { Synthetic.Weight(practice: $0.practice, weight: $0.weight) }, donors: c.donors,
                preRmspe: c.preRMSPE, postRmspe: c.postRMSPE, effect: c.effect, relative: c.relative, pValue: c.pValue,
                months: c.months.map { Synthetic.Month(month: $0.month, place: $0.place, synthetic: $0.synthetic) })
        }
        syntheticControlNote = r.syntheticControlNote
        warnings = r.warnings
    }
}
