import ArrowIPC
import Cohorts
import Conditions
import Evaluation
import Foundation
import Gates
import Ingest
import Outputs
import PHMCore
import Projections

/// The parsers that read what users and files send, each a function of arbitrary bytes that
/// must return (any error is fine) without a trap, a hang or a sanitizer report.
///
/// Built with `-sanitize=fuzzer,address -DFUZZING` by `scripts/fuzz`, libFuzzer drives the target
/// named by `PHM_FUZZ_TARGET` (through `LLVMFuzzerRunDriver`, as the program has its own main).
/// Built plainly (as `swift build` does), this is a replay tool: `phm-fuzz TARGET FILE...` runs
/// each file once, so the seed corpus is checked without libFuzzer.
enum FuzzTarget: String, CaseIterable {
    case csv, cohortText = "cohort-text", cohortJSON = "cohort-json", definitions, form, day, table
    case scenarios, population, evaluation, evaluationBase = "evaluation-base", gates, fhir, arrow

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .csv: Self.csv(bytes)
        case .fhir: Self.fhir(bytes)
        case .cohortText: _ = try? CohortText.parse(String(decoding: bytes, as: UTF8.self))
        case .cohortJSON: _ = try? CohortJSON.parse(Data(bytes))
        case .definitions: Self.definitions(bytes)
        case .form: _ = FormFields.parse(String(decoding: bytes, as: UTF8.self))
        case .arrow:
            // A Spark Connect result's Arrow stream; and the same bytes as the second of two streams.
            let stream = Array(bytes)
            _ = try? ArrowStreamReader.read(stream)
            _ = try? ArrowStreamReader.read(streams: [stream, stream])
        case .table:
            // A published table read back as the pages read it: by column, typed, every cell checked.
            _ = try? Published.variation.read(UnsafeRawBufferPointer(bytes))
            _ = try? Published.spc.read(UnsafeRawBufferPointer(bytes))
            _ = Fixed(parsing: String(decoding: bytes.prefix(64), as: UTF8.self))
            // And as publishing reads it: straight from the bytes into COPY text, in small chunks.
            for table in Published.planning where table.file == "spc.csv" || table.file == "tier-transitions.csv" {
                var copy = CopyText(csv: Array(bytes), file: table.file, columns: table.schema, runId: 1, chunk: 512)
                while let _ = try? copy.next() {}
            }
        case .scenarios:
            // A scenarios file against a few conditions, two of which change a state; a
            // population file it names is missing.
            _ = try? ScenarioFile.parse(
                Data(bytes), name: "scenarios.yaml", folder: URL(fileURLWithPath: "/nonexistent/phm-fuzz"),
                conditions: ["diabetes", "copd", "obesity"], changesState: [true, true, false])
        case .gates:
            // A gates file, then each gate against a run's figures and three earlier runs'.
            if let file = try? GateFile.parse(String(decoding: bytes, as: UTF8.self)) {
                let entries: [QualityReport.Entry] = [
                    .init(subject: .run, figures: ["linked_share": 0.97, "rows": 1e300]),
                    .init(subject: .init(.source, "inpatient_spells.csv"), figures: ["rows_per_1000": 0]),
                    .init(subject: .init(.practice, "A81001"), figures: ["unrecognised_code_share": -0.0]),
                ]
                let report = QualityReport(asOf: "2025-05-01", entries: entries, practicesWithheld: 0)
                _ = file.check(report, earlier: [report, report, report])
            }
        case .population:
            // An official population projection, then its growth over every year it covers.
            if let file = try? PopulationProjectionFile.parse(Data(bytes), name: "population.csv"),
                let first = file.totals.keys.min(), let last = file.totals.keys.max()
            {
                _ = try? file.constraint(from: first, years: min(60, last - first))
            }
        case .evaluation:
            // An evaluation definition, and the same bytes as a list of people and start dates.
            _ = try? EvaluationDefinition.parse(String(decoding: bytes, as: UTF8.self))
            _ = try? Exposures(list: Data(bytes), file: "list.csv", base: Self.base, pseudonymise: { "p\($0 % 7)" })
        case .evaluationBase:
            // A damaged or hostile base, then an evaluation of everyone in it against the rest.
            if let base = try? EvaluationBaseFile.read(Data(bytes), name: "run-1.evaluation") {
                let exposures = (0..<min(base.count, 64)).filter { $0 % 2 == 0 }.map {
                    MatchedComparison.Exposure(person: Int32($0), start: base.asOf.adding(months: -14))
                }
                var options = EvaluationOptions()
                options.bootstrapSamples = 100
                options.fitSample = 1_000
                _ = try? MatchedComparison.run(name: "fuzz", base: base, exposures: exposures, options: options, workers: 1)
            }
        case .day:
            _ = Day(iso: bytes)
            if bytes.count >= 8 {
                let months = bytes.loadUnaligned(as: Int.self)
                _ = Day(rawValue: Int32(truncatingIfNeeded: months)).adding(months: months).adding(days: months)
            }
        }
    }

    /// Records and fields as ingest splits them, from a buffer exactly as long as the input, so
    /// reading past its end is a sanitizer report.
    static func csv(_ bytes: UnsafeRawBufferPointer) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
        defer { buffer.deallocate() }
        if let base = bytes.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) }
        _ = forEachRecord(in: buffer, range: 0..<bytes.count, firstLine: 1, maxFields: 32) { row, raw, bad in
            guard !bad else { return }
            for f in 0..<row.fieldCount {
                let field = row[f]
                _ = Day(iso: field)
                _ = String(decoding: field, as: UTF8.self)
            }
            _ = raw.count
        }
    }

    /// A FHIR Bulk Data export as `phm run` reads it: the bytes as the NDJSON file of each
    /// resource type read, beside fixed practices, areas and postcodes, in blocks small enough
    /// that long lines take the oversized path.
    static func fhir(_ bytes: UnsafeRawBufferPointer) {
        let folder = fhirFolder
        for type in ["Organization", "Consent", "ChargeItem", "Patient", "Condition", "Observation", "MedicationRequest"] {
            try? Data(bytes).write(to: folder.appendingPathComponent(type + ".ndjson"))
        }
        _ = try? ExtractReader(folder: folder, workers: 2, blockSize: 4_096).read()
    }

    static let fhirFolder: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "phm-fuzz-fhir-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let files = [
            "practices.csv":
                "practice_code,practice_name,pcn_code,pcn_name,locality_code,locality_name,organisation_code,organisation_name\nA00001,North,U00001,PCN,L01,Town,QX9,ICB\n",
            "areas.csv": "lsoa_code,imd_decile\nE01000001,1\n",
            "postcodes.csv": "postcode,lsoa_code\nLS1 4AP,E01000001\n",
        ]
        for (name, text) in files { try? Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
        return folder
    }()

    /// A condition definitions file (YAML), as `phm run --conditions` reads it, beside an empty
    /// folder (so code list files it names are missing).
    static func definitions(_ bytes: UnsafeRawBufferPointer) {
        let file = URL(fileURLWithPath: "/nonexistent/phm-fuzz/definitions.yaml")
        _ = try? ConditionLibrary.load(definitions: String(decoding: bytes, as: UTF8.self), from: file)
    }

    /// A small base for lists to be found in.
    static let base: EvaluationBase = {
        var base = EvaluationBase(runId: 1, asOf: Day(iso: "2025-04-01")!, firstMonth: 24_240, hierarchy: Hierarchy())
        base.pseudonym = (0..<7).map { "p\($0)" }
        base.events.start = [Int32](repeating: 0, count: 8)
        return base
    }()

    static var current: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["PHM_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("PHM_FUZZ_TARGET must be one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }
}

/// libFuzzer's entry for a program with a main of its own.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target `PHM_FUZZ_TARGET` names, read once.
let selected = FuzzTarget.current

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
struct Fuzz {
    static func main() {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzer(&argc, &argv, fuzzOne))
        #else
            replay()
        #endif
    }

    /// `phm-fuzz TARGET FILE-OR-FOLDER...`: each input once, as libFuzzer would give it.
    static func replay() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: phm-fuzz TARGET FILE... (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var runs = 0
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            let files =
                isFolder.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                runs += 1
            }
        }
        print("\(target.rawValue): \(runs) inputs, no crash")
    }
}
