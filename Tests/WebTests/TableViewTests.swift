import Cohorts
import Foundation
import Outputs
import PHMCore
import Service
import Testing

@testable import Web

@Suite("Published tables as people read them")
struct TableViewTests {
    let board = PublishedUnit(level: .organisation, code: "QX9", name: "Board", parent: nil)

    @Test(
        "Column names become headings in words, with their units",
        arguments: [
            ("mean_cost_gbp", "Mean cost per person (GBP)"), ("pct_aged_65_plus", "Aged 65 plus (%)"),
            ("ae_attendances_per_1000", "A&E attendances per 1,000"), ("ratio_lower_95", "Ratio lower 95%"),
            ("funnel_upper_998", "Funnel upper 99.8%"), ("total_apc_cost_gbp", "Admitted care cost per person (GBP)"),
            ("pct_patients", "Share of patients"), ("unit_name", "Unit name"),
            ("top_0_5_pct_share", "Cost share of the top 0.5%"), ("top_20_pct_share", "Cost share of the top 20%"),
            ("lorenz_30", "Cost share of the cheapest 30%"), ("change_from_baseline_pct", "Change from baseline (%)"),
        ])
    func headings(_ column: String, _ heading: String) {
        #expect(Pages.heading(column) == heading)
    }

    /// A gradient row's people and numerator do not apply; a suppressed count does. The page says
    /// which is which, while the data (API, CSV) keeps both empty.
    @Test func emptyCellsSayWhetherTheyAreSuppressedOrDoNotApply() {
        var gradient = InequalityRow(
            indicator: "depression", kind: "proportion", measure: "ratio", breakdown: InequalityRow.gradient(of: "imd_decile"),
            group: "rii")
        gradient.value = Fixed(1.4, places: 4)
        gradient.lower95 = Fixed(1.1, places: 4)
        gradient.upper95 = Fixed(1.8, places: 4)
        var suppressed = InequalityRow(
            indicator: "depression", kind: "proportion", measure: "percent", breakdown: "imd_decile", group: "3")
        suppressed.people = 40
        let table = PanelTable("inequalities", [gradient, suppressed], of: board)
        #expect(table.rows[0][table.column("people")!] == "" && table.rows[1][table.column("numerator")!] == "")
        let html = Pages.table(table, caption: "Depression")
        let cells = html.components(separatedBy: "<tr>").dropFirst(2).map { $0 }
        #expect(cells[0].contains("title=\"does not apply\"") && !cells[0].contains("title=\"suppressed"))
        #expect(cells[1].contains("title=\"suppressed: a small count\""))
        // A rate without a suppressed count and without a value is not available, not suppressed.
        var unknown = suppressed
        unknown.numerator = 0
        let three = Pages.table(PanelTable("inequalities", [gradient, suppressed, unknown], of: board), caption: "Depression")
        let last = three.components(separatedBy: "<tr>").last ?? ""
        #expect(last.contains("title=\"not available\">..<") && !last.contains("suppressed"))
        // Columns empty on every row, and those with one value on every row, are said once.
        #expect(html.contains("Empty on every row: Numerator; Age standardised; Age standardised lower 95%"))
        #expect(html.contains("On every row: Indicator: depression; Kind: proportion"))
        #expect(!html.contains("<th scope=\"col\">Age standardised lower 95%</th>"))
        // A rate and its RII keep places of their own.
        #expect(cells[0].contains(">1.40<"))
    }

    /// A table of a few rows and many columns is turned on its side; one of many rows and many
    /// columns is split into parts that repeat the columns naming the rows.
    @Test func wideTablesFitWithoutScrollingSideways() {
        func row(_ scope: String, _ k: Double) -> CostConcentrationRow {
            var r = CostConcentrationRow(scope: scope)
            r.people = 1000 + Int(k)
            r.totalCostGbp = Fixed(12_345 * k, places: 2)
            let shares: [WritableKeyPath<CostConcentrationRow, Fixed?>] = [
                \.top0_5PctShare, \.top1PctShare, \.top5PctShare, \.top10PctShare, \.top20PctShare, \.zeroCostShare, \.gini,
                \.lorenz10, \.lorenz50, \.lorenz90,
            ]
            for (i, share) in shares.enumerated() { r[keyPath: share] = Fixed(k / 100 + Double(i) / 50, places: 4) }
            return r
        }
        let side = Pages.table(
            PanelTable("cost", [row("secondary_care", 1), row("all_settings", 2)], of: board), caption: "Cost")
        #expect(side.contains("<th scope=\"col\">secondary_care</th><th scope=\"col\">all_settings</th>"))
        #expect(side.contains("<tr><th scope=\"row\">Gini</th>"))
        let names = (0..<12).map { "figure_\($0)" }
        let many = PanelTable(
            name: "many", columns: ["segment"] + names,
            rows: (0..<6).map { r in ["s\(r)"] + names.indices.map { String($0 * 10 + r) } })
        let parts = Pages.table(many, caption: "Segments")
        #expect(parts.components(separatedBy: "<table>").count == 3)
        #expect(parts.contains("<caption>Segments (continued)</caption><thead><tr><th scope=\"col\">Segment</th>"))
        #expect(parts.components(separatedBy: "<th scope=\"col\">").count - 1 == 2 + 12)
    }
}

@Suite("Chart axes")
struct AxisTests {
    /// Tick labels carry the decimals their step needs, so no two read alike.
    @Test func tickLabelsShowTheirStep() {
        let ticks = Chart.ticks(0.9, 1.0225)
        #expect(ticks.count == 5 && abs(ticks[1] - ticks[0] - 0.025) < 1e-12)
        #expect(ticks.map { Chart.tick($0, ticks, .ratio) } == ["0.900", "0.925", "0.950", "0.975", "1.000"])
        #expect(Chart.tick(1_500, [0, 500, 1_000, 1_500], .count) == "1,500")
        #expect(Chart.tick(0.5, [0, 0.25, 0.5], .decimal) == "0.50")
    }
}

@Suite("The cohort builder's reference")
struct CohortReferenceTests {
    /// Every example the page offers is a definition the language reads.
    @Test func examplesParse() throws {
        var vocabulary = Composer.Vocabulary()
        vocabulary.localities = ["Ashford Vale"]
        let examples = Composer.examples(vocabulary)
        #expect(examples.first?.text == "locality = \"Ashford Vale\" and condition depression and condition obesity")
        for example in examples { _ = try CohortText.parse(example.text) }
        #expect(Composer.reference(vocabulary).contains("People in Ashford Vale with high blood pressure"))
    }
}

@Suite("Numbers down a column")
struct ColumnPlacesTests {
    /// A column of decimals keeps one number of places, enough for its smallest value.
    @Test func decimalsKeepOnePlacesDownAColumn() {
        let table = PanelTable(
            name: "t", columns: ["phi", "mean_cost_gbp"], rows: [["0.5", "12.5"], ["1.2", "150"], ["1533", "1200"]])
        let html = Pages.table(table, caption: "t")
        for text in ["0.500", "1.200", "1,533.000", "£12.50", "£150.00", "£1,200.00"] {
            #expect(html.contains(">\(text)<"), "\(text)")
        }
        // A table of measures keeps each row's own places.
        let measures = Pages.table(
            PanelTable(
                name: "model", columns: ["measure", "value", "format"],
                rows: [["people", "2062", "count"], ["AUROC", "0.781", "decimal"]]),
            caption: "m")
        #expect(measures.contains(">2,062<") && measures.contains(">0.781<"))
    }
}
