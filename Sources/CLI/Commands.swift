import ArgumentParser
import Evaluation
import Foundation
import Gates
import Governance
import Hummingbird
import Identity
import Ingest
import Logging
import Outputs
import PHMCore
import Pipeline
import Projections
import Service
import Synthesis
import Web

extension PHMCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest a folder of extracts, link and pseudonymise it, and write the population outputs.")

        @OptionGroup var files: RunFolders
        @OptionGroup var pipeline: PipelineOptions

        @Option(
            help:
                "A data quality gates file: rules that stop the run before it publishes (default: $PHM_GATES, the configuration file, else none; see docs/data-quality.md)."
        )
        var gates: String?

        @Option(
            name: .customLong("accept-gate"),
            help: "Let the run go on although this gate fails (repeatable); needs --user, an IG lead. Audited.")
        var acceptGate: [String] = []

        @Option(help: "The IG lead accepting gates (password from $PHM_PASSWORD, or asked for).")
        var user: String?

        mutating func validate() throws {
            let sources = try SettingSources(file: pipeline.config)
            try pipeline.resolve(sources)
            gates = try sources.text("gates", flag: gates)
            if !acceptGate.isEmpty, user == nil { throw ValidationError("--accept-gate needs --user, an IG lead.") }
            if !acceptGate.isEmpty, gates == nil { throw ValidationError("--accept-gate needs --gates.") }
        }

        func run() throws {
            var options = try Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            options.gates = try gates.map { path in
                try Console.reportingFailures { try GateFile.read(URL(fileURLWithPath: path)) }
            }
            if let user, !acceptGate.isEmpty {
                options.acceptance = GateAcceptance(
                    user: user, password: try Secrets.password("PHM_PASSWORD", prompt: "password for \(user): "),
                    gates: acceptGate)
            }
            let logger = Console.logger(pipeline.logs)
            do {
                let result = try Console.reportingFailures { try PipelineRun.execute(options, logger: logger) }
                print(Console.summary(result))
            } catch {
                // A collector of JSON lines gets the failure as a record too, not only the line on the terminal.
                if pipeline.logs.json { logger.error("run failed: \(error)") }
                throw error
            }
        }
    }

    struct Project: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Project a run's population again under a scenarios file, from the basis the run kept: no person's record is read."
        )

        @Option(help: "The output folder of a run that projected (its --out).")
        var from: String

        @Option(help: "The folder to write projections.csv and projection.json to (not the run's own).")
        var out: String

        @Option(help: "A scenarios file (see docs/projections.md).")
        var scenarios: String?

        @Option(name: .customLong("projection-years"), help: "Years to project ahead.")
        var years = 20

        @Option(name: .customLong("projection-draws"), help: "Runs drawn for the 95% intervals.")
        var draws = 200

        @Flag(inversion: .prefixedNo, help: "Withhold figures under 8 and round others to 5, as in a run.")
        var suppress = true

        /// The data directory whose audit log records the projection.
        @OptionGroup var directory: DataDirectoryOptions

        mutating func validate() throws {
            try directory.resolve(SettingSources(file: directory.config))
            guard (1...50).contains(years) else { throw ValidationError("--projection-years must be 1 to 50.") }
            guard (1...1_000).contains(draws) else { throw ValidationError("--projection-draws must be 1 to 1,000.") }
        }

        func run() throws {
            try directory.useKeyFiles()
            var settings = ProjectionSettings()
            settings.years = years
            settings.draws = draws
            let summary = try Console.reportingFailures {
                try ProjectionWriter.reproject(
                    run: URL(fileURLWithPath: from), scenarios: scenarios.map { URL(fileURLWithPath: $0) }, settings: settings,
                    suppress: suppress, to: URL(fileURLWithPath: out),
                    dataDirectory: URL(fileURLWithPath: directory.dataDirectory))
            }
            print("projected \(years) years under \((summary.scenarios ?? []).map(\.id).joined(separator: ", ")) to \(out)")
            for warning in summary.warnings { print("  warning: \(warning)") }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Evaluate an intervention against the newest run: matched controls, balance, differences in differences (see docs/evaluation.md)."
        )

        @Argument(help: "An evaluation definition (YAML).")
        var definition: String

        @Option(help: "The folder to write the report and tables to.")
        var out: String

        @OptionGroup var directory: DataDirectoryOptions

        @Option(
            name: .customLong("key-file"),
            help:
                "The pseudonymisation key file, for a list of NHS numbers (default: $PHM_KEY_FILE or ~/.config/phm/pseudonymisation.key)."
        )
        var keyFile: String?

        mutating func validate() throws { try directory.resolve(SettingSources(file: directory.config)) }

        @Flag(
            inversion: .prefixedNo,
            help:
                "Publish for planning: perturbed counts, rounded means, rates and effects, capped outcomes (--no-suppress: exact figures, for direct analysis only)."
        )
        var suppress = true

        @Option(name: .customLong("workers"), help: "Worker threads (default: one per core).")
        var workers: Int?

        func run() throws {
            try directory.useKeyFiles()
            let keyFile = keyFile
            let result = try Console.reportingFailures {
                try EvaluationWriter.evaluate(
                    definition: URL(fileURLWithPath: definition), dataDirectory: URL(fileURLWithPath: directory.dataDirectory),
                    to: URL(fileURLWithPath: out),
                    key: { try PseudonymKey(contentsOf: keyFile.map { URL(fileURLWithPath: $0) } ?? KeyFiles.defaultLocation) },
                    suppress: suppress, workers: max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount))
            }
            print("evaluated '\(result.name)' against run \(result.runId); report in \(out)/\(EvaluationWriter.files.report)")
            for warning in result.warnings { print("  warning: \(warning)") }
            for e in result.effects {
                let label = e.negativeControl ? "\(e.outcome) (negative control)" : e.outcome
                let status = result.withheld ? " [withheld: balance failed]" : ""
                print(
                    "  \(label): \(e.relative.describe(percent: true)); naive \(e.naiveRelative.describe(percent: true))\(status)"
                )
            }
        }
    }

    /// CSV, or FHIR R4 JSON: how `phm synth` writes its system and `phm cohort members` its list.
    enum DataFormat: String, ExpressibleByArgument, CaseIterable {
        case csv, fhir
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic health system that follows the input contract, with its ground truth.")

        @OptionGroup var population: PopulationOptions

        @Option(name: .customLong("as-of"), help: "The as-of date the history is built around.")
        var asOf: Day = SyntheticHealthSystem.defaultAsOf

        @Option(help: "The folder to write.")
        var out: String

        @Option(
            help:
                "csv writes the input contract; fhir writes primary care as a FHIR Bulk Data export and the rest as CSV.")
        var format: DataFormat = .csv

        @Option(
            help:
                "Write this many monthly extracts (2 to 13), one folder per as-of date from --as-of on, cut from one system written to OUT/full."
        )
        var months: Int?

        @Option(
            name: .customLong("feed-drop"),
            help: "With --months: FILE:MONTH:SHARE withholds that share of the file's rows in that month's extract.")
        var feedDrop: String?

        @Option(
            name: .customLong("coding-change"),
            help:
                "With --months: PRACTICE:MONTH:SHARE makes that share of the practice's SNOMED codes local ones, from that month on."
        )
        var codingChange: String?

        func validate() throws {
            if months == nil, feedDrop != nil || codingChange != nil {
                throw ValidationError("--feed-drop and --coding-change need --months.")
            }
            if months != nil, format == .fhir { throw ValidationError("--months writes CSV only; leave out --format fhir.") }
            _ = try sequence()
        }

        /// The monthly sequence asked for, if any.
        func sequence() throws -> MonthlySequence? {
            guard let months else { return nil }
            func parts(_ text: String, _ option: String) throws -> (String, Int, Double) {
                let p = text.split(separator: ":", omittingEmptySubsequences: false)
                guard p.count == 3, let month = Int(p[1]), let share = Double(p[2]) else {
                    throw ValidationError("--\(option) takes NAME:MONTH:SHARE, for example inpatient_spells.csv:6:0.3.")
                }
                return (String(p[0]), month, share)
            }
            let sequence = MonthlySequence(
                months: months,
                feedDrop: try feedDrop.map { try parts($0, "feed-drop") }.map { .init(file: $0.0, month: $0.1, share: $0.2) },
                codingChange: try codingChange.map { try parts($0, "coding-change") }.map {
                    .init(practice: $0.0, month: $0.1, share: $0.2)
                })
            do { try MonthlyExtracts.check(sequence, population.synthesis(asOf: asOf)) } catch {
                throw ValidationError("\(error)")
            }
            return sequence
        }

        func run() throws {
            if let sequence = try sequence() {
                let summary = try Console.reportingFailures {
                    try MonthlyExtracts.write(sequence, population.synthesis(asOf: asOf), to: URL(fileURLWithPath: out))
                }
                print(
                    "wrote \(Console.number(summary.people)) people to \(out)/full and \(sequence.months) monthly extracts beside it (\(MonthlyExtracts.monthsFile))"
                )
                return
            }
            let options = population.synthesis(asOf: asOf)
            let summary = try Console.synthesise(options, out: out)
            print("wrote \(Console.number(summary.people)) people to \(out)")
            var counts = summary.rows.mapValues { ($0, "rows") }
            if format == .fhir {
                let resources = try Console.reportingFailures {
                    try BulkExportWriter.convert(
                        URL(fileURLWithPath: out), transactionTime: asOf, faultRate: options.faultRate, seed: options.seed)
                }
                counts = counts.filter { FileManager.default.fileExists(atPath: out + "/" + $0.key) }
                for (type, n) in resources { counts[type + ".ndjson"] = (n, "lines") }
            }
            for (file, (n, unit)) in counts.sorted(by: { $0.key < $1.key }) {
                print("  \(file): \(Console.number(n)) \(unit)")
            }
        }
    }

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Synthesise a population, run the pipeline on it, and print a summary; with --serve, add a demo user of each role and serve the web pages."
        )

        @OptionGroup var population: PopulationOptions

        @Option(help: "Folder for the synthetic input and the outputs.")
        var dir: String = "phm-demo"

        @OptionGroup var pipeline: PipelineOptions

        @Flag(help: "Then create demo users (printing their passwords) and serve the web pages.")
        var serve = false

        @Option(help: "The port to serve on.") var port = 8080

        /// A demo takes flags only: its synthetic run must never land in a deployment's data
        /// directory through the environment or a configuration file.
        func validate() throws {
            if pipeline.config != nil { throw ValidationError("phm demo takes no configuration file: give flags.") }
        }

        /// What a demo's outputs depend on, kept beside them (`DIR/demo.json`) so that serving the
        /// same demo again serves its run rather than making it anew.
        struct Settings: Codable, Equatable {
            var people: Int, seed: UInt64, signal: String, faultRate: Double, onsets: String?, identities: String?
            var conditions: String?, segmentations: String?, suppress: Bool, models: String?, modelSeed: UInt64
            var dataDirectory: String, keyFile: String?
            var projectionYears: Int, projectionDraws: Int, scenarios: String?
            var risingAcrossRuns: Bool?
            var runId: Int64?
        }

        var settings: Settings {
            func absolute(_ path: String?) -> String? { path.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
            return Settings(
                people: population.people, seed: population.seed, signal: population.signal.rawValue,
                faultRate: population.faultRate, onsets: population.onsets.rawValue,
                identities: population.identities == .typical ? nil : population.identities.rawValue,
                conditions: absolute(pipeline.conditions),
                segmentations: absolute(pipeline.segmentations), suppress: pipeline.suppress, models: absolute(pipeline.models),
                modelSeed: pipeline.modelSeed, dataDirectory: absolute(pipeline.dataDirectory) ?? "",
                keyFile: absolute(pipeline.keyFile), projectionYears: pipeline.projectionYears,
                projectionDraws: pipeline.projectionDraws, scenarios: absolute(pipeline.scenarios),
                risingAcrossRuns: pipeline.risingAcrossRuns ? true : nil)
        }

        /// The run an earlier demo with the same settings left current in the data directory.
        func earlierRun(_ platform: Platform) -> Publication? {
            let file = URL(fileURLWithPath: dir).appendingPathComponent("demo.json")
            guard let data = try? Data(contentsOf: file), var earlier = try? JSONDecoder().decode(Settings.self, from: data),
                let runId = earlier.runId, let publication = try? platform.publication(), publication.runId == runId
            else { return nil }
            earlier.runId = nil
            return earlier == settings ? publication : nil
        }

        func run() async throws {
            try pipeline.directory.useKeyFiles()
            try Console.reportingFailures {
                try Console.chooseStore(pipeline.store, vault: pipeline.vault, dataDirectory: pipeline.dataDirectory)
            }
            let platform = serve ? try Platform(dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory)) : nil
            let practice: String
            if let platform, let earlier = earlierRun(platform) {
                print(
                    "serving run \(earlier.runId), made by an earlier phm demo with the same settings (\(dir)/demo.json; delete it to run again)"
                )
                practice = earlier.units.first { $0.level == .practice }?.code ?? ""
            } else {
                let input = dir + "/input"
                _ = try Console.synthesise(population.synthesis(asOf: SyntheticHealthSystem.defaultAsOf), out: input)
                // Without a scenarios file of its own, the demo compares the example scenarios.
                var pipeline = pipeline
                if pipeline.scenarios == nil {
                    pipeline.scenarios = dir + "/scenarios.yaml"
                    try ScenarioFile.example.write(toFile: dir + "/scenarios.yaml", atomically: true, encoding: .utf8)
                }
                let result = try Console.runPipeline(
                    input: input, asOf: SyntheticHealthSystem.defaultAsOf, out: dir + "/output", pipeline: pipeline)
                print(Console.summary(result))
                var done = settings
                done.runId = result.summary.runId
                try JSONEncoder().encode(done).write(to: URL(fileURLWithPath: dir).appendingPathComponent("demo.json"))
                practice = result.prepared.population.hierarchy.practices[0].code
            }
            guard let platform else { return }
            do {
                let users = try platform.createDemoUsers(practiceCode: practice)
                print("\ndemo users (synthetic data only; the passwords are shown once):")
                for user in users {
                    print(
                        "  \(user.name) / \(user.password)  (\(user.role.rawValue)\(user.role == .clinician ? " at \(practice)" : ""))"
                    )
                }
            } catch AccessError.alreadySetUp {
                print("\nthis data directory already has users: sign in with yours")
            }
            print("open http://127.0.0.1:\(port)/login")
            // Standard output is buffered when it is a file or a pipe: the passwords must show now
            // (fflush(nil) flushes every stream).
            fflush(nil)
            var logger = Logger(label: "phm")
            logger.logLevel = .info
            try await WebApp.make(platform: platform, port: port, logger: logger).runService()
        }
    }
}
