import Cohorts
import Foundation
import Governance
import Outputs
import PHMCore
import Service
import Storage
import Synthesis
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `kill -9` at any moment of `phm run` leaves the previous run, its frame, its outputs and the
/// store whole and usable, and the next run succeeds.
@Suite struct CrashSafetyTests {
    @Test func runsKilledAtAnyPointLeaveThePreviousRunWhole() throws {
        try #require(FileManager.default.isExecutableFile(atPath: phmExecutable), "no phm beside the tests: \(phmExecutable)")
        let folder = temporaryFolder("crash")
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in"), data = folder.appendingPathComponent("data")
        let output = folder.appendingPathComponent("out")
        _ = try SyntheticHealthSystem.write(SynthesisOptions(people: 3_000, seed: 5), to: input)
        let environment = [
            "PHM_KEY_FILE": folder.appendingPathComponent("keys/pseudonymisation.key").path,
            "PHM_PLATFORM_KEY_FILE": folder.appendingPathComponent("keys/platform.key").path,
        ]
        let run = [
            phmExecutable, "run", "--input", input.path, "--as-of", "2025-04-01", "--out", output.path, "--data-dir", data.path,
            "--projection-draws", "20",
        ]
        let started = DispatchTime.now().uptimeNanoseconds
        #expect(waitForProgram(try startProgram(run, environment: environment)) == 0)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let key = try PlatformKey.load(folder.appendingPathComponent("keys/platform.key"))

        /// The newest frame's run has its outputs in place, and every part of the platform works on it.
        func checkWhole() throws -> Int64 {
            let platform = try Platform(dataDirectory: data, key: key)
            let frame = try platform.frame(for: .planning)
            let publication = try platform.publication()
            // The outputs the server reads are the frame's run's own: its run.json names it.
            #expect(publication.runId == frame.runId && publication.run.runId == frame.runId && !publication.units.isEmpty)
            let check = try platform.verifyAudit(whole: true)
            guard case .intact = check.verification else {
                Issue.record("audit: \(check.verification)")
                return frame.runId
            }
            let linked = try FileManager.default.destinationOfSymbolicLink(atPath: output.path)
            #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("run.json").path), "\(linked)")
            return frame.runId
        }
        var current = try checkWhole()
        #expect(current == 1)
        var served: Set<Int64> = [current]
        // Kill runs early, in the middle and near the end, as fractions of the first run's time
        // (an optimised build runs in a fraction of an unoptimised one's).
        for delay in [0.03, 0.08, 0.15, 0.25, 0.4, 0.55, 0.7, 0.85, 0.97].map({ $0 * seconds }) {
            let pid = try startProgram(run, environment: environment)
            usleep(useconds_t(delay * 1_000_000))
            kill(pid, SIGKILL)
            let status = waitForProgram(pid)
            let now = try checkWhole()
            // Killed before its frames became current, the previous run stays; killed after (it may
            // not have lived to mark itself succeeded) or finished, the new run is served, and
            // `checkWhole` has just found it whole. A finished run is always the newest.
            #expect(now >= current, "killed after \(delay) s: run \(now), was \(current)")
            if status == 0 { #expect(now > current, "finished after \(delay) s: run \(now), was \(current)") }
            current = now
            served.insert(now)
        }
        #expect(waitForProgram(try startProgram(run, environment: environment)) == 0)
        let last = try checkWhole()
        #expect(last > current)
        served.insert(last)
        // Killed runs leave nothing behind once a run has finished: the output folders left are
        // those of runs that were served (finished, or killed after they became current), each
        // kept by the retention policy.
        let runs = folder.appendingPathComponent(".out.runs")
        let left = try FileManager.default.contentsOfDirectory(atPath: runs.path)
        #expect(Set(left).isSubset(of: served.map { "run-\($0)" }), "left \(left), served \(served.sorted())")
        // Runs that were killed are recorded as interrupted, none as still running.
        let records = try RunStore(directory: data).runs()
        #expect(!records.contains { $0.status == "running" } && records.first?.status == "succeeded")
        #expect(records.contains { $0.status == "interrupted" })
    }
}
