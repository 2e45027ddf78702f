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
/// folder mixes both): every output of a run is the same.
@Suite struct FHIRRoundTripTests {
    @Test func theSameSystemAsFHIRAndAsCSVGivesTheSameOutputs() throws {
        let root = temporaryFolder("fhir-round-trip")
        defer { try? FileManager.default.removeItem(at: root) }
        let options = SynthesisOptions(people: 2_000, seed: 11)
        let csv = root.appendingPathComponent("csv"), fhir = root.appendingPathComponent("fhir")
        _ = try SyntheticHealthSystem.write(options, to: csv)
        _ = try SyntheticHealthSystem.write(options, to: fhir)
        let resources = try BulkExportWriter.convert(fhir, transactionTime: options.asOf)
        #expect(
            Set(resources.keys) == [
                "Patient", "Consent", "Condition", "Observation", "MedicationRequest", "ChargeItem", "Encounter",
            ])
        #expect(!FileManager.default.fileExists(atPath: fhir.appendingPathComponent("patients.csv").path))
        // What the platform writes is valid FHIR R4 to an independent validator.
        let ndjson = try FileManager.default.contentsOfDirectory(atPath: fhir.path).filter { $0.hasSuffix(".ndjson") }
        let validation = try validateFHIR(ndjson.sorted().map { fhir.appendingPathComponent($0).path })
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
        let primaryOnly = try BulkExportWriter.convert(mixed, transactionTime: options.asOf, hospital: false)
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
        // Every resource is read: the hospital's own Patients (one per record, with no practice) as
        // the people its encounters name, and counted so.
        let files = fhirRun.prepared.reconciliation.files.filter { $0.file.hasSuffix(".ndjson") }
        #expect(files.count == resources.count)
        for file in files {
            let type = String(file.file.dropLast(".ndjson".count))
            #expect(file.rowsIn == resources[type], "\(file.file)")
            #expect(file.quarantined == 0 && file.balances, "\(file.file)")
            let unused = file.notRead?.values.reduce(0, +) ?? 0
            #expect(unused == (type == "Patient" ? resources["Encounter"] : 0), "\(file.file)")
        }
    }
}
