import Dispatch
import Foundation
import Outputs
import PHMCore

/// Trains and validates risk models with temporal validation.
///
/// Features come from history before a development index date (as-of minus 12 months) and
/// outcomes from the 12 months after it. A fifth of people, chosen by a keyed hash of their
/// pseudonym, are held out of training and used for evaluation. When the data also covers the
/// 12 months after as-of, the trained model is applied there too: a later period it never saw.
public struct Training: Sendable {
    public var seed: UInt64
    /// The L2 penalty of the baselines' logistic regressions: scikit-learn's `C` is its inverse.
    public var lambda: Double
    public var search: ModelSearch
    public var workers: Int

    public static let heldOutShare = 0.2

    /// The two baselines every model is compared with; the first is also the fallback.
    public static let baselines: [(name: String, features: [String])] = [
        ("age and sex only", ["age", "age_over_65", "age_over_80", "female"]),
        ("prior emergency admissions only", ["emergency_admissions_12m"]),
    ]

    public init(seed: UInt64 = 42, lambda: Double = 1, search: ModelSearch = .init(), workers: Int) {
        self.seed = seed
        self.lambda = lambda
        self.search = search
        self.workers = workers
    }

    /// Whether a person is held out of training: a stable function of pseudonym and seed.
    public static func isHeldOut(_ pseudonym: String, seed: UInt64) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in pseudonym.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        // splitmix64 finaliser, so nearby pseudonyms spread evenly
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return Double(h % 1_000_000) < heldOutShare * 1_000_000
    }

    /// Trains, tunes and judges the models of one outcome and chooses the one that scores people.
    ///
    /// When the training people meet the sample size the features need, both methods are tuned
    /// (`ModelSearch`), recalibrated and evaluated, and the one with the lower cross-validated log
    /// loss scores people if its held-out AUROC beats the age-and-sex baseline's with 95%
    /// confidence (DeLong's test for paired curves); else the other method if it does; else the
    /// baseline itself, if it beats chance; else no model scores the outcome. Every card says
    /// which and why (`ModelCard.choice`).
    ///
    /// - Throws: `RiskError` when there are too few people or no outcomes.
    public func train(_ outcome: Outcome, _ design: Validation) throws(RiskError) -> [RiskModel] {
        let development = design.development
        guard let labels = development.outcomes[outcome] else {
            throw .noOutcomes(outcome: outcome.rawValue, index: development.index.description)
        }
        guard development.people.count >= 200 else { throw .tooFewPeople(development.people.count) }
        let trainRows = design.trainingRows
        let yTrain = trainRows.map { labels[Int($0)] }
        let events = yTrain.reduce(0) { $0 + Int($1) }
        guard events > 0, events < yTrain.count else {
            throw .noOutcomes(outcome: outcome.rawValue, index: development.index.description)
        }
        let features = development.features.features
        let sampleSize = SampleSize(parameters: features.count, prevalence: Double(events) / Double(yTrain.count))
        let baselines = try baselines(outcome, design)
        func card(_ algorithm: Algorithm, features: [Feature]) -> ModelCard {
            ModelCard(
                outcome: outcome, outcomeDefinition: outcome.name, algorithm: algorithm, features: features.map(\.id),
                trainingIndex: development.index.description, trainingPeople: trainRows.count, trainingEvents: events,
                seed: seed, trainingSeconds: 0, heldOut: Evaluation(risk: [], labels: []), baselines: baselines.cards,
                sampleSize: sampleSize)
        }
        var models: [RiskModel] = []
        if trainRows.count >= sampleSize.minimumPeople {
            let xTrain = development.features.subset(trainRows)
            for algorithm in Algorithm.learned {
                let start = DispatchTime.now().uptimeNanoseconds
                var model = RiskModel(
                    outcome: outcome, algorithm: algorithm, features: features, card: card(algorithm, features: features))
                if algorithm == .boostedTrees {
                    let (trees, tuning) = search.boostedTrees(xTrain, labels: yTrain, seed: seed, workers: workers)
                    model.trees = trees
                    model.card.tuning = tuning
                } else {
                    let (logistic, tuning) = search.logisticRegression(xTrain, labels: yTrain, seed: seed)
                    model.logistic = logistic
                    model.card.tuning = tuning
                }
                model.recalibration = model.card.tuning?.recalibration
                model.card.trainingSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                try evaluate(&model.card, model, design)
                models.append(model)
            }
        }
        var baseline = baselines.fallback
        baseline.card = card(.ageSexBaseline, features: baseline.features)
        baseline.card.trainingSeconds = baselines.seconds
        try evaluate(&baseline.card, baseline, design)
        choose(&models, baseline: baseline, baselineRisk: baselines.heldOutRisk, design: design, labels: labels)
        return models
    }

    /// Marks which model scores people, appending the baseline when it is the one.
    func choose(
        _ models: inout [RiskModel], baseline: RiskModel, baselineRisk: [Double], design: Validation, labels: [UInt8]
    ) {
        let y = design.testRows.map { labels[Int($0)] }
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        // Lowest cross-validated log loss first: the champion, then the challenger.
        let order = models.indices.sorted {
            (models[$0].card.tuning?.crossValidatedLogLoss ?? .infinity)
                < (models[$1].card.tuning?.crossValidatedLogLoss ?? .infinity)
        }
        var chosen: Int?
        for (rank, i) in order.enumerated() {
            let risk = (try? models[i].risks(design.testFeatures, workers: workers)) ?? []
            let d = Metrics.aurocDifference(risk, baselineRisk, y)
            let lower = d.map { $0.value - CalibrationMeasures.z95 * $0.standardError }
            let upper = d.map { $0.value + CalibrationMeasures.z95 * $0.standardError }
            let versus =
                d.map {
                    "held-out AUROC \(f(models[i].card.heldOut.auroc)) against the age-and-sex baseline's \(f(baseline.card.heldOut.auroc)), \(f($0.value)) higher (95% CI \(f(lower!)) to \(f(upper!)))"
                } ?? "no held-out comparison with the age-and-sex baseline"
            let beats = chosen == nil && (lower ?? 0) > 0
            let reason: String
            if beats {
                chosen = i
                reason =
                    (rank == 0
                        ? "scores people: the lower cross-validated log loss of the two methods, and "
                        : "scores people in place of the method with the lower cross-validated log loss, which does not beat the age-and-sex baseline: ")
                    + versus
            } else if chosen != nil {
                reason = "not used: the other method has the lower cross-validated log loss and beats the baseline; " + versus
            } else {
                reason = "not used: does not beat the age-and-sex baseline with 95% confidence; " + versus
            }
            models[i].card.choice = .init(
                scoresPeople: beats, reason: reason, warning: beats && rank > 0, overBaseline: d?.value,
                overBaselineLower: lower, overBaselineUpper: upper)
        }
        guard chosen == nil else { return }
        var baseline = baseline
        let e = baseline.card.heldOut
        let size = baseline.card.sampleSize
        let why =
            models.isEmpty
            ? "the \(design.trainingRows.count) training people are fewer than the \(size?.minimumPeople ?? 0) that \(size?.parameters ?? 0) features need (Riley et al. 2020), so no full model was trained"
            : "neither full model beats the age-and-sex baseline on held-out people"
        let auroc = "held-out AUROC \(f(e.auroc)), 95% CI \(f(e.aurocLower)) to \(f(e.aurocUpper))"
        if e.aurocLower > 0.5 {
            baseline.card.choice = .init(
                scoresPeople: true, reason: "scores people: \(why); people are ranked by age and sex alone (\(auroc))",
                warning: true)
        } else {
            baseline.card.choice = .init(
                scoresPeople: false,
                reason: "no model scores people: \(why), and the age-and-sex baseline does not beat chance (\(auroc))",
                warning: true)
        }
        models.append(baseline)
    }

    /// Fills a model card's evaluation: the held-out people at the development index date, and
    /// the held-out people a year later when the data covers it.
    public func evaluate(_ card: inout ModelCard, _ model: RiskModel, _ design: Validation) throws(RiskError) {
        let outcome = model.outcome
        guard let labels = design.development.outcomes[outcome] else {
            throw .noOutcomes(outcome: outcome.rawValue, index: design.development.index.description)
        }
        // Each period's measures are counted on a core of their own.
        var periods = [
            (
                risk: try model.risks(design.testFeatures, workers: workers), rows: design.testRows, labels: labels,
                groups: design.groups
            )
        ]
        // A saved card evaluated again keeps no later period its data does not cover.
        var laterIndex: String?
        if let later = design.later, let laterLabels = later.outcomes[outcome] {
            laterIndex = later.index.description
            periods.append(
                (
                    try model.risks(design.laterTestFeatures, workers: workers), design.laterTestRows, laterLabels,
                    design.laterGroups
                ))
        }
        let evaluations = Parallel.map(periods.count) { [periods] k in
            let (risk, rows, labels, groups) = periods[k]
            return Evaluation(
                risk: risk, labels: rows.map { labels[Int($0)] },
                groups: groups.map { g in (g.name, rows.map { g.labels[Int($0)] }) })
        }
        card.heldOut = evaluations[0]
        card.laterIndex = laterIndex
        card.laterPeriod = evaluations.count > 1 ? evaluations[1] : nil
    }

    /// The two baselines for an outcome, trained on the training people and judged on the
    /// held-out people: the same for every model of the outcome. The age-and-sex baseline also
    /// comes as a model, with its held-out risks, to fall back on.
    public func baselines(_ outcome: Outcome, _ design: Validation) throws(RiskError) -> (
        cards: [ModelCard.Baseline], fallback: RiskModel, heldOutRisk: [Double], seconds: Double
    ) {
        guard let labels = design.development.outcomes[outcome] else {
            throw .noOutcomes(outcome: outcome.rawValue, index: design.development.index.description)
        }
        let yTrain = design.trainingRows.map { labels[Int($0)] }, yTest = design.testRows.map { labels[Int($0)] }
        var fallback: (model: RiskModel, risk: [Double], seconds: Double)?
        let cards = try Training.baselines.map { baseline throws(RiskError) -> ModelCard.Baseline in
            let start = DispatchTime.now().uptimeNanoseconds
            let x = try design.development.features.selecting(baseline.features)
            let fitted = LogisticRegression.train(x.subset(design.trainingRows), labels: yTrain, lambda: lambda)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let test = try design.testFeatures.selecting(baseline.features)
            let risk = (0..<test.rows).map { fitted.probability(test, row: $0) }
            if fallback == nil {
                var model = RiskModel(
                    outcome: outcome, algorithm: .ageSexBaseline, features: x.features,
                    card: ModelCard(
                        outcome: outcome, outcomeDefinition: outcome.name, algorithm: .ageSexBaseline,
                        features: baseline.features, trainingIndex: "", trainingPeople: 0, trainingEvents: 0, seed: seed,
                        trainingSeconds: 0, heldOut: Evaluation(risk: [], labels: []), baselines: []))
                model.logistic = fitted
                fallback = (model, risk, seconds)
            }
            return .init(name: baseline.name, features: baseline.features, heldOut: Evaluation(risk: risk, labels: yTest))
        }
        return (cards, fallback!.model, fallback!.risk, fallback!.seconds)
    }
}

