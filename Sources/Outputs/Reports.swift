import Foundation

/// The reports of a run: JSON files in its output folder, read back by the pages and the API.
public struct OutputReport<Value: Codable & Sendable>: Sendable {
    public let file: String

    public init(file: String) { self.file = file }

    /// Pretty-printed with sorted keys; a number that is not finite is written as a string.
    public func write(_ value: Value, to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(value).write(to: folder.appendingPathComponent(file))
    }

    public func read(from folder: URL) throws(OutputError) -> Value {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(file)) else {
            throw OutputError.unreadable(file: file, line: 0, reason: "it cannot be read")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(Value.self, from: data) } catch {
            throw OutputError.unreadable(file: file, line: 0, reason: OutputError.describe(error))
        }
    }
}

extension Published {
    public static let run = OutputReport<RunSummary>(file: "run.json")
    public static let reconciliation = OutputReport<ReconciliationReport>(file: "reconciliation.json")
    public static let linkage = OutputReport<LinkageReport>(file: "linkage.json")
    public static let codes = OutputReport<CodeReport>(file: "codes.json")
    public static let models = OutputReport<[ModelSummary]>(file: "models.json")
}

// MARK: reconciliation.json

/// `reconciliation.json`: every file's rows in, accepted and quarantined.
public struct ReconciliationReport: Sendable, Codable {
    public var files: [FileReconciliation]
    public var sourcesPresent: [String]
    public var rowsIn: Int
    public var accepted: Int
    public var quarantined: Int
    /// Records read and deliberately not used (a FHIR export's), absent when there are none.
    public var notRead: Int?
    public var balanced: Bool
    /// The rules rows were quarantined under, with what each means.
    public var rules: [String: String]
    /// The warnings rows were kept under, with what each means.
    public var warnings: [String: String]

    public init(
        files: [FileReconciliation], sourcesPresent: [String], rules: [String: String], warnings: [String: String]
    ) {
        self.files = files
        self.sourcesPresent = sourcesPresent
        rowsIn = files.reduce(0) { $0 + $1.rowsIn }
        accepted = files.reduce(0) { $0 + $1.accepted }
        quarantined = files.reduce(0) { $0 + $1.quarantined }
        let unused = files.reduce(0) { $0 + ($1.notRead?.values.reduce(0, +) ?? 0) }
        notRead = unused > 0 ? unused : nil
        balanced = files.allSatisfy(\.balances)
        self.rules = rules
        self.warnings = warnings
    }
}

/// Counts for one input file: every row read is either accepted or quarantined.
public struct FileReconciliation: Sendable, Codable {
    public var file: String
    public var present: Bool
    public var bytes: Int = 0
    public var rowsIn: Int = 0
    public var accepted: Int = 0
    public var quarantined: Int = 0
    public var quarantinedByRule: [String: Int] = [:]
    /// Rows kept whose identity fields were unusable, by warning.
    public var warnings: [String: Int] = [:]
    /// Records read and deliberately not used, by reason (in a FHIR export: resources coded only
    /// in systems the library does not know, refuted or entered-in-error records); absent for
    /// the contract's CSV files, which have none.
    public var notRead: [String: Int]?
    /// For a file of a FHIR export, the resources accepted as each contract file (Condition,
    /// Observation and Procedure as `gp_events.csv`; an Encounter file's admissions, attendances
    /// and appointments by hospital file), so data quality follows a feed whichever form it takes.
    public var readAs: [String: Int]?
    /// Columns the contract does not name.
    public var extraColumns: [String] = []
    /// Whether those columns were kept (area indicators) rather than ignored.
    public var extraColumnsKept = false
    public var seconds: Double = 0

    public init(file: String, present: Bool) {
        self.file = file
        self.present = present
    }

    /// Rows in equals rows accepted plus rows quarantined plus records not read.
    public var balances: Bool { rowsIn == accepted + quarantined + (notRead?.values.reduce(0, +) ?? 0) }
}

// MARK: linkage.json

/// `linkage.json`: how secondary and community care records were linked to the GP spine.
public struct LinkageReport: Sendable, Codable {
    public struct Spine: Sendable, Codable {
        public var registrations: Int
        public var persons: Int
        public var personsWithoutValidNHSNumber: Int
        public var registeredAtAsOf: Int

        public init(registrations: Int, persons: Int, personsWithoutValidNHSNumber: Int, registeredAtAsOf: Int) {
            self.registrations = registrations
            self.persons = persons
            self.personsWithoutValidNHSNumber = personsWithoutValidNHSNumber
            self.registeredAtAsOf = registeredAtAsOf
        }
    }

