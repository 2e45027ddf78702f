import Foundation
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
}
