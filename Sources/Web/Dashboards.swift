import Analysis
import Cohorts
import Foundation
import Identity
import Ingest
import PHMCore
import Risk
import Service
import Storage

/// One chart and the table it draws. The table is what the API returns and the CSV download
/// holds: the run's published values, unformatted.
struct Panel: Sendable {
    var id: String
    var title: String
    var note: String = ""
    var chart: Chart?
    var table: PublishedTable
}

/// What a page is asked for: a unit of the hierarchy and, on some pages, an indicator or measure.
struct PageQuery: Sendable {
    var unit: PublishedUnit
    var indicator: String
    var measure: String
}

/// The analytic pages. Each is a function from the published outputs and a query to panels, so
/// the HTML page, its JSON and its CSV downloads cannot disagree.
enum Dashboard: String, CaseIterable, Sendable {
    case overview, multimorbidity, risk, segments, inequalities, variation

    var title: String {
        switch self {
        case .overview: "Population overview"
        case .multimorbidity: "Multimorbidity"
        case .risk: "Risk stratification"
        case .segments: "Segments"
        case .inequalities: "Inequalities"
        case .variation: "Variation"
        }
    }

    var path: String { "/" + rawValue }

    /// The choices of indicator (inequalities, variation) or measure (variation's SPC charts).
    func indicators(_ p: Publication) -> [String] {
        switch self {
        case .inequalities: Dashboard.distinct(p.table("inequalities"), "indicator")
        case .variation: Dashboard.distinct(p.table("variation"), "indicator")
        default: []
        }
    }

    func measures(_ p: Publication) -> [String] { self == .variation ? Dashboard.distinct(p.table("spc"), "measure") : [] }

    static let defaultIndicator = "emergency_admissions"

    static func distinct(_ table: PublishedTable, _ column: String) -> [String] {
        guard let c = table.column(column) else { return [] }
        var seen = Set<String>(), values: [String] = []
        for row in table.rows where seen.insert(row[c]).inserted { values.append(row[c]) }
        return values
    }

    func panels(_ p: Publication, _ q: PageQuery) -> [Panel] {
        switch self {
        case .overview: Dashboard.overview(p, q)
        case .multimorbidity: Dashboard.multimorbidity(p, q)
        case .risk: Dashboard.risk(p, q)
        case .segments: Dashboard.segments(p, q)
        case .inequalities: Dashboard.inequalities(p, q)
        case .variation: Dashboard.variation(p, q)
        }
    }

    // MARK: helpers

    /// A published table's rows for one unit, without the columns naming the unit.
    static func unitRows(_ table: PublishedTable, _ unit: PublishedUnit, where extra: ([String]) -> Bool = { _ in true })
        -> PublishedTable
    {
        let unitColumns: Set<String> = ["level", "unit_code", "unit_name", "parent_code"]
        let keep = table.columns.indices.filter { !unitColumns.contains(table.columns[$0]) }
        let code = table.column("unit_code") ?? 0
        return PublishedTable(
            name: table.name, columns: keep.map { table.columns[$0] },
            rows: table.rows.filter { $0[code] == unit.code && extra($0) }.map { row in keep.map { row[$0] } })
    }

    static func number(_ s: String) -> Double? { s.isEmpty ? nil : Double(s) }

    static func column(_ t: PublishedTable, _ name: String) -> [String] {
        guard let c = t.column(name) else { return [] }
        return t.rows.map { $0[c] }
    }

    static func numbers(_ t: PublishedTable, _ name: String) -> [Double?] { column(t, name).map(number) }

    static func label(_ id: String) -> String { id.replacingOccurrences(of: "_", with: " ") }

    /// A label starting a sentence or heading.
    static func title(_ id: String) -> String { label(id).prefix(1).uppercased() + label(id).dropFirst() }

    // MARK: overview

