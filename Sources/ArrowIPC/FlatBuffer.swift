/// A checked reader of the FlatBuffers tables Arrow's IPC messages are written in
/// (https://flatbuffers.dev/internals/): every offset is checked against the buffer before it is
/// followed, so a malformed message is an error, never a read outside it.
struct FlatBuffer {
    let bytes: [UInt8]

    /// The root table, whose position the first four bytes give.
    func root() throws(ArrowError) -> Table {
        Table(buffer: self, position: try offsetTarget(at: 0))
    }

    func uint8(at p: Int) throws(ArrowError) -> UInt8 {
        guard p >= 0, p < bytes.count else { throw .malformed("a FlatBuffers field lies outside its message") }
        return bytes[p]
    }

    func uint16(at p: Int) throws(ArrowError) -> UInt16 {
        UInt16(try uint8(at: p)) | UInt16(try uint8(at: p + 1)) << 8
    }

    func uint32(at p: Int) throws(ArrowError) -> UInt32 {
        guard p >= 0, p <= bytes.count - 4 else { throw .malformed("a FlatBuffers field lies outside its message") }
        return UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24
    }

    func int64(at p: Int) throws(ArrowError) -> Int64 {
        guard p >= 0, p <= bytes.count - 8 else { throw .malformed("a FlatBuffers field lies outside its message") }
        var value: UInt64 = 0
        for k in (0..<8).reversed() { value = value << 8 | UInt64(bytes[p + k]) }
        return Int64(bitPattern: value)
    }

    /// Where the unsigned offset stored at `p` points (offsets count forward from themselves).
    func offsetTarget(at p: Int) throws(ArrowError) -> Int {
        let target = p + Int(try uint32(at: p))
        guard target < bytes.count else { throw .malformed("a FlatBuffers offset points outside its message") }
        return target
    }

    /// A table: its fields are found through its vtable, which a signed offset at its start names.
    struct Table {
        let buffer: FlatBuffer
        let position: Int

        /// Where field `index` lies, or nil when the table leaves it at its default.
        func field(_ index: Int) throws(ArrowError) -> Int? {
            let vtable = position - Int(Int32(bitPattern: try buffer.uint32(at: position)))
            let vtableSize = Int(try buffer.uint16(at: vtable))
            let slot = 4 + 2 * index
            guard slot + 2 <= vtableSize else { return nil }
            let offset = Int(try buffer.uint16(at: vtable + slot))
            return offset == 0 ? nil : position + offset
        }

        func uint8(_ index: Int, default value: UInt8 = 0) throws(ArrowError) -> UInt8 {
            guard let p = try field(index) else { return value }
            return try buffer.uint8(at: p)
        }

        func int16(_ index: Int, default value: Int16 = 0) throws(ArrowError) -> Int16 {
            guard let p = try field(index) else { return value }
            return Int16(bitPattern: try buffer.uint16(at: p))
        }

        func int32(_ index: Int, default value: Int32 = 0) throws(ArrowError) -> Int32 {
            guard let p = try field(index) else { return value }
            return Int32(bitPattern: try buffer.uint32(at: p))
        }

        func int64(_ index: Int, default value: Int64 = 0) throws(ArrowError) -> Int64 {
            guard let p = try field(index) else { return value }
            return try buffer.int64(at: p)
        }

        func bool(_ index: Int, default value: Bool = false) throws(ArrowError) -> Bool {
            try uint8(index, default: value ? 1 : 0) != 0
        }

        func table(_ index: Int) throws(ArrowError) -> Table? {
            guard let p = try field(index) else { return nil }
            return Table(buffer: buffer, position: try buffer.offsetTarget(at: p))
        }

        func string(_ index: Int) throws(ArrowError) -> String? {
            guard let p = try field(index) else { return nil }
            let start = try buffer.offsetTarget(at: p)
            let count = Int(try buffer.uint32(at: start))
            guard count <= buffer.bytes.count - start - 4 else { throw .malformed("a FlatBuffers string runs past its message") }
            guard let text = String(validating: buffer.bytes[(start + 4)..<(start + 4 + count)], as: UTF8.self) else {
                throw .malformed("a FlatBuffers string is not UTF-8")
            }
            return text
        }

        /// A vector's element count and the position of its first element, checked to lie within
        /// the buffer for elements of `stride` bytes.
        func vector(_ index: Int, stride: Int) throws(ArrowError) -> (count: Int, start: Int)? {
            guard let p = try field(index) else { return nil }
            let start = try buffer.offsetTarget(at: p)
            let count = Int(try buffer.uint32(at: start))
            guard count <= (buffer.bytes.count - start - 4) / stride else {
                throw .malformed("a FlatBuffers vector runs past its message")
            }
            return (count, start + 4)
        }

        /// The tables of a vector of tables.
        func tables(_ index: Int) throws(ArrowError) -> [Table] {
            guard let (count, start) = try vector(index, stride: 4) else { return [] }
            var tables: [Table] = []
            tables.reserveCapacity(count)
            for k in 0..<count {
                tables.append(Table(buffer: buffer, position: try buffer.offsetTarget(at: start + 4 * k)))
            }
            return tables
        }
    }
}
