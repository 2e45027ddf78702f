import Evaluation
import Foundation
import PHMCore

/// A population built month by month with known rates, where people are chosen for a programme
/// by their recent emergency admissions (as a real programme chooses by risk) and the programme
/// cuts later admissions by a known share.
public struct KnownEffectPopulation {
    public var base: EvaluationBase
    public var exposures: [MatchedComparison.Exposure]

    /// - Parameters:
    ///   - effect: the relative change in the exposed people's emergency admissions after their
    ///     index month (-0.2 removes each with probability 0.2).
    public init(people: Int, effect: Double, seed: UInt64, runId: Int64 = 1) {
        let asOf = Day(year: 2025, month: 1, day: 1)!
        let firstMonth = asOf.monthNumber - EvaluationBase.lookbackMonths
        var hierarchy = Hierarchy()
        for i in 0..<4 {
            hierarchy.addPractice(
                .init(code: "P\(i)", name: "Practice \(i)"), pcn: .init(code: "N\(i / 2)", name: "PCN \(i / 2)"),
                locality: .init(code: "L", name: "Locality"), organisation: .init(code: "O", name: "Board"))
        }
        var base = EvaluationBase(runId: runId, asOf: asOf, firstMonth: firstMonth, hierarchy: hierarchy)
        base.conditionIds = ["copd", "diabetes"]
        base.conditionNames = ["COPD", "Diabetes"]
        base.events.start = [0]
        base.conditions.start = [0]
        var rng = Xoshiro(seed: seed)
        var exposures: [MatchedComparison.Exposure] = []
        let enrolFrom = asOf.monthNumber - 24  // six months of enrolment, a year before the last post month
        for p in 0..<people {
            let age = 20 + rng.int(0..<75)
            let female = rng.chance(0.5)
            let decile = UInt8(1 + rng.int(0..<10))
            let copd = rng.chance(0.1), diabetes = rng.chance(0.12)
            base.pseudonym.append("person-\(p)")
            base.sex.append(female ? .female : .male)
            base.birthMonth.append(asOf.monthNumber - Int32(age * 12) - Int32(rng.int(0..<12)))
            base.practice.append(Int32(rng.int(0..<4)))
            base.imdDecile.append(decile)
            base.ethnicGroup.append(.white)
            base.from.append(Day(firstOfMonth: firstMonth - 12))
            // Some die or leave; their months after count for nothing.
            let leaves = rng.chance(0.1) ? Day(firstOfMonth: firstMonth + Int32(rng.int(0..<60))).adding(days: 10) : asOf
            base.to.append(leaves)
            // A lasting propensity to be admitted, and years that come and go (regression to the mean).
            let frailty =
                0.08 * exp(0.03 * Double(age - 50)) * (copd ? 2.5 : 1) * (diabetes ? 1.6 : 1)
                * (1 + 0.05 * Double(10 - Int(decile))) * rng.gamma(shape: 0.7)
            var admissions: [Int32: Int] = [:]
            var electives: [Int32: Int] = [:]
            for year in 0..<5 {
                let bad = rng.gamma(shape: 1.5)
                for m in 0..<12 {
                    let month = firstMonth + Int32(year * 12 + m)
                    admissions[month] = rng.poisson(frailty * bad / 12)
                    electives[month] = rng.poisson(0.6 / 12 * (copd ? 1.5 : 1))
                }
            }
            // Chosen for high recent use, in a month of the enrolment period.
            let index = enrolFrom + Int32(rng.int(0..<6))
            let recent = (index - 12..<index).reduce(0) { $0 + admissions[$1]! }
            let chance = recent >= 2 ? 0.25 : (recent == 1 ? 0.02 : 0.0)
            if Day(firstOfMonth: index) < leaves, rng.chance(chance) {
                exposures.append(.init(person: Int32(p), start: Day(firstOfMonth: index).adding(days: rng.int(0..<28))))
                for month in (index + 1)...(index + 12) {
                    admissions[month] = (0..<admissions[month]!).filter { _ in !rng.chance(-effect) }.count
                }
            }
            for month in admissions.keys.sorted() where Day(firstOfMonth: month) < leaves {
                if admissions[month]! > 0 {
                    base.eventMonth.append(month)
                    base.eventMeasure.append(UInt8(Measure.emergencyAdmissions.index))
                    base.eventAmount.append(Float(admissions[month]!))
                }
                if electives[month]! > 0 {
                    base.eventMonth.append(month)
                    base.eventMeasure.append(UInt8(Measure.electiveAdmissions.index))
                    base.eventAmount.append(Float(electives[month]!))
                }
            }
            base.events.start.append(Int32(base.eventMonth.count))
            if copd {
                base.condition.append(0)
                base.conditionMonth.append(firstMonth - 30)
            }
            if diabetes {
                base.condition.append(1)
                base.conditionMonth.append(firstMonth - 30)
            }
            base.conditions.start.append(Int32(base.condition.count))
        }
        self.base = base
        self.exposures = exposures
    }
}
