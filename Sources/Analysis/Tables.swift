import Conditions
import PHMCore

/// The seed multimorbidity table for one unit: per LTC count 0-7 and 8+, and a total row.
///
/// Layout of the seed (Leicestershire CCGs): patients, share of patients, and per patient per
/// year A&E attendances, outpatient attendances, elective and emergency admissions, admitted
/// patient care cost, emergency admission cost and unique prescription types; then the mean
/// predicted risks of persistent high cost and of emergency admission in the next 12 months.
public struct MultimorbidityTable: Sendable {
    public struct Row: Sendable {
        public var band: String
        public var patients: Int
        public var share: Double
        public var ae: Double, outpatient: Double, elective: Double, emergency: Double
        public var apcCost: Double, emergencyCost: Double, prescriptionTypes: Double
        public var riskPersistentHighCost: Double?
        public var riskEmergencyAdmission: Double?
    }

    public var rows: [Row]

    public static let bands = ["0", "1", "2", "3", "4", "5", "6", "7", "8+"]

    /// - Parameter risk: each person's predicted risks, by population row; the risk columns are
    ///   the mean over the row's people who have a risk.
    public init(
        people: [Int], ltc: [UInt8], use: Utilisation,
        risk: (persistentHighCost: [Float]?, emergencyAdmission: [Float]?) = (nil, nil)
    ) {
        var n = [Int](repeating: 0, count: 10)
        var sums = [[Double]](repeating: [Double](repeating: 0, count: 7), count: 10)
        var riskSums = [[Double]](repeating: [0, 0], count: 10)
        var riskCounts = [[Int]](repeating: [0, 0], count: 10)
        for p in people {
            let b = min(8, Int(ltc[p]))
            let values = [
                Double(use.aeAttendances[p]), Double(use.outpatientAttendances[p]), Double(use.electiveAdmissions[p]),
                Double(use.emergencyAdmissions[p]), use.apcCost[p], use.emergencyCost[p], Double(use.prescriptionTypes[p]),
            ]
            let risks = [risk.persistentHighCost?[p], risk.emergencyAdmission?[p]]
            for row in [b, 9] {
                n[row] += 1
                for i in 0..<7 { sums[row][i] += values[i] }
                for (k, r) in risks.enumerated() {
                    if let r, !r.isNaN {
                        riskSums[row][k] += Double(r)
                        riskCounts[row][k] += 1
                    }
                }
            }
        }
        func meanRisk(_ row: Int, _ k: Int) -> Double? {
            let present = k == 0 ? risk.persistentHighCost != nil : risk.emergencyAdmission != nil
            guard present, riskCounts[row][k] > 0 else { return nil }
            return riskSums[row][k] / Double(riskCounts[row][k])
        }
        let total = max(1, n[9])
        rows = (0..<10).map { r in
            let m = sums[r].map { n[r] == 0 ? 0 : $0 / Double(n[r]) }
            return Row(
                band: r == 9 ? "total" : MultimorbidityTable.bands[r], patients: n[r], share: Double(n[r]) / Double(total),
                ae: m[0],
                outpatient: m[1], elective: m[2], emergency: m[3], apcCost: m[4], emergencyCost: m[5], prescriptionTypes: m[6],
                riskPersistentHighCost: meanRisk(r, 0), riskEmergencyAdmission: meanRisk(r, 1))
        }
    }
}

/// How concentrated cost is: shares held by the costliest people, people with none, Gini and the
/// Lorenz curve.
public struct CostConcentration: Sendable {
    public var people: Int
    public var total: Double
    /// Share of all cost held by the top 0.5%, 1%, 5%, 10% and 20% of people.
    public var topShares: [Double]
    public var zeroShare: Double
    public var gini: Double
    /// Cumulative share of cost held by the least costly 10%, 20%, ..., 90% of people.
    public var lorenz: [Double]

    public static let topFractions = [0.005, 0.01, 0.05, 0.10, 0.20]

    public init(costs unsorted: [Double]) {
        let costs = unsorted.sorted()
        let n = costs.count
        people = n
        total = costs.reduce(0, +)
        let total = total
        func top(_ f: Double) -> Double {
            guard total > 0 else { return 0 }
            let k = Int((Double(n) * f).rounded())
            return costs.suffix(k).reduce(0, +) / total
        }
        topShares = CostConcentration.topFractions.map(top)
        zeroShare = n == 0 ? 0 : Double(costs.filter { $0 == 0 }.count) / Double(n)
        // Gini from the sorted values: G = 2 sum(i x_i) / (n sum x) - (n + 1) / n, i from 1.
        var weighted = 0.0
        for (i, x) in costs.enumerated() { weighted += Double(i + 1) * x }
        gini = total > 0 && n > 0 ? 2 * weighted / (Double(n) * total) - Double(n + 1) / Double(n) : 0
        var cumulative = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { cumulative[i + 1] = cumulative[i] + costs[i] }
        lorenz = (1...9).map { d in total > 0 ? cumulative[n * d / 10] / total : 0 }
    }
}

