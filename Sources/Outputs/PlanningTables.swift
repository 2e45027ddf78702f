/// The planning tables of a run: aggregated, suppressed, one row per unit and breakdown. Every
/// table by unit starts with the unit's columns; the seed table (`multimorbidity.csv`) keeps the
/// seed's layout exactly.
public enum Published {
    /// The seed's layout, so without the `note`: its one count is `patients`.
    public static let multimorbidity = OutputTable<MultimorbidityRow>(file: "multimorbidity.csv", notes: false)
    public static let multimorbidityByUnit = OutputTable<UnitRow<MultimorbidityRow>>(file: "multimorbidity-by-unit.csv")
    public static let costConcentration = OutputTable<UnitRow<CostConcentrationRow>>(file: "cost-concentration.csv")
    public static let riskTiers = OutputTable<UnitRow<RiskTierRow>>(file: "risk-tiers.csv")
    public static let risingRisk = OutputTable<UnitRow<RisingRiskRow>>(file: "rising-risk.csv")
    public static let tierTransitions = OutputTable<UnitRow<TierTransitionRow>>(file: "tier-transitions.csv")
    public static let segmentProfiles = OutputTable<UnitRow<SegmentProfileRow>>(file: "segment-profiles.csv")
    public static let inequalities = OutputTable<UnitRow<InequalityRow>>(file: "inequalities.csv")
    public static let variation = OutputTable<UnitRow<VariationRow>>(file: "variation.csv")
    public static let spc = OutputTable<UnitRow<SPCRow>>(file: "spc.csv")
    public static let modelTransport = OutputTable<TransportRow>(file: "model-transport.csv")
    public static let areaQuintiles = OutputTable<AreaQuintileRow>(file: "area-quintiles.csv", notes: false)
}

/// `area-quintiles.csv`: where each area indicator's population-weighted quintiles are cut.
/// Area values are public (they are `areas.csv`'s); no count of people is here.
public struct AreaQuintileRow: FlatRow {
    public var indicator: String
    public var quintile: Int
    /// The lowest and highest value of the quintile's areas.
    public var lowest: Fixed?
    public var highest: Fixed?
    public var areas: Int

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case indicator, quintile, lowest, highest, areas
    }

    public static let counts: [String] = []

    public init(indicator: String, quintile: Int, lowest: Fixed?, highest: Fixed?, areas: Int) {
        self.indicator = indicator
        self.quintile = quintile
        self.lowest = lowest
        self.highest = highest
        self.areas = areas
    }
}

/// The columns naming a unit of the hierarchy, first in every table by unit.
public struct UnitColumns: FlatRow, Equatable {
    public var level: String
    public var unitCode: String
    public var unitName: String
    /// The unit above (none for the organisation).
    public var parentCode: String?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case level, unitCode = "unit_code", unitName = "unit_name", parentCode = "parent_code"
    }

    public init(level: String, unitCode: String, unitName: String, parentCode: String?) {
        self.level = level
        self.unitCode = unitCode
        self.unitName = unitName
        self.parentCode = parentCode
    }
}

/// A row for one unit: the unit's columns, then the table's own.
public struct UnitRow<Row: TableRow>: TableRow {
    public var unit: UnitColumns
    public var row: Row

    public init(_ unit: UnitColumns, _ row: Row) {
        self.unit = unit
        self.row = row
    }

    public static var columns: [String] { UnitColumns.columns + Row.columns }
    public static var counts: [String] { Row.counts }

    /// The organisation has no parent, so no parent's value either.
    public func applies(_ column: String) -> Bool {
        if unit.parentCode == nil && column.hasPrefix("parent_") { return false }
        return UnitColumns.columns.contains(column) || row.applies(column)
    }

    public func withheld(_ empty: (String) -> Bool) -> Bool {
        row.withheld { empty($0) && (unit.parentCode != nil || !$0.hasPrefix("parent_")) }
    }

