import Foundation
import PHMCore

/// Gradient-boosted decision trees for a binary outcome, grown on binned features.
///
/// The histogram method of LightGBM (Ke et al., NeurIPS 2017) and scikit-learn's
/// `HistGradientBoostingClassifier`: each feature is cut into at most 255 quantile bins once,
/// trees are grown level by level to a fixed depth, and each node's best split is found from
/// per-bin sums of the log-loss gradient and Hessian. A child's histogram is the parent's minus
/// its sibling's, so only the smaller child is counted. Split gain and leaf values follow XGBoost
/// (Chen and Guestrin, KDD 2016) with an L2 penalty `lambda` on leaf values.
///
/// Growing stops early when the log loss of rows held back from fitting has not fallen for
/// `patience` trees, and the model keeps the trees up to its lowest validation loss.
public struct BoostedTrees: Sendable, Codable {
    public struct Parameters: Sendable, Codable, Equatable {
        /// The most trees: fewer when growing stops early.
        public var trees = 200
        public var depth = 6
        public var learningRate = 0.1
        public var minLeaf = 20
        public var lambda = 1.0
        public var maxBins = 255
        /// The share of rows held back to stop early, chosen by a hash of the row number; 0 grows
        /// every tree on every row.
        public var validationShare = 0.1
        /// Trees in a row without a lower validation loss before growing stops.
        public var patience = 10

        public init(
            trees: Int = 200, depth: Int = 6, learningRate: Double = 0.1, minLeaf: Int = 20, lambda: Double = 1,
            validationShare: Double = 0.1
        ) {
            self.trees = trees
            self.depth = depth
            self.learningRate = learningRate
            self.minLeaf = minLeaf
            self.lambda = lambda
            self.validationShare = validationShare
        }

        /// Models saved before early stopping carry neither of its fields: they grew every tree.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            trees = try c.decode(Int.self, forKey: .trees)
            depth = try c.decode(Int.self, forKey: .depth)
            learningRate = try c.decode(Double.self, forKey: .learningRate)
            minLeaf = try c.decode(Int.self, forKey: .minLeaf)
            lambda = try c.decode(Double.self, forKey: .lambda)
            maxBins = try c.decode(Int.self, forKey: .maxBins)
            validationShare = try c.decodeIfPresent(Double.self, forKey: .validationShare) ?? 0
            patience = try c.decodeIfPresent(Int.self, forKey: .patience) ?? 10
        }