    static func overview(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let pop = p.population[q.unit.code]
        func cell(_ x: Double?, _ decimals: Int = 2) -> String { x.map { String(format: "%.\(decimals)f", $0) } ?? "" }
        let headline = PublishedTable(
            name: "headline", columns: ["measure", "value", "format"],
            rows: [
                ["People registered without a National Data Opt-out", pop?.people.map(String.init) ?? "", "count"],
                ["Mean age", cell(pop?.meanAge, 1), "decimal"],
                ["Aged 65 and over (%)", cell(pop?.aged65Plus), "percent"],
                ["With 2 or more long-term conditions (%)", cell(pop?.multimorbid), "percent"],
                ["Emergency admissions per 1,000 in the last 12 months", cell(pop?.emergencyAdmissionsPer1000, 1), "rate"],
                ["Cost of care in the last 12 months (GBP)", cell(pop?.totalCost), "money"],
                ["Cost per head (GBP)", cell(pop?.costPerHead), "money"],
                ["At high or very high risk of emergency admission (%)", cell(pop?.highRisk), "percent"],
            ])
        let bands = CohortProfile.pyramidBands
        let pyramid = PublishedTable(
            name: "pyramid", columns: ["age_band", "female", "male"],
            rows: bands.indices.map { i in
                [bands[i], pop?.female[i].map(String.init) ?? "", pop?.male[i].map(String.init) ?? ""]
            })
        var panels = [
            Panel(
                id: "headline", title: "Headline figures",
                note:
                    "Use and cost cover the 12 months before \(p.asOf). Counts of 1 to 7 are suppressed and others rounded to 5; shares and rates are of the rounded counts. Means count each person's value up to the population's 99.9th centile and are rounded to a step no one person can cross; the total cost is the cost per head times the people.",
                table: headline),
            Panel(
                id: "pyramid", title: "Age and sex",
                chart: .pyramid(
                    .init(
                        labels: bands, left: numbers(pyramid, "female"), right: numbers(pyramid, "male"), leftName: "Female",
                        rightName: "Male")), table: pyramid),
        ]
        // Sources and data quality belong to the run, not a unit: shown at the top of the hierarchy.
        guard q.unit.level == .organisation else { return panels }
        let sources = DataSource.allCases.map(\.rawValue)
        let sourceTable = PublishedTable(
            name: "sources", columns: ["source", "present"],
            rows: sources.map { [$0, p.run.sourcesPresent.contains($0) ? "yes" : "no"] })
        let linkage = PublishedTable(
            name: "linkage", columns: ["file", "records", "linked", "linked_pct"],
            rows: p.linkage.keys.sorted().map { file in
                let c = p.linkage[file]!
                return [
                    file, String(c.records), String(c.linked),
                    cell(c.records == 0 ? nil : 100 * Double(c.linked) / Double(c.records)),
                ]
            })
        let quality = PublishedTable(
            name: "reconciliation", columns: ["file", "present", "rows_in", "accepted", "quarantined", "quarantined_pct"],
            rows: p.reconciliation.map {
                [
                    $0.file, $0.present ? "yes" : "no", String($0.rowsIn), String($0.accepted), String($0.quarantined),
                    cell($0.rowsIn == 0 ? nil : 100 * Double($0.quarantined) / Double($0.rowsIn), 3),
                ]
            })
        panels += [
            Panel(
                id: "sources", title: "Sources in this run",
                note: "\(p.run.sourcesPresent.count) of \(sources.count) sources present.", table: sourceTable),
            Panel(
                id: "linkage", title: "Linkage to the GP spine",
                note:
                    "\(Format.count.show(Double(p.run.careRecordsLinked))) of \(Format.count.show(Double(p.run.careRecords))) care records linked.",
                chart: .bars(
                    .init(
                        labels: column(linkage, "file"), values: numbers(linkage, "linked_pct"), format: .percent,
                        reference: (100, "all linked"))), table: linkage),
            Panel(
                id: "reconciliation", title: "Data quality: rows in, accepted and quarantined",
                note:
                    "\(Format.count.show(Double(p.run.rowsIn))) rows read, \(Format.count.show(Double(p.run.rowsAccepted))) accepted, \(Format.count.show(Double(p.run.rowsQuarantined))) quarantined; every file \(p.run.reconciliationBalanced ? "balances" : "does NOT balance").",
                chart: .bars(
                    .init(labels: column(quality, "file"), values: numbers(quality, "quarantined_pct"), format: .percent)),
                table: quality),
        ]
        return panels
    }

