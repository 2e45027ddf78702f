import Foundation

extension EvaluationResult {
    /// The evaluation as a readable report: diagnostics first, effects after them.
    public func markdown() -> String {
        func number(_ v: Double, _ decimals: Int = 2) -> String { String(format: "%.\(decimals)f", v) }
        func rate(_ v: Double?) -> String { v.map { number($0) } ?? "none" }
        var out = "# Evaluation: \(name)\n\n"
        out += "Run \(runId), data to \(asOf). Pre window \(options.preMonths) months, post window \(options.postMonths) months; "
        out += "the index month (when each person started) is in neither.\n\n"
        if withheld {
            out += "**Balance failed: the effects below are withheld from any headline.** "
            out += "The exposed and their matched controls still differ on covariates listed in the balance table, "
            out += "so a difference in outcomes may reflect who they were rather than what was done.\n\n"
        }
        if planning {
            out += "Published for planning: counts of people are perturbed (1 to 7 withheld, others rounded to 5 at "
            out += "random), means, rates and effects are rounded at random to a step at least what one person or "
            out += "matched set can change them by, and each matched set's amount of an outcome in a window is capped "
            out += "at the 99th centile of the sets'. Exact figures need `--no-suppress`.\n\n"
        }
        for warning in warnings { out += "- Warning: \(warning)\n" }
        if !warnings.isEmpty { out += "\n" }

        out += "## People at each step\n\n| step | people |\n|---|---:|\n"
        func count(_ n: Int?) -> String { n.map(String.init) ?? "1 to 7 (withheld)" }
        for s in steps { out += "| \(s.step) | \(count(s.people)) |\n" }
        out +=
            "\nIndex months: " + indexMonths.map { "\($0.month.prefix(7)) (\(count($0.treated)))" }.joined(separator: ", ")
            + "\n\n"

        out += "## Effects\n\n\(Self.intervalMethod). Relative effects are ratios of rate ratios (post / pre, exposed "
        out += "against controls) minus 1; absolute effects are differences in differences per person-year. "
        out += "The naive change is the exposed people's own before-and-after, with no comparison: people chosen "
        out += "for high use fall back towards the average anyway (regression to the mean), so it overstates any benefit.\n\n"
        out +=
            "| outcome | exposed pre | exposed post | controls pre | controls post | relative effect | absolute effect | naive change |\n"
        out += "|---|---:|---:|---:|---:|---|---|---|\n"
        for e in effects {
            let label = e.negativeControl ? "\(e.description) (negative control)" : e.description
            out += "| \(label) | \(rate(e.treatedPre)) | \(rate(e.treatedPost)) | \(rate(e.controlsPre)) | "
            out += "\(rate(e.controlsPost)) | \(e.relative.describe(percent: true)) | \(e.absolute.describe(percent: false)) | "
            out += "\(e.naiveRelative.describe(percent: true)) |\n"
        }

        out += "\n## Balance\n\nStandardised mean differences (SMD) before and after matching; both use the spread "
        out += "before matching. A covariate fails at \(number(balanceLimit)) or more: the threshold of "
        out += "\(options.balanceThreshold), or if larger the difference chance alone passes on any covariate only 5% of "
        out += "the time for this many matched people.\n\n"
        out += "| covariate | exposed before | unexposed before | SMD before | exposed after | controls after | SMD after |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|\n"
        for b in balance {
            let flag = b.fails ? " **(fails)**" : ""
            out += "| \(b.description) | \(number(b.treatedBefore)) | \(number(b.controlsBefore)) | \(number(b.smdBefore)) | "
            out += "\(number(b.treatedAfter)) | \(number(b.controlsAfter)) | \(number(b.smdAfter))\(flag) |\n"
        }

        out += "\n## Overlap\n\nPreference scores (the propensity score with the share exposed removed; Walker et al. 2013). "
        out += "In equipoise (0.3 to 0.7): \(number(overlap.equipoiseTreated * 100, 1))% of the exposed, "
        out += "\(number(overlap.equipoiseControls * 100, 1))% of the unexposed sample.\n\n"
        out += "| preference score | exposed | unexposed |\n|---|---:|---:|\n"
        let bins = overlap.treated.count
        for i in 0..<bins {
            out += "| \(number(Double(i) / Double(bins))) to \(number(Double(i + 1) / Double(bins))) | "
            out += "\(number(overlap.treated[i] * 100, 1))% | \(number(overlap.controls[i] * 100, 1))% |\n"
        }

        if let note = syntheticControlNote { out += "\n## Synthetic control\n\n\(note).\n" }
        if !syntheticControl.isEmpty {
            out += "\n## Synthetic control\n\nThe place against a weighted average of practices outside it (weights at least 0, "
            out += "adding up to 1) that tracks it before the start; the p-value ranks the place's mean gap after the start, "
            out += "over its root mean squared gap before, among placebos (each donor practice treated as the place).\n\n"
            out +=
                "| outcome | gap after (per person-year) | relative | placebo p | fit before (RMSPE) | donors | largest weights |\n"
            out += "|---|---:|---:|---:|---:|---:|---|\n"
            for c in syntheticControl {
                let weights =
                    c.weights.isEmpty
                    ? "withheld for planning"
                    : c.weights.prefix(5).map { "\($0.practice) \(number($0.weight))" }.joined(separator: ", ")
                out +=
                    "| \(c.description) | \(number(c.effect, 3)) | \(c.relative.map { String(format: "%+.1f%%", 100 * $0) } ?? "none") | "
                out += "\(number(c.pValue, 3)) | \(number(c.preRMSPE, 3)) | \(c.donors) | \(weights) |\n"
            }
        }

        out += "\n## Event study\n\nExposed minus controls, rate per person-year, by month from the index month; "
        out += "before it the differences should be near 0 (parallel trends).\n\n"
        for outcome in effects.map(\.outcome) {
            out += "### \(outcome)\n\n| month | difference |\n|---:|---|\n"
            for m in eventStudy where m.outcome == outcome {
                out += "| \(m.month) | \(m.difference.describe(percent: false)) |\n"
            }
            out += "\n"
        }
        return out
    }

