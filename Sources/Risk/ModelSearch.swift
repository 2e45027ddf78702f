import Foundation
import PHMCore

/// The settings search of each learning method, inside the training people only.
///
/// A sample of about `maximumPeople` training people (by a keyed hash of their row) is cut into
/// `folds` folds. Each candidate setting is fitted on all folds but one and judged on the one
/// left out, in turn; the setting with the lowest mean log loss over the left-out folds wins and
/// is fitted again on every training person. The left-out predictions of the winner also fit its
/// recalibration (Platt scaling on the log-odds), the scheme of scikit-learn's
/// `CalibratedClassifierCV(ensemble=False)`: predictions no model saw in fitting calibrate the
/// model fitted on everyone.
public struct ModelSearch: Sendable {
    public var folds = 3
    /// About how many training people the search uses: it bounds its cost at any population size.
    public var maximumPeople = 40_000
    /// Boosted tree settings tried, each with early stopping on a tenth of its rows (at most 200
    /// trees): from the shallow and heavily regularised, for weak signal and few events, to
    /// today's deep trees.
    public var treeCandidates: [BoostedTrees.Parameters] = [
        .init(depth: 2, learningRate: 0.1, minLeaf: 100, lambda: 10),
        .init(depth: 3, learningRate: 0.1, minLeaf: 50, lambda: 1),
        .init(depth: 4, learningRate: 0.05, minLeaf: 200, lambda: 10),
        .init(depth: 6, learningRate: 0.1, minLeaf: 20, lambda: 1),
    ]
    /// L2 penalties tried for logistic regression (scikit-learn's `C` is the inverse).
    public var lambdas: [Double] = [0.01, 0.1, 1, 10, 100, 1_000, 10_000]

    public init() {}

    /// What the search tried and chose for one model.
    public struct Tuning: Sendable, Codable {
        public struct Candidate: Sendable, Codable {
            public var settings: String
            public var crossValidatedLogLoss: Double
            /// Boosted trees: the mean number of trees kept across the folds.
            public var trees: Double?
        }
        public var folds: Int
        public var people: Int
        public var candidates: [Candidate]
        public var chosen: Int
        /// The winner's left-out predictions after recalibration: how the methods are compared.
        public var crossValidatedLogLoss: Double
        public var crossValidatedAUROC: Double
        public var recalibration: LogisticCalibration
    }

    /// Searches the settings of one method and fits the winner on every row of `x`.
    ///
    /// - Parameter fit: fits candidate `c` to a matrix and its labels, returning its log-odds
    ///   function for another matrix.
    func tune(
        _ x: FeatureMatrix, labels: [UInt8], candidates: [String], seed: UInt64,
        fit: (Int, FeatureMatrix, [UInt8]) -> (FeatureMatrix) -> (logOdds: [Double], trees: Int?)
    ) -> (chosen: Int, tuning: Tuning) {
        let sample = (0..<x.rows).filter { Self.inSample($0, of: x.rows, maximum: maximumPeople, seed: seed) }
        let fold = sample.map { Self.fold($0, of: folds, seed: seed) }
        var outOfFold = [[Double]](repeating: [Double](repeating: 0, count: sample.count), count: candidates.count)
        var trees = [[Int]](repeating: [], count: candidates.count)
        for k in 0..<folds {
            let inside = sample.indices.filter { fold[$0] != k }, outside = sample.indices.filter { fold[$0] == k }
            let xFit = x.subset(inside.map { Int32(sample[$0]) }), xOut = x.subset(outside.map { Int32(sample[$0]) })
            let yFit = inside.map { labels[sample[$0]] }
            for c in candidates.indices {
                let (logOdds, count) = fit(c, xFit, yFit)(xOut)
                for (i, row) in outside.enumerated() { outOfFold[c][row] = logOdds[i] }
                if let count { trees[c].append(count) }
            }
        }
        let y = sample.map { labels[$0] }
        let losses = outOfFold.map { eta in Metrics.logLoss(eta.map { 1 / (1 + exp(-$0)) }, y) }
        let chosen = losses.indices.min { losses[$0] < losses[$1] || (losses[$0] == losses[$1] && $0 < $1) }!
        // Left-out log-odds that barely vary (a model that learned nothing) cannot fix a slope:
        // then, or when the slope would reverse the ranking, the risks stay as they are.
        let spread = (outOfFold[chosen].max() ?? 0) - (outOfFold[chosen].min() ?? 0)
        let fitted = spread > 1e-6 ? LogisticCalibration.fit(logOdds: outOfFold[chosen], labels: y) : nil
        let recalibration = fitted.flatMap { $0.slope > 0 ? $0 : nil } ?? .identity
        let recalibrated = outOfFold[chosen].map { recalibration.risk(logOdds: $0) }
        return (
            chosen,
            Tuning(
                folds: folds, people: sample.count,
                candidates: candidates.indices.map { c in
                    .init(
                        settings: candidates[c], crossValidatedLogLoss: losses[c],
                        trees: trees[c].isEmpty ? nil : Double(trees[c].reduce(0, +)) / Double(trees[c].count))
                }, chosen: chosen, crossValidatedLogLoss: Metrics.logLoss(recalibrated, y),
                crossValidatedAUROC: Metrics.auroc(recalibrated, y)?.value ?? .nan, recalibration: recalibration)
        )
    }

