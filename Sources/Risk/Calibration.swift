import Foundation
import Outputs

/// A logistic map of a model's log-odds, `a + b x logit(p)`: both the recalibration applied to a
/// model (Platt scaling on the logit, Platt 1999; Cox 1958) and the measure of how far a model
/// is from calibrated (the calibration slope and intercept).
public struct LogisticCalibration: Sendable, Codable, Equatable {
    public var intercept: Double
    public var slope: Double
    public var interceptStandardError: Double
    public var slopeStandardError: Double

    /// Leaves risks unchanged.
    public static let identity = LogisticCalibration(
        intercept: 0, slope: 1, interceptStandardError: 0, slopeStandardError: 0)

    /// The recalibrated risk for a model's log-odds.
    @inline(__always)
    public func risk(logOdds eta: Double) -> Double { 1 / (1 + exp(-(intercept + slope * eta))) }

    /// Log-odds clamped away from certainty, so that risks of 0 or 1 stay finite.
    @inline(__always)
    public static func logit(_ p: Double) -> Double {
        let q = min(max(p, 1e-9), 1 - 1e-9)
        return log(q / (1 - q))
    }

    /// Fits `outcome ~ a + b x logOdds` by maximum likelihood (Newton's method), with Wald
    /// standard errors from the inverse information.
    ///
    /// - Returns: nil unless both outcomes occur.
    public static func fit(logOdds x: [Double], labels y: [UInt8]) -> LogisticCalibration? {
        let events = y.reduce(0) { $0 + Int($1) }
        guard events > 0, events < y.count, x.count == y.count else { return nil }
        func logLikelihood(_ a: Double, _ b: Double) -> Double {
            var total = 0.0
            for i in x.indices {
                let eta = a + b * x[i]
                // y eta - log(1 + e^eta), without overflow
                total += Double(y[i]) * eta - (eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta)))
            }
            return total
        }
        var a = log(Double(events) / Double(y.count - events)), b = 0.0
        var current = logLikelihood(a, b)
        var info = (0.0, 0.0, 0.0)
        for _ in 0..<100 {
            var g0 = 0.0, g1 = 0.0, h00 = 0.0, h01 = 0.0, h11 = 0.0
            for i in x.indices {
                let p = 1 / (1 + exp(-(a + b * x[i])))
                let r = Double(y[i]) - p, w = max(p * (1 - p), 1e-300)
                g0 += r
                g1 += r * x[i]
                h00 += w
                h01 += w * x[i]
                h11 += w * x[i] * x[i]
            }
            info = (h00, h01, h11)
            let det = h00 * h11 - h01 * h01
            guard det > 0, det.isFinite else { return nil }
            var da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det
            // Newton's step, halved while it lowers the likelihood (near-separable outcomes).
            var next = logLikelihood(a + da, b + db)
            var halvings = 0
            while !(next >= current - 1e-12) && halvings < 30 {
                da /= 2
                db /= 2
                next = logLikelihood(a + da, b + db)
                halvings += 1
            }
            guard next >= current - 1e-12 else { break }
            a += da
            b += db
            current = next
            if abs(da) < 1e-9 && abs(db) < 1e-9 { break }
        }
        let det = info.0 * info.2 - info.1 * info.1
        guard det > 0, a.isFinite, b.isFinite else { return nil }
        return LogisticCalibration(
            intercept: a, slope: b, interceptStandardError: (info.2 / det).squareRoot(),
            slopeStandardError: (info.0 / det).squareRoot())
    }

    /// Calibration-in-the-large: the intercept of `outcome ~ a + offset(logOdds)`, the slope held
    /// at 1 (Van Calster et al. 2019, the "mean" level of the calibration hierarchy).
    public static func inTheLarge(logOdds x: [Double], labels y: [UInt8]) -> (value: Double, standardError: Double)? {
        let events = y.reduce(0) { $0 + Int($1) }
        guard events > 0, events < y.count, x.count == y.count else { return nil }
        var a = 0.0, h = 0.0, converged = false
        for _ in 0..<50 {
            var g = 0.0
            h = 0
            for i in x.indices {
                let p = 1 / (1 + exp(-(a + x[i])))
                g += Double(y[i]) - p
                h += max(p * (1 - p), 1e-12)
            }
            // The log-likelihood is concave in a: a bounded Newton step cannot oscillate far.
            let step = max(-1, min(1, g / h))
            a += step
            if abs(step) < 1e-10 {
                converged = true
                break
            }
        }
        guard converged, a.isFinite else { return nil }
        return (a, (1 / h).squareRoot())
    }
}

/// How well predicted risks agree with outcomes, summed up with intervals: the "mean" and "weak"
/// levels of Van Calster et al.'s calibration hierarchy (J Clin Epidemiol 2016; BMC Medicine
/// 2019), reported as TRIPOD asks.
public struct CalibrationMeasures: Sendable, Codable {
    /// Observed events over expected events (the sum of risks), with a 95% interval from
    /// `SE(ln O/E) = sqrt((1 - O/N) / O)` (Debray et al., BMJ 2017).
    public var observedOverExpected: Double
    public var observedOverExpectedLower: Double
    public var observedOverExpectedUpper: Double
    /// 0 when risks are right on average; positive when they are too low.
    public var inTheLarge: Double
    public var inTheLargeLower: Double
    public var inTheLargeUpper: Double
    /// 1 when risks spread as much as outcomes do; below 1 when too extreme (overfitting).
    public var slope: Double
    public var slopeLower: Double
    public var slopeUpper: Double

    public static let z95 = 1.959964

