import Cohorts
import Foundation
import Outputs
import PHMCore
import Service

/// One chart and the table it draws. The table is what the API returns and the CSV download
/// holds: the run's published values, unformatted.
struct Panel: Sendable {
    var id: String
    var title: String
    var note: String = ""
    var chart: Chart?
    var table: PanelTable
}

/// A panel's table: columns and cells as text, as the published file holds them.
struct PanelTable: Sendable {
    var name: String
    var columns: [String]
    var rows: [[String]]
    /// Per cell, whether its column means nothing for its row (so an empty cell is not a
    /// suppressed one); empty when every column applies.
    var notApplicable: [[Bool]] = []
    /// Formats of columns whose names do not say them (a projection's `value` is people on one
    /// page and pounds on another).
    var formats: [String: Format] = [:]

    /// Published rows of one unit, without the unit's columns: their cells and note as the
    /// unit's rows have them (the organisation has no parent's value).
    init<Row: TableRow>(_ name: String, _ rows: [Row], of unit: PublishedUnit) {
        let columns = UnitColumns(level: unit.level.rawValue, unitCode: unit.code, unitName: unit.name, parentCode: unit.parent)
        let wrapped = rows.map { UnitRow(columns, $0) }
        let skip = UnitColumns.columns.count
        self.init(name: name, columns: Row.header, rows: UnitRow<Row>.cells(of: wrapped).map { Array($0.dropFirst(skip)) })
        notApplicable = wrapped.map { row in Row.header.map { !row.applies($0) } }
    }

    init(name: String, columns: [String], rows: [[String]]) {
        self.name = name
        self.columns = columns
        self.rows = rows
    }

    func column(_ name: String) -> Int? { columns.firstIndex(of: name) }

    func csv() -> [UInt8] {
        var out = CSVRows(capacity: 64 * (rows.count + 1))
        for record in [columns] + rows {
            for field in record { out.field(field) }
            out.end()
        }
        return out.bytes
    }
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
    case overview, multimorbidity, risk, segments, inequalities, determinants, variation, projections, quality

    var title: String {
        switch self {
        case .overview: "Population overview"
        case .multimorbidity: "Multimorbidity"
        case .risk: "Risk stratification"
        case .segments: "Segments"
        case .inequalities: "Inequalities"
        case .determinants: "Wider determinants"
        case .variation: "Variation"
        case .projections: "Projections"
        case .quality: "Data quality and changes"
        }
    }

    var path: String { "/" + rawValue }

    /// The choices of indicator (inequalities, variation) or measure (variation's SPC charts).
    func indicators(_ p: Publication) -> [String] {
        switch self {
        case .inequalities: Dashboard.distinct(p.inequalities.map(\.row.indicator))
        case .variation: Dashboard.distinct(p.variation.map(\.row.indicator))
        default: []
        }
    }

    func measures(_ p: Publication) -> [String] {
        switch self {
        case .variation: Dashboard.distinct(p.spc.map(\.row.measure))
        case .projections: p.projection == nil ? [] : Dashboard.projected.map(\.column)
        case .quality: Dashboard.qualityMeasures(p)
        default: []
        }
    }

    /// The choice a page opens with, when it is one of the page's.
    var preferred: String {
        switch self {
        case .projections: "people"
        case .quality: Dashboard.qualityPreferred
        default: Dashboard.defaultIndicator
        }
    }

    static let defaultIndicator = "emergency_admissions"

