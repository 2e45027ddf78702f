import Analysis
import Conditions
import Foundation
import Logging
import Outputs
import PHMCore
import Risk
import Storage

/// How a run stratifies risk.
public struct RiskOptions: Sendable {
    /// A folder of saved models to score with; when nil, models are trained on the run's data.
    public var models: URL?
    /// Seeds the held-out split.
    public var seed: UInt64
    /// The settings each learning method tries.
    public var search: ModelSearch
    /// Where to write the training snapshot's features and outcomes as CSV, when wanted.
    public var exportFeatures: URL?
    /// Whether trained models are given each area indicator of `areas.csv` as a feature.
    public var areaFeatures: Bool

    public init(
        models: URL? = nil, seed: UInt64 = 42, search: ModelSearch = .init(), exportFeatures: URL? = nil,
        areaFeatures: Bool = false
    ) {
        self.models = models
        self.exportFeatures = exportFeatures
        self.seed = seed
        self.search = search
        self.areaFeatures = areaFeatures
    }
}

/// The models of a run and everyone's scores.
public struct RiskResult: Sendable {
    /// Every model trained or loaded: both algorithms for each outcome when trained.
    public var models: [RiskModel]
    public var stratification: Stratification
    /// Features at as-of minus 12 months (training, and the earlier snapshot for rising risk).
    public var development: Snapshot
    /// Features at as-of (scoring).
    public var current: Snapshot
}

/// Risk stratification within a run: snapshots, training or loading, scoring.
public enum RiskStage {
    /// The development index date: 12 months before as-of.
    public static func developmentIndex(_ asOf: Day) -> Day { asOf.adding(months: -12) }

    static func run(_ prepared: PreparedRun, options: RunOptions, clock: inout StageClock, logger: Logger) throws
        -> RiskResult
    {
        let saved = try options.risk.models.map(load)
        let areaFeatures = saved.map(usesAreaFeatures) ?? options.risk.areaFeatures
        let (development, current) = clock.time("risk features") {
            snapshots(prepared, workers: options.workers, areaFeatures: areaFeatures)
        }
        let models = try clock.time("risk training") {
            if let saved { return saved }
            return try train(
                prepared, development: development, current: current, options: options.risk, workers: options.workers)
        }
        for model in models where options.risk.models == nil {
            logger.info("model \(model.card.summary); trained in \(String(format: "%.1f", model.card.trainingSeconds))s")
        }
        clock.riskChoices = choices(models)
        logChoices(clock.riskChoices ?? [], logger: logger)
        let stratification = try clock.time("risk scoring") {
            try Stratification(
                models: scoring(models), current: current, previous: development, people: prepared.population.count,
                workers: options.workers)
        }
        return RiskResult(models: models, stratification: stratification, development: development, current: current)
    }

    /// The snapshot at the development index date and at as-of, with conditions evaluated at each.
    ///
    /// - Parameter areaFeatures: whether the features include the area indicators.
    public static func snapshots(_ prepared: PreparedRun, workers: Int, areaFeatures: Bool = false) -> (
        development: Snapshot, current: Snapshot
    ) {
        let population = prepared.population
        let dataEnd = Snapshot.dataEnd(of: population)
        var earlier = population
        earlier.asOf = developmentIndex(population.asOf)
        let earlierConditions = ConditionEngine(library: prepared.library, codes: population.codes).evaluate(
            earlier, workers: workers)
        let development = Snapshot(
            population: population, conditions: earlierConditions, library: prepared.library, index: earlier.asOf,
            dataEnd: dataEnd, areaFeatures: areaFeatures, workers: workers)
        let current = Snapshot(
            population: population, conditions: prepared.conditions, library: prepared.library, index: population.asOf,
            dataEnd: dataEnd, areaFeatures: areaFeatures, workers: workers)
        return (development, current)
    }

    /// Trains both algorithms for every outcome.
    public static func train(
        _ prepared: PreparedRun, development: Snapshot, current: Snapshot, options: RiskOptions, workers: Int
    ) throws -> [RiskModel] {
        let training = Training(seed: options.seed, search: options.search, workers: workers)
        let design = Validation(development: development, later: current, population: prepared.population, seed: options.seed)
        if let url = options.exportFeatures { try design.exportFeatures(to: url) }
        return try Outcome.allCases.flatMap { try training.train($0, design) }
    }

    /// Whether saved models read the area indicators (so their snapshots must hold them).
    static func usesAreaFeatures(_ models: [RiskModel]) -> Bool {
        models.contains { $0.features.contains { Feature.isArea($0.id) } }
    }

    /// The model that scores each outcome (`Outcome.scoring`).
    public static func scoring(_ models: [RiskModel]) -> [RiskModel] { Outcome.scoring(models, card: \.card) }

    /// For each outcome, which model scores people and why.
    public static func choices(_ models: [RiskModel]) -> [RunSummary.RiskChoice] {
        Outcome.allCases.compactMap { outcome in
            let cards = models.map(\.card).filter { $0.outcome == outcome && $0.choice != nil }
            guard !cards.isEmpty else { return nil }
            let chosen = cards.first { $0.choice!.scoresPeople }
            let choice = (chosen ?? cards.first { $0.algorithm == .ageSexBaseline } ?? cards[0]).choice!
            return .init(
                outcome: outcome.rawValue, model: chosen?.algorithm.rawValue, reason: choice.reason,
                warning: cards.contains { $0.choice!.warning })
        }
    }