    // MARK: multimorbidity

    static let ltcBands = LTCBand.allCases.map { ($0.id, $0.label) }
    static let ageBands = AgeBand.allCases.map { ($0.letter, $0.label) }

    static func multimorbidity(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let seed = unitRows(p.table("multimorbidity-by-unit"), q.unit)
        let counts = seed.keeping { seed.value($0, "ltc_count") != "total" }
        let cells = unitRows(p.table("segment-profiles"), q.unit) {
            $0[p.table("segment-profiles").column("segmentation")!] == "ltc_age"
        }
        let ids = column(cells, "segment"), costs = numbers(cells, "mean_emergency_cost_gbp")
        let values = ltcBands.map { l in
            ageBands.map { a in ids.firstIndex(of: l.0 + a.0).flatMap { costs[$0] } }
        }
        let heat = PublishedTable(
            name: "ltc-age-emergency-cost",
            columns: ["ltc_band", "age_band", "people", "mean_emergency_cost_gbp"],
            rows: cells.rows.map { row in
                let id = cells.value(row, "segment")
                return [
                    ltcBands.first { id.hasPrefix($0.0) }?.1 ?? "", ageBands.first { id.hasSuffix($0.0) }?.1 ?? "",
                    cells.value(row, "people"), cells.value(row, "mean_emergency_cost_gbp"),
                ]
            })
        let concentration = unitRows(p.table("cost-concentration"), q.unit)
        let deciles = (1...9).map { "lorenz_\($0 * 10)" }
        let lorenz = concentration.rows.enumerated().map { k, row -> Chart.Plot.Series in
            let ys = deciles.map { Double(concentration.value(row, $0)) ?? 0 }
            let points = [(0.0, 0.0)] + zip(1...9, ys).map { (Double($0 * 10), 100 * $1) } + [(100.0, 100.0)]
            return .init(
                name: label(concentration.value(row, "scope")), points: points.map { (x: $0.0, y: $0.1) }, style: .line,
                colour: k)
        }
        return [
            Panel(
                id: "ltc-count", title: "People and their use of care by number of long-term conditions",
                note: "The seed multimorbidity table for this unit: means per person over the 12 months before \(p.asOf).",
                chart: .bars(
                    .init(
                        labels: column(counts, "ltc_count").map { $0 + " LTCs" },
                        values: numbers(counts, "pct_patients").map { $0.map { 100 * $0 } }, format: .percent)),
                table: seed),
            Panel(
                id: "ltc-age", title: "Mean emergency admission cost by long-term conditions and age",
                chart: .heatMap(
                    .init(
                        rows: ltcBands.map { $0.1 + " LTCs" }, columns: ageBands.map(\.1), rowTitle: "Conditions",
                        columnTitle: "Age band", values: values, format: .money)), table: heat),
            Panel(
                id: "cost-concentration", title: "Cost concentration",
                note:
                    "Share of cost held by the cheapest x% of people (Lorenz curve); the further below the diagonal, the more concentrated.",
                chart: .plot(
                    .init(
                        x: .init(title: "People, cheapest first (%)", range: 0...100, format: .decimal),
                        y: .init(title: "Share of cost (%)", range: 0...100, format: .decimal),
                        series: lorenz + [
                            .init(name: "equal shares", points: [(0, 0), (100, 100)], style: .dotted, colour: 6)
                        ])), table: concentration),
        ]
    }

    // MARK: risk

