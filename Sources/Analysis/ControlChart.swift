/// An XmR (individuals and moving range) control chart with the special-cause rules of NHS
/// England's "Making Data Count" (2019):
///
/// - process limits at `mean ± 2.66 x mean moving range`;
/// - special cause when a point is beyond a limit; when 7 or more consecutive points lie on one
///   side of the mean (a shift); when 7 or more consecutive points all rise or all fall (a
///   trend); when 2 of 3 consecutive points lie beyond two sigma on the same side (sigma =
///   mean moving range / 1.128, so two sigma is two thirds of the way to the limit).
/// - With fewer than 12 points the limits are trial limits.
///
/// Every point of a run that meets a rule is flagged, as Making Data Count's tools do.
public struct ControlChart: Sendable {
    public enum Side: String, Sendable { case above, below, none }

    public struct Point: Sendable {
        public var value: Double
        public var movingRange: Double?
        public var beyondLimits = false
        public var shift = false
        public var trend = false
        public var twoOfThree = false
        /// Which side of the mean a special cause lies (or the trend's direction: above = rising).
        public var side: Side = .none

        public var specialCause: Bool { beyondLimits || shift || trend || twoOfThree }
    }

    public var points: [Point]
    public var mean: Double
    public var meanMovingRange: Double
    public var lowerLimit: Double
    public var upperLimit: Double
    /// Fewer than 12 points: limits to be recalculated once there are more.
    public var trialLimits: Bool

    public static let runLength = 7

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a chart needs at least one value")
        let n = values.count
        // A constant series has its value as mean exactly, so rounding in the sum flags nothing.
        mean = values.allSatisfy { $0 == values[0] } ? values[0] : values.reduce(0, +) / Double(n)
        let ranges = (1..<max(1, n)).map { abs(values[$0] - values[$0 - 1]) }
        meanMovingRange = ranges.isEmpty ? 0 : ranges.reduce(0, +) / Double(ranges.count)
        lowerLimit = mean - 2.66 * meanMovingRange
        upperLimit = mean + 2.66 * meanMovingRange
        trialLimits = n < 12
        points = values.enumerated().map { i, v in Point(value: v, movingRange: i == 0 ? nil : ranges[i - 1]) }
        let mean = mean, upper = upperLimit, lower = lowerLimit
        let twoSigmaAbove = mean + (upper - mean) * 2 / 3, twoSigmaBelow = mean - (mean - lower) * 2 / 3

        for i in 0..<n where values[i] > upper || values[i] < lower {
            points[i].beyondLimits = true
            points[i].side = values[i] > upper ? .above : .below
        }
        // Runs of points on one side of the mean; a point on the mean ends a run.
        ControlChart.markRuns(length: n, side: { values[$0] > mean ? 1 : values[$0] < mean ? -1 : 0 }) { i, s in
            points[i].shift = true
            points[i].side = s > 0 ? .above : .below
        }
        // Runs of points each higher (or each lower) than the one before; a repeat ends a run.
        // Seven points make six steps, so the step into point i is tagged on i and i - 1.
        var direction = [Int](repeating: 0, count: n)
        for i in 1..<max(1, n) { direction[i] = values[i] > values[i - 1] ? 1 : values[i] < values[i - 1] ? -1 : 0 }
        var i = 1
        while i < n {
            guard direction[i] != 0 else {
                i += 1
                continue
            }
            var j = i
            while j + 1 < n && direction[j + 1] == direction[i] { j += 1 }
            if j - i + 2 >= ControlChart.runLength {
                for k in (i - 1)...j {
                    points[k].trend = true
                    if points[k].side == .none { points[k].side = direction[i] > 0 ? .above : .below }
                }
            }
            i = j + 1
        }
        // Two of three beyond two sigma on the same side.
        for start in 0..<max(0, n - 2) {
            for (sign, beyond) in [(1, { (v: Double) in v > twoSigmaAbove }), (-1, { (v: Double) in v < twoSigmaBelow })] {
                let window = start..<(start + 3)
                let hits = window.filter { beyond(values[$0]) }
                guard hits.count >= 2 else { continue }
                for k in hits {
                    points[k].twoOfThree = true
                    if points[k].side == .none { points[k].side = sign > 0 ? .above : .below }
                }
            }
        }
    }

    /// Calls `mark` for every point in a run of at least `runLength` equal non-zero sides.
    private static func markRuns(length n: Int, side: (Int) -> Int, mark: (Int, Int) -> Void) {
        var start = 0
        while start < n {
            let s = side(start)
            var end = start
            while end + 1 < n && side(end + 1) == s { end += 1 }
            if s != 0 && end - start + 1 >= ControlChart.runLength {
                for k in start...end { mark(k, s) }
            }
            start = end + 1
        }
    }
}
