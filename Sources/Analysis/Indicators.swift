import Conditions
import PHMCore

/// A measure of a population compared across groups and units: a condition's prevalence,
/// multimorbidity, use of care, cost per head or the share at high risk.
public struct Indicator: Sendable {
    public enum Kind: String, Sendable {
        /// People with something, as a percentage.
        case proportion
        /// Events per 1,000 people.
        case rate
        /// A mean per person (cost per head, GBP).
        case mean

        public var multiplier: Double {
            switch self {
            case .proportion: 100
            case .rate: 1_000
            case .mean: 1
            }
        }

        public var unit: String {
            switch self {
            case .proportion: "percent"
            case .rate: "per 1,000 people"
            case .mean: "GBP per person"
            }
        }
    }

    public enum Source: Sendable {
        case condition(Int)
        case ltcAtLeast(Int)
        case emergencyAdmissions
        case anyEmergencyAdmission
        case aeAttendances
        case totalCost
        /// In the high or very high tier of emergency admission risk.
        case highRisk
        /// Contacts in a setting of `care_contacts.csv` (index into `CareSetting.careContactSettings`).
        case careContacts(Int)
    }

    public var id: String
    public var name: String
    public var kind: Kind
    public var source: Source

    /// The indicators of the inequality and variation analyses: each clinical condition's
    /// prevalence (the long-term conditions and the conditions outside any score's groups, such
    /// as obesity) and each social factor's recorded prevalence, multimorbidity (2+ and 4+
    /// LTCs), emergency admissions (people admitted and admissions per 1,000), A&E attendances
    /// per 1,000, cost per head, and the high-risk share when risk scores are present; then, for each setting of `care_contacts.csv` with any
    /// contact (community, mental health, social care, ambulance, other), its contacts per 1,000.
    /// Use and cost are over the 12 months before as-of. A setting's cost per head is not among
    /// them: few people have cost in a setting, and a mean's interval gives back how many did.
    public static func standard(library: ConditionLibrary, hasRisk: Bool, careSettings: [Int] = []) -> [Indicator] {
        let conditions = library.conditions.enumerated().filter {
            $0.element.isLTC || $0.element.group == nil || $0.element.group == Inequalities.socialGroup
        }.map {
            Indicator(id: $0.element.id, name: $0.element.name, kind: .proportion, source: .condition($0.offset))
        }
        var all =
            conditions + [
                Indicator(
                    id: "multimorbidity_2plus", name: "Two or more long-term conditions", kind: .proportion,
                    source: .ltcAtLeast(2)),
                Indicator(
                    id: "multimorbidity_4plus", name: "Four or more long-term conditions", kind: .proportion,
                    source: .ltcAtLeast(4)),
                Indicator(
                    id: "emergency_admission_people", name: "People with an emergency admission", kind: .proportion,
                    source: .anyEmergencyAdmission),
                Indicator(id: "emergency_admissions", name: "Emergency admissions", kind: .rate, source: .emergencyAdmissions),
                Indicator(id: "ae_attendances", name: "A&E attendances", kind: .rate, source: .aeAttendances),
                Indicator(id: "cost_per_head", name: "Health and care cost per person", kind: .mean, source: .totalCost),
            ]
        if hasRisk {
            all.append(
                Indicator(
                    id: "high_risk", name: "High or very high risk of emergency admission", kind: .proportion, source: .highRisk))
        }
        for k in careSettings {
            let setting = CareSetting.careContactSettings[k]
            let label = setting.label.prefix(1).uppercased() + setting.label.dropFirst()
            all.append(
                Indicator(id: setting.contactName + "_contacts", name: label + " contacts", kind: .rate, source: .careContacts(k))
            )
        }
        return all
    }

    /// The person's value: 0 or 1 for proportions, a count for rates, an amount for means.
    @inline(__always)
    public func value(_ p: Int, _ facts: PersonFacts) -> Double {
        switch source {
        case .condition(let c): facts.conditions.has(p, c) ? 1 : 0
        case .ltcAtLeast(let n): Int(facts.conditions.ltcCount[p]) >= n ? 1 : 0
        case .emergencyAdmissions: Double(facts.use.emergencyAdmissions[p])
        case .anyEmergencyAdmission: facts.use.emergencyAdmissions[p] > 0 ? 1 : 0
        case .aeAttendances: Double(facts.use.aeAttendances[p])
        case .totalCost: facts.use.totalCost(p)
        case .highRisk: facts.highRisk?[p] == true ? 1 : 0
        case .careContacts(let k): Double(facts.use.careContacts[k][p])
        }
    }
}

/// Age cells fine enough to give both the 19 bands of the 2013 European Standard Population and
/// the seed's age bands (which split at 18): the ESP bands with 15-19 split into 15-17 and 18-19.
public enum AgeCell {
    public static let count = 20

    @inline(__always)
    public static func of(age: Int) -> Int {
        let a = max(0, age)
        if a < 15 { return a / 5 }
        if a < 18 { return 3 }
        if a < 20 { return 4 }
        return min(19, a / 5 + 1)
    }

    public static func espBand(_ cell: Int) -> Int { cell <= 3 ? cell : cell - 1 }

    public static func ageBand(_ cell: Int) -> AgeBand {
        switch cell {
        case ...3: .a
        case 4...9: .b  // 18-44
        case 10...13: .c  // 45-64
        case 14...16: .d  // 65-79
        default: .e
        }
    }
}
