import PHMCore

/// One unit at one level, with the registered people in it.
public struct PlanningUnit: Sendable {
    public var level: Level
    public var code: String
    public var name: String
    /// Indices into the population.
    public var people: [Int]
    /// The practices in the unit, by index into the hierarchy's practices.
    public var practices: [Int]
    /// The unit one level up (index into the same list of units); nil for an organisation.
    public var parent: Int?

    public init(level: Level, code: String, name: String, people: [Int], practices: [Int], parent: Int?) {
        self.level = level
        self.code = code
        self.name = name
        self.people = people
        self.practices = practices
        self.parent = parent
    }

    /// The people of the organisations (every counted person once), grouped by practice.
    public static func peopleByPractice(_ units: [PlanningUnit], population: Population) -> [[Int]] {
        var byPractice = [[Int]](repeating: [], count: population.hierarchy.practices.count)
        for unit in units where unit.level == .organisation {
            for p in unit.people { byPractice[Int(population.practice[p])].append(p) }
        }
        return byPractice
    }
}

extension Population {
    /// Every unit at every level, each with its registered people at as-of, organisation first,
    /// then localities, PCNs and practices. A PCN's parent is the locality of its first practice.
    ///
    /// - Parameter include: which registered people count (for example, excluding opt-outs).
    public func units(including include: (Int) -> Bool = { _ in true }) -> [PlanningUnit] {
        let people = registered.filter(include)
        let h = hierarchy
        var units: [PlanningUnit] = []
        func group(_ level: Level, _ list: [Hierarchy.Unit], _ of: (Int) -> Int, parent: (Int) -> Int?) {
            var members = [[Int]](repeating: [], count: list.count)
            for p in people { members[of(Int(practice[p]))].append(p) }
            var practices = [[Int]](repeating: [], count: list.count)
            for q in h.practices.indices { practices[of(q)].append(q) }
            units += list.indices.map {
                PlanningUnit(
                    level: level, code: list[$0].code, name: list[$0].name, people: members[$0], practices: practices[$0],
                    parent: practices[$0].first.flatMap(parent))
            }
        }
        let localityBase = h.organisations.count, pcnBase = localityBase + h.localities.count
        group(.organisation, h.organisations, { Int(h.practiceOrganisation[$0]) }, parent: { _ in nil })
        group(.locality, h.localities, { Int(h.practiceLocality[$0]) }, parent: { Int(h.practiceOrganisation[$0]) })
        group(.pcn, h.pcns, { Int(h.practicePCN[$0]) }, parent: { localityBase + Int(h.practiceLocality[$0]) })
        group(.practice, h.practices, { $0 }, parent: { pcnBase + Int(h.practicePCN[$0]) })
        return units
    }
}
