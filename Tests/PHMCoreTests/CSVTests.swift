import PHMCore
import Testing

@Suite struct CSVTests {
    @Test func readsBackWhatItWrites() {
        let records = [
            ["level", "unit_name", "note"], ["practice", "Riverside Surgery, Ashford Vale", "said \"hello\""],
            ["pcn", "", "two\nlines"], ["x", "y", "z"],
        ]
        var rows = CSVRows()
        for record in records {
            for field in record { rows.field(field) }
            rows.end()
        }
        #expect(CSVRows.parse(rows.bytes) == records)
    }

    /// Decimals as written: money and tenths are decimals of two and one places, negative values
    /// keep their sign, and a sum too large for an integer (costs of 15 digits added up) is
    /// written, not a crash; a value that is not finite is an empty cell.
    @Test func writesDecimalsOfAnySize() {
        var rows = CSVRows()
        rows.field(money: 1234.5)
        rows.field(money: -1.5)
        rows.field(tenths: 0.04)
        rows.field(2.5, decimals: 0)
        rows.field(Double(1 << 62) * 256, decimals: 2)
        rows.field(money: .nan)
        rows.field(-0.004, decimals: 2)
        rows.end()
        #expect(String(decoding: rows.bytes, as: UTF8.self) == "1234.50,-1.50,0.0,3,1180591620717411303424.00,,0.00\n")
    }

    @Test func acceptsCarriageReturnsAndNoFinalNewline() {
        #expect(CSVRows.parse(Array("a,b\r\n1,\"2,3\"".utf8)) == [["a", "b"], ["1", "2,3"]])
        #expect(CSVRows.parse(Array("a,,\n".utf8)) == [["a", "", ""]])
    }
}