    public init(from decoder: any Decoder) throws {
        unit = try UnitColumns(from: decoder)
        row = try Row(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try unit.encode(to: encoder)
        try row.encode(to: encoder)
    }
}

/// `multimorbidity.csv` (the seed table, organisation only) and `multimorbidity-by-unit.csv`:
/// people by number of long-term conditions, with their mean use and cost per person over the
/// 12 months before as-of, and their mean risks.
public struct MultimorbidityRow: FlatRow {
    /// `0` to `8`, `9+`, or `total`.
    public var ltcCount: String
    public var patients: Int?
    /// A share of the unit's people (0 to 1).
    public var pctPatients: Fixed?
    public var aeAttendances: Fixed?
    public var outpatientAttendances: Fixed?
    public var electiveAdmissions: Fixed?
    public var emergencyAdmissions: Fixed?
    public var totalApcCostGbp: Fixed?
    public var emergencyAdmissionCostGbp: Fixed?
    public var uniquePrescriptionTypes: Fixed?
    public var riskPersistentHighCost: Fixed?
    public var riskEmergencyAdmission12m: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case ltcCount = "ltc_count", patients, pctPatients = "pct_patients", aeAttendances = "ae_attendances"
        case outpatientAttendances = "outpatient_attendances", electiveAdmissions = "elective_admissions"
        case emergencyAdmissions = "emergency_admissions", totalApcCostGbp = "total_apc_cost_gbp"
        case emergencyAdmissionCostGbp = "emergency_admission_cost_gbp"
        case uniquePrescriptionTypes = "unique_prescription_types"
        case riskPersistentHighCost = "risk_persistent_high_cost"
        case riskEmergencyAdmission12m = "risk_emergency_admission_12m"
    }

    public static let counts = [CodingKeys.patients].map(\.rawValue)

    public init(ltcCount: String) { self.ltcCount = ltcCount }
}

/// `cost-concentration.csv`: how a unit's cost is shared among its people, for secondary care
/// and for every setting.
public struct CostConcentrationRow: FlatRow {
    /// `secondary_care` or `all_settings`.
    public var scope: String
    public var people: Int?
    public var totalCostGbp: Fixed?
    /// Shares of cost held by the costliest 0.5%, 1%, 5%, 10% and 20% of people.
    public var top0_5PctShare: Fixed?
    public var top1PctShare: Fixed?
    public var top5PctShare: Fixed?
    public var top10PctShare: Fixed?
    public var top20PctShare: Fixed?
    public var zeroCostShare: Fixed?
    public var gini: Fixed?
    /// The Lorenz curve: the share of cost held by the cheapest 10%, 20%, ... 90%.
    public var lorenz10: Fixed?
    public var lorenz20: Fixed?
    public var lorenz30: Fixed?
    public var lorenz40: Fixed?
    public var lorenz50: Fixed?
    public var lorenz60: Fixed?
    public var lorenz70: Fixed?
    public var lorenz80: Fixed?
    public var lorenz90: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case scope, people, totalCostGbp = "total_cost_gbp", top0_5PctShare = "top_0_5_pct_share"
        case top1PctShare = "top_1_pct_share", top5PctShare = "top_5_pct_share", top10PctShare = "top_10_pct_share"
        case top20PctShare = "top_20_pct_share", zeroCostShare = "zero_cost_share", gini
        case lorenz10 = "lorenz_10", lorenz20 = "lorenz_20", lorenz30 = "lorenz_30", lorenz40 = "lorenz_40"
        case lorenz50 = "lorenz_50", lorenz60 = "lorenz_60", lorenz70 = "lorenz_70", lorenz80 = "lorenz_80"
        case lorenz90 = "lorenz_90"
    }

    public static let counts = [CodingKeys.people].map(\.rawValue)

    public init(scope: String) { self.scope = scope }

    public var topShares: [Fixed?] {
        get { [top0_5PctShare, top1PctShare, top5PctShare, top10PctShare, top20PctShare] }
        set {
            (top0_5PctShare, top1PctShare, top5PctShare, top10PctShare, top20PctShare) = (
                newValue[0], newValue[1], newValue[2], newValue[3], newValue[4]
            )
        }
    }

    public var lorenz: [Fixed?] {
        get { [lorenz10, lorenz20, lorenz30, lorenz40, lorenz50, lorenz60, lorenz70, lorenz80, lorenz90] }
        set {
            (lorenz10, lorenz20, lorenz30, lorenz40, lorenz50) = (newValue[0], newValue[1], newValue[2], newValue[3], newValue[4])
            (lorenz60, lorenz70, lorenz80, lorenz90) = (newValue[5], newValue[6], newValue[7], newValue[8])
        }
    }
}

