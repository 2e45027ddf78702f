import PHMCore

/// Who is in each segment and what their care costs: people, age and sex, deprivation, use of
/// care and cost in the 12 months before as-of, and emergency admission risk.
public struct SegmentProfile: Sendable {
    public var people = 0.0
    public var female = 0.0
    public var ageSum = 0.0
    public var aged65Plus = 0.0
    public var core20 = 0.0
    public var aeAttendances = 0.0
    public var emergencyAdmissions = 0.0
    public var electiveAdmissions = 0.0
    public var outpatientAttendances = 0.0
    public var totalCost = 0.0
    public var emergencyCost = 0.0
    /// People with a risk score, the sum of their risks, and how many are at high or very high risk.
    public var scored = 0.0, riskSum = 0.0, highRisk = 0.0

    /// For planning, the ranges each person's age, cost and emergency cost are held within
    /// before averaging (`Spread`).
    public struct Caps: Sendable {
        public var age: ClosedRange<Double>, cost: ClosedRange<Double>, emergencyCost: ClosedRange<Double>
        public init(age: ClosedRange<Double>, cost: ClosedRange<Double>, emergencyCost: ClosedRange<Double>) {
            (self.age, self.cost, self.emergencyCost) = (age, cost, emergencyCost)
        }
    }

    mutating func add(_ p: Int, _ facts: PersonFacts, risk: [Float]?, caps: Caps?) {
        let population = facts.population, use = facts.use
        people += 1
        if population.sex[p] == .female { female += 1 }
        let age = Double(population.age[p])
        ageSum += caps?.age.clamp(age) ?? age
        if age >= 65 { aged65Plus += 1 }
        let area = Int(population.area[p])
        if area >= 0, population.areas.imdDecile[area] <= 2, population.areas.imdDecile[area] >= 1 { core20 += 1 }
        aeAttendances += Double(use.aeAttendances[p])
        emergencyAdmissions += Double(use.emergencyAdmissions[p])
        electiveAdmissions += Double(use.electiveAdmissions[p])
        outpatientAttendances += Double(use.outpatientAttendances[p])
        totalCost += caps?.cost.clamp(use.totalCost(p)) ?? use.totalCost(p)
        emergencyCost += caps?.emergencyCost.clamp(use.emergencyCost[p]) ?? use.emergencyCost[p]
        if let r = risk?[p], !r.isNaN {
            scored += 1
            riskSum += Double(r)
            if facts.highRisk?[p] == true { highRisk += 1 }
        }
    }

    mutating func add(_ other: SegmentProfile) {
        people += other.people
        female += other.female
        ageSum += other.ageSum
        aged65Plus += other.aged65Plus
        core20 += other.core20
        aeAttendances += other.aeAttendances
        emergencyAdmissions += other.emergencyAdmissions
        electiveAdmissions += other.electiveAdmissions
        outpatientAttendances += other.outpatientAttendances
        totalCost += other.totalCost
        emergencyCost += other.emergencyCost
        scored += other.scored
        riskSum += other.riskSum
        highRisk += other.highRisk
    }

    /// Profiles by unit, then segmentation, then segment, from per-practice sums.
    ///
    /// - Parameter risk: each person's emergency admission risk at as-of, when scored.
    public static func forUnits(
        _ units: [PlanningUnit], assignments: SegmentAssignments, facts: PersonFacts, risk: [Float]?, caps: Caps? = nil
    ) -> [[[SegmentProfile]]] {
        let practiceCount = facts.population.hierarchy.practices.count
        let byPractice = PlanningUnit.peopleByPractice(units, population: facts.population)
        let empty = assignments.segmentations.map { [SegmentProfile](repeating: .init(), count: $0.segments.count) }
        let practices = Parallel.map(practiceCount) { q in
            var profiles = empty
            for p in byPractice[q] {
                for s in profiles.indices {
                    let segment = assignments.segment[s][p]
                    guard segment != SegmentAssignments.unassigned else { continue }
                    profiles[s][Int(segment)].add(p, facts, risk: risk, caps: caps)
                }
            }
            return profiles
        }
        return units.map { unit in
            var profiles = empty
            for q in unit.practices {
                for s in profiles.indices {
                    for k in profiles[s].indices { profiles[s][k].add(practices[q][s][k]) }
                }
            }
            return profiles
        }
    }
}
