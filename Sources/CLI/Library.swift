import Analysis
import ArgumentParser
import Cohorts
import Conditions
import Foundation

extension PHMCommand {
    struct Library: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "library",
            abstract:
                "Copy the shipped condition library (definitions.yaml, code lists, segmentations.yaml and care-gaps.yaml) to a folder, to edit and pass to --conditions, --segmentations and --care-gaps."
        )

        @Option(help: "The folder to create.")
        var out: String

        func run() throws {
            let destination = URL(fileURLWithPath: out)
            guard !FileManager.default.fileExists(atPath: destination.path) else {
                throw CommandFailure(message: "\(out) already exists; choose a new folder.")
            }
            try FileManager.default.copyItem(at: ConditionLibrary.standardFolder, to: destination)
            let segmentationsFile = destination.appendingPathComponent("segmentations.yaml")
            try FileManager.default.copyItem(at: Segmentation.standardFile, to: segmentationsFile)
            try FileManager.default.copyItem(at: CareGap.standardFile, to: destination.appendingPathComponent("care-gaps.yaml"))
            let library = try ConditionLibrary.load(definitions: destination.appendingPathComponent("definitions.yaml"))
            let segmentations = try Segmentation.load(definitions: segmentationsFile, library: library)
            print(
                "wrote \(library.conditions.count) conditions, \(library.lists.count) code lists, \(library.scores.count) scores and \(segmentations.count) segmentations to \(out)"
            )
            print(
                "edit them, then: phm run ... --conditions \(out)/definitions.yaml --segmentations \(out)/segmentations.yaml; worklists: --care-gaps \(out)/care-gaps.yaml"
            )
        }
    }
}
