import ArgumentParser
import Foundation
import Outputs
import PHMCore
import Pipeline
import Risk

extension PHMCommand {
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train, evaluate and score the risk models (phm run does all three).",
            subcommands: [Train.self, Evaluate.self, Score.self])
    }
}

extension PHMCommand.Model {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train both algorithms for every outcome and save the models and their cards under OUT/models.")

        @OptionGroup var files: RunFolders
        @OptionGroup var pipeline: PipelineOptions

        @Option(
            name: .customLong("export-features"),
            help: "Also write the training people's split, outcomes and features to this CSV file (no pseudonyms).")
        var exportFeatures: String?

        mutating func validate() throws { try pipeline.resolve(SettingSources(file: pipeline.config)) }

        func run() throws {
            var options = try Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            options.risk.exportFeatures = exportFeatures.map { URL(fileURLWithPath: $0) }
            let models = try Console.reportingFailures {
                try PipelineRun.trainModels(options, logger: Console.logger(pipeline.logs))
            }
            for model in models { print(model.card.summary) }
            print("models and cards: \(files.out)/models/")
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate saved models on a run's data and write fresh model cards under OUT/models.")

        @OptionGroup var files: RunFolders
        @OptionGroup var pipeline: PipelineOptions

        mutating func validate() throws {
            try pipeline.resolve(SettingSources(file: pipeline.config))
            _ = try pipeline.savedModels()
        }

        func run() throws {
            let options = try Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            let folder = try pipeline.savedModels()
            let models = try Console.reportingFailures {
                try PipelineRun.evaluateModels(options, models: folder, logger: Console.logger(pipeline.logs))
            }
            for model in models { print(model.card.summary) }
            print("cards: \(files.out)/models/")
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Score everyone registered at as-of with saved models (risk-scores.csv, risk-tiers.csv, rising-risk.csv) and check their calibration on this population (model-transport.csv)."
        )

        @OptionGroup var files: RunFolders
        @OptionGroup var pipeline: PipelineOptions

        mutating func validate() throws {
            try pipeline.resolve(SettingSources(file: pipeline.config))
            _ = try pipeline.savedModels()
        }

        func run() throws {
            let options = try Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            let folder = try pipeline.savedModels()
            let (risk, transport) = try Console.reportingFailures {
                try PipelineRun.scoreModels(options, models: folder, logger: Console.logger(pipeline.logs))
            }
            for (outcome, scores) in risk.scores.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let scored = scores.tier.compactMap { $0 }.count
                let rising = scores.tier.indices.filter { scores.isRising($0) }.count
                print("\(outcome.rawValue): \(Console.number(scored)) people scored, \(Console.number(rising)) rising")
            }
            for t in transport {
                print("\(t.outcome.rawValue) on this population at \(t.index): " + (t.warning ?? "calibrated within tolerance"))
            }
            print("outputs: \(files.out)/risk-scores.csv, risk-tiers.csv, rising-risk.csv, model-transport.csv")
        }
    }
}