    /// - Returns: nil unless both outcomes occur.
    public init?(risk: [Double], labels: [UInt8]) {
        let logOdds = risk.map(LogisticCalibration.logit)
        guard let weak = LogisticCalibration.fit(logOdds: logOdds, labels: labels),
            let mean = LogisticCalibration.inTheLarge(logOdds: logOdds, labels: labels)
        else { return nil }
        let observed = Double(labels.reduce(0) { $0 + Int($1) }), expected = risk.reduce(0, +)
        let z = Self.z95
        let ratio = observed / expected
        let se = ((1 - observed / Double(labels.count)) / observed).squareRoot()
        observedOverExpected = ratio
        observedOverExpectedLower = ratio * exp(-z * se)
        observedOverExpectedUpper = ratio * exp(z * se)
        inTheLarge = mean.value
        inTheLargeLower = mean.value - z * mean.standardError
        inTheLargeUpper = mean.value + z * mean.standardError
        slope = weak.slope
        slopeLower = weak.slope - z * weak.slopeStandardError
        slopeUpper = weak.slope + z * weak.slopeStandardError
    }
}

/// Net benefit at a risk threshold: what acting on the model gains against acting on no one and
/// on everyone, weighing a false positive by the odds of the threshold (Vickers and Elkin,
/// Medical Decision Making 2006).
public struct NetBenefit: Sendable, Codable {
    public var threshold: Double
    /// What the threshold is, when it is not a round figure ("top 5%" for a tier cut point).
    public var label: String
    public var flagged: Int
    public var model: Double
    public var treatAll: Double

    /// Net benefit of the risks at each threshold: `TP/N - FP/N x t/(1 - t)`.
    public static func curve(risk: [Double], labels: [UInt8], thresholds: [(Double, String)]) -> [NetBenefit] {
        let n = Double(risk.count)
        guard n > 0 else { return [] }
        let prevalence = Double(labels.reduce(0) { $0 + Int($1) }) / n
        return thresholds.filter { $0.0 > 0 && $0.0 < 1 }.map { t, label in
            let odds = t / (1 - t)
            var tp = 0, fp = 0
            for (r, y) in zip(risk, labels) where r >= t {
                if y == 1 { tp += 1 } else { fp += 1 }
            }
            return NetBenefit(
                threshold: t, label: label, flagged: tp + fp, model: Double(tp) / n - Double(fp) / n * odds,
                treatAll: prevalence - (1 - prevalence) * odds)
        }
    }
}

/// How a saved model's risks agree with outcomes on a population it was not trained on: scored at
/// the development index date, tiered by rank there, and compared with the outcomes of the 12
/// months after it. Models carried to another health system drift when its case mix, coding or
/// care differ (Riley et al. 2016, external validation).
public struct Transport: Sendable, Codable {
    public struct Tier: Sendable, Codable {
        public var tier: String
        public var people: Int
        public var expected: Double
        public var observed: Int
        public var observedOverExpected: Double
        public var lower: Double
        public var upper: Double
    }

    public var outcome: Outcome
    public var index: String
    public var people: Int
    public var overall: CalibrationMeasures?
    public var tiers: [Tier]
    /// Why the model's risks cannot be taken at face value here, nil when they can.
    public var warning: String?

    /// Observed over expected may stray this far from 1 (and the slope from 1 by 0.2) before a
    /// warning, when the interval also excludes 1.
    public static let tolerance = 0.2

    public init(outcome: Outcome, index: String, risk: [Double], labels: [UInt8]) {
        self.outcome = outcome
        self.index = index
        people = risk.count
        overall = CalibrationMeasures(risk: risk, labels: labels)
        let tierOf = Risk.Tier.assign(risk)
        tiers = Risk.Tier.allCases.reversed().map { t in
            let rows = risk.indices.filter { tierOf[$0] == t }
            let expected = rows.reduce(0) { $0 + risk[$1] }, observed = rows.reduce(0) { $0 + Int(labels[$1]) }
            let ratio = expected > 0 ? Double(observed) / expected : .nan
            // Exact-enough log interval; with no events only the upper limit is informative.
            let se = observed > 0 ? ((1 - Double(observed) / Double(max(rows.count, 1))) / Double(observed)).squareRoot() : .nan
            return Tier(
                tier: t.label, people: rows.count, expected: expected, observed: observed, observedOverExpected: ratio,
                lower: observed > 0 ? ratio * exp(-CalibrationMeasures.z95 * se) : 0,
                upper: observed > 0 ? ratio * exp(CalibrationMeasures.z95 * se) : .infinity)
        }
        var problems: [String] = []
        if let c = overall {
            func f(_ x: Double) -> String { String(format: "%.2f", x) }
            if abs(c.observedOverExpected - 1) > Self.tolerance
                && (c.observedOverExpectedLower > 1 || c.observedOverExpectedUpper < 1)
            {
                problems.append(
                    "observed events are \(f(c.observedOverExpected)) times those expected (95% CI \(f(c.observedOverExpectedLower)) to \(f(c.observedOverExpectedUpper)))"
                )
            }
            if abs(c.slope - 1) > Self.tolerance && (c.slopeLower > 1 || c.slopeUpper < 1) {
                problems.append(
                    "the calibration slope is \(f(c.slope)) (95% CI \(f(c.slopeLower)) to \(f(c.slopeUpper)))")
            }
        } else {
            problems.append("the outcomes after \(index) cannot judge it (no one, or everyone, had the outcome)")
        }
        warning =
            problems.isEmpty
            ? nil
            : "the saved \(outcome.rawValue) model is miscalibrated on this population: " + problems.joined(separator: "; ")
                + "; its tiers still rank people, but its risks are not this population's: retrain (phm model train) or recalibrate before quoting them"
    }
}
