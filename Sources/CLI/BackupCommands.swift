import ArgumentParser
import Cohorts
import Foundation
import Governance
import Pipeline

extension PHMCommand {
    struct BackupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "backup",
            abstract:
                "Back up a data directory on the embedded store: the identity vault and store (online, while the server runs), the kept runs' frames and output folders, and a manifest of checksums signed with the platform key. Keys are backed up apart (see docs/operations.md)."
        )

        /// The data directory to back up.
        @OptionGroup var directory: DataDirectoryOptions

        @Option(help: "The folder to write the backup to (must not exist).")
        var to: String

        @Option(help: "Seconds to wait for a run in progress to finish (default: none, refused at once).")
        var wait: Int = 0

        mutating func validate() throws {
            try directory.resolve(SettingSources(file: directory.config))
            guard (0...86_400).contains(wait) else { throw ValidationError("--wait must be 0 to 86,400 seconds.") }
        }

        func run() throws {
            try directory.useKeyFiles()
            let dataDirectory = directory.dataDirectory
            let data = URL(fileURLWithPath: dataDirectory)
            let manifest = try Console.reportingFailures {
                try Backup.write(
                    dataDirectory: data, to: URL(fileURLWithPath: to), key: try PlatformKey.load(dataDirectory: data),
                    wait: TimeInterval(wait))
            }
            let runs = manifest.outputs.count == 1 ? "1 run" : "\(manifest.outputs.count) runs"
            print("backed up \(dataDirectory) to \(to): \(manifest.files.count) files, with the outputs of \(runs)")
            let missing = FrameFile.runs(dataDirectory: data).filter { manifest.outputs[String($0)] == nil }.sorted()
            if !missing.isEmpty {
                print(
                    "note: no output folder was found where the store records it for kept run\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")): \(missing.count == 1 ? "its frames are" : "their frames are") backed up, not \(missing.count == 1 ? "its" : "their") outputs"
                )
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Restore a backup into a new data directory, its runs' outputs into a new folder, after checking the backup's manifest under the platform key and every file against it."
        )

        @Option(help: "The backup folder (written by phm backup).")
        var from: String

        @Option(name: .customLong("data-dir"), help: "The data directory to restore into (new or empty).")
        var dataDirectory: String

        @Option(help: "The folder to restore the runs' output folders into (new or empty), one run-ID folder each.")
        var outputs: String

        @Option(
            help: "A configuration file naming the platform key file (its data directory is not used; see docs/operations.md).")
        var config: String?

        func run() throws {
            try SettingSources(file: config).exportKeyFiles()
            let data = URL(fileURLWithPath: dataDirectory)
            let runs = try Console.reportingFailures {
                try Backup.restore(
                    from: URL(fileURLWithPath: from), dataDirectory: data, outputs: URL(fileURLWithPath: outputs),
                    key: try PlatformKey.load(dataDirectory: data))
            }
            print(
                "restored \(from) into \(dataDirectory), outputs of runs \(runs.map(String.init).joined(separator: ", ")) into \(outputs); serve it with the same platform key: phm serve --data-dir \(dataDirectory)"
            )
        }
    }
}
