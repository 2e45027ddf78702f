import Foundation

/// Measures of how well predicted risks separate and match observed outcomes.
public enum Metrics {
    /// The area under the ROC curve with DeLong's standard error.
    ///
    /// The AUROC is the Mann-Whitney statistic from mid-ranks, ties counting one half. The
    /// variance is DeLong, DeLong and Clarke-Pearson (Biometrics 1988) from the structural
    /// components, computed from ranks as in Sun and Xu (IEEE SPL 2014).
    ///
    /// - Returns: nil unless both outcomes occur.
    /// - Complexity: O(n log n).
    public static func auroc(_ scores: [Double], _ labels: [UInt8]) -> (value: Double, standardError: Double)? {
        guard let c = components(scores, labels) else { return nil }
        return (mean(c.v10), (variance(c.v10) / Double(c.v10.count) + variance(c.v01) / Double(c.v01.count)).squareRoot())
    }

    /// The difference in AUROC between two scores of the same people, `a` minus `b`, with
    /// DeLong's standard error for correlated curves: the variance of the paired differences of
    /// the structural components (DeLong, DeLong and Clarke-Pearson 1988).
    ///
    /// - Returns: nil unless both outcomes occur.
    public static func aurocDifference(_ a: [Double], _ b: [Double], _ labels: [UInt8]) -> (
        value: Double, standardError: Double
    )? {
        guard a.count == b.count, let ca = components(a, labels), let cb = components(b, labels) else { return nil }
        let d10 = zip(ca.v10, cb.v10).map { $0 - $1 }, d01 = zip(ca.v01, cb.v01).map { $0 - $1 }
        return (mean(d10), (variance(d10) / Double(d10.count) + variance(d01) / Double(d01.count)).squareRoot())
    }

    /// DeLong's structural components: for each positive, the share of negatives it outranks
    /// (V10); for each negative, the share of positives that outrank it (V01). The AUROC is the
    /// mean of either.
    static func components(_ scores: [Double], _ labels: [UInt8]) -> (v10: [Double], v01: [Double])? {
        let positives = labels.reduce(0) { $0 + Int($1) }
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let all = midRanks(scores)
        let pos = scores.indices.filter { labels[$0] == 1 }
        let neg = scores.indices.filter { labels[$0] == 0 }
        let posRanks = midRanks(pos.map { scores[$0] })
        let negRanks = midRanks(neg.map { scores[$0] })
        let m = Double(positives), n = Double(negatives)
        let v10 = pos.indices.map { (all[pos[$0]] - posRanks[$0]) / n }
        let v01 = neg.indices.map { 1 - (all[neg[$0]] - negRanks[$0]) / m }
        return (v10, v01)
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }

    static func variance(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
    }

    /// The mean log loss of risks against outcomes, risks clamped away from 0 and 1.
    public static func logLoss(_ risk: [Double], _ labels: [UInt8]) -> Double {
        guard !risk.isEmpty else { return 0 }
        var total = 0.0
        for (p, y) in zip(risk, labels) {
            let q = min(max(p, 1e-15), 1 - 1e-15)
            total -= y == 1 ? log(q) : log(1 - q)
        }
        return total / Double(risk.count)
    }

    /// 1-based ranks, ties sharing the mean of their ranks.
    static func midRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        return ranks
    }

    /// Average precision: the area under the precision-recall curve as a step function,
    /// `sum over thresholds of (R_k - R_(k-1)) P_k`, the definition of scikit-learn's
    /// `average_precision_score`.
    public static func averagePrecision(_ scores: [Double], _ labels: [UInt8]) -> Double? {
        let positives = labels.reduce(0) { $0 + Int($1) }
        guard positives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var truePositives = 0, seen = 0
        var ap = 0.0, previousRecall = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j < order.count, scores[order[j]] == scores[order[i]] {
                truePositives += Int(labels[order[j]])
                seen += 1
                j += 1
            }
            let recall = Double(truePositives) / Double(positives)
            ap += (recall - previousRecall) * Double(truePositives) / Double(seen)
            previousRecall = recall
            i = j
        }
        return ap
    }

    /// The mean squared difference between predicted risk and outcome (Brier 1950).
    public static func brier(_ scores: [Double], _ labels: [UInt8]) -> Double {
        guard !scores.isEmpty else { return 0 }
        return zip(scores, labels).reduce(0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) } / Double(scores.count)
    }
}

/// How a model performed on one set of people: a section of a model card.
public struct Evaluation: Sendable, Codable {
    public struct Flagging: Sendable, Codable {
        public var topPercent: Double
        public var flagged: Int
        public var ppv: Double
        public var sensitivity: Double
    }
    public struct Decile: Sendable, Codable {
        public var decile: Int
        public var people: Int
        public var expected: Double
        public var observed: Double
    }
    public struct Subgroup: Sendable, Codable {
        public var breakdown: String
        public var group: String
        public var people: Int
        public var events: Int
        public var observedRate: Double
        public var expectedRate: Double
        public var auroc: Double?
    }