    /// The values in first-seen order.
    static func distinct(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    func panels(_ p: Publication, _ q: PageQuery) -> [Panel] {
        switch self {
        case .overview: Dashboard.overview(p, q)
        case .multimorbidity: Dashboard.multimorbidity(p, q)
        case .risk: Dashboard.risk(p, q)
        case .segments: Dashboard.segments(p, q)
        case .inequalities: Dashboard.inequalities(p, q)
        case .determinants: Dashboard.determinants(p, q)
        case .variation: Dashboard.variation(p, q)
        case .projections: Dashboard.projections(p, q)
        case .quality: Dashboard.quality(p, q)
        }
    }

    // MARK: helpers

    /// A published table's rows for one unit.
    static func unitRows<Row: TableRow>(_ rows: [UnitRow<Row>], _ unit: PublishedUnit) -> [Row] {
        rows.filter { $0.unit.unitCode == unit.code }.map(\.row)
    }

    static func number(_ s: String) -> Double? { s.isEmpty ? nil : Double(s) }

    static func column(_ t: PanelTable, _ name: String) -> [String] {
        guard let c = t.column(name) else { return [] }
        return t.rows.map { $0[c] }
    }

    static func numbers(_ t: PanelTable, _ name: String) -> [Double?] { column(t, name).map(number) }

    static func label(_ id: String) -> String { id.replacingOccurrences(of: "_", with: " ") }

    /// A label starting a sentence or heading.
    static func title(_ id: String) -> String { label(id).prefix(1).uppercased() + label(id).dropFirst() }

    // MARK: overview

    static func overview(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let pop = p.population[q.unit.code]
        func cell(_ x: Double?, _ decimals: Int = 2) -> String { x.map { String(format: "%.\(decimals)f", $0) } ?? "" }
        let headline = PanelTable(
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
        let pyramid = PanelTable(
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
                note:
                    "How to read it: each bar is a five-year age band, women to the left and men to the right; a wide base means a young population, a wide top an old one.",
                chart: .pyramid(
                    .init(
                        labels: bands, left: numbers(pyramid, "female"), right: numbers(pyramid, "male"), leftName: "Female",
                        rightName: "Male")), table: pyramid),
        ]
        // Sources and data quality belong to the run, not a unit: shown at the top of the hierarchy.
        guard q.unit.level == .organisation else { return panels }
        let sources = DataSource.allCases.map(\.rawValue)
        let sourceTable = PanelTable(
            name: "sources", columns: ["source", "present"],
            rows: sources.map { [$0, p.run.sourcesPresent.contains($0) ? "yes" : "no"] })
        let linkage = PanelTable(
            name: "linkage", columns: ["file", "records", "linked", "linked_pct"],
            rows: p.linkage.keys.sorted().map { file in
                let c = p.linkage[file]!
                return [
                    file, String(c.records), String(c.linked),
                    cell(c.records == 0 ? nil : 100 * Double(c.linked) / Double(c.records)),
                ]
            })
        let groups = PanelTable(
            name: "linkage_by_group",
            columns: ["breakdown", "group", "records", "by_nhs_number_pct", "by_match_weight_pct", "unlinked_pct"],
            rows: p.linkageGroups.map { g in
                func percent(_ n: Int?) -> String {
                    guard let n, let records = g.records, records > 0 else { return "" }
                    return cell(100 * Double(n) / Double(records))
                }
                return [
                    g.breakdown, g.group, g.records.map(String.init) ?? "", percent(g.byNHSNumber), percent(g.byMatchWeight),
                    percent(g.unlinked),
                ]
            })
        let ethnicGroups = PanelTable(
            name: "linkage_by_ethnic_group", columns: groups.columns, rows: groups.rows.filter { $0[0] == "ethnic_group" })
        let quality = PanelTable(
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
                id: "linkage_by_group", title: "Linkage by group",
                note:
                    "How to read it: the bars are the share of each ethnic group's care records linked only by match weights, the weaker evidence; the table adds the share left unlinked, and age band and deprivation quintile. Records are grouped by what their source recorded (age from the date of birth, deprivation from the postcode): a group whose records link less often is under-counted in every table.",
                chart: .bars(
                    .init(
                        labels: column(ethnicGroups, "group"), values: numbers(ethnicGroups, "by_match_weight_pct"),
                        format: .percent)), table: groups),
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
        let seed = unitRows(p.multimorbidity, q.unit)
        let counts = seed.filter { $0.ltcCount != "total" }
        let cells = unitRows(p.segmentProfiles, q.unit).filter { $0.segmentation == "ltc_age" }
        let values = ltcBands.map { l in
            ageBands.map { a in cells.first { $0.segment == l.0 + a.0 }?.meanEmergencyCostGbp?.value }
        }
        let heat = PanelTable(
            name: "ltc-age-emergency-cost",
            columns: ["ltc_band", "age_band", "people", "mean_emergency_cost_gbp", RowNote.column],
            rows: cells.map { row in
                [
                    ltcBands.first { row.segment.hasPrefix($0.0) }?.1 ?? "",
                    ageBands.first { row.segment.hasSuffix($0.0) }?.1 ?? "", row.people.map(String.init) ?? "",
                    row.meanEmergencyCostGbp?.text ?? "", row.people == nil ? RowNote.suppressed : "",
                ]
            })
        let concentration = unitRows(p.costConcentration, q.unit)
        let lorenz = concentration.enumerated().map { k, row -> Chart.Plot.Series in
            let ys = row.lorenz.map { $0?.value ?? 0 }
            let points = [(0.0, 0.0)] + zip(1...9, ys).map { (Double($0 * 10), 100 * $1) } + [(100.0, 100.0)]
            return .init(name: label(row.scope), points: points.map { (x: $0.0, y: $0.1) }, style: .line, colour: k)
        }
        return [
            Panel(
                id: "ltc-count", title: "People and their use of care by number of long-term conditions",
                note: "The seed multimorbidity table for this unit: means per person over the 12 months before \(p.asOf).",
                chart: .bars(
                    .init(
                        labels: counts.map { $0.ltcCount + " LTCs" },
                        values: counts.map { $0.pctPatients.map { 100 * $0.value } }, format: .percent)),
                table: PanelTable("multimorbidity", seed, of: q.unit)),
            Panel(
                id: "ltc-age", title: "Mean emergency admission cost by long-term conditions and age",
                note:
                    "How to read it: each cell is the mean cost per person of emergency admissions in the last 12 months, for people with that many long-term conditions at that age; the darker the cell, the costlier. Empty cells hold too few people to show.",
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
                        ])), table: PanelTable("cost-concentration", concentration, of: q.unit)),
        ]
    }

    // MARK: risk

    static func risk(_ p: Publication, _ q: PageQuery) -> [Panel] {
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
                    table: PanelTable(
                        name: "model-choice", columns: ["outcome", "ranked by", "warning", "why"],
                        rows: choices.map { [$0.outcome, $0.model ?? "no one is ranked", $0.warning ? "yes" : "no", $0.reason] }))
            )
        }
        let tiers = unitRows(p.riskTiers, q.unit)
        for outcome in distinct(p.riskTiers.map(\.row.outcome)) {
            let rows = tiers.filter { $0.outcome == outcome }
            panels.append(
                Panel(
                    id: "tiers-" + outcome, title: "Risk tiers: \(label(outcome))",
                    note:
                        "How to read it: the people the model ranks, by tier: very high is the top 0.5% of predicted risk across the whole population, high the next 4.5%, moderate the next 15%, low the rest. A unit with more than its share in the top tiers has more people at risk, not necessarily worse care.",
                    chart: .bars(
                        .init(labels: rows.map(\.tier), values: rows.map { $0.people.map(Double.init) }, format: .count)),
                    table: PanelTable("risk-tiers", rows, of: q.unit)))
        }
        let rising = unitRows(p.risingRisk, q.unit)
        panels.append(
            Panel(
                id: "rising", title: "Rising risk",
                note: "People whose tier rose, or whose risk rose materially, since the previous year's scores.",
                chart: .bars(
                    .init(labels: rising.map { label($0.outcome) }, values: rising.map { $0.pctRising?.value }, format: .percent)),
                table: PanelTable("rising-risk", rising, of: q.unit)))
        for card in p.models {
            let e = card.heldOut, outcome = card.outcome.rawValue
            // Each row says its value's format, as the headline table does.
            let metrics = PanelTable(
                name: "model", columns: ["measure", "value", "format"],
                rows: [
                    ["algorithm", card.algorithm, "text"], ["trained on people", String(card.trainingPeople), "count"],
                    ["held-out people", String(e.people), "count"],
                    ["held-out events", e.events.map(String.init) ?? "", "count"],
                    ["AUROC", String(format: "%.3f", e.auroc), "decimal"],
                    ["AUROC 95% CI", String(format: "%.3f to %.3f", e.aurocLower, e.aurocUpper), "text"],
                    ["AUPRC", String(format: "%.3f", e.auprc), "decimal"],
                    ["Brier score", String(format: "%.4f", e.brier), "decimal"],
                ]
                    + e.measures.map { m in
                        [m.name + " (95% CI)", String(format: "%.3f (%.3f to %.3f)", m.value, m.lower, m.upper), "text"]
                    })
            let roc = PanelTable(
                name: "roc", columns: ["false_positive_rate", "true_positive_rate"],
                rows: e.roc.map { [String(format: "%.4f", $0[0]), String(format: "%.4f", $0[1])] })
            let calibration = PanelTable(
                name: "calibration", columns: ["decile", "people", "mean_predicted_risk", "observed_rate"],
                rows: e.calibration.map {
                    [
                        String($0.decile), $0.people.map(String.init) ?? "", String(format: "%.4f", $0.expected),
                        $0.observed.map { String(format: "%.4f", $0) } ?? "",
                    ]
                })
            let shown = e.calibration.filter { $0.observed != nil }
            let highest = max(0.05, (e.calibration.map(\.expected) + e.calibration.compactMap(\.observed)).max() ?? 1) * 100
            panels += [
                Panel(
                    id: "model-" + outcome, title: "Model card: \(label(outcome))",
                    note: "\(card.outcomeDefinition). Evaluated on people held out of training (index \(card.trainingIndex)).",
                    table: metrics),
                Panel(
                    id: "roc-" + outcome, title: "ROC curve: \(label(outcome))",
                    note: String(format: "AUROC %.3f (95%% CI %.3f to %.3f).", e.auroc, e.aurocLower, e.aurocUpper)
                        + " How to read it: the further the curve bows towards the top left, the better the model tells apart the people who had the outcome from those who did not; the diagonal is no better than chance.",
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
                    note:
                        "Observed against predicted risk by decile of predicted risk; a calibrated model lies on the diagonal."
                        + (card.outcome == .persistentHighCost
                            ? " Persistent high cost is rare by design (the costliest 5% in two years running), so most deciles' risks and rates are well under 1% and sit near zero."
                            : ""),
                    chart: .plot(
                        .init(
                            x: .init(title: "Predicted (%)", range: 0...highest, format: .decimal),
                            y: .init(title: "Observed (%)", range: 0...highest, format: .decimal),
                            series: [
                                .init(
                                    name: "deciles", points: shown.map { (x: 100 * $0.expected, y: 100 * ($0.observed ?? 0)) },
                                    style: .points, colour: 3, labels: shown.map { "decile \($0.decile)" }),
                                .init(name: "perfect", points: [(0, 0), (highest, highest)], style: .dotted, colour: 6),
                            ])), table: calibration),
            ]
        }
        return panels
    }

    // MARK: segments

    static func segments(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let profiles = unitRows(p.segmentProfiles, q.unit)
        return distinct(p.segmentProfiles.map(\.row.segmentation)).map { segmentation in
            let rows = profiles.filter { $0.segmentation == segmentation }
            return Panel(
                id: segmentation, title: "Segmentation: \(label(segmentation))",
                note:
                    "How to read it: each bar is a segment's share of the unit's people. Everyone is in exactly one segment: the first, in the order shown, whose definition they meet.",
                chart: .bars(
                    .init(labels: rows.map(\.segmentName), values: rows.map { $0.pctPopulation?.value }, format: .percent)),
                table: PanelTable("segment-profiles", rows, of: q.unit))
        }
    }

    // MARK: inequalities

    static func inequalities(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let rows = unitRows(p.inequalities, q.unit).filter { $0.indicator == q.indicator }
        let unit = rows.first { $0.breakdown == "all" }
        let overall = unit?.value?.value
        let units = unit?.measure ?? ""
        let format: Format = units == "percent" ? .percent : units.hasPrefix("GBP") ? .money : .rate
        func panel(_ id: String, _ title: String, _ groups: String, note: String = "") -> Panel {
            // Deprivation's and each area indicator's table carries its gradient rows (slope and
            // relative index) too.
            let part = rows.filter { $0.breakdown == groups || $0.breakdown == InequalityRow.gradient(of: groups) }
            let bars = part.filter { $0.breakdown == groups }
            return Panel(
                id: id, title: title, note: note,
                chart: .bars(
                    .init(
                        labels: bars.map(\.group), values: bars.map { $0.value?.value },
                        intervals: bars.map { b in b.lower95.flatMap { l in b.upper95.map { (l.value, $0.value) } } },
                        format: format, reference: overall.map { ($0, "whole unit") })),
                table: PanelTable("inequalities", part, of: q.unit))
        }
        /// The slope and relative indices across a breakdown's groups, in words; "" when not published.
        func gradient(_ groups: String, ends: String) -> String {
            let across = rows.filter { $0.breakdown == InequalityRow.gradient(of: groups) }
            guard let sii = across.first(where: { $0.group == "sii" }), let value = sii.value?.value else { return "" }
            var text =
                "Slope index of inequality \(format.show(value)) (95% CI \(format.show(sii.lower95?.value)) to \(format.show(sii.upper95?.value)))"
            if let r = across.first(where: { $0.group == "rii" })?.value?.value {
                text += ", relative index \(Format.ratio.show(r))"
            }
            return text + ": the modelled gap between " + ends + "."
        }
        let deprivation = gradient(
            "imd_decile", ends: "the most and least deprived ends of the population (decile 1 is the most deprived)")
        let reading =
            " How to read it: each bar is a group's value with its 95% interval; the dashed line is the whole unit. A group whose interval does not reach the line differs from the unit by more than chance alone would make it."
        return [
            panel(
                "deprivation", "\(title(q.indicator)) by deprivation decile (\(units))", "imd_decile",
                note: (deprivation.isEmpty ? "Decile 1 is the most deprived." : deprivation) + reading),
            panel(
                "ethnicity", "\(title(q.indicator)) by ethnic group (\(units))", "ethnic_group",
                note: reading.trimmingCharacters(in: .whitespaces)),
            panel(
                "core20", "\(title(q.indicator)): Core20 against the rest (\(units))", "core20",
                note: "Core20: people living in the 20% most deprived areas of England (Core20PLUS5)." + reading),
        ]
            // Each area indicator of areas.csv, by population-weighted quintile of the areas.
            + distinct(rows.map(\.breakdown).filter { $0.hasPrefix("area_") && $0.hasSuffix("_quintile") }).map { groups in
                let name = String(groups.dropFirst("area_".count).dropLast("_quintile".count))
                let ends = "the areas with the lowest and the highest \(name) (quintile 1 has the lowest values)"
                let note = gradient(groups, ends: ends)
                return panel(
                    "area-" + name, "\(title(q.indicator)) by quintile of the areas' \(name) (\(units))", groups,
                    note: (note.isEmpty ? "Quintile 1 holds the fifth of people in the areas with the lowest \(name)." : note)
                        + " Quintiles are of the people, with areas ranked by the indicator; a gradient here need not be the indicator's own doing, since areas differ in deprivation and more."
                        + reading)
            }
    }

    // MARK: wider determinants

    /// The outcomes the wider determinants page follows across each determinant, and their names.
    static let determinantOutcomes = ["multimorbidity_2plus", "emergency_admissions", "cost_per_head"]
    static let outcomeNames = [
        "multimorbidity_2plus": "Two or more long-term conditions", "emergency_admissions": "Emergency admissions",
        "cost_per_head": "Health and care cost per person",
    ]

    static func determinants(_ p: Publication, _ q: PageQuery) -> [Panel] {
        let rows = unitRows(p.inequalities, q.unit)
        let outcomes = determinantOutcomes.filter { o in rows.contains { $0.indicator == o } }
        func format(_ r: InequalityRow?) -> Format {
            let units = r?.measure ?? ""
            return units == "percent" ? .percent : units.hasPrefix("GBP") ? .money : .rate
        }
        var panels: [Panel] = []
        // Each area indicator: the outcomes by its quintiles, age-standardised.
        let areas = distinct(rows.map(\.breakdown).filter { $0.hasPrefix("area_") && $0.hasSuffix("_quintile") })
        for groups in areas {
            let id = String(groups.dropFirst("area_".count).dropLast("_quintile".count)), name = label(id)
            for outcome in outcomes {
                let own = rows.filter { $0.indicator == outcome }
                let bars = own.filter { $0.breakdown == groups && $0.group != "unknown" }
                let whole = own.first { $0.breakdown == "all" }
                let gradient = own.filter { $0.breakdown == InequalityRow.gradient(of: groups) }
                var note =
                    "Quintile 1 holds the fifth of the health system's people in the areas with the lowest \(name), 5 the highest (area-quintiles.csv has where they are cut). Bars are age-standardised (2013 European Standard Population), with their 95% intervals where published; the table has the crude values with theirs."
                if let sii = gradient.first(where: { $0.group == "sii" })?.value?.value {
                    note +=
                        " Slope index of inequality \(format(whole).show(sii)) (95% CI \(format(whole).show(gradient.first { $0.group == "sii" }?.lower95?.value)) to \(format(whole).show(gradient.first { $0.group == "sii" }?.upper95?.value))) from the lowest to the highest \(name)."
                }
                note +=
                    " An association, not a cause: areas differ in deprivation and much else (the Inequalities page has the same indicator by deprivation)."
                panels.append(
                    Panel(
                        id: "area-\(id)-\(outcome)",
                        title:
                            "\(outcomeNames[outcome] ?? title(outcome)) by quintile of the areas' \(name) (\(whole?.measure ?? ""), age-standardised)",
                        note: note,
                        chart: .bars(
                            .init(
                                labels: bars.map(\.group), values: bars.map { $0.ageStandardised?.value },
                                intervals: bars.map { b in
                                    b.ageStandardisedLower95.flatMap { l in b.ageStandardisedUpper95.map { (l.value, $0.value) } }
                                },
                                format: format(whole),
                                reference: whole?.ageStandardised.map { ($0.value, "whole unit") })),
                        table: PanelTable(
                            "inequalities",
                            own.filter { $0.breakdown == groups || $0.breakdown == InequalityRow.gradient(of: groups) },
                            of: q.unit)))
            }
        }
        // Each recorded social factor: how the people with it compare with the rest of their ages.
        let factors = distinct(rows.map(\.breakdown).filter { $0.hasPrefix("condition_") })
        for outcome in outcomes where !factors.isEmpty {
            let own = rows.filter { $0.indicator == outcome && factors.contains($0.breakdown) }
            func row(_ f: String, _ g: String) -> InequalityRow? { own.first { $0.breakdown == f && $0.group == g } }
            let ratios = factors.map { f -> Double? in
                guard let a = row(f, "recorded")?.ageStandardised?.value, let b = row(f, "not_recorded")?.ageStandardised?.value,
                    b > 0
                else { return nil }
                return a / b
            }
            // One row per factor: its people, and both groups' standardised values.
            let table = PanelTable(
                name: "social-factors",
                columns: ["factor", "people", "numerator", "age_standardised", "rest_age_standardised", "ratio"],
                rows: zip(factors, ratios).map { f, ratio in
                    let recorded = row(f, "recorded")
                    return [
                        String(f.dropFirst("condition_".count)), recorded?.people.map(String.init) ?? "",
                        recorded?.numerator.map(String.init) ?? "", recorded?.ageStandardised?.text ?? "",
                        row(f, "not_recorded")?.ageStandardised?.text ?? "", ratio.map { String(format: "%.3f", $0) } ?? "",
                    ]
                })
            panels.append(
                Panel(
                    id: "social-\(outcome)",
                    title: "\(outcomeNames[outcome] ?? title(outcome)): people with a recorded social factor against the rest",
                    note:
                        "Each bar is the age-standardised value of the people with the factor recorded over that of everyone else, both standardised over the age bands the recorded people are in: 2 means twice the rest's. A factor whose recorded people are too few to publish has no bar; in a practice most have few, so read a locality or the whole system first. Only what practices code is counted, and they code social circumstances unevenly. An association, not a cause: factors go with deprivation and with each other. All of each factor's rows are in inequalities.csv.",
                    chart: .bars(
                        .init(
                            labels: factors.map { label(String($0.dropFirst("condition_".count))) }, values: ratios,
                            format: .ratio, reference: (1, "the rest"))),
                    table: table))
        }
        // Proportionate universalism: per practice, the people at high risk who also have a
        // recorded social need.
        let need = "condition_social_need"
        if rows.contains(where: { $0.indicator == "high_risk" && $0.breakdown == need }) {
            // A practice is the unit's when the unit is on its line up the hierarchy.
            let parent = Dictionary(p.units.map { ($0.code, $0.parent) }, uniquingKeysWith: { a, _ in a })
            func within(_ code: String) -> Bool {
                var at: String? = code
                while let c = at {
                    if c == q.unit.code { return true }
                    at = parent[c] ?? nil
                }
                return false
            }
            let practices = p.units.filter { $0.level == .practice && within($0.code) }
            let codes = Set(practices.map(\.code))
            let byPractice = Dictionary(
                p.inequalities.filter {
                    codes.contains($0.unit.unitCode) && $0.row.indicator == "high_risk"
                        && (($0.row.breakdown == need && $0.row.group == "recorded") || $0.row.breakdown == "all")
                }.map { ($0.unit.unitCode, [$0.row]) }, uniquingKeysWith: +)
            let table = PanelTable(
                name: "high-risk-social-need",
                columns: [
                    "unit_code", "unit_name", "people", "high_risk", "social_need", "high_risk_with_social_need",
                    "pct_of_social_need_at_high_risk",
                ],
                rows: practices.map { unit in
                    let all = byPractice[unit.code]?.first { $0.breakdown == "all" }
                    let needy = byPractice[unit.code]?.first { $0.breakdown == need }
                    func text(_ n: Int?) -> String { n.map(String.init) ?? "" }
                    return [
                        unit.code, unit.name, text(all?.people), text(all?.numerator), text(needy?.people),
                        text(needy?.numerator),
                        needy?.value?.text ?? "",
                    ]
                })
            let both = numbers(table, "high_risk_with_social_need")
            panels.append(
                Panel(
                    id: "high-risk-social-need",
                    title: "People at high risk with a recorded social need, by practice",
                    note:
                        "Proportionate universalism: care for everyone, with more for those with more need. Each bar counts the practice's people at high or very high risk of emergency admission who also have a recorded social need (housing, living alone, caring, unemployment, isolation, domestic abuse or asylum), the people for whom clinical and social support together matter most. Counts are suppressed and rounded as every planning count is.",
                    chart: .bars(.init(labels: practices.map(\.name), values: both, format: .count)),
                    table: table))
        }
        return panels
    }

    // MARK: variation

    static func variation(_ p: Publication, _ q: PageQuery) -> [Panel] {
        // Variation lives between practices: the funnel compares the practices of the unit (of its
        // locality for a PCN or a practice), and marks the unit's own.
        let path = p.path(to: q.unit.code)
        let scope = q.unit.level == .organisation || q.unit.level == .locality ? q.unit : path.count > 1 ? path[1] : q.unit
        // Each practice's line up the hierarchy, walked once per practice rather than per row.
        let lines = Dictionary(
            uniqueKeysWithValues: p.units.filter { $0.level == .practice }.map { ($0.code, Set(p.path(to: $0.code).map(\.code))) }
        )
        let peers = p.variation.filter {
            $0.row.indicator == q.indicator && lines[$0.unit.unitCode]?.contains(scope.code) == true
        }
        // The unit's own practices stand out only when the funnel shows more than the unit.
        let own =
            scope.code == q.unit.code
            ? [] : Set(peers.map(\.unit.unitCode).filter { lines[$0]?.contains(q.unit.code) == true })
        var shown = VariationRow.header
        shown.removeAll { $0 == VariationRow.CodingKeys.indicator.rawValue }
        let rows = PanelTable(
            name: "funnel", columns: ["unit_code", "unit_name"] + shown,
            rows: zip(peers, VariationRow.cells(of: peers.map(\.row))).map { peer, cells in
                let byColumn = Dictionary(uniqueKeysWithValues: zip(VariationRow.header, cells))
                return [peer.unit.unitCode, peer.unit.unitName] + shown.map { byColumn[$0] ?? "" }
            })
        let expected = peers.map { $0.row.expected?.value }
        var points: [(x: Double, y: Double)] = [], labels: [String] = [], highlight: [(x: Double, y: Double)] = []
        var limits: [(x: Double, l95: Double, u95: Double, l998: Double, u998: Double)] = []
        for peer in peers {
            let row = peer.row
            guard let e = row.expected?.value, let r = row.ratio?.value else { continue }
            if own.contains(peer.unit.unitCode) {
                highlight.append((e, r))
            } else {
                points.append((e, r))
                labels.append(peer.unit.unitName)
            }
            if let l95 = row.funnelLower95?.value, let u95 = row.funnelUpper95?.value, let l998 = row.funnelLower998?.value,
                let u998 = row.funnelUpper998?.value
            {
                limits.append((e, l95, u95, l998, u998))
            }
        }
        limits.sort { $0.x < $1.x }
        // Counts have limits at any precision: drawn smooth over the plotted range with the
        // overdispersion the run estimated. Costs keep each unit's own limits.
        if let first = peers.first?.row, first.kind != "mean", let e = expected.compactMap({ $0 }).max(), e > 0 {
            let low = max(0.5, (expected.compactMap { $0 }.min() ?? e) * 0.5), high = e * 1.5
            let grid = (0...60).map { low * pow(high / low, Double($0) / 60) }
            limits = Publication.countLimits(expected: grid, tau2: first.tau2?.value ?? 0).map {
                ($0.expected, $0.lower95, $0.upper95, $0.lower998, $0.upper998)
            }
        }
        // The target line spans everything drawn, so it has length even with one point.
        let drawn = expected.compactMap { $0 } + limits.map(\.x)
        let xRange = drawn.min().flatMap { low in
            drawn.max().map { high in high > low ? low...high : low * 0.5...max(1, low * 1.5) }
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
                    points: xRange.map { [($0.lowerBound, 1), ($0.upperBound, 1)] } ?? [],
                    style: .dotted, colour: 6),
            ].filter { !$0.points.isEmpty })
        let measure = q.measure
        let series = unitRows(p.spc, q.unit).filter { $0.measure == measure }
        let months = series.map(\.month), values = series.map { $0.value.map(Double.init) }
        let xs = months.indices.map(Double.init)
        func line(_ name: String, _ ys: [Double?], _ style: Chart.Plot.Series.Style, _ colour: Int) -> Chart.Plot.Series {
            .init(name: name, points: zip(xs, ys).compactMap { x, y in y.map { (x, $0) } }, style: style, colour: colour)
        }
        let special = zip(xs, series).compactMap { x, point in
            point.specialCause == true ? point.value.map { (x, Double($0)) } : nil
        }
        let specialLabels = series.filter { $0.specialCause == true }.map(\.month)
        return [
            Panel(
                id: "funnel", title: "Funnel plot: \(label(q.indicator)), practices in \(scope.name)",
                note:
                    "Each practice's indirectly standardised ratio against its expected count, with 95% and 99.8% limits (Spiegelhalter 2005, adjusted for overdispersion)\(q.unit.level == .organisation || q.unit.level == .locality ? "" : "; this unit's practices are marked"). Points beyond 99.8% are flagged in the table's outlier column. How to read it: a practice inside the funnel differs from the expected no more than chance would make it; one outside it is worth a look, not yet a judgement.",
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
                            line(label(measure), values, .line, 0), line("mean", series.map { $0.mean?.value }, .dashed, 6),
                            line("limits", series.map { $0.upperLimit?.value }, .dotted, 3),
                            line("", series.map { $0.lowerLimit?.value }, .dotted, 3),
                            .init(name: "special cause", points: special, style: .points, colour: 1, labels: specialLabels),
                        ].filter { !$0.points.isEmpty })), table: PanelTable("spc", series, of: q.unit)),
        ]
    }
}