/// Who a model is trained on and judged on: the development snapshot split into training and
/// held-out people by a keyed hash of their pseudonyms, and the later snapshot's held-out people.
public struct Validation: Sendable {
    public var development: Snapshot
    public var later: Snapshot?
    public var trainingRows: [Int32]
    public var testRows: [Int32]
    public var laterTestRows: [Int32]
    /// The features of the held-out people, at each index date.
    public var testFeatures: FeatureMatrix
    public var laterTestFeatures: FeatureMatrix
    /// Subgroup labels for each person of `development` and of `later`.
    public var groups: [(name: String, labels: [String])]
    public var laterGroups: [(name: String, labels: [String])]

    public init(development: Snapshot, later: Snapshot?, population: Population, seed: UInt64) {
        self.development = development
        self.later = later
        let heldOut = development.people.map { Training.isHeldOut(population.pseudonym[Int($0)], seed: seed) }
        trainingRows = heldOut.indices.filter { !heldOut[$0] }.map { Int32($0) }
        testRows = heldOut.indices.filter { heldOut[$0] }.map { Int32($0) }
        laterTestRows = (later?.people ?? []).enumerated().filter {
            Training.isHeldOut(population.pseudonym[Int($1)], seed: seed)
        }
        .map { Int32($0.offset) }
        testFeatures = development.features.subset(testRows)
        laterTestFeatures =
            later?.features.subset(laterTestRows) ?? FeatureMatrix(features: development.features.features, rows: 0)
        groups = development.breakdowns(population)
        laterGroups = later?.breakdowns(population) ?? []
    }
}

