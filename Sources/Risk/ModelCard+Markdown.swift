import Foundation
import Outputs

extension ModelCard {
    /// One line: held-out AUROC with its interval, the later period, and the baselines.
    public var summary: String {
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        let baselines = self.baselines.map { "\($0.name) \(f($0.heldOut.auroc))" }.joined(separator: ", ")
        let later = laterPeriod.map { ", later period \(f($0.auroc))" } ?? ""
        return
            "\(outcome.rawValue) \(algorithm.rawValue): held-out AUROC \(f(heldOut.auroc)) (95% CI \(f(heldOut.aurocLower))-\(f(heldOut.aurocUpper)))\(later); baselines: \(baselines)"
    }

    /// The card as a readable report.
    public var markdown: String {
        func f(_ x: Double, _ d: Int = 3) -> String { x.isNaN ? "-" : x.formatted(decimals: d) }
        var lines = [
            "# Model card: \(outcome.name), \(algorithm.name)",
            "",
            "- Outcome: \(outcomeDefinition) (`\(outcome.rawValue)`).",
            "- Features: \(features.count), from history before the index date.",
            "- Trained on \(trainingPeople) people registered on \(trainingIndex) (\(trainingEvents) with the outcome), in \(f(trainingSeconds, 1)) s; seed \(seed).",
        ]
        if let choice {
            lines.append("- **" + (choice.warning ? "Warning: " : "") + "\(choice.reason).**")
        }
        let areas = features.filter { Feature.isArea($0) }
        if !areas.isEmpty {
            lines.append(
                "- Uses where people live: \(areas.map { "`\($0)`" }.joined(separator: ", ")) (asked for with `--risk-area-features`). A score that rises with an area's air quality or housing moves outreach towards places rather than needs, and ranks two people with the same history differently by address; check the card's subgroup rows and the worklists' spread across areas before use (docs/risk.md)."
            )
        }
        if let sampleSize {
            lines.append(
                "- Sample size: \(sampleSize.parameters) features at a prevalence of \(f(sampleSize.prevalence, 4)) need at least \(sampleSize.minimumPeople) people (\(sampleSize.minimumEvents) events) by Riley et al. (BMJ 2020), anticipating a Cox-Snell R-squared of \(f(sampleSize.anticipatedR2, 4))."
            )
        }
        if let tuning {
            lines += [
                "", "## Settings search", "",
                "\(tuning.folds)-fold cross-validation on \(tuning.people) training people; the lowest mean log loss over the left-out folds wins. Chosen: \(tuning.candidates[tuning.chosen].settings). Recalibration on the left-out predictions (Platt scaling on the log-odds): intercept \(f(tuning.recalibration.intercept)), slope \(f(tuning.recalibration.slope)); after it, cross-validated log loss \(f(tuning.crossValidatedLogLoss, 4)) and AUROC \(f(tuning.crossValidatedAUROC)).",
                "", "| settings | cross-validated log loss | trees kept |", "|---|---|---|",
            ]
            for c in tuning.candidates {
                lines.append("| \(c.settings) | \(f(c.crossValidatedLogLoss, 5)) | \(c.trees.map { f($0, 1) } ?? "-") |")
            }
        }
        lines += [
            "",
            "## Performance",
            "",
            "| set | people | events | AUROC (95% CI) | AUPRC | Brier |",
            "|---|---|---|---|---|---|",
        ]
        func row(_ name: String, _ e: Evaluation) -> String {
            "| \(name) | \(e.people) | \(e.events) | \(f(e.auroc)) (\(f(e.aurocLower))-\(f(e.aurocUpper))) | \(f(e.auprc)) | \(f(e.brier, 4)) |"
        }
        lines.append(row("held out, index \(trainingIndex)", heldOut))
        if let laterPeriod, let laterIndex { lines.append(row("later period, index \(laterIndex)", laterPeriod)) }
        for b in baselines { lines.append(row("baseline: \(b.name)", b.heldOut)) }
        if let c = heldOut.calibrationMeasures {
            lines += [
                "", "## Calibration (held out)", "",
                "Van Calster et al.'s hierarchy: observed over expected events and calibration-in-the-large (the mean), and the calibration slope (the weak level); 95% intervals.",
                "", "| measure | value (95% CI) | calibrated when |", "|---|---|---|",
                "| observed / expected | \(f(c.observedOverExpected)) (\(f(c.observedOverExpectedLower)) to \(f(c.observedOverExpectedUpper))) | 1 |",
                "| calibration-in-the-large | \(f(c.inTheLarge)) (\(f(c.inTheLargeLower)) to \(f(c.inTheLargeUpper))) | 0 |",
                "| calibration slope | \(f(c.slope)) (\(f(c.slopeLower)) to \(f(c.slopeUpper))) | 1 |",
            ]
        }
        if let curve = heldOut.netBenefit, !curve.isEmpty {
            lines += [
                "", "## Decision curve (held out)", "",
                "Net benefit of acting on people at or above each risk threshold, against acting on everyone (Vickers and Elkin 2006); acting on no one is 0.",
                "", "| risk threshold | | flagged | net benefit | treat all |", "|---|---|---|---|---|",
            ]
            for point in curve {
                lines.append(
                    "| \(f(point.threshold, 4)) | \(point.label) | \(point.flagged) | \(f(point.model, 4)) | \(f(point.treatAll, 4)) |"
                )
            }
        }
        lines += [
            "", "## Flagging the highest risks (held out)", "", "| top | flagged | PPV | sensitivity |", "|---|---|---|---|",
        ]
        for g in heldOut.flagging {
            lines.append("| \(f(g.topPercent, 1))% | \(g.flagged) | \(f(g.ppv)) | \(f(g.sensitivity)) |")
        }
        lines += [
            "", "## Calibration by decile of predicted risk (held out)", "", "| decile | people | expected | observed |",
            "|---|---|---|---|",
        ]
        for d in heldOut.calibration {
            lines.append("| \(d.decile) | \(d.people) | \(f(d.expected, 4)) | \(f(d.observed, 4)) |")
        }
        lines += [
            "", "## Subgroups (held out)", "", "| breakdown | group | people | events | observed | expected | AUROC |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in heldOut.subgroups {
            lines.append(
                "| \(s.breakdown) | \(s.group) | \(s.people) | \(s.events) | \(f(s.observedRate, 4)) | \(f(s.expectedRate, 4)) | \(s.auroc.map { f($0) } ?? "-") |"
            )
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
