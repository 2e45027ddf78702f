import Analysis
import Cohorts
import Conditions
import Foundation
import Gates
import Governance
import Identity
import Ingest
import Logging
import Outputs
import PHMCore
import Pipeline
import PostgresStore
import Risk
import Service
import Storage
import Synthesis
import Web

/// Terminal output: progress on standard error when it is a terminal, summaries on standard output.
package enum Console {
    static let interactive = isatty(STDERR_FILENO) == 1

    static func log(_ message: String) {
        FileHandle.standardError.write(Data(("phm: " + message + "\n").utf8))
    }

    static func progress(_ label: String, _ done: Int, _ total: Int) {
        guard interactive, total > 0 else { return }
        let percent = min(100, done * 100 / total)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label) \(percent)%".utf8))
        if done >= total { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    package static func synthesise(_ options: SynthesisOptions, out: String) throws -> SynthesisSummary {
        log("synthesising \(number(options.people)) people (seed \(options.seed)) into \(out)")
        return try SyntheticHealthSystem.write(options, to: URL(fileURLWithPath: out)) { done, total in
            progress("synthesising", done, total)
        }
    }

    package static func runPipeline(input: String, asOf: Day, out: String, pipeline: PipelineOptions) throws -> Pipeline.RunResult
    {
        try reportingFailures {
            try PipelineRun.execute(
                try options(input: input, asOf: asOf, out: out, pipeline: pipeline), logger: logger(pipeline.logs))
        }
    }

    /// A command's logger: text lines on standard error (`phm: ...`, warnings and worse marked),
    /// or JSON objects there, one a line; standard output keeps the command's own answer.
    static func logger(_ options: LogOptions) -> Logger {
        var logger = Logger(label: "phm") { label in
            options.json
                ? JSONLogHandler(label: label, write: JSONLogHandler.standardError) as any LogHandler : ConsoleLogHandler()
        }
        logger.logLevel = options.logLevel
        return logger
    }

    /// A run's options from the command line; a store named by `--store` is checked and recorded
    /// first, so every command that runs the pipeline honours it.
    static func options(input: String, asOf: Day, out: String, pipeline: PipelineOptions) throws -> RunOptions {
        try pipeline.directory.useKeyFiles()
        try reportingFailures { try chooseStore(pipeline.store, vault: pipeline.vault, dataDirectory: pipeline.dataDirectory) }
        var options = RunOptions(
            input: URL(fileURLWithPath: input), asOf: asOf, output: URL(fileURLWithPath: out),
            dataDirectory: URL(fileURLWithPath: pipeline.dataDirectory),
            keyFile: pipeline.keyFile.map { URL(fileURLWithPath: $0) },
            conditions: pipeline.conditions.map { URL(fileURLWithPath: $0) },
            segmentations: pipeline.segmentations.map { URL(fileURLWithPath: $0) }, suppress: pipeline.suppress,
            risk: pipeline.risk,
            workers: pipeline.workers, progress: { file, done, total in progress("reading \(file)", done, total) })
        options.projection = pipeline.projection
        options.retention = pipeline.retention
        options.risingAcrossRuns = pipeline.risingAcrossRuns
        options.linkage = pipeline.linkage
        options.organisation = try? pipeline.organisationUnit
        options.lockWait = TimeInterval(pipeline.wait ?? 0)
        return options
    }

    /// Checks a store named by `--store` and a vault named by `--vault`, and records them in the
    /// data directory (`StoreLocation`), before anything else opens them.
    static func chooseStore(_ store: String?, vault: String?, dataDirectory: String) throws {
        let directory = URL(fileURLWithPath: dataDirectory)
        if let store { _ = try StoreLocation.store.database(of: directory, given: store) }
        if let vault { _ = try StoreLocation.vault.database(of: directory.appendingPathComponent("vault"), given: vault) }
    }

    /// Runs work, turning the errors a user can act on into one-line failures.
    static func reportingFailures<T>(_ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as RiskError {
            throw CommandFailure(message: error.description)
        } catch let error as GateStopped {
            throw CommandFailure(message: error.description)
        } catch let error as GateFileError {
            throw CommandFailure(message: error.description)
        } catch let error as GateAcceptanceRefused {
            throw CommandFailure(message: error.description)
        } catch let error as UnusableInput {
            throw CommandFailure(message: error.description)
        } catch let error as KeyFileError {
            throw CommandFailure(message: error.description)
        } catch let error as DefinitionError {
            throw CommandFailure(message: error.description)
        } catch let error as SegmentationError {
            throw CommandFailure(message: error.description)
        } catch let error as AccessError {
            throw CommandFailure(message: error.description)
        } catch let error as CohortError {
            throw CommandFailure(message: error.description)
        } catch let error as FrameFileError {
            throw CommandFailure(message: error.description)
        } catch let error as PasswordError {
            throw CommandFailure(message: error.description)
        } catch let error as PostgresURLError {
            throw CommandFailure(message: error.description)
        } catch let error as PostgresStoreError {
            throw CommandFailure(message: error.description)
        } catch let error as StoreLocationError {
            throw CommandFailure(message: error.description)
        } catch let error as PublishError {
            throw CommandFailure(message: error.description)
        } catch let error as BackupError {
            throw CommandFailure(message: error.description)
        } catch let error as RunInProgress {
            throw CommandFailure(message: error.description)
        }
    }

    static func summary(_ result: Pipeline.RunResult) -> String {
        let s = result.summary
        var lines = [
            "run \(s.runId) as of \(s.asOf): \(number(s.registeredPeople)) registered people (\(number(s.spinePersons)) on the spine)",
            "planning outputs: \(number(s.planningPeople)) people, the registered less \(number(s.registeredPeople - s.planningPeople)) with a National Data Opt-out (one row each in persons.csv); "
                + (s.suppressed == false
                    ? "EXACT counts (--no-suppress): for direct analysis in a secure environment only; the web app will not serve this run"
                    : "tables and pages hide counts of 1 to 7 and round others to 5, so their totals differ by a few"),
            "rows: \(number(s.rowsIn)) in, \(number(s.rowsAccepted)) accepted, \(number(s.rowsQuarantined)) quarantined"
                + (result.prepared.reconciliation.notRead.map { ", \(number($0)) not read" } ?? "")
                + (s.reconciliationBalanced ? " (reconciled)" : " (NOT reconciled)"),
            "care records linked: \(number(s.careRecordsLinked)) of \(number(s.careRecords)) (\(percent(Double(s.careRecordsLinked), Double(s.careRecords))))",
            "sources present: \(s.sourcesPresent.joined(separator: ", "))",
        ]
        for file in result.prepared.reconciliation.files where file.quarantined > 0 {
            let rules = file.quarantinedByRule.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("  \(file.file): \(number(file.quarantined)) quarantined (\(rules))")
        }
        // Records read by design as nothing (a FHIR export's refuted conditions, unknown code
        // systems, the hospital's own Patients), by reason: the most frequent four.
        for file in result.prepared.reconciliation.files {
            guard let reasons = file.notRead else { continue }
            let top = reasons.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
            let shown = top.prefix(4).map { "\($0.key) \(number($0.value))" } + (top.count > 4 ? ["..."] : [])
            let total = reasons.values.reduce(0, +)
            lines.append("  \(file.file): \(number(total)) not read (\(shown.joined(separator: ", ")))")
        }
        for file in result.prepared.reconciliation.files where !file.extraColumns.isEmpty {
            let fate = file.extraColumnsKept ? "kept as area indicators" : "ignored"
            lines.append("  \(file.file): columns not in the contract, \(fate): \(file.extraColumns.joined(separator: ", "))")
        }
        let timing = s.stages.map { "\($0.name) \(String(format: "%.2f", $0.seconds))s" }.joined(separator: ", ")
        lines.append(
            "time: \(String(format: "%.2f", s.totalSeconds))s (\(timing)); ingest \(String(format: "%.0f", s.ingestMegabytesPerSecond)) MB/s"
        )
        lines.append(
            "outputs: \(s.outputFolder)/persons.csv, multimorbidity.csv, reconciliation.json, linkage.json, quarantine/ and more")
        return lines.joined(separator: "\n")
    }

    package static func number(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    static func percent(_ part: Double, _ whole: Double) -> String {
        whole == 0 ? "-" : String(format: "%.1f%%", 100 * part / whole)
    }
}

/// A failure to report in one line, with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A command's log lines for a person at a terminal: `phm: ` and the message, `WARNING: ` before
/// a warning or worse.
struct ConsoleLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let mark = event.level >= .warning ? "WARNING: " : ""
        Console.log("\(mark)\(event.message)")
    }
}
