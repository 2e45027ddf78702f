import Cohorts
import Crypto
import Foundation
import Governance
import PHMCore
import Storage

/// A backup of a data directory on the embedded databases, and its restore into a new one.
///
/// `BACKUP/data` holds the identity vault and the store, each copied with SQLite's online backup
/// (a consistent snapshot while the server goes on writing), and the kept runs' person frames;
/// `BACKUP/outputs/run-ID` the output folder of each run the store knows whose folder is still
/// there; `BACKUP/backup.json` the runs and the SHA-256 of every file, and `backup.json.mac` its
/// HMAC under the platform key, so a backup changed by someone without the key is refused. It is
/// taken holding the data directory's run lock, so no run publishes half way through it. The
/// keys are never in it: they are backed up apart (docs/operations.md).
public enum Backup {
    public static let manifestName = "backup.json"
    static let macName = "backup.json.mac"
    static let largestManifest = 64 << 20

    public struct Manifest: Codable, Sendable, Equatable {
        public var version = 1
        public var created: Date
        /// Each backed-up run's output folder when the backup was taken, by run.
        public var outputs: [String: String]
        /// Every file of the backup but the manifest and its MAC, by its path in the backup, with
        /// its SHA-256.
        public var files: [String: String]
    }

    /// Backs `dataDirectory` up into `destination`, a folder that must not exist yet, waiting up
    /// to `wait` seconds for a run in progress to finish.
    @discardableResult
    public static func write(dataDirectory: URL, to destination: URL, key: PlatformKey, wait: TimeInterval = 0) throws
        -> Manifest
    {
        let files = FileManager.default
        for location in [StoreLocation.store, .vault] where location.isOnPostgreSQL(in: dataDirectory) {
            throw BackupError(
                "\(dataDirectory.path) keeps its \(location.what) on PostgreSQL: back it up with PostgreSQL's own tools (docs/operations.md)"
            )
        }
        for location in [StoreLocation.store, .vault] {
            let file = location.folder(of: dataDirectory).appendingPathComponent(location.sqliteName)
            guard kind(file) == .typeRegular else {
                throw BackupError(
                    "\(file.path) is not there: \(dataDirectory.path) is not a data directory on the embedded store")
            }
        }
        guard kind(destination) == nil else {
            throw BackupError("\(destination.path) already exists: a backup is written to a new folder")
        }
        let lock = try RunLock(dataDirectory: dataDirectory, wait: wait)
        defer { withExtendedLifetime(lock) {} }
        do {
            let data = destination.appendingPathComponent("data")
            let outputsFolder = destination.appendingPathComponent("outputs")
            for folder in [data, data.appendingPathComponent("vault"), data.appendingPathComponent("frames"), outputsFolder] {
                try files.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            // The vault first: a linkage judgement is audited in the store before it is written to
            // the vault, so a judgement the copy of the vault holds is in the copy of the store.
            for location in [StoreLocation.vault, .store] {
                try SQLiteDatabase.backup(
                    location.folder(of: dataDirectory).appendingPathComponent(location.sqliteName),
                    to: location.folder(of: data).appendingPathComponent(location.sqliteName))
            }
            // Frames are written in full and then renamed into place: a kept run's are complete.
            let frames = dataDirectory.appendingPathComponent("frames")
            let framed = FrameFile.runs(dataDirectory: dataDirectory)
            let kept = Set(framed.map { "run-\($0)." })
            for name in (try? files.contentsOfDirectory(atPath: frames.path)) ?? []
            where kept.contains(where: name.hasPrefix) && kind(frames.appendingPathComponent(name)) == .typeRegular {
                try copy(frames.appendingPathComponent(name), to: data.appendingPathComponent("frames/" + name))
            }
            // The runs as the copied store has them: the served run (the newest framed) even if
            // it was stopped before it was marked succeeded.
            var outputs: [String: String] = [:]
            for run in try RunStore.runs(inFile: data.appendingPathComponent(StoreLocation.store.sqliteName)) {
                guard let id = run.id, run.status == "succeeded" || framed.contains(id) else { continue }
                let folder = URL(fileURLWithPath: run.outputFolder)
                guard kind(folder) == .typeDirectory else { continue }
                try copy(folder, to: outputsFolder.appendingPathComponent("run-\(id)"))
                outputs[String(id)] = run.outputFolder
            }
            let manifest = Manifest(created: Date(), outputs: outputs, files: try checksums(destination))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let bytes = try encoder.encode(manifest)
            try bytes.write(to: destination.appendingPathComponent(manifestName))
            try Data(key.auditMAC(bytes).utf8).write(to: destination.appendingPathComponent(macName))
            return manifest
        } catch {
            try? files.removeItem(at: destination)
            throw error
        }
    }

    /// Restores the backup in `source` into `dataDirectory` and its runs' outputs into `outputs`
    /// (two distinct folders, each new or empty), after checking the manifest's MAC under the
    /// platform key and every file against it: a changed, missing or added file, or anything
    /// that is not a plain file or folder, is refused by name before anything is written. The
    /// restore is made beside the targets and moved into place whole, so a failed one leaves
    /// nothing. Returns the runs whose outputs were restored.
    @discardableResult
    public static func restore(from source: URL, dataDirectory: URL, outputs: URL, key: PlatformKey) throws -> [Int64] {
        let files = FileManager.default
        let source = source.standardizedFileURL.resolvingSymlinksInPath()
        let manifestFile = source.appendingPathComponent(manifestName)
        guard kind(manifestFile) == .typeRegular else {
            throw BackupError("\(manifestFile.path) is missing: \(source.path) is not a backup")
        }
        // Read whole only when it is of a manifest's size (a line for each file).
        let size = (try? files.attributesOfItem(atPath: manifestFile.path))?[.size] as? Int ?? 0
        guard size <= largestManifest, let bytes = files.contents(atPath: manifestFile.path) else {
            throw BackupError("\(manifestFile.path) is larger than a manifest can be (\(largestManifest >> 20) MB): not a backup")
        }
        let mac = files.contents(atPath: source.appendingPathComponent(macName).path).map { String(decoding: $0, as: UTF8.self) }
        guard kind(source.appendingPathComponent(macName)) == .typeRegular, mac == key.auditMAC(bytes) else {
            throw BackupError(
                "\(manifestName) does not verify under the platform key \(key.anchors.deletingLastPathComponent().path): restore with the key the backup was taken with; a backup changed without it is refused"
            )
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: Manifest
        do { manifest = try decoder.decode(Manifest.self, from: bytes) } catch {
            throw BackupError("\(manifestFile.path) cannot be read: \(error)")
        }
        guard manifest.version == 1 else { throw BackupError("\(manifestFile.path): version \(manifest.version) is not known") }
        let found = try checksums(source)
        for (path, sum) in manifest.files.sorted(by: { $0.key < $1.key }) where found[path] != sum {
            throw BackupError(
                found[path] == nil
                    ? "\(path) is missing from the backup" : "\(path) is not the file backed up (its SHA-256 differs)")
        }
        if let added = Set(found.keys).subtracting(manifest.files.keys).sorted().first {
            throw BackupError("\(added) is in the backup folder but not in its manifest")
        }
        let runs = try manifest.outputs.keys.map { run in
            guard let id = Int64(run), id > 0 else { throw BackupError("\(manifestFile.path): \(run) is not a run") }
            return id
        }.sorted()
        let targets = [dataDirectory, outputs].map { $0.standardizedFileURL.resolvingSymlinksInPath() }
        guard !targets[0].path.hasPrefix(targets[1].path + "/"), !targets[1].path.hasPrefix(targets[0].path + "/"),
            targets[0] != targets[1]
        else { throw BackupError("the data directory and the outputs folder must be two folders apart") }
        for target in targets {
            switch kind(target) {
            case nil: break
            case .typeDirectory?:
                guard (try files.contentsOfDirectory(atPath: target.path)).isEmpty else {
                    throw BackupError("\(target.path) is not empty: a backup is restored into a new folder")
                }
            default: throw BackupError("\(target.path) is not a folder")
            }
        }
        // An anchor for the target's path records a log the restored one is not: the check
        // would report entries cut from its end. It is moved aside by its owner, deliberately.
        let anchor = AuditAnchor.file(for: targets[0], key: key)
        guard kind(anchor) == nil else {
            throw BackupError(
                "an audit anchor for \(targets[0].path) exists (\(anchor.path)): the restored log ends before the entries it records. Keep it as evidence elsewhere, then restore; or restore into another folder"
            )
        }

        let staged = targets.map { $0.deletingLastPathComponent().appendingPathComponent(".restoring-\(UUID().uuidString)") }
        do {
            for (folder, target) in zip(staged, targets) {
                try files.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                try files.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            }
            let data = source.appendingPathComponent("data")
            for name in try files.contentsOfDirectory(atPath: data.path) {
                try copy(data.appendingPathComponent(name), to: staged[0].appendingPathComponent(name))
            }
            let store = RunStore(database: try StoreLocation.store.embedded(in: staged[0]))
            for id in runs {
                try copy(source.appendingPathComponent("outputs/run-\(id)"), to: staged[1].appendingPathComponent("run-\(id)"))
                try store.moveOutputs(ofRun: id, to: targets[1].appendingPathComponent("run-\(id)").path)
            }
            for (folder, target) in zip(staged, targets) {
                if kind(target) == .typeDirectory { try files.removeItem(at: target) }
                try files.moveItem(at: folder, to: target)
            }
        } catch {
            for folder in staged { try? files.removeItem(at: folder) }
            throw error as? BackupError ?? BackupError("the restore failed and was undone: \(error)")
        }
        return runs
    }

    /// The file's type without following a link; nil when there is nothing there.
    static func kind(_ url: URL) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType
    }

    /// Copies a plain file, or a folder of plain files and folders, owner-only; a link, a device
    /// or a pipe anywhere in it is refused.
    static func copy(_ source: URL, to target: URL) throws {
        let files = FileManager.default
        switch kind(source) {
        case .typeRegular?:
            guard files.createFile(atPath: target.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw BackupError("\(target.path) cannot be written")
            }
            let input = try FileHandle(forReadingFrom: source), output = try FileHandle(forWritingTo: target)
            defer {
                try? input.close()
                try? output.close()
            }
            while let chunk = try input.read(upToCount: 1 << 22), !chunk.isEmpty { try output.write(contentsOf: chunk) }
            try output.synchronize()
        case .typeDirectory?:
            try files.createDirectory(at: target, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            for name in try files.contentsOfDirectory(atPath: source.path) {
                try copy(source.appendingPathComponent(name), to: target.appendingPathComponent(name))
            }
        default:
            throw BackupError("\(source.path) is not a plain file or folder (a link, a device or a pipe): not copied")
        }
    }

    /// The SHA-256 of every file under `folder` but the manifest and its MAC, by its path in the
    /// folder; anything that is not a plain file or folder is refused.
    static func checksums(_ folder: URL) throws -> [String: String] {
        var sums: [String: String] = [:]
        func walk(_ url: URL, _ path: String) throws {
            switch kind(url) {
            case .typeRegular?:
                if path != manifestName, path != macName { sums[path] = try sha256(url) }
            case .typeDirectory?:
                for name in try FileManager.default.contentsOfDirectory(atPath: url.path) {
                    try walk(url.appendingPathComponent(name), path.isEmpty ? name : path + "/" + name)
                }
            default:
                throw BackupError("\(path.isEmpty ? url.path : path) is not a plain file or folder (a link, a device or a pipe)")
            }
        }
        try walk(folder, "")
        return sums
    }

    /// Read four megabytes at a time: output files run to hundreds of megabytes.
    static func sha256(_ file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty { hash.update(data: chunk) }
        return Hex.encode(hash.finalize())
    }
}

public struct BackupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
