/// Reads Arrow IPC streams: a schema message, then record batches, each message framed by a
/// continuation marker and its metadata's length (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format).
///
/// Flat columns of the types in `ArrowValues` are read; nested types, dictionaries and compressed
/// bodies are refused with a message rather than guessed at. Every length, offset and count in a
/// message is checked against the bytes there are, so a hostile or truncated stream is an error
/// and memory stays proportional to the stream's size.
public enum ArrowStreamReader {
    /// The most rows a table may hold, over all its batches: a column of Arrow's null type carries
    /// a count and no bytes, so without a limit a small stream could claim any number of rows.
    public static let maximumRows = Int(Int32.max)

    /// The table of one stream: its schema's columns, its batches' rows one after another.
    public static func read(_ stream: [UInt8]) throws(ArrowError) -> ArrowTable {
        let (fields, parts, rows) = try readParts(stream)
        return try table(fields.map(\.name), parts, rows: rows)
    }

    /// Several streams' tables joined, as a query's results arrive: one stream per batch.
    public static func read(streams: [[UInt8]]) throws(ArrowError) -> ArrowTable {
        var names: [String]?
        var parts: [[ArrowValues]] = []
        var rows = 0
        for stream in streams {
            let (fields, streamParts, streamRows) = try readParts(stream)
            if let names {
                guard names == fields.map(\.name) else { throw .malformed("streams of one result with different columns") }
                for k in parts.indices { parts[k] += streamParts[k] }
            } else {
                names = fields.map(\.name)
                parts = streamParts
            }
            rows += streamRows
            guard rows <= maximumRows else { throw .unsupported("a result of more than \(maximumRows) rows") }
        }
        guard let names else { throw .malformed("no stream") }
        return try table(names, parts, rows: rows)
    }

    /// Columns from their parts, each joined once.
    static func table(_ names: [String], _ parts: [[ArrowValues]], rows: Int) throws(ArrowError) -> ArrowTable {
        var columns: [ArrowColumn] = []
        for (name, columnParts) in zip(names, parts) {
            guard let values = ArrowValues.joined(columnParts) else { throw .malformed("column \(name) changed type") }
            columns.append(ArrowColumn(name: name, values: values))
        }
        return ArrowTable(columns: columns, rowCount: rows)
    }

    /// One stream's schema, each column's values batch by batch (an empty part first, so a
    /// stream without batches still has typed columns), and its rows.
    static func readParts(_ stream: [UInt8]) throws(ArrowError) -> (fields: [Field], parts: [[ArrowValues]], rows: Int) {
        var position = 0
        var schema: [Field]?
        var parts: [[ArrowValues]] = []
        var rows = 0
        while let message = try nextMessage(stream, at: &position) {
            let header = try message.metadata.root()
            let version = try header.int16(0)
            // V4 (3) and V5 (4) share the layouts read here; earlier versions laid out unions otherwise.
            guard version >= 3 else { throw .unsupported("metadata version \(version) (before V4)") }
            switch try header.uint8(1) {
            case MessageHeader.schema:
                guard schema == nil else { throw .malformed("a second schema in one stream") }
                guard let body = try header.table(2) else { throw .malformed("a schema message without its schema") }
                let fields = try readSchema(body, metadataSize: message.metadata.bytes.count)
                schema = fields
                parts = fields.map { [$0.empty()] }
            case MessageHeader.recordBatch:
                guard let schema else { throw .malformed("a record batch before the schema") }
                guard let body = try header.table(2) else { throw .malformed("a record batch message without its batch") }
                let (length, batch) = try readBatch(body, schema: schema, body: message.body)
                for (k, values) in batch.enumerated() { parts[k].append(values) }
                rows += length
                guard rows <= maximumRows else { throw .unsupported("a result of more than \(maximumRows) rows") }
            case MessageHeader.dictionaryBatch:
                throw .unsupported("dictionary-encoded columns")
            case let other:
                throw .unsupported("message type \(other)")
            }
        }
        guard let schema else { throw .malformed("a stream without a schema") }
        return (schema, parts, rows)
    }

    enum MessageHeader {
        static let schema: UInt8 = 1, dictionaryBatch: UInt8 = 2, recordBatch: UInt8 = 3
    }

    struct Message {
        let metadata: FlatBuffer
        let body: ArraySlice<UInt8>
    }

