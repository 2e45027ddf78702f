import Foundation
import PHMCore

/// Gradient-boosted decision trees for a binary outcome, grown on binned features.
///
/// The histogram method of LightGBM (Ke et al., NeurIPS 2017) and scikit-learn's
/// `HistGradientBoostingClassifier`: each feature is cut into at most 255 quantile bins once,
/// trees are grown level by level to a fixed depth, and each node's best split is found from
/// per-bin sums of the log-loss gradient and Hessian. A child's histogram is the parent's minus
/// its sibling's, so only the smaller child is counted. As in LightGBM, a feature's most common
/// bin is not counted but found as the node's total less the feature's other bins: most features
/// are conditions and counts that most people do not have, so a person adds to about a sixth of
/// the features' sums. Rows are counted a row at a time across a group of features, so that
/// consecutive rows add to different sums rather than wait on the same one. Split gain and leaf values follow XGBoost
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
    ///   counting histograms. Each bin's sums add the same rows in the same order however many
    ///   cores count them, so the model does not depend on `workers`.
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
        let binned = BinnedRows(x, edges: edges, groups: workers)
        let bins = binned.bins
        let prevalence = Double(fitRows.reduce(0) { $0 + Int(labels[Int($1)]) }) / Double(fitRows.count)
        let base = log(max(prevalence, 1e-6) / max(1 - prevalence, 1e-6))
        var score = [Double](repeating: base, count: n)
        var gradient = [Float](repeating: 0, count: n)
        var hessian = [Float](repeating: 0, count: n)
        var trees: [Tree] = []
        var grower = TreeGrower(binned, fitRows: fitRows, parameters: parameters)
        var bestLoss = logLoss(checkRows.map { (score[Int($0)], labels[Int($0)]) }), bestTrees = 0
        for t in 0..<parameters.trees {
            gradients(fitRows, score: score, labels: labels, into: &gradient, &hessian)
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

    /// The log loss's gradient and Hessian at each fitted row's score, across cores.
    static func gradients(
        _ rows: [Int32], score: [Double], labels: [UInt8], into gradient: inout [Float], _ hessian: inout [Float]
    ) {
        gradient.withUnsafeMutableBufferPointer { g in
            hessian.withUnsafeMutableBufferPointer { h in
                let out = Unchecked((g.baseAddress!, h.baseAddress!))
                let parts = Parallel.ranges(rows.count, parts: rows.count >= 65_536 ? 16 : 1)
                _ = Parallel.map(parts.count) { k -> Int in
                    let (g, h) = out.value
                    for r in rows[parts[k]] {
                        let i = Int(r)
                        let prob = 1 / (1 + exp(-score[i]))
                        g[i] = Float(prob - Double(labels[i]))
                        h[i] = Float(max(prob * (1 - prob), 1e-16))
                    }
                    return 0
                }
            }
        }
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
    public func logOdds(_ x: FeatureMatrix, row i: Int) -> Double { logOdds(x, rows: i..<(i + 1))[0] }

    @inline(__always)
    public func probability(_ x: FeatureMatrix, row i: Int) -> Double { 1 / (1 + exp(-logOdds(x, row: i))) }

    /// Rows scored together, tree by tree: a tree and the rows' values stay in cache.
    static let scoringBlock = 256

    /// The log-odds of `rows` of `x`, whose columns are this model's features. Each row adds the
    /// trees' values in the trees' order, as a row scored alone would.
    public func logOdds(_ x: FeatureMatrix, rows: Range<Int>) -> [Double] {
        var out = [Double](repeating: baseScore, count: rows.count)
        out.withUnsafeMutableBufferPointer { out in
            walk(x, rows) { block, tree, at in
                for i in block {
                    out[i - rows.lowerBound] += tree.value[at(i, { _, _ in })]
                }
            }
        }
        return out
    }

    /// Each feature's contribution to the log-odds of row `i`: along each tree's path, the
    /// change in node value at a split is credited to the split's feature (Saabas's method,
    /// the path attribution behind `treeinterpreter`).
    public func contributions(_ x: FeatureMatrix, row i: Int) -> [Double] { contributions(x, rows: i..<(i + 1)) }

    /// The contributions of `rows` of `x`, row by row: row `r`'s to feature `f` at
    /// `(r - rows.lowerBound) * features.count + f`.
    public func contributions(_ x: FeatureMatrix, rows: Range<Int>) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(rows.count * features.count)
        contributions(x, rows: rows) { _, block in out.append(contentsOf: block) }
        return out
    }

    /// The contributions of `rows` of `x` a block of rows at a time, in one buffer reused for
    /// every block: `body` gets the block's rows and their contributions, row by row.
    public func contributions(
        _ x: FeatureMatrix, rows: Range<Int>, eachBlock body: (Range<Int>, UnsafeBufferPointer<Double>) -> Void
    ) {
        let p = features.count
        var buffer = [Double](repeating: 0, count: Self.scoringBlock * p)
        buffer.withUnsafeMutableBufferPointer { out in
            walk(x, rows) { block, tree, at in
                for i in block {
                    let row = out.baseAddress! + (i - block.lowerBound) * p
                    _ = at(i) { node, next in row[Int(tree.feature[node])] += tree.value[next] - tree.value[node] }
                }
            } blockDone: { block in
                let filled = UnsafeMutableBufferPointer(rebasing: out[0..<(block.count * p)])
                body(block, UnsafeBufferPointer(filled))
                filled.update(repeating: 0)
            }
        }
    }

    /// A tree's arrays for walking without bounds checks, once the tree is known to be well formed.
    struct Walk {
        let feature: UnsafePointer<Int16>
        let threshold: UnsafePointer<Float>
        let left: UnsafePointer<Int32>
        let right: UnsafePointer<Int32>
        let value: UnsafePointer<Double>
    }

    /// Calls `body` for each block of rows and each tree in order, with a function that takes a row
    /// to its leaf (calling its argument with each node passed and the node taken), then
    /// `blockDone` with the block. Every tree is checked on each call before its arrays are read
    /// unchecked: score many rows at once.
    private func walk(
        _ x: FeatureMatrix, _ rows: Range<Int>,
        _ body: (Range<Int>, Walk, (Int, (Int, Int) -> Void) -> Int) -> Void,
        blockDone: (Range<Int>) -> Void = { _ in }
    ) {
        precondition(
            x.columns == features.count && x.values.count == x.rows * x.columns && rows.lowerBound >= 0
                && rows.upperBound <= x.rows)
        for tree in trees { precondition(tree.problem(features: features.count) == nil) }
        let n = x.rows
        x.values.withUnsafeBufferPointer { values in
            let values = values.baseAddress!
            var start = rows.lowerBound
            while start < rows.upperBound {
                let block = start..<min(rows.upperBound, start + Self.scoringBlock)
                for tree in trees {
                    tree.feature.withUnsafeBufferPointer { feature in
                        tree.threshold.withUnsafeBufferPointer { threshold in
                            tree.left.withUnsafeBufferPointer { left in
                                tree.right.withUnsafeBufferPointer { right in
                                    tree.value.withUnsafeBufferPointer { value in
                                        let t = Walk(
                                            feature: feature.baseAddress!, threshold: threshold.baseAddress!,
                                            left: left.baseAddress!, right: right.baseAddress!, value: value.baseAddress!)
                                        body(block, t) { i, passed in
                                            var node = 0
                                            while t.feature[node] >= 0 {
                                                let v = values[Int(t.feature[node]) * n + i]
                                                let next = Int(v <= t.threshold[node] ? t.left[node] : t.right[node])
                                                passed(node, next)
                                                node = next
                                            }
                                            return node
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                blockDone(block)
                start = block.upperBound
            }
        }
    }
}

extension BoostedTrees {
    /// A saved model whose trees could not be walked to a leaf is refused as it is read.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        features = try c.decode([String].self, forKey: .features)
        parameters = try c.decode(Parameters.self, forKey: .parameters)
        baseScore = try c.decode(Double.self, forKey: .baseScore)
        trees = try c.decode([Tree].self, forKey: .trees)
        for tree in trees {
            if let problem = tree.problem(features: features.count) {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.trees], debugDescription: problem))
            }
        }
    }
}

extension BoostedTrees.Tree {
    /// Why the tree cannot be walked safely, or nil: its arrays must be as long as each other, and
    /// each split must name a feature and two children later in the arrays, so every walk ends
    /// at a leaf.
    func problem(features: Int) -> String? {
        let count = feature.count
        guard count > 0, threshold.count == count, left.count == count, right.count == count, value.count == count else {
            return "a tree's node arrays are empty or of different lengths"
        }
        for node in 0..<count where feature[node] >= 0 {
            guard Int(feature[node]) < features else { return "a split names feature \(feature[node]) of \(features)" }
            guard left[node] > node, left[node] < count, right[node] > node, right[node] < count else {
                return "node \(node) has a child that is not a later node of the tree's \(count)"
            }
        }
        return nil
    }
}

/// The binned features twice over: every bin by feature, for partitioning rows and routing them
/// down a tree, and each row's bins that are not its feature's most common, for counting.
struct BinnedRows: Sendable {
    let rows: Int
    let columns: Int
    /// Feature by feature: row `r`'s bin of feature `j` at `j * rows + r`.
    let bins: [UInt8]
    let binCount: [Int]
    /// Where each feature's bins start in a histogram: only the bins a feature has are counted
    /// (most features have two), so a histogram is small to clear and subtract.
    let offset: [Int]
    /// Bins in a histogram, and so where a node's totals are kept.
    let histogramBins: Int
    /// The most common bin of each feature, left out of `entries`.
    let mostCommon: [UInt8]
    /// Features in contiguous groups of about equal entries, one group to a core.
    let groups: [Range<Int>]
    /// Row by row, and within a row feature by feature, the histogram index (`offset[j] + bin`)
    /// of each bin that is not its feature's most common.
    let entries: [UInt32]
    /// Where row `r`'s entries of group `k` start: `starts[r * groups.count + k]`, ending where the
    /// next start begins (the last start is the number of entries).
    let starts: [UInt32]

    init(_ x: FeatureMatrix, edges: [[Float]], groups wanted: Int) {
        let n = x.rows, p = x.columns
        rows = n
        columns = p
        binCount = edges.map { $0.count + 1 }
        var start = 0
        offset = binCount.map { count in
            defer { start += count }
            return start
        }
        histogramBins = start
        var bins = [UInt8](repeating: 0, count: n * p)
        let tallies = bins.withUnsafeMutableBufferPointer { buffer in
            let out = Unchecked(buffer.baseAddress!)
            return Parallel.map(p) { j -> [Int] in
                let e = edges[j]
                var tally = [Int](repeating: 0, count: 256)
                for i in 0..<n {
                    let b = BoostedTrees.bin(x.values[j * n + i], e)
                    out.value[j * n + i] = UInt8(b)
                    tally[b] += 1
                }
                return tally
            }
        }
        self.bins = bins
        let mostCommon = tallies.map { t in UInt8(t.indices.max { t[$0] < t[$1] || (t[$0] == t[$1] && $0 > $1) }!) }
        self.mostCommon = mostCommon
        // Groups of consecutive features with about equal numbers of entries.
        let perFeature = (0..<p).map { n - tallies[$0][Int(mostCommon[$0])] }
        // Entries are counted and found by 32-bit positions.
        precondition(perFeature.reduce(0, +) < Int(UInt32.max), "too many values to bin")
        let all = max(1, perFeature.reduce(0, +)), parts = max(1, min(wanted, p))
        var groups: [Range<Int>] = [], lower = 0, running = 0
        for j in 0..<p {
            running += perFeature[j]
            if groups.count < parts - 1, running * parts >= all * (groups.count + 1), j + 1 < p {
                groups.append(lower..<(j + 1))
                lower = j + 1
            }
        }
        groups.append(lower..<p)
        self.groups = groups
        let g = groups.count
        let groupOf = groups.indices.flatMap { k in groups[k].map { _ in k } }
        // Entries per row and group, then where each begins.
        var starts = [UInt32](repeating: 0, count: n * g + 1)
        bins.withUnsafeBufferPointer { bins in
            for j in 0..<p {
                let column = bins.baseAddress! + j * n, mode = mostCommon[j], k = groupOf[j]
                for r in 0..<n where column[r] != mode { starts[r * g + k + 1] += 1 }
            }
        }
        for i in 1..<starts.count { starts[i] += starts[i - 1] }
        var entries = [UInt32](repeating: 0, count: Int(starts[n * g]))
        var cursor = starts
        let offset = offset
        bins.withUnsafeBufferPointer { bins in
            for j in 0..<p {
                let column = bins.baseAddress! + j * n, mode = mostCommon[j], k = groupOf[j], base = UInt32(offset[j])
                for r in 0..<n where column[r] != mode {
                    entries[Int(cursor[r * g + k])] = base + UInt32(column[r])
                    cursor[r * g + k] += 1
                }
            }
        }
        self.entries = entries
        self.starts = starts
    }
}

/// Grows one tree level by level over binned features, keeping rows partitioned by node.
struct TreeGrower {
    let binned: BinnedRows
    let parameters: BoostedTrees.Parameters
    /// The rows trees are fitted to.
    let fitRows: [Int32]
    /// The fitted rows, partitioned so each node's rows are one contiguous range.
    var order: [Int32]
    private var scratch: [Int32]

    /// Fewer rows than this are counted on one core: waking the others costs more.
    static let parallelRows = 4_096

    init(_ binned: BinnedRows, fitRows: [Int32], parameters: BoostedTrees.Parameters) {
        self.binned = binned
        self.parameters = parameters
        self.fitRows = fitRows
        order = fitRows
        scratch = fitRows
    }

    /// Sums of gradient, Hessian and count per feature and bin, `[(offset[j] + bin) * 3 + k]`,
    /// then the node's own three totals.
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

    /// A node's total gradient and Hessian.
    private func totals(_ histogram: Histogram) -> (Double, Double) {
        (histogram[binned.histogramBins * 3], histogram[binned.histogramBins * 3 + 1])
    }

    /// The histogram of the rows in `order[range]`: each core counts its group of features a row
    /// at a time; then each feature's most common bin is the node's total less its other bins.
    private func histogram(_ range: Range<Int>, _ gradient: [Float], _ hessian: [Float], workers: Int) -> Histogram {
        let binned = binned, totalAt = binned.histogramBins * 3
        var out = Histogram(repeating: 0, count: totalAt + 3)
        out.withUnsafeMutableBufferPointer { buffer in
            binned.entries.withUnsafeBufferPointer { entries in
                binned.starts.withUnsafeBufferPointer { starts in
                    order.withUnsafeBufferPointer { order in
                        gradient.withUnsafeBufferPointer { g in
                            hessian.withUnsafeBufferPointer { h in
                                let shared = Unchecked(
                                    (
                                        buffer.baseAddress!, entries.baseAddress!, starts.baseAddress!, order.baseAddress!,
                                        g.baseAddress!, h.baseAddress!
                                    ))
                                let groups = binned.groups.count
                                @Sendable func count(_ k: Int) {
                                    let (hist, entries, starts, order, g, h) = shared.value
                                    var gt = 0.0, ht = 0.0
                                    for idx in range {
                                        let r = Int(order[idx])
                                        let gr = Double(g[r]), hr = Double(h[r])
                                        gt += gr
                                        ht += hr
                                        let at = r * groups + k
                                        for e in Int(starts[at])..<Int(starts[at + 1]) {
                                            let b = Int(entries[e]) * 3
                                            hist[b] += gr
                                            hist[b + 1] += hr
                                            hist[b + 2] += 1
                                        }
                                    }
                                    if k == 0 {
                                        hist[totalAt] = gt
                                        hist[totalAt + 1] = ht
                                        hist[totalAt + 2] = Double(range.count)
                                    }
                                }
                                if range.count < Self.parallelRows || workers <= 1 || groups == 1 {
                                    for k in 0..<groups { count(k) }
                                } else {
                                    _ = Parallel.map(groups) { k -> Int in
                                        count(k)
                                        return 0
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for j in 0..<binned.columns {
            let base = binned.offset[j] * 3, mode = base + Int(binned.mostCommon[j]) * 3
            var g = out[totalAt], h = out[totalAt + 1], c = out[totalAt + 2]
            for b in stride(from: base, to: base + binned.binCount[j] * 3, by: 3) where b != mode {
                g -= out[b]
                h -= out[b + 1]
                c -= out[b + 2]
            }
            out[mode] = g
            out[mode + 1] = h
            out[mode + 2] = c
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
        for j in 0..<binned.columns {
            var gl = 0.0, hl = 0.0, cl = 0.0
            let base = binned.offset[j] * 3
            for b in 0..<(binned.binCount[j] - 1) {
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
        let column = feature * binned.rows
        for idx in range {
            let r = order[idx]
            if Int(binned.bins[column + Int(r)]) <= bin {
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
