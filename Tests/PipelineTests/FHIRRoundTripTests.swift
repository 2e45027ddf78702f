import Foundation
import Ingest
import Outputs
import PHMCore
import Pipeline
import Synthesis
import TestSupport
import Testing

/// One synthetic health system written twice, once as the contract's CSV files and once as a
/// FHIR Bulk Data export (primary care and hospital activity; community care staying CSV, so the
/// folder mixes both), each with faults of its form: every output of a run is the same, and every
/// fault is quarantined with its rule or passed over as not read, and nothing else is.
@Suite struct FHIRRoundTripTests {
    @Test func theSameSystemAsFHIRAndAsCSVGivesTheSameOutputs() throws {
        let root = temporaryFolder("fhir-round-trip")
        defer { try? FileManager.default.removeItem(at: root) }
        var options = SynthesisOptions(people: 2_000, seed: 11)
        options.faultRate = 0.001
        let csv = root.appendingPathComponent("csv"), fhir = root.appendingPathComponent("fhir")
        _ = try SyntheticHealthSystem.write(options, to: csv)
        _ = try SyntheticHealthSystem.write(options, to: fhir)
        let resources = try BulkExportWriter.convert(
            fhir, transactionTime: options.asOf, faultRate: options.faultRate, seed: options.seed)
        let faults = readCSV(fhir.appendingPathComponent("ground-truth/faults.csv")).dropFirst().filter {
            $0[0].hasSuffix(".ndjson")
        }
        #expect(faults.count > 60)
        #expect(Set(faults.map { $0[2] }).count >= 6, "\(Set(faults.map { $0[2] }))")
        #expect(
            Set(resources.keys) == [
                "Patient", "Consent", "Condition", "Observation", "MedicationRequest", "ChargeItem", "Encounter",
            ])
        #expect(!FileManager.default.fileExists(atPath: fhir.appendingPathComponent("patients.csv").path))
        // What the platform writes is valid FHIR R4 to independent validators, but for the faults.
        let clean = root.appendingPathComponent("clean")
        try FileManager.default.createDirectory(at: clean, withIntermediateDirectories: true)
        let faultLines = Set(faults.map { "\($0[0]):\($0[1])" })
        let ndjson = try FileManager.default.contentsOfDirectory(atPath: fhir.path).filter { $0.hasSuffix(".ndjson") }
        for file in ndjson {
            let lines = try String(contentsOf: fhir.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
            let kept = lines.enumerated().filter { !faultLines.contains("\(file):\($0.offset + 1)") }.map(\.element)
            #expect(kept.count < lines.count || !faults.contains { $0[0] == file }, "\(file)")
            try Data(kept.joined(separator: "\n").utf8).write(to: clean.appendingPathComponent(file))
        }
        let validation = try validateFHIR(ndjson.sorted().map { clean.appendingPathComponent($0).path })
        #expect(validation.status == 0, "\(validation.output)\(validation.errors)")
        #expect(validation.output.contains("Encounter=") && validation.output.contains("Patient="))

        func run(_ input: URL, _ name: String) throws -> (URL, RunResult) {
            var run = RunOptions(
                input: input, asOf: options.asOf, output: root.appendingPathComponent(name),
                dataDirectory: root.appendingPathComponent(name + "-data"), keyFile: DefaultRun.keyFile)
            run.projection.draws = 10
            return (run.output, try PipelineRun.execute(run))
        }
        // The other mix too: primary care as FHIR, hospital activity as the contract's CSV files.
        let mixed = root.appendingPathComponent("mixed")
        _ = try SyntheticHealthSystem.write(options, to: mixed)
        let primaryOnly = try BulkExportWriter.convert(
            mixed, transactionTime: options.asOf, hospital: false, faultRate: options.faultRate, seed: options.seed)
        #expect(primaryOnly["Encounter"] == nil)
        #expect(FileManager.default.fileExists(atPath: mixed.appendingPathComponent("inpatient_spells.csv").path))

        let (fromCSV, csvRun) = try run(csv, "from-csv")
        let (fromFHIR, fhirRun) = try run(fhir, "from-fhir")
        let (fromMixed, _) = try run(mixed, "from-mixed")
        #expect(fhirRun.prepared.reconciliation.balanced)
        #expect(fhirRun.summary.registeredPeople == csvRun.summary.registeredPeople)
        let written = try FileManager.default.contentsOfDirectory(atPath: fromCSV.path).filter {
            $0.hasSuffix(".csv") || ["linkage.json", "codes.json"].contains($0)
        }
        #expect(written.count > 15)
        for name in written.sorted() {
            let a = try Data(contentsOf: fromCSV.appendingPathComponent(name))
            #expect(a == (try Data(contentsOf: fromFHIR.appendingPathComponent(name))), "\(name) differs")
            #expect(a == (try Data(contentsOf: fromMixed.appendingPathComponent(name))), "\(name) differs in the mix")
        }
        // Data quality follows primary care by the contract file it is read as: the same accepted
        // rows per 1,000 (the CSV form's rows read also count the injected faults, which the
        // export leaves out).
        func perThousand(_ output: URL) throws -> [String: Double] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("quality.json")))
            let entries = ((json as? [String: Any])?["current"] as? [String: Any])?["entries"] as? [[String: Any]] ?? []
            var figures: [String: Double] = [:]
            for entry in entries {
                guard let subject = entry["subject"] as? [String: Any], subject["kind"] as? String == "source",
                    let id = subject["id"] as? String, let value = (entry["figures"] as? [String: Any])?["rows_per_1000"]
                else { continue }
                figures[id] = value as? Double
            }
            return figures
        }
        let csvQuality = try perThousand(fromCSV), fhirQuality = try perThousand(fromFHIR)
        for file in [
            "patients.csv", "gp_events.csv", "prescriptions.csv", "inpatient_spells.csv", "ae_attendances.csv",
            "outpatient_appointments.csv",
        ] {
            #expect(csvQuality[file] != nil && csvQuality[file] == fhirQuality[file], "\(file)")
        }
        // Every resource but the faults is read (the hospital's own Patients, one per record with no
        // practice, as the people its encounters name, and counted so); each fault is quarantined
        // at its line with its rule, or counted as not read.
        let files = fhirRun.prepared.reconciliation.files.filter { $0.file.hasSuffix(".ndjson") }
        #expect(files.count == resources.count)
        let expected = Set(faults.filter { $0[2] != "not_read" }.map { "\($0[0]):\($0[1]):\($0[2])" })
        var found = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: fromFHIR.appendingPathComponent("quarantine").path)
        where file.hasSuffix(".ndjson.csv") {
            for row in readCSV(fromFHIR.appendingPathComponent("quarantine/\(file)")).dropFirst() {
                found.insert("\(file.dropLast(".csv".count)):\(row[0]):\(row[2])")
            }
        }
        #expect(found == expected)
        let encounters = resources["Encounter"]! - faults.filter { $0[0] == "Encounter.ndjson" }.count
        for file in files {
            let type = String(file.file.dropLast(".ndjson".count))
            #expect(file.rowsIn == resources[type], "\(file.file)")
            #expect(file.balances, "\(file.file)")
            let unused = file.notRead?.values.reduce(0, +) ?? 0
            let passedOver = faults.filter { $0[0] == file.file && $0[2] == "not_read" }.count
            #expect(unused == passedOver + (type == "Patient" ? encounters : 0), "\(file.file): \(file.notRead ?? [:])")
        }
    }

    /// Every line of an export followed by a fault: each kind of fault each resource type can
    /// have appears, and each is quarantined by the rule the ground truth gives, or not read.
    @Test func everyKindOfFaultMeetsItsRule() throws {
        let root = temporaryFolder("fhir-faults")
        defer { try? FileManager.default.removeItem(at: root) }
        var options = SynthesisOptions(people: 300, seed: 5)
        options.faultRate = 0
        let input = root.appendingPathComponent("in")
        _ = try SyntheticHealthSystem.write(options, to: input)
        let lines = try BulkExportWriter.convert(input, transactionTime: options.asOf, faultRate: 1, seed: 5)
        let faults = readCSV(input.appendingPathComponent("ground-truth/faults.csv")).dropFirst()
        let kinds = Set(faults.map { "\($0[0]) \($0[2])" })
        var expectedKinds: Set<String> = []
        for (type, rules) in [
            ("Patient", [String]()), ("ChargeItem", []), ("Condition", ["date_format", "unknown_patient", "not_read"]),
            ("Observation", ["date_format", "unknown_patient", "not_read", "number_format"]),
            ("MedicationRequest", ["date_format", "unknown_patient", "not_read"]), ("Encounter", ["not_read"]),
            ("Consent", ["enum_value"]),
        ] {
            for rule in ["json_syntax", "resource_type"] + rules { expectedKinds.insert("\(type).ndjson \(rule)") }
        }
        #expect(kinds == expectedKinds)
        // Half the lines are faults, and the manifest counts only the resources.
        #expect(faults.count * 2 == lines.values.reduce(0, +))
        let manifest = try String(contentsOf: input.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(manifest.contains("\"type\":\"Consent\",\"url\":\"Consent.ndjson\",\"count\":\(lines["Consent"]! / 2)}"))

        var run = RunOptions(
            input: input, asOf: options.asOf, output: root.appendingPathComponent("out"),
            dataDirectory: root.appendingPathComponent("data"), keyFile: DefaultRun.keyFile)
        run.projection.draws = 10
        let result = try PipelineRun.execute(run)
        #expect(result.prepared.reconciliation.balanced)
        let expected = Set(faults.filter { $0[2] != "not_read" }.map { "\($0[0]):\($0[1]):\($0[2])" })
        var found = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: run.output.appendingPathComponent("quarantine").path)
        where file.hasSuffix(".ndjson.csv") {
            for row in readCSV(run.output.appendingPathComponent("quarantine/\(file)")).dropFirst() {
                found.insert("\(file.dropLast(".csv".count)):\(row[0]):\(row[2])")
            }
        }
        #expect(found == expected)
        let encounters = lines["Encounter"]! / 2
        for file in result.prepared.reconciliation.files where file.file.hasSuffix(".ndjson") {
            let unused = file.notRead?.values.reduce(0, +) ?? 0
            let passedOver = faults.filter { $0[0] == file.file && $0[2] == "not_read" }.count
            #expect(unused == passedOver + (file.file == "Patient.ndjson" ? encounters : 0), "\(file.file)")
        }
    }
}