    /// The message at `position`, or nil at the end of the stream (its end marker or its last byte).
    static func nextMessage(_ stream: [UInt8], at position: inout Int) throws(ArrowError) -> Message? {
        func int32(at p: Int) throws(ArrowError) -> Int32 {
            guard p <= stream.count - 4 else { throw .malformed("the stream ends inside a message's length") }
            return Int32(
                bitPattern: UInt32(stream[p]) | UInt32(stream[p + 1]) << 8 | UInt32(stream[p + 2]) << 16
                    | UInt32(stream[p + 3]) << 24)
        }
        if position == stream.count { return nil }
        var length = try int32(at: position)
        position += 4
        // Since format 0.15 a message starts with 0xFFFFFFFF, then its length; before, its length alone.
        if length == -1 {
            length = try int32(at: position)
            position += 4
        }
        if length == 0 { return nil }
        guard length > 0, Int(length) <= stream.count - position else {
            throw .malformed("a message's metadata runs past the stream")
        }
        let metadata = FlatBuffer(bytes: Array(stream[position..<(position + Int(length))]))
        position += Int(length)
        let bodyLength = try metadata.root().int64(3)
        guard bodyLength >= 0, bodyLength <= Int64(stream.count - position) else {
            throw .malformed("a message's body runs past the stream")
        }
        let body = stream[position..<(position + Int(bodyLength))]
        position += Int(bodyLength)
        return Message(metadata: metadata, body: body)
    }

    /// A column's type, as the schema gives it.
    enum FieldType {
        case integer(bitWidth: Int, signed: Bool)
        case floatingPoint(precision: Int16)
        case utf8(large: Bool)
        case boolean
        case date(days: Bool)
        /// Microseconds are the value divided by the one and multiplied by the other.
        case timestamp(divideBy: Int64, multiplyBy: Int64)
        case null
    }

    struct Field {
        let name: String
        let type: FieldType

        func empty() -> ArrowValues {
            switch type {
            case .integer: .integers([])
            case .floatingPoint: .doubles([])
            case .utf8: .strings([])
            case .boolean: .booleans([])
            case .date: .dates([])
            case .timestamp: .timestamps([])
            case .null: .nulls(0)
            }
        }
    }

    enum TypeTag {
        static let null: UInt8 = 1, int: UInt8 = 2, floatingPoint: UInt8 = 3, utf8: UInt8 = 5, bool: UInt8 = 6
        static let date: UInt8 = 8, timestamp: UInt8 = 10, largeUtf8: UInt8 = 20
    }

    static func readSchema(_ schema: FlatBuffer.Table, metadataSize: Int) throws(ArrowError) -> [Field] {
        guard try schema.int16(0) == 0 else { throw .unsupported("big-endian data") }
        // Fields that share one name's bytes would let a small schema spell out names of any total size.
        var nameBytes = 0
        return try schema.tables(1).map { field throws(ArrowError) in
            let name = try field.string(0) ?? ""
            nameBytes += name.utf8.count
            guard nameBytes <= metadataSize else { throw .malformed("column names longer than the schema that holds them") }
            if try field.table(4) != nil { throw .unsupported("dictionary-encoded column \(name)") }
            let tag = try field.uint8(2)
            let detail = try field.table(3)
            let type: FieldType
            switch tag {
            case TypeTag.null: type = .null
            case TypeTag.int:
                guard let detail else { throw .malformed("column \(name): an integer type without its width") }
                let width = Int(try detail.int32(0))
                guard [8, 16, 32, 64].contains(width) else { throw .malformed("column \(name): integers of \(width) bits") }
                let signed = try detail.bool(1)
                if !signed && width == 64 { throw .unsupported("column \(name): unsigned 64-bit integers") }
                type = .integer(bitWidth: width, signed: signed)
            case TypeTag.floatingPoint:
                let precision = try detail?.int16(0) ?? 0
                guard precision == 1 || precision == 2 else {
                    throw .unsupported("column \(name): floating point other than single or double precision")
                }
                type = .floatingPoint(precision: precision)
            case TypeTag.utf8: type = .utf8(large: false)
            case TypeTag.largeUtf8: type = .utf8(large: true)
            case TypeTag.bool: type = .boolean
            case TypeTag.date:
                // DateUnit: DAY = 0, MILLISECOND = 1 (the default).
                type = .date(days: try detail?.int16(0, default: 1) == 0)
            case TypeTag.timestamp:
                // TimeUnit: SECOND, MILLISECOND, MICROSECOND, NANOSECOND.
                switch try detail?.int16(0) ?? 0 {
                case 0: type = .timestamp(divideBy: 1, multiplyBy: 1_000_000)
                case 1: type = .timestamp(divideBy: 1, multiplyBy: 1_000)
                case 2: type = .timestamp(divideBy: 1, multiplyBy: 1)
                case 3: type = .timestamp(divideBy: 1_000, multiplyBy: 1)
                case let unit: throw .malformed("column \(name): time unit \(unit)")
                }
            default:
                throw .unsupported("column \(name): Arrow type \(tag) (cast it to a number, text, a date or a timestamp)")
            }
            if !(try field.tables(5)).isEmpty { throw .unsupported("column \(name): nested columns") }
            return Field(name: name, type: type)
        }
    }