/// A risk tier by rank within the registered population.
public enum Tier: Int8, Sendable, Codable, CaseIterable, Comparable {
    case low, moderate, high, veryHigh

    public var label: String {
        switch self {
        case .low: "low"
        case .moderate: "moderate"
        case .high: "high"
        case .veryHigh: "very high"
        }
    }

    /// The highest-risk share of people in this tier or above: top 0.5% very high, the next
    /// 4.5% high, the next 15% moderate, the rest low (the pyramid of the Kaiser Permanente model).
    public var cumulativeShare: Double {
        switch self {
        case .veryHigh: 0.005
        case .high: 0.05
        case .moderate: 0.20
        case .low: 1
        }
    }

    public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }

    /// Tiers for a set of risks, by rank (ties keep the earlier position higher).
    public static func assign(_ risks: [Double]) -> [Tier] {
        let order = risks.indices.sorted { risks[$0] > risks[$1] || (risks[$0] == risks[$1] && $0 < $1) }
        var tiers = [Tier](repeating: .low, count: risks.count)
        let n = Double(risks.count)
        let upTo = Tier.allCases.reversed().map { ($0, ($0.cumulativeShare * n).rounded(.up)) }
        for (rank, i) in order.enumerated() {
            tiers[i] = upTo.first { Double(rank + 1) <= $0.1 }!.0
        }
        return tiers
    }
}

