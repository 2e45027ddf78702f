import Foundation
import PHMCore

/// What a person looked like at the start of an index month, from their history before it: the
/// covariates the propensity score is fitted on and the balance table reports.
struct Covariates {
    var ids: [String]
    var descriptions: [String]
    /// Column of each of the base's conditions, -1 where it is not a covariate.
    var conditionColumn: [Int]
    let base: EvaluationBase

    static let fixed: [(String, String)] = [
        ("age", "age"),
        ("age_squared", "age squared / 100"),
        ("female", "female"),
        ("imd_decile", "IMD decile of home area (1 = most deprived)"),
        ("deprivation_unknown", "home area not known"),
        ("ethnic_mixed", "ethnic group Mixed"),
        ("ethnic_asian", "ethnic group Asian"),
        ("ethnic_black", "ethnic group Black"),
        ("ethnic_other", "ethnic group Other"),
        ("ethnic_not_recorded", "ethnic group not recorded"),
        ("registered_years", "years in the population (up to 10)"),
        ("ltc_count", "long-term conditions"),
        ("emergency_admissions_3m", "emergency admissions, last 3 months"),
        ("emergency_admissions_12m", "emergency admissions, last 12 months"),
        ("emergency_bed_days_12m", "emergency bed days, last 12 months"),
        ("ae_attendances_12m", "A&E attendances, last 12 months"),
        ("elective_admissions_12m", "planned admissions, last 12 months"),
        ("outpatient_attendances_12m", "outpatient attendances, last 12 months"),
        ("log_cost_12m", "log(1 + cost of care, last 12 months)"),
    ]
    /// Fixed bounds each covariate's values are held within when planning publishes their means:
    /// the same for every evaluation, so no one person's value sets them.
    static func bounds(_ id: String) -> ClosedRange<Float> {
        switch id {
        case "age": 0...120
        case "age_squared": 0...144
        case "imd_decile", "registered_years": 0...10
        case "ltc_count": 0...20
        case "emergency_admissions_3m": 0...5
        case "emergency_admissions_12m": 0...10
        case "emergency_bed_days_12m": 0...100
        case "ae_attendances_12m", "elective_admissions_12m": 0...20
        case "outpatient_attendances_12m": 0...50
        case "log_cost_12m": 0...12
        default: 0...1  // sex, deprivation unknown, ethnic groups, conditions
        }
    }

    static let emergency3m = 12
    static let emergency12m = 13
    /// Columns of the 12-month use by measure, in `Measure.allCases` order (cost is logged).
    static let useColumn = [13, 14, 15, 16, 17, 18]

    /// The covariates, with each long-term condition held by at least `minimumHolders` of the
    /// treated (rarer ones cannot be balanced and would only make the fit unstable).
    init(base: EvaluationBase, treatedConditionCounts: [Int], minimumHolders: Int) {
        self.base = base
        ids = Self.fixed.map(\.0)
        descriptions = Self.fixed.map(\.1)
        conditionColumn = [Int](repeating: -1, count: base.conditionIds.count)
        for c in base.conditionIds.indices where treatedConditionCounts[c] >= minimumHolders {
            conditionColumn[c] = ids.count
            ids.append("condition_" + base.conditionIds[c])
            descriptions.append(base.conditionNames[c].lowercased())
        }
    }

    var count: Int { ids.count }

    /// Writes a person's covariates at the start of `month` into `out[0..<count]`.
    func fill(person p: Int, month: Int32, into out: UnsafeMutablePointer<Float>) {
        for j in 0..<count { out[j] = 0 }
        let age = Float(base.age(of: p, atStartOf: month))
        out[0] = age
        out[1] = age * age / 100
        out[2] = base.sex[p] == .female ? 1 : 0
        let decile = base.imdDecile[p]
        out[3] = Float(decile)
        out[4] = decile == 0 ? 1 : 0
        switch base.ethnicGroup[p] {
        case .mixed: out[5] = 1
        case .asian: out[6] = 1
        case .black: out[7] = 1
        case .other: out[8] = 1
        case .notStated, .unknown: out[9] = 1
        case .white: break
        }
        let start = Day(firstOfMonth: month)
        out[10] = Float(min(10, max(0, Double(base.from[p].days(to: start)) / 365.25)))
        for row in base.conditions.rows(of: p) where base.conditionMonth[row] < month {
            out[11] += 1
            let column = conditionColumn[Int(base.condition[row])]
            if column >= 0 { out[column] = 1 }
        }
        var cost: Float = 0
        for row in base.events.rows(of: p) {
            let m = base.eventMonth[row]
            if m >= month { break }
            guard m >= month - 12 else { continue }
            let measure = Int(base.eventMeasure[row]), amount = base.eventAmount[row]
            if measure == Measure.cost.index {
                cost += amount
            } else {
                out[Self.useColumn[measure]] += amount
                if measure == Measure.emergencyAdmissions.index, m >= month - 3 { out[12] += amount }
            }
        }
        out[Self.useColumn[Measure.cost.index]] = Float(log1p(Double(cost)))
    }
}