/// `risk-tiers.csv`: scored people per tier of each outcome.
public struct RiskTierRow: FlatRow {
    public var outcome: String
    public var tier: String
    public var people: Int?
    public var pctPeople: Fixed?
    public var meanRisk: Fixed?
    public var expectedEvents: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case outcome, tier, people, pctPeople = "pct_people", meanRisk = "mean_risk", expectedEvents = "expected_events"
    }

    public static let counts = [CodingKeys.people].map(\.rawValue)

    public init(
        outcome: String, tier: String, people: Int?, pctPeople: Fixed?, meanRisk: Fixed?, expectedEvents: Fixed?
    ) {
        self.outcome = outcome
        self.tier = tier
        self.people = people
        self.pctPeople = pctPeople
        self.meanRisk = meanRisk
        self.expectedEvents = expectedEvents
    }
}

/// `rising-risk.csv`: people scored at both dates whose risk rose, per outcome.
public struct RisingRiskRow: FlatRow {
    public var outcome: String
    public var peopleCompared: Int?
    public var tierRose: Int?
    public var riskRoseMaterially: Int?
    public var rising: Int?
    public var pctRising: Fixed?
    public var roseIntoHighOrVeryHigh: Int?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case outcome, peopleCompared = "people_compared", tierRose = "tier_rose"
        case riskRoseMaterially = "risk_rose_materially", rising, pctRising = "pct_rising"
        case roseIntoHighOrVeryHigh = "rose_into_high_or_very_high"
    }

    public static let counts = [CodingKeys.peopleCompared, .tierRose, .riskRoseMaterially, .rising, .roseIntoHighOrVeryHigh].map(
        \.rawValue)

    public init(
        outcome: String, peopleCompared: Int?, tierRose: Int?, riskRoseMaterially: Int?, rising: Int?, pctRising: Fixed?,
        roseIntoHighOrVeryHigh: Int?
    ) {
        self.outcome = outcome
        self.peopleCompared = peopleCompared
        self.tierRose = tierRose
        self.riskRoseMaterially = riskRoseMaterially
        self.rising = rising
        self.pctRising = pctRising
        self.roseIntoHighOrVeryHigh = roseIntoHighOrVeryHigh
    }
}

/// `tier-transitions.csv`: people by their risk tier in the previous run and in this one,
/// matched by pseudonym. `from` or `to` is `outside` for people not in the unit in that run
/// (joined, left, moved practice, died or opted out), `not_scored` for people with no score.
public struct TierTransitionRow: FlatRow {
    public var outcome: String
    public var previousRun: Int
    public var from: String
    public var to: String
    public var people: Int?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case outcome, previousRun = "previous_run", from, to, people
    }

    public static let counts = [CodingKeys.people].map(\.rawValue)

    public init(outcome: String, previousRun: Int, from: String, to: String, people: Int?) {
        self.outcome = outcome
        self.previousRun = previousRun
        self.from = from
        self.to = to
        self.people = people
    }
}

