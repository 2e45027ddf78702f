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

    @Test func acceptsCarriageReturnsAndNoFinalNewline() {
        #expect(CSVRows.parse(Array("a,b\r\n1,\"2,3\"".utf8)) == [["a", "b"], ["1", "2,3"]])
        #expect(CSVRows.parse(Array("a,,\n".utf8)) == [["a", "", ""]])
    }
}
