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
        /// The people the risk means are over: those with a risk.
        public var scored: (persistentHighCost: Int, emergencyAdmission: Int)
    }

    public var rows: [Row]

    public static let bands = ["0", "1", "2", "3", "4", "5", "6", "7", "8+"]

    /// - Parameters:
    ///   - risk: each person's predicted risks, by population row; the risk columns are the mean
    ///     over the row's people who have a risk.
    ///   - costCaps: for planning, the ranges each person's admitted patient care and emergency
    ///     admission costs are held within before averaging (`Spread`).
    public init(
        people: [Int], ltc: [UInt8], use: Utilisation,
        risk: (persistentHighCost: [Float]?, emergencyAdmission: [Float]?) = (nil, nil),
        costCaps: (apc: ClosedRange<Double>, emergency: ClosedRange<Double>)? = nil
    ) {
        var n = [Int](repeating: 0, count: 10)
        var sums = [[Double]](repeating: [Double](repeating: 0, count: 7), count: 10)
        var riskSums = [[Double]](repeating: [0, 0], count: 10)
        var riskCounts = [[Int]](repeating: [0, 0], count: 10)
        for p in people {
            let b = min(8, Int(ltc[p]))
            let values = [
                Double(use.aeAttendances[p]), Double(use.outpatientAttendances[p]), Double(use.electiveAdmissions[p]),
                Double(use.emergencyAdmissions[p]), costCaps?.apc.clamp(use.apcCost[p]) ?? use.apcCost[p],
                costCaps?.emergency.clamp(use.emergencyCost[p]) ?? use.emergencyCost[p], Double(use.prescriptionTypes[p]),
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
                riskPersistentHighCost: meanRisk(r, 0), riskEmergencyAdmission: meanRisk(r, 1),
                scored: (riskCounts[r][0], riskCounts[r][1]))
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
    public var zeroPeople: Int
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
        zeroPeople = costs.filter { $0 == 0 }.count
        zeroShare = n == 0 ? 0 : Double(zeroPeople) / Double(n)
        // Gini from the sorted values: G = 2 sum(i x_i) / (n sum x) - (n + 1) / n, i from 1.
        var weighted = 0.0
        for (i, x) in costs.enumerated() { weighted += Double(i + 1) * x }
        gini = total > 0 && n > 0 ? 2 * weighted / (Double(n) * total) - Double(n + 1) / Double(n) : 0
        var cumulative = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { cumulative[i + 1] = cumulative[i] + costs[i] }
        lorenz = (1...9).map { d in total > 0 ? cumulative[n * d / 10] / total : 0 }
    }
}
