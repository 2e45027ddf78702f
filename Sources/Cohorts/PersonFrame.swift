import PHMCore

/// Everyone registered at a run's as-of date, as the columns cohorts, profiles and worklists read.
///
/// Built once at the end of a run and saved in the data directory (`FrameFile`), so cohorts are
/// answered in milliseconds without repeating the run. Person columns are indexed by frame row;
/// facts most people lack (conditions, code-list history) are held list by list, each list the
/// sorted rows of the people who have it, so a criterion touches only those people.
public struct PersonFrame: Sendable {
    public var runId: Int64
    public var asOf: Day
    public var hierarchy: Hierarchy
    /// LSOA codes; `area` indexes them.
    public var areaCodes: [String]
    /// The area indicators of `areas.csv` by name, and each one's value by area (NaN where not given).
    public var areaIndicatorNames: [String] = []
    public var areaIndicators: [[Float]] = []

    public var pseudonym: [String] = []
    public var age: [Int16] = []
    public var sex: [Sex] = []
    public var ethnicGroup: [EthnicGroup] = []
    /// Index into `hierarchy.practices`.
    public var practice: [Int32] = []
    /// Index into `areaCodes`, -1 where unknown.
    public var area: [Int32] = []
    /// IMD decile of the person's area, 1 = most deprived; 0 where unknown.
    public var imdDecile: [UInt8] = []
    public var optedOut: [Bool] = []
    public var ltcCount: [UInt8] = []

    /// Conditions: ids, names and, for each, the rows having it with the date first recorded.
    public var conditionIds: [String] = []
    public var conditionNames: [String] = []
    public var conditions: [Postings] = [] {
        didSet { conditionsByRow = nil }
    }
    /// The same facts row by row (each row's conditions, ascending), so a tally by condition
    /// reads only its own people's. Built by `indexConditions()` once the postings are complete.
    public private(set) var conditionsByRow: RowIndex?

    /// Scores (Cambridge Multimorbidity, Charlson, eFI...) by score, then row.
    public var scoreIds: [String] = []
    public var scores: [[Double]] = []

    /// Code lists: for each, the rows with a code recorded before as-of, when last recorded and
    /// the latest value recorded with it.
    public var listIds: [String] = []
    public var lists: [ListPostings] = []

    /// Use and cost of care in the 12 months before as-of, by measure, then row.
    public var use: [UseMeasure: [Float]] = [:]

    /// Risk models' outputs, one per outcome.
    public var risks: [RiskColumn] = []
    /// The top factors behind each row's first outcome's risk: up to `factorsPerPerson` indices
    /// into `factorTexts` per row, `UInt16.max` where none.
    public var factorTexts: [String] = []
    public var factors: [UInt16] = []
    public static let factorsPerPerson = 3

    public var segmentations: [SegmentColumn] = []

    /// Each row's secret record key for cell-key perturbation (0 to 255), set when a platform
    /// opens the frame; never saved with it. Empty when not set.
    public var recordKeys: [UInt8] = []
    /// The cap on each profile measure (`CohortProfile.caps`), set with the record keys.
    public var measureCaps: [String: ClosedRange<Double>] = [:]
    /// The profile measures row by row (`CohortProfile.MeasureRows`), set with the record keys.
    public var measureRows: CohortProfile.MeasureRows?

    public init(runId: Int64, asOf: Day, hierarchy: Hierarchy, areaCodes: [String]) {
        self.runId = runId
        self.asOf = asOf
        self.hierarchy = hierarchy
        self.areaCodes = areaCodes
    }

    public var count: Int { pseudonym.count }

    /// Builds `conditionsByRow` from `conditions`, whose rows must lie within the frame.
    public mutating func indexConditions() { conditionsByRow = RowIndex(conditions, count: count) }

    /// Items per row: those of row `r` are `items[start[r]..<start[r + 1]]`.
    public struct RowIndex: Sendable, Equatable {
        public var start: [Int32]
        public var items: [Int32]

