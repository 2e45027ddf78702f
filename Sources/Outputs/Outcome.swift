/// What a model predicts, over the 12 months from an index date.
public enum Outcome: String, Sendable, Codable, CaseIterable {
    /// At least one emergency admission (admission method 21-28, 2A-2D) starting in the 12 months
    /// from the index date.
    case emergencyAdmission = "emergency_admission_12m"
    /// In the top 5% of total health and care cost both in the 12 months before the index date
    /// and in the 12 months from it.
    case persistentHighCost = "persistent_high_cost"

    public var name: String {
        switch self {
        case .emergencyAdmission: "emergency admission in the next 12 months"
        case .persistentHighCost: "persistent high cost (top 5% of cost this year and next)"
        }
    }

    /// The column of the seed multimorbidity table this outcome's mean risk fills.
    public var seedColumn: String {
        switch self {
        case .emergencyAdmission: "risk_emergency_admission_12m"
        case .persistentHighCost: "risk_persistent_high_cost"
        }
    }
}
