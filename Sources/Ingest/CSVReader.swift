import Foundation
import PHMCore

/// Why a file cannot be read at all. Stops the run with a message naming the file.
public struct UnusableInput: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var problem: String
    public var remedy: String

    public init(file: String, problem: String, remedy: String) {
        self.file = file
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String { "\(file): \(problem). \(remedy)" }
}

/// One record of a CSV file: the byte ranges of its fields inside the current block.
///
/// Quoted fields are unquoted in place (`""` becomes `"`), so every field is a plain byte
/// slice. Valid only while the block it points into is alive.
public struct Row {
    let base: UnsafeMutableRawPointer
    var starts: UnsafeMutableBufferPointer<Int>
    var ends: UnsafeMutableBufferPointer<Int>
    public internal(set) var fieldCount: Int
    /// The record's first physical line, counting the header as line 1.
    public internal(set) var line: Int

    /// The bytes of field `index`, or an empty buffer for a column the file lacks (`index < 0`)
    /// and for fields past those a row has room for (a row with too many fields counts them all
    /// in `fieldCount`, so it can be refused, but keeps only the first ones).
    @inline(__always)
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        guard index >= 0, index < fieldCount, index < starts.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + starts[index], count: ends[index] - starts[index])
    }
}

/// The outcome of splitting a record into fields.
enum SplitResult {
    case ok
    case badQuoting
}

/// Splits one record (`bytes[start..<end]`, no line terminator) into fields, unquoting in place.
@inline(__always)
func splitRecord(
    _ base: UnsafeMutableRawPointer, start: Int, end: Int,
    starts: inout UnsafeMutableBufferPointer<Int>, ends: inout UnsafeMutableBufferPointer<Int>,
    capacity: Int, fieldCount: inout Int
) -> SplitResult {
    let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")
    var i = start
    var count = 0
    while true {
        // The bound first: a record ending in a comma leaves `i == end`, which may be past the block.
        if i < end, base.load(fromByteOffset: i, as: UInt8.self) == quote {
            // Quoted field: copy down over doubled quotes.
            var read = i + 1
            var write = i
            var closed = false
            while read < end {
                let byte = base.load(fromByteOffset: read, as: UInt8.self)
                if byte == quote {
                    if read + 1 < end, base.load(fromByteOffset: read + 1, as: UInt8.self) == quote {
                        base.storeBytes(of: quote, toByteOffset: write, as: UInt8.self)
                        write += 1
                        read += 2
                        continue
                    }
                    closed = true
                    read += 1
                    break
                }
                base.storeBytes(of: byte, toByteOffset: write, as: UInt8.self)
                write += 1
                read += 1
            }
            guard closed, read == end || base.load(fromByteOffset: read, as: UInt8.self) == comma else {
                return .badQuoting
            }
            if count < capacity {
                starts[count] = i
                ends[count] = write
            }
            count += 1
            if read == end { break }
            i = read + 1
        } else {
            var j = i
            while j < end {
                let byte = base.load(fromByteOffset: j, as: UInt8.self)
                if byte == comma { break }
                if byte == quote { return .badQuoting }
                j += 1
            }
            if count < capacity {
                starts[count] = i
                ends[count] = j
            }
            count += 1
            if j >= end { break }
            i = j + 1
        }
    }
    fieldCount = count
    return .ok
}

/// Finds record ends the RFC 4180 way: a quote opens a quoted section only at the start of a
/// field, and inside one a doubled quote is an escaped quote. A stray quote in the middle of an
/// unquoted field therefore never swallows the lines after it.
struct RecordScanner {
    var inQuotes = false
    var fieldStart = true

