import Cohorts
import Foundation
import Outputs
import Storage

/// Makes a run's results current all at once, so a run killed at any moment (`kill -9`, power
/// loss) leaves the previous run, its frame, its outputs and the store whole, and the next run
/// starts clean.
///
/// A run writes its outputs into `.NAME.runs/run-ID.partial` beside the output folder `NAME`, its
/// frames as drafts and its identities into the vault's staging table. Then, each step one rename
/// or one transaction: the outputs folder becomes `run-ID`; the vault gains the run's people
/// (keeping the previous run's); the frames become current (the web server and the governed
/// commands switch to the run here, and find its outputs in place); the vault keeps only the
/// run's people; the store marks the run succeeded; `NAME` becomes a symbolic link to `run-ID`.
/// Then older runs' data goes as the retention policy says.
struct RunPublisher {
    /// The output folder asked for: a symbolic link to the newest run's folder.
    let output: URL
    let runId: Int64
    var retention = Retention()

    /// `.NAME.runs` beside the output folder.
    var runs: URL {
        output.deletingLastPathComponent().appendingPathComponent("." + output.lastPathComponent + ".runs")
    }
    var staging: URL { runs.appendingPathComponent("run-\(runId).partial") }
    /// Where the run's outputs stay: what the store records and the web server reads.
    var folder: URL { runs.appendingPathComponent("run-\(runId)") }

    /// Clears what killed runs left (output and frame drafts, staged identities, and the output
    /// folders in `abandoned`) and makes an empty folder for this run's outputs.
    ///
    /// - Parameter abandoned: output folders of this data directory's runs that were killed after
    ///   their outputs were put in place but before their frames were: never served. Only folders
    ///   in this output folder's runs are removed.
    func prepare(dataDirectory: URL, abandoned: [URL] = []) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: runs, withIntermediateDirectories: true) } catch {
            throw OutputUnusable(runs: runs, error: error)
        }
        // A finished run of this id is another data directory's (ids restart in a new one):
        // refused now, not after the whole run, when its folder could not be put in place.
        guard !fm.fileExists(atPath: folder.path) else { throw OutputInUse(runs: runs, folder: folder) }
        for name in (try? fm.contentsOfDirectory(atPath: runs.path)) ?? [] where name.hasSuffix(".partial") {
            try fm.removeItem(at: runs.appendingPathComponent(name))
        }
        for old in abandoned where old.deletingLastPathComponent().standardizedFileURL == runs.standardizedFileURL {
            try? fm.removeItem(at: old)
        }
        FrameFile.removeDrafts(dataDirectory: dataDirectory)
        try IdentityVault(directory: dataDirectory.appendingPathComponent("vault")).dropStaged()
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
    }

    /// The outputs, vault and frames made current in turn; then `markSucceeded`; then the link.
    func commit(dataDirectory: URL, markSucceeded: () throws -> Void) throws {
        let vault = try IdentityVault(directory: dataDirectory.appendingPathComponent("vault"))
        try Self.move(staging, to: folder)
        try vault.mergeStaged()
        try FrameFile.commit(run: runId, dataDirectory: dataDirectory, keep: retention.frames)
        try vault.pruneToStaged()
        try markSucceeded()
        // The run is current and recorded: a link that cannot be made is no failure of the run.
        try? pointOutput()
        // The vault keeps the raw quarantined rows of the runs whose person-level outputs stay.
        try? vault.keepQuarantined(runs: prune())
    }

    /// Points the output folder at this run's: a new link renamed over the old one. An output
    /// folder that is a real directory (written before runs were published this way) is moved
    /// into the runs folder first.
    func pointOutput() throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let isLink = (try? fm.destinationOfSymbolicLink(atPath: output.path)) != nil
        if !isLink, fm.fileExists(atPath: output.path, isDirectory: &isDirectory) {
            try Self.move(output, to: runs.appendingPathComponent("before-run-\(runId)"))
        }
        let link = runs.appendingPathComponent("link-\(runId)")
        try? fm.removeItem(at: link)
        // Relative, so the output folder and its runs can be moved together.
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: runs.lastPathComponent + "/" + folder.lastPathComponent)
        try Self.move(link, to: output)
    }

    /// Removes the person-level files of all but the newest `retention.personLevelRuns` runs'
    /// outputs, and the outputs of all but the newest `retention.outputRuns`. Returns the runs
    /// whose person-level files stay.
    @discardableResult
    func prune() -> [Int64] {
        let fm = FileManager.default
        let done = ((try? fm.contentsOfDirectory(atPath: runs.path)) ?? []).compactMap { name -> Int64? in
            name.hasPrefix("run-") && !name.hasSuffix(".partial") ? Int64(name.dropFirst(4)) : nil
        }.sorted(by: >)
        // This run first, whatever its id (a new data directory starts its ids again).
        let order = [runId] + done.filter { $0 != runId }
        for id in order.dropFirst(max(1, retention.personLevelRuns)) {
            let folder = runs.appendingPathComponent("run-\(id)")
            guard order.prefix(max(1, retention.outputRuns)).contains(id) else {
                try? fm.removeItem(at: folder)
                continue
            }
            for name in PersonFiles.personLevel { try? fm.removeItem(at: folder.appendingPathComponent(name)) }
        }
        return Array(order.prefix(max(1, retention.personLevelRuns)))
    }

    /// One rename(2): atomic, replacing a file or link (not a directory) at the destination.
    static func move(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: to.path, "errno": errno])
        }
    }
}

