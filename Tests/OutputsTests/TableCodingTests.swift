import Foundation
import Outputs
import PHMCore
import Testing

@Suite("Published tables as typed rows")
struct TableCodingTests {
    let tiers = Published.riskTiers

    func tier(_ people: Int?, pct: Double?, name: String = "Practice A") -> UnitRow<RiskTierRow> {
        UnitRow(
            UnitColumns(level: "practice", unitCode: "P1", unitName: name, parentCode: "PCN1"),
            RiskTierRow(
                outcome: "emergency_admission_12m", tier: "high", people: people, pctPeople: Fixed(pct, places: 2),
                meanRisk: Fixed(0.123456, places: 4), expectedEvents: Fixed(12.25, places: 1)))
    }

    @Test("Rows are written in column order, decimals at their places, nil as an empty cell")
    func writes() throws {
        let text = String(decoding: try tiers.csv([tier(25, pct: 12.5), tier(nil, pct: nil)]), as: UTF8.self)
        #expect(
            text == """
                level,unit_code,unit_name,parent_code,outcome,tier,people,pct_people,mean_risk,expected_events,note
                practice,P1,Practice A,PCN1,emergency_admission_12m,high,25,12.50,0.1235,12.3,
                practice,P1,Practice A,PCN1,emergency_admission_12m,high,,,0.1235,12.3,suppressed

                """)
    }

    @Test("A large table, written in blocks on every core, is each row's line in order")
    func largeTablesKeepTheirOrder() throws {
        let rows = (0..<40_000).map { i in tier(i % 7 == 0 ? nil : i, pct: Double(i) / 400, name: "Practice \(i)") }
        let lines = String(decoding: try tiers.csv(rows), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == rows.count + 2 && lines.last == "")
        let one = Published.riskTiers
        for i in [0, 1, 16_383, 16_384, 16_385, 32_768, 39_999] {
            let alone = String(decoding: try one.csv([rows[i]]), as: UTF8.self).split(separator: "\n")[1]
            #expect(lines[i + 1] == alone, "row \(i)")
        }
        #expect(try tiers.read(try tiers.csv(rows)).map(\.unit.unitName) == rows.map(\.unit.unitName))
    }

    @Test("What is written reads back as the same values")
    func roundTrip() throws {
        let rows = [tier(25, pct: 12.5, name: "Smith, \"Jones\" & Co"), tier(nil, pct: nil, name: "=SUM(A1)")]
        let read = try tiers.read(try tiers.csv(rows))
        #expect(read.count == 2)
        #expect(read[0].unit.unitName == "Smith, \"Jones\" & Co")
        #expect(read[0].row.people == 25 && read[0].row.pctPeople == Fixed(12.5, places: 2))
        #expect(read[1].row.people == nil && read[1].row.pctPeople == nil)
        // A formula is written after a quote mark, so a spreadsheet shows it as text.
        #expect(read[1].unit.unitName == "'=SUM(A1)")
        #expect(read[0].row.expectedEvents?.value == 12.3)
    }

    @Test("Flags are Y or N; optional flags may be empty")
    func flags() throws {
        var point = SPCRow(measure: "emergency_admissions", improvement: "lower", month: "2024-03", value: 40, trialLimits: true)
        point.shift = false
        let unit = UnitColumns(level: "organisation", unitCode: "ORG", unitName: "Board", parentCode: nil)
        let bytes = try Published.spc.csv([UnitRow(unit, point)])
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n")[1]
        #expect(line == "organisation,ORG,Board,,emergency_admissions,lower,2024-03,40,,,,Y,,N,,,,,")
        let read = try Published.spc.read(bytes)
        #expect(read[0].row.trialLimits && read[0].row.shift == false && read[0].row.beyondLimits == nil)
        #expect(read[0].unit.parentCode == nil)
    }

    @Test("A bad cell names the file, line and column")
    func badCell() throws {
        let good = String(decoding: try tiers.csv([tier(25, pct: 12.5)]), as: UTF8.self)
        let bad = good.replacingOccurrences(of: ",25,", with: ",lots,")
        #expect(
            throws: OutputError.unreadable(
                file: "risk-tiers.csv", line: 2, reason: "column 'people': expected a whole number, found 'lots'")
        ) {
            try tiers.read(Array(bad.utf8))
        }
        let missing = good.replacingOccurrences(of: "mean_risk", with: "risk")
        #expect(throws: OutputError.unreadable(file: "risk-tiers.csv", line: 1, reason: "the column 'mean_risk' is missing")) {
            try tiers.read(Array(missing.utf8))
        }
        let short = good + "practice,P1\n"
        #expect(throws: OutputError.unreadable(file: "risk-tiers.csv", line: 3, reason: "it has 2 fields, not 11")) {
            try tiers.read(Array(short.utf8))
        }
        let empty = good.replacingOccurrences(of: ",high,", with: ",,").replacingOccurrences(
            of: "practice,P1,", with: "practice,,")
        // A required text cell may be empty text; a required flag may not.
        #expect(try tiers.read(Array(empty.utf8))[0].unit.unitCode == "")
        #expect(throws: OutputError.self) { try tiers.read([UInt8]()) }
    }

    @Test("A row with a withheld count says so; a cell that does not apply is not a withheld one")
    func notes() throws {
        let unit = UnitColumns(level: "organisation", unitCode: "ORG", unitName: "Board", parentCode: nil)
        var gradient = InequalityRow(
            indicator: "depression", kind: "prevalence", measure: "percent", breakdown: InequalityRow.gradient(of: "imd_decile"),
            group: "SII")
        gradient.value = Fixed(4.2, places: 2)
        var small = InequalityRow(
            indicator: "depression", kind: "prevalence", measure: "percent", breakdown: "sex", group: "I")
        small.people = 40
        var mean = InequalityRow(indicator: "cost", kind: "mean", measure: "gbp", breakdown: "sex", group: "F")
        mean.people = 200
        let rows = [gradient, small, mean].map { UnitRow(unit, $0) }
        let cells = UnitRow<InequalityRow>.cells(of: rows)
        #expect(UnitRow<InequalityRow>.header.last == "note")
        #expect(cells.map { $0.last } == ["", "suppressed", ""])
        let lines = String(decoding: try Published.inequalities.csv(rows), as: UTF8.self).split(separator: "\n")
        #expect(lines.map { $0.hasSuffix(",suppressed") } == [false, false, true, false])
        #expect(try Published.inequalities.read(try Published.inequalities.csv(rows)).count == 3)
        // The seed's table keeps the seed's layout: no note.
        let seed = String(decoding: try Published.multimorbidity.csv([MultimorbidityRow(ltcCount: "0")]), as: UTF8.self)
        #expect(seed.hasPrefix("ltc_count,patients,") && !seed.contains("note"))
        #expect(try Published.multimorbidityByUnit.csv([]).count > 0)
        #expect(Published.multimorbidityByUnit.header.last == "note")
    }

    @Test(
        "Decimals read back only as plain finite numbers",
        arguments: [
            "1e400", "nan", "inf", "1e3", "0x10", "--1", "+1", "1-2", ".", "-", "", "1.2.3", " 1",
            String(repeating: "9", count: 41),
        ])
    func hostileDecimals(_ text: String) {
        #expect(Fixed(parsing: text) == nil)
    }

    @Test("Decimals keep the places they were written with")
    func places() {
        #expect(Fixed(parsing: "12.50") == Fixed(12.5, places: 2))
        #expect(Fixed(parsing: "-3") == Fixed(-3, places: 0))
        #expect(Fixed(.nan, places: 2) == nil && Fixed(nil, places: 2) == nil)
        #expect(Fixed(1.005, places: 40)?.places == 9)
        #expect(Fixed(-0.0004, places: 3)?.text == "0.000")
    }

    @Test("Every table's columns are distinct and start with the unit's where it is by unit")
    func columns() {
        let byUnit: [[String]] = [
            UnitRow<MultimorbidityRow>.columns, UnitRow<CostConcentrationRow>.columns, UnitRow<RiskTierRow>.columns,
            UnitRow<RisingRiskRow>.columns, UnitRow<SegmentProfileRow>.columns, UnitRow<InequalityRow>.columns,
            UnitRow<VariationRow>.columns, UnitRow<SPCRow>.columns,
        ]
        for columns in byUnit {
            #expect(Array(columns.prefix(4)) == ["level", "unit_code", "unit_name", "parent_code"])
            #expect(Set(columns).count == columns.count)
        }
        #expect(MultimorbidityRow.columns.first == "ltc_count")
    }
}

