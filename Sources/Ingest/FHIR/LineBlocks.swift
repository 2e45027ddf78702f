import Foundation

/// Reads a file of lines in blocks of whole lines, for NDJSON: JSON text never holds a raw
/// newline, so a newline always ends a line. A line longer than a block is skipped as it is
/// read (memory stays bounded whatever a file holds) and stands in its block as one NUL byte,
/// which no JSON line can be, so it is quarantined in its place. A gzip file (known by its first
/// two bytes, whatever its name) is read as the text it holds.
struct LineBlocks {
    static let oversized: UInt8 = 0
    let blockSize: Int
    private let handle: FileHandle
    private let gzip: GzipReader?
    private var carry: [UInt8] = []
    private var atEnd = false
    private(set) var bytesRead = 0

    init(url: URL, displayName: String, blockSize: Int = 16 << 20) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw UnusableInput(
                file: displayName, problem: "cannot be opened for reading", remedy: "Check that the file exists and is readable.")
        }
        self.handle = handle
        self.blockSize = blockSize
        gzip = GzipReader.isGzip(url) ? try GzipReader(handle: handle, name: displayName) : nil
    }

    /// The next block of whole lines (the last may lack its newline), or nil at the end.
    mutating func next() throws -> [UInt8]? {
        var block = carry
        carry = []
        while !atEnd && block.count < blockSize { try read(into: &block) }
        if block.isEmpty { return nil }
        if atEnd { return block }
        if let last = block.lastIndex(of: 0x0A) {
            carry = Array(block[(last + 1)...])
            block.removeSubrange((last + 1)...)
            return block
        }
        // A whole block without a newline: skip the rest of this line.
        while !atEnd {
            var chunk: [UInt8] = []
            try read(into: &chunk)
            if let newline = chunk.firstIndex(of: 0x0A) {
                carry = Array(chunk[(newline + 1)...])
                return [Self.oversized, 0x0A]
            }
        }
        return [Self.oversized]
    }

    private mutating func read(into block: inout [UInt8]) throws {
        if let gzip {
            let text = try gzip.read(upTo: blockSize)
            bytesRead = gzip.bytesRead
            if text.isEmpty { atEnd = true } else { block.append(contentsOf: text) }
            return
        }
        let data = try handle.read(upToCount: blockSize) ?? Data()
        if data.isEmpty {
            atEnd = true
            try? handle.close()
            return
        }
        bytesRead += data.count
        block.append(contentsOf: data)
    }

    /// Splits a block into about `count` ranges of whole lines.
    static func pieces(of block: UnsafeRawBufferPointer, count: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        let step = max(1, block.count / max(1, count))
        while start < block.count {
            var end = min(block.count, start + step)
            while end < block.count, block[end - 1] != 0x0A { end += 1 }
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }
}