        /// Each row's lists among `postings` (the transpose), ascending.
        ///
        /// - Complexity: two passes over the postings, O(rows + postings).
        public init(_ postings: [Postings], count: Int) {
            start = [Int32](repeating: 0, count: count + 1)
            for list in postings { for row in list.rows { start[Int(row) + 1] += 1 } }
            for row in 0..<count { start[row + 1] += start[row] }
            var next = start
            items = [Int32](repeating: 0, count: Int(start[count]))
            for (i, list) in postings.enumerated() {
                for row in list.rows {
                    items[Int(next[Int(row)])] = Int32(i)
                    next[Int(row)] += 1
                }
            }
        }
    }

    /// Rows (ascending) with a fact, and the day it dates from.
    public struct Postings: Sendable, Equatable {
        public var rows: [Int32] = []
        public var day: [Day] = []
        public init() {}
    }

    public struct ListPostings: Sendable, Equatable {
        public var rows: [Int32] = []
        public var lastRecorded: [Day] = []
        /// NaN where no value was recorded with a code of the list.
        public var latestValue: [Float] = []
        public var latestValueDay: [Day] = []
        public init() {}
    }

    public struct RiskColumn: Sendable {
        public var outcome: String
        public var name: String
        /// NaN where not scored.
        public var risk: [Float]
        /// Index into `tierIds`, -1 where not scored.
        public var tier: [Int8]
        public var rising: [Bool]
        /// The model that scored the risks, in words ("gradient-boosted trees (histogram method)").
        public var model: String
        public init(outcome: String, name: String, model: String = "", risk: [Float], tier: [Int8], rising: [Bool]) {
            self.outcome = outcome
            self.name = name
            self.model = model
            self.risk = risk
            self.tier = tier
            self.rising = rising
        }
    }

    /// Tiers from lowest to highest, as criteria and outputs name them.
    public static let tierIds = ["low", "moderate", "high", "very_high"]
    /// A person's state in a run compared with another: a tier, not scored, or outside the unit.
    public static let transitionStates = tierIds + ["not_scored", "outside"]

    public struct SegmentColumn: Sendable {
        public var id: String
        public var name: String
        public var segmentIds: [String]
        public var segmentNames: [String]
        /// Index into `segmentIds`, `UInt8.max` where unassigned.
        public var segment: [UInt8]
        public init(id: String, name: String, segmentIds: [String], segmentNames: [String], segment: [UInt8]) {
            self.id = id
            self.name = name
            self.segmentIds = segmentIds
            self.segmentNames = segmentNames
            self.segment = segment
        }
    }

    /// The top factors of a row, in order.
    public func factors(of row: Int) -> [String] {
        let base = row * Self.factorsPerPerson
        return factors[base..<base + Self.factorsPerPerson].filter { $0 != .max }.map { factorTexts[Int($0)] }
    }
}

/// Use and cost of care in the 12 months before as-of.
public enum UseMeasure: String, Sendable, CaseIterable, Codable {
    case aeAttendances = "ae_attendances"
    case outpatientAttendances = "outpatient_attendances"
    case electiveAdmissions = "elective_admissions"
    case emergencyAdmissions = "emergency_admissions"
    case prescriptionTypes = "prescription_types"
    /// Total cost of care in GBP, every setting.
    case cost
    case emergencyCost = "emergency_cost"
    /// Contacts in each setting of `care_contacts.csv`.
    case communityContacts = "community_contacts", mentalHealthContacts = "mental_health_contacts"
    case socialCareContacts = "social_care_contacts", ambulanceContacts = "ambulance_contacts"
    case otherCareContacts = "other_care_contacts"

    /// The contact measures, in the order of `CareSetting.careContactSettings`.
    public static let careContacts: [UseMeasure] = [
        .communityContacts, .mentalHealthContacts, .socialCareContacts, .ambulanceContacts, .otherCareContacts,
    ]
}