    /// Searches logistic regression's penalty; returns the model fitted on everyone.
    public func logisticRegression(_ x: FeatureMatrix, labels: [UInt8], seed: UInt64) -> (LogisticRegression, Tuning) {
        let (chosen, tuning) = tune(x, labels: labels, candidates: lambdas.map { "L2 penalty \($0)" }, seed: seed) {
            c, xFit, yFit in
            let model = LogisticRegression.train(xFit, labels: yFit, lambda: lambdas[c])
            return { xOut in ((0..<xOut.rows).map { model.linear(xOut, row: $0) }, nil) }
        }
        return (LogisticRegression.train(x, labels: labels, lambda: lambdas[chosen]), tuning)
    }

    /// Searches the boosted trees' settings; returns the model fitted on everyone.
    public func boostedTrees(_ x: FeatureMatrix, labels: [UInt8], seed: UInt64, workers: Int) -> (BoostedTrees, Tuning) {
        let (chosen, tuning) = tune(x, labels: labels, candidates: treeCandidates.map(\.summary), seed: seed) {
            c, xFit, yFit in
            let model = BoostedTrees.train(xFit, labels: yFit, parameters: treeCandidates[c], workers: workers)
            return { xOut in (model.logOdds(xOut, rows: 0..<xOut.rows), model.trees.count) }
        }
        return (BoostedTrees.train(x, labels: labels, parameters: treeCandidates[chosen], workers: workers), tuning)
    }

    /// Whether row `i` of `rows` is in the search's sample: every row when there are few enough.
    static func inSample(_ i: Int, of rows: Int, maximum: Int, seed: UInt64) -> Bool {
        rows <= maximum || Double(mix(UInt64(i), seed ^ 0x5a17) % 1_000_000) < Double(maximum) / Double(rows) * 1_000_000
    }

    /// The fold of row `i`.
    static func fold(_ i: Int, of folds: Int, seed: UInt64) -> Int { Int(mix(UInt64(i), seed ^ 0xf01d) % UInt64(folds)) }

    /// splitmix64 of a value and a key.
    static func mix(_ value: UInt64, _ key: UInt64) -> UInt64 {
        var h = value &+ key &* 0x9e37_79b9_7f4a_7c15 &+ 0x9e37_79b9_7f4a_7c15
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
}

/// The fewest people a prediction model of a binary outcome should be developed on, by the three
/// criteria of Riley et al. (BMJ 2020;368:m441): expected shrinkage of at most 10%, an optimism of
/// at most 0.05 in Nagelkerke's R-squared, and the overall risk estimated within 0.05.
///
/// With no earlier model of the outcome on this population, the anticipated Cox-Snell R-squared
/// is 15% of its largest possible value, Riley et al.'s conservative default.
public struct SampleSize: Sendable, Codable {
    public var parameters: Int
    public var prevalence: Double
    public var anticipatedR2: Double
    /// People needed by each criterion: shrinkage, optimism, overall risk.
    public var criteria: [Int]
    /// The largest of the three criteria, in people.
    public var minimumPeople: Int

    public init(parameters p: Int, prevalence phi: Double, anticipatedR2: Double? = nil) {
        parameters = p
        prevalence = phi
        let phi = min(max(phi, 1e-6), 1 - 1e-6)
        let nullLogLikelihood = phi * log(phi) + (1 - phi) * log(1 - phi)
        let maxR2 = 1 - exp(2 * nullLogLikelihood)
        let r2 = anticipatedR2 ?? 0.15 * maxR2
        self.anticipatedR2 = r2
        let shrinkage = 0.9
        let criterion1 = Double(p) / ((shrinkage - 1) * log(1 - r2 / shrinkage))
        let s2 = r2 / (r2 + 0.05 * maxR2)
        let criterion2 = Double(p) / ((s2 - 1) * log(1 - r2 / s2))
        let criterion3 = pow(1.96 / 0.05, 2) * phi * (1 - phi)
        criteria = [criterion1, criterion2, criterion3].map { Int($0.rounded(.up)) }
        minimumPeople = criteria.max()!
    }

    public var minimumEvents: Int { Int((Double(minimumPeople) * prevalence).rounded(.up)) }
}