    /// A record batch's rows and columns, decoded from its body.
    static func readBatch(_ batch: FlatBuffer.Table, schema: [Field], body: ArraySlice<UInt8>) throws(ArrowError)
        -> (rows: Int, columns: [ArrowValues])
    {
        if try batch.table(3) != nil { throw .unsupported("compressed record batches") }
        let length = try batch.int64(0)
        // Arrow's own limit for a batch whose text offsets are 32-bit; it keeps every count below an overflow.
        guard length >= 0, length <= Int64(Int32.max) else { throw .malformed("a record batch of \(length) rows") }
        let nodes = try structs(batch, 1)
        let buffers = try structs(batch, 2)
        guard nodes.count == schema.count else {
            throw .malformed("a record batch of \(nodes.count) columns for a schema of \(schema.count)")
        }
        var nextBuffer = 0
        // Buffers follow one another through the body, as every writer lays them out: no two share
        // bytes, so what is decoded stays in proportion to the body.
        var bufferEnd: Int64 = 0
        func buffer() throws(ArrowError) -> ArraySlice<UInt8> {
            guard nextBuffer < buffers.count else { throw .malformed("a record batch with too few buffers") }
            let (offset, size) = buffers[nextBuffer]
            nextBuffer += 1
            guard offset >= bufferEnd, size >= 0, offset <= Int64(body.count), size <= Int64(body.count) - offset else {
                throw .malformed("a buffer lies outside its record batch's body, or over another buffer")
            }
            bufferEnd = offset + size
            let start = body.startIndex + Int(offset)
            return body[start..<(start + Int(size))]
        }
        var columns: [ArrowValues] = []
        for (field, node) in zip(schema, nodes) {
            let (rows, nulls) = node
            guard rows == length else { throw .malformed("column \(field.name): \(rows) rows in a batch of \(length)") }
            guard nulls >= 0, nulls <= rows else { throw .malformed("column \(field.name): \(nulls) nulls in \(rows) rows") }
            let n = Int(rows)
            if case .null = field.type {
                columns.append(.nulls(n))
                continue
            }
            let validity = try Validity(try buffer(), rows: n, nulls: Int(nulls), column: field.name)
            switch field.type {
            case .integer(let width, let signed):
                let values = try fixed(try buffer(), rows: n, width: width / 8, column: field.name)
                columns.append(
                    .integers(
                        (0..<n).map { i in
                            validity[i] ? integer(values, at: i, width: width / 8, signed: signed) : nil
                        }))
            case .floatingPoint(let precision):
                let width = precision == 2 ? 8 : 4
                let values = try fixed(try buffer(), rows: n, width: width, column: field.name)
                columns.append(
                    .doubles(
                        (0..<n).map { i in
                            guard validity[i] else { return nil }
                            let bits = UInt64(bitPattern: integer(values, at: i, width: width, signed: false))
                            return width == 8 ? Double(bitPattern: bits) : Double(Float(bitPattern: UInt32(bits)))
                        }))
            case .boolean:
                let bits = try fixed(try buffer(), rows: (n + 7) / 8, width: 1, column: field.name)
                columns.append(.booleans((0..<n).map { i in validity[i] ? bit(bits, i) : nil }))
            case .date(let days):
                let width = days ? 4 : 8
                let values = try fixed(try buffer(), rows: n, width: width, column: field.name)
                var dates: [Int32?] = []
                dates.reserveCapacity(n)
                for i in 0..<n {
                    guard validity[i] else {
                        dates.append(nil)
                        continue
                    }
                    let raw = integer(values, at: i, width: width, signed: true)
                    // Milliseconds are whole days by the format; floor division keeps a day before 1970 whole.
                    let day = days ? raw : raw.floorDivided(by: 86_400_000)
                    guard let day32 = Int32(exactly: day) else { throw .malformed("column \(field.name): a date out of range") }
                    dates.append(day32)
                }
                columns.append(.dates(dates))
            case .timestamp(let divisor, let multiplier):
                let values = try fixed(try buffer(), rows: n, width: 8, column: field.name)
                var stamps: [Int64?] = []
                stamps.reserveCapacity(n)
                for i in 0..<n {
                    guard validity[i] else {
                        stamps.append(nil)
                        continue
                    }
                    let (micro, overflow) = integer(values, at: i, width: 8, signed: true).floorDivided(by: divisor)
                        .multipliedReportingOverflow(by: multiplier)
                    guard !overflow else { throw .malformed("column \(field.name): a timestamp out of range") }
                    stamps.append(micro)
                }
                columns.append(.timestamps(stamps))
            case .utf8(let large):
                let width = large ? 8 : 4
                let offsets = try fixed(try buffer(), rows: n + 1, width: width, column: field.name, allowEmpty: n == 0)
                let data = try buffer()
                // Every offset, a null row's too, rises through the data: no value can reach past it
                // or repeat bytes another value holds.
                if n > 0 {
                    var previous = integer(offsets, at: 0, width: width, signed: true)
                    guard previous >= 0 else { throw .malformed("column \(field.name): a negative text offset") }
                    for i in 1...n {
                        let next = integer(offsets, at: i, width: width, signed: true)
                        guard next >= previous, next <= Int64(data.count) else {
                            throw .malformed("column \(field.name): text offsets that fall or lie outside their data")
                        }
                        previous = next
                    }
                }
                var strings: [String?] = []
                strings.reserveCapacity(n)
                for i in 0..<n {
                    guard validity[i] else {
                        strings.append(nil)
                        continue
                    }
                    let start = integer(offsets, at: i, width: width, signed: true)
                    let end = integer(offsets, at: i + 1, width: width, signed: true)
                    let bytes = data[(data.startIndex + Int(start))..<(data.startIndex + Int(end))]
                    guard let text = String(validating: bytes, as: UTF8.self) else {
                        throw .malformed("column \(field.name): a text value that is not UTF-8")
                    }
                    strings.append(text)
                }
                columns.append(.strings(strings))
            case .null:
                break
            }
        }
        guard nextBuffer == buffers.count else { throw .malformed("a record batch with buffers no column reads") }
        return (Int(length), columns)
    }