    /// The balance table as CSV rows, header first.
    public var balanceCSV: String {
        var out = "covariate,treated_before,controls_before,smd_before,treated_after,controls_after,smd_after,fails\n"
        for b in balance {
            out += "\(b.covariate),\(b.treatedBefore),\(b.controlsBefore),\(b.smdBefore),\(b.treatedAfter),\(b.controlsAfter),"
            out += "\(b.smdAfter),\(b.fails)\n"
        }
        return out
    }

    /// The effects as CSV rows, header first; empty cells where a value cannot be estimated.
    public var effectsCSV: String {
        func cells(_ i: Interval) -> String {
            [i.estimate, i.low, i.high].map { $0.map { "\($0)" } ?? "" }.joined(separator: ",")
        }
        var out = "outcome,negative_control,withheld,treated_pre,treated_post,controls_pre,controls_post,"
        out += "relative,relative_low,relative_high,absolute,absolute_low,absolute_high,"
        out += "naive_relative,naive_relative_low,naive_relative_high,naive_absolute,naive_absolute_low,naive_absolute_high\n"
        for e in effects {
            out +=
                "\(e.outcome),\(e.negativeControl),\(withheld),"
                + [e.treatedPre, e.treatedPost, e.controlsPre, e.controlsPost].map { $0.map { "\($0)" } ?? "" }.joined(
                    separator: ",")
                + ","
            out += "\(cells(e.relative)),\(cells(e.absolute)),\(cells(e.naiveRelative)),\(cells(e.naiveAbsolute))\n"
        }
        return out
    }

    public var eventStudyCSV: String {
        var out = "outcome,month,difference,low,high\n"
        for m in eventStudy {
            let d = m.difference
            out +=
                "\(m.outcome),\(m.month),\([d.estimate, d.low, d.high].map { $0.map { "\($0)" } ?? "" }.joined(separator: ","))\n"
        }
        return out
    }
}
