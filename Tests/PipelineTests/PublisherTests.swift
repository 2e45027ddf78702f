import Foundation
import Identity
import Outputs
import PHMCore
import Storage
import Synthesis
import TestSupport
import Testing

@testable import Pipeline

@Suite struct PublisherTests {
    /// A new data directory starts its run ids again at 1: a run writing to an output folder
    /// whose `run-1` came from another data directory is refused before it starts, by name,
    /// rather than failing at the end with an errno.
    @Test func aRunIdTakenByAnotherDataDirectoryIsRefusedUpFront() throws {
        let folder = temporaryFolder("publisher")
        defer { try? FileManager.default.removeItem(at: folder) }
        let publisher = RunPublisher(output: folder.appendingPathComponent("out"), runId: 1)
        try FileManager.default.createDirectory(at: publisher.folder, withIntermediateDirectories: true)
        let data = folder.appendingPathComponent("data")
        #expect {
            try publisher.prepare(dataDirectory: data)
        } throws: { error in
            "\(error)".contains(".out.runs/run-1 already holds a run with this id") && "\(error)".contains("--out")
        }
        // Nothing was staged for the refused run.
        #expect(!FileManager.default.fileExists(atPath: publisher.staging.path))
        // A run id not yet used there is prepared as before.
        try RunPublisher(output: folder.appendingPathComponent("out"), runId: 2).prepare(dataDirectory: data)
    }

    /// An output folder whose parent is a file cannot hold runs: the run is refused with the
    /// folder and the system's reason, not a raw error object.
    @Test func anOutputFolderThatCannotBeMadeIsNamedWithTheReason() throws {
        let folder = temporaryFolder("publisher-file")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("a-file")
        try Data("not a folder".utf8).write(to: file)
        let publisher = RunPublisher(output: file.appendingPathComponent("out"), runId: 1)
        #expect {
            try publisher.prepare(dataDirectory: folder.appendingPathComponent("data"))
        } throws: { error in
            "\(error)"
                == "cannot make \(file.path)/.out.runs for the run's outputs beside --out: Not a directory; choose another --out"
        }
    }

    /// A run killed after its outputs were put in place but before its frames were was never
    /// served: the next run removes its folder, and nothing outside the runs folder.
    @Test func foldersOfRunsKilledBeforeTheyWereServedAreRemoved() throws {
        let folder = temporaryFolder("publisher-abandoned")
        defer { try? FileManager.default.removeItem(at: folder) }
        let publisher = RunPublisher(output: folder.appendingPathComponent("out"), runId: 3)
        let killed = publisher.runs.appendingPathComponent("run-2"), kept = publisher.runs.appendingPathComponent("run-1")
        let outside = folder.appendingPathComponent("elsewhere/run-2")
        for f in [killed, kept, outside] {
            try FileManager.default.createDirectory(at: f, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: f.appendingPathComponent("run.json"))
        }
        try publisher.prepare(dataDirectory: folder.appendingPathComponent("data"), abandoned: [killed, outside])
        #expect(!FileManager.default.fileExists(atPath: killed.path))
        #expect(FileManager.default.fileExists(atPath: kept.appendingPathComponent("run.json").path))
        #expect(FileManager.default.fileExists(atPath: outside.appendingPathComponent("run.json").path))
        #expect(FileManager.default.fileExists(atPath: publisher.staging.path))
    }

    /// The run after one killed between putting its outputs in place and committing its frames
    /// (recorded as interrupted, its folder there, no frame of it) removes that folder, which
    /// was never served, and keeps the runs that were.
    @Test func theNextRunRemovesTheOutputsOfAKilledRunThatWasNeverServed() throws {
        let folder = temporaryFolder("abandoned-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in"), data = folder.appendingPathComponent("data")
        let key = folder.appendingPathComponent("key")
        _ = try SyntheticHealthSystem.write(
            SynthesisOptions(people: 2_000, seed: 9, asOf: SyntheticHealthSystem.defaultAsOf), to: input)
        _ = try PseudonymKey.create(at: key)
        var options = RunOptions(
            input: input, asOf: SyntheticHealthSystem.defaultAsOf, output: folder.appendingPathComponent("out"),
            dataDirectory: data, keyFile: key, workers: 2)
        options.projection.years = 0
        let first = try PipelineRun.execute(options).summary.runId
        let runs = folder.appendingPathComponent(".out.runs")
        let killed = try RunStore(directory: data).begin(
            RunRecord(
                startedAt: Date(), asOf: SyntheticHealthSystem.defaultAsOf.description, inputFolder: input.path,
                outputFolder: runs.appendingPathComponent("run-\(first + 1)").path, status: "interrupted"))
        #expect(killed == first + 1)
        let killedFolder = runs.appendingPathComponent("run-\(killed)")
        try FileManager.default.createDirectory(at: killedFolder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: killedFolder.appendingPathComponent("run.json"))
        let next = try PipelineRun.execute(options).summary.runId
        #expect(!FileManager.default.fileExists(atPath: killedFolder.path))
        for served in [first, next] {
            #expect(FileManager.default.fileExists(atPath: runs.appendingPathComponent("run-\(served)/run.json").path))
        }
    }

    /// Retention: the newest run keeps everything, the next only its aggregate tables, older runs
    /// nothing; the policy's numbers are checked.
    @Test func retentionRemovesPersonLevelFilesFirstThenWholeRuns() throws {
        let folder = temporaryFolder("retention")
        defer { try? FileManager.default.removeItem(at: folder) }
        let retention = Retention(personLevelRuns: 1, outputRuns: 2, frames: 2)
        let publisher = RunPublisher(output: folder.appendingPathComponent("out"), runId: 4, retention: retention)
        let files = ["persons.csv", "person-conditions.csv", "multimorbidity.csv", "run.json", "quarantine/patients.csv"]
        for run in 1...4 {
            let runFolder = publisher.runs.appendingPathComponent("run-\(run)")
            try FileManager.default.createDirectory(
                at: runFolder.appendingPathComponent("quarantine"), withIntermediateDirectories: true)
            for file in files {
                FileManager.default.createFile(atPath: runFolder.appendingPathComponent(file).path, contents: nil)
            }
        }
        publisher.prune()
        func left(_ run: Int) -> [String] {
            files.filter {
                FileManager.default.fileExists(atPath: publisher.runs.appendingPathComponent("run-\(run)/\($0)").path)
            }
        }
        #expect(left(4) == files)
        #expect(left(3) == ["multimorbidity.csv", "run.json"])
        #expect(left(2).isEmpty && left(1).isEmpty)
        #expect(Retention(personLevelRuns: 0).problem != nil)
        #expect(Retention(personLevelRuns: 3, outputRuns: 2).problem != nil)
        #expect(Retention(frames: 1).problem != nil)
        #expect(Retention().problem == nil)
    }
}
