import Foundation
import Outputs
import PHMCore

/// The learning methods a risk model can use.
public enum Algorithm: String, Sendable, Codable, CaseIterable {
    case logisticRegression = "logistic_regression"
    case boostedTrees = "boosted_trees"
    /// Logistic regression on age and sex alone: what every model must beat, and what ranks
    /// people when none does.
    case ageSexBaseline = "age_sex_baseline"

    public var name: String {
        switch self {
        case .logisticRegression: "L2-regularised logistic regression"
        case .boostedTrees: "gradient-boosted trees (histogram method)"
        case .ageSexBaseline: "baseline: logistic regression on age and sex only"
        }
    }

    /// The methods trained on every feature.
    public static let learned: [Algorithm] = [.logisticRegression, .boostedTrees]
}

/// A trained model with everything needed to score and to explain it: its features, when it was
/// trained, and how it performed.
public struct RiskModel: Sendable, Codable {
    public var outcome: Outcome
    public var algorithm: Algorithm
    public var features: [Feature]
    public var logistic: LogisticRegression?
    public var trees: BoostedTrees?
    /// Applied to the model's log-odds, fitted on predictions the model never trained on.
    public var recalibration: LogisticCalibration?
    public var card: ModelCard

    /// Predicted risks for every row of a snapshot's features, rows split across cores.
    ///
    /// - Throws: `RiskError.missingFeature` when the snapshot lacks one of the model's features.
    /// - Complexity: O(rows x (features or trees x depth)).
    public func risks(_ features: FeatureMatrix, workers: Int) throws(RiskError) -> [Double] {
        let x = try features.selecting(self.features.map(\.id))
        let parts = Parallel.ranges(x.rows, parts: workers * 4)
        let calibration = recalibration ?? .identity
        return Parallel.map(parts.count) { k in
            logOdds(x, rows: parts[k]).map { calibration.risk(logOdds: $0) }
        }.flatMap { $0 }
    }

    /// The model's log-odds for `rows` of a matrix holding exactly its features.
    func logOdds(_ x: FeatureMatrix, rows: Range<Int>) -> [Double] {
        trees?.logOdds(x, rows: rows) ?? rows.map { logistic!.linear(x, row: $0) }
    }

    /// Each row's contributions to the log-odds of `rows`, a block of rows at a time (row by row
    /// within the block), for a matrix holding exactly this model's features.
    func contributions(_ x: FeatureMatrix, rows: Range<Int>, eachBlock body: (Range<Int>, UnsafeBufferPointer<Double>) -> Void) {
        if let trees { return trees.contributions(x, rows: rows, eachBlock: body) }
        var start = rows.lowerBound
        while start < rows.upperBound {
            let block = start..<min(rows.upperBound, start + BoostedTrees.scoringBlock)
            block.flatMap { logistic!.contributions(x, row: $0) }.withUnsafeBufferPointer { body(block, $0) }
            start = block.upperBound
        }
    }

    /// The smallest contribution to the log-odds (a tenth, about 10% more odds) worth naming.
    public static let minimumFactor = 0.1

