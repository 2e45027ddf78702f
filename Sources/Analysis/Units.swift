import PHMCore

/// A level of the organisational hierarchy: the golden thread from the whole system to a practice.
public enum Level: String, Sendable, Codable, CaseIterable {
    case organisation, locality, pcn, practice
}

/// One unit at one level, with the registered people in it.
public struct PlanningUnit: Sendable {
    public var level: Level
    public var code: String
    public var name: String
    /// Indices into the population.
    public var people: [Int]
}

extension Population {
    /// Every unit at every level, each with its registered people at as-of, organisation first.
    ///
    /// - Parameter include: which registered people count (for example, excluding opt-outs).
    public func units(including include: (Int) -> Bool = { _ in true }) -> [PlanningUnit] {
        let people = registered.filter(include)
        let h = hierarchy
        func group(_ level: Level, _ units: [Hierarchy.Unit], _ of: (Int) -> Int) -> [PlanningUnit] {
            var members = [[Int]](repeating: [], count: units.count)
            for p in people { members[of(Int(practice[p]))].append(p) }
            return units.indices.map {
                PlanningUnit(level: level, code: units[$0].code, name: units[$0].name, people: members[$0])
            }
        }
        return group(.organisation, h.organisations) { Int(h.practiceOrganisation[$0]) }
            + group(.locality, h.localities) { Int(h.practiceLocality[$0]) }
            + group(.pcn, h.pcns) { Int(h.practicePCN[$0]) }
            + group(.practice, h.practices) { $0 }
    }
}