    /// A vector of 16-byte structs of two 64-bit integers: FieldNode (length, null count) or
    /// Buffer (offset, length).
    static func structs(_ table: FlatBuffer.Table, _ index: Int) throws(ArrowError) -> [(Int64, Int64)] {
        guard let (count, start) = try table.vector(index, stride: 16) else { return [] }
        var pairs: [(Int64, Int64)] = []
        pairs.reserveCapacity(count)
        for k in 0..<count {
            let p = start + 16 * k
            pairs.append((try table.buffer.int64(at: p), try table.buffer.int64(at: p + 8)))
        }
        return pairs
    }

    /// A buffer of `rows` values of `width` bytes, checked to hold them.
    static func fixed(
        _ buffer: ArraySlice<UInt8>, rows: Int, width: Int, column: String, allowEmpty: Bool = false
    ) throws(ArrowError) -> ArraySlice<UInt8> {
        if allowEmpty && buffer.isEmpty { return buffer }
        guard rows <= buffer.count / width else {
            throw .malformed("column \(column): a buffer of \(buffer.count) bytes for \(rows) values of \(width) bytes")
        }
        return buffer
    }

    static func integer(_ bytes: ArraySlice<UInt8>, at i: Int, width: Int, signed: Bool) -> Int64 {
        let p = bytes.startIndex + i * width
        var value: UInt64 = 0
        for k in (0..<width).reversed() { value = value << 8 | UInt64(bytes[p + k]) }
        if signed && width < 8 {
            let shift = UInt64(64 - 8 * width)
            return Int64(bitPattern: value << shift) >> shift
        }
        return Int64(bitPattern: value)
    }

    static func bit(_ bytes: ArraySlice<UInt8>, _ i: Int) -> Bool {
        bytes[bytes.startIndex + i / 8] & (1 << UInt8(i % 8)) != 0
    }

    /// Which rows hold a value: a bitmap, or every row when the column has no nulls and no bitmap.
    struct Validity {
        let bits: ArraySlice<UInt8>?

        init(_ buffer: ArraySlice<UInt8>, rows: Int, nulls: Int, column: String) throws(ArrowError) {
            if buffer.isEmpty {
                guard nulls == 0 else { throw .malformed("column \(column): \(nulls) nulls and no validity bitmap") }
                bits = nil
            } else {
                bits = try fixed(buffer, rows: (rows + 7) / 8, width: 1, column: column)
            }
        }

        subscript(i: Int) -> Bool { bits.map { bit($0, i) } ?? true }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    func floorDivided(by divisor: Int64) -> Int64 {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r < 0 ? q - 1 : q
    }
}
