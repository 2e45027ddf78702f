import FHIR
import Foundation
import PHMCore

/// Rewrites a folder that follows the input contract as a FHIR Bulk Data export:
/// `patients.csv` as Patient (and Consent for opt-outs), `gp_events.csv` as Condition and
/// Observation, `prescriptions.csv` as MedicationRequest (and ChargeItem for costs), the three
/// hospital files as Encounter (with a Patient for the person as the hospital recorded them, and
/// a ChargeItem for the cost), with a `manifest.json`, and `postcodes.csv` for the small areas a
/// Patient's postcode lies in. Community and social care contacts, which rarely arrive as FHIR,
/// and practices and areas stay CSV.
///
/// The malformed rows the generator injects into the converted files are left out (and out of
/// `ground-truth/faults.csv`): a row with the wrong number of fields has no FHIR form. The export
/// has faults of its own instead, added at `faultRate` per line written (see `Faults`).
public enum BulkExportWriter {
    /// Converts `folder` in place and returns the number of lines written by resource type; with
    /// `hospital` false, the hospital files stay CSV (primary care alone as FHIR).
    public static func convert(
        _ folder: URL, transactionTime: Day, hospital convertHospital: Bool = true, faultRate: Double = 0, seed: UInt64 = 0
    ) throws -> [String: Int] {
        let hospital = convertHospital ? ["inpatient_spells.csv", "ae_attendances.csv", "outpatient_appointments.csv"] : []
        let converted = ["patients.csv", "gp_events.csv", "prescriptions.csv"] + hospital
        let malformed = try dropFaults(in: folder, of: Set(converted))
        var counts: [String: Int] = [:]
        var outputs: [String: FileHandle] = [:]
        var faults = Faults(rate: faultRate, seed: seed)
        var faultLines: [String: Int] = [:]
        func append(_ type: String, _ line: String) throws {
            if outputs[type] == nil {
                let url = folder.appendingPathComponent(type + ".ndjson")
                FileManager.default.createFile(atPath: url.path, contents: nil)
                outputs[type] = try FileHandle(forWritingTo: url)
            }
            try outputs[type]!.write(contentsOf: Array((line + "\n").utf8))
            counts[type, default: 0] += 1
        }
        /// Writes one resource, and now and then a faulty line after it; `remade` rebuilds the
        /// resource with some of its row's fields replaced.
        func write(_ type: String, _ line: String, remade: ([String: String]) -> String? = { _ in nil }) throws {
            try append(type, line)
            if let (faulty, rule) = faults.next(type, line, remade: remade) {
                try append(type, faulty)
                faults.recorded.append("\(type).ndjson,\(counts[type]!),\(rule)")
                faultLines[type, default: 0] += 1
            }
        }

        var postcodes = CSVRows()
        postcodes.raw("postcode,lsoa_code")
        var seenPostcodes = Set<String>()
        try eachRow(folder, "patients.csv", skipping: malformed) { _, field in
            try write("Patient", Resources.patient(field))
            if field("national_opt_out") == "Y" { try write("Consent", Resources.optOut(patient: field("patient_id"))) }
            let postcode = field("postcode"), area = field("lsoa_code")
            if !postcode.isEmpty, !area.isEmpty, seenPostcodes.insert(postcode).inserted {
                postcodes.field(postcode)
                postcodes.field(area)
                postcodes.end()
            }
        }
        try Data(postcodes.bytes).write(to: folder.appendingPathComponent("postcodes.csv"))
        try eachRow(folder, "gp_events.csv", skipping: malformed) { line, field in
            let entry = Resources.clinicalEntry(id: "gp-\(line)", field)
            try write(entry.type, entry.line) { replaced in
                Resources.clinicalEntry(id: "fault-gp-\(line)") { replaced[$0] ?? field($0) }.line
            }
        }
        try eachRow(folder, "prescriptions.csv", skipping: malformed) { line, field in
            let (request, charge) = Resources.prescription(id: "rx-\(line)", field)
            try write("MedicationRequest", request) { replaced in
                Resources.prescription(id: "fault-rx-\(line)") { replaced[$0] ?? field($0) }.request
            }
            if let charge { try write("ChargeItem", charge) }
        }
        for file in hospital {
            try eachRow(folder, file, skipping: malformed) { _, field in
                for (type, line) in Resources.encounter(file: file, field) { try write(type, line) }
            }
        }
        for handle in outputs.values { try handle.close() }
        if !faults.recorded.isEmpty {
            let truth = try FileHandle(forWritingTo: folder.appendingPathComponent("ground-truth/faults.csv"))
            try truth.seekToEnd()
            try truth.write(contentsOf: Array(faults.recorded.map { $0 + "\n" }.joined().utf8))
            try truth.close()
        }
        for file in converted where FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path) {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }

