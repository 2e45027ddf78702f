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
/// `ground-truth/faults.csv`): a row with the wrong number of fields has no FHIR form.
public enum BulkExportWriter {
    /// Converts `folder` in place and returns the number of resources written by type; with
    /// `hospital` false, the hospital files stay CSV (primary care alone as FHIR).
    public static func convert(_ folder: URL, transactionTime: Day, hospital convertHospital: Bool = true) throws -> [String: Int]
    {
        let hospital = convertHospital ? ["inpatient_spells.csv", "ae_attendances.csv", "outpatient_appointments.csv"] : []
        let converted = ["patients.csv", "gp_events.csv", "prescriptions.csv"] + hospital
        let faults = try dropFaults(in: folder, of: Set(converted))
        var counts: [String: Int] = [:]
        var outputs: [String: FileHandle] = [:]
        func write(_ type: String, _ line: String) throws {
            if outputs[type] == nil {
                let url = folder.appendingPathComponent(type + ".ndjson")
                FileManager.default.createFile(atPath: url.path, contents: nil)
                outputs[type] = try FileHandle(forWritingTo: url)
            }
            try outputs[type]!.write(contentsOf: Array((line + "\n").utf8))
            counts[type, default: 0] += 1
        }

        var postcodes = CSVRows()
        postcodes.raw("postcode,lsoa_code")
        var seenPostcodes = Set<String>()
        try eachRow(folder, "patients.csv", skipping: faults) { _, field in
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
        try eachRow(folder, "gp_events.csv", skipping: faults) { line, field in
            let entry = Resources.clinicalEntry(id: "gp-\(line)", field)
            try write(entry.type, entry.line)
        }
        try eachRow(folder, "prescriptions.csv", skipping: faults) { line, field in
            let (request, charge) = Resources.prescription(id: "rx-\(line)", field)
            try write("MedicationRequest", request)
            if let charge { try write("ChargeItem", charge) }
        }
        for file in hospital {
            try eachRow(folder, file, skipping: faults) { _, field in
                for (type, line) in Resources.encounter(file: file, field) { try write(type, line) }
            }
        }
        for handle in outputs.values { try handle.close() }
        for file in converted where FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path) {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }

        let entries = counts.keys.sorted().map {
            "{\"type\":\"\($0)\",\"url\":\"\($0).ndjson\",\"count\":\(counts[$0]!)}"
        }
        let manifest = """
            {"transactionTime":"\(transactionTime)T00:00:00Z","request":"$export","requiresAccessToken":false,\
            "output":[\(entries.joined(separator: ","))],"error":[]}

            """
        try Data(manifest.utf8).write(to: folder.appendingPathComponent("manifest.json"))
        return counts
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
