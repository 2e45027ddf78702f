import Cohorts
import Foundation
import Outputs
import PHMCore
import Service

extension Dashboard {
    // MARK: data quality and changes

    /// The series a chart can show: every figure of the run and of each source, as
    /// `SUBJECT/FIGURE` (practices' series are listed in a table instead: there are too many).
    static func qualityMeasures(_ p: Publication) -> [String] {
        (p.quality?.series ?? []).filter { $0.subject.kind != .practice }.map { measure($0.subject, $0.figure) }
    }

    static let qualityPreferred = measure(.init(.source, "inpatient_spells.csv"), QualityFigure.rowsPer1000.rawValue)

    static func measure(_ subject: QualitySubject, _ figure: String) -> String { subject.id + "/" + figure }

    static func quality(_ p: Publication, _ q: PageQuery) -> [Panel] {
        var panels: [Panel] = []
        // Values as published: whole numbers without a decimal point.
        func cell(_ x: Double?) -> String {
            guard let x, x.isFinite else { return "" }
            return x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
        }
        let history = p.quality
        let runs = history?.runs ?? []
        let dates = runs.map(\.asOf)

        // Gates of this run.
        let gates = history?.gates ?? []
        panels.append(
            Panel(
                id: "gates", title: "Gates checked by this run",
                note: gates.isEmpty
                    ? "This run was given no gates file (phm run --gates): nothing could stop it."
                    : "Each rule of the gates file against this run's figures: a failed gate stops a run before it publishes, so a published run shows only passed, accepted (by an IG lead, audited) and not checked.",
                table: PanelTable(
                    name: "gates", columns: ["gate", "subject", "figure", "value", "baseline", "rule", "result", "accepted_by"],
                    rows: gates.map {
                        [
                            $0.gate, $0.subject.description, $0.figure, cell($0.value), cell($0.baseline), $0.rule,
                            $0.result.rawValue, $0.acceptedBy ?? "",
                        ]
                    })))

        // The chosen series over the runs, as an XmR chart.
        if let series = history?.series.first(where: { measure($0.subject, $0.figure) == q.measure }) {
            let xs = series.values.indices.map(Double.init)
            func line(_ name: String, _ ys: [Double?], _ style: Chart.Plot.Series.Style, _ colour: Int) -> Chart.Plot.Series {
                .init(name: name, points: zip(xs, ys).compactMap { x, y in y.map { (x, $0) } }, style: style, colour: colour)
            }
            let flagged = series.values.indices.filter { series.specialCause[$0] != nil }
            let constant = { (v: Double?) in series.values.map { $0 == nil ? nil : v } }
            panels.append(
                Panel(
                    id: "quality-spc", title: "\(series.subject.description): \(label(series.figure)) run by run",
                    note:
                        "An XmR chart over the runs that succeeded (the latest run of each as-of date), with NHS England's Making Data Count rules\(series.trialLimits ? "; fewer than 12 runs, so the limits are trial limits" : ""). \(QualityFigure(rawValue: String(series.figure.split(separator: ":")[0]))?.explanation ?? "")",
                    chart: .plot(
                        .init(
                            x: .init(title: "As-of date", format: .count, categories: dates),
                            y: .init(title: label(series.figure), format: .decimal),
                            series: [
                                line(label(series.figure), series.values, .line, 0),
                                line("mean", constant(series.mean), .dashed, 6),
                                line("limits", constant(series.upperLimit), .dotted, 3),
                                line("", constant(series.lowerLimit), .dotted, 3),
                                .init(
                                    name: "special cause",
                                    points: flagged.compactMap { i in series.values[i].map { (Double(i), $0) } },
                                    style: .points, colour: 1, labels: flagged.map { dates[$0] }),
                            ].filter { !$0.points.isEmpty })),
                    table: PanelTable(
                        name: "quality-spc",
                        columns: ["as_of", "run", "value", "mean", "lower_limit", "upper_limit", "special_cause"],
                        rows: series.values.indices.map { i in
                            [
                                dates[i], String(runs[i].runId), cell(series.values[i]), cell(series.mean),
                                cell(series.lowerLimit),
                                cell(series.upperLimit), series.specialCause[i] ?? "",
                            ]
                        })))
        }

        // This run's figures per source, with what the charts flag at this run.
        let current = history?.current.entries ?? []
        let sourceFigures = [
            "rows", "rows_per_1000", "latest_month_per_1000", "days_since_latest", "empty_months", "quarantine_rate",
            "linked_share", "unrecognised_code_share",
        ]
        /// Where this run's point lies on a series' chart, when a rule flags it.
        func flag(_ series: QualityHistory.Series) -> String? { series.specialCause.last ?? nil }
        func flags(_ subject: QualitySubject) -> String {
            (history?.series ?? []).filter { $0.subject == subject }.compactMap { s in flag(s).map { "\(s.figure) (\($0))" } }
                .joined(separator: "; ")
        }
        panels.append(
            Panel(
                id: "sources", title: "Sources in this run",
                note:
                    "Each file of the input contract as received (0 rows for one that did not come), and which of its figures the run-by-run charts flag at this run. Sources not shared for planning show rows and quarantine only.",
                table: PanelTable(
                    name: "sources", columns: ["file"] + sourceFigures + ["flagged"],
                    rows: current.filter { $0.subject.kind == .source }.map { entry in
                        [entry.subject.id] + sourceFigures.map { cell(entry.figures[$0]) } + [flags(entry.subject)]
                    })))

        // Each provider's rows of each file it sends.
        let providerFigures = [
            "rows", "rows_per_1000", "latest_month_per_1000", "days_since_latest", "empty_months", "linked_share",
        ]
        panels.append(
            Panel(
                id: "providers", title: "Providers in this run",
                note:
                    "Each provider's rows of each hospital file (providers with fewer than 100 rows in a file have none of their own), and which figures the run-by-run charts flag at this run: one trust's late submission shows here before it moves a whole file's figures.",
                table: PanelTable(
                    name: "providers", columns: ["provider", "file"] + providerFigures + ["flagged"],
                    rows: current.filter { $0.subject.kind == .provider }.map { entry in
                        let parts = entry.subject.id.split(separator: " ", maxSplits: 1).map(String.init)
                        return [parts.first ?? "", parts.count > 1 ? parts[1] : ""]
                            + providerFigures.map { cell(entry.figures[$0]) }
                            + [flags(entry.subject)]
                    })))

        // The unit's practices with a figure the charts flag at this run.
        let inUnit = Set(
            p.units.filter { $0.level == .practice && p.path(to: $0.code).contains { $0.code == q.unit.code } }.map(\.code))
        let flaggedPractices = (history?.series ?? []).filter {
            $0.subject.kind == .practice && inUnit.contains($0.subject.id) && flag($0) != nil
        }
        panels.append(
            Panel(
                id: "practices", title: "Practices in \(q.unit.name) flagged at this run",
                note:
                    "Practice figures count the primary care events of each practice's registered people without an opt-out; practices with fewer than 100 such people have none. A flag is a question for the practice or its supplier (a new clinical system, a missing month), not yet a judgement.",
                table: PanelTable(
                    name: "practices", columns: ["practice", "figure", "value", "mean", "side"],
                    rows: flaggedPractices.map {
                        [$0.subject.id, $0.figure, cell($0.values.last ?? nil), cell($0.mean), flag($0) ?? ""]
                    })))

        // What changed since the previous run.
        if let changes = p.run.changes {
            func count(_ x: Int?) -> String { x.map(String.init) ?? "" }
            panels.append(
                Panel(
                    id: "changes",
                    title: "Since the previous run (run \(changes.previousRunId), as of \(changes.previousAsOf))",
                    note:
                        "People registered without an opt-out, matched by pseudonym between the two runs; shares in both runs with the difference and its 95% interval (Newcombe's hybrid score method; it treats the runs as independent, so it is wide). \(changes.warning ?? "")",
                    table: PanelTable(
                        name: "changes", columns: ["measure", "previous", "current", "difference", "lower_95", "upper_95"],
                        rows: [
                            ["people in both runs", "", count(changes.matched), "", "", ""],
                            ["people who joined", "", count(changes.joined), "", "", ""],
                            ["people who left", "", count(changes.left), "", "", ""],
                        ]
                            + changes.headlines.map {
                                [
                                    $0.name, cell($0.previous), cell($0.current), cell($0.difference), cell($0.lower95),
                                    cell($0.upper95),
                                ]
                            })))
        }

        // People by risk tier then and now in the unit.
        let transitions = unitRows(p.tierTransitions, q.unit).filter { $0.outcome == Outcome.emergencyAdmission.rawValue }
        if !transitions.isEmpty {
            let states = PersonFrame.transitionStates
            let value = { (from: String, to: String) -> Double? in
                transitions.first { $0.from == from && $0.to == to }?.people.map(Double.init)
            }
            panels.append(
                Panel(
                    id: "flow", title: "Emergency admission risk tiers: how people moved, \(q.unit.name)",
                    note:
                        "Each band is the people who went from a tier in the previous run (left) to a tier in this one (right); outside is joining or leaving the unit. Suppressed counts are not drawn, so a state's bar counts its published cells only.",
                    chart: .flow(
                        .init(
                            states: states.map(label), leftTitle: "previous run", rightTitle: "this run",
                            counts: states.map { from in states.map { to in value(from, to) } }, format: .count)),
                    table: PanelTable(
                        name: "flow", columns: ["from", "to", "people"],
                        rows: transitions.map { [$0.from, $0.to, $0.people.map(String.init) ?? ""] })))
            panels.append(
                Panel(
                    id: "transitions", title: "Emergency admission risk tiers: previous run to this one, \(q.unit.name)",
                    note:
                        "People by their tier in the previous run (rows) and in this one (columns). Outside: not among the unit's registered people in that run (joined, left, moved, died or opted out). Cells from a tier to a higher tier are people who moved up: rising risk across runs. Empty cells are suppressed.",
                    chart: .heatMap(
                        .init(
                            rows: states.map(label), columns: states.map(label), rowTitle: "previous run",
                            columnTitle: "this run",
                            values: states.map { from in states.map { to in value(from, to) } }, format: .count)),
                    table: PanelTable(
                        name: "transitions", columns: ["previous_run_tier"] + states,
                        rows: states.map { from in [from] + states.map { to in value(from, to).map { String(Int($0)) } ?? "" } }))
            )
        }
        return panels
    }
}