/// `segment-profiles.csv`: each segment of each segmentation in a unit: its people and their
/// use, cost and risk over the 12 months before as-of.
public struct SegmentProfileRow: FlatRow {
    public var segmentation: String
    public var segment: String
    public var segmentName: String
    public var people: Int?
    public var pctPopulation: Fixed?
    public var pctFemale: Fixed?
    public var meanAge: Fixed?
    public var pctAged65Plus: Fixed?
    public var pctCore20: Fixed?
    public var aeAttendancesPer1000: Fixed?
    public var emergencyAdmissionsPer1000: Fixed?
    public var electiveAdmissionsPer1000: Fixed?
    public var outpatientAttendancesPer1000: Fixed?
    public var meanCostGbp: Fixed?
    public var pctCost: Fixed?
    public var meanEmergencyCostGbp: Fixed?
    public var meanRiskEmergencyAdmission: Fixed?
    public var pctHighRisk: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case segmentation, segment, segmentName = "segment_name", people, pctPopulation = "pct_population"
        case pctFemale = "pct_female", meanAge = "mean_age", pctAged65Plus = "pct_aged_65_plus", pctCore20 = "pct_core20"
        case aeAttendancesPer1000 = "ae_attendances_per_1000", emergencyAdmissionsPer1000 = "emergency_admissions_per_1000"
        case electiveAdmissionsPer1000 = "elective_admissions_per_1000"
        case outpatientAttendancesPer1000 = "outpatient_attendances_per_1000", meanCostGbp = "mean_cost_gbp"
        case pctCost = "pct_cost", meanEmergencyCostGbp = "mean_emergency_cost_gbp"
        case meanRiskEmergencyAdmission = "mean_risk_emergency_admission", pctHighRisk = "pct_high_risk"
    }

    public static let counts = [CodingKeys.people].map(\.rawValue)

    /// A share or rate of fewer than 8 of a segment's people (its women, its over-65s) is withheld
    /// though the segment's people are shown; with people shown and above 0, nothing else leaves a
    /// figure empty.
    public func withheld(_ empty: (String) -> Bool) -> Bool {
        guard let people else { return true }
        return people > 0 && Self.columns.contains(where: empty)
    }

    public init(segmentation: String, segment: String, segmentName: String, people: Int?) {
        self.segmentation = segmentation
        self.segment = segment
        self.segmentName = segmentName
        self.people = people
    }
}

/// `inequalities.csv`: each indicator by every breakdown (sex, deprivation decile and quintile,
/// Core20, ethnic group, age band, each area indicator's quintiles), and its slope and relative
/// indices of inequality across deprivation and across each area indicator.
public struct InequalityRow: FlatRow {
    public var indicator: String
    /// `rate`, `percentage` or `mean`.
    public var kind: String
    /// The unit of the values (per 1,000, %, GBP) or `ratio`.
    public var measure: String
    /// `all`, a breakdown's id (deprivation, ethnic group, sex, age band, an area indicator's
    /// quintiles), or a breakdown's id with `_gradient` for the SII and RII rows
    /// (`imd_decile_gradient`, `area_pm25_quintile_gradient`).
    public var breakdown: String
    public var group: String
    public var people: Int?
    public var numerator: Int?
    public var value: Fixed?
    public var lower95: Fixed?
    public var upper95: Fixed?
    public var ageStandardised: Fixed?
    public var ageStandardisedLower95: Fixed?
    public var ageStandardisedUpper95: Fixed?
    public var parentValue: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case indicator, kind, measure, breakdown, group, people, numerator, value, lower95 = "lower_95"
        case upper95 = "upper_95", ageStandardised = "age_standardised"
        case ageStandardisedLower95 = "age_standardised_lower_95", ageStandardisedUpper95 = "age_standardised_upper_95"
        case parentValue = "parent_value"
    }

    public static let counts = [CodingKeys.people, .numerator].map(\.rawValue)

    /// The breakdown of the SII and RII rows across a breakdown's groups: `imd_decile_gradient`
    /// for deprivation deciles, `area_pm25_quintile_gradient` for an area indicator's quintiles.
    public static func gradient(of breakdown: String) -> String { breakdown + "_gradient" }

    /// Whether the row is an SII or RII row.
    public var isGradient: Bool { breakdown.hasSuffix("_gradient") }

    /// A gradient row has a value and interval only; a mean has no numerator.
    public func applies(_ column: String) -> Bool {
        if isGradient {
            return ![
                CodingKeys.people, .numerator, .ageStandardised, .ageStandardisedLower95, .ageStandardisedUpper95,
                .parentValue,
            ].map(\.rawValue).contains(column)
        }
        return column != CodingKeys.numerator.rawValue || kind != "mean"
    }

    /// A parent's value is empty only when the parent's own count is withheld.
    public func withheld(_ empty: (String) -> Bool) -> Bool {
        Self.counts.contains { empty($0) && applies($0) }
            || (applies(CodingKeys.parentValue.rawValue) && empty(CodingKeys.parentValue.rawValue))
    }

    public init(indicator: String, kind: String, measure: String, breakdown: String, group: String) {
        self.indicator = indicator
        self.kind = kind
        self.measure = measure
        self.breakdown = breakdown
        self.group = group
    }
}

