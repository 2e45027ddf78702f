import ArrowIPC
import Ingest
import PHMCore
import SparkConnect

/// Each person's use and cost of care in a window, as `Utilisation` counts it, computed on Spark
/// from the views `SparkIngest` and `SparkLinkage` leave: the per-person facts that come back to
/// the platform instead of the events. Care records count for the person the deterministic rules
/// linked them to; prescriptions for the person of their registration.
public struct SparkUtilisation: Sendable {
    public let window: DayWindow

    public init(window: DayWindow) {
        self.window = window
    }

    /// One row per person of the spine with any use in the window, keyed as the `spine` view keys
    /// them (`n` and the NHS number, or `p` and the patient id).
    public struct Facts: Sendable {
        public var person: [String] = []
        public var aeAttendances: [Int64] = []
        public var outpatientAttendances: [Int64] = []
        public var electiveAdmissions: [Int64] = []
        public var emergencyAdmissions: [Int64] = []
        public var apcCost: [Double] = []
        public var emergencyCost: [Double] = []
        public var prescriptionTypes: [Int64] = []
        /// By `CareSetting.rawValue`, then by row.
        public var costBySetting: [[Double]] = []
        /// By `CareSetting.careContactSettings`, then by row.
        public var careContacts: [[Int64]] = []
    }

    public func facts(_ spark: SparkSession.Connection, present: Set<String>) async throws -> Facts {
        let c = FileChecks.column
        // Linked care records as linkage left them, with prescriptions by their registration's person.
        var activity: [String] = []
        if !present.isDisjoint(with: SparkLinkage.careFiles.map(\.name)) {
            activity.append("SELECT person, day, cost, setting, kind FROM linked WHERE person IS NOT NULL")
        }
        if present.contains(InputContract.prescriptions.name) {
            // Distinct codes as the reader interns BNF and dm+d codes: by system and code as written.
            activity.append(
                """
                SELECT r.person, a.\(c("issue_date")) AS day, CAST(CAST(try_cast(IF(a.\(c("cost")) = '', '0', a.\(c("cost"))) AS DOUBLE) AS FLOAT) AS DOUBLE) AS cost,
                       'prescribing' AS setting, concat(a.\(c("code_system")), ':', a.\(c("code"))) AS kind
                FROM accepted_prescriptions a JOIN registrations_keyed r ON r.patient_id = a.\(c("patient_id"))
                """)
        }
        guard !activity.isEmpty else { return Facts() }
        try await spark.createView("activity", query: activity.joined(separator: " UNION ALL "))
        // Settings by their output names: `apc` for admitted care, the care contact settings as the file writes them.
        let settings = CareSetting.allCases
        let costs = settings.map { "sum(IF(setting = '\($0.name)', cost, 0)) AS cost_\($0.rawValue)" }
        let contacts = CareSetting.careContactSettings.map {
            "count_if(kind = 'contact' AND setting = '\($0.name)') AS contacts_\($0.rawValue)"
        }
        let table = try await spark.query(
            """
            SELECT person, count_if(kind = 'ae') AS ae, count_if(kind = 'attended') AS outpatient,
                   count_if(kind = 'elective') AS elective, count_if(kind = 'emergency') AS emergency,
                   sum(IF(setting = 'apc', cost, 0)) AS apc_cost, sum(IF(kind = 'emergency', cost, 0)) AS emergency_cost,
                   count(DISTINCT IF(setting = 'prescribing', kind, NULL)) AS prescription_types,
                   \((costs + contacts).joined(separator: ", "))
            FROM activity WHERE day >= :start AND day < :end GROUP BY person ORDER BY person
            """, ["start": .string(window.start.description), "end": .string(window.end.description)])
        // Counts and sums of at least one row each: never missing.
        let integers = table.integers, doubles = table.doubles
        var facts = Facts()
        facts.person = try table.strings("person")
        facts.aeAttendances = try integers("ae")
        facts.outpatientAttendances = try integers("outpatient")
        facts.electiveAdmissions = try integers("elective")
        facts.emergencyAdmissions = try integers("emergency")
        facts.apcCost = try doubles("apc_cost")
        facts.emergencyCost = try doubles("emergency_cost")
        facts.prescriptionTypes = try integers("prescription_types")
        facts.costBySetting = try settings.map { try doubles("cost_\($0.rawValue)") }
        facts.careContacts = try CareSetting.careContactSettings.map { try integers("contacts_\($0.rawValue)") }
        return facts
    }
}
