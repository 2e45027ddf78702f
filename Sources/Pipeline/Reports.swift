import Analysis
import Conditions
import Foundation
import Identity
import Ingest
import PHMCore
import Risk

/// `reconciliation.json`: every file's rows in, accepted and quarantined.
public struct ReconciliationReport: Sendable, Codable {
    public var files: [FileReconciliation]
    public var sourcesPresent: [String]
    public var rowsIn: Int
    public var accepted: Int
    public var quarantined: Int
    public var balanced: Bool
    public var rules: [String: String]
    public var warnings: [String: String]

    init(_ extract: Extract) {
        files = extract.reconciliation
        sourcesPresent = extract.sourcesPresent.map(\.rawValue)
        rowsIn = files.reduce(0) { $0 + $1.rowsIn }
        accepted = files.reduce(0) { $0 + $1.accepted }
        quarantined = files.reduce(0) { $0 + $1.quarantined }
        balanced = files.allSatisfy(\.balances)
        let used = Set(files.flatMap(\.quarantinedByRule.keys))
        rules = Dictionary(
            uniqueKeysWithValues: Rule.allCases.filter { used.contains($0.rawValue) }.map { ($0.rawValue, $0.explanation) })
        let warned = Set(files.flatMap(\.warnings.keys))
        warnings = Dictionary(
            uniqueKeysWithValues: Warning.allCases.filter { warned.contains($0.rawValue) }.map { ($0.rawValue, $0.explanation) })
    }
}

/// `linkage.json`: how secondary and community care records were linked to the GP spine.
public struct LinkageReport: Sendable, Codable {
    public struct Spine: Sendable, Codable {
        public var registrations: Int
        public var persons: Int
        public var personsWithoutValidNHSNumber: Int
        public var registeredAtAsOf: Int
    }

    public var spine: Spine
    public var bySource: [String: LinkageCounts]
    public var records: Int
    public var linked: Int
    public var unlinked: Int
    public var linkedShare: Double
    public var rules: [String]

    init(extract: Extract, spine: Spine, linkage: Linkage) {
        self.spine = spine
        var bySource: [String: LinkageCounts] = [:]
        for row in 0..<extract.care.count {
            let file = LinkageReport.file(of: extract.care.kind[row])
            bySource[file, default: LinkageCounts()].records += 1
            bySource[file, default: LinkageCounts()].byRule[linkage.rule[row].name, default: 0] += 1
            if linkage.nhsConflict[row] { bySource[file, default: LinkageCounts()].nhsNumberConflicts += 1 }
        }
        self.bySource = bySource
        records = extract.care.count
        unlinked = linkage.person.reduce(0) { $0 + ($1 < 0 ? 1 : 0) }
        linked = records - unlinked
        linkedShare = records == 0 ? 1 : Double(linked) / Double(records)
        rules = LinkRule.allCases.map(\.name)
    }

    static func file(of kind: ActivityKind) -> String {
        switch kind {
        case .aeAttendance: "ae_attendances.csv"
        case .outpatientAttended, .outpatientDidNotAttend: "outpatient_appointments.csv"
        case .electiveAdmission, .emergencyAdmission, .maternityAdmission, .otherAdmission: "inpatient_spells.csv"
        default: "care_contacts.csv"
        }
    }
}

/// `codes.json`: codes the condition library did not recognise, by code system, and list entries
/// it rejected, so nothing is dropped silently.
struct CodeReport: Encodable {
    var eventsWithCodesInNoList: [String: Int]
    var distinctCodesInNoList: [String: Int]
    var rejectedListEntries: [String: [String]]

    init(_ results: ConditionResults, _ library: ConditionLibrary) {
        eventsWithCodesInNoList = results.unmatchedEvents
        distinctCodesInNoList = results.unmatchedCodes
        var rejected: [String: [String]] = [:]
        for list in library.lists where !list.rejected.isEmpty { rejected[list.name] = list.rejected }
        rejectedListEntries = rejected
    }
}

/// Writes the analytic outputs of a run. Nothing written here carries an identifying field.
enum OutputWriter {
    static let personColumns =
        [
            "pseudonym", "sex", "age", "age_band", "practice_code", "pcn_code", "locality_code", "lsoa_code", "imd_decile",
            "ethnic_group", "ae_attendances_12m", "outpatient_attendances_12m", "elective_admissions_12m",
            "emergency_admissions_12m", "apc_cost_12m", "emergency_admission_cost_12m", "unique_prescription_types_12m",
        ] + CareSetting.allCases.map { "cost_\($0.name)_12m" } + ["cost_total_12m", "ltc_count", "ltc_conditions"]

