/// Sex as recorded in NHS data sets (`M`, `F`, `I` indeterminate, `U` unknown).
public enum Sex: UInt8, Sendable, Codable, CaseIterable {
    case male, female, indeterminate, unknown

    public init?(code: UInt8) {
        switch code {
        case UInt8(ascii: "M"): self = .male
        case UInt8(ascii: "F"): self = .female
        case UInt8(ascii: "I"): self = .indeterminate
        case UInt8(ascii: "U"): self = .unknown
        default: return nil
        }
    }

    public var code: String {
        switch self {
        case .male: "M"
        case .female: "F"
        case .indeterminate: "I"
        case .unknown: "U"
        }
    }
}

/// NHS Data Dictionary ethnic category (`A`..`S`), grouped for analysis into the five
/// high-level groups of the 2011 census plus "not stated" and "unknown".
public enum EthnicCategory {
    /// The valid single-letter codes: the letters A-S without I, O and Q, and Z for not stated.
    public static let codes: Set<UInt8> = Set("ABCDEFGHJKLMNPRSZ".utf8)

    /// The analysis group of a code, or `.unknown` for a missing one.
    public static func group(code: UInt8?) -> EthnicGroup {
        guard let code else { return .unknown }
        switch code {
        case UInt8(ascii: "A"), UInt8(ascii: "B"), UInt8(ascii: "C"): return .white
        case UInt8(ascii: "D"), UInt8(ascii: "E"), UInt8(ascii: "F"), UInt8(ascii: "G"): return .mixed
        case UInt8(ascii: "H"), UInt8(ascii: "J"), UInt8(ascii: "K"), UInt8(ascii: "L"): return .asian
        case UInt8(ascii: "M"), UInt8(ascii: "N"), UInt8(ascii: "P"): return .black
        case UInt8(ascii: "R"), UInt8(ascii: "S"): return .other
        case UInt8(ascii: "Z"): return .notStated
        default: return .unknown
        }
    }
}

/// High-level ethnic group used in outputs.
public enum EthnicGroup: UInt8, Sendable, Codable, CaseIterable {
    case white, mixed, asian, black, other, notStated, unknown

    public var label: String {
        switch self {
        case .white: "White"
        case .mixed: "Mixed"
        case .asian: "Asian"
        case .black: "Black"
        case .other: "Other"
        case .notStated: "Not stated"
        case .unknown: "Unknown"
        }
    }
}

/// The age bands of the seed segmentation: A 0-17, B 18-44, C 45-64, D 65-79, E 80+.
public enum AgeBand: UInt8, Sendable, Codable, CaseIterable {
    case a, b, c, d, e

    public init(age: Int) {
        switch age {
        case ..<18: self = .a
        case 18..<45: self = .b
        case 45..<65: self = .c
        case 65..<80: self = .d
        default: self = .e
        }
    }

    public var letter: String { ["A", "B", "C", "D", "E"][Int(rawValue)] }
    public var label: String { ["0-17", "18-44", "45-64", "65-79", "80+"][Int(rawValue)] }
    /// The ages in the band; the last runs to 200.
    public var ages: ClosedRange<Int> { [0...17, 18...44, 45...64, 65...79, 80...200][Int(rawValue)] }
}

/// The long-term condition count bands of the seed segmentation: 0, 1, 2-4, 5-7, 8+.
public enum LTCBand: UInt8, Sendable, Codable, CaseIterable {
    case none, one, twoToFour, fiveToSeven, eightOrMore

    /// The band's first count, which names it in segment ids (`5D`: 5-7 conditions, 65-79).
    public var id: String { ["0", "1", "2", "5", "8"][Int(rawValue)] }
    public var label: String { ["0", "1", "2-4", "5-7", "8+"][Int(rawValue)] }
    /// The counts in the band; the last runs to 255, the most a person can have.
    public var counts: ClosedRange<Int> { [0...0, 1...1, 2...4, 5...7, 8...255][Int(rawValue)] }
}
