import Cohorts
import Foundation
import Governance
import Hummingbird
import HummingbirdTesting
import Identity
import Outputs
import PHMCore
import Service
import Storage
import Synthesis
import TestSupport
import Testing

@testable import Pipeline
@testable import Web

@Suite struct BackupTests {
    /// The pages with the per-session form tokens taken out: all else must be the same.
    static func page(_ client: some TestClientProtocol, _ uri: String, _ headers: HTTPFields) async throws -> String {
        let response = try await client.execute(uri: uri, method: .get, headers: headers)
        #expect(response.status == .ok, "\(uri)")
        return String(buffer: response.body).replacingOccurrences(
            of: #"name="csrf" value="[^"]*""#, with: "", options: .regularExpression)
    }

    /// A backup of a served data directory, restored into a new one with its run's outputs
    /// elsewhere, serves the same pages and the same worklist, names from the vault included.
    @Test func aRestoredBackupServesTheSamePages() async throws {
        let served = try DashboardTests.Served()
        let root = temporaryFolder("backup")
        let backup = root.appendingPathComponent("backup"), restored = root.appendingPathComponent("restored/data")
        let outputs = root.appendingPathComponent("restored/outputs")
        defer { try? FileManager.default.removeItem(at: root) }
        let key = try PlatformKey.load(dataDirectory: served.folder)
        let clinician = try served.platform.login("cli", password: DashboardTests.password, purpose: .directCare)
        _ = try clinician.saveCohort("over75", try CohortText.parse("age >= 75"), description: "frailty review")
        let before = try clinician.worklist("over75", reason: "frailty review")

        let manifest = try Backup.write(dataDirectory: served.folder, to: backup, key: key)
        let run = try #require(FrameFile.runs(dataDirectory: served.folder).first)
        let folder = try #require(try RunStore(directory: served.folder).runs().first { $0.id == run }?.outputFolder)
        #expect(manifest.outputs == [String(run): folder])
        for file in [
            "data/phm.sqlite", "data/vault/identity.sqlite", "data/frames/run-\(run).frame", "outputs/run-\(run)/persons.csv",
        ] {
            #expect(manifest.files[file] != nil, "\(file)")
        }
        // No key is ever in a backup, and every file in it is the owner's alone.
        #expect(!manifest.files.keys.contains { $0.hasSuffix(".key") })
        for file in manifest.files.keys {
            let mode = try FileManager.default.attributesOfItem(atPath: backup.appendingPathComponent(file).path)[
                .posixPermissions]
            #expect(mode as? Int == 0o600, "\(file)")
        }

        #expect(try Backup.restore(from: backup, dataDirectory: restored, outputs: outputs, key: key) == [run])
        let moved = try RunStore(directory: restored).runs().first { $0.id == run }?.outputFolder
        #expect(moved == outputs.appendingPathComponent("run-\(run)").path)
        let platform = try Platform(dataDirectory: restored, key: key, hasher: PasswordHasher(logN: 4))
        let after = try platform.login("cli", password: DashboardTests.password, purpose: .directCare).worklist(
            "over75", reason: "frailty review")
        #expect(after.entries.map(\.entry.pseudonym) == before.entries.map(\.entry.pseudonym))
        #expect(after.entries.map { $0.identity?.nhsNumber } == before.entries.map { $0.identity?.nhsNumber })
        #expect(before.entries.contains { $0.identity != nil })
        // The audit log came across whole, and goes on from where it was.
        guard case .intact = try platform.verifyAudit(whole: true).verification else {
            Issue.record("the restored audit log does not verify")
            return
        }

        func pages(_ app: some ApplicationProtocol) async throws -> [String] {
            try await app.test(.router) { client in
                let analyst = try await DashboardTests.cookie(client, "ana", "planning")
                var seen: [String] = []
                for dashboard in Dashboard.allCases { seen.append(try await Self.page(client, dashboard.path, analyst)) }
                return seen
            }
        }
        let original = try await pages(served.app)
        let restoredPages = try await pages(WebApp.make(platform: platform, logger: quietLogger, watching: false))
        #expect(original.count == Dashboard.allCases.count && original == restoredPages)
        #expect(original.allSatisfy { $0.contains("Run \(run), as of") })
    }

    /// A run finding the data directory held (by a backup, or another run) is refused at once,
    /// or, asked to wait, waits for it and then runs.
    @Test func aRunWaitsForABackupWhenAsked() throws {
        let root = temporaryFolder("run-wait")
        defer { try? FileManager.default.removeItem(at: root) }
        let key = root.appendingPathComponent("keys/pseudonymisation.key")
        _ = try PseudonymKey.create(at: key)
        let input = root.appendingPathComponent("input")
        let synthesis = SynthesisOptions(people: 1_500, seed: 7)
        _ = try SyntheticHealthSystem.write(synthesis, to: input)
        var options = RunOptions(
            input: input, asOf: synthesis.asOf, output: root.appendingPathComponent("out"),
            dataDirectory: root.appendingPathComponent("data"), keyFile: key, workers: 2)
        options.projection.years = 0
        let held = HeldLock()
        held.lock = try RunLock(dataDirectory: options.dataDirectory)
        #expect(throws: RunInProgress.self) { try PipelineRun.execute(options) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { held.release() }
        options.lockWait = 30
        let summary = try PipelineRun.execute(options).summary
        #expect(summary.spinePersons == 1_500)
        // It began (took the lock, then recorded itself) only once the lock was let go.
        let began = try #require(try RunStore(directory: options.dataDirectory).runs().first { $0.id == summary.runId })
        #expect(began.startedAt >= (try #require(held.releasedAt)))
    }

    /// A backup is checked before anything is restored: its manifest under the platform key,
    /// then every file (a changed, missing or added one, or a link, is named); nothing is written
    /// over, and a restore that stops leaves nothing behind.
    @Test func aBackupIsCheckedFileByFileBeforeItIsRestored() throws {
        let fixture = try Fixture()
        let root = temporaryFolder("backup")
        let backup = root.appendingPathComponent("backup"), target = root.appendingPathComponent("restored")
        let outputs = root.appendingPathComponent("outputs")
        defer { for folder in [fixture.folder, root] { try? FileManager.default.removeItem(at: folder) } }
        try Backup.write(dataDirectory: fixture.folder, to: backup, key: fixture.key)
        // Not over a folder that exists, and not while a run holds the data directory.
        #expect(throws: BackupError.self) { try Backup.write(dataDirectory: fixture.folder, to: backup, key: fixture.key) }
        let during = root.appendingPathComponent("during-a-run")
        do {
            let lock = try RunLock(dataDirectory: fixture.folder)
            #expect(throws: RunInProgress.self) { try Backup.write(dataDirectory: fixture.folder, to: during, key: fixture.key) }
            withExtendedLifetime(lock) {}
        }
        #expect(!FileManager.default.fileExists(atPath: during.path))
        // Asked to wait, it waits for the run to finish.
        let held = HeldLock()
        held.lock = try RunLock(dataDirectory: fixture.folder)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { held.release() }
        let waited = Date()
        try Backup.write(dataDirectory: fixture.folder, to: during, key: fixture.key, wait: 30)
        #expect(Date().timeIntervalSince(waited) >= 0.4 && held.released)
        try FileManager.default.removeItem(at: during)

        func refusal(key: PlatformKey? = nil, into elsewhere: URL? = nil) -> String {
            do {
                try Backup.restore(from: backup, dataDirectory: target, outputs: elsewhere ?? outputs, key: key ?? fixture.key)
                return "restored"
            } catch {
                return "\(error)"
            }
        }
        // Another key: the manifest does not verify; nor does a manifest changed without the key.
        #expect(refusal(key: PlatformKey.ephemeral()).contains("does not verify under the platform key"))
        let manifestFile = backup.appendingPathComponent(Backup.manifestName)
        let manifest = try Data(contentsOf: manifestFile)
        try (manifest + Data(" ".utf8)).write(to: manifestFile)
        #expect(refusal().contains("does not verify under the platform key"))
        try manifest.write(to: manifestFile)
        // A manifest too large to be one is refused before it is read.
        let huge = root.appendingPathComponent("huge")
        try FileManager.default.copyItem(at: backup, to: huge)
        let handle = try FileHandle(forWritingTo: huge.appendingPathComponent(Backup.manifestName))
        try handle.truncate(atOffset: UInt64(Backup.largestManifest + 1))
        try handle.close()
        #expect(throws: BackupError.self) {
            try Backup.restore(from: huge, dataDirectory: target, outputs: outputs, key: fixture.key)
        }
        try FileManager.default.removeItem(at: huge)

        let store = backup.appendingPathComponent("data/phm.sqlite")
        let original = try Data(contentsOf: store)
        var changed = original
        changed[changed.count - 1] ^= 0x01
        try changed.write(to: store)
        #expect(refusal() == "data/phm.sqlite is not the file backed up (its SHA-256 differs)")
        try original.write(to: store)
        let frame = backup.appendingPathComponent("data/frames/run-\(fixture.frame.runId).frame")
        let frameBytes = try Data(contentsOf: frame)
        try FileManager.default.removeItem(at: frame)
        #expect(refusal() == "data/frames/run-\(fixture.frame.runId).frame is missing from the backup")
        try frameBytes.write(to: frame)
        try Data("x".utf8).write(to: backup.appendingPathComponent("data/extra"))
        #expect(refusal() == "data/extra is in the backup folder but not in its manifest")
        try FileManager.default.removeItem(at: backup.appendingPathComponent("data/extra"))
        // A link in a backup could point a restored directory at another's vault.
        let link = backup.appendingPathComponent("data/frames/elsewhere")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: fixture.folder)
        #expect(refusal() == "data/frames/elsewhere is not a plain file or folder (a link, a device or a pipe)")
        try FileManager.default.removeItem(at: link)
        #expect(
            refusal(into: target.appendingPathComponent("outputs"))
                == "the data directory and the outputs folder must be two folders apart")
        #expect(!FileManager.default.fileExists(atPath: target.path))

        // Not into a directory already in use.
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: target.appendingPathComponent("phm.sqlite"))
        #expect(refusal().hasSuffix("is not empty: a backup is restored into a new folder"))
        try FileManager.default.removeItem(at: target)
        #expect(refusal() == "restored")
        let platform = try Platform(dataDirectory: target, key: fixture.key, hasher: PasswordHasher(logN: 4))
        #expect(try platform.login("ana", password: Fixture.password, purpose: .planning).user.name == "ana")
        // Its check anchors the restored log; restoring to the same place again finds that anchor
        // and says so, rather than a later check reporting entries cut from the log.
        _ = try platform.verifyAudit(whole: true, anchoring: true)
        try FileManager.default.removeItem(at: target)
        try FileManager.default.removeItem(at: outputs)
        #expect(refusal().contains("an audit anchor for"))
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }
}

/// A data directory's run lock, held by a test and let go from another thread.
final class HeldLock: @unchecked Sendable {
    let guarded = NSLock()
    var lock: RunLock?
    private var letGo: Date?
    func release() {
        guarded.withLock {
            letGo = Date()
            lock = nil
        }
    }
    var released: Bool { guarded.withLock { lock == nil } }
    /// When it was let go (just before).
    var releasedAt: Date? { guarded.withLock { letGo } }
}