    /// For each row, the factors that raise its risk most, in plain words, strongest first.
    ///
    /// Contributions to the log-odds are summed over features explained together (age and its
    /// hinges), and only factors adding at least `minimumFactor` to the log-odds are given.
    ///
    /// - Complexity: O(rows x (features + trees x depth)), rows split across cores.
    public func topFactors(_ features: FeatureMatrix, count: Int = 3, workers: Int) throws(RiskError) -> [[String]] {
        let x = try features.selecting(self.features.map(\.id))
        let ids = self.features.map(\.id)
        let factorOf = self.features.map { f in ids.firstIndex(of: f.explainedBy ?? f.id) ?? 0 }
        // Recalibration scales every contribution to the log-odds alike.
        let slope = recalibration?.slope ?? 1
        let isReason = ids.map(Feature.isReason)
        let p = ids.count
        let parts = Parallel.ranges(x.rows, parts: workers * 4)
        return Parallel.map(parts.count) { k in
            var byFactor = [Double](repeating: 0, count: p)
            var top: [Int] = []
            var out: [[String]] = []
            out.reserveCapacity(parts[k].count)
            contributions(x, rows: parts[k]) { block, contributions in
                for i in block {
                    let row = (i - block.lowerBound) * p
                    for j in 0..<p { byFactor[j] = 0 }
                    for j in 0..<p { byFactor[factorOf[j]] += slope * contributions[row + j] }
                    // The strongest first, the earlier feature first among equals.
                    top.removeAll(keepingCapacity: true)
                    for j in 0..<p where byFactor[j] > RiskModel.minimumFactor && isReason[j] {
                        let at = top.firstIndex { byFactor[$0] < byFactor[j] } ?? top.count
                        if at < count { top.insert(j, at: at) }
                        if top.count > count { top.removeLast() }
                    }
                    out.append(top.map { self.features[$0].describe(x[i, $0]) })
                }
            }
            return out
        }.flatMap { $0 }
    }

    /// Saves the model as JSON.
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(self).write(to: url)
    }

    /// Loads a model saved by `save(to:)`.
    public static func load(from url: URL) throws -> RiskModel {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RiskError.unreadableModel(path: url.path, reason: "the file cannot be read")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(RiskModel.self, from: data) } catch {
            throw RiskError.unreadableModel(path: url.path, reason: "it is not a model saved by phm (\(error))")
        }
    }

    /// The file name a model is saved under in a models folder.
    public var fileName: String { "\(outcome.rawValue).\(algorithm.rawValue).json" }
}

extension Outcome {
    /// Of several models' cards, those of the models that score people, in `Outcome` order: the
    /// one whose choice says so. Cards saved before models were chosen carry no choice: then
    /// boosted trees where trained, else logistic regression.
    public static func scoring<T>(_ models: [T], card: (T) -> ModelCard) -> [T] {
        allCases.compactMap { o in
            let candidates = models.filter { card($0).outcome == o }
            if candidates.contains(where: { card($0).choice != nil }) {
                return candidates.first { card($0).choice?.scoresPeople == true }
            }
            return candidates.first { card($0).algorithm == .boostedTrees } ?? candidates.first
        }
    }
}

/// What a model is for, how it was trained, and how well it did: the evaluation report.
public struct ModelCard: Sendable, Codable {
    public struct Baseline: Sendable, Codable {
        public var name: String
        public var features: [String]
        public var heldOut: Evaluation
    }

    public var outcome: Outcome
    public var outcomeDefinition: String
    public var algorithm: Algorithm
    public var features: [String]
    /// Features are taken from history before this date; outcomes from the 12 months after it.
    public var trainingIndex: String
    public var trainingPeople: Int
    public var trainingEvents: Int
    public var seed: UInt64
    public var trainingSeconds: Double
    public var heldOut: Evaluation
    /// The same model applied a year later, when the data covers the 12 months after as-of.
    public var laterIndex: String?
    public var laterPeriod: Evaluation?
    public var baselines: [Baseline]
    /// The settings search behind the model (nil for the baseline and in older cards).
    public var tuning: ModelSearch.Tuning?
    /// Whether the model scores people, and why (nil in older cards).
    public var choice: Choice?
    /// The fewest training people the full feature set needs (Riley et al. 2020).
    public var sampleSize: SampleSize?

    /// Whether a model scores people for its outcome, and why, in words for the run log, the
    /// card, `run.json` and the pages.
    public struct Choice: Sendable, Codable, Equatable {
        public var scoresPeople: Bool
        public var reason: String
        /// Whether the platform fell back from the model it would have used: said loudly.
        public var warning: Bool
        /// Held-out AUROC minus the age-and-sex baseline's, with DeLong's 95% interval for
        /// paired curves.
        public var overBaseline: Double?
        public var overBaselineLower: Double?
        public var overBaselineUpper: Double?
    }
}
