import ArgumentParser
import Foundation
import Identity
import PHMCore
import Pipeline
import Synthesis

/// The `phm` command.
public struct PHMCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "phm",
        abstract: "Population health management: from linked health and care extracts to a pseudonymised population.",
        subcommands: [
            Run.self, Project.self, Evaluate.self, Synth.self, Demo.self, Model.self, Library.self, Cohort.self, Worklist.self,
            Users.self,
            Audit.self, Sharing.self, Serve.self, Publish.self, BackupCommand.self, Restore.self, Assurance.self,
        ])

    public init() {}
}

/// Options shared by the commands that run the pipeline (and the benchmark).
package struct PipelineOptions: ParsableArguments {
    package init() {}

    @OptionGroup var directory: DataDirectoryOptions

    package var dataDirectory: String { directory.dataDirectory }
    var config: String? { directory.config }

    @OptionGroup var logs: LogOptions

    @Option(
        help:
            "A PostgreSQL database for the store (postgresql://USER@HOST/DATABASE; password in $PGPASSWORD), in place of the data directory's phm.sqlite; also $PHM_STORE. Recorded in the data directory the first time, so later commands need not give it (see docs/architecture.md, The store on PostgreSQL)."
    )
    var store: String?

    @Option(
        help:
            "A PostgreSQL database for the identity vault (postgresql://USER@HOST/DATABASE; password in $PHM_VAULT_PGPASSWORD), in place of the data directory's vault/identity.sqlite; also $PHM_VAULT. A database of its own, apart from the store's, with its own user. Recorded in the data directory the first time (see docs/architecture.md, The store on PostgreSQL)."
    )
    var vault: String?

    @Option(
        name: .customLong("key-file"),
        help: "The pseudonymisation key file (default: $PHM_KEY_FILE or ~/.config/phm/pseudonymisation.key).")
    var keyFile: String?

    @Option(
        help:
            "CODE:NAME of the integrated care board or health board whose practices a FHIR export's registrations name, for an input without practices.csv (see docs/fhir.md)."
    )
    var organisation: String?

    /// `--organisation` as a unit of the hierarchy.
    var organisationUnit: Hierarchy.Unit? {
        get throws {
            guard let organisation else { return nil }
            let parts = organisation.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, (3...10).contains(parts[0].count),
                parts[0].allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }), !parts[1].isEmpty, parts[1].count <= 200
            else {
                throw ValidationError(
                    "--organisation takes CODE:NAME, an ODS code and a name, for example QWE:South West London ICB.")
            }
            return Hierarchy.Unit(code: parts[0], name: parts[1])
        }
    }

    @Option(help: "A condition definitions file (default: the shipped library; see docs/conditions.md).")
    var conditions: String?

    @Option(help: "A segmentation definitions file (default: the shipped segmentations; see docs/segments.md).")
    var segmentations: String?

    @Flag(
        inversion: .prefixedNo,
        help:
            "Suppress counts of 1 to 7 and round others to 5 in the planning outputs (see docs/segments.md); the web app serves only suppressed runs."
    )
    var suppress = true

    @Option(help: "A folder of saved risk models to score with (default: train models on this run's data).")
    var models: String?

    @Option(name: .customLong("model-seed"), help: "Seed of the split into training and held-out people.")
    var modelSeed: UInt64 = 42

    @Flag(
        name: .customLong("risk-area-features"),
        help:
            "Give the risk models each area indicator of areas.csv (air quality, green space, ...) as a feature. Off by default: a score that rises with where someone lives moves care towards places rather than needs (docs/risk.md)."
    )
    var riskAreaFeatures = false

    @Flag(
        name: .customLong("rising-across-runs"),
        help:
            "Rising risk compares each person's score with their score in the previous run, not with as-of minus 12 months (docs/risk.md)."
    )
    var risingAcrossRuns = false

    @Option(
        help:
            "How linkage's match weights use what the last run left in the identity vault: incremental (keep the model and every decision whose record and candidates are unchanged), relink (keep the model, score every record), reestimate (a new model from this run's data; see docs/pseudonymisation.md)."
    )
    var linkage = LinkageMode.incremental

    @Option(name: .customLong("workers"), help: "Worker threads (default: one per core).")
    var workerThreads: Int?

    @Option(
        help:
            "Seconds to wait for another run or a backup working in the data directory to finish (default: 0, fail at once).")
    var wait: Int?

    @Option(
        name: .customLong("projection-years"),
        help: "Years to project the population's need ahead (0: none; see docs/projections.md).")
    var projectionYears = 20

    @Option(name: .customLong("projection-draws"), help: "Runs drawn for the projection's 95% intervals.")
    var projectionDraws = 200

    @Option(
        help:
            "A scenarios file for the projection: changed incidence, activity rates or official population (see docs/projections.md)."
    )
    var scenarios: String?

    @Option(
        name: .customLong("keep-person-level-runs"),
        help:
            "Runs whose person-level outputs (persons.csv, quarantine, ...) are kept; older runs keep aggregates only (default: 2)."
    )
    var keepPersonLevelRuns: Int?

    @Option(name: .customLong("keep-output-runs"), help: "Runs whose output folder is kept at all (default: 24).")
    var keepOutputRuns: Int?

    @Option(name: .customLong("keep-frames"), help: "Runs whose person frames are kept (at least 2; default: 3).")
    var keepFrames: Int?

    /// How long earlier runs' data is kept.
    package var retention: Retention {
        let kept = Retention()
        return Retention(
            personLevelRuns: keepPersonLevelRuns ?? kept.personLevelRuns, outputRuns: keepOutputRuns ?? kept.outputRuns,
            frames: keepFrames ?? kept.frames)
    }

    /// The projection asked for.
    package var projection: ProjectionSettings {
        var settings = ProjectionSettings()
        settings.years = projectionYears
        settings.draws = projectionDraws
        settings.scenarios = scenarios.map { URL(fileURLWithPath: $0) }
        return settings
    }

    /// The worker threads asked for, or one per core.
    package var workers: Int {
        get { workerThreads ?? ProcessInfo.processInfo.activeProcessorCount }
        set { workerThreads = newValue }
    }

    package func validate() throws { try check() }

    /// Fills in what the command line left out from the environment and the configuration file
    /// (for `run` and `model`; `demo` and the benchmark take flags only), then checks the whole.
    mutating func resolve(_ sources: SettingSources) throws {
        func count(_ name: String, _ flag: Int?) throws -> Int? {
            try sources.value(name, flag: flag.map(String.init)) { Int($0) }
        }
        try directory.resolve(sources)
        store = try sources.text("store", flag: store)
        vault = try sources.text("vault", flag: vault)
        conditions = try sources.text("conditions", flag: conditions)
        segmentations = try sources.text("segmentations", flag: segmentations)
        workerThreads = try count("workers", workerThreads)
        wait = try count("wait", wait)
        keepPersonLevelRuns = try count("keep-person-level-runs", keepPersonLevelRuns)
        keepOutputRuns = try count("keep-output-runs", keepOutputRuns)
        keepFrames = try count("keep-frames", keepFrames)
        try logs.resolve(sources)
        try check()
    }

    func check() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1.") }
        _ = try organisationUnit
        // Each unit's draws are held together: 50 years of 1,000 draws is about 200 MB a unit.
        guard (0...50).contains(projectionYears) else { throw ValidationError("--projection-years must be 0 to 50.") }
        guard (1...1_000).contains(projectionDraws) else { throw ValidationError("--projection-draws must be 1 to 1,000.") }
        if let problem = retention.problem { throw ValidationError("Retention: \(problem).") }
    }

    /// The `--models` folder, for the commands that need saved models.
    func savedModels() throws -> URL {
        guard let models else { throw ValidationError("--models is required: the folder of saved models.") }
        return URL(fileURLWithPath: models)
    }

    var risk: RiskOptions {
        RiskOptions(models: models.map { URL(fileURLWithPath: $0) }, seed: modelSeed, areaFeatures: riskAreaFeatures)
    }
}