    /// One line per outcome, a warning first when the platform fell back or ranks no one.
    static func logChoices(_ choices: [RunSummary.RiskChoice], logger: Logger) {
        for c in choices {
            let message: Logger.Message = "\(c.outcome): \(c.model.map { $0 + " " } ?? "")\(c.reason)"
            if c.warning { logger.warning(message) } else { logger.info(message) }
        }
    }

    /// Every model saved in a folder.
    public static func load(_ folder: URL) throws -> [RiskModel] {
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        let models = try files.filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }.map(RiskModel.load)
        guard !models.isEmpty else {
            throw RiskError.unreadableModel(path: folder.path, reason: "the folder holds no saved models")
        }
        return models
    }
}

extension PipelineRun {
    /// `phm model train`: trains and validates both algorithms for every outcome, and saves the
    /// models and their cards under `OUT/models`.
    public static func trainModels(_ options: RunOptions, logger: Logger = .silent) throws -> [RiskModel] {
        try recorded(options, logger: logger) { prepared, options, clock in
            let (development, current) = clock.time("risk features") {
                RiskStage.snapshots(prepared, workers: options.workers, areaFeatures: options.risk.areaFeatures)
            }
            let models = try clock.time("risk training") {
                try RiskStage.train(
                    prepared, development: development, current: current, options: options.risk, workers: options.workers)
            }
            clock.riskChoices = RiskStage.choices(models)
            RiskStage.logChoices(clock.riskChoices ?? [], logger: logger)
            try RiskWriter.writeModels(models, suppress: options.suppress, to: options.output)
            return { _ in models }
        }
    }

    /// `phm model evaluate`: evaluates saved models on this run's data, as training would have,
    /// and writes fresh cards with the models under `OUT/models`.
    public static func evaluateModels(_ options: RunOptions, models folder: URL, logger: Logger = .silent)
        throws -> [RiskModel]
    {
        try recorded(options, logger: logger) { prepared, options, clock in
            var models = try RiskStage.load(folder)
            let (development, current) = clock.time("risk features") {
                RiskStage.snapshots(prepared, workers: options.workers, areaFeatures: RiskStage.usesAreaFeatures(models))
            }
            let design = Validation(
                development: development, later: current, population: prepared.population, seed: options.risk.seed)
            let training = Training(seed: options.risk.seed, workers: options.workers)
            try clock.time("risk evaluation") {
                var baselines: [Outcome: [ModelCard.Baseline]] = [:]
                for i in models.indices {
                    let outcome = models[i].outcome
                    if baselines[outcome] == nil { baselines[outcome] = try training.baselines(outcome, design).cards }
                    models[i].card.baselines = baselines[outcome]!
                    try training.evaluate(&models[i].card, models[i], design)
                }
            }
            try RiskWriter.writeModels(models, suppress: options.suppress, to: options.output)
            return { [models] _ in models }
        }
    }

    /// `phm model score`: scores everyone registered at as-of with saved models, and writes
    /// `risk-scores.csv`, `risk-tiers.csv` and `rising-risk.csv`; and checks each model's
    /// calibration on this population a year earlier (`Transport`), writing
    /// `model-transport.csv` and warning when it is off.
    public static func scoreModels(_ options: RunOptions, models folder: URL, logger: Logger = .silent)
        throws -> (stratification: Stratification, transport: [Transport])
    {
        try recorded(options, logger: logger) { prepared, options, clock in
            let models = try RiskStage.load(folder)
            let (development, current) = clock.time("risk features") {
                RiskStage.snapshots(prepared, workers: options.workers, areaFeatures: RiskStage.usesAreaFeatures(models))
            }
            let stratification = try clock.time("risk scoring") {
                try Stratification(
                    models: RiskStage.scoring(models), current: current, previous: development,
                    people: prepared.population.count, workers: options.workers)
            }
            try RiskWriter.writeScores(
                stratification, population: prepared.population, registered: prepared.planningPeople,
                to: options.output.appendingPathComponent(PersonFiles.riskScores))
            try RiskWriter.writeSummaries(
                stratification, units: prepared.planningUnits, suppress: options.suppress, to: options.output)
            let transport = try clock.time("risk transport") {
                // People with a National Data Opt-out are scored for care but left out of the check.
                let rows = development.people.indices.filter { !prepared.population.optedOut[Int(development.people[$0])] }
                return try RiskStage.scoring(models).compactMap { model throws -> Transport? in
                    guard let labels = development.outcomes[model.outcome] else { return nil }
                    let risk = try model.risks(development.features, workers: options.workers)
                    return Transport(
                        outcome: model.outcome, index: development.index.description, risk: rows.map { risk[$0] },
                        labels: rows.map { labels[$0] })
                }
            }
            for t in transport { if let warning = t.warning { logger.warning("\(warning)") } }
            try RiskWriter.writeTransport(transport, suppress: options.suppress, to: options.output)
            return { _ in (stratification, transport) }
        }
    }
}
