import CLI
import Conditions
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore
import Pipeline
import Synthesis

/// The spine of a run (ingest, identity by the deterministic rules, the population, use and cost
/// in the 12 months before as-of) and the conditions, as a run does them, beside the same work as
/// one SQL pipeline on DuckDB (`Benchmarks/duckdb_spine.py`, in the bench's own venv), with the
/// counts each side produced so that the work can be seen to be the same, and the ratio.
enum SpineBench {
    static func run(_ options: SynthesisOptions, dir: String, workers: Int, duckdb withDuckDB: Bool) throws {
        let folder = options.benchFolder(in: dir)
        let marker = URL(fileURLWithPath: folder).appendingPathComponent("ground-truth/persons.csv")
        if !FileManager.default.fileExists(atPath: marker.path) {
            // Written first, then measured by a fresh process, so the peak memory is the spine's.
            _ = try Console.synthesise(options, out: folder)
            return try BenchPython.rerun()
        }
        let asOf = options.asOf
        var clock = StageClock()
        let key = try PseudonymKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        let extract = try clock.time("ingest") { try ExtractReader(folder: URL(fileURLWithPath: folder), workers: workers).read() }
        let (spine, pseudonyms, linkage) = clock.time("identity") {
            PipelineRun.identify(extract, asOf: asOf, key: key, workers: workers)
        }
        let population = clock.time("population") {
            PopulationBuilder.build(extract: extract, spine: spine, linkage: linkage, pseudonyms: pseudonyms, asOf: asOf)
        }
        let use = clock.time("utilisation") { Utilisation(population, window: .months(12, before: asOf), workers: workers) }
        let spineSeconds = clock.stages.reduce(0) { $0 + $1.seconds }
        let spinePeak = Double(Bench.peakResidentBytes()) / 1e9
        let library = try ConditionLibrary.standard()
        let conditions = clock.time("conditions") {
            ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: workers)
        }

        print("spine of \(Console.number(spine.count)) people, \(Console.number(extract.reconciliation.reduce(0) { $0 + $1.rowsIn })) rows, \(String(format: "%.0f", Double(extract.bytes) / 1e6)) MB")
        print("")
        print("| stage | seconds |")
        print("|---|---|")
        for stage in clock.stages { print("| \(stage.name) | \(String(format: "%.2f", stage.seconds)) |") }
        print(
            String(
                format: "| spine (ingest to utilisation) | %.2f |\n\ningest: %.0f MB/s; peak memory after the spine %.2f GB, after conditions %.2f GB",
                spineSeconds, Double(extract.bytes) / 1e6 / clock.stages[0].seconds, spinePeak,
                Double(Bench.peakResidentBytes()) / 1e9))

        // What each side produced, to be compared line by line.
        let registered = population.registered
        var phm: [(String, String)] = []
        for file in extract.reconciliation where file.present {
            phm.append((file.file, "\(file.rowsIn) rows, \(file.accepted) accepted"))
        }
        phm.append(("people", "\(spine.count)"))
        var rules: [String: Int] = [:]
        for rule in linkage.rule { rules[rule.name, default: 0] += 1 }
        for (rule, n) in rules.sorted(by: { $0.key < $1.key }) { phm.append(("linked " + rule, "\(n)")) }
        phm.append(("registered at as-of", "\(registered.count)"))
        phm.append(("emergency admissions", "\(registered.reduce(0) { $0 + Int(use.emergencyAdmissions[$1]) })"))
        phm.append(("A&E attendances", "\(registered.reduce(0) { $0 + Int(use.aeAttendances[$1]) })"))
        phm.append(("outpatient attendances", "\(registered.reduce(0) { $0 + Int(use.outpatientAttendances[$1]) })"))
        phm.append(("prescription types", "\(registered.reduce(0) { $0 + Int(use.prescriptionTypes[$1]) })"))
        phm.append(("cost", String(format: "%.0f", registered.reduce(0) { $0 + use.totalCost($1) })))
        phm.append(("long-term conditions", "\(registered.reduce(0) { $0 + Int(conditions.ltcCount[$1]) })"))
        phm.append(("people with two or more", "\(registered.filter { conditions.ltcCount[$0] >= 2 }.count)"))
        guard withDuckDB else {
            for (what, value) in phm { print("\(what): \(value)") }
            return
        }

