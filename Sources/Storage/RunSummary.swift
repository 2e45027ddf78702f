import Foundation

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
