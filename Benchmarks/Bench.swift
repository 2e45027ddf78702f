import ArgumentParser
import CLI
import Cohorts
import Dispatch
import Evaluation
import Foundation
import Ingest
import Outputs
import PHMCore
import Pipeline
import Risk
import SparkConnect
import Storage
import Synthesis

/// `phm-bench`: the platform's benchmarks, kept out of the `phm` command. Figures are for
/// release builds (`swift build -c release`) and are reported in docs/performance.md.
@main
struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "phm-bench",
            abstract:
                "Time the pipeline on a synthetic population (build with -c release for real figures; use --people 1000000 for the reference benchmark)."
        )

        @OptionGroup var population: PopulationOptions

        @Option(help: "Folder for the synthetic input (reused when already written for the same size and seed).")
        var dir: String = "phm-bench"

        @OptionGroup var pipeline: PipelineOptions

        @Option(help: "Folder for the whole run's outputs (default: DIR/output).")
        var out: String?

        @Flag(
            help:
                "Run the whole benchmark at 100,000, 300,000, 1,000,000 and 3,000,000 people, each in a process of its own with a fresh data directory and output folder, and print the figures of each.")
        var scaling = false

        @Flag(name: .customLong("cohorts-only"), help: "Time only the cohorts, on the latest run's frame in --data-dir.")
        var cohortsOnly = false

        @Flag(name: .customLong("json-only"), help: "Time only writing an API body as JSON.")
        var jsonOnly = false

        @Flag(
            name: .customLong("evaluation-only"),
            help: "Time only an evaluation of 10,000 exposed people, on the latest run's evaluation base in --data-dir.")
        var evaluationOnly = false

        @Flag(
            name: .customLong("linkage-only"),
            help:
                "Time only linkage, against the ground truth and beside Splink on the same files (with --identities messy for messier sources).")
        var linkageOnly = false

        @Flag(name: .customLong("without-splink"), help: "With --linkage-only, measure the platform alone.")
        var withoutSplink = false

        @Flag(
            name: .customLong("spine-only"),
            help:
                "Time only the spine (ingest, identity, population, utilisation) and the conditions, beside the same work as SQL on DuckDB.")
        var spineOnly = false

        @Flag(name: .customLong("without-duckdb"), help: "With --spine-only, measure the platform alone.")
        var withoutDuckDB = false

        @Flag(
            name: .customLong("fhir-only"),
            help: "Time only reading the synthetic system, written as a FHIR Bulk Data export and as CSV.")
        var fhirOnly = false

        @Option(
            name: .customLong("spark"),
            help:
                "Time only reading, checking and linking the extracts on this Spark Connect server (spark://HOST:PORT, started by scripts/spark), beside the same work in process.")
        var spark: String?

        @Option(name: .customLong("spark-cores"), help: "With --spark, the cores the server computes on (for the figures per core).")
        var sparkCores = 2

        func validate() throws {
            if scaling, jsonOnly || linkageOnly || spineOnly || fhirOnly || cohortsOnly || evaluationOnly {
                throw ValidationError("--scaling runs the whole benchmark at each size: leave out the --...-only options")
            }
        }

        func run() throws {
            if scaling { return try ScalingBench.run(arguments: Array(CommandLine.arguments.dropFirst())) }
            if jsonOnly { return try JSONBench.run() }
            if let spark {
                return try SparkBench.run(
                    population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf), dir: dir, workers: pipeline.workers,
                    address: try SparkAddress(spark), cores: sparkCores)
            }
            if linkageOnly {
                return try LinkageBench.run(
                    population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf), dir: dir, workers: pipeline.workers,
                    splink: !withoutSplink)
            }
            if spineOnly {
                return try SpineBench.run(
                    population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf), dir: dir, workers: pipeline.workers,
                    duckdb: !withoutDuckDB)
            }
            if fhirOnly {
                return try Bench.fhir(
                    population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf), dir: dir, workers: pipeline.workers)
            }
            if cohortsOnly { return try Bench.cohorts(dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory)) }
            if evaluationOnly {
                return try Bench.evaluation(dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory), workers: pipeline.workers)
            }
            let synthesis = population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf)
            let input = synthesis.benchFolder(in: dir)
            let marker = URL(fileURLWithPath: input).appendingPathComponent("ground-truth/persons.csv")
            if !FileManager.default.fileExists(atPath: marker.path) {
                let start = Date()
                _ = try Console.synthesise(synthesis, out: input)
                print(String(format: "synthesis: %.1fs", Date().timeIntervalSince(start)))
            }
            let result = try Console.runPipeline(
                input: input, asOf: SyntheticHealthSystem.defaultAsOf, out: out ?? "\(dir)/output", pipeline: pipeline)
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
            try Bench.cohorts(dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory))
            try Bench.evaluation(dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory), workers: pipeline.workers)
            print("peak memory (max RSS): \(String(format: "%.2f", Double(Bench.peakResidentBytes()) / 1e9)) GB")
        }

        /// Times five-criterion cohorts on the run's saved frame: p50 and p95 of 50 evaluations
        /// each, and the p50 of a profile as a request computes it (the population's half kept).
        /// Reading the same system as a FHIR export and as the contract's CSV files, three times
        /// each: the whole read, and the NDJSON files alone (their bytes over their own seconds).
        static func fhir(_ options: SynthesisOptions, dir: String, workers: Int) throws {
            let base = options.benchFolder(in: dir)
            for (folder, fhir) in [(base, false), (base + "-fhir", true)] {
                let marker = URL(fileURLWithPath: folder).appendingPathComponent("ground-truth/persons.csv")
                if !FileManager.default.fileExists(atPath: marker.path) {
                    _ = try Console.synthesise(options, out: folder)
                    if fhir {
                        _ = try BulkExportWriter.convert(
                            URL(fileURLWithPath: folder), transactionTime: options.asOf, faultRate: options.faultRate,
                            seed: options.seed)
                    }
                }
            }
            print("| input | MB | read, seconds | MB/s | NDJSON MB | NDJSON seconds | NDJSON MB/s |")
            print("|---|---|---|---|---|---|---|")
            for (folder, label) in [(base, "CSV"), (base + "-fhir", "FHIR")] {
                for _ in 0..<3 {
                    let start = Date()
                    let extract = try ExtractReader(folder: URL(fileURLWithPath: folder), workers: workers).read()
                    let seconds = Date().timeIntervalSince(start)
                    let ndjson = extract.reconciliation.filter { !$0.file.hasSuffix(".csv") }
                    let bytes = Double(ndjson.reduce(0) { $0 + $1.bytes }) / 1e6
                    let ndjsonSeconds = ndjson.reduce(0) { $0 + $1.seconds }
                    print(
                        "| \(label) | \(String(format: "%.0f", Double(extract.bytes) / 1e6)) | \(String(format: "%.2f", seconds)) | \(String(format: "%.0f", Double(extract.bytes) / 1e6 / seconds)) | "
                            + (ndjson.isEmpty
                                ? "- | - | - |"
                                : "\(String(format: "%.0f", bytes)) | \(String(format: "%.2f", ndjsonSeconds)) | \(String(format: "%.0f", bytes / ndjsonSeconds)) |"))
                }
            }
        }

        static func cohorts(dataDirectory: URL) throws {
            let loadStart = Date()
            var frame = try FrameFile.latest(dataDirectory: dataDirectory)
            print("")
            print(
                String(
                    format: "person frame: %@ people loaded in %.2fs", Console.number(frame.count),
                    Date().timeIntervalSince(loadStart)))
            // As a server opens it: record keys (random here, secret there) and measure caps.
            var generator = SystemRandomNumberGenerator()
            frame.recordKeys = (0..<frame.count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            frame.measureCaps = CohortProfile.caps(frame)
            frame.measureRows = CohortProfile.MeasureRows(frame)
            let locality = frame.hierarchy.localities[0].name, pcn = frame.hierarchy.pcns[0].code
            let definitions = [
                "locality = \"\(locality)\" and condition depression and latest bmi >= 30 within 24 months and age >= 18 and not condition dementia",
                "at least 2 of (condition diabetes, condition hypertension, condition copd) and imd_decile <= 2 and tier emergency_admission_12m >= high",
                "condition anxiety and condition depression and pcn = \(pcn) and emergency_admissions >= 1 and cost >= 1000",
                "condition depression and age >= 40", "age >= 0",
            ]
            print("")
            print("| cohort | people | p50 ms | p95 ms | profile p50 ms |")
            print("|---|---|---|---|---|")
            let everyone = Bitset(count: frame.count) { !frame.optedOut[$0] }
            // A server counts the population's half of a profile once per run.
            let population = CohortProfile.Tally(frame, rows: everyone)
            func median(_ times: [Double]) -> Double { times.sorted()[times.count / 2] }
            for text in definitions {
                let definition = try CohortText.parse(text)
                var times: [Double] = []
                var rows = Bitset(count: 0)
                for _ in 0..<50 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    rows = try CohortQuery(definition, frame: frame).evaluate(frame)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                }
                times.sort()
                rows.formIntersection(everyone)
                let profiles = (0..<21).map { _ in
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = CohortProfile(cohort: CohortProfile.Tally(frame, rows: rows), population: population)
                    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                }
                print(
                    "| `\(text)` | \(Console.number(rows.cardinality)) | \(String(format: "%.1f", times[24])) | \(String(format: "%.1f", times[47])) | \(String(format: "%.1f", median(profiles))) |"
                )
            }
        }

        /// Times an evaluation as `phm evaluate` runs it: 10,000 people exposed over six months,
        /// chosen (as a programme would) among those with recent emergency admissions, then others,
        /// against everyone else in the base, with the default options (1,000 bootstrap samples,
        /// every outcome).
        static func evaluation(dataDirectory: URL, workers: Int) throws {
            let loadStart = Date()
            let base = try EvaluationBaseFile.latest(dataDirectory: dataDirectory)
            let loading = Date().timeIntervalSince(loadStart)
            var rng = Xoshiro(seed: 2026)
            let first = base.asOf.monthNumber - 20
            var recent: [MatchedComparison.Exposure] = [], others: [MatchedComparison.Exposure] = []
            for p in 0..<base.count {
                let month = first + Int32(rng.int(0..<6))
                guard MatchedComparison.isEligible(base, p, month: month, options: EvaluationOptions()) else { continue }
                let admitted = base.events.rows(of: p).contains {
                    base.eventMeasure[$0] == UInt8(Measure.emergencyAdmissions.index) && base.eventMonth[$0] < month
                        && base.eventMonth[$0] >= month - 12
                }
                let exposure = MatchedComparison.Exposure(person: Int32(p), start: Day(firstOfMonth: month).adding(days: 9))
                if admitted { recent.append(exposure) } else { others.append(exposure) }
            }
            recent.shuffle(using: &rng)
            others.shuffle(using: &rng)
            let exposures = Array((recent + others).prefix(10_000))
            let start = Date()
            let (result, _) = try MatchedComparison.run(
                name: "bench", base: base, exposures: exposures, options: EvaluationOptions(), workers: workers)
            let seconds = Date().timeIntervalSince(start)
            let matched = result.steps.first { $0.step.hasPrefix("matched") }?.people ?? 0
            print("")
            print(
                String(
                    format: "evaluation: %@ exposed (%@ with recent emergency admissions) against %@ people: base loaded in %.2fs, evaluated in %.2fs; %@ matched",
                    Console.number(exposures.count), Console.number(min(recent.count, exposures.count)),
                    Console.number(base.count), loading, seconds, Console.number(matched)))
            // The same published for planning (random record keys stand in for the platform's).
            let keys = (0..<base.count).map { _ in UInt8(rng.int(0..<256)) }
            let planningStart = Date()
            _ = try MatchedComparison.run(
                name: "bench", base: base, exposures: exposures, options: EvaluationOptions(), recordKeys: keys,
                workers: workers)
            print(String(format: "evaluation for planning: %.2fs", Date().timeIntervalSince(planningStart)))
            // A place-based scheme at the first practice, with its synthetic control, for planning.
            var options = EvaluationOptions()
            options.outcomes = [.emergencyAdmissions]
            let place = try Exposures(
                place: .practice, codes: [base.hierarchy.practices[0].code], start: Day(firstOfMonth: base.asOf.monthNumber - 14),
                base: base, options: options)
            let placeStart = Date()
            let placed = try EvaluationResult.evaluate(
                name: "bench", base: base, exposures: place, options: options, recordKeys: keys, workers: workers)
            print(
                String(
                    format: "place of %@ people at one of %@ practices, one outcome, with its synthetic control (%@ donors), for planning: %.2fs",
                    Console.number(place.exposures.count), Console.number(base.hierarchy.practices.count),
                    Console.number(placed.syntheticControl.first?.donors ?? 0), Date().timeIntervalSince(placeStart)))
        }

        /// Peak resident set size of this process, from getrusage (kilobytes on Linux).
        static func peakResidentBytes() -> Int {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Int(usage.ru_maxrss) * 1024
        }
    }