/// `variation.csv`: each unit against its peers on each indicator: observed against expected,
/// funnel limits and the outlier flag.
public struct VariationRow: FlatRow {
    public var indicator: String
    public var kind: String
    /// How the expected value was found: indirect standardisation or the risk model.
    public var method: String
    public var people: Int?
    /// A count, or for a mean indicator the total.
    public var observed: Fixed?
    public var expected: Fixed?
    public var ratio: Fixed?
    public var ratioLower95: Fixed?
    public var ratioUpper95: Fixed?
    public var crudeValue: Fixed?
    public var parentCrudeValue: Fixed?
    public var funnelLower95: Fixed?
    public var funnelUpper95: Fixed?
    public var funnelLower998: Fixed?
    public var funnelUpper998: Fixed?
    /// `high`, `low` or `none`.
    public var outlier: String?
    public var phi: Fixed?
    public var tau2: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case indicator, kind, method, people, observed, expected, ratio, ratioLower95 = "ratio_lower_95"
        case ratioUpper95 = "ratio_upper_95", crudeValue = "crude_value", parentCrudeValue = "parent_crude_value"
        case funnelLower95 = "funnel_lower_95", funnelUpper95 = "funnel_upper_95", funnelLower998 = "funnel_lower_998"
        case funnelUpper998 = "funnel_upper_998", outlier, phi, tau2
    }

    public static let counts = [CodingKeys.people, .observed].map(\.rawValue)

    public init(indicator: String, kind: String, method: String) {
        self.indicator = indicator
        self.kind = kind
        self.method = method
    }
}

/// `spc.csv`: monthly counts per unit and measure with their control chart and the special-cause
/// rules each point meets.
public struct SPCRow: FlatRow {
    public var measure: String
    /// Which way is better: `higher`, `lower` or `neither`.
    public var improvement: String
    /// `YYYY-MM`.
    public var month: String
    public var value: Int?
    public var mean: Fixed?
    public var lowerLimit: Fixed?
    public var upperLimit: Fixed?
    /// Whether the limits are trial limits (fewer than 12 points).
    public var trialLimits: Bool
    public var beyondLimits: Bool?
    public var shift: Bool?
    public var trend: Bool?
    public var twoOfThree: Bool?
    public var specialCause: Bool?
    /// `above` or `below` the mean, for a special cause.
    public var side: String?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case measure, improvement, month, value, mean, lowerLimit = "lower_limit", upperLimit = "upper_limit"
        case trialLimits = "trial_limits", beyondLimits = "beyond_limits", shift, trend, twoOfThree = "two_of_three"
        case specialCause = "special_cause", side
    }

    public static let counts = [CodingKeys.value].map(\.rawValue)

    public init(measure: String, improvement: String, month: String, value: Int?, trialLimits: Bool) {
        self.measure = measure
        self.improvement = improvement
        self.month = month
        self.value = value
        self.trialLimits = trialLimits
    }
}

/// `model-transport.csv`: how a saved model's risks hold on this population, by tier.
public struct TransportRow: FlatRow {
    public var outcome: String
    public var indexDate: String
    public var tier: String
    public var people: Int?
    public var expectedEvents: Fixed?
    public var observedEvents: Int?
    public var observedOverExpected: Fixed?
    public var lower95: Fixed?
    public var upper95: Fixed?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case outcome, indexDate = "index_date", tier, people, expectedEvents = "expected_events"
        case observedEvents = "observed_events", observedOverExpected = "observed_over_expected", lower95 = "lower_95"
        case upper95 = "upper_95"
    }

    public static let counts = [CodingKeys.people, .observedEvents].map(\.rawValue)

    public init(outcome: String, indexDate: String, tier: String, people: Int?) {
        self.outcome = outcome
        self.indexDate = indexDate
        self.tier = tier
        self.people = people
    }
}