    static func risk(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let tiers = p.table("risk-tiers")
        var panels: [Panel] = []
        // Which model ranks people for each outcome, and why: a fallback or a refusal comes first.
        let choices = (p.run.riskChoices ?? []).sorted { $0.warning && !$1.warning }
        if !choices.isEmpty {
            panels.append(
                Panel(
                    id: "model-choice", title: "Which model ranks people",
                    note: choices.contains { $0.warning }
                        ? "Warning: for at least one outcome the platform fell back from its models, or ranks no one. Read why before acting on tiers or worklists."
                        : "Each outcome is ranked by the model chosen on evidence: tuned inside the training data, and better than age and sex alone on people held out of training.",
                    table: PublishedTable(
                        name: "model-choice", columns: ["outcome", "ranked by", "warning", "why"],
                        rows: choices.map { [$0.outcome, $0.model ?? "no one is ranked", $0.warning ? "yes" : "no", $0.reason] }))
            )
        }
        for outcome in distinct(tiers, "outcome") {
            let rows = unitRows(tiers, q.unit) { $0[tiers.column("outcome")!] == outcome }
            panels.append(
                Panel(
                    id: "tiers-" + outcome, title: "Risk tiers: \(label(outcome))",
                    chart: .bars(.init(labels: column(rows, "tier"), values: numbers(rows, "people"), format: .count)),
                    table: rows))
        }
        let rising = unitRows(p.table("rising-risk"), q.unit)
        panels.append(
            Panel(
                id: "rising", title: "Rising risk",
                note: "People whose tier rose, or whose risk rose materially, since the previous year's scores.",
                chart: .bars(
                    .init(labels: column(rising, "outcome").map(label), values: numbers(rising, "pct_rising"), format: .percent)),
                table: rising))
        for card in p.models {
            let e = card.heldOut, outcome = card.outcome.rawValue
            let metrics = PublishedTable(
                name: "model", columns: ["measure", "value"],
                rows: [
                    ["algorithm", card.algorithm.rawValue], ["trained on people", String(card.trainingPeople)],
                    ["held-out people", String(e.people)], ["held-out events", String(e.events)],
                    ["AUROC", String(format: "%.3f", e.auroc)],
                    ["AUROC 95% CI", String(format: "%.3f to %.3f", e.aurocLower, e.aurocUpper)],
                    ["AUPRC", String(format: "%.3f", e.auprc)], ["Brier score", String(format: "%.4f", e.brier)],
                ]
                    + (e.calibrationMeasures.map { c in
                        [
                            [
                                "observed / expected (95% CI)",
                                String(
                                    format: "%.3f (%.3f to %.3f)", c.observedOverExpected, c.observedOverExpectedLower,
                                    c.observedOverExpectedUpper),
                            ],
                            [
                                "calibration-in-the-large (95% CI)",
                                String(format: "%.3f (%.3f to %.3f)", c.inTheLarge, c.inTheLargeLower, c.inTheLargeUpper),
                            ],
                            [
                                "calibration slope (95% CI)",
                                String(format: "%.3f (%.3f to %.3f)", c.slope, c.slopeLower, c.slopeUpper),
                            ],
                        ]
                    } ?? []))
            let roc = PublishedTable(
                name: "roc", columns: ["false_positive_rate", "true_positive_rate"],
                rows: e.roc.map { [String(format: "%.4f", $0[0]), String(format: "%.4f", $0[1])] })
            let calibration = PublishedTable(
                name: "calibration", columns: ["decile", "people", "mean_predicted_risk", "observed_rate"],
                rows: e.calibration.map {
                    [
                        String($0.decile), String($0.people), String(format: "%.4f", $0.expected),
                        String(format: "%.4f", $0.observed),
                    ]
                })
            let highest = max(0.05, (e.calibration.map(\.expected) + e.calibration.map(\.observed)).max() ?? 1) * 100
            panels += [
                Panel(
                    id: "model-" + outcome, title: "Model card: \(label(outcome))",
                    note: "\(card.outcomeDefinition). Evaluated on people held out of training (index \(card.trainingIndex)).",
                    table: metrics),
                Panel(
                    id: "roc-" + outcome, title: "ROC curve: \(label(outcome))",
                    note: String(format: "AUROC %.3f (95%% CI %.3f to %.3f).", e.auroc, e.aurocLower, e.aurocUpper),
                    chart: .plot(
                        .init(
                            x: .init(title: "False positive rate", range: 0...1, format: .decimal),
                            y: .init(title: "True positive rate", range: 0...1, format: .decimal),
                            series: [
                                .init(name: "model", points: e.roc.map { (x: $0[0], y: $0[1]) }, style: .line, colour: 0),
                                .init(name: "chance", points: [(0, 0), (1, 1)], style: .dotted, colour: 6),
                            ])), table: roc),
                Panel(
                    id: "calibration-" + outcome, title: "Calibration: \(label(outcome))",
                    note: "Observed against predicted risk by decile of predicted risk; a calibrated model lies on the diagonal.",
                    chart: .plot(
                        .init(
                            x: .init(title: "Predicted (%)", range: 0...highest, format: .decimal),
                            y: .init(title: "Observed (%)", range: 0...highest, format: .decimal),
                            series: [
                                .init(
                                    name: "deciles", points: e.calibration.map { (x: 100 * $0.expected, y: 100 * $0.observed) },
                                    style: .points, colour: 3, labels: e.calibration.map { "decile \($0.decile)" }),
                                .init(name: "perfect", points: [(0, 0), (highest, highest)], style: .dotted, colour: 6),
                            ])), table: calibration),
            ]
        }
        return panels
    }

