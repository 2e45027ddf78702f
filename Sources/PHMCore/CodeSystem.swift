/// The clinical code systems the platform reads.
public enum CodeSystem: UInt8, Sendable, Codable, CaseIterable {
    case snomed, read2, ctv3, icd10, opcs4, dmd, bnf

    /// The name used in extracts and code list files.
    public var name: String {
        switch self {
        case .snomed: "SNOMED"
        case .read2: "READ2"
        case .ctv3: "CTV3"
        case .icd10: "ICD10"
        case .opcs4: "OPCS4"
        case .dmd: "DMD"
        case .bnf: "BNF"
        }
    }

    public init?(name: String) {
        guard let system = CodeSystem.allCases.first(where: { $0.name == name }) else { return nil }
        self = system
    }
}

/// Interns clinical codes as dense integers so later stages compare integers, never strings.
///
/// ICD-10 and OPCS-4 codes are stored without their dot (`E11.9` and `E119` are one code).
public struct CodeTable: Sendable {
    public private(set) var codes: [String] = []
    public private(set) var systems: [CodeSystem] = []
    private var index: [Key: Int32] = [:]

    private struct Key: Hashable {
        var system: CodeSystem
        var code: String
    }

    public init() {}

    public var count: Int { codes.count }

    /// The id of a code, adding it on first sight.
    public mutating func intern(_ code: String, system: CodeSystem) -> Int32 {
        let key = Key(system: system, code: code)
        if let id = index[key] { return id }
        let id = Int32(codes.count)
        codes.append(code)
        systems.append(system)
        index[key] = id
        return id
    }
}
