import Analysis
import Cohorts
import Conditions
import Dispatch
import Evaluation
import Foundation
import Gates
import Governance
import Identity
import Ingest
import Logging
import Outputs
import PHMCore
import Projections
import Risk
import Storage

/// What one run reads, where it writes, and how.
public struct RunOptions: Sendable {
    public var input: URL
    public var asOf: Day
    public var output: URL
    public var dataDirectory: URL
    /// The pseudonymisation key file; see `KeyFiles.resolve`.
    public var keyFile: URL?
    /// The condition definitions file; the shipped library when nil.
    public var conditions: URL?
    /// The segmentation definitions file; the shipped segmentations (Bridges to Health) when nil.
    public var segmentations: URL?
    /// Small-number suppression of the planning outputs (on unless switched off).
    public var suppress: Bool
    public var risk: RiskOptions
    public var workers: Int
    public var progress: ProgressHandler?
    /// The projection of need ([projections.md](../../docs/projections.md)).
    public var projection = ProjectionSettings()
    /// Data quality gates that stop the run ([data-quality.md](../../docs/data-quality.md)); none when nil.
    public var gates: GateFile?
    /// Failing gates an IG lead lets the run pass, with who they are.
    public var acceptance: GateAcceptance?
    /// How long earlier runs' data is kept.
    public var retention = Retention()
    /// Rising risk compares each person's score with their score in the previous run (matched
    /// by pseudonym) rather than with the same model's score 12 months before as-of.
    public var risingAcrossRuns = false
    /// How match weights use the model and decisions an earlier run left (`LinkageState`).
    public var linkage = LinkageMode.incremental
    /// The organisation a FHIR export's practices belong to, for a folder without `practices.csv`.
    public var organisation: Hierarchy.Unit?
    /// Seconds to wait for another run or a backup working in the data directory to finish
    /// (0: fail at once).
    public var lockWait: TimeInterval = 0

    public init(
        input: URL, asOf: Day, output: URL, dataDirectory: URL = URL(fileURLWithPath: "phm-data"), keyFile: URL? = nil,
        conditions: URL? = nil, segmentations: URL? = nil, suppress: Bool = true, risk: RiskOptions = .init(),
        workers: Int = ProcessInfo.processInfo.activeProcessorCount, progress: ProgressHandler? = nil
    ) {
        self.conditions = conditions
        self.segmentations = segmentations
        self.suppress = suppress
        self.risk = risk
        self.input = input
        self.asOf = asOf
        self.output = output
        self.dataDirectory = dataDirectory
        self.keyFile = keyFile
        self.workers = workers
        self.progress = progress
    }
}

/// What a run leaves in memory for the caller (demo, benchmark, tests).
public struct RunResult: Sendable {
    public var summary: RunSummary
    /// The population and what was derived from it before risk: use, conditions, reports.
    public var prepared: PreparedRun
    public var risk: RiskResult
    public var segments: SegmentAssignments
}

/// The population of one run, built and summarised, before risk and outputs.
public struct PreparedRun: Sendable {
    public var runId: Int64
    public var population: Population
    public var utilisation: Utilisation
    public var library: ConditionLibrary
    public var conditions: ConditionResults
    public var segmentations: [Segmentation]
    public var registered: [Int]
    /// The registered people planning outputs count: everyone without a National Data Opt-out.
    public var planningPeople: [Int]
    /// The population from the sources shared for direct care, when they differ from planning's.
    public var directCare: Population?
    public var reconciliation: ReconciliationReport
    public var linkage: LinkageReport
    /// The data quality figures of what was read.
    public var quality: QualityReport
    public var quarantine: [QuarantinedRow]
    public var spinePersons: Int
    public var bytesRead: Int
    /// For each care record of the extract, its record id and linked person (tests measure linkage with it).
    public var careRecordIds: [String]
    public var carePerson: [Int32]
    public var careRule: [LinkRule]
    /// For each spine person, the GP patient ids of their registrations.
    public var registrationIds: [[String]]
}

