import Foundation
import PHMCore
import TestSupport
import Testing

@testable import Evaluation

/// Practices (forty of 400 people unless asked) over five years, each with its own level and its
/// own drift in emergency admissions; from the start month a scheme at the first `treated`
/// practices changes their admissions by `effect`.
struct PracticePanel {
    var base: EvaluationBase
    let start: Day

    init(effect: Double, seed: UInt64, practices: Int = 40, people: Int = 400, treated: Int = 2) {
        let asOf = Day(year: 2025, month: 1, day: 1)!
        let firstMonth = asOf.monthNumber - EvaluationBase.lookbackMonths
        start = Day(firstOfMonth: asOf.monthNumber - 14)
        var hierarchy = Hierarchy()
        for q in 0..<practices {
            hierarchy.addPractice(
                .init(code: "Q\(q)", name: "Practice \(q)"), pcn: .init(code: "N\(q / 5)", name: "PCN \(q / 5)"),
                locality: .init(code: "L", name: "Locality"), organisation: .init(code: "O", name: "Board"))
        }
        var base = EvaluationBase(runId: 1, asOf: asOf, firstMonth: firstMonth, hierarchy: hierarchy)
        base.events.start = [0]
        base.conditions.start = [0]
        var rng = Xoshiro(seed: seed)
        let level = (0..<practices).map { _ in 0.25 + 0.3 * rng.uniform() }
        let drift = (0..<practices).map { _ in 0.01 * (rng.uniform() - 0.5) }
        for q in 0..<practices {
            for i in 0..<people {
                base.pseudonym.append("q\(q)-\(i)")
                base.sex.append(i % 2 == 0 ? .female : .male)
                base.birthMonth.append(asOf.monthNumber - Int32(12 * (20 + rng.int(0..<70))))
                base.practice.append(Int32(q))
                base.imdDecile.append(UInt8(1 + rng.int(0..<10)))
                base.ethnicGroup.append(.white)
                base.from.append(Day(firstOfMonth: firstMonth - 12))
                base.to.append(asOf)
                let frailty = rng.gamma(shape: 2, mean: 1)
                for m in 0..<Int(EvaluationBase.lookbackMonths) {
                    let month = firstMonth + Int32(m)
                    var rate = level[q] * frailty * (1 + drift[q] * Double(m)) / 12
                    if q < treated, month > start.monthNumber { rate *= 1 + effect }
                    let n = rng.poisson(max(0, rate))
                    if n > 0 {
                        base.eventMonth.append(month)
                        base.eventMeasure.append(UInt8(Measure.emergencyAdmissions.index))
                        base.eventAmount.append(Float(n))
                    }
                }
                base.events.start.append(Int32(base.eventMonth.count))
                base.conditions.start.append(0)
            }
        }
        self.base = base
    }

    static func options() -> EvaluationOptions {
        var o = EvaluationOptions()
        o.preMonths = 24
        o.postMonths = 12
        o.outcomes = [.emergencyAdmissions]
        return o
    }
}

