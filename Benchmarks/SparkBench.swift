import CLI
import Conditions
import Dispatch
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore
import Pipeline
import SparkConnect
import SparkEngine
import Synthesis

/// Reading, checking, linking and matching codes on a Spark Connect server (`SparkIngest`,
/// `SparkLinkage`, `SparkCodes`) beside the same work in process, on the same files: the seconds
/// of each, the rows each second and per core, and whether every count and condition agrees.
enum SparkBench {
    static func run(_ options: SynthesisOptions, dir: String, workers: Int, address: SparkAddress, cores: Int) throws {
        let folder = options.benchFolder(in: dir)
        let marker = URL(fileURLWithPath: folder).appendingPathComponent("ground-truth/persons.csv")
        if !FileManager.default.fileExists(atPath: marker.path) { _ = try Console.synthesise(options, out: folder) }
        let path = URL(fileURLWithPath: folder).standardizedFileURL.path
        let asOf = options.asOf

        var start = Date()
        let extract = try ExtractReader(folder: URL(fileURLWithPath: folder), workers: workers).read()
        let readSeconds = Date().timeIntervalSince(start)
        start = Date()
        let spine = Spine(patients: extract.patients, asOf: asOf)
        let linkage = Linker(patients: extract.patients, spine: spine).link(extract.care, workers: workers)
        let linkSeconds = Date().timeIntervalSince(start)
        // Conditions from the events of the deterministic links, as Spark has them.
        let library = try ConditionLibrary.standard()
        start = Date()
        let population = PopulationBuilder.build(
            extract: extract, spine: spine, linkage: linkage, pseudonyms: Array(repeating: "", count: spine.count),
            asOf: asOf)
        let conditions = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: workers)
        let codeSeconds = Date().timeIntervalSince(start)

        let session = SparkSession(address)
        let (reports, counts, codes, sparkRead, sparkLink, sparkCodes) = try blocking {
            try await session.connect { spark in
                var start = Date()
                let reports = try await SparkIngest(folder: path).reconcile(spark)
                let read = Date().timeIntervalSince(start)
                start = Date()
                let present = Set(reports.filter(\.present).map(\.file))
                let counts = try await SparkLinkage(asOf: asOf).link(spark, present: present)
                let link = Date().timeIntervalSince(start)
                start = Date()
                let codes = try await SparkCodes(asOf: asOf).facts(spark, library: library, present: present)
                return (reports, counts, codes, read, link, Date().timeIntervalSince(start))
            }
        }
        start = Date()
        let onSpark = codes.engine.evaluate(codes.facts, workers: workers)
        let sparkEvaluate = Date().timeIntervalSince(start)
        // The same LTC counts, person by person (persons matched by their key).
        let row = Dictionary(uniqueKeysWithValues: codes.people.enumerated().map { ($1, $0) })
        let conditionsAgree = (0..<spine.count).allSatisfy { p in
            let k = row[SparkLinkage.personKey(p, spine: spine, patients: extract.patients)]
            return k.map { onSpark.ltcCount[$0] == conditions.ltcCount[p] } ?? false
        }
        let events = population.clinical.day.count + population.prescriptions.day.count + population.activity.day.count
        let rows = extract.reconciliation.reduce(0) { $0 + $1.rowsIn }
        let agree =
            zip(reports, extract.reconciliation).allSatisfy {
                $0.rowsIn == $1.rowsIn && $0.accepted == $1.accepted && $0.quarantinedByRule == $1.quarantinedByRule
                    && $0.warnings == $1.warnings
            } && counts.persons == spine.count
        var linkedInProcess = 0
        for rule in linkage.rule where rule != .unlinked { linkedInProcess += 1 }
        let linkedOnSpark = counts.bySource.values.reduce(0) { $0 + $1.linked }
        print(
            "\(Console.number(rows)) rows, \(String(format: "%.0f", Double(extract.bytes) / 1e6)) MB, \(Console.number(spine.count)) people, \(Console.number(extract.care.count)) care records"
        )
        print("")
        print("| stage | in process, s (\(workers) workers) | Spark local, s (\(cores) cores) | Spark, microseconds per row per core |")
        print("|---|---|---|---|")
        print(
            String(
                format: "| read and check (9 files) | %.2f | %.2f | %.1f |", readSeconds, sparkRead,
                sparkRead * Double(cores) / Double(rows) * 1e6))
        print(
            String(
                format: "| spine and deterministic linkage | %.2f | %.2f | %.1f (per care record) |", linkSeconds, sparkLink,
                sparkLink * Double(cores) / Double(max(1, extract.care.count)) * 1e6))
        print(
            String(
                format: "| code matching and conditions (in process: events grouped, then evaluated) | %.2f | %.2f (%.2f evaluating the facts) | %.1f (per event) |",
                codeSeconds, sparkCodes + sparkEvaluate, sparkEvaluate,
                sparkCodes * Double(cores) / Double(max(1, events)) * 1e6))
        print("")
        print("counts agree: \(agree && linkedOnSpark == linkedInProcess ? "yes" : "NO")")
        print("LTC counts agree: \(conditionsAgree ? "yes" : "NO")")
    }

    /// The result of async work, handed to the waiting thread after a semaphore.
    final class Box<T>: @unchecked Sendable { var result: Result<T, any Error>? }

    /// Waits for async work from the benchmark's synchronous command.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}
