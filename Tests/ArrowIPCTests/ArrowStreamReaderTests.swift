import Foundation
import TestSupport
import Testing

@testable import ArrowIPC

@Suite struct ArrowStreamReaderTests {
    /// Streams pyarrow wrote (`arrow_streams.py`), read back and compared with the values pyarrow
    /// says they hold: every integer width, both float precisions, text of both offset widths, booleans,
    /// dates in days and milliseconds, timestamps in four units, the null type, many batches, an
    /// empty table, the format before 0.15; and what the reader refuses, refused.
    @Test(.enabled(if: Self.hasPyarrow, "needs the Spark venv's pyarrow (scripts/spark install)"))
    func readsWhatPyarrowWrites() throws {
        let folder = temporaryFolder("arrow")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("arrow_streams.py")
        let run = try runProgram([SparkTesting.python, script.path, folder.path])
        try #require(run.status == 0, "\(run.errors)")
        var cases = 0
        for name in ["types", "batches", "empty", "legacy", "dictionary", "nested", "compressed", "decimal"] {
            let stream = try [UInt8](Data(contentsOf: folder.appendingPathComponent("\(name).arrow")))
            let expected =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: folder.appendingPathComponent("\(name).json"))) as! [String: Any]
            cases += 1
            if let refusal = expected["refused"] as? String {
                #expect(throws: ArrowError.unsupported(refusal), "\(name)") { try ArrowStreamReader.read(stream) }
                continue
            }
            let table = try ArrowStreamReader.read(stream)
            #expect(table.rowCount == expected["rows"] as! Int, "\(name)")
            let columns = expected["columns"] as! [[String: Any]]
            #expect(table.columns.map(\.name) == columns.map { $0["name"] as! String }, "\(name)")
            for (column, want) in zip(table.columns, columns) {
                let difference = Self.mismatch(column.values, kind: want["kind"] as! String, want["values"]!)
                #expect(difference == nil, "\(name).\(column.name): \(difference ?? "")")
            }
        }
        #expect(cases == 8)
        // The batches stream is ten batches of at most 1,024 rows.
        let batches = try ArrowStreamReader.read([UInt8](Data(contentsOf: folder.appendingPathComponent("batches.arrow"))))
        #expect(batches.rowCount == 10_000)
        guard case .integers(let people) = try batches.column("person").values else {
            Issue.record("person is not integers")
            return
        }
        #expect(people == (0..<10_000).map { Int64($0) })
    }

    /// Every prefix of a real stream, and the stream with each byte changed, read without a trap
    /// or a read outside it: an error, or a table no larger than the stream allows.
    @Test(.enabled(if: Self.hasPyarrow, "needs the Spark venv's pyarrow (scripts/spark install)"))
    func damagedStreamsAreErrorsNotCrashes() throws {
        let folder = temporaryFolder("arrow")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("arrow_streams.py")
        let run = try runProgram([SparkTesting.python, script.path, folder.path])
        try #require(run.status == 0, "\(run.errors)")
        let stream = try [UInt8](Data(contentsOf: folder.appendingPathComponent("types.arrow")))
        var refused = 0
        for end in 0..<stream.count {
            do { _ = try ArrowStreamReader.read(Array(stream[..<end])) } catch { refused += 1 }
        }
        // A prefix that ends exactly after a whole message reads as a shorter stream; any other is refused.
        #expect(refused >= stream.count - 3)
        for i in stream.indices {
            for value: UInt8 in [0x00, 0xFF, 0x7F, stream[i] ^ 0x01] {
                var changed = stream
                changed[i] = value
                if let table = try? ArrowStreamReader.read(changed) {
                    #expect(table.rowCount <= stream.count * 8)
                }
            }
        }
    }

    static let hasPyarrow = FileManager.default.isExecutableFile(atPath: SparkTesting.python)

    /// The fuzzing seed pyarrow wrote, read without pyarrow: so plain `swift test` reads a real stream.
    @Test func readsTheSeedStream() throws {
        let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/arrow/types.arrow")
        let table = try ArrowStreamReader.read([UInt8](Data(contentsOf: seed)))
        #expect(table.rowCount == 6)
        #expect(try table.column("i16").values == .integers([0, 32767, -32768, nil, 5, -5]))
        #expect(try table.column("day").values == .dates([0, 20179, nil, -25509, -1, 2_932_896]))
        #expect(try table.column("text").values.count == 6)
        #expect(try table.column("nothing").values == .nulls(6))
    }

    @Test func refusesWhatIsNotAStream() {
        for bytes: [UInt8] in [
            [], [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0], [1, 2, 3], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            [0xFF, 0xFF, 0xFF, 0xFF, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], Array(repeating: 0xFF, count: 64),
        ] {
            #expect(throws: ArrowError.self, "\(bytes)") { try ArrowStreamReader.read(bytes) }
        }
        #expect(throws: ArrowError.malformed("no stream")) { try ArrowStreamReader.read(streams: []) }
    }

    @Test func namesAMissingColumn() throws {
        let table = ArrowTable(columns: [ArrowColumn(name: "a", values: .nulls(0))], rowCount: 0)
        #expect(throws: ArrowError.missingColumn("b", present: ["a"])) { try table.column("b") }
        #expect(
            ArrowError.missingColumn("b", present: ["a"]).description == "Arrow result has no column b (it has a)")
    }

    /// Nil when the values are those pyarrow reported, else where the first difference is.
    static func mismatch(_ values: ArrowValues, kind: String, _ expected: Any) -> String? {
        if case .nulls(let n) = values { return kind == "nulls" && n == expected as? Int ? nil : "nulls(\(n))" }
        let want = expected as! [Any]
        let got: [AnyHashable?]
        switch (values, kind) {
        case (.integers(let v), "integers"): got = v
        case (.doubles(let v), "doubles"): got = v.map { $0.map { Int64(bitPattern: $0.bitPattern) } }
        case (.strings(let v), "strings"): got = v
        case (.booleans(let v), "booleans"): got = v
        case (.dates(let v), "dates"): got = v.map { $0.map { Int64($0) } }
        case (.timestamps(let v), "timestamps"): got = v
        default: return "\(values) read where pyarrow wrote \(kind)"
        }
        guard got.count == want.count else { return "\(got.count) values where pyarrow wrote \(want.count)" }
        for (i, (value, wanted)) in zip(got, want).enumerated() {
            let expectedValue: AnyHashable? =
                switch wanted {
                case is NSNull: nil
                case let text as String: text
                case let number as NSNumber where kind == "booleans": number.boolValue
                case let number as NSNumber: Int64(truncating: number)
                default: "?"
                }
            if value != expectedValue { return "row \(i): \(String(describing: value)) where pyarrow wrote \(wanted)" }
        }
        return nil
    }
}