@Suite struct SyntheticControlTests {
    /// A target that is a mixture of donors gets that mixture back; the projection lands on the
    /// simplex; and on targets outside the donors' hull the weights reach SciPy's optimum (SLSQP
    /// on the same problems, in the same constraints).
    @Test func weightsReachTheOptimumSciPyFinds() throws {
        var rng = Xoshiro(seed: 8)
        let donors = (0..<8).map { _ in (0..<20).map { _ in rng.uniform() } }
        let mixture = (0..<20).map { 0.25 * donors[1][$0] + 0.75 * donors[4][$0] }
        let recovered = SyntheticControl.fit(target: mixture, donors: donors)
        #expect(abs(recovered[1] - 0.25) < 1e-6 && abs(recovered[4] - 0.75) < 1e-6, "\(recovered)")
        let projected = SyntheticControl.projectOntoSimplex([0.9, -0.3, 0.7, 0.1])
        #expect(abs(projected.reduce(0, +) - 1) < 1e-12 && projected.allSatisfy { $0 >= 0 })
        #expect(SyntheticControl.projectOntoSimplex([0.2, 0.3, 0.5]) == [0.2, 0.3, 0.5])

        var problems: [[String: Any]] = []
        var ours: [Double] = []
        for p in 0..<20 {
            let j = 5 + p * 3, t = 12 + p % 7
            let x = (0..<j).map { _ in (0..<t).map { _ in rng.uniform() } }
            let y = (0..<t).map { _ in 1.3 * rng.uniform() - 0.1 }
            let w = SyntheticControl.fit(target: y, donors: x)
            #expect(abs(w.reduce(0, +) - 1) < 1e-9 && w.allSatisfy { $0 >= 0 })
            ours.append(
                (0..<t).reduce(0) { s, i in
                    let fitted = (0..<j).reduce(0) { $0 + w[$1] * x[$1][i] }
                    return s + (fitted - y[i]) * (fitted - y[i])
                })
            problems.append(["x": x, "y": y])
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("problems.json")
        try JSONSerialization.data(withJSONObject: problems).write(to: file)
        let script = #"""
            import json, sys
            import numpy as np
            from scipy.optimize import minimize
            out = []
            for p in json.load(open(sys.argv[1])):
                X = np.array(p["x"]).T; y = np.array(p["y"]); j = X.shape[1]
                f = lambda w: float(np.sum((X @ w - y) ** 2))
                g = lambda w: 2 * X.T @ (X @ w - y)
                r = minimize(f, np.full(j, 1 / j), jac=g, method="SLSQP", bounds=[(0, 1)] * j,
                             constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1}],
                             options={"ftol": 1e-15, "maxiter": 2000})
                out.append(r.fun)
            print(json.dumps(out))
            """#
        let run = try runProgram([crossCheckPython, "-c", script, file.path])
        #expect(run.status == 0, Comment(rawValue: run.errors))
        let scipy = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [Double])
        for (a, b) in zip(ours, scipy) { #expect(a <= b * (1 + 1e-4) + 1e-9, "ours \(a), SciPy \(b)") }
    }

    /// A scheme at two of forty practices that cut admissions by 30% is found: the place's
    /// synthetic control tracks it before the start, the gap after is near -30%, and no placebo
    /// practice shows a larger break. With no effect, the gap is near 0 and placebos match it.
    @Test func aPlaceBasedSchemeIsFoundAgainstItsSyntheticControl() throws {
        func evaluate(_ effect: Double, seed: UInt64) -> SyntheticControl.Result? {
            let panel = PracticePanel(effect: effect, seed: seed)
            return try? SyntheticControl.run(
                base: panel.base, place: [0, 1], start: panel.start, options: PracticePanel.options(),
                outcomes: [.emergencyAdmissions], planning: nil, workers: 2
            ).results.first
        }
        let found = try #require(evaluate(-0.3, seed: 3))
        #expect(found.donors == 38 && abs(found.weights.reduce(0) { $0 + $1.weight } - 1) < 0.05)
        #expect(abs((found.relative ?? 0) + 0.3) < 0.1, "\(String(describing: found.relative))")
        #expect(
            found.pValue <= 0.05 && found.postRMSPE > 2 * found.preRMSPE,
            "p \(found.pValue) pre \(found.preRMSPE) post \(found.postRMSPE) rel \(found.relative!) w \(found.weights)")
        #expect(found.months.count == 24 + 1 + 12 && found.months.first?.month == -24 && found.months.last?.month == 12)
        let none = try #require(evaluate(0, seed: 4))
        #expect(abs(none.relative ?? 1) < 0.1 && none.pValue > 0.05, "\(String(describing: none.relative)) p \(none.pValue)")
    }

    /// With many more donors than pre-window months, a place averaging five practices can be
    /// fitted closer than its own noise; the test statistic's floor (the noise chance gives a
    /// month's rate) keeps that from passing for an effect. 200 practices of 100, a 12-month pre
    /// window, no effect: not significant, and the fit before the start no better than chance allows.
    @Test func aCloseFitAmongManyDonorsIsNotMistakenForAnEffect() throws {
        let panel = PracticePanel(effect: 0, seed: 6, practices: 200, people: 100, treated: 5)
        var options = PracticePanel.options()
        options.preMonths = 12
        let result = try #require(
            try SyntheticControl.run(
                base: panel.base, place: Set((0..<5).map(Int32.init)), start: panel.start, options: options,
                outcomes: [.emergencyAdmissions], planning: nil, workers: 2
            ).results.first)
        #expect(result.donors == 195 && result.pValue > 0.05, "p \(result.pValue), pre \(result.preRMSPE)")
    }

    /// Through the evaluation of a place as a user defines it: the matched comparison of people
    /// and the synthetic control of the place side by side, in the result and the report.
    @Test func aPlaceEvaluationCarriesItsSyntheticControl() throws {
        let panel = PracticePanel(effect: -0.3, seed: 3)
        var options = PracticePanel.options()
        options.bootstrapSamples = 200
        let exposures = try Exposures(
            place: .practice, codes: ["Q0", "Q1"], start: panel.start, base: panel.base, options: options)
        let result = try EvaluationResult.evaluate(
            name: "place", base: panel.base, exposures: exposures, options: options, recordKeys: nil, workers: 2)
        let synthetic = try #require(result.syntheticControl.first)
        #expect(result.syntheticControlNote == nil && synthetic.outcome == "emergency_admissions")
        #expect(
            abs((synthetic.relative ?? 0) + 0.3) < 0.12 && synthetic.pValue <= 0.05,
            "\(synthetic.relative ?? .nan) p \(synthetic.pValue)")
        let matched = try #require(result.effects.first)
        #expect(matched.relative.covers(-0.3), "\(matched.relative.describe(percent: true))")
        #expect(result.markdown().contains("## Synthetic control") && result.markdown().contains("| emergency admissions |"))
    }

    /// The refusals say why, and under planning the shown rates are rounded, keyed (the same answer
    /// again), and the estimate is still found.
    @Test func refusesWhatItCannotFitAndRoundsForPlanning() throws {
        let panel = PracticePanel(effect: -0.3, seed: 3)
        let options = PracticePanel.options()
        let wide = try SyntheticControl.run(
            base: panel.base, place: Set((0..<11).map(Int32.init)), start: panel.start, options: options,
            outcomes: [.emergencyAdmissions], planning: nil, workers: 1)
        #expect(wide.results.isEmpty && wide.note?.contains("more than 10 practices") == true)
        let late = try SyntheticControl.run(
            base: panel.base, place: [0], start: Day(firstOfMonth: panel.base.asOf.monthNumber - 3), options: options,
            outcomes: [.emergencyAdmissions], planning: nil, workers: 1)
        #expect(late.results.isEmpty && late.note?.contains("within the data") == true)

        var rng = Xoshiro(seed: 1)
        let keys = PlanningDisclosure(keys: (0..<panel.base.count).map { _ in UInt8(rng.int(0..<256)) })
        func planned() throws -> SyntheticControl.Result? {
            try SyntheticControl.run(
                base: panel.base, place: [0, 1], start: panel.start, options: options, outcomes: [.emergencyAdmissions],
                planning: keys, workers: 2
            ).results.first
        }
        let exact = try #require(
            try SyntheticControl.run(
                base: panel.base, place: [0, 1], start: panel.start, options: options, outcomes: [.emergencyAdmissions],
                planning: nil, workers: 2
            ).results.first)
        let published = try #require(try planned())
        #expect(try planned() == published)
        #expect(published.months != exact.months && published.weights.isEmpty && !exact.weights.isEmpty)
        // 800 people, each with their admissions in a window capped at the run's cap: steps of
        // about a tenth of an admission a person-year in each month.
        for (p, e) in zip(published.months, exact.months) { #expect(abs(p.place - e.place) < 0.25) }
        #expect(abs((published.relative ?? 0) + 0.3) < 0.12, "\(published.relative ?? .nan)")
        #expect(published.pValue <= 0.05 && exact.pValue <= 0.05)
    }
}