    // MARK: segments

    static func segments(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let profiles = p.table("segment-profiles")
        guard let s = profiles.column("segmentation") else { return [] }
        return distinct(profiles, "segmentation").map { segmentation in
            let rows = unitRows(profiles, q.unit) { $0[s] == segmentation }
            return Panel(
                id: segmentation, title: "Segmentation: \(label(segmentation))",
                chart: .bars(
                    .init(labels: column(rows, "segment_name"), values: numbers(rows, "pct_population"), format: .percent)),
                table: rows)
        }
    }

    // MARK: inequalities

    static func inequalities(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let table = p.table("inequalities")
        guard let indicator = table.column("indicator") else { return [] }
        let rows = unitRows(table, q.unit) { $0[indicator] == q.indicator }
        let breakdown = rows.column("breakdown") ?? 0
        let unit = rows.rows.first { $0[breakdown] == "all" }
        let overall = unit.flatMap { number(rows.value($0, "value")) }
        let units = unit.map { rows.value($0, "measure") } ?? ""
        let format: Format = units == "percent" ? .percent : units.hasPrefix("GBP") ? .money : .rate
        func panel(_ id: String, _ title: String, _ groups: String, note: String = "") -> Panel {
            // The deprivation table carries the gradient rows (slope and relative index) too.
            let part = rows.keeping {
                $0[breakdown] == groups || (groups == "imd_decile" && $0[breakdown] == "imd_decile_gradient")
            }
            let bars = part.keeping { $0[breakdown] == groups }
            let lower = numbers(bars, "lower_95"), upper = numbers(bars, "upper_95")
            return Panel(
                id: id, title: title, note: note,
                chart: .bars(
                    .init(
                        labels: column(bars, "group"), values: numbers(bars, "value"),
                        intervals: zip(lower, upper).map { l, u in l.flatMap { l in u.map { (l, $0) } } }, format: format,
                        reference: overall.map { ($0, "whole unit") })), table: part)
        }
        let sii = rows.rows.first { rows.value($0, "group") == "sii" }
        let rii = rows.rows.first { rows.value($0, "group") == "rii" }
        var gradient = ""
        if let sii, let value = number(rows.value(sii, "value")) {
            gradient =
                "Slope index of inequality \(format.show(value)) (95% CI \(format.show(number(rows.value(sii, "lower_95")))) to \(format.show(number(rows.value(sii, "upper_95")))))"
            if let rii, let r = number(rows.value(rii, "value")) { gradient += ", relative index \(Format.ratio.show(r))" }
            gradient +=
                ": the modelled gap between the most and least deprived ends of the population (decile 1 is the most deprived)."
        }
        return [
            panel("deprivation", "\(title(q.indicator)) by deprivation decile (\(units))", "imd_decile", note: gradient),
            panel("ethnicity", "\(title(q.indicator)) by ethnic group (\(units))", "ethnic_group"),
            panel(
                "core20", "\(title(q.indicator)): Core20 against the rest (\(units))", "core20",
                note: "Core20: people living in the 20% most deprived areas of England (Core20PLUS5)."),
        ]
    }

    // MARK: variation

