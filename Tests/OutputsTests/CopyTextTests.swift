import Foundation
import PHMCore
import Testing

@testable import Outputs

@Suite struct CopyTextTests {
    /// COPY text back into fields: `\N` is nil, and the four escapes are undone.
    static func decode(_ text: [UInt8]) -> [[String?]] {
        String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map { field -> String? in
                if field == "\\N" { return nil }
                var out = "", escaped = false
                for c in field {
                    if escaped {
                        out.append(c == "t" ? "\t" : c == "n" ? "\n" : c == "r" ? "\r" : c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else {
                        out.append(c)
                    }
                }
                return out
            }
        }
    }

    static func translate(_ csv: [UInt8], _ table: PlanningTable, chunk: Int) throws -> (text: [UInt8], rows: Int, chunks: Int) {
        var copy = CopyText(csv: csv, file: table.file, columns: table.schema, runId: 42, chunk: chunk)
        var text: [UInt8] = []
        var chunks = 0
        while let next = try copy.next() {
            text += next
            chunks += 1
        }
        return (text, copy.rows, chunks)
    }

    /// Whatever the writer writes, the translation holds the same fields as the reference CSV
    /// reader finds, typed for the database: nasty text, empty cells, flags and decimals, in
    /// chunks of any size.
    @Test func translatesWhatTheWriterWritesFieldForField() throws {
        var random = Xoshiro(seed: 7)
        let alphabet = Array("ab ,\"\n\r\t\\N.=+-@'éŵ–0")
        func text() -> String {
            String((0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
        }
        for round in 0..<40 {
            let transitions = (0..<Int.random(in: 1...30, using: &random)).map { _ in
                UnitRow(
                    UnitColumns(
                        level: "practice", unitCode: text(), unitName: text(),
                        parentCode: Bool.random(using: &random) ? nil : text()),
                    TierTransitionRow(
                        outcome: text(), previousRun: Int.random(in: -5...Int.max, using: &random), from: text(), to: text(),
                        people: Bool.random(using: &random) ? nil : Int.random(in: 0...100_000, using: &random)))
            }
            let spc = (0..<Int.random(in: 1...30, using: &random)).map { _ in
                var row = SPCRow(
                    measure: text(), improvement: text(), month: "2025-0\(Int.random(in: 1...9, using: &random))",
                    value: Bool.random(using: &random) ? nil : Int.random(in: -1_000...1_000_000, using: &random),
                    trialLimits: Bool.random(using: &random))
                row.mean = Fixed(Double.random(in: -1e6...1e6, using: &random), places: Int.random(in: 0...6, using: &random))
                row.shift = Bool.random(using: &random) ? nil : Bool.random(using: &random)
                return UnitRow(UnitColumns(level: "organisation", unitCode: "QWE", unitName: text(), parentCode: nil), row)
            }
            let cases: [([UInt8], PlanningTable)] = [
                (try Published.tierTransitions.csv(transitions), Published.planning.first { $0.file == "tier-transitions.csv" }!),
                (try Published.spc.csv(spc), Published.planning.first { $0.file == "spc.csv" }!),
            ]
            for (csv, table) in cases {
                let chunk = [1, 7, 64, 1 << 20][round % 4]
                let (text, rows, chunks) = try Self.translate(csv, table, chunk: chunk)
                let expected = CSVRows.parse(csv).dropFirst()
                #expect(rows == expected.count && (chunk > 1 || chunks == rows), "\(table.file)")
                let decoded = Self.decode(text)
                #expect(decoded.count == expected.count)
                for (copy, fields) in zip(decoded, expected) {
                    #expect(copy.first == "42")
                    // As the CSV holds them: NULL for an empty cell, t and f for Y and N.
                    let cells = zip(copy.dropFirst(), table.schema).map { cell, column in
                        cell.map { column.kind == .flag ? ["t": "Y", "f": "N"][$0] ?? "?\($0)" : $0 } ?? ""
                    }
                    #expect(cells == fields, "\(table.file)")
                    // NULL exactly where the cell is empty and the column may be: the note never is.
                    for (cell, (field, column)) in zip(copy.dropFirst(), zip(fields, table.schema)) {
                        #expect((cell == nil) == (field.isEmpty && column.nullable), "\(column.name)")
                    }
                }
            }
        }
    }

    @Test func refusesWhatTheWriterNeverWritesNamingTheLine() throws {
        let table = Published.planning.first { $0.file == "tier-transitions.csv" }!
        let header = table.schema.map(\.name).joined(separator: ",")
        let good = "practice,P1,Name,PCN,emergency_admission_12m,6,high,low,45,"
        let cases: [(String, String)] = [
            ("", "line 1: it is empty"),
            ("level,unit_code\n", "line 1: its header is not this version's"),
            (
                header + "\n" + good + "\n" + good.replacingOccurrences(of: ",6,", with: ",6x,"),
                "line 3: column 'previous_run' is not a whole number"
            ),
            (
                header + "\n" + good.replacingOccurrences(of: ",6,", with: ",99999999999999999999,"),
                "line 2: column 'previous_run' is not a whole number"
            ),
            (
                header + "\n" + good.replacingOccurrences(of: ",6,", with: ",9223372036854775808,"),
                "line 2: column 'previous_run' is not a whole number"
            ),
            (header + "\n" + good.replacingOccurrences(of: ",6,", with: ",,"), "line 2: column 'previous_run' is empty"),
            (
                header + "\n" + good.replacingOccurrences(of: ",45,", with: ",4.5,"),
                "line 2: column 'people' is not a whole number"
            ),
            (header + "\n" + good.replacingOccurrences(of: "Name", with: "Na\u{0}me"), "line 2: column 'unit_name' holds a NUL"),
            (header + "\n" + good + ",extra", "line 2: it has more than 10 fields"),
            (header + "\n" + "practice,P1", "line 2: it has 2 fields, not 10"),
            (
                header + "\n" + good.replacingOccurrences(of: "Name", with: "\"Na\nme\"") + "\n" + good + ",x",
                "line 4: it has more than 10"
            ),
            (header + "\n" + good.replacingOccurrences(of: "Name", with: "\"Name"), "line 2: a quoted field is not closed"),
            (
                header + "\n" + good.replacingOccurrences(of: "Name", with: "\"Na\"me"),
                "line 2: a quoted field is followed by text"
            ),
            (
                header + "\n" + good.replacingOccurrences(of: "Name", with: "Na\"me"),
                "line 2: a quote inside a field that is not quoted"
            ),
            (
                header + "\n" + good.replacingOccurrences(of: "Name", with: "Na\rme"),
                "line 2: a carriage return that does not end a line"
            ),
            (header + "\r\n" + good + "\r", "line 2: a carriage return that does not end a line"),
            (header + String(repeating: ",", count: 100_000), "line 1: its header has more than 10 names"),
        ]
        for (csv, reason) in cases {
            #expect {
                _ = try Self.translate(Array(csv.utf8), table, chunk: 1 << 20)
            } throws: { error in
                "\(error)".hasPrefix("tier-transitions.csv ") && "\(error)".contains(reason)
            }
        }
        // Bytes that are not UTF-8 in text.
        var invalid = Array((header + "\n" + good).utf8)
        invalid[invalid.firstIndex(of: UInt8(ascii: "N"))!] = 0xC3
        #expect {
            _ = try Self.translate(invalid, table, chunk: 1 << 20)
        } throws: { error in
            "\(error)".contains("line 2: column 'unit_name' holds a NUL character or bytes that are not UTF-8")
        }
        // Once stopped, it stays stopped: the header is not skipped on a second call.
        var copy = CopyText(csv: Array("level,wrong\n\(good)\n".utf8), file: table.file, columns: table.schema, runId: 1)
        #expect(throws: CopyTextError.self) { _ = try copy.next() }
        #expect(throws: CopyTextError.self) { _ = try copy.next() }
        // What the writer may also write: CRLF line ends, no final line end, a final empty field.
        for csv in [header + "\r\n" + good + "\r\n", header + "\n" + good, header + "\n" + good.dropLast() + ","] {
            #expect(try Self.translate(Array(csv.utf8), table, chunk: 3).rows == 1)
        }
        let smallest = good.replacingOccurrences(of: ",6,", with: ",-9223372036854775808,")
        let translated = try Self.translate(Array((header + "\n" + smallest).utf8), table, chunk: 1 << 20).text
        #expect(
            String(decoding: translated, as: UTF8.self)
                == "42\tpractice\tP1\tName\tPCN\temergency_admission_12m\t-9223372036854775808\thigh\tlow\t45\t\n")
        let spc = Published.planning.first { $0.file == "spc.csv" }!
        let spcHeader = spc.schema.map(\.name).joined(separator: ",")
        let flags = spc.schema.firstIndex { $0.name == "trial_limits" }!
        var cells = spc.schema.map { $0.nullable ? "" : $0.kind == .flag ? "Y" : $0.kind == .text ? "x" : "1" }
        #expect(throws: Never.self) {
            try Self.translate(Array((spcHeader + "\n" + cells.joined(separator: ",")).utf8), spc, chunk: 9)
        }
        cells[flags] = "y"
        #expect {
            _ = try Self.translate(Array((spcHeader + "\n" + cells.joined(separator: ",")).utf8), spc, chunk: 9)
        } throws: { error in
            "\(error)".contains("line 2: column 'trial_limits' is not Y or N")
        }
    }

    @Test func eachKindAcceptsWhatItsWriterWrites() {
        func accepts(_ kind: TableColumn.Kind, _ text: String) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { kind.accepts($0) }
        }
        for good in ["0", "-0", "42", "9223372036854775807", "-9223372036854775808"] {
            #expect(accepts(.integer, good), "\(good)")
        }
        for bad in ["", "-", "+1", "1.0", "1e3", "9223372036854775808", "-9223372036854775809", "12345678901234567890", " 1"] {
            #expect(!accepts(.integer, bad), "\(bad)")
        }
        for good in ["0", "0.5", "-12.250", ".5", "5.", String(repeating: "9", count: 40)] {
            #expect(accepts(.decimal, good), "\(good)")
        }
        for bad in ["", ".", "-", "1.2.3", "1e5", "NaN", "inf", "0x10", String(repeating: "9", count: 41)] {
            #expect(!accepts(.decimal, bad), "\(bad)")
        }
        #expect(accepts(.flag, "Y") && accepts(.flag, "N") && !accepts(.flag, "y") && !accepts(.flag, "YES"))
        #expect(accepts(.text, "a,\"\n\\N") && !accepts(.text, "a\u{0}"))
        // The byte rules are the readers' own rules: `Fixed(parsing:)` for decimals, Int for whole
        // numbers, Swift's UTF-8 validation for text, on random short texts and bytes.
        var random = Xoshiro(seed: 11)
        let alphabet = Array("0123456789.-+eE x,N")
        for _ in 0..<20_000 {
            let text = String((0..<Int.random(in: 1...24, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            #expect(accepts(.decimal, text) == (Fixed(parsing: text) != nil), "\(text)")
            #expect(accepts(.integer, text) == (Int(text) != nil && !text.hasPrefix("+")), "\(text)")
            let bytes = (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 1...255, using: &random) }
            #expect(
                bytes.withUnsafeBufferPointer { TableColumn.Kind.text.accepts($0) }
                    == (String(validating: bytes, as: UTF8.self) != nil))
        }
    }
}