        let python = try BenchPython.venv(["duckdb": "2.0.1", "pyyaml": "6.0.3"])
        let started = Date()
        let output = try BenchPython.shell([
            python, BenchPython.root.appendingPathComponent("Benchmarks/duckdb_spine.py").path, folder, asOf.description,
            ConditionLibrary.standardFolder.appendingPathComponent("definitions.yaml").path, "\(workers)",
        ])
        let process = Date().timeIntervalSince(started)
        guard let line = output.split(separator: "\n").last,
            let result = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let spine = result["spine_seconds"] as? Double, let spineMB = result["spine_peak_mb"] as? Double,
            let seconds = result["seconds"] as? Double, let peakMB = result["peak_mb"] as? Double,
            let counts = result["counts"] as? [String: Any]
        else { throw BenchPython.Failure("duckdb_spine.py printed no result") }
        let conditionSeconds = clock.stages.last!.seconds, peak = Double(Bench.peakResidentBytes()) / 1e9
        print("")
        print("| | phm | DuckDB 2.0.1 | phm / DuckDB |")
        print("|---|---|---|---|")
        print(String(format: "| spine, seconds | %.2f | %.2f | %.2f |", spineSeconds, spine, spineSeconds / spine))
        print(
            String(
                format: "| spine and condition count, seconds | %.2f | %.2f (%.2f as a process) | %.2f |",
                spineSeconds + conditionSeconds, seconds, process, (spineSeconds + conditionSeconds) / seconds))
        print(String(format: "| peak memory after the spine, GB | %.2f | %.2f | %.2f |", spinePeak, spineMB / 1e3, spinePeak / (spineMB / 1e3)))
        print(String(format: "| peak memory at the end, GB | %.2f | %.2f | %.2f |", peak, peakMB / 1e3, peak / (peakMB / 1e3)))
        print("")
        print("What each produced (DuckDB's rules are the contract's main ones, its LTC count simpler):")
        for (what, value) in phm { print("- phm \(what): \(value)") }
        for (what, value) in counts.sorted(by: { $0.key < $1.key }) {
            let text =
                JSONSerialization.isValidJSONObject(value)
                ? (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])).map {
                    String(decoding: $0, as: UTF8.self)
                } ?? "" : "\(value)"
            print("- DuckDB \(what): \(text)")
        }
    }
}

/// The benchmarks' Python: a venv beside the package (`.venv-bench`), made on first use with
/// pinned packages from PyPI.
enum BenchPython {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The venv's python, with `packages` (name: version) installed at those versions.
    static func venv(_ packages: [String: String]) throws -> String {
        let python = root.appendingPathComponent(".venv-bench/bin/python").path
        if !FileManager.default.fileExists(atPath: python) {
            _ = try shell(["python3", "-m", "venv", root.appendingPathComponent(".venv-bench").path])
        }
        let wanted = packages.sorted { $0.key < $1.key }.map { "\($0.key)==\($0.value)" }
        let check = "import importlib.metadata as m, sys; sys.exit(any(m.version(p.split('==')[0]) != p.split('==')[1] for p in sys.argv[1:]))"
        if (try? shell([python, "-c", check] + wanted)) == nil {
            _ = try shell([python, "-m", "pip", "install", "--quiet"] + wanted)
        }
        return python
    }

    /// Runs this bench again in a fresh process with the same arguments.
    static func rerun() throws {
        let child = Process()
        child.executableURL = Bundle.main.executableURL
        child.arguments = Array(CommandLine.arguments.dropFirst())
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else { throw Failure("the measuring process failed") }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs a program, returning its standard output, throwing if it fails.
    static func shell(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure("\(arguments.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self)
    }
}