    static func variation(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let table = p.table("variation")
        guard let indicator = table.column("indicator"), let parent = table.column("parent_code") else { return [] }
        // A unit's children compared with each other; a practice among its PCN's practices.
        let peersOf = q.unit.level == .practice ? (q.unit.parent ?? q.unit.code) : q.unit.code
        let peers = table.keeping { $0[parent] == peersOf && $0[indicator] == q.indicator }
        let rows = PublishedTable(
            name: "funnel",
            columns: ["unit_code", "unit_name"]
                + peers.columns.filter { !["level", "unit_code", "unit_name", "parent_code", "indicator"].contains($0) },
            rows: peers.rows.map { row in
                [peers.value(row, "unit_code"), peers.value(row, "unit_name")]
                    + peers.columns.indices.filter {
                        !["level", "unit_code", "unit_name", "parent_code", "indicator"].contains(peers.columns[$0])
                    }.map { row[$0] }
            })
        let expected = numbers(rows, "expected"), ratio = numbers(rows, "ratio")
        var points: [(x: Double, y: Double)] = [], labels: [String] = [], highlight: [(x: Double, y: Double)] = []
        var limits: [(x: Double, l95: Double, u95: Double, l998: Double, u998: Double)] = []
        for (i, row) in rows.rows.enumerated() {
            guard let e = expected[i], let r = ratio[i] else { continue }
            if rows.value(row, "unit_code") == q.unit.code {
                highlight.append((e, r))
            } else {
                points.append((e, r))
                labels.append(rows.value(row, "unit_name"))
            }
            if let l95 = number(rows.value(row, "funnel_lower_95")), let u95 = number(rows.value(row, "funnel_upper_95")),
                let l998 = number(rows.value(row, "funnel_lower_998")), let u998 = number(rows.value(row, "funnel_upper_998"))
            {
                limits.append((e, l95, u95, l998, u998))
            }
        }
        limits.sort { $0.x < $1.x }
        // Counts have limits at any precision: drawn smooth over the plotted range with the
        // overdispersion the run estimated. Costs keep each unit's own limits.
        if let first = rows.rows.first, rows.value(first, "kind") != "mean", let e = expected.compactMap({ $0 }).max(), e > 0 {
            let low = max(0.5, (expected.compactMap { $0 }.min() ?? e) * 0.5), high = e * 1.5
            let grid = (0...60).map { low * pow(high / low, Double($0) / 60) }
            var plot = FunnelPlot(kind: .poisson, points: grid.map { .init(observed: $0, expected: $0) }, overdispersion: false)
            plot.tau2 = number(rows.value(first, "tau2")) ?? 0
            limits = grid.indices.map { i in
                let l = plot.limits(i)
                return (grid[i], l.lower95, l.upper95, l.lower998, l.upper998)
            }
        }
        let funnel = Chart.Plot(
            x: .init(title: "Expected (people or events)", format: .decimal),
            y: .init(title: "Observed / expected", format: .ratio),
            series: [
                .init(name: "units", points: points, style: .points, colour: 0, labels: labels),
                .init(name: "this unit", points: highlight, style: .points, colour: 1, labels: [q.unit.name]),
                .init(name: "95% limits", points: limits.map { ($0.x, $0.u95) }, style: .dashed, colour: 2),
                .init(name: "", points: limits.map { ($0.x, $0.l95) }, style: .dashed, colour: 2),
                .init(name: "99.8% limits", points: limits.map { ($0.x, $0.u998) }, style: .line, colour: 3),
                .init(name: "", points: limits.map { ($0.x, $0.l998) }, style: .line, colour: 3),
                .init(
                    name: "target",
                    points: [(expected.compactMap { $0 }.min() ?? 0, 1), (expected.compactMap { $0 }.max() ?? 1, 1)],
                    style: .dotted, colour: 6),
            ].filter { !$0.points.isEmpty })
        let spc = p.table("spc")
        let measure = q.measure
        let series = unitRows(spc, q.unit) { $0[spc.column("measure")!] == measure }
        let months = column(series, "month"), values = numbers(series, "value")
        let xs = months.indices.map(Double.init)
        func line(_ name: String, _ column: String, _ style: Chart.Plot.Series.Style, _ colour: Int) -> Chart.Plot.Series {
            .init(
                name: name, points: zip(xs, numbers(series, column)).compactMap { x, y in y.map { (x, $0) } }, style: style,
                colour: colour)
        }
        let special = zip(xs, zip(values, column(series, "special_cause"))).compactMap { x, vs in
            vs.1 == "Y" ? vs.0.map { (x, $0) } : nil
        }
        let specialLabels = zip(months, column(series, "special_cause")).filter { $0.1 == "Y" }.map(\.0)
        return [
            Panel(
                id: "funnel", title: "Funnel plot: \(label(q.indicator))",
                note:
                    "Each unit's indirectly standardised ratio against its expected count, with 95% and 99.8% limits (Spiegelhalter 2005, adjusted for overdispersion). Points beyond 99.8% are flagged in the table's outlier column.",
                chart: .plot(funnel), table: rows),
            Panel(
                id: "spc", title: "Statistical process control: \(label(measure)) per month",
                note:
                    "An XmR chart (NHS England, Making Data Count): mean and natural process limits; special-cause months are marked. Months run from \(months.first ?? "") to \(months.last ?? "").",
                chart: .plot(
                    .init(
                        x: .init(title: "Month", format: .count, categories: months),
                        y: .init(title: label(measure), format: .decimal),
                        series: [
                            line(label(measure), "value", .line, 0), line("mean", "mean", .dashed, 6),
                            line("limits", "upper_limit", .dotted, 3), line("", "lower_limit", .dotted, 3),
                            .init(name: "special cause", points: special, style: .points, colour: 1, labels: specialLabels),
                        ].filter { !$0.points.isEmpty })), table: series),
        ]
    }
}

