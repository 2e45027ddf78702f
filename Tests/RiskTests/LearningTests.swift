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

    @Test func fourDotProductsAtOnceSumAsEachAlone() {
        // The Hessian's products are taken four at a time; each must be summed as `dot` sums it.
        var state: UInt64 = 3
        func value() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 20) % 1_000_000) / 1_000
        }
        for count in [0, 7, 8, 4_096, 4_103, 3 * 4_096 + 13] {
            let columns = (0..<(5 * count + 1)).map { _ in value() - 500 }
            columns.withUnsafeBufferPointer { buffer in
                let a = (0..<5).map { buffer.baseAddress! + $0 * count }
                let four = dot4(a[0], a[1], a[2], a[3], a[4], count)
                for k in 0..<4 { #expect(four[k] == dot(a[k], a[4], count)) }
            }
        }
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

    @Test func aSavedModelWhoseTreesCannotBeWalkedIsRefusedAsItIsRead() throws {
        let (x, y) = simulated(rows: 2000)
        let model = BoostedTrees.train(x, labels: y, parameters: .init(trees: 3, depth: 2, validationShare: 0), workers: 2)
        let again = try JSONDecoder().decode(BoostedTrees.self, from: JSONEncoder().encode(model))
        #expect(again.logOdds(x, rows: 0..<x.rows) == model.logOdds(x, rows: 0..<x.rows))
        var loop = model, unknown = model, short = model
        loop.trees[0].left[0] = 0  // the root its own child: a walk would never end
        unknown.trees[1].feature[0] = 4  // the model has four features, 0 to 3
        short.trees[2].value.removeLast()
        for bad in [loop, unknown, short] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(BoostedTrees.self, from: JSONEncoder().encode(bad)) }
        }
        var line = LogisticRegression.train(x, labels: y)
        line.coefficients.removeLast()
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(LogisticRegression.self, from: JSONEncoder().encode(line))
        }
    }

    @Test func rowsScoredTogetherScoreAsEachAlone() {
        let (x, y) = simulated(rows: 3000)
        let model = BoostedTrees.train(x, labels: y, parameters: .init(trees: 20, depth: 4), workers: 2)
        let together = model.logOdds(x, rows: 0..<x.rows), contributions = model.contributions(x, rows: 0..<x.rows)
        for i in stride(from: 0, to: x.rows, by: 37) {
            // Each alone, by hand: the trees' leaves in order.
            var total = model.baseScore
            var byFeature = [Double](repeating: 0, count: x.columns)
            for tree in model.trees {
                var node = 0
                while tree.feature[node] >= 0 {
                    let f = Int(tree.feature[node])
                    let next = Int(x[i, f] <= tree.threshold[node] ? tree.left[node] : tree.right[node])
                    byFeature[f] += tree.value[next] - tree.value[node]
                    node = next
                }
                total += tree.value[node]
            }
            #expect(together[i] == total)
            #expect(Array(contributions[(i * x.columns)..<((i + 1) * x.columns)]) == byFeature)
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

    /// Features like a run's: rare flags, a count most people lack, one whose most common value is
    /// its highest, and a dense value.
    static func sparse(rows: Int) -> (FeatureMatrix, [UInt8]) {
        var state: UInt64 = 11
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        let features = ["rare", "count", "mostly_three", "dense", "rarer"].map { Feature($0, $0, .value) }
        var x = FeatureMatrix(features: features, rows: rows)
        var y = [UInt8](repeating: 0, count: rows)
        for i in 0..<rows {
            let rare = uniform() < 0.05 ? 1.0 : 0, count = uniform() < 0.8 ? 0 : (uniform() * 6).rounded(.down)
            let three = uniform() < 0.7 ? 3 : (uniform() * 3).rounded(.down), dense = uniform() * 10
            let rarer = uniform() < 0.01 ? 1.0 : 0
            for (j, v) in [rare, count, three, dense, rarer].enumerated() { x[i, j] = Float(v) }
            let eta = -2 + 1.5 * rare + 0.4 * count - 0.5 * (three < 3 ? 1 : 0) + 0.1 * dense + 2 * rarer
            y[i] = uniform() < 1 / (1 + exp(-eta)) ? 1 : 0
        }
        return (x, y)
    }

    @Test func theFirstSplitsAreTheBestOfEveryCutCountedDirectly() {
        // Histograms leave out each feature's most common bin and find it as the node's total
        // less the other bins, and find the larger child's as its parent's less its sibling's; a
        // direct count over the rows at every cut must agree, at the root and at both children.
        let (x, y) = Self.sparse(rows: 20_000)
        var parameters = BoostedTrees.Parameters(trees: 1, depth: 2, learningRate: 1, minLeaf: 1, lambda: 1, validationShare: 0)
        parameters.patience = 1
        let model = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 2)
        let tree = model.trees[0]
        let p = 1 / (1 + exp(-model.baseScore))
        let g = y.map { Double(Float(p - Double($0))) }, h = Double(Float(p * (1 - p)))
        func score(_ g: Double, _ h: Double) -> Double { g * g / (h + 1) }
        let cuts = (0..<x.columns).map { BoostedTrees.binEdges(x.values[$0 * x.rows..<($0 + 1) * x.rows], maxBins: 255) }
        // The best cut of some rows, the rows each side, and the value of each side.
        func best(_ rows: [Int]) -> (feature: Int, cut: Float, left: [Int], right: [Int])? {
            let gAll = rows.reduce(0) { $0 + g[$1] }, hAll = h * Double(rows.count)
            var best: (gain: Double, feature: Int, cut: Float)?
            for j in 0..<x.columns {
                for cut in cuts[j] {
                    var gl = 0.0, nl = 0
                    for i in rows where x[i, j] <= cut {
                        gl += g[i]
                        nl += 1
                    }
                    guard nl >= 1, nl < rows.count else { continue }
                    let hl = h * Double(nl)
                    let gain = 0.5 * (score(gl, hl) + score(gAll - gl, hAll - hl) - score(gAll, hAll))
                    if gain > (best?.gain ?? 1e-12) + 1e-9 { best = (gain, j, cut) }
                }
            }
            guard let best else { return nil }
            let left = rows.filter { x[$0, best.feature] <= best.cut }, right = rows.filter { x[$0, best.feature] > best.cut }
            return (best.feature, best.cut, left, right)
        }
        func value(_ rows: [Int]) -> Double { -rows.reduce(0) { $0 + g[$1] } / (h * Double(rows.count) + 1) }
        var checked = 0
        func check(_ node: Int, _ rows: [Int], depth: Int) {
            #expect(abs(tree.value[node] - value(rows)) < 1e-9)
            guard depth < 2, let split = best(rows) else { return }
            #expect(Int(tree.feature[node]) == split.feature)
            #expect(tree.threshold[node] == split.cut)
            checked += 1
            check(Int(tree.left[node]), split.left, depth: depth + 1)
            check(Int(tree.right[node]), split.right, depth: depth + 1)
        }
        check(0, Array(0..<x.rows), depth: 0)
        #expect(checked == 3)
    }

    @Test func deepTreesOnSparseFeaturesDoNotDependOnTheCores() {
        let (x, y) = Self.sparse(rows: 30_000)
        let parameters = BoostedTrees.Parameters(trees: 30, depth: 5, learningRate: 0.1, minLeaf: 5, lambda: 1)
        let one = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 1)
        for workers in [2, 3, 8] {
            let many = BoostedTrees.train(x, labels: y, parameters: parameters, workers: workers)
            #expect(many.trees.map(\.feature) == one.trees.map(\.feature))
            #expect(many.trees.map(\.threshold) == one.trees.map(\.threshold))
            #expect(many.trees.map(\.value) == one.trees.map(\.value))
        }
        // Early stopping let the trees grow past the first few.
        #expect(one.trees.count > 5)
    }
}