extension PreparedRun {
    /// Every unit of the hierarchy with its planning people.
    public var planningUnits: [PlanningUnit] { population.units { !population.optedOut[$0] } }
}

/// Records the time each stage of a run takes.
public struct StageClock: Sendable {
    public private(set) var stages: [RunSummary.Stage] = []
    /// Which model scores each outcome: the risk stage's choices, reported with the timings.
    public var riskChoices: [RunSummary.RiskChoice]?
    /// How the population changed since the previous run, reported with the timings.
    public var changes: RunChanges?
    public init() {}

    public mutating func time<T>(_ name: String, _ work: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try work()
        stages.append(.init(name: name, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        return value
    }
}

extension Logger {
    /// A logger that writes nothing: the default of the library's entry points, for callers
    /// (tests, the benchmark) that do not want a run's progress.
    public static let silent = Logger(label: "phm", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// One run: ingest, identify, build the population, summarise use and cost, stratify risk, write outputs.
public enum PipelineRun {
    public static func execute(_ options: RunOptions, logger: Logger = .silent) throws -> RunResult {
        try recorded(options, history: true, logger: logger) { prepared, options, clock in
            // The previous run's frame: what this run is compared with, person by person.
            let previousRun = try ComparisonWriter.previousRun(options.dataDirectory, before: options.asOf)
            let previous = try clock.time("previous run") {
                try previousRun.map { try ComparisonWriter.frame(options.dataDirectory, run: $0) }
            }
            var risk = try RiskStage.run(prepared, options: options, clock: &clock, logger: logger)
            if options.risingAcrossRuns {
                if let previous {
                    risk.stratification.compare(with: previous, population: prepared.population)
                } else {
                    logger.info("rising risk: no earlier run to compare with, so it compares with as-of minus 12 months")
                }
            }
            let population = prepared.population
            let emergency = risk.stratification.scores[.emergencyAdmission]
            let facts = personFacts(prepared, risk: risk.stratification)
            var frame = clock.time("frame") { FrameBuilder.build(prepared, risk: risk.stratification) }
            clock.changes = try clock.time("run comparison") {
                try ComparisonWriter.write(
                    current: frame, previous: previous, units: prepared.planningUnits, suppress: options.suppress,
                    to: options.output)
            }
            // Segments are cohorts: evaluated on the frame, then saved in it.
            let segments = try clock.time("segments") {
                try SegmentAssignments(
                    prepared.segmentations, frame: frame, people: prepared.registered, count: population.count)
            }
            frame.segmentations = FrameBuilder.segmentColumns(segments, rows: prepared.registered)
            try clock.time("frame save") { try FrameFile.save(frame, dataDirectory: options.dataDirectory) }
            try clock.time("evaluation base") {
                let base = EvaluationBase(
                    runId: prepared.runId, population: population, conditions: prepared.conditions,
                    library: prepared.library, workers: options.workers)
                try EvaluationBaseFile.save(base, dataDirectory: options.dataDirectory)
            }
            if let directCare = prepared.directCare {
                try directCareFrame(
                    prepared, population: directCare, previousRun: options.risingAcrossRuns ? previousRun : nil,
                    options: options, clock: &clock, logger: logger)
            }
            let units = prepared.planningUnits
            try clock.time("outputs") {
                let fm = FileManager.default
                try fm.createDirectory(at: options.output, withIntermediateDirectories: true)
                try Published.reconciliation.write(prepared.reconciliation, to: options.output)
                try Published.linkage.write(prepared.linkage, to: options.output)
                try? fm.removeItem(at: options.output.appendingPathComponent(PersonFiles.quarantine))
                try OutputWriter.writeQuarantine(prepared.quarantine, to: options.output)
                try OutputWriter.writePersons(
                    population, prepared.utilisation, prepared.conditions, prepared.library, risk.stratification, segments,
                    registered: prepared.planningPeople, to: options.output.appendingPathComponent(PersonFiles.persons),
                    workers: options.workers)
                try OutputWriter.writePersonConditions(
                    population, prepared.conditions, prepared.library, registered: prepared.planningPeople,
                    to: options.output.appendingPathComponent(PersonFiles.personConditions.file))
                try Published.codes.write(CodeReport(prepared.conditions, prepared.library), to: options.output)
                try RiskWriter.writeModels(risk.models, suppress: options.suppress, to: options.output)
                try RiskWriter.writeSummaries(
                    risk.stratification, units: units, suppress: options.suppress, to: options.output)
            }
            try clock.time("tables") {
                try TableWriter.write(
                    population: population, units: units, use: prepared.utilisation, conditions: prepared.conditions,
                    risk: risk.stratification, suppress: options.suppress, to: options.output)
            }
            try clock.time("planning") {
                try PlanningWriter.writeAll(
                    units: units, facts: facts, library: prepared.library, segments: segments, risk: emergency?.risk,
                    suppress: options.suppress, to: options.output)
            }
            try clock.time("projection") { try ProjectionWriter.write(prepared, units: units, options: options) }
            return { summary in
                RunResult(summary: summary, prepared: prepared, risk: risk, segments: segments)
            }
        }
    }

    /// Derives everything again from the sources shared for direct care (use, conditions, risk
    /// models and scores, segments) and saves it as the run's direct care frame.
    static func directCareFrame(
        _ prepared: PreparedRun, population: Population, previousRun: Int64?, options: RunOptions, clock: inout StageClock,
        logger: Logger
    ) throws {
        var derived = prepared
        derived.population = population
        derived.directCare = nil
        (derived.utilisation, derived.conditions) = derive(
            population, library: prepared.library, options: options, clock: &clock, stage: "direct care ")
        logger.info("direct care: risk models trained again on the sources shared for direct care")
        var risk = try RiskStage.run(derived, options: options, clock: &clock, logger: logger)
        // Rising across runs: against the previous run's direct care scores (its planning ones
        // when it had no frame of its own for direct care).
        if let previousRun {
            let previous = try ComparisonWriter.frame(
                options.dataDirectory, run: previousRun, variant: Purpose.directCare.rawValue)
            risk.stratification.compare(with: previous, population: population)
        }
        try clock.time("direct care frame") {
            var frame = FrameBuilder.build(derived, risk: risk.stratification)
            let segments = try SegmentAssignments(
                derived.segmentations, frame: frame, people: derived.registered, count: population.count)
            frame.segmentations = FrameBuilder.segmentColumns(segments, rows: derived.registered)
            try FrameFile.save(frame, dataDirectory: options.dataDirectory, variant: Purpose.directCare.rawValue)
        }
    }

    /// Use and cost in the 12 months before as-of, and conditions: what every purpose's results
    /// are derived from.
    static func derive(
        _ population: Population, library: ConditionLibrary, options: RunOptions, clock: inout StageClock, stage: String = ""
    ) -> (Utilisation, ConditionResults) {
        let utilisation = clock.time(stage + "utilisation") {
            Utilisation(population, window: .months(12, before: options.asOf), workers: options.workers)
        }
        let conditions = clock.time(stage + "conditions") {
            ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: options.workers)
        }
        return (utilisation, conditions)
    }

    /// What segment rules read about each person, with the emergency admission risk.
    static func personFacts(_ prepared: PreparedRun, risk: Stratification) -> PersonFacts {
        let emergency = risk.scores[.emergencyAdmission]
        return PersonFacts(
            population: prepared.population, conditions: prepared.conditions, use: prepared.utilisation,
            highRisk: emergency.map { $0.tier.map { ($0 ?? .low) >= .high } }, previousRisk: emergency?.previousRisk)
    }

    /// Prepares a run, hands it to `body`, and records the run's outcome and summary in the store.
    ///
    /// `body` does the run's own work and returns how to build its result from the summary. A run
    /// of the `history` (the monthly pipeline, not a model command) is measured against the
    /// earlier runs and its gates, and its data quality figures join the history.
    public static func recorded<T>(
        _ options: RunOptions, history: Bool = false, logger: Logger,
        _ body: (PreparedRun, RunOptions, inout StageClock) throws -> (RunSummary) -> T
    ) throws -> T {
        var clock = StageClock()
        // Definitions are checked before any data is read, so a typo fails fast.
        let library = try options.conditions.map { try ConditionLibrary.load(definitions: $0) } ?? ConditionLibrary.standard()
        let segmentations =
            try [Segmentation.ltcByAge]
            + (options.segmentations.map { try Segmentation.load(definitions: $0, library: library) }
                ?? Segmentation.standard(library: library))
        var options = options
        if let url = options.projection.scenarios, options.projection.years > 0 {
            let file = try ScenarioFile.read(
                url, conditions: library.conditions.map(\.id), changesState: PersonStates.changesState(in: library))
            try file.check(asOf: options.asOf, years: options.projection.years)
            options.projection.scenarioFile = file
        }
        let key = try KeyFiles.resolve(
            options.keyFile, protecting: [options.dataDirectory, options.input, options.output], logger: logger)
        if let problem = options.retention.problem { throw RetentionInvalid(message: "retention: \(problem)") }
        let lock = try RunLock(dataDirectory: options.dataDirectory, wait: options.lockWait) {
            logger.notice("waiting up to \(Int(options.lockWait)) s for another run or a backup in \(options.dataDirectory.path)")
        }
        defer { withExtendedLifetime(lock) {} }
        let store = try RunStore(directory: options.dataDirectory)
        for id in try store.markInterrupted(at: Date()) { logger.warning("run \(id) was interrupted before it finished") }
        var record = RunRecord(
            startedAt: Date(), asOf: options.asOf.description, inputFolder: options.input.path,
            outputFolder: options.output.path, status: "running")
        let runId = try store.begin(record)
        record.id = runId
        // Outputs go to the run's own folder, made current only when the run is complete.
        let publisher = RunPublisher(output: options.output, runId: runId, retention: options.retention)
        record.outputFolder = publisher.folder.path
        var staged = options
        staged.output = publisher.staging
        do {
            try store.update(record)
            // A run killed between putting its outputs in place and its frames never became
            // current: no frame of it was committed, and it did not succeed.
            let framed = Set(FrameFile.runs(dataDirectory: options.dataDirectory))
            let abandoned = try store.runs().filter { run in
                run.status != "succeeded" && run.id.map { $0 != runId && !framed.contains($0) } == true
            }
            try publisher.prepare(
                dataDirectory: options.dataDirectory, abandoned: abandoned.map { URL(fileURLWithPath: $0.outputFolder) })
            let governance = GovernanceStore(
                runs: store, directory: options.dataDirectory, key: try PlatformKey.load(dataDirectory: options.dataDirectory))
            let sharing = try governance.sharing()
            // A run writes planning outputs and a frame: an export, so it is audited too.
            let entry = try governance.audit(
                user: "pipeline", role: "system", purpose: Purpose.planning.rawValue, action: "run", outcome: "allowed",
                detail: "{\"run\":\(runId)}")
            if try !governance.advanceAnchor(to: entry) {
                logger.error("the audit log no longer holds its anchored entry: run `phm audit verify`")
            }
            let acceptor = try options.acceptance.map {
                try $0.authorise(gates: options.gates, governance: governance, runId: runId)
            }
            let prepared = try prepare(
                staged, runId: runId, library: library, segmentations: segmentations, key: key, sharing: sharing,
                clock: &clock, logger: logger)
            // The history: the latest run of each earlier as-of date (a month run again replaces its first run).
            let earlier =
                history
                ? try store.succeededResults(QualityReport.self, named: "quality").filter {
                    $0.value.asOf < options.asOf.description
                }
                .reduce(into: [String: (runId: Int64, value: QualityReport)]()) { $0[$1.value.asOf] = $1 }.values
                .sorted { $0.value.asOf < $1.value.asOf } : []
            let gates =
                history
                ? try checkGates(
                    prepared.quality, earlier: earlier.map(\.value), options: options, acceptor: acceptor, governance: governance,
                    store: store, runId: runId, logger: logger) : []
            let finish = try body(prepared, staged, &clock)
            let r = prepared.reconciliation
            var summary = RunSummary(
                runId: runId, asOf: options.asOf.description, spinePersons: prepared.spinePersons,
                registeredPeople: prepared.registered.count, planningPeople: prepared.planningPeople.count, rowsIn: r.rowsIn,
                rowsAccepted: r.accepted,
                rowsQuarantined: r.quarantined, reconciliationBalanced: r.balanced, careRecords: prepared.linkage.records,
                careRecordsLinked: prepared.linkage.linked, sourcesPresent: r.sourcesPresent, bytesRead: prepared.bytesRead,
                stages: clock.stages, outputFolder: options.output.path, riskChoices: clock.riskChoices)
            summary.changes = clock.changes
            summary.suppressed = options.suppress
            if history {
                summary.quality = prepared.quality
                summary.gates = gates
            }
            try Published.run.write(summary, to: staged.output)
            if history {
                try Published.quality.write(
                    QualityHistory(
                        earlier: earlier.map { (QualityHistory.Run(runId: $0.runId, asOf: $0.value.asOf), $0.value) },
                        current: (QualityHistory.Run(runId: runId, asOf: options.asOf.description), prepared.quality),
                        gates: gates),
                    to: staged.output)
            }
            try publisher.commit(dataDirectory: options.dataDirectory) {
                try store.save(r, named: "reconciliation", run: runId)
                try store.save(prepared.linkage, named: "linkage", run: runId)
                try store.save(summary, named: "summary", run: runId)
                record.finishedAt = Date()
                record.status = "succeeded"
                record.registeredPeople = prepared.registered.count
                record.rowsIn = r.rowsIn
                record.rowsQuarantined = r.quarantined
                try store.update(record)
            }
            return finish(summary)
        } catch {
            record.finishedAt = Date()
            record.status = error is GateStopped ? "stopped" : "failed"
            try? store.update(record)
            try? FileManager.default.removeItem(at: publisher.staging)
            try? IdentityVault(directory: options.dataDirectory.appendingPathComponent("vault")).discard(run: runId)
            throw error
        }
    }

    /// Checks the gates against this run's figures and earlier runs', lets an IG lead's accepted
    /// ones pass (each acceptance audited), keeps the figures and outcomes in the store whatever
    /// happens, and stops the run if any gate still fails.
    static func checkGates(
        _ quality: QualityReport, earlier: [QualityReport], options: RunOptions, acceptor: String?,
        governance: GovernanceStore, store: RunStore, runId: Int64, logger: Logger
    ) throws -> [GateOutcome] {
        var outcomes = options.gates?.check(quality, earlier: earlier) ?? []
        for i in outcomes.indices where outcomes[i].result == .failed {
            guard let acceptor, options.acceptance?.gates.contains(outcomes[i].gate) == true else { continue }
            outcomes[i].result = .accepted
            outcomes[i].acceptedBy = acceptor
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let detail = try encoder.encode(
                GateAcceptance.Detail(
                    run: runId, gate: outcomes[i].gate, subject: outcomes[i].subject.description, figure: outcomes[i].figure,
                    value: outcomes[i].value, baseline: outcomes[i].baseline))
            try governance.audit(
                user: acceptor, role: Role.igLead.rawValue, purpose: Purpose.administration.rawValue, action: "accept_gate",
                outcome: "allowed", detail: String(decoding: detail, as: UTF8.self))
        }
        for outcome in outcomes where outcome.result != .passed {
            let message: Logger.Message = "gate \(outcome.gate): \(outcome.result.rawValue): \(outcome.message)"
            if outcome.result == .failed { logger.warning(message) } else { logger.notice(message) }
        }
        try store.save(quality, named: "quality", run: runId)
        try store.save(outcomes, named: "gates", run: runId)
        let failed = outcomes.filter { $0.result == .failed }
        if !failed.isEmpty { throw GateStopped(runId: runId, failed: failed) }
        return outcomes
    }

    /// Ingest, identity, the vault, the population, utilisation and conditions.
    static func prepare(
        _ options: RunOptions, runId: Int64, library: ConditionLibrary, segmentations: [Segmentation], key: PseudonymKey,
        sharing: SharingSettings, clock: inout StageClock,
        logger: Logger
    ) throws -> PreparedRun {
        let reader = ExtractReader(
            folder: options.input, workers: options.workers, progress: options.progress, organisation: options.organisation)
        var extract = try clock.time("ingest") { try reader.read() }
        logger.info(
            "ingest: \(extract.reconciliation.reduce(0) { $0 + $1.rowsIn }) rows from \(extract.reconciliation.filter(\.present).count) files"
        )

        let (spine, pseudonyms, deterministic) = clock.time("identity") {
            identify(extract, asOf: options.asOf, key: key, workers: options.workers)
        }
        // Then match weights for the records the rules left unlinked, with the model and the
        // decisions the last run left in the vault where they still hold.
        // Reviewers' judgements of earlier undecided records apply too.
        var linkageState: LinkageState?
        var reviewQueue: [ReviewPair] = []
        let linkage = try clock.time("match weights") { () -> Linkage in
            var linkage = deterministic
            guard linkage.rule.contains(where: { $0 == .unlinked || $0 == .nhsNumberAndName }) else { return linkage }
            let identityVault = try IdentityVault(directory: options.dataDirectory.appendingPathComponent("vault"))
            let previous = options.linkage == .reestimate ? nil : try identityVault.linkage().flatMap(LinkageState.init)
            var reviews: [IdentityDigest: [String: Bool]] = [:]
            for decision in try identityVault.reviewDecisions() {
                guard let digest = IdentityDigest(bytes: Array(decision.identity)) else { continue }
                reviews[digest, default: [:]][decision.person] = decision.same
            }
            let linker = ProbabilisticLinker(
                patients: extract.patients, spine: spine, pseudonyms: pseudonyms, workers: options.workers)
            let outcome = linker.link(
                extract.care, &linkage, workers: options.workers, previous: previous, mode: options.linkage,
                reviews: reviews, run: runId, asOf: options.asOf)
            linkage.probabilistic = outcome.report
            linkageState = outcome.state
            reviewQueue = reviewPairs(outcome.queue, extract: extract, runId: runId)
            let report = outcome.report
            logger.info(
                "match weights: the model of run \(outcome.state.model.estimatedInRun) (\(outcome.state.model.estimatedAsOf)); \(report.decisionsReused ?? 0) of \(report.scored) records kept their earlier decision, \(report.linkedByReview ?? 0) linked by review, \(report.queuedForReview ?? 0) identities queued for review"
            )
            return linkage
        }
        let vault = clock.time("vault") {
            vaultEntries(extract.patients, spine: spine, pseudonyms: pseudonyms, hierarchy: extract.hierarchy)
        }
        // The vault is written on its own thread while the population is built.
        let specs = Dictionary(uniqueKeysWithValues: InputContract.all.map { ($0.name, $0) })
        let vaultRows = extract.quarantine.filter { specs[$0.file]?.hasIdentifyingColumns == true }
            .map { VaultQuarantinedRow(runId: runId, file: $0.file, line: $0.line, rawLine: $0.rawLine) }
        let vaultWrite = BackgroundWork { [dataDirectory = options.dataDirectory, linkageState, reviewQueue] in
            let identityVault = try IdentityVault(directory: dataDirectory.appendingPathComponent("vault"))
            try identityVault.stageIdentities(vault)
            try identityVault.addQuarantined(vaultRows)
            try identityVault.stageLinkage(
                linkageState?.stored, newModel: linkageState?.model.estimatedInRun == runId, queue: reviewQueue)
        }
        let everything = clock.time("population") {
            PopulationBuilder.build(
                extract: extract, spine: spine, linkage: linkage, pseudonyms: pseudonyms, asOf: options.asOf)
        }
        // The data sharing settings decide which sources each purpose's results are built from.
        let planningSources = sharing.sources(for: .planning), directCareSources = sharing.sources(for: .directCare)
        let population = everything.restricted(to: planningSources)
        let directCare = directCareSources == planningSources ? nil : everything.restricted(to: directCareSources)
        let withoutNHSNumber = vault.map { $0.nhsNumber == nil }
        let linkageReport = LinkageReport(
            extract: extract,
            spine: .init(
                registrations: spine.personOfRegistration.count, persons: spine.count,
                personsWithoutValidNHSNumber: withoutNHSNumber.filter { $0 }.count,
                registeredAtAsOf: population.registered.count),
            linkage: linkage, asOf: options.asOf, suppress: options.suppress)
        let registrationIds = (0..<spine.count).map { p in
            spine.registrations[Int(spine.registrationStart[p])..<Int(spine.registrationStart[p + 1])].map {
                extract.patients.patientId[Int($0)]
            }
        }
        // Identifying fields are not needed past this point.
        extract.patients = PatientRecords()

        let (utilisation, conditions) = derive(population, library: library, options: options, clock: &clock)
        let quality = clock.time("data quality") {
            DataQuality.measure(
                extract: extract, withoutNHSNumber: withoutNHSNumber, linkage: linkage, population: population,
                planningSources: planningSources, conditions: conditions, asOf: options.asOf, suppress: options.suppress)
        }
        let registered = population.registered
        try clock.time("vault wait") { try vaultWrite.wait() }
        return PreparedRun(
            runId: runId, population: population, utilisation: utilisation, library: library, conditions: conditions,
            segmentations: segmentations, registered: registered,
            planningPeople: registered.filter { !population.optedOut[$0] }, directCare: directCare,
            reconciliation: ReconciliationReport(extract),
            linkage: linkageReport, quality: quality,
            quarantine: extract.quarantine, spinePersons: spine.count, bytesRead: extract.bytes,
            careRecordIds: extract.care.recordId, carePerson: linkage.person, careRule: linkage.rule,
            registrationIds: registrationIds)
    }

    /// The people of the GP spine, their pseudonyms, and the care records linked to them by the
    /// deterministic rules.
    public static func identify(_ extract: Extract, asOf: Day, key: PseudonymKey, workers: Int) -> (
        spine: Spine, pseudonyms: [String], linkage: Linkage
    ) {
        let spine = Spine(patients: extract.patients, asOf: asOf)
        let parts = Parallel.ranges(spine.count, parts: workers * 4)
        let patients = extract.patients
        let pseudonyms = Parallel.map(parts.count) { k in
            parts[k].map { p -> String in
                let r = Int(spine.registrationOfPerson[p])
                let nhs = patients.nhsNumber[r]
                return nhs != 0 ? key.pseudonym(nhsNumber: nhs) : key.pseudonym(patientId: patients.patientId[r])
            }
        }.flatMap { $0 }
        return (spine, pseudonyms, Linker(patients: extract.patients, spine: spine).link(extract.care, workers: workers))
    }

    /// The review queue as the vault keeps it: each undecided record beside its candidates'
    /// registrations, numbered from 1.
    static func reviewPairs(_ queue: [ReviewItem], extract: Extract, runId: Int64) -> [ReviewPair] {
        let care = extract.care, patients = extract.patients
        return queue.enumerated().map { i, item in
            let r = item.row
            let record = ReviewPair.Side(
                nhsNumber: care.nhsNumber[r] == 0 ? nil : NHSNumber.text(care.nhsNumber[r]), givenName: care.givenName[r],
                familyName: care.familyName[r],
                dateOfBirth: care.dateOfBirth[r] == .missing ? "" : care.dateOfBirth[r].description,
                sex: care.sex[r]?.code ?? "", postcode: care.postcode[r])
            let candidates = item.candidates.map { c in
                let g = c.registration
                return ReviewPair.Candidate(
                    person: c.person, probability: c.probability,
                    practiceCode: extract.hierarchy.practices[Int(patients.practice[g])].code,
                    registration: ReviewPair.Side(
                        nhsNumber: patients.nhsNumber[g] == 0 ? nil : NHSNumber.text(patients.nhsNumber[g]),
                        givenName: NameKey.normalise(patients.givenName[g]),
                        familyName: NameKey.normalise(patients.familyName[g]),
                        dateOfBirth: patients.dateOfBirth[g] == .missing ? "" : patients.dateOfBirth[g].description,
                        sex: patients.sex[g].code, postcode: patients.postcode[g]),
                    levels: c.levels)
            }
            return ReviewPair(
                id: Int64(i + 1), runId: runId, identity: Data(item.identity.bytes), source: LinkageReport.file(of: care.kind[r]),
                recordId: care.recordId[r], records: item.records, record: record, candidates: candidates,
                linkedByNHSNumber: item.linkedByNHSNumber)
        }
    }

    static func vaultEntries(_ patients: PatientRecords, spine: Spine, pseudonyms: [String], hierarchy: Hierarchy) -> [VaultEntry]
    {
        (0..<spine.count).map { p in
            let r = Int(spine.registrationOfPerson[p])
            let regs = spine.registrations[Int(spine.registrationStart[p])..<Int(spine.registrationStart[p + 1])]
            let nhs = patients.nhsNumber[r]
            return VaultEntry(
                pseudonym: pseudonyms[p], nhsNumber: nhs == 0 ? nil : NHSNumber.text(nhs), givenName: patients.givenName[r],
                familyName: patients.familyName[r], dateOfBirth: patients.dateOfBirth[r].description,
                postcode: patients.postcode[r],
                practiceCode: hierarchy.practices[Int(patients.practice[r])].code,
                patientIds: regs.map { patients.patientId[Int($0)] }.joined(separator: "|"))
        }
    }
}

/// Work started on a thread of its own; `wait()` returns its result or rethrows its error.
final class BackgroundWork: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var error: (any Error)?

    init(_ work: @escaping @Sendable () throws -> Void) {
        Thread.detachNewThread { [self] in
            do { try work() } catch { self.error = error }
            done.signal()
        }
    }

    func wait() throws {
        done.wait()
        if let error { throw error }
    }
}

/// Finds or creates the pseudonymisation key file.
public enum KeyFiles {
    /// The default location when none is given: `$PHM_KEY_FILE`, else `~/.config/phm/pseudonymisation.key`.
    public static var defaultLocation: URL {
        if let path = ProcessInfo.processInfo.environment["PHM_KEY_FILE"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config/phm/pseudonymisation.key")
    }

    /// Loads the key file (creating the default one on first use) and refuses one kept inside
    /// any of the `protecting` folders.
    public static func resolve(_ explicit: URL?, protecting folders: [URL], logger: Logger) throws -> PseudonymKey {
        let url = (explicit ?? defaultLocation).standardizedFileURL
        for folder in folders {
            let prefix =
                folder.standardizedFileURL.path.hasSuffix("/")
                ? folder.standardizedFileURL.path : folder.standardizedFileURL.path + "/"
            if url.path.hasPrefix(prefix) { throw KeyFileError.insideDataDirectory(url.path) }
        }
        if explicit == nil, !FileManager.default.fileExists(atPath: url.path) {
            logger.warning(
                "created a new pseudonymisation key at \(url.path); keep it safe: the same key gives the same pseudonyms")
            return try PseudonymKey.create(at: url)
        }
        return try PseudonymKey(contentsOf: url)
    }
}