/// `projections.csv`: the registered population projected year by year from as-of, by age band,
/// long-term condition band and deprivation quintile, with people with major illness and the
/// activity and cost expected at today's rates; each a central figure and a 95% interval.
public struct ProjectionRow: FlatRow, Equatable {
    public var scenario: String
    /// Whole years after as-of (0 is as-of itself).
    public var yearsAhead: Int
    /// `YYYY-MM-DD`: as-of plus `yearsAhead` years.
    public var date: String
    public var ageBand: String
    public var ltcBand: String
    /// `1` (most deprived) to `5`, or `unknown`.
    public var imdQuintile: String
    public var people: Int?
    public var peopleLower95: Int?
    public var peopleUpper95: Int?
    public var majorIllness: Int?
    public var majorIllnessLower95: Int?
    public var majorIllnessUpper95: Int?
    public var emergencyAdmissions: Int?
    public var emergencyAdmissionsLower95: Int?
    public var emergencyAdmissionsUpper95: Int?
    public var aeAttendances: Int?
    public var aeAttendancesLower95: Int?
    public var aeAttendancesUpper95: Int?
    public var outpatientAttendances: Int?
    public var outpatientAttendancesLower95: Int?
    public var outpatientAttendancesUpper95: Int?
    public var electiveAdmissions: Int?
    public var electiveAdmissionsLower95: Int?
    public var electiveAdmissionsUpper95: Int?
    public var costGbp: Int?
    public var costGbpLower95: Int?
    public var costGbpUpper95: Int?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case scenario, yearsAhead = "years_ahead", date, ageBand = "age_band", ltcBand = "ltc_band"
        case imdQuintile = "imd_quintile", people, peopleLower95 = "people_lower_95", peopleUpper95 = "people_upper_95"
        case majorIllness = "major_illness", majorIllnessLower95 = "major_illness_lower_95"
        case majorIllnessUpper95 = "major_illness_upper_95", emergencyAdmissions = "emergency_admissions"
        case emergencyAdmissionsLower95 = "emergency_admissions_lower_95"
        case emergencyAdmissionsUpper95 = "emergency_admissions_upper_95", aeAttendances = "ae_attendances"
        case aeAttendancesLower95 = "ae_attendances_lower_95", aeAttendancesUpper95 = "ae_attendances_upper_95"
        case outpatientAttendances = "outpatient_attendances"
        case outpatientAttendancesLower95 = "outpatient_attendances_lower_95"
        case outpatientAttendancesUpper95 = "outpatient_attendances_upper_95", electiveAdmissions = "elective_admissions"
        case electiveAdmissionsLower95 = "elective_admissions_lower_95"
        case electiveAdmissionsUpper95 = "elective_admissions_upper_95", costGbp = "cost_gbp"
        case costGbpLower95 = "cost_gbp_lower_95", costGbpUpper95 = "cost_gbp_upper_95"
    }

    public static let counts = [CodingKeys.people, .majorIllness].map(\.rawValue)

    public init(scenario: String, yearsAhead: Int, date: String, ageBand: String, ltcBand: String, imdQuintile: String) {
        self.scenario = scenario
        self.yearsAhead = yearsAhead
        self.date = date
        self.ageBand = ageBand
        self.ltcBand = ltcBand
        self.imdQuintile = imdQuintile
    }
}

extension ProjectionRow {
    public typealias Figure = any WritableKeyPath<ProjectionRow, Int?> & Sendable

