import Foundation

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