/// The seed segmentation: LTC band (0, 1, 2-4, 5-7, 8+) by age band (A 0-17 ... E 80+).
public struct SegmentTable: Sendable {
    public struct Cell: Sendable {
        public var segment: String
        public var people: Int
        public var share: Double
        public var emergencyAdmissionsPer1000: Double
        public var meanEmergencyCost: Double
        public var meanTotalCost: Double
    }

    public var cells: [Cell]

    public static let ltcBands = ["0", "1", "2", "5", "8"]

    public static func ltcBand(_ ltc: Int) -> Int {
        switch ltc {
        case 0: 0
        case 1: 1
        case 2...4: 2
        case 5...7: 3
        default: 4
        }
    }

    public init(people: [Int], population: Population, ltc: [UInt8], use: Utilisation) {
        var n = [Int](repeating: 0, count: 25)
        var emergency = [Double](repeating: 0, count: 25), emergencyCost = emergency, totalCost = emergency
        for p in people {
            let cell = SegmentTable.ltcBand(Int(ltc[p])) * 5 + Int(AgeBand(age: Int(population.age[p])).rawValue)
            n[cell] += 1
            emergency[cell] += Double(use.emergencyAdmissions[p])
            emergencyCost[cell] += use.emergencyCost[p]
            totalCost[cell] += use.totalCost(p)
        }
        let total = max(1, people.count)
        cells = (0..<25).map { c in
            let count = Double(max(1, n[c]))
            return Cell(
                segment: SegmentTable.ltcBands[c / 5] + AgeBand(rawValue: UInt8(c % 5))!.letter, people: n[c],
                share: Double(n[c]) / Double(total), emergencyAdmissionsPer1000: n[c] == 0 ? 0 : 1_000 * emergency[c] / count,
                meanEmergencyCost: n[c] == 0 ? 0 : emergencyCost[c] / count, meanTotalCost: n[c] == 0 ? 0 : totalCost[c] / count)
        }
    }
}

/// Each condition's count and crude prevalence, overall and by sex, age band and deprivation quintile.
public struct PrevalenceTable: Sendable {
    public struct Row: Sendable {
        public var condition: String
        public var breakdown: String
        public var group: String
        public var people: Int
        public var count: Int
        public var prevalence: Double
    }

    public var rows: [Row]

    /// Deprivation quintile from the IMD decile: 1 = most deprived fifth.
    public static func quintile(decile: UInt8) -> Int { (Int(decile) + 1) / 2 }

    public init(people: [Int], population: Population, conditions: ConditionResults, library: ConditionLibrary) {
        // Groups: all; sex M, F; age bands A-E; IMD quintiles 1-5 and unknown.
        let groups: [(breakdown: String, group: String)] =
            [("all", "all"), ("sex", "M"), ("sex", "F")] + AgeBand.allCases.map { ("age_band", $0.label) }
            + (1...5).map { ("imd_quintile", String($0)) } + [("imd_quintile", "unknown")]
        func memberships(_ p: Int) -> [Int] {
            var g = [0]
            if population.sex[p] == .male { g.append(1) } else if population.sex[p] == .female { g.append(2) }
            g.append(3 + Int(AgeBand(age: Int(population.age[p])).rawValue))
            let area = Int(population.area[p])
            g.append(area >= 0 ? 7 + PrevalenceTable.quintile(decile: population.areas.imdDecile[area]) : 13)
            return g
        }
        let c = library.conditions.count
        var denominators = [Int](repeating: 0, count: groups.count)
        var counts = [Int](repeating: 0, count: groups.count * c)
        for p in people {
            let g = memberships(p)
            for k in g { denominators[k] += 1 }
            for row in conditions.flaggedRows(of: p) {
                let condition = Int(conditions.firstCondition[row])
                for k in g { counts[k * c + condition] += 1 }
            }
        }
        var rows: [Row] = []
        for condition in 0..<c {
            for (k, group) in groups.enumerated() where denominators[k] > 0 || group.breakdown == "all" {
                let count = counts[k * c + condition]
                rows.append(
                    Row(
                        condition: library.conditions[condition].id, breakdown: group.breakdown, group: group.group,
                        people: denominators[k],
                        count: count, prevalence: denominators[k] == 0 ? 0 : Double(count) / Double(denominators[k])))
            }
        }
        self.rows = rows
    }
}