    public var people: Int
    public var events: Int
    public var prevalence: Double
    public var auroc: Double
    public var aurocLower: Double
    public var aurocUpper: Double
    public var auprc: Double
    public var brier: Double
    public var calibration: [Decile]
    public var flagging: [Flagging]
    public var subgroups: [Subgroup]
    /// Points of the ROC curve at 1% steps of people flagged, for plotting.
    public var roc: [[Double]]
    /// Mean log loss (nil in cards saved before it was reported, as are the two below).
    public var logLoss: Double?
    public var calibrationMeasures: CalibrationMeasures?
    /// Net benefit at the tier cut points and at round thresholds, lowest threshold first.
    public var netBenefit: [NetBenefit]?

    public static let flaggedPercents = [0.5, 1, 5, 10]
    /// Risk thresholds of the decision curve, besides the tier cut points.
    public static let decisionThresholds = [0.02, 0.05, 0.1, 0.2, 0.3]

    /// Evaluates predicted risks against outcomes.
    ///
    /// - Parameter groups: named breakdowns, each giving every person's group label.
    public init(risk: [Double], labels: [UInt8], groups: [(name: String, labels: [String])] = []) {
        people = risk.count
        events = labels.reduce(0) { $0 + Int($1) }
        prevalence = people > 0 ? Double(events) / Double(people) : 0
        let a = Metrics.auroc(risk, labels)
        auroc = a?.value ?? .nan
        aurocLower = a.map { max(0, $0.value - 1.959964 * $0.standardError) } ?? .nan
        aurocUpper = a.map { min(1, $0.value + 1.959964 * $0.standardError) } ?? .nan
        auprc = Metrics.averagePrecision(risk, labels) ?? .nan
        brier = Metrics.brier(risk, labels)

        let order = risk.indices.sorted { risk[$0] < risk[$1] || (risk[$0] == risk[$1] && $0 < $1) }
        calibration = (0..<10).map { d in
            let slice = order[(order.count * d / 10)..<(order.count * (d + 1) / 10)]
            let n = max(1, slice.count)
            return Decile(
                decile: d + 1, people: slice.count, expected: slice.reduce(0) { $0 + risk[$1] } / Double(n),
                observed: Double(slice.reduce(0) { $0 + Int(labels[$1]) }) / Double(n))
        }
        let descending = Array(order.reversed())
        let events = self.events
        flagging = Evaluation.flaggedPercents.map { percent in
            let k = min(descending.count, max(1, Int((percent / 100 * Double(descending.count)).rounded(.up))))
            let hits = descending.prefix(k).reduce(0) { $0 + Int(labels[$1]) }
            return Flagging(
                topPercent: percent, flagged: k, ppv: Double(hits) / Double(k),
                sensitivity: events > 0 ? Double(hits) / Double(events) : .nan)
        }
        var roc: [[Double]] = [[0, 0]]
        let negatives = people - events
        var tp = 0, fp = 0
        var nextStep = 1
        for (rank, i) in descending.enumerated() {
            if labels[i] == 1 { tp += 1 } else { fp += 1 }
            if (rank + 1) * 100 >= nextStep * people || rank == descending.count - 1 {
                roc.append([
                    negatives > 0 ? Double(fp) / Double(negatives) : 0, events > 0 ? Double(tp) / Double(events) : 0,
                ])
                nextStep += 1
            }
        }
        self.roc = roc
        logLoss = Metrics.logLoss(risk, labels)
        calibrationMeasures = CalibrationMeasures(risk: risk, labels: labels)
        // The risk of the last person in each tier-or-above share, highest risk first.
        let cuts = [(0.005, "very high"), (0.05, "high"), (0.20, "moderate")].compactMap { share, tier -> (Double, String)? in
            guard !descending.isEmpty else { return nil }
            let k = min(descending.count, max(1, Int((share * Double(descending.count)).rounded(.up))))
            return (risk[descending[k - 1]], "cut point of \(tier) (top \(Double(share * 100).formatted(decimals: 1))%)")
        }
        netBenefit = NetBenefit.curve(
            risk: risk, labels: labels,
            thresholds: (cuts + Evaluation.decisionThresholds.map { ($0, "") }).sorted { $0.0 < $1.0 })

        subgroups = []
        for (name, groupLabels) in groups {
            var members: [String: [Int]] = [:]
            for (i, g) in groupLabels.enumerated() { members[g, default: []].append(i) }
            for g in members.keys.sorted() {
                let rows = members[g]!
                let r = rows.map { risk[$0] }, y = rows.map { labels[$0] }
                let e = y.reduce(0) { $0 + Int($1) }
                subgroups.append(
                    Subgroup(
                        breakdown: name, group: g, people: rows.count, events: e,
                        observedRate: Double(e) / Double(rows.count), expectedRate: r.reduce(0, +) / Double(rows.count),
                        auroc: Metrics.auroc(r, y)?.value))
            }
        }
    }
}
