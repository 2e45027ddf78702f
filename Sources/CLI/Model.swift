import ArgumentParser
import Foundation
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

/// The input, as-of date and output folder every model command reads and writes.
struct ModelRunOptions: ParsableArguments {
    @Option(help: "The folder of extracts (see docs/input-contract.md).")
    var input: String

    @Option(name: .customLong("as-of"), help: "The as-of date, YYYY-MM-DD: models train on the year before it.")
    var asOf: Day

    @Option(help: "The output folder.")
    var out: String
}

extension PHMCommand.Model {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train both algorithms for every outcome and save the models and their cards under OUT/models.")

        @OptionGroup var files: ModelRunOptions
        @OptionGroup var pipeline: PipelineOptions

        @Option(
            name: .customLong("export-features"),
            help: "Also write the training people's split, outcomes and features to this CSV file (no pseudonyms).")
        var exportFeatures: String?

        func run() throws {
            var options = Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            options.risk.exportFeatures = exportFeatures.map { URL(fileURLWithPath: $0) }
            let models = try Console.reportingFailures { try PipelineRun.trainModels(options, log: Console.log) }
            for model in models { print(Console.cardLine(model)) }
            print("models and cards: \(files.out)/models/")
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate saved models on a run's data and write fresh model cards under OUT/models.")

        @OptionGroup var files: ModelRunOptions
        @OptionGroup var pipeline: PipelineOptions

        func validate() throws {
            guard pipeline.models != nil else { throw ValidationError("--models is required: the folder of saved models.") }
        }

        func run() throws {
            let options = Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            let folder = URL(fileURLWithPath: pipeline.models!)
            let models = try Console.reportingFailures {
                try PipelineRun.evaluateModels(options, models: folder, log: Console.log)
            }
            for model in models { print(Console.cardLine(model)) }
            print("cards: \(files.out)/models/")
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score everyone registered at as-of with saved models: risk-scores.csv, risk-tiers.csv, rising-risk.csv.")

        @OptionGroup var files: ModelRunOptions
        @OptionGroup var pipeline: PipelineOptions

        func validate() throws {
            guard pipeline.models != nil else { throw ValidationError("--models is required: the folder of saved models.") }
        }

        func run() throws {
            let options = Console.options(input: files.input, asOf: files.asOf, out: files.out, pipeline: pipeline)
            let folder = URL(fileURLWithPath: pipeline.models!)
            let risk = try Console.reportingFailures { try PipelineRun.scoreModels(options, models: folder, log: Console.log) }
            for (outcome, scores) in risk.scores.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let scored = scores.tier.compactMap { $0 }.count
                let rising = scores.tier.indices.filter { scores.isRising($0) }.count
                print("\(outcome.rawValue): \(Console.number(scored)) people scored, \(Console.number(rising)) rising")
            }
            print("outputs: \(files.out)/risk-scores.csv, risk-tiers.csv, rising-risk.csv")
        }
    }
}

extension Console {
    /// One line per model: held-out AUROC with its interval, against the baselines.
    static func cardLine(_ model: RiskModel) -> String {
        let c = model.card
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        let baselines = c.baselines.map { "\($0.name) \(f($0.heldOut.auroc))" }.joined(separator: ", ")
        let later = c.laterPeriod.map { ", later period \(f($0.auroc))" } ?? ""
        return
            "\(model.outcome.rawValue) \(model.algorithm.rawValue): held-out AUROC \(f(c.heldOut.auroc)) (95% CI \(f(c.heldOut.aurocLower))-\(f(c.heldOut.aurocUpper)))\(later); baselines: \(baselines)"
    }
}
