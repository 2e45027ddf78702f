import ArgumentParser
import Conditions
import Foundation

extension PHMCommand {
    struct Library: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "library",
            abstract:
                "Copy the shipped condition library (definitions.yaml and code lists) to a folder, to edit and pass to --conditions."
        )

        @Option(help: "The folder to create.")
        var out: String

        func run() throws {
            let destination = URL(fileURLWithPath: out)
            guard !FileManager.default.fileExists(atPath: destination.path) else {
                throw CommandFailure(message: "\(out) already exists; choose a new folder.")
            }
            try FileManager.default.copyItem(at: ConditionLibrary.standardFolder, to: destination)
            let library = try ConditionLibrary.load(definitions: destination.appendingPathComponent("definitions.yaml"))
            print(
                "wrote \(library.conditions.count) conditions, \(library.lists.count) code lists and \(library.scores.count) scores to \(out)"
            )
            print("edit \(out)/definitions.yaml, then: phm run ... --conditions \(out)/definitions.yaml")
        }
    }
}