    public var spine: Spine
    /// By care file name.
    public var bySource: [String: LinkageCounts]
    public var records: Int
    public var linked: Int
    public var unlinked: Int
    public var linkedShare: Double
    /// The rules, in the order they are tried.
    public var rules: [String]
    /// The match-weight stage's model and what it did, absent when it did not run.
    public var probabilistic: Probabilistic?
    /// Linkage by the records' own age band, deprivation quintile and ethnic group, so
    /// that unequal linkage shows (absent in outputs written before it was reported).
    public var byGroup: [GroupCounts]?

    /// How the records of one group linked. Under suppression, counts of 1 to 7 are null, and
    /// so are cells secondary suppression hides; others are rounded to 5, and the shares are of
    /// the rounded counts.
    public struct GroupCounts: Sendable, Codable, Equatable {
        /// `age_band`, `deprivation_quintile` or `ethnic_group`.
        public var breakdown: String
        public var group: String
        public var records: Int?
        /// Linked by a rule with the NHS number, by a demographic rule, or by match weight.
        public var byNHSNumber: Int?
        public var byDemographics: Int?
        public var byMatchWeight: Int?
        public var unlinked: Int?
        public var unlinkedShare: Double?

        public init(
            breakdown: String, group: String, records: Int?, byNHSNumber: Int?, byDemographics: Int?, byMatchWeight: Int?,
            unlinked: Int?, unlinkedShare: Double?
        ) {
            self.breakdown = breakdown
            self.group = group
            self.records = records
            self.byNHSNumber = byNHSNumber
            self.byDemographics = byDemographics
            self.byMatchWeight = byMatchWeight
            self.unlinked = unlinked
            self.unlinkedShare = unlinkedShare
        }
    }

    /// Fellegi-Sunter linkage of the records the deterministic rules left unlinked.
    public struct Probabilistic: Sendable, Codable, Equatable {
        public struct Level: Sendable, Codable, Equatable {
            public var level: String
            public var m: Double
            public var u: Double
            /// log2(m/u), before any term-frequency adjustment.
            public var weight: Double
            public init(level: String, m: Double, u: Double, weight: Double) {
                self.level = level
                self.m = m
                self.u = u
                self.weight = weight
            }
        }
        public struct Comparison: Sendable, Codable, Equatable {
            public var field: String
            public var levels: [Level]
            public init(field: String, levels: [Level]) {
                self.field = field
                self.levels = levels
            }
        }
        public var threshold: Double
        public var margin: Double
        public var reviewFloor: Double
        /// The prior probability that a record and a person are one: one in the spine's people.
        public var prior: Double
        public var iterations: Int
        public var converged: Bool
        public var estimationRecords: Int
        public var blockedPairs: Int
        public var randomPairs: Int
        /// Records the stage looked at (those the rules left unlinked), linked, and left
        /// uncertain (a best candidate at least `reviewFloor` likely, but not linked).
        public var scored: Int
        public var linked: Int
        public var uncertain: Int
        public var comparisons: [Comparison]
        /// The run and as-of date the model was estimated in: this run's, or an earlier one's
        /// kept in the identity vault (`LinkageState`).
        public var estimatedInRun: Int64?
        public var estimatedAsOf: String?
        /// Records whose earlier decision stood (identity and candidates unchanged), and records
        /// with an earlier decision whose candidates changed, so scored again.
        public var decisionsReused: Int?
        public var evidenceChanged: Int?
        /// Records linked because a reviewer judged them the same person as one candidate, and
        /// undecided record identities put in the review queue.
        public var linkedByReview: Int?
        public var queuedForReview: Int?
        /// Records linked by NHS number, family name and sex whose other fields are at least a
        /// thousand times likelier between two people (queued for review, still linked), and
        /// those a reviewer judged a different person (so scored like the unlinked).
        public var nhsNumberLinksDisputed: Int?
        public var nhsNumberLinksBroken: Int?

        public init(
            threshold: Double, margin: Double, reviewFloor: Double, prior: Double, iterations: Int, converged: Bool,
            estimationRecords: Int, blockedPairs: Int, randomPairs: Int, scored: Int, linked: Int, uncertain: Int,
            comparisons: [Comparison]
        ) {
            self.threshold = threshold
            self.margin = margin
            self.reviewFloor = reviewFloor
            self.prior = prior
            self.iterations = iterations
            self.converged = converged
            self.estimationRecords = estimationRecords
            self.blockedPairs = blockedPairs
            self.randomPairs = randomPairs
            self.scored = scored
            self.linked = linked
            self.uncertain = uncertain
            self.comparisons = comparisons
        }
    }