@Suite("The output contract's documentation")
struct OutputDocumentationTests {
    /// `docs/outputs.md` describes every column of every published file, with its unit.
    @Test func everyColumnIsDescribed() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/outputs.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let columns =
            UnitRow<MultimorbidityRow>.columns + CostConcentrationRow.columns + RiskTierRow.columns + RisingRiskRow.columns
            + SegmentProfileRow.columns + InequalityRow.columns + VariationRow.columns + SPCRow.columns
            + TransportRow.columns + ProjectionRow.columns + PersonConditionRow.columns + QuarantineRow.columns
            + PersonFiles.personColumns
            + PersonFiles.riskScoreColumns
        // Lorenz points are described as a range.
        let undescribed = Set(columns).filter { !text.contains("`\($0)`") && !$0.hasPrefix("lorenz_") }
        #expect(undescribed.isEmpty, "not in docs/outputs.md: \(undescribed.sorted())")
        for file in Published.files { #expect(text.contains("`\(file)`"), "\(file) is not in docs/outputs.md") }
        #expect(text.contains("| `\(RowNote.column)` |"))
        // Which columns are counts decides the note: each table's list is in the docs.
        func counts<Row: TableRow>(_ table: OutputTable<Row>) -> String {
            "- `\(table.file)`: " + Row.counts.map { "`\($0)`" }.joined(separator: ", ")
        }
        for line in [
            counts(Published.multimorbidityByUnit), counts(Published.costConcentration), counts(Published.riskTiers),
            counts(Published.risingRisk), counts(Published.segmentProfiles), counts(Published.inequalities),
            counts(Published.variation), counts(Published.spc), counts(Published.modelTransport),
            counts(Published.projections),
        ] {
            #expect(text.contains(line), "not in docs/outputs.md: \(line)")
        }
    }
}