    /// The measures projected, in the engine's order (`Projection.Measure`): each one's column,
    /// its name in words, and its central figure and interval.
    public static let measures: [(column: String, words: String, central: Figure, lower: Figure, upper: Figure)] = [
        ("people", "people", \.people, \.peopleLower95, \.peopleUpper95),
        ("major_illness", "people with major illness", \.majorIllness, \.majorIllnessLower95, \.majorIllnessUpper95),
        (
            "emergency_admissions", "emergency admissions", \.emergencyAdmissions, \.emergencyAdmissionsLower95,
            \.emergencyAdmissionsUpper95
        ),
        ("ae_attendances", "A&E attendances", \.aeAttendances, \.aeAttendancesLower95, \.aeAttendancesUpper95),
        (
            "outpatient_attendances", "outpatient attendances", \.outpatientAttendances, \.outpatientAttendancesLower95,
            \.outpatientAttendancesUpper95
        ),
        (
            "elective_admissions", "elective admissions", \.electiveAdmissions, \.electiveAdmissionsLower95,
            \.electiveAdmissionsUpper95
        ),
        ("cost_gbp", "cost (GBP)", \.costGbp, \.costGbpLower95, \.costGbpUpper95),
    ]
}

extension Published {
    public static let projections = OutputTable<UnitRow<ProjectionRow>>(file: "projections.csv")
    public static let projection = OutputReport<ProjectionSummary>(file: "projection.json")
}

/// `projection.json`: how the projection was made, and how well the same method projected the
/// last years of the data from the years before (the backtest).
public struct ProjectionSummary: Codable, Sendable, Equatable {
    public var method: String
    public var years: Int
    public var draws: Int
    public var historyYears: Int
    public var entryYears: Int
    public var personYears: Int
    public var majorIllnessScore: String?
    public var warnings: [String]
    public var backtest: Backtest?
    /// The baseline, then each scenario of the scenarios file, in the order of `projections.csv`
    /// (none in a file written before scenarios).
    public var scenarios: [ScenarioSummary]?

    public struct ScenarioSummary: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        /// What it changes against the data's own rates, in words (none for a baseline that
        /// follows them).
        public var changes: [String]

        public init(id: String, name: String, changes: [String]) {
            self.id = id
            self.name = name
            self.changes = changes
        }
    }

    /// Projected against observed at as-of, from `yearsBack` years before it.
    public struct Backtest: Codable, Sendable, Equatable {
        public var yearsBack: Int
        public var bands: [Band]

        public struct Band: Codable, Sendable, Equatable {
            /// `age`, `ltc` or `all`.
            public var breakdown: String
            public var band: String
            /// People registered at as-of; withheld (nil) when 1 to 7 once published.
            public var observed: Int?
            public var projected: Double
            public var lower95: Double
            public var upper95: Double
            /// (projected - observed) / observed, as a percentage, from the figures as given.
            public var errorPct: Double?

            public init(breakdown: String, band: String, observed: Int?, projected: Double, lower95: Double, upper95: Double) {
                self.breakdown = breakdown
                self.band = band
                self.observed = observed
                self.projected = projected
                self.lower95 = lower95
                self.upper95 = upper95
                errorPct = observed.flatMap { $0 > 0 ? 100 * (projected - Double($0)) / Double($0) : nil }
            }
        }

        public init(yearsBack: Int, bands: [Band]) {
            self.yearsBack = yearsBack
            self.bands = bands
        }
    }

    public init(
        method: String, years: Int, draws: Int, historyYears: Int, entryYears: Int, personYears: Int,
        majorIllnessScore: String?, warnings: [String], backtest: Backtest?, scenarios: [ScenarioSummary]? = nil
    ) {
        self.scenarios = scenarios
        self.method = method
        self.years = years
        self.draws = draws
        self.historyYears = historyYears
        self.entryYears = entryYears
        self.personYears = personYears
        self.majorIllnessScore = majorIllnessScore
        self.warnings = warnings
        self.backtest = backtest
    }
}

extension Published {
    /// Every file a run may write at the top of its output folder, and the folders beside them.
    public static let files: [String] = [
        multimorbidity.file, multimorbidityByUnit.file, costConcentration.file, riskTiers.file, risingRisk.file,
        tierTransitions.file,
        segmentProfiles.file, inequalities.file, variation.file, spc.file, areaQuintiles.file, modelTransport.file, run.file,
        projections.file, projection.file, reconciliation.file, linkage.file, codes.file, models.file, quality.file,
        PersonFiles.persons,
        PersonFiles.personConditions.file, PersonFiles.riskScores, PersonFiles.projectionBasis,
    ]
    public static let folders = [PersonFiles.quarantine, PersonFiles.models]
}
