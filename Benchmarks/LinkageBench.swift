import CLI
import Foundation
import Identity
import Ingest
import PHMCore
import Synthesis

/// Linkage against the generator's ground truth, the rules alone and with match weights, beside
/// Splink on the same files (`Benchmarks/splink_linkage.py`, in a venv of its own that the bench
/// makes on first use): precision, recall, F1, seconds and peak memory, and the ratios.
enum LinkageBench {
    static func run(_ options: SynthesisOptions, dir: String, workers: Int, splink withSplink: Bool = true) throws {
        let folder = options.benchFolder(in: dir)
        let marker = URL(fileURLWithPath: folder).appendingPathComponent("ground-truth/persons.csv")
        if !FileManager.default.fileExists(atPath: marker.path) {
            // Written first, then measured by a fresh process, so the peak memory is linkage's.
            _ = try Console.synthesise(options, out: folder)
            return try BenchPython.rerun()
        }
        let start = Date()
        let extract = try ExtractReader(folder: URL(fileURLWithPath: folder), workers: workers).read()
        let spine = Spine(patients: extract.patients, asOf: options.asOf)
        let rules = Linker(patients: extract.patients, spine: spine).link(extract.care, workers: workers)
        let rulesSeconds = Date().timeIntervalSince(start)
        var linkage = rules
        linkage.probabilistic = ProbabilisticLinker(patients: extract.patients, spine: spine, workers: workers).link(
            extract.care, &linkage, workers: workers
        ).report
        let seconds = Date().timeIntervalSince(start)
        let peak = Double(Bench.peakResidentBytes()) / 1e6

        var personOfPatient: [String: String] = [:]
        for row in try rows(folder + "/ground-truth/registrations.csv") { personOfPatient[row[0]] = row[1] }
        var truth: [String: String] = [:]
        for row in try rows(folder + "/ground-truth/care_records.csv") { truth[row[1]] = row[2] }
        func score(_ l: Linkage) -> (precision: Double, recall: Double, f1: Double) {
            var linked = 0, correct = 0
            for r in 0..<extract.care.count where l.person[r] >= 0 {
                linked += 1
                let registration = Int(spine.registrations[Int(spine.registrationStart[Int(l.person[r])])])
                if personOfPatient[extract.patients.patientId[registration]] == truth[extract.care.recordId[r]] { correct += 1 }
            }
            let precision = Double(correct) / Double(max(1, linked)), recall = Double(correct) / Double(max(1, extract.care.count))
            return (precision, recall, 2 * precision * recall / max(1e-12, precision + recall))
        }
        print("linkage of \(Console.number(extract.care.count)) care records, \(options.identities.rawValue) identities")
        print("")
        print("| linkage | precision | recall | F1 | seconds | peak memory, MB |")
        print("|---|---|---|---|---|---|")
        func row(_ name: String, _ s: (precision: Double, recall: Double, f1: Double), _ seconds: Double, _ mb: Double?) {
            print(
                "| \(name) | \(String(format: "%.4f", s.precision)) | \(String(format: "%.4f", s.recall)) | \(String(format: "%.4f", s.f1)) | \(String(format: "%.1f", seconds)) | \(mb.map { String(format: "%.0f", $0) } ?? "-") |"
            )
        }
        row("phm: rules (read and link)", score(rules), rulesSeconds, nil)
        let phm = score(linkage)
        row("phm: rules and match weights", phm, seconds, peak)
        guard withSplink else { return }
        let splink = try Splink.run(folder)
        guard splink.records == extract.care.count else {
            throw BenchPython.Failure("Splink read \(splink.records) records, the platform \(extract.care.count)")
        }
        row("Splink \(Splink.version) (DuckDB)", (splink.precision, splink.recall, splink.f1), splink.seconds, splink.peakMB)
        print("")
        print(
            String(
                format: "phm / Splink: F1 %+.4f, time %.2f, memory %.2f", phm.f1 - splink.f1, seconds / splink.seconds,
                peak / splink.peakMB))
    }

    static func rows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// Splink from PyPI, in the bench's venv.
    enum Splink {
        static let version = "5.0.0"

        struct Result: Decodable {
            var records: Int
            var precision: Double, recall: Double, f1: Double, seconds: Double
            var peakMB: Double
            enum CodingKeys: String, CodingKey { case records, precision, recall, f1, seconds, peakMB = "peak_mb" }
        }

        static func run(_ folder: String) throws -> Result {
            let python = try BenchPython.venv(["splink": version, "duckdb": "2.0.1", "pandas": "2.2.3"])
            let output = try BenchPython.shell([
                python, BenchPython.root.appendingPathComponent("Benchmarks/splink_linkage.py").path, folder,
            ])
            guard let line = output.split(separator: "\n").last else {
                throw BenchPython.Failure("splink_linkage.py printed nothing")
            }
            return try JSONDecoder().decode(Result.self, from: Data(line.utf8))
        }
    }
}