    /// Returns the offset of the next record-ending newline in `bytes[i..<end]`, or nil, and counts
    /// the newlines inside quotes it passes in `quotedNewlines`.
    @inline(__always)
    mutating func nextEnd(_ bytes: UnsafeRawPointer, from i: Int, to end: Int, quotedNewlines: inout Int, sawQuote: inout Bool)
        -> Int?
    {
        var j = i
        while j < end {
            let byte = bytes.load(fromByteOffset: j, as: UInt8.self)
            if inQuotes {
                if byte == 0x22 {
                    sawQuote = true
                    if j + 1 < end, bytes.load(fromByteOffset: j + 1, as: UInt8.self) == 0x22 {
                        j += 2
                        continue
                    }
                    inQuotes = false
                } else if byte == 0x0A {
                    quotedNewlines += 1
                }
            } else if byte == 0x0A {
                fieldStart = true
                return j
            } else if byte == 0x2C {
                fieldStart = true
                j += 1
                continue
            } else if byte == 0x22 {
                sawQuote = true
                if fieldStart { inQuotes = true }
            }
            fieldStart = false
            j += 1
        }
        return nil
    }
}

/// An open file, closed when the last copy of its reader goes.
final class FileDescriptor: Sendable {
    let descriptor: Int32

    init?(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Bytes read into `buffer` (retried when interrupted), 0 at the end, -1 on an error.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let got = Foundation.read(descriptor, buffer.baseAddress, buffer.count)
            if got < 0 && errno == EINTR { continue }
            return got
        }
    }
}

/// Reads a CSV file in large blocks and hands out pieces of whole records for parallel parsing.
///
/// Each block is cut at a record boundary (quote-aware only when the block contains a quote),
/// then split into roughly equal pieces at record boundaries. Memory stays bounded by the
/// block size whatever the file size.
struct BlockReader {
    let path: String
    let displayName: String
    let blockSize: Int
    private let file: FileDescriptor
    private var carry: [UInt8] = []
    /// A merged block's storage, handed back to be filled again rather than freed: a fresh
    /// allocation of a block's size costs a page fault per page.
    private var spare: [UInt8] = []
    private(set) var atEnd = false
    private(set) var bytesRead = 0

    init(path: String, displayName: String, blockSize: Int = 16 << 20) throws {
        self.path = path
        self.displayName = displayName
        self.blockSize = blockSize
        guard let file = FileDescriptor(path) else {
            throw UnusableInput(
                file: displayName, problem: "cannot be opened for reading",
                remedy: "Check that the file exists and is readable.")
        }
        self.file = file
    }

    /// Gives a block's storage back for the next block.
    mutating func recycle(_ block: consuming [UInt8]) {
        if block.capacity > spare.capacity { spare = block }
    }

    /// The next block of whole records (the last one may lack a final newline), or nil at the end.
    mutating func next() throws -> [UInt8]? {
        var block = spare
        spare = []
        block.removeAll(keepingCapacity: true)
        block.append(contentsOf: carry)
        carry.removeAll(keepingCapacity: true)
        var wanted = blockSize
        while true {
            if !atEnd && block.count < wanted {
                try fill(&block, upTo: wanted)
            }
            if block.isEmpty { return nil }
            if atEnd { return block }
            if let cut = BlockReader.lastRecordEnd(block) {
                carry.append(contentsOf: block[cut...])
                block.removeSubrange(cut...)
                return block
            }
            // One record longer than a block: read on until it ends.
            wanted = block.count + blockSize
        }
    }