/// Streams written by hand, FlatBuffers and all, to hold what no writer makes: tables shared
/// between fields, buffers over one another, offsets that fall at null rows, rows without bytes.
@Suite struct HostileArrowStreamTests {
    /// A forward FlatBuffers writer: tables are written before what they point to, and each
    /// pointer is patched once its target is written.
    struct Writer {
        var bytes: [UInt8] = [0, 0, 0, 0]

        mutating func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }

        /// Points the offset at `slot` to `target`.
        mutating func patch(_ slot: Int, to target: Int) {
            let value = UInt32(target - slot)
            for k in 0..<4 { bytes[slot + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
        }

        enum Value {
            case u8(UInt8), i16(Int16), i32(Int32), i64(Int64), pointer
        }

        /// A table of fields by index; returns where each pointer field's slot is.
        mutating func table(_ fields: [(Int, Value)]) -> (position: Int, slots: [Int: Int]) {
            let count = (fields.map(\.0).max() ?? -1) + 1
            let vtable = bytes.count
            append(UInt16(4 + 2 * count))
            append(UInt16(0))
            var offset = 4
            var offsets = [Int](repeating: 0, count: count)
            for (index, value) in fields {
                offsets[index] = offset
                switch value {
                case .u8: offset += 1
                case .i16: offset += 2
                case .i32, .pointer: offset += 4
                case .i64: offset += 8
                }
            }
            for o in offsets { append(UInt16(o)) }
            let position = bytes.count
            append(Int32(position - vtable))
            var slots: [Int: Int] = [:]
            for (index, value) in fields {
                switch value {
                case .u8(let v): append(v)
                case .i16(let v): append(v)
                case .i32(let v): append(v)
                case .i64(let v): append(v)
                case .pointer:
                    slots[index] = bytes.count
                    append(UInt32(0))
                }
            }
            return (position, slots)
        }

        mutating func string(_ text: String) -> Int {
            let position = bytes.count
            append(UInt32(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
            bytes.append(0)
            return position
        }

        /// A vector of `count` pointers; returns its position and each element's slot.
        mutating func pointers(_ count: Int) -> (position: Int, slots: [Int]) {
            let position = bytes.count
            append(UInt32(count))
            let slots = (0..<count).map { k in bytes.count + 4 * k }
            for _ in 0..<count { append(UInt32(0)) }
            return (position, slots)
        }

        mutating func pairs(_ values: [(Int64, Int64)]) -> Int {
            let position = bytes.count
            append(UInt32(values.count))
            for (a, b) in values {
                append(a)
                append(b)
            }
            return position
        }
    }

    /// A message: its metadata framed, padded to 8 bytes, then its body.
    static func frame(_ metadata: [UInt8], body: [UInt8] = []) -> [UInt8] {
        var padded = metadata
        while padded.count % 8 != 0 { padded.append(0) }
        var out: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        withUnsafeBytes(of: UInt32(padded.count).littleEndian) { out.append(contentsOf: $0) }
        return out + padded + body
    }

    enum Column {
        case int8, utf8, null
    }

    /// A schema message whose fields all point at `sharedFields` tables (each used in turn).
    static func schema(_ columns: [(String, Column)], fieldCount: Int? = nil) -> [UInt8] {
        var w = Writer()
        let message = w.table([(0, .i16(4)), (1, .u8(1)), (2, .pointer), (3, .i64(0))])
        w.patch(0, to: message.position)
        let schema = w.table([(1, .pointer)])
        w.patch(message.slots[2]!, to: schema.position)
        let count = fieldCount ?? columns.count
        let vector = w.pointers(count)
        w.patch(schema.slots[1]!, to: vector.position)
        var tables: [Int] = []
        for (name, column) in columns {
            let tag: UInt8 =
                switch column {
                case .int8: 2
                case .utf8: 5
                case .null: 1
                }
            let field = w.table([(0, .pointer), (2, .u8(tag)), (3, .pointer)])
            let nameAt = w.string(name)
            w.patch(field.slots[0]!, to: nameAt)
            let type = column == .int8 ? w.table([(0, .i32(8)), (1, .u8(1))]) : w.table([])
            w.patch(field.slots[3]!, to: type.position)
            tables.append(field.position)
        }
        for (k, slot) in vector.slots.enumerated() { w.patch(slot, to: tables[k % tables.count]) }
        return frame(w.bytes)
    }

    static func batch(length: Int64, nodes: [(Int64, Int64)], buffers: [(Int64, Int64)], body: [UInt8]) -> [UInt8] {
        var w = Writer()
        let message = w.table([(0, .i16(4)), (1, .u8(3)), (2, .pointer), (3, .i64(Int64(body.count)))])
        w.patch(0, to: message.position)
        let batch = w.table([(0, .i64(length)), (1, .pointer), (2, .pointer)])
        w.patch(message.slots[2]!, to: batch.position)
        w.patch(batch.slots[1]!, to: w.pairs(nodes))
        w.patch(batch.slots[2]!, to: w.pairs(buffers))
        return frame(w.bytes, body: body)
    }

    @Test func theWriterWritesWhatTheReaderReads() throws {
        let stream =
            Self.schema([("n", .int8), ("t", .utf8)])
            + Self.batch(
                length: 3, nodes: [(3, 0), (3, 1)], buffers: [(0, 0), (0, 3), (8, 1), (16, 16), (32, 8)],
                body: [1, 0xFF, 7, 0, 0, 0, 0, 0] + [0b101, 0, 0, 0, 0, 0, 0, 0] + [
                    0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0,
                ]
                    + Array("abxyz".utf8) + [0, 0, 0])
        let table = try ArrowStreamReader.read(stream)
        #expect(table.rowCount == 3)
        #expect(try table.column("n").values == .integers([1, -1, 7]))
        #expect(try table.column("t").values == .strings(["ab", nil, "xyz"]))
    }

    /// A thousand fields sharing one long name: the names would be far longer than the schema.
    @Test func refusesFieldsSharingOneTable() {
        let name = String(repeating: "n", count: 1_000)
        let stream = Self.schema([(name, .null)], fieldCount: 1_000)
        #expect(throws: ArrowError.malformed("column names longer than the schema that holds them")) {
            try ArrowStreamReader.read(stream)
        }
    }

    /// Two columns decoding the same bytes of the body.
    @Test func refusesBuffersOverOneAnother() {
        let stream =
            Self.schema([("a", .int8), ("b", .int8)])
            + Self.batch(
                length: 8, nodes: [(8, 0), (8, 0)], buffers: [(0, 0), (0, 8), (0, 0), (0, 8)], body: Array(repeating: 1, count: 8)
            )
        #expect(throws: ArrowError.malformed("a buffer lies outside its record batch's body, or over another buffer")) {
            try ArrowStreamReader.read(stream)
        }
    }

    /// Offsets that fall back at a null row, so each valid row could span the whole data.
    @Test func refusesTextOffsetsThatFall() {
        let offsets: [Int32] = [0, 8, 0, 8, 0]
        var body: [UInt8] = [0b0101, 0, 0, 0, 0, 0, 0, 0]
        for o in offsets { withUnsafeBytes(of: o.littleEndian) { body.append(contentsOf: $0) } }
        body += [0, 0, 0, 0] + Array("abcdefgh".utf8)
        let stream =
            Self.schema([("t", .utf8)])
            + Self.batch(length: 4, nodes: [(4, 2)], buffers: [(0, 1), (8, 20), (32, 8)], body: body)
        #expect(throws: ArrowError.malformed("column t: text offsets that fall or lie outside their data")) {
            try ArrowStreamReader.read(stream)
        }
    }

    /// A null column claims rows without bytes: past the limit, the stream is refused.
    @Test func refusesRowsBeyondTheLimit() throws {
        let one = Self.batch(length: Int64(Int32.max), nodes: [(Int64(Int32.max), Int64(Int32.max))], buffers: [], body: [])
        let fits = try ArrowStreamReader.read(Self.schema([("z", .null)]) + one)
        #expect(fits.rowCount == Int(Int32.max))
        #expect(throws: ArrowError.self) { try ArrowStreamReader.read(Self.schema([("z", .null)]) + one + one) }
        #expect(throws: ArrowError.self) {
            try ArrowStreamReader.read(streams: [Self.schema([("z", .null)]) + one, Self.schema([("z", .null)]) + one])
        }
    }

    /// Buffers a batch lists that no column reads.
    @Test func refusesBuffersNoColumnReads() {
        let stream =
            Self.schema([("a", .int8)])
            + Self.batch(length: 1, nodes: [(1, 0)], buffers: [(0, 0), (0, 1), (8, 0)], body: [5, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: ArrowError.malformed("a record batch with buffers no column reads")) {
            try ArrowStreamReader.read(stream)
        }
    }
}