/// The output folder already holds a finished run with this run's id, written with another data
/// directory.
struct OutputInUse: Error, CustomStringConvertible {
    var runs: URL
    var folder: URL
    var description: String {
        "\(folder.path) already holds a run with this id, from another data directory: write to another --out, "
            + "or move \(runs.path) away first"
    }
}

/// The folder beside `--out` that holds the runs cannot be made (a file in the way, no
/// permission): said with the path and the system's reason, not as a raw error object.
struct OutputUnusable: Error, CustomStringConvertible {
    var runs: URL
    var reason: String

    init(runs: URL, error: any Error) {
        self.runs = runs
        let underlying = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
        if let underlying, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else {
            reason = (error as NSError).localizedDescription
        }
    }

    var description: String {
        "cannot make \(runs.path) for the run's outputs beside --out: \(reason); choose another --out"
    }
}

/// One run at a time in a data directory: an exclusive lock on `DATA/run.lock`, held until the
/// run ends (the system releases it if the process dies), so a second run, or a model command,
/// cannot clear or commit the first one's work.
final class RunLock {
    private let descriptor: Int32

    /// Takes the lock, waiting up to `wait` seconds for whoever holds it (a run, or a backup);
    /// `waiting` is called once if it has to wait.
    init(dataDirectory: URL, wait: TimeInterval = 0, waiting: () -> Void = {}) throws {
        try FileManager.default.createDirectory(
            at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = dataDirectory.appendingPathComponent("run.lock").path
        descriptor = open(path, O_CREAT | O_RDWR, 0o600)
        guard descriptor >= 0 else { throw RunInProgress(message: "\(path) cannot be opened") }
        let deadline = Date().addingTimeInterval(wait)
        var told = false
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            if !told, wait > 0 {
                waiting()
                told = true
            }
            guard Date() < deadline else {
                close(descriptor)
                throw RunInProgress(
                    message: "another run or a backup is working in \(dataDirectory.path); wait for it to finish")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

public struct RunInProgress: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// How long a data directory keeps each run's data. A run's summary, data quality figures and
/// gate outcomes stay in the store whatever this says.
public struct Retention: Sendable, Equatable {
    /// Runs whose person-level outputs (`PersonFiles.personLevel`) are kept.
    public var personLevelRuns = 2
    /// Runs whose output folder is kept at all; those between keep their aggregate tables only.
    public var outputRuns = 24
    /// Runs whose person frames are kept: at least 2, since a run is compared with the one before.
    public var frames = FrameFile.kept

    public init(personLevelRuns: Int = 2, outputRuns: Int = 24, frames: Int = FrameFile.kept) {
        self.personLevelRuns = personLevelRuns
        self.outputRuns = outputRuns
        self.frames = frames
    }

    /// Why the numbers cannot be used, or nil.
    public var problem: String? {
        if personLevelRuns < 1 { return "runs with person-level outputs must be at least 1 (the current run's)" }
        if outputRuns < personLevelRuns { return "runs with outputs must be at least the runs with person-level outputs" }
        if frames < 2 { return "frames must be at least 2: each run is compared with the one before" }
        return nil
    }
}

public struct RetentionInvalid: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