extension Format {
    /// The format of a published column, from its name.
    static func of(column name: String) -> Format {
        if [
            "measure", "format", "source", "file", "present", "tier", "outcome", "segment", "segment_name", "segmentation",
            "breakdown", "group", "kind", "method", "month", "unit_code", "unit_name", "scope", "ltc_band", "age_band", "outlier",
            "side", "improvement", "trial_limits", "beyond_limits", "shift", "trend", "two_of_three",
            "special_cause", "algorithm", "indicator",
        ].contains(name) {
            return .text
        }
        if name.hasSuffix("_gbp") || name == "value_gbp" { return .money }
        // The seed multimorbidity table gives its share as a fraction, as the seed does.
        if name == "pct_patients" { return .share }
        if name.hasPrefix("pct_") || name.hasSuffix("_pct") { return .percent }
        if name.hasSuffix("_per_1000") { return .rate }
        if [
            "people", "patients", "records", "linked", "rows_in", "accepted", "quarantined", "numerator", "observed",
            "people_compared", "tier_rose", "risk_rose_materially", "rising", "rose_into_high_or_very_high", "female", "male",
            "ltc_count", "decile",
        ].contains(name) {
            return .count
        }
        return .decimal
    }
}

/// Built pages, kept per run, page and query. A page's panels depend on nothing else, so every
/// user asking for the same unit gets the same bytes without building them again; the header
/// with the user's name and CSRF token is added per request. When full, the cache starts again.
final class PageCache: Sendable {
    struct Built: Sendable {
        var panels: [Panel]
        var html: String
        var json: [UInt8]
    }

    static let capacity = 2_000
    private let built = Memo<Built>(limit: capacity)
    private let choices = Memo<Choices>(limit: 100)

    struct Choices: Sendable {
        var indicators: [String], measures: [String]
    }

    /// A page's indicators and measures, found once per run (a scan of the largest tables).
    func choices(_ dashboard: Dashboard, _ p: Publication) -> Choices {
        choices.value("\(p.runId)/\(dashboard.rawValue)") {
            Choices(indicators: dashboard.indicators(p), measures: dashboard.measures(p))
        }
    }

    func page(_ dashboard: Dashboard, _ p: Publication, _ q: PageQuery) -> Built {
        built.value([String(p.runId), dashboard.rawValue, q.unit.code, q.indicator, q.measure].joined(separator: "\u{1F}")) {
            let panels = dashboard.panels(p, q)
            return Built(
                panels: panels, html: Pages.dashboard(dashboard, p, q, panels: panels),
                // Strings and finite numbers only (cells are typed): encoding cannot fail.
                json: (try? JSON.bytes(API.Page(dashboard, p, q, panels: panels))) ?? [])
        }
    }
}
