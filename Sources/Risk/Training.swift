import Dispatch
import PHMCore

/// Trains and validates risk models with temporal validation.
///
/// Features come from history before a development index date (as-of minus 12 months) and
/// outcomes from the 12 months after it. A fifth of people, chosen by a keyed hash of their
/// pseudonym, are held out of training and used for evaluation. When the data also covers the
/// 12 months after as-of, the trained model is applied there too: a later period it never saw.
public struct Training: Sendable {
    public var seed: UInt64
    /// The L2 penalty of logistic regression: scikit-learn's `C` is its inverse.
    public var lambda: Double
    public var trees: BoostedTrees.Parameters
    public var workers: Int

    public static let heldOutShare = 0.2

    /// The two baselines every model is compared with.
    public static let baselines: [(name: String, features: [String])] = [
        ("age and sex only", ["age", "age_over_65", "age_over_80", "female"]),
        ("prior emergency admissions only", ["emergency_admissions_12m"]),
    ]

    public init(seed: UInt64 = 42, lambda: Double = 1, trees: BoostedTrees.Parameters = .init(), workers: Int) {
        self.seed = seed
        self.lambda = lambda
        self.trees = trees
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

    /// Trains both algorithms for one outcome, each with its model card.
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
        guard yTrain.contains(1), yTrain.contains(0) else {
            throw .noOutcomes(outcome: outcome.rawValue, index: development.index.description)
        }
        let xTrain = development.features.subset(trainRows)
        let baselines = try baselines(outcome, design)
        return try Algorithm.allCases.map { algorithm throws(RiskError) -> RiskModel in
            let start = DispatchTime.now().uptimeNanoseconds
            var model = RiskModel(
                outcome: outcome, algorithm: algorithm, features: development.features.features,
                card: ModelCard(
                    outcome: outcome, outcomeDefinition: outcome.name, algorithm: algorithm,
                    features: development.features.features.map(\.id), trainingIndex: development.index.description,
                    trainingPeople: trainRows.count, trainingEvents: yTrain.reduce(0) { $0 + Int($1) }, seed: seed,
                    trainingSeconds: 0, heldOut: Evaluation(risk: [], labels: []), baselines: baselines))
            switch algorithm {
            case .logisticRegression:
                model.logistic = LogisticRegression.train(xTrain, labels: yTrain, lambda: lambda)
            case .boostedTrees:
                model.trees = BoostedTrees.train(xTrain, labels: yTrain, parameters: trees, workers: workers)
            }
            model.card.trainingSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try evaluate(&model.card, model, design)
            return model
        }
    }

    /// Fills a model card's evaluation: the held-out people at the development index date, and
    /// the held-out people a year later when the data covers it.
    public func evaluate(_ card: inout ModelCard, _ model: RiskModel, _ design: Validation) throws(RiskError) {
        let outcome = model.outcome
        guard let labels = design.development.outcomes[outcome] else {
            throw .noOutcomes(outcome: outcome.rawValue, index: design.development.index.description)
        }
        let rows = design.testRows
        card.heldOut = Evaluation(
            risk: try model.risks(design.testFeatures, workers: workers), labels: rows.map { labels[Int($0)] },
            groups: design.groups.map { g in (g.name, rows.map { g.labels[Int($0)] }) })
        if let later = design.later, let laterLabels = later.outcomes[outcome] {
            let rows = design.laterTestRows
            card.laterIndex = later.index.description
            card.laterPeriod = Evaluation(
                risk: try model.risks(design.laterTestFeatures, workers: workers), labels: rows.map { laterLabels[Int($0)] },
                groups: design.laterGroups.map { g in (g.name, rows.map { g.labels[Int($0)] }) })
        }
    }

    /// The two baselines for an outcome, trained on the training people and judged on the
    /// held-out people: the same for every model of the outcome.
    public func baselines(_ outcome: Outcome, _ design: Validation) throws(RiskError) -> [ModelCard.Baseline] {
        guard let labels = design.development.outcomes[outcome] else {
            throw .noOutcomes(outcome: outcome.rawValue, index: design.development.index.description)
        }
        let yTrain = design.trainingRows.map { labels[Int($0)] }, yTest = design.testRows.map { labels[Int($0)] }
        return try Training.baselines.map { baseline throws(RiskError) -> ModelCard.Baseline in
            let fitted = LogisticRegression.train(
                try design.development.features.selecting(baseline.features).subset(design.trainingRows), labels: yTrain,
                lambda: lambda)
            let x = try design.testFeatures.selecting(baseline.features)
            let risk = (0..<x.rows).map { fitted.probability(x, row: $0) }
            return .init(name: baseline.name, features: baseline.features, heldOut: Evaluation(risk: risk, labels: yTest))
        }
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
