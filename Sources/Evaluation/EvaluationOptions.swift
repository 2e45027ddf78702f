import PHMCore

/// How an evaluation compares the people exposed with people who were not.
public struct EvaluationOptions: Sendable, Codable, Equatable {
    /// Whole months before the index month (the pre window) and after it (the post window); the
    /// index month itself, when the intervention began part-way through, is in neither.
    public var preMonths = 12
    public var postMonths = 12
    /// Ages (at the start of the index month) eligible for the comparison.
    public var minimumAge = 0
    public var maximumAge = 120
    /// Characteristics a control must share with their treated person, beyond the index month.
    /// Recent emergency admissions by default: people are usually chosen for them, and their
    /// timing drives regression to the mean, which a propensity score alone balances poorly.
    public var exact: [Stratum] = [.recentEmergencyAdmissions]
    /// Controls sought for each treated person (nearest first, each used once).
    public var controlsPerPerson = 1
    /// The widest propensity-score difference accepted, in standard deviations of its logit.
    public var caliper = 0.2
    public var outcomes: [Measure] = Measure.allCases
    /// Outcomes the intervention cannot plausibly change: an effect on them signals residual bias.
    public var negativeControls: [Measure] = []
    public var bootstrapSamples = 1000
    public var seed: UInt64 = 1
    /// Balance fails when any covariate's standardised mean difference after matching is this or more.
    public var balanceThreshold = 0.1
    /// The most unexposed people the propensity model is fitted on (a random sample; every one of
    /// them is still a candidate for matching).
    public var fitSample = 100_000

    public init() {}

    /// Characteristics controls can be matched on exactly.
    public enum Stratum: String, Sendable, Codable, CaseIterable {
        case sex, practice, pcn, locality
        /// Emergency admissions in the 12 months before the index month (0, 1, 2, 3, 4, 5 or
        /// more) and in the 3 months before it (0, 1, 2 or more): coarsened exact matching
        /// (Iacus, King and Porro 2012) on the use that chooses people and then regresses.
        case recentEmergencyAdmissions = "recent_emergency_admissions"
    }

    /// The limits that keep a definition's work bounded.
    public static let maximumWindow = 24
    public static let maximumControls = 10
    public static let maximumBootstrap = 10_000
    /// Candidates are scored at every index month: more than two years of starts is several
    /// evaluations, and would hold the pool that many times over.
    public static let maximumIndexMonths = 24
    /// The bootstrap's work (samples x matched sets x values per set) is capped near this, with
    /// fewer samples (never under 200) for very large evaluations.
    public static let bootstrapBudget = 12_000_000_000.0

    /// Why these options cannot be used, or nil.
    public var problem: String? {
        if !(1...Self.maximumWindow).contains(preMonths) || !(1...Self.maximumWindow).contains(postMonths) {
            return "pre and post windows must each be 1 to \(Self.maximumWindow) months"
        }
        if max(preMonths, 12) + postMonths + 1 > Int(EvaluationBase.lookbackMonths) {
            return
                "the pre window (or the 12 months the covariates read), index month and post window must fit in \(EvaluationBase.lookbackMonths) months"
        }
        if !(0...120).contains(minimumAge) || !(minimumAge...120).contains(maximumAge) {
            return "ages must satisfy 0 <= minimum_age <= maximum_age <= 120"
        }
        if !(1...Self.maximumControls).contains(controlsPerPerson) {
            return "controls_per_person must be 1 to \(Self.maximumControls)"
        }
        if !(caliper > 0 && caliper <= 5) { return "caliper must be above 0 and at most 5 standard deviations" }
        if outcomes.isEmpty { return "name at least one outcome" }
        if !(100...Self.maximumBootstrap).contains(bootstrapSamples) {
            return "bootstrap must be 100 to \(Self.maximumBootstrap) samples"
        }
        if !(balanceThreshold > 0 && balanceThreshold <= 1) { return "balance_threshold must be above 0 and at most 1" }
        if !(1_000...10_000_000).contains(fitSample) { return "fit_sample must be 1,000 to 10,000,000" }
        return nil
    }
}