    /// `persons.csv`: one row per registered person at as-of without a National Data Opt-out, built in parallel and written in order.
    static func writePersons(
        _ population: Population, _ use: Utilisation, _ conditions: ConditionResults, _ library: ConditionLibrary,
        _ risk: Stratification, _ segments: SegmentAssignments, registered: [Int], to url: URL, workers: Int
    ) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let header =
            personColumns + library.scores.map(\.id)
            + library.scores.filter { !$0.categories.isEmpty }.map { $0.id + "_category" }
            + RiskWriter.scoreColumns + segments.segmentations.map { "segment_" + $0.id }
        try handle.write(contentsOf: Data((header.joined(separator: ",") + "\n").utf8))
        let ltcIDs = library.conditions.map { $0.isLTC ? $0.id : nil }
        let parts = Parallel.ranges(registered.count, parts: workers * 8)
        let chunks = Parallel.map(parts.count) { k -> [UInt8] in
            var rows = CSVRows(capacity: parts[k].count * 200)
            let h = population.hierarchy
            for i in parts[k] {
                let p = registered[i]
                let practice = Int(population.practice[p])
                let area = Int(population.area[p])
                rows.field(population.pseudonym[p])
                rows.field(population.sex[p].code)
                rows.field(Int(population.age[p]))
                rows.field(AgeBand(age: Int(population.age[p])).label)
                rows.field(h.practices[practice].code)
                rows.field(h.pcns[Int(h.practicePCN[practice])].code)
                rows.field(h.localities[Int(h.practiceLocality[practice])].code)
                if area >= 0 {
                    rows.field(population.areas.codes[area])
                    rows.field(Int(population.areas.imdDecile[area]))
                } else {
                    rows.empty()
                    rows.empty()
                }
                rows.field(population.ethnicGroup[p].label)
                rows.field(Int(use.aeAttendances[p]))
                rows.field(Int(use.outpatientAttendances[p]))
                rows.field(Int(use.electiveAdmissions[p]))
                rows.field(Int(use.emergencyAdmissions[p]))
                rows.field(money: use.apcCost[p])
                rows.field(money: use.emergencyCost[p])
                rows.field(Int(use.prescriptionTypes[p]))
                for s in CareSetting.allCases { rows.field(money: use.costBySetting[Int(s.rawValue)][p]) }
                rows.field(money: use.totalCost(p))
                rows.field(Int(conditions.ltcCount[p]))
                rows.field(
                    conditions.flaggedRows(of: p).compactMap { ltcIDs[Int(conditions.firstCondition[$0])] }.joined(separator: "|")
                )
                for s in library.scores.indices { rows.field(conditions.scores[s][p], decimals: 4) }
                for (s, score) in library.scores.enumerated() where !score.categories.isEmpty {
                    rows.field(score.category(of: conditions.scores[s][p]) ?? "")
                }
                RiskWriter.scoreFields(&rows, risk, person: p)
                for s in segments.segmentations.indices { rows.field(segments.label(s, p) ?? "") }
                rows.end()
            }
            return rows.bytes
        }
        for chunk in chunks { try handle.write(contentsOf: chunk) }
    }

    /// `person-conditions.csv`: every flagged condition of every registered person, with the date
    /// it was first recorded.
    static func writePersonConditions(
        _ population: Population, _ conditions: ConditionResults, _ library: ConditionLibrary, registered: [Int], to url: URL
    ) throws {
        var rows = CSVRows(capacity: registered.count * 100)
        rows.raw("pseudonym,condition,first_recorded")
        for p in registered {
            for row in conditions.flaggedRows(of: p) {
                rows.field(population.pseudonym[p])
                rows.field(library.conditions[Int(conditions.firstCondition[row])].id)
                rows.field(conditions.firstDay[row])
                rows.end()
            }
        }
        try Data(rows.bytes).write(to: url)
    }

    /// `quarantine/FILE.csv` for each file with rejected rows; identifying fields redacted.
    static func writeQuarantine(_ rows: [QuarantinedRow], to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let byFile = Dictionary(grouping: rows, by: \.file)
        for (file, rows) in byFile {
            var out = CSVRows(capacity: rows.count * 120)
            out.raw("line,column,rule,message,row")
            for row in rows {
                out.field(row.line)
                out.field(row.column)
                out.field(row.rule.rawValue)
                out.field(row.message)
                out.field(row.redactedLine)
                out.end()
            }
            try Data(out.bytes).write(to: folder.appendingPathComponent(file))
        }
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(value).write(to: url)
    }
}