/// The input, as-of date and output folder of the commands that run the pipeline on extracts.
struct RunFolders: ParsableArguments {
    @Option(help: "The folder of extracts (see docs/input-contract.md).")
    var input: String

    @Option(
        name: .customLong("as-of"),
        help: "The as-of date, YYYY-MM-DD: history windows end the day before; models train on the year before it.")
    var asOf: Day

    @Option(help: "The output folder.")
    var out: String
}

/// The size and seed of a synthetic population, shared by `synth`, `demo` and the benchmark.
package struct PopulationOptions: ParsableArguments {
    package init() {}

    @Option(help: "People on the synthetic GP spine.")
    package var people: Int = 100_000

    @Option(help: "Random seed: the same seed writes the same files.")
    package var seed: UInt64 = 42

    @Option(
        help:
            "How much of the emergency admissions the records predict: full, weak (age, deprivation, long-term conditions and air quality only) or none."
    )
    package var signal: SynthesisOptions.Signal = .full

    @Option(name: .customLong("fault-rate"), help: "Malformed rows added per row written, per file (messier data).")
    var faultRate = 0.00005

    @Option(
        help:
            "How cleanly care records name their person: typical, or messy (NHS numbers missing by setting, name variants and swaps, transposed dates, house moves)."
    )
    package var identities: SynthesisOptions.Identities = .typical

    @Option(
        help:
            "How conditions arise before as-of: backdated (counts at as-of follow the seed's table) or forward (gained year by year under documented rates)."
    )
    package var onsets: SynthesisOptions.Onsets = .backdated

    @Option(
        name: .customLong("intervention-effect"),
        help:
            "Enrol adults with recent emergency admissions in a programme that changes their later emergency admissions by this share (-0.2: a fifth fewer; 0: none), listed in ground-truth/intervention.csv."
    )
    var interventionEffect: Double?

    package func validate() throws {
        guard people >= 100 else { throw ValidationError("--people must be at least 100.") }
        guard (0...0.5).contains(faultRate) else { throw ValidationError("--fault-rate must be between 0 and 0.5.") }
        if let effect = interventionEffect, !(-1...0).contains(effect) {
            throw ValidationError("--intervention-effect must be between -1 and 0.")
        }
    }

    /// The generator's options at an as-of date.
    package func synthesis(asOf: Day) -> SynthesisOptions {
        var options = SynthesisOptions(people: people, seed: seed, asOf: asOf)
        options.signal = signal
        options.faultRate = faultRate
        options.identities = identities
        options.onsets = onsets
        options.intervention = interventionEffect.map(SynthesisOptions.Intervention.init(effect:))
        return options
    }
}

extension SynthesisOptions.Signal: ExpressibleByArgument {}
extension SynthesisOptions.Identities: ExpressibleByArgument {}
extension SynthesisOptions.Onsets: ExpressibleByArgument {}
extension LinkageMode: ExpressibleByArgument {}

extension Day: ExpressibleByArgument {
    public init?(argument: String) { self.init(iso: argument) }
}

/// Parses the process arguments and runs the chosen command. Every file the platform creates
/// (store, vault, frames, outputs, keys) is readable by its owner only: sharing an output is a
/// decision an administrator makes, not a default.
public func runCommandLine() async {
    umask(0o077)
    await PHMCommand.main()
}