    /// Reads from the file into `block` until it holds `wanted` bytes or the file ends.
    private mutating func fill(_ block: inout [UInt8], upTo wanted: Int) throws {
        let start = block.count
        var n = start
        // Zeros first (a memset, little beside parsing the block), then the file's bytes over them.
        block.append(contentsOf: repeatElement(0, count: wanted - n))
        var ended = false
        let file = file
        var failure: Int32 = 0
        block.withUnsafeMutableBytes { buffer in
            while n < wanted {
                let got = file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[n..<wanted]))
                if got < 0 {
                    failure = errno
                    return
                }
                if got == 0 {
                    ended = true
                    break
                }
                n += got
            }
        }
        block.removeSubrange(n...)
        bytesRead += n - start
        if failure != 0 {
            throw UnusableInput(
                file: displayName, problem: "could not be read (\(String(cString: strerror(failure))))",
                remedy: "Check that the file is a readable file.")
        }
        if ended { atEnd = true }
    }

    /// The offset just past the last record terminator in `block`, honouring quotes.
    static func lastRecordEnd(_ block: [UInt8]) -> Int? {
        block.withUnsafeBytes { bytes in
            let hasQuote = memchr(bytes.baseAddress!, Int32(UInt8(ascii: "\"")), bytes.count) != nil
            if !hasQuote {
                guard let last = bytes.lastIndex(of: 0x0A) else { return nil }
                return last + 1
            }
            var scanner = RecordScanner()
            var lastEnd: Int?
            var i = 0
            var newlines = 0, quote = false
            while let end = scanner.nextEnd(
                bytes.baseAddress!, from: i, to: bytes.count, quotedNewlines: &newlines, sawQuote: &quote)
            {
                lastEnd = end + 1
                i = end + 1
            }
            return lastEnd
        }
    }

    /// Splits a block of whole records into about `count` pieces at record boundaries.
    static func pieces(of block: UnsafeRawBufferPointer, count: Int) -> [Range<Int>] {
        let total = block.count
        guard count > 1, total > 1 << 16 else { return [0..<total] }
        let hasQuote = memchr(block.baseAddress!, Int32(UInt8(ascii: "\"")), total) != nil
        var cuts: [Int] = [0]
        if hasQuote {
            let targets = (1..<count).map { total * $0 / count }
            var scanner = RecordScanner()
            var i = 0
            var newlines = 0, quote = false
            var next = 0
            while next < targets.count,
                let end = scanner.nextEnd(block.baseAddress!, from: i, to: total, quotedNewlines: &newlines, sawQuote: &quote)
            {
                if end >= targets[next] {
                    if end + 1 < total { cuts.append(end + 1) }
                    while next < targets.count, targets[next] <= end { next += 1 }
                }
                i = end + 1
            }
        } else {
            for k in 1..<count {
                let target = max(total * k / count, cuts.last!)
                guard target < total,
                    let found = memchr(block.baseAddress! + target, 0x0A, total - target)
                else { break }
                let cut = block.baseAddress!.distance(to: UnsafeRawPointer(found)) + 1
                if cut > cuts.last! && cut < total { cuts.append(cut) }
            }
        }
        cuts.append(total)
        return zip(cuts, cuts.dropFirst()).compactMap { $0 < $1 ? $0..<$1 : nil }
    }
}

/// Calls `body` for each record of `piece`, giving it the split row, and returns the number of
/// physical lines in the piece.
///
/// `firstLine` is the physical line number of the piece's first byte (the header is line 1).
/// Records whose quoting is broken are passed with `badQuoting == true` and no fields.
public func forEachRecord(
    in base: UnsafeMutableRawPointer, range: Range<Int>, firstLine: Int, maxFields: Int,
    _ body: (inout Row, _ rawLine: UnsafeRawBufferPointer, _ badQuoting: Bool) -> Void
) -> Int {
    var scratch: [UInt8] = []
    let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: maxFields)
    let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: maxFields)
    defer {
        starts.deallocate()
        ends.deallocate()
    }
    var row = Row(base: base, starts: starts, ends: ends, fieldCount: 0, line: firstLine)
    var line = firstLine
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
        // Find the record end: the next newline outside quotes.
        var scanner = RecordScanner()
        var newlines = 0
        var quoted = false
        let j = scanner.nextEnd(base, from: i, to: end, quotedNewlines: &newlines, sawQuote: &quoted) ?? end
        var recordEnd = j
        if recordEnd > i, base.load(fromByteOffset: recordEnd - 1, as: UInt8.self) == 0x0D { recordEnd -= 1 }
        if recordEnd > i {  // blank lines are not records
            row.line = line
            // Unquoting rewrites the record in place, so keep the raw line of a quoted record.
            if quoted {
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: recordEnd - i))
            }
            var fieldCount = 0
            let result = splitRecord(
                base, start: i, end: recordEnd, starts: &row.starts, ends: &row.ends,
                capacity: maxFields, fieldCount: &fieldCount)
            row.fieldCount = result == .ok ? fieldCount : 0
            if quoted {
                scratch.withUnsafeBytes { body(&row, $0, result == .badQuoting) }
            } else {
                body(&row, UnsafeRawBufferPointer(start: base + i, count: recordEnd - i), false)
            }
        }
        line += 1 + newlines
        i = j + 1
    }
    return line - firstLine
}