    public init(spine: Spine, bySource: [String: LinkageCounts], rules: [String], probabilistic: Probabilistic? = nil) {
        self.spine = spine
        self.bySource = bySource
        self.probabilistic = probabilistic
        records = bySource.values.reduce(0) { $0 + $1.records }
        unlinked = bySource.values.reduce(0) { $0 + ($1.byRule[LinkageCounts.unlinked] ?? 0) }
        linked = records - unlinked
        linkedShare = records == 0 ? 1 : Double(linked) / Double(records)
        self.rules = rules
    }
}

/// Counts of linked records for one source file, by rule.
public struct LinkageCounts: Sendable, Codable {
    public var records = 0
    public var byRule: [String: Int] = [:]
    /// Records whose NHS number was on the spine but whose demographics disagreed.
    public var nhsNumberConflicts = 0

    public init() {}

    /// The rule name counting records linked to no one.
    public static let unlinked = "unlinked"

    public var linked: Int { records - (byRule[LinkageCounts.unlinked] ?? 0) }
}

// MARK: codes.json

/// `codes.json`: codes the condition library did not recognise, by code system, and list entries
/// it rejected, so nothing is dropped silently.
public struct CodeReport: Sendable, Codable {
    public var eventsWithCodesInNoList: [String: Int]
    public var distinctCodesInNoList: [String: Int]
    public var rejectedListEntries: [String: [String]]

    public init(
        eventsWithCodesInNoList: [String: Int], distinctCodesInNoList: [String: Int],
        rejectedListEntries: [String: [String]]
    ) {
        self.eventsWithCodesInNoList = eventsWithCodesInNoList
        self.distinctCodesInNoList = distinctCodesInNoList
        self.rejectedListEntries = rejectedListEntries
    }
}

// MARK: models.json

/// `models.json`: the model that scores each outcome (one per outcome, in outcome order), as the
/// pages show it. The models themselves, with their full cards, are in `models/`.
public struct ModelSummary: Sendable, Codable {
    public var outcome: Outcome
    public var outcomeDefinition: String
    /// The algorithm's id (`boosted_trees`, `logistic_regression`, `age_sex_baseline`).
    public var algorithm: String
    /// Features come from history before this date, outcomes from the 12 months after it.
    public var trainingIndex: String
    public var trainingPeople: Int
    /// How the model did on people held out of training.
    public var heldOut: HeldOut

    public struct HeldOut: Sendable, Codable {
        public var people: Int
        /// Nil where a planning output hides it (1 to 7).
        public var events: Int?
        public var auroc: Double
        public var aurocLower: Double
        public var aurocUpper: Double
        public var auprc: Double
        public var brier: Double
        /// Points of the ROC curve: false positive rate, true positive rate.
        public var roc: [[Double]]
        /// Mean predicted risk against observed rate, by decile of predicted risk.
        public var calibration: [Decile]
        /// Observed over expected, calibration-in-the-large and slope, with 95% intervals.
        public var measures: [Measure]

        public init(
            people: Int, events: Int?, auroc: Double, aurocLower: Double, aurocUpper: Double, auprc: Double, brier: Double,
            roc: [[Double]], calibration: [Decile], measures: [Measure]
        ) {
            self.people = people
            self.events = events
            self.auroc = auroc
            self.aurocLower = aurocLower
            self.aurocUpper = aurocUpper
            self.auprc = auprc
            self.brier = brier
            self.roc = roc
            self.calibration = calibration
            self.measures = measures
        }
    }

    public struct Decile: Sendable, Codable {
        public var decile: Int
        /// Nil where a planning output hides it (1 to 7).
        public var people: Int?
        public var expected: Double
        /// Nil where a planning output hides the decile's events (1 to 7).
        public var observed: Double?

        public init(decile: Int, people: Int?, expected: Double, observed: Double?) {
            self.decile = decile
            self.people = people
            self.expected = expected
            self.observed = observed
        }
    }

    public struct Measure: Sendable, Codable {
        public var name: String
        public var value: Double
        public var lower: Double
        public var upper: Double

        public init(name: String, value: Double, lower: Double, upper: Double) {
            self.name = name
            self.value = value
            self.lower = lower
            self.upper = upper
        }
    }

    public init(
        outcome: Outcome, outcomeDefinition: String, algorithm: String, trainingIndex: String, trainingPeople: Int,
        heldOut: HeldOut
    ) {
        self.outcome = outcome
        self.outcomeDefinition = outcomeDefinition
        self.algorithm = algorithm
        self.trainingIndex = trainingIndex
        self.trainingPeople = trainingPeople
        self.heldOut = heldOut
    }
}

// MARK: run.json

