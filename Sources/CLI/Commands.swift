import ArgumentParser
import Foundation
import Identity
import Ingest
import PHMCore
import Pipeline
import Synthesis

extension PHMCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest a folder of extracts, link and pseudonymise it, and write the population outputs.")

        @OptionGroup var files: RunFolders
        @OptionGroup var pipeline: PipelineOptions

        func run() throws {
            let result = try Console.runPipeline(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            print(Console.summary(result))
        }
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic health system that follows the input contract, with its ground truth.")

        @OptionGroup var population: PopulationOptions

        @Option(name: .customLong("as-of"), help: "The as-of date the history is built around.")
        var asOf: Day = SyntheticHealthSystem.defaultAsOf

        @Option(help: "The folder to write.")
        var out: String

        func run() throws {
            let summary = try Console.synthesise(people: population.people, seed: population.seed, asOf: asOf, out: out)
            print("wrote \(Console.number(summary.people)) people to \(out)")
            for (file, rows) in summary.rows.sorted(by: { $0.key < $1.key }) {
                print("  \(file): \(Console.number(rows)) rows")
            }
        }
    }

    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Synthesise a population, run the pipeline on it, and print a summary.")

        @OptionGroup var population: PopulationOptions

        @Option(help: "Folder for the synthetic input and the outputs.")
        var dir: String = "phm-demo"

        @OptionGroup var pipeline: PipelineOptions

        func run() throws {
            let input = dir + "/input"
            _ = try Console.synthesise(
                people: population.people, seed: population.seed, asOf: SyntheticHealthSystem.defaultAsOf, out: input)
            let result = try Console.runPipeline(
                input: input, asOf: SyntheticHealthSystem.defaultAsOf, out: dir + "/output", pipeline: pipeline)
            print(Console.summary(result))
        }
    }
}