        let entries = counts.keys.sorted().map {
            "{\"type\":\"\($0)\",\"url\":\"\($0).ndjson\",\"count\":\(counts[$0]! - faultLines[$0, default: 0])}"
        }
        let manifest = """
            {"transactionTime":"\(transactionTime)T00:00:00Z","request":"$export","requiresAccessToken":false,\
            "output":[\(entries.joined(separator: ","))],"error":[]}

            """
        try Data(manifest.utf8).write(to: folder.appendingPathComponent("manifest.json"))
        return counts
    }

    /// The faults of a real export, each a line added after a resource (never in its place, so the
    /// population read is the CSV form's): broken JSON, a resource in a file of another type, a
    /// date that is no calendar date, a subject the export does not hold, a value with a
    /// comparator, an opt-out Consent that permits, and, read by design as nothing, an unknown
    /// code system, a refuted condition and an encounter entered in error. Each goes into
    /// `ground-truth/faults.csv` with the quarantine rule it breaks, or `not_read`.
    struct Faults {
        let rate: Double
        var rng: Xoshiro
        var recorded: [String] = []

        init(rate: Double, seed: UInt64) {
            self.rate = rate
            rng = Xoshiro(seed: seed, 0xF417)
        }

        /// A faulty line to add after `line`, with its rule, or nil (most of the time).
        mutating func next(_ type: String, _ line: String, remade: ([String: String]) -> String?) -> (String, String)? {
            guard rate > 0, rng.chance(rate) else { return nil }
            /// `line` with its id changed and `old` replaced, or nil if `line` lacks `old`.
            func edited(_ old: String, _ new: String) -> String? {
                guard line.contains(old) else { return nil }
                return line.replacing("\"id\":\"", with: "\"id\":\"fault-", maxReplacements: 1).replacing(old, with: new)
            }
            var candidates: [(String?, String)] = [
                (String(decoding: line.utf8.prefix(line.utf8.count / 2), as: UTF8.self), Rule.jsonSyntax),
                (edited("\"resourceType\":\"\(type)\"", "\"resourceType\":\"AllergyIntolerance\""), Rule.resourceType),
            ]
            let unknownSystem =
                switch type {
                case "Condition": "http://hl7.org/fhir/sid/icd-10-cm"
                case "Observation": "http://loinc.org"
                default: "http://www.nlm.nih.gov/research/umls/rxnorm"
                }
            candidates += [
                (remade(["event_date": "2023-02-30", "issue_date": "2023-02-30"]), Rule.dateFormat),
                (remade(["patient_id": "absent"]), Rule.unknownPatient),
                (remade(["code_system": unknownSystem]), Rule.notRead),
                (edited("\"code\":\"confirmed\"", "\"code\":\"refuted\""), Rule.notRead),
                (
                    edited("\"valueQuantity\":{\"value\":", "\"valueQuantity\":{\"comparator\":\">\",\"value\":"),
                    Rule.numberFormat
                ),
                (edited("\"status\":\"finished\"", "\"status\":\"entered-in-error\""), Rule.notRead),
                (edited("\"provision\":{\"type\":\"deny\"}", "\"provision\":{\"type\":\"permit\"}"), Rule.enumValue),
            ]
            let usable = candidates.compactMap { line, rule in line.map { ($0, rule) } }
            return usable[rng.int(0..<usable.count)]
        }

        /// The rule names of `ground-truth/faults.csv` for the faults an export may have.
        enum Rule {
            static let jsonSyntax = "json_syntax", resourceType = "resource_type", dateFormat = "date_format"
            static let unknownPatient = "unknown_patient", numberFormat = "number_format", enumValue = "enum_value"
            static let notRead = "not_read"
        }
    }

    /// Removes the faults of `files` from the ground truth; returns them as file and line.
    private static func dropFaults(in folder: URL, of files: Set<String>) throws -> Set<String> {
        let url = folder.appendingPathComponent("ground-truth/faults.csv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var kept: [Substring] = []
        var dropped = Set<String>()
        for (i, line) in text.split(separator: "\n").enumerated() {
            let parts = line.split(separator: ",")
            if i > 0, parts.count >= 2, files.contains(String(parts[0])) {
                dropped.insert("\(parts[0]):\(parts[1])")
            } else {
                kept.append(line)
            }
        }
        try Data((kept.joined(separator: "\n") + "\n").utf8).write(to: url)
        return dropped
    }

    /// Calls `body` with each row's line number and a field reader by column name.
    private static func eachRow(
        _ folder: URL, _ file: String, skipping faults: Set<String>,
        _ body: (Int, (String) -> String) throws -> Void
    ) throws {
        let url = folder.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let lines = try MonthlyExtracts.Lines(url)
        let column = Dictionary(lines.names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        for (i, line) in lines.rows.enumerated() {
            let number = i + 2
            if faults.contains("\(file):\(number)") { continue }
            guard let ranges = MonthlyExtracts.Lines.fields(line), ranges.count == lines.columns else {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "\(url.path) line \(number)"])
            }
            let fields = ranges.map { unquoted(MonthlyExtracts.Lines.text(line, $0)) }
            try body(number) { name in column[name].map { fields[$0] } ?? "" }
        }
    }

    private static func unquoted(_ field: String) -> String {
        guard field.count >= 2, field.hasPrefix("\""), field.hasSuffix("\"") else { return field }
        return String(field.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
    }
}
