import Cohorts
import Crypto
import Foundation
import Storage

/// A backup of a data directory on the embedded databases, and its restore into a new one.
///
/// `BACKUP/data` holds the store and the identity vault, each copied with SQLite's online backup
/// (a consistent snapshot while the server goes on writing), and the kept runs' person frames;
/// `BACKUP/outputs/run-ID` each kept run's output folder; `BACKUP/backup.json` the runs and the
/// SHA-256 of every file. It is taken holding the data directory's run lock, so no run publishes
/// half way through it. The keys are never in it: they are backed up apart (docs/operations.md).
public enum Backup {
    public static let manifestName = "backup.json"

    public struct Manifest: Codable, Sendable, Equatable {
        public var version = 1
        public var created: Date
        /// Each kept run's output folder when the backup was taken, by run.
        public var outputs: [String: String]
        /// Every file of the backup but this one, by its path in the backup, with its SHA-256.
        public var files: [String: String]
    }

    /// Backs `dataDirectory` up into `destination`, a folder that must not exist yet.
    @discardableResult
    public static func write(dataDirectory: URL, to destination: URL) throws -> Manifest {
        let files = FileManager.default
        guard files.fileExists(atPath: dataDirectory.appendingPathComponent(StoreLocation.store.sqliteName).path) else {
            throw BackupError(
                "\(dataDirectory.path) has no \(StoreLocation.store.sqliteName): it is not a data directory on the embedded store (a store or vault on PostgreSQL is backed up with PostgreSQL's own tools, see docs/operations.md)"
            )
        }
        for location in [StoreLocation.store, .vault] where location.isOnPostgreSQL(in: dataDirectory) {
            throw BackupError(
                "\(dataDirectory.path) keeps its \(location.what) on PostgreSQL: back it up with PostgreSQL's own tools (docs/operations.md)"
            )
        }
        guard !files.fileExists(atPath: destination.path) else {
            throw BackupError("\(destination.path) already exists: a backup is written to a new folder")
        }
        let lock = try RunLock(dataDirectory: dataDirectory)
        defer { withExtendedLifetime(lock) {} }
        let data = destination.appendingPathComponent("data")
        for folder in [data, data.appendingPathComponent("vault"), data.appendingPathComponent("frames")] {
            try files.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for location in [StoreLocation.store, .vault] {
            guard let database = try location.database(of: location.folder(of: dataDirectory)) as? SQLiteDatabase else {
                throw BackupError("the \(location.what) is not on the embedded store")
            }
            try database.backup(to: location.folder(of: data).appendingPathComponent(location.sqliteName))
        }
        // Frames are written in full and then renamed into place: a kept run's are complete.
        let frames = dataDirectory.appendingPathComponent("frames")
        let kept = Set(FrameFile.runs(dataDirectory: dataDirectory).map { "run-\($0)." })
        for name in (try? files.contentsOfDirectory(atPath: frames.path)) ?? [] where kept.contains(where: name.hasPrefix) {
            try files.copyItem(at: frames.appendingPathComponent(name), to: data.appendingPathComponent("frames/" + name))
        }
        var outputs: [String: String] = [:]
        for run in try RunStore(directory: dataDirectory).runs() where run.status == "succeeded" {
            guard let id = run.id, files.fileExists(atPath: run.outputFolder) else { continue }
            let copy = destination.appendingPathComponent("outputs/run-\(id)")
            try files.createDirectory(
                at: copy.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try files.copyItem(at: URL(fileURLWithPath: run.outputFolder), to: copy)
            outputs[String(id)] = run.outputFolder
        }
        let manifest = Manifest(created: Date(), outputs: outputs, files: try checksums(destination))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(manifest).write(to: destination.appendingPathComponent(manifestName))
        return manifest
    }

    /// Restores the backup in `source` into `dataDirectory` and its runs' outputs into `outputs`
    /// (folders that must not exist yet, or be empty), after checking every file against the
    /// backup's checksums: a changed, missing or added file is refused by name. Returns the runs
    /// whose outputs were restored.
    @discardableResult
    public static func restore(from source: URL, dataDirectory: URL, outputs: URL) throws -> [Int64] {
        let files = FileManager.default
        let manifestFile = source.appendingPathComponent(manifestName)
        guard let bytes = files.contents(atPath: manifestFile.path) else {
            throw BackupError("\(manifestFile.path) is missing: \(source.path) is not a backup")
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
        for target in [dataDirectory, outputs] {
            if let inside = try? files.contentsOfDirectory(atPath: target.path), !inside.isEmpty {
                throw BackupError("\(target.path) is not empty: a backup is restored into a new folder")
            }
        }
        for target in [dataDirectory, outputs] {
            try files.createDirectory(at: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let data = source.appendingPathComponent("data")
        for name in try files.contentsOfDirectory(atPath: data.path) {
            try files.copyItem(at: data.appendingPathComponent(name), to: dataDirectory.appendingPathComponent(name))
        }
        let runs = RunStore(database: try StoreLocation.store.database(of: dataDirectory))
        var restored: [Int64] = []
        for (run, _) in manifest.outputs.sorted(by: { $0.key < $1.key }) {
            guard let id = Int64(run) else { throw BackupError("\(manifestFile.path): \(run) is not a run") }
            let folder = outputs.appendingPathComponent("run-\(id)")
            try files.copyItem(at: source.appendingPathComponent("outputs/run-\(id)"), to: folder)
            try runs.moveOutputs(ofRun: id, to: folder.path)
            restored.append(id)
        }
        return restored
    }

    /// The SHA-256 of every file under `folder` but the manifest, by its path in the folder.
    static func checksums(_ folder: URL) throws -> [String: String] {
        let root = folder.standardizedFileURL.path
        var sums: [String: String] = [:]
        guard let walk = FileManager.default.enumerator(atPath: root) else { return sums }
        while let path = walk.nextObject() as? String {
            let url = URL(fileURLWithPath: root).appendingPathComponent(path)
            var isFolder: ObjCBool = false
            guard path != manifestName, FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder),
                !isFolder.boolValue
            else { continue }
            sums[path] = try sha256(url)
        }
        return sums
    }

    /// Read a megabyte at a time: output files run to hundreds of megabytes.
    static func sha256(_ file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

public struct BackupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
