import ArgumentParser
import Foundation
import PHMCore
import Pipeline
import Risk
import Synthesis

extension PHMCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Time the pipeline on a synthetic population (build with -c release for real figures; use --people 1000000 for the reference benchmark)."
        )

        @OptionGroup var population: PopulationOptions

        @Option(help: "Folder for the synthetic input (reused when already written for the same size and seed).")
        var dir: String = "phm-bench"

        @OptionGroup var pipeline: PipelineOptions

        func run() throws {
            let (people, seed) = (population.people, population.seed)
            let input = "\(dir)/input-\(people)-\(seed)"
            let marker = URL(fileURLWithPath: input).appendingPathComponent("ground-truth/persons.csv")
            if !FileManager.default.fileExists(atPath: marker.path) {
                let start = Date()
                _ = try Console.synthesise(people: people, seed: seed, asOf: SyntheticHealthSystem.defaultAsOf, out: input)
                print(String(format: "synthesis: %.1fs", Date().timeIntervalSince(start)))
            }
            let result = try Console.runPipeline(
                input: input, asOf: SyntheticHealthSystem.defaultAsOf, out: "\(dir)/output", pipeline: pipeline)
            let s = result.summary
            print("| stage | seconds |")
            print("|---|---|")
            for stage in s.stages { print("| \(stage.name) | \(String(format: "%.2f", stage.seconds)) |") }
            print("| total | \(String(format: "%.2f", s.totalSeconds)) |")
            print("")
            print(
                "people on spine: \(Console.number(s.spinePersons)); rows read: \(Console.number(s.rowsIn)); bytes read: \(String(format: "%.0f", Double(s.bytesRead) / 1e6)) MB"
            )
            print("ingest throughput: \(String(format: "%.0f", s.ingestMegabytesPerSecond)) MB/s")
            print("")
            let current = result.risk.current.features
            print(
                "| model | training people x features | training seconds | scoring \(Console.number(current.rows)) people, seconds |"
            )
            print("|---|---|---|---|")
            for model in result.risk.models {
                let start = Date()
                _ = try model.risks(current, workers: pipeline.workers)
                let scoring = Date().timeIntervalSince(start)
                print(
                    "| \(model.outcome.rawValue) \(model.algorithm.rawValue) | \(Console.number(model.card.trainingPeople)) x \(model.features.count) | \(String(format: "%.2f", model.card.trainingSeconds)) | \(String(format: "%.2f", scoring)) |"
                )
            }
            print("peak memory (max RSS): \(String(format: "%.2f", Double(Bench.peakResidentBytes()) / 1e9)) GB")
        }

        /// Peak resident set size of this process, from getrusage (kilobytes on Linux).
        static func peakResidentBytes() -> Int {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Int(usage.ru_maxrss) * 1024
        }
    }
}
