/// The kind of a secondary, community or social care record in the population.
///
/// Admitted care is split by admission method (NHS Data Dictionary): `11`-`13` elective,
/// `21`-`28` and `2A`-`2D` emergency, `31`-`32` maternity, `81`-`83` other.
public enum ActivityKind: UInt8, Sendable, Codable, CaseIterable {
    case aeAttendance
    case outpatientAttended
    case outpatientDidNotAttend
    case electiveAdmission
    case emergencyAdmission
    case maternityAdmission
    case otherAdmission
    case community
    case mentalHealth
    case socialCare
    case ambulance
    case otherCare

    public var isAdmission: Bool {
        switch self {
        case .electiveAdmission, .emergencyAdmission, .maternityAdmission, .otherAdmission: true
        default: false
        }
    }

    /// The setting whose cost this record counts towards.
    public var setting: CareSetting {
        switch self {
        case .aeAttendance: .ae
        case .outpatientAttended, .outpatientDidNotAttend: .outpatient
        case .electiveAdmission, .emergencyAdmission, .maternityAdmission, .otherAdmission: .admitted
        case .community: .community
        case .mentalHealth: .mentalHealth
        case .socialCare: .socialCare
        case .ambulance: .ambulance
        case .otherCare: .other
        }
    }

    /// The class of an admission method code, or nil for a code not in the NHS list.
    public static func admission(method bytes: UnsafeRawBufferPointer) -> ActivityKind? {
        guard bytes.count == 2 else { return nil }
        let first = bytes[0], second = bytes[1]
        let digit = second >= 0x30 && second <= 0x39 ? Int(second - 0x30) : -1
        switch first {
        case UInt8(ascii: "1"): return (1...3).contains(digit) ? .electiveAdmission : nil
        case UInt8(ascii: "2"):
            if (1...8).contains(digit) { return .emergencyAdmission }
            return (UInt8(ascii: "A")...UInt8(ascii: "D")).contains(second) ? .emergencyAdmission : nil
        case UInt8(ascii: "3"): return (1...2).contains(digit) ? .maternityAdmission : nil
        case UInt8(ascii: "8"): return (1...3).contains(digit) ? .otherAdmission : nil
        default: return nil
        }
    }
}

/// Where care was given, for cost by setting. Secondary care is A&E, outpatients and admitted care.
public enum CareSetting: UInt8, Sendable, Codable, CaseIterable {
    case primaryCarePrescribing, ae, outpatient, admitted, community, mentalHealth, socialCare, ambulance, other

    public var name: String {
        switch self {
        case .primaryCarePrescribing: "prescribing"
        case .ae: "ae"
        case .outpatient: "outpatient"
        case .admitted: "apc"
        case .community: "community"
        case .mentalHealth: "mental_health"
        case .socialCare: "social_care"
        case .ambulance: "ambulance"
        case .other: "other"
        }
    }

    public var isSecondaryCare: Bool { self == .ae || self == .outpatient || self == .admitted }

    /// The settings of `care_contacts.csv`, in the order their contacts are counted.
    public static let careContactSettings: [CareSetting] = [.community, .mentalHealth, .socialCare, .ambulance, .other]

    /// How a setting's contacts and cost are named in outputs: `social_care`, `other_care`.
    public var contactName: String { self == .other ? "other_care" : name }

    /// A person-readable name: "social care".
    public var label: String {
        switch self {
        case .primaryCarePrescribing: "primary care prescribing"
        case .ae: "A&E"
        case .outpatient: "outpatient"
        case .admitted: "admitted patient care"
        case .community: "community health"
        case .mentalHealth: "mental health"
        case .socialCare: "social care"
        case .ambulance: "ambulance"
        case .other: "other care"
        }
    }

    /// The `setting` values of `care_contacts.csv`.
    public static func careContact(_ text: String) -> ActivityKind? {
        switch text {
        case "community": .community
        case "mental_health": .mentalHealth
        case "social_care": .socialCare
        case "ambulance": .ambulance
        case "other": .otherCare
        default: nil
        }
    }
}

/// The source a record came from, for data sharing rules and "sources present".
public enum DataSource: String, Sendable, Codable, CaseIterable {
    case gp, acute, community, mentalHealth = "mental_health", socialCare = "social_care", ambulance, other
}

extension ActivityKind {
    /// The source a record of this kind comes from: admitted care, A&E and outpatients are acute.
    public var source: DataSource {
        switch self {
        case .community: .community
        case .mentalHealth: .mentalHealth
        case .socialCare: .socialCare
        case .ambulance: .ambulance
        case .otherCare: .other
        default: .acute
        }
    }
}
