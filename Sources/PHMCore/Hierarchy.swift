/// A level of the organisational hierarchy: the golden thread from the whole system to a practice.
public enum Level: String, Sendable, Codable, CaseIterable {
    case organisation, locality, pcn, practice
}

/// The organisational hierarchy of primary care: organisation > locality > PCN > practice.
///
/// Each level is a list of units; a practice points to its PCN, locality and organisation by
/// index, so grouping a population by any level is integer work.
public struct Hierarchy: Sendable, Codable {
    /// One unit of one level: its code (ODS or local) and name.
    public struct Unit: Sendable, Codable, Hashable {
        public var code: String
        public var name: String
        public init(code: String, name: String) {
            self.code = code
            self.name = name
        }
    }

    public var practices: [Unit] = []
    public var pcns: [Unit] = []
    public var localities: [Unit] = []
    public var organisations: [Unit] = []
    /// For each practice, the index of its PCN, locality and organisation.
    public var practicePCN: [Int32] = []
    public var practiceLocality: [Int32] = []
    public var practiceOrganisation: [Int32] = []

    public init() {}

    /// The units of one level.
    public func units(_ level: Level) -> [Unit] {
        switch level {
        case .practice: practices
        case .pcn: pcns
        case .locality: localities
        case .organisation: organisations
        }
    }

    /// Whether every practice has a PCN, locality and organisation within the lists: what a file
    /// read from disk must be before code indexes the lists by practice.
    public var isConsistent: Bool {
        let n = practices.count
        return practicePCN.count == n && practiceLocality.count == n && practiceOrganisation.count == n
            && practicePCN.allSatisfy { $0 >= 0 && Int($0) < pcns.count }
            && practiceLocality.allSatisfy { $0 >= 0 && Int($0) < localities.count }
            && practiceOrganisation.allSatisfy { $0 >= 0 && Int($0) < organisations.count }
    }

    /// Adds a practice, creating its parents on first sight, and returns its index.
    @discardableResult
    public mutating func addPractice(
        _ practice: Unit, pcn: Unit, locality: Unit, organisation: Unit
    ) -> Int32 {
        func index(of unit: Unit, in units: inout [Unit]) -> Int32 {
            if let i = units.firstIndex(where: { $0.code == unit.code }) { return Int32(i) }
            units.append(unit)
            return Int32(units.count - 1)
        }
        practices.append(practice)
        practicePCN.append(index(of: pcn, in: &pcns))
        practiceLocality.append(index(of: locality, in: &localities))
        practiceOrganisation.append(index(of: organisation, in: &organisations))
        return Int32(practices.count - 1)
    }
}

/// Small areas (LSOAs) with their deprivation and any further area indicators.
public struct Areas: Sendable, Codable {
    public var codes: [String] = []
    /// Index of Multiple Deprivation decile, 1 = most deprived 10% nationally.
    public var imdDecile: [UInt8] = []
    /// IMD score, NaN where not given.
    public var imdScore: [Float] = []
    /// Names of further numeric indicators, and their values per area (NaN where missing).
    public var indicatorNames: [String] = []
    public var indicators: [[Float]] = []

    public init() {}

    public var count: Int { codes.count }

    /// The most area indicators a run keeps: each adds a breakdown to every inequality table.
    public static let maximumIndicators = 12

    /// Whether a name can be an area indicator's: lower-case letters, digits and underscores,
    /// starting with a letter, at most 40 characters (it becomes part of output and query names).
    public static func isUsableIndicatorName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), bytes.count <= 40 else {
            return false
        }
        return bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }
}