/// Everyone's risk, tier and rise in risk for each outcome at as-of, indexed by population row.
public struct Stratification: Sendable {
    public struct Scores: Sendable {
        public var model: RiskModel
        /// Risk at as-of, NaN for people not registered then.
        public var risk: [Float]
        public var tier: [Tier?]
        /// Risk and tier at the earlier snapshot, NaN and nil where the person was not registered then.
        public var previousRisk: [Float]
        public var previousTier: [Tier?]

        /// Whether a person's risk rose: their tier went up, or their risk rose by at least five
        /// percentage points and by at least half of its earlier value.
        public func isRising(_ person: Int) -> Bool {
            guard let now = tier[person], let before = previousTier[person] else { return false }
            return now > before || roseMaterially(person)
        }

        /// Whether risk rose by at least `materialRise` and by at least half of its earlier value.
        public func roseMaterially(_ person: Int) -> Bool {
            let r = risk[person], p = previousRisk[person]
            return r - p >= Stratification.materialRise && r >= 1.5 * p
        }
    }

    /// The absolute rise in risk (five percentage points) that counts as material.
    public static let materialRise: Float = 0.05

    public var scores: [Outcome: Scores]
    /// The top factors behind each person's emergency admission risk, empty where not scored.
    public var factors: [[String]]
    public var index: Day
    public var previousIndex: Day?

    /// Scores the current snapshot (and the earlier one, for rising risk) with one model per outcome.
    public init(models: [RiskModel], current: Snapshot, previous: Snapshot?, people: Int, workers: Int) throws(RiskError) {
        index = current.index
        previousIndex = previous?.index
        scores = [:]
        factors = [[String]](repeating: [], count: people)
        for model in models {
            let risk = try model.risks(current.features, workers: workers)
            let tiers = Tier.assign(risk)
            var s = Scores(
                model: model, risk: [Float](repeating: .nan, count: people), tier: [Tier?](repeating: nil, count: people),
                previousRisk: [Float](repeating: .nan, count: people), previousTier: [Tier?](repeating: nil, count: people))
            for (i, p) in current.people.enumerated() {
                s.risk[Int(p)] = Float(risk[i])
                s.tier[Int(p)] = tiers[i]
            }
            if let previous {
                let before = try model.risks(previous.features, workers: workers)
                let beforeTiers = Tier.assign(before)
                for (i, p) in previous.people.enumerated() {
                    s.previousRisk[Int(p)] = Float(before[i])
                    s.previousTier[Int(p)] = beforeTiers[i]
                }
            }
            scores[model.outcome] = s
            if model.outcome == .emergencyAdmission {
                let top = try model.topFactors(current.features, workers: workers)
                for (i, p) in current.people.enumerated() { factors[Int(p)] = top[i] }
            }
        }
    }
}