        /// In words, for model cards.
        public var summary: String {
            "learning rate \(learningRate), depth \(depth), at least \(minLeaf) per leaf, L2 \(lambda)"
        }
    }

    /// Fewer than this many held-back rows cannot judge when to stop: every tree is grown.
    public static let minimumValidationRows = 100

    /// One tree as parallel node arrays; node 0 is the root and a leaf has `feature == -1`.
    public struct Tree: Sendable, Codable {
        public var feature: [Int16] = []
        /// A person goes left when their value is at most the threshold.
        public var threshold: [Float] = []
        public var left: [Int32] = []
        public var right: [Int32] = []
        /// The node's contribution to the log-odds were it a leaf (learning rate applied).
        public var value: [Double] = []
    }

    public var features: [String]
    public var parameters: Parameters
    /// Log-odds of the training prevalence, where every person starts.
    public var baseScore: Double
    public var trees: [Tree]

    /// Fits the model to the rows of `x`, holding back `parameters.validationShare` of them to
    /// stop early.
    ///
    /// - Complexity: O(trees x depth x rows x columns), features split across cores while
    ///   counting histograms.
    public static func train(_ x: FeatureMatrix, labels: [UInt8], parameters: Parameters = .init(), workers: Int)
        -> BoostedTrees
    {
        let n = x.rows, p = x.columns
        precondition(labels.count == n && n > 0 && parameters.maxBins <= 255)
        var fitRows: [Int32] = [], checkRows: [Int32] = []
        for i in 0..<n {
            if isHeldBack(i, share: parameters.validationShare) { checkRows.append(Int32(i)) } else { fitRows.append(Int32(i)) }
        }
        if checkRows.count < minimumValidationRows || fitRows.isEmpty {
            fitRows = (0..<Int32(n)).map { $0 }
            checkRows = []
        }
        let edges = (0..<p).map { binEdges(x.values[$0 * n..<($0 + 1) * n], maxBins: parameters.maxBins) }
        var bins = [UInt8](repeating: 0, count: n * p)
        bins.withUnsafeMutableBufferPointer { buffer in
            let out = Unchecked(buffer.baseAddress!)
            _ = Parallel.map(p) { j -> Int in
                let e = edges[j]
                for i in 0..<n { out.value[j * n + i] = UInt8(bin(x.values[j * n + i], e)) }
                return 0
            }
        }
        let prevalence = Double(fitRows.reduce(0) { $0 + Int(labels[Int($1)]) }) / Double(fitRows.count)
        let base = log(max(prevalence, 1e-6) / max(1 - prevalence, 1e-6))
        var score = [Double](repeating: base, count: n)
        var gradient = [Float](repeating: 0, count: n)
        var hessian = [Float](repeating: 0, count: n)
        var trees: [Tree] = []
        var grower = TreeGrower(
            bins: bins, rows: n, fitRows: fitRows, binCount: edges.map { $0.count + 1 }, parameters: parameters)
        var bestLoss = logLoss(checkRows.map { (score[Int($0)], labels[Int($0)]) }), bestTrees = 0
        for t in 0..<parameters.trees {
            for r in fitRows {
                let i = Int(r)
                let prob = 1 / (1 + exp(-score[i]))
                gradient[i] = Float(prob - Double(labels[i]))
                hessian[i] = Float(max(prob * (1 - prob), 1e-16))
            }
            var (tree, leaves) = grower.grow(gradient: gradient, hessian: hessian, workers: workers)
            for leaf in leaves {
                let v = tree.value[leaf.node]
                for r in grower.order[leaf.range] { score[Int(r)] += v }
            }
            // Thresholds are still bin numbers: the held-back rows find their leaves by bin.
            for r in checkRows {
                var node = 0
                while tree.feature[node] >= 0 {
                    let b = Float(bins[Int(tree.feature[node]) * n + Int(r)])
                    node = Int(b <= tree.threshold[node] ? tree.left[node] : tree.right[node])
                }
                score[Int(r)] += tree.value[node]
            }
            for node in tree.feature.indices where tree.feature[node] >= 0 {
                tree.threshold[node] = edges[Int(tree.feature[node])][Int(tree.threshold[node])]
            }
            trees.append(tree)
            guard !checkRows.isEmpty else { continue }
            let loss = logLoss(checkRows.map { (score[Int($0)], labels[Int($0)]) })
            if loss < bestLoss - 1e-7 {
                bestLoss = loss
                bestTrees = t + 1
            } else if t + 1 - bestTrees >= parameters.patience {
                break
            }
        }
        if !checkRows.isEmpty { trees.removeLast(trees.count - bestTrees) }
        return BoostedTrees(features: x.features.map(\.id), parameters: parameters, baseScore: base, trees: trees)
    }

    /// Whether row `i` is held back to stop early: a fixed hash of the row number.
    static func isHeldBack(_ i: Int, share: Double) -> Bool {
        share > 0 && Double(ModelSearch.mix(UInt64(i), 0) % 1_000_000) < share * 1_000_000
    }

    /// The mean log loss of log-odds against outcomes.
    static func logLoss(_ pairs: [(Double, UInt8)]) -> Double {
        guard !pairs.isEmpty else { return 0 }
        var total = 0.0
        for (eta, y) in pairs {
            // log(1 + e^eta) - y * eta, without overflow
            total += (eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta))) - Double(y) * eta
        }
        return total / Double(pairs.count)
    }

    /// Cut points for one feature: between each pair of distinct values when there are few,
    /// else at quantiles of a sample of at most 200,000 values.
    static func binEdges(_ values: ArraySlice<Float>, maxBins: Int) -> [Float] {
        let stride = max(1, values.count / 200_000)
        var sample: [Float] = []
        sample.reserveCapacity(values.count / stride + 1)
        var i = values.startIndex
        while i < values.endIndex {
            sample.append(values[i])
            i += stride
        }
        sample.sort()
        var distinct: [Float] = []
        for v in sample where distinct.last != v { distinct.append(v) }
        if distinct.count <= maxBins {
            return zip(distinct, distinct.dropFirst()).map { ($0 + $1) / 2 }
        }
        var edges: [Float] = []
        for q in 1..<maxBins {
            let v = sample[q * sample.count / maxBins]
            if edges.last != v, v < distinct.last! { edges.append(v) }
        }
        return edges
    }

    /// The bin of a value: the first edge it does not exceed, or one past the last edge.
    @inline(__always)
    static func bin(_ value: Float, _ edges: [Float]) -> Int {
        var lo = 0, hi = edges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if value <= edges[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The log-odds for row `i` of `x`, whose columns are this model's features.
    public func logOdds(_ x: FeatureMatrix, row i: Int) -> Double {
        var total = baseScore
        for tree in trees {
            var node = 0
            while tree.feature[node] >= 0 {
                node = Int(x[i, Int(tree.feature[node])] <= tree.threshold[node] ? tree.left[node] : tree.right[node])
            }
            total += tree.value[node]
        }
        return total
    }

    @inline(__always)
    public func probability(_ x: FeatureMatrix, row i: Int) -> Double { 1 / (1 + exp(-logOdds(x, row: i))) }

    /// Each feature's contribution to the log-odds of row `i`: along each tree's path, the
    /// change in node value at a split is credited to the split's feature (Saabas's method,
    /// the path attribution behind `treeinterpreter`).
    public func contributions(_ x: FeatureMatrix, row i: Int) -> [Double] {
        var out = [Double](repeating: 0, count: features.count)
        for tree in trees {
            var node = 0
            while tree.feature[node] >= 0 {
                let f = Int(tree.feature[node])
                let next = Int(x[i, f] <= tree.threshold[node] ? tree.left[node] : tree.right[node])
                out[f] += tree.value[next] - tree.value[node]
                node = next
            }
        }
        return out
    }
}

/// Grows one tree level by level over binned features, keeping rows partitioned by node.
struct TreeGrower {
    let bins: [UInt8]
    /// Rows of `bins` per feature.
    let rows: Int
    let columns: Int
    let binCount: [Int]
    let parameters: BoostedTrees.Parameters
    /// The rows trees are fitted to.
    let fitRows: [Int32]
    /// The fitted rows, partitioned so each node's rows are one contiguous range.
    var order: [Int32]
    private var scratch: [Int32]

    init(bins: [UInt8], rows: Int, fitRows: [Int32], binCount: [Int], parameters: BoostedTrees.Parameters) {
        self.bins = bins
        self.rows = rows
        self.columns = binCount.count
        self.binCount = binCount
        self.parameters = parameters
        self.fitRows = fitRows
        order = fitRows
        scratch = fitRows
    }

    /// Sums of gradient, Hessian and count per feature and bin: `[(j * 256 + bin) * 3 + k]`.
    typealias Histogram = [Double]

    struct Open {
        var node: Int
        var range: Range<Int>
        var histogram: Histogram
    }

    mutating func grow(gradient: [Float], hessian: [Float], workers: Int) -> (BoostedTrees.Tree, [(node: Int, range: Range<Int>)])
    {
        order = fitRows
        var tree = BoostedTrees.Tree()
        var leaves: [(node: Int, range: Range<Int>)] = []
        func addNode(_ histogram: Histogram) -> Int {
            let (g, h) = totals(histogram)
            tree.feature.append(-1)
            tree.threshold.append(0)
            tree.left.append(-1)
            tree.right.append(-1)
            tree.value.append(-g / (h + parameters.lambda) * parameters.learningRate)
            return tree.value.count - 1
        }
        let rootHistogram = histogram(0..<order.count, gradient, hessian, workers: workers)
        var level = [Open(node: addNode(rootHistogram), range: 0..<order.count, histogram: rootHistogram)]
        for depth in 0...parameters.depth {
            var next: [Open] = []
            for open in level {
                guard depth < parameters.depth, let split = bestSplit(open.histogram, count: open.range.count) else {
                    leaves.append((open.node, open.range))
                    continue
                }
                let middle = partition(open.range, feature: split.feature, bin: split.bin)
                let leftRange = open.range.lowerBound..<middle, rightRange = middle..<open.range.upperBound
                let leftSmaller = leftRange.count <= rightRange.count
                let small = histogram(leftSmaller ? leftRange : rightRange, gradient, hessian, workers: workers)
                var large = open.histogram
                for k in large.indices { large[k] -= small[k] }
                let (leftHistogram, rightHistogram) = leftSmaller ? (small, large) : (large, small)
                let l = addNode(leftHistogram), r = addNode(rightHistogram)
                tree.feature[open.node] = Int16(split.feature)
                tree.threshold[open.node] = Float(split.bin)  // replaced by the raw cut point by the caller
                tree.left[open.node] = Int32(l)
                tree.right[open.node] = Int32(r)
                next.append(Open(node: l, range: leftRange, histogram: leftHistogram))
                next.append(Open(node: r, range: rightRange, histogram: rightHistogram))
            }
            level = next
            if level.isEmpty { break }
        }
        return (tree, leaves)
    }

    private func totals(_ histogram: Histogram) -> (Double, Double) {
        // Every row falls in exactly one bin of feature 0.
        var g = 0.0, h = 0.0
        for b in 0..<binCount[0] {
            g += histogram[b * 3]
            h += histogram[b * 3 + 1]
        }
        return (g, h)
    }

    private func histogram(_ range: Range<Int>, _ gradient: [Float], _ hessian: [Float], workers: Int) -> Histogram {
        var out = Histogram(repeating: 0, count: columns * 256 * 3)
        let groups = Parallel.ranges(columns, parts: max(1, workers))
        out.withUnsafeMutableBufferPointer { buffer in
            let target = Unchecked(buffer.baseAddress!)
            bins.withUnsafeBufferPointer { bins in
                order.withUnsafeBufferPointer { order in
                    gradient.withUnsafeBufferPointer { g in
                        hessian.withUnsafeBufferPointer { h in
                            let shared = Unchecked((bins.baseAddress!, order.baseAddress!, g.baseAddress!, h.baseAddress!))
                            _ = Parallel.map(groups.count) { k -> Int in
                                let (bins, order, g, h) = shared.value
                                for j in groups[k] {
                                    let column = bins + j * rows
                                    let hist = target.value + j * 256 * 3
                                    for idx in range {
                                        let r = Int(order[idx])
                                        let b = Int(column[r]) * 3
                                        hist[b] += Double(g[r])
                                        hist[b + 1] += Double(h[r])
                                        hist[b + 2] += 1
                                    }
                                }
                                return 0
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    private func bestSplit(_ histogram: Histogram, count: Int) -> (feature: Int, bin: Int)? {
        guard count >= 2 * parameters.minLeaf else { return nil }
        let (g, h) = totals(histogram)
        let lambda = parameters.lambda
        let parentScore = g * g / (h + lambda)
        var best: (feature: Int, bin: Int)?
        var bestGain = 1e-12
        let minLeaf = Double(parameters.minLeaf)
        for j in 0..<columns {
            var gl = 0.0, hl = 0.0, cl = 0.0
            let base = j * 256 * 3
            for b in 0..<(binCount[j] - 1) {
                gl += histogram[base + b * 3]
                hl += histogram[base + b * 3 + 1]
                cl += histogram[base + b * 3 + 2]
                let cr = Double(count) - cl
                if cl < minLeaf { continue }
                if cr < minLeaf { break }
                let hr = h - hl
                if hl < 1e-3 || hr < 1e-3 { continue }
                let gr = g - gl
                let gain = 0.5 * (gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parentScore)
                if gain > bestGain {
                    bestGain = gain
                    best = (j, b)
                }
            }
        }
        return best
    }

    /// Stable partition of a node's rows: those in bins up to `bin` of `feature` first.
    private mutating func partition(_ range: Range<Int>, feature: Int, bin: Int) -> Int {
        var left = range.lowerBound
        var right = 0
        let column = feature * rows
        for idx in range {
            let r = order[idx]
            if Int(bins[column + Int(r)]) <= bin {
                order[left] = r
                left += 1
            } else {
                scratch[right] = r
                right += 1
            }
        }
        for k in 0..<right { order[left + k] = scratch[k] }
        return left
    }
}