/// How the population changed since the previous run that succeeded in the data directory,
/// people matched by pseudonym. Counts are suppressed and rounded as planning outputs are.
public struct RunChanges: Sendable, Codable {
    public var previousRunId: Int64
    public var previousAsOf: String
    /// People in both runs, in this one only, in the previous one only (registered without an opt-out).
    public var matched: Int?
    public var joined: Int?
    public var left: Int?
    public var headlines: [Headline]
    /// Set when few people matched: pseudonyms differ when the key changed.
    public var warning: String?

    /// A headline share in both runs, and the difference with a 95% interval (Newcombe's
    /// hybrid score method).
    public struct Headline: Sendable, Codable {
        public var name: String
        public var previous: Double?
        public var current: Double?
        public var difference: Double?
        public var lower95: Double?
        public var upper95: Double?

        public init(name: String, previous: Double?, current: Double?, difference: Double?, lower95: Double?, upper95: Double?) {
            self.name = name
            self.previous = previous
            self.current = current
            self.difference = difference
            self.lower95 = lower95
            self.upper95 = upper95
        }
    }

    public init(
        previousRunId: Int64, previousAsOf: String, matched: Int?, joined: Int?, left: Int?, headlines: [Headline],
        warning: String?
    ) {
        self.previousRunId = previousRunId
        self.previousAsOf = previousAsOf
        self.matched = matched
        self.joined = joined
        self.left = left
        self.headlines = headlines
        self.warning = warning
    }
}

/// The headline figures of a run, printed at the end and kept in the store.
public struct RunSummary: Sendable, Codable {
    public var runId: Int64
    public var asOf: String
    public var spinePersons: Int
    public var registeredPeople: Int
    /// Registered people without a National Data Opt-out: those planning outputs count.
    public var planningPeople: Int
    public var rowsIn: Int
    public var rowsAccepted: Int
    public var rowsQuarantined: Int
    public var reconciliationBalanced: Bool
    public var careRecords: Int
    public var careRecordsLinked: Int
    public var sourcesPresent: [String]
    public var bytesRead: Int
    /// Seconds spent in each stage, in order.
    public var stages: [Stage]
    public var outputFolder: String
    /// Which model scores each outcome, and why (nil in runs saved before models were chosen).
    public var riskChoices: [RiskChoice]?
    /// The run's data quality figures and the gates checked (nil in runs saved before them).
    public var quality: QualityReport?
    public var gates: [GateOutcome]?
    /// How the population changed since the previous run (nil for a data directory's first).
    public var changes: RunChanges?
    /// Whether the planning outputs were published under disclosure control (false for
    /// `--no-suppress`; nil in runs saved before this was recorded). The web app serves only true.
    public var suppressed: Bool?

    /// Which model scores an outcome's risks, and why; a warning when the platform fell back
    /// from the model it would have used, or scores no one.
    public struct RiskChoice: Sendable, Codable, Equatable {
        public var outcome: String
        /// The algorithm that scores people, nil when none does.
        public var model: String?
        public var reason: String
        public var warning: Bool

        public init(outcome: String, model: String?, reason: String, warning: Bool) {
            self.outcome = outcome
            self.model = model
            self.reason = reason
            self.warning = warning
        }
    }

    public struct Stage: Sendable, Codable {
        public var name: String
        public var seconds: Double

        public init(name: String, seconds: Double) {
            self.name = name
            self.seconds = seconds
        }
    }

    public init(
        runId: Int64, asOf: String, spinePersons: Int, registeredPeople: Int, planningPeople: Int, rowsIn: Int,
        rowsAccepted: Int, rowsQuarantined: Int, reconciliationBalanced: Bool, careRecords: Int, careRecordsLinked: Int,
        sourcesPresent: [String], bytesRead: Int, stages: [Stage], outputFolder: String, riskChoices: [RiskChoice]? = nil
    ) {
        self.riskChoices = riskChoices
        self.runId = runId
        self.asOf = asOf
        self.spinePersons = spinePersons
        self.registeredPeople = registeredPeople
        self.planningPeople = planningPeople
        self.rowsIn = rowsIn
        self.rowsAccepted = rowsAccepted
        self.rowsQuarantined = rowsQuarantined
        self.reconciliationBalanced = reconciliationBalanced
        self.careRecords = careRecords
        self.careRecordsLinked = careRecordsLinked
        self.sourcesPresent = sourcesPresent
        self.bytesRead = bytesRead
        self.stages = stages
        self.outputFolder = outputFolder
    }

    public var totalSeconds: Double { stages.reduce(0) { $0 + $1.seconds } }
    public var ingestMegabytesPerSecond: Double {
        let ingest = stages.first { $0.name == "ingest" }?.seconds ?? 0
        return ingest > 0 ? Double(bytesRead) / 1e6 / ingest : 0
    }
}
