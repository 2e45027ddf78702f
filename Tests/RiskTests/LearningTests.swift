import Foundation
import Testing

@testable import Risk

/// A reproducible data set with a known logistic truth: three informative features and one noise.
func simulated(rows: Int, seed: UInt64 = 7) -> (FeatureMatrix, [UInt8]) {
    var state = seed
    func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
    let features = ["a", "b", "flag", "noise"].map { Feature($0, $0, .value) }
    var x = FeatureMatrix(features: features, rows: rows)
    var y = [UInt8](repeating: 0, count: rows)
    for i in 0..<rows {
        let a = uniform() * 4 - 2, b = uniform() * 10, flag = uniform() < 0.3 ? 1.0 : 0.0, noise = uniform()
        x[i, 0] = Float(a)
        x[i, 1] = Float(b)
        x[i, 2] = Float(flag)
        x[i, 3] = Float(noise)
        // Non-linear in `a` so trees have something to find that a line cannot.
        let eta = -2 + 1.2 * a * a - 0.15 * b + 1.0 * flag
        y[i] = uniform() < 1 / (1 + exp(-eta)) ? 1 : 0
    }
    return (x, y)
}

@Suite struct LogisticRegressionTests {
    @Test func solutionSatisfiesThePenalisedScoreEquations() {
        // At the optimum the gradient of log loss + lambda/2 |w|^2 is zero on standardised features.
        let (x, y) = simulated(rows: 4000)
        let lambda = 3.0
        let model = LogisticRegression.train(x, labels: y, lambda: lambda)
        var gradient = [Double](repeating: 0, count: x.columns + 1)
        for i in 0..<x.rows {
            let r = model.probability(x, row: i) - Double(y[i])
            for j in 0..<x.columns { gradient[j] += r * (Double(x[i, j]) - model.mean[j]) / model.scale[j] }
            gradient[x.columns] += r
        }
        for j in 0..<x.columns { gradient[j] += lambda * model.coefficients[j] }
        for g in gradient { #expect(abs(g) < 1e-4) }
        #expect(model.iterations < 15)
        // The signs of the truth: b lowers risk, the flag raises it.
        #expect(model.coefficients[1] < 0)
        #expect(model.coefficients[2] > 0)
    }

    @Test func choleskySolvesAKnownSystem() {
        // [[4, 2], [2, 3]] x = [2, 1] has x = [0.5, 0].
        let x = solveCholesky([4, 2, 2, 3], [2, 1], size: 2)!
        #expect(abs(x[0] - 0.5) < 1e-12)
        #expect(abs(x[1]) < 1e-12)
        #expect(solveCholesky([1, 2, 2, 1], [1, 1], size: 2) == nil)
    }
}

@Suite struct BoostedTreesTests {
    @Test func findsTheNonLinearSignalALineMisses() throws {
        let (x, y) = simulated(rows: 6000)
        let (test, labels) = simulated(rows: 3000, seed: 99)
        var parameters = BoostedTrees.Parameters()
        parameters.trees = 40
        parameters.depth = 3
        let trees = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 2)
        let line = LogisticRegression.train(x, labels: y)
        let treeAUC = Metrics.auroc((0..<test.rows).map { trees.probability(test, row: $0) }, labels)!.value
        let lineAUC = Metrics.auroc((0..<test.rows).map { line.probability(test, row: $0) }, labels)!.value
        #expect(treeAUC > lineAUC + 0.05)
        #expect(treeAUC > 0.75)
        // Deterministic: the same data gives the same trees, whatever the number of workers.
        let again = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 1)
        #expect(again.trees.map(\.value) == trees.trees.map(\.value))
    }

    @Test func contributionsAddUpToTheLogOdds() {
        let (x, y) = simulated(rows: 2000)
        var parameters = BoostedTrees.Parameters()
        parameters.trees = 10
        let trees = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 2)
        for i in 0..<50 {
            let bias = trees.baseScore + trees.trees.reduce(0) { $0 + $1.value[0] }
            let sum = bias + trees.contributions(x, row: i).reduce(0, +)
            #expect(abs(sum - trees.logOdds(x, row: i)) < 1e-9)
        }
    }

    @Test func binsSplitBetweenDistinctValuesOrAtQuantiles() {
        #expect(BoostedTrees.binEdges([0, 1, 1, 2], maxBins: 255) == [0.5, 1.5])
        let many = BoostedTrees.binEdges(ArraySlice((0..<10_000).map { Float($0) }), maxBins: 255)
        #expect(many.count == 254)
        #expect(BoostedTrees.bin(0.5, [0.5, 1.5]) == 0)
        #expect(BoostedTrees.bin(0.6, [0.5, 1.5]) == 1)
        #expect(BoostedTrees.bin(9, [0.5, 1.5]) == 2)
    }
}
