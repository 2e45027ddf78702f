import Foundation

/// What an evaluation found, and the diagnostics to judge it by; saved as JSON and read by the
/// report and the web page.
public struct EvaluationResult: Sendable, Codable, Equatable {
    public var name: String
    public var runId: Int64
    public var asOf: String
    public var options: EvaluationOptions
    /// People left at each step, in order.
    public var steps: [Step]
    public var indexMonths: [IndexMonth]
    public var balance: [BalanceRow]
    /// The standardised mean difference after matching at which a covariate fails: the
    /// threshold, or if larger the bound chance passes on any covariate only 5% of the time for
    /// the number matched.
    public var balanceLimit: Double
    /// Whether every covariate's standardised mean difference after matching is below the limit.
    public var balanced: Bool
    public var overlap: Overlap
    /// Log-odds per unit of each covariate in the propensity model.
    public var propensityModel: [ModelTerm]
    /// The caliper on the logit of the propensity score.
    public var caliperLogit: Double
    public var effects: [Effect]
    public var eventStudy: [EventMonth]
    public var warnings: [String]
    /// Whether the figures are as planning publishes them (`PlanningDisclosure`) rather than exact.
    public var planning: Bool
    /// For a place-based scheme of few practices, each outcome's synthetic control; else empty,
    /// with why in `syntheticControlNote` when the scheme is a place.
    public var syntheticControl: [SyntheticControl.Result] = []
    public var syntheticControlNote: String?

    /// Evaluates the exposures: the matched comparison of people (`MatchedComparison`), and for a
    /// place-based scheme a synthetic control of the place (`SyntheticControl`).
    public static func evaluate(
        name: String, base: EvaluationBase, exposures: Exposures, options: EvaluationOptions, recordKeys: [UInt8]?,
        deadline: ContinuousClock.Instant? = nil, workers: Int
    ) throws(EvaluationError) -> EvaluationResult {
        var (result, _) = try MatchedComparison.run(
            name: name, base: base, exposures: exposures.exposures, firstExposure: exposures.firstExposure,
            options: options, named: exposures.named, recordKeys: recordKeys, deadline: deadline, workers: workers)
        if let place = exposures.place {
            if let deadline, ContinuousClock.now > deadline { throw .tookTooLong }
            // The outcomes the scheme is for; negative controls are the matched comparison's check.
            (result.syntheticControl, result.syntheticControlNote) = try SyntheticControl.run(
                base: base, place: place.practices, start: place.start, options: options, outcomes: options.outcomes,
                planning: recordKeys.map { PlanningDisclosure(keys: $0) }, deadline: deadline, workers: workers)
        }
        return result
    }

    /// The fewest exposed people an evaluation reports on: fewer would be small numbers.
    public static let minimumTreated = 10
    /// Below this many matched exposed people an evaluation warns that its estimates are unstable.
    public static let fewMatched = 100
    public static let intervalMethod =
        "95% intervals from a bootstrap of matched sets (percentile method); rates per person-year"

    /// Effects are shown as the headline only when balance holds.
    public var withheld: Bool { !balanced }

    public struct Step: Sendable, Codable, Equatable {
        public var step: String
        /// Nil where withheld as a small number.
        public var people: Int?
    }

    public struct IndexMonth: Sendable, Codable, Equatable {
        public var month: String
        /// Nil where withheld as a small number.
        public var treated: Int?
    }

    public struct BalanceRow: Sendable, Codable, Equatable {
        public var covariate: String
        public var description: String
        public var treatedBefore: Double
        public var controlsBefore: Double
        public var smdBefore: Double
        public var treatedAfter: Double
        public var controlsAfter: Double
        public var smdAfter: Double
        public var fails: Bool
    }

    /// The distribution of preference scores among the exposed and the unexposed sample, and
    /// the share of each in equipoise (preference 0.3 to 0.7; Walker et al. 2013).
    public struct Overlap: Sendable, Codable, Equatable {
        public static let binCount = 20
        /// Share of each group in each of `binCount` equal bins from 0 to 1.
        public var treated: [Double]
        public var controls: [Double]
        public var equipoiseTreated: Double
        public var equipoiseControls: Double

        init(treated: [Double], controls: [Double], equipoiseTreated: Double, equipoiseControls: Double) {
            self.treated = treated
            self.controls = controls
            self.equipoiseTreated = equipoiseTreated
            self.equipoiseControls = equipoiseControls
        }

        init(preference: [Double], treated n: Int, bins: Int) {
            func shares(_ values: ArraySlice<Double>) -> [Double] {
                var counts = [Double](repeating: 0, count: bins)
                for v in values { counts[min(bins - 1, max(0, Int(v * Double(bins))))] += 1 }
                return counts.map { values.isEmpty ? 0 : $0 / Double(values.count) }
            }
            func equipoise(_ values: ArraySlice<Double>) -> Double {
                values.isEmpty ? 0 : Double(values.filter { (0.3...0.7).contains($0) }.count) / Double(values.count)
            }
            treated = shares(preference[..<n])
            controls = shares(preference[n...])
            equipoiseTreated = equipoise(preference[..<n])
            equipoiseControls = equipoise(preference[n...])
        }
    }

    public struct ModelTerm: Sendable, Codable, Equatable {
        public var covariate: String
        public var coefficient: Double
    }

    /// An estimate with its 95% interval; nil where it cannot be computed (no events).
    public struct Interval: Sendable, Codable, Equatable {
        public var estimate: Double?
        public var low: Double?
        public var high: Double?

        public func describe(percent: Bool, decimals: Int = 2) -> String {
            func text(_ v: Double) -> String {
                percent ? String(format: "%+.1f%%", v * 100) : String(format: "%+.\(decimals)f", v)
            }
            guard let estimate else { return "not estimable" }
            guard let low, let high else { return text(estimate) + " (no interval)" }
            return "\(text(estimate)) (95% CI \(text(low)) to \(text(high)))"
        }

        public func covers(_ value: Double) -> Bool {
            guard let low, let high else { return false }
            return low <= value && value <= high
        }
    }

    public struct Effect: Sendable, Codable, Equatable {
        public var outcome: String
        public var description: String
        public var negativeControl: Bool
        /// Rates per person-year in each group and window (controls weighted within their set);
        /// nil where the group has no months in the window.
        public var treatedPre: Double?
        public var treatedPost: Double?
        public var controlsPre: Double?
        public var controlsPost: Double?
        /// The ratio of the exposed people's rate ratio (post / pre) to the controls', minus 1.
        public var relative: Interval
        /// The change in the exposed people's rate minus the change in the controls', per person-year.
        public var absolute: Interval
        /// The exposed people's own change, post against pre, with no comparison: labelled naive
        /// because regression to the mean alone makes it fall when people are chosen for high use.
        public var naiveRelative: Interval
        public var naiveAbsolute: Interval
    }

    /// The difference in rate (per person-year, exposed minus controls) in one month relative to
    /// the index month (-1 the month before it, 1 the month after).
    public struct EventMonth: Sendable, Codable, Equatable {
        public var outcome: String
        public var month: Int
        public var difference: Interval
    }
}