extension Dashboard {
    // MARK: projections

    /// The measures a projection publishes: their column in `projections.csv`, their interval's
    /// columns and their format.
    typealias Field = any KeyPath<ProjectionRow, Int?> & Sendable
    static let projected: [(column: String, name: String, central: Field, lower: Field, upper: Field, format: Format)] =
        ProjectionRow.measures.map {
            ($0.column, $0.words, $0.central, $0.lower, $0.upper, $0.column.hasSuffix("_gbp") ? .money : .count)
        }

    /// A choice of indicator or measure in words.
    func choiceLabel(_ choice: String) -> String {
        switch self {
        case .projections: Dashboard.projected.first { $0.column == choice }?.name ?? choice
        // `SUBJECT/FIGURE`: the run's figures read as the run's.
        case .quality:
            Dashboard.label(
                choice.hasPrefix("all/") ? "run " + choice.dropFirst(4) : choice.replacingOccurrences(of: "/", with: " "))
        default: Dashboard.label(choice)
        }
    }

    /// The projection of a unit: the chosen measure's fan to the last year with each scenario
    /// beside the baseline, the baseline by age band, LTC band and deprivation quintile, the
    /// scenarios in the last year, and how well the method did on the data's own last years.
    /// Practices are too small to project: a practice's page shows its PCN.
    static func projections(_ p: Publication, _ q: PageQuery) -> [Panel] {
        guard let summary = p.projection, let measure = projected.first(where: { $0.column == q.measure }) else {
            return [
                Panel(
                    id: "projection", title: "No projection",
                    note: "This run projected nothing: it was run with --projection-years 0.",
                    table: PanelTable(name: "projection", columns: ["note"], rows: []))
            ]
        }
        let unit = q.unit.level == .practice ? q.unit.parent.flatMap(p.unit) ?? q.unit : q.unit
        let rows = unitRows(p.projections, unit)
        // A file written before scenarios, or altered, still draws.
        let scenarios =
            summary.scenarios.flatMap { $0.isEmpty ? nil : $0 } ?? [.init(id: "baseline", name: "Baseline", changes: [])]
        let years = Array(0...min(100, max(0, summary.years)))
        let labels = years.map { y in rows.first { $0.yearsAhead == y }.map { String($0.date.prefix(4)) } ?? "+\(y)" }
        let what = measure.name
        let shownAt = unit.code == q.unit.code ? "" : " (practices are too small to project: this is their PCN, \(unit.name))"
        func margin(_ row: ProjectionRow, age: String = "all", ltc: String = "all", quintile: String = "all") -> Bool {
            row.ageBand == age && row.ltcBand == ltc && row.imdQuintile == quintile
        }
        func value(_ row: ProjectionRow?, _ path: Field) -> Double? {
            row?[keyPath: path].map(Double.init)
        }
        /// A table of the measure by year: the group's column, then central and interval.
        func table(_ name: String, _ group: String, _ picked: [(String, ProjectionRow)]) -> PanelTable {
            var t = PanelTable(
                name: name, columns: [group, "year", "measure", "value", "lower_95", "upper_95", RowNote.column],
                rows: picked.map { label, row in
                    let cells = [measure.central, measure.lower, measure.upper].map { row[keyPath: $0].map(String.init) ?? "" }
                    return [label, String(row.date.prefix(4)), measure.column] + cells
                        + [row[keyPath: measure.central] == nil ? RowNote.suppressed : ""]
                })
            t.formats = ["value": measure.format, "lower_95": measure.format, "upper_95": measure.format]
            return t
        }
        func series(_ rows: [ProjectionRow]) -> [(x: Double, y: Double)] {
            years.compactMap { y in value(rows.first { $0.yearsAhead == y }, measure.central).map { (Double(y), $0) } }
        }
        let axis = Chart.Plot.Axis(title: "Year", format: .count, categories: labels)
        let yAxis = Chart.Plot.Axis(title: title(what), format: measure.format)

        var panels: [Panel] = []
        if !summary.warnings.isEmpty {
            panels.append(
                Panel(
                    id: "warnings", title: "Read these first",
                    note: "The projection warns about the data it was made from.",
                    table: PanelTable(name: "warnings", columns: ["warning"], rows: summary.warnings.map { [$0] })))
        }
        // The fan: the baseline's interval and central line, each scenario's central line.
        let everyone = rows.filter { margin($0) }
        let baseline = everyone.filter { $0.scenario == scenarios[0].id }
        var fan: [Chart.Plot.Series] = [
            .init(
                name: "95% interval",
                points: years.compactMap { y in
                    value(baseline.first { $0.yearsAhead == y }, measure.upper).map { (Double(y), $0) }
                },
                style: .band, colour: 0,
                lower: years.compactMap { y in value(baseline.first { $0.yearsAhead == y }, measure.lower) }),
            .init(name: scenarios[0].name, points: series(baseline), style: .line, colour: 0),
        ]
        for (k, scenario) in scenarios.enumerated().dropFirst() {
            fan.append(
                .init(
                    name: scenario.name, points: series(everyone.filter { $0.scenario == scenario.id }),
                    style: k % 2 == 1 ? .dashed : .dotted, colour: k))
        }
        // A band needs its two edges at every year it spans.
        if fan[0].points.count != fan[0].lower.count { fan.removeFirst() }
        panels.append(
            Panel(
                id: "fan", title: "\(title(what)) in \(unit.name), \(labels.first ?? "") to \(labels.last ?? "")",
                note:
                    "Projected from the registered population at \(p.asOf)\(shownAt), if the rates of the last \(summary.historyYears) years hold: a multistate model of long-term conditions and major illness by age, sex and deprivation, with the entries and leavers the data shows. The shaded fan is the baseline's 95% interval (\(summary.draws) draws of the rates); each scenario is drawn as a line, on the same draws. Activity and cost are today's rates per person in each segment. Figures are rounded to 5 (cost to £100); under 8 is withheld.",
                chart: .plot(.init(x: axis, y: yAxis, series: fan.filter { !$0.points.isEmpty })),
                table: table(
                    "fan", "scenario",
                    everyone.sorted { ($0.yearsAhead, $0.scenario) < ($1.yearsAhead, $1.scenario) }.map { ($0.scenario, $0) })))
        // The baseline by each breakdown: a line per band.
        let base = rows.filter { $0.scenario == scenarios[0].id }
        for (id, heading, group, bands, pick) in [
            (
                "age", "age band", "age_band", AgeBand.allCases.map(\.label),
                { (r: ProjectionRow, b: String) in margin(r, age: b) }
            ),
            ("ltc", "number of long-term conditions", "ltc_band", LTCBand.allCases.map(\.label), { margin($0, ltc: $1) }),
            (
                "deprivation", "deprivation quintile (1 most deprived)", "imd_quintile", ["1", "2", "3", "4", "5", "unknown"],
                {
                    margin($0, quintile: $1)
                }
            ),
        ] as [(String, String, String, [String], (ProjectionRow, String) -> Bool)] {
            let lines = bands.enumerated().map { k, band in
                Chart.Plot.Series(
                    name: id == "ltc" ? band + " LTCs" : band, points: series(base.filter { pick($0, band) }), style: .line,
                    colour: k)
            }.filter { !$0.points.isEmpty }
            let picked = bands.flatMap { band in base.filter { pick($0, band) }.map { (band, $0) } }
            panels.append(
                Panel(
                    id: id, title: "\(title(what)) by \(heading), baseline",
                    note:
                        "The baseline's central projection for each \(heading.split(separator: " (").first ?? ""); the table holds each year's 95% interval.",
                    chart: lines.isEmpty ? nil : .plot(.init(x: axis, y: yAxis, series: lines)),
                    table: table(id, group, picked)))
        }
        // The scenarios in the last year, against the baseline.
        let last = years.last ?? 0
        let final = scenarios.map { s in everyone.first { $0.scenario == s.id && $0.yearsAhead == last } }
        var comparison = PanelTable(
            name: "scenarios",
            columns: ["scenario", "name", "changes", "year", "value", "lower_95", "upper_95", "change_from_baseline_pct"],
            rows: zip(scenarios, final).map { s, row in
                let v = value(row, measure.central), b = value(final[0], measure.central)
                let change = v.flatMap { v in b.flatMap { $0 > 0 ? String(format: "%.1f", 100 * (v - $0) / $0) : nil } }
                return [s.id, s.name, s.changes.joined(separator: "; "), labels.last ?? ""]
                    + [measure.central, measure.lower, measure.upper].map { row?[keyPath: $0].map(String.init) ?? "" }
                    + [change ?? ""]
            })
        comparison.formats = ["value": measure.format, "lower_95": measure.format, "upper_95": measure.format]
        let changes = zip(scenarios, final).dropFirst().map { s, row in
            (s.name, value(row, measure.central).flatMap { v in value(final[0], measure.central).map { 100 * (v - $0) / $0 } })
        }
        panels.append(
            Panel(
                id: "scenarios", title: "\(title(what)) in \(labels.last ?? ""): scenarios against the baseline",
                note:
                    scenarios.count > 1
                    ? "Each scenario's change from the baseline in the last year; the table holds each one's figure and 95% interval. Scenarios share the baseline's draws, so a difference between them is the scenario's, not chance's."
                    : "No scenarios were given: run with --scenarios FILE to compare them here (see the documentation on projections).",
                chart: changes.isEmpty
                    ? nil
                    : .bars(
                        .init(
                            labels: changes.map(\.0), values: changes.map { $0.1.flatMap { $0.isFinite ? $0 : nil } },
                            format: .percent, reference: (0, scenarios[0].name))),
                table: comparison))
        // The method on the data's own last years.
        if let backtest = summary.backtest {
            var t = PanelTable(
                name: "backtest", columns: ["breakdown", "band", "observed", "projected", "lower_95", "upper_95", "error_pct"],
                rows: backtest.bands.map { b in
                    let whole = { (x: Double) in x.isFinite && abs(x) < 1e15 ? String(Int(x.rounded())) : "" }
                    return [
                        b.breakdown, b.band, b.observed.map(String.init) ?? "", whole(b.projected), whole(b.lower95),
                        whole(b.upper95), b.errorPct.flatMap { $0.isFinite ? String(format: "%.1f", $0) : nil } ?? "",
                    ]
                })
            t.formats = ["projected": .count, "lower_95": .count, "upper_95": .count]
            panels.append(
                Panel(
                    id: "backtest", title: "The method on the last \(backtest.yearsBack) years, whole organisation",
                    note:
                        "Fitted on the history before \(backtest.yearsBack) years ago, projected to \(p.asOf), and compared with the people registered then. How to read it: an error within 5% says the rates of the past carried forward; a larger one says they changed, or the data's history is thin.",
                    table: t))
        }
        return panels
    }
}

extension Format {
    /// The format of a published column, from its name.
    static func of(column name: String) -> Format {
        if [
            "measure", "format", "source", "file", "present", "tier", "outcome", "segment", "segment_name", "segmentation",
            "breakdown", "group", "kind", "method", "month", "unit_code", "unit_name", "scope", "ltc_band", "age_band", "outlier",
            "side", "improvement", "trial_limits", "beyond_limits", "shift", "trend", "two_of_three",
            "special_cause", "algorithm", "indicator", "ltc_count", "note", "scenario", "name", "changes", "warning", "year",
            "date", "imd_quintile", "band", "factor", "gate", "subject", "figure", "rule", "result", "accepted_by", "as_of",
            "flagged", "practice", "previous_run_tier", "from", "to", "provider",
        ].contains(name) {
            return .text
        }
        if name.hasSuffix("_gbp") || name == "value_gbp" { return .money }
        // The seed multimorbidity table gives its share as a fraction, as the seed does; risks
        // are probabilities, shown as percentages so a rare outcome's small risks do not read 0.000.
        if name == "pct_patients" || name.hasPrefix("risk_") || name.hasPrefix("mean_risk")
            || ["mean_predicted_risk", "observed_rate"].contains(name)
            || name.hasSuffix("_share") || name.hasPrefix("lorenz_") || name == "quarantine_rate"
        {
            return .share
        }
        if name.hasPrefix("pct_") || name.hasSuffix("_pct") { return .percent }
        if name.hasSuffix("_per_1000") { return .rate }
        if [
            "people", "patients", "records", "linked", "rows_in", "accepted", "quarantined", "numerator", "observed",
            "people_compared", "tier_rose", "risk_rose_materially", "rising", "rose_into_high_or_very_high", "female", "male",
            "decile", "high_risk", "social_need", "high_risk_with_social_need", "rows", "days_since_latest", "empty_months",
            "run",
        ].contains(name) || PersonFrame.transitionStates.contains(name) {
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

    /// How many pages are built or being built.
    var count: Int { built.count }

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
