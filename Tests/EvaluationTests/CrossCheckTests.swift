import Foundation
import PHMCore
import Risk
import TestSupport
import Testing

@testable import Evaluation

/// The propensity score against scikit-learn's logistic regression on the same rows, and the
/// difference in differences against a statsmodels Poisson regression recomputed from the matched
/// people's raw monthly records (windows, months in the population and all), with standard
/// errors clustered by matched set.
@Suite struct CrossCheckTests {
    static let script = #"""
        import sys, csv, datetime
        import numpy as np, pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        import statsmodels.api as sm

        folder = sys.argv[1]
        fit = pd.read_csv(folder + "/fit.csv")
        y = fit.pop("label").values
        x = fit.values
        keep = x.std(axis=0) > 1e-12   # constant columns: ours gives them no weight either
        z = StandardScaler().fit_transform(x[:, keep])
        model = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(z, y)
        logits = model.decision_function(z)
        ours = pd.read_csv(folder + "/logits.csv")["logit"].values
        print("logit_max_difference", np.abs(logits - ours).max())

        people = pd.read_csv(folder + "/people.csv")
        events = pd.read_csv(folder + "/events.csv")
        pre, post = int(sys.argv[2]), int(sys.argv[3])
        def first_day(month):
            return datetime.date(month // 12, month % 12 + 1, 1)
        epoch = datetime.date(1970, 1, 1)
        def exposure(frm, to, month):
            start = (first_day(month) - epoch).days
            end = (first_day(month + 1) - epoch).days
            return max(0, min(end, to) - max(start, frm)) / (end - start)
        counts = {}
        for r in events.itertuples():
            counts.setdefault(r.row, []).append((r.month, r.amount))
        rows = []
        for p in people.itertuples():
            windows = {0: range(p.month - pre, p.month), 1: range(p.month + 1, min(p.month + 1 + post, p.until))}
            for period, months in windows.items():
                e = sum(a for m, a in counts.get(p.row, []) if m in months)
                x_ = sum(exposure(p.frm, p.to, m) for m in months)
                if x_ > 0:
                    rows.append((p.set, p.treated, period, e, x_, p.weight))
        d = pd.DataFrame(rows, columns=["set", "treated", "post", "events", "months", "weight"])
        X = sm.add_constant(np.column_stack([d.treated, d.post, d.treated * d.post]).astype(float))
        glm = sm.GLM(
            d.events.values.astype(float), X, family=sm.families.Poisson(), exposure=d.months.values,
            var_weights=d.weight.values)
        result = glm.fit(cov_type="cluster", cov_kwds={"groups": d.set.values})
        beta, se = result.params[3], result.bse[3]
        print("relative", np.exp(beta) - 1)
        print("low", np.exp(beta - 1.959964 * se) - 1)
        print("high", np.exp(beta + 1.959964 * se) - 1)
        """#

    @Test func propensityScoreAndEffectAgreeWithScikitLearnAndStatsmodels() throws {
        let data = KnownEffectPopulation(people: 40_000, effect: -0.2, seed: 7)
        var options = MatchingTests.options()
        options.negativeControls = []
        let (result, detail) = try MatchedComparison.run(
            name: "cross-check", base: data.base, exposures: data.exposures, options: options, workers: 2)
        let folder = temporaryFolder("evaluation-cross-check")
        defer { try? FileManager.default.removeItem(at: folder) }

        let fit = detail.fit
        var csv = fit.features.map(\.id).joined(separator: ",") + ",label\n"
        for i in 0..<fit.rows {
            csv += (0..<fit.columns).map { "\(fit[i, $0])" }.joined(separator: ",") + ",\(detail.fitLabels[i])\n"
        }
        try Data(csv.utf8).write(to: folder.appendingPathComponent("fit.csv"))
        let logits = (0..<fit.rows).map { detail.model.linear(fit, row: $0) }
        try Data(("logit\n" + logits.map { "\($0)" }.joined(separator: "\n") + "\n").utf8).write(
            to: folder.appendingPathComponent("logits.csv"))

        let base = data.base
        // A control exposed later is counted only until the month they were.
        let exposedMonth = Dictionary(data.exposures.map { ($0.person, $0.start.monthNumber) }, uniquingKeysWith: min)
        var people = "set,row,treated,weight,month,frm,to,until\n"
        var events = "row,month,amount\n"
        var written = Set<Int32>()
        for (s, set) in detail.sets.enumerated() {
            let members = [(set.treated, 1, 1.0)] + set.controls.map { ($0, 0, 1 / Double(set.controls.count)) }
            for (row, treated, weight) in members {
                let p = Int(row)
                let until = treated == 1 ? Int32.max : (exposedMonth[row] ?? .max)
                people +=
                    "\(s),\(row),\(treated),\(weight),\(set.month),\(base.from[p].rawValue),\(base.to[p].rawValue),\(until)\n"
                guard written.insert(row).inserted else { continue }
                for r in base.events.rows(of: p) where base.eventMeasure[r] == UInt8(Measure.emergencyAdmissions.index) {
                    events += "\(row),\(base.eventMonth[r]),\(base.eventAmount[r])\n"
                }
            }
        }
        try Data(people.utf8).write(to: folder.appendingPathComponent("people.csv"))
        try Data(events.utf8).write(to: folder.appendingPathComponent("events.csv"))

        let run = try runProgram([
            "/usr/bin/env", crossCheckPython, "-c", Self.script, folder.path, "\(options.preMonths)", "\(options.postMonths)",
        ])
        #expect(run.status == 0, "\(run.errors.suffix(2_000))")
        var theirs: [String: Double] = [:]
        for line in run.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Double(parts[1]) { theirs[String(parts[0])] = v }
        }
        // The same penalised objective (lambda 1 on standardised covariates is C = 1).
        #expect((theirs["logit_max_difference"] ?? 1) < 1e-4, "\(theirs)")
        let ours = try #require(result.effects.first { $0.outcome == "emergency_admissions" }?.relative)
        // The point estimate is the same ratio of rate ratios, reached independently.
        let relative = try #require(theirs["relative"]), estimate = try #require(ours.estimate)
        #expect(abs(relative - estimate) < 1e-4, "statsmodels \(relative), ours \(estimate)")
        // The intervals come from different methods (cluster-robust Wald against a bootstrap of
        // matched sets) but should be alike: each bound within a fifth of the interval's width.
        let low = try #require(theirs["low"]), high = try #require(theirs["high"])
        let width = high - low
        #expect(abs(low - (ours.low ?? 0)) < 0.2 * width, "statsmodels \(low) to \(high), ours \(ours.describe(percent: true))")
        #expect(abs(high - (ours.high ?? 0)) < 0.2 * width, "statsmodels \(low) to \(high), ours \(ours.describe(percent: true))")
    }
}
