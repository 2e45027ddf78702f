import Foundation

/// A file of columns: a magic line, the length of a JSON header, the header (names, metadata and
/// where each column is), then the columns as raw little-endian arrays, each 8-byte aligned, so
/// loading is one read and a copy per column with no parsing of values.
public enum ColumnFile {
    /// A header that records where each column lies after it: name -> [offset, length] in bytes.
    public protocol Header: Codable {
        var columns: [String: [Int]] { get set }
    }

    /// Collects columns, then writes them after a header.
    public struct Writer {
        var body = Data()
        var columns: [String: [Int]] = [:]
        public init() {}

        public mutating func add<T>(_ name: String, _ array: [T]) {
            array.withUnsafeBytes { bytes in
                columns[name] = [body.count, bytes.count]
                body.append(contentsOf: bytes)
            }
            while body.count % 8 != 0 { body.append(0) }
        }

        /// Writes the file beside `url` and renames it into place, so a reader never sees half a
        /// file; with `synchronise`, on disk before the rename.
        public func write<H: Header>(magic: [UInt8], header: H, to url: URL, synchronise: Bool = false) throws {
            var header = header
            header.columns = columns
            var file = Data(magic)
            // Keys sorted: the same content always gives the same bytes.
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var json = try encoder.encode(header)
            while (file.count + 8 + json.count) % 8 != 0 { json.append(32) }
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(json)
            file.append(body)
            let partial = url.appendingPathExtension("partial")
            try file.write(to: partial)
            if synchronise {
                let handle = try FileHandle(forWritingTo: partial)
                try handle.synchronize()
                try handle.close()
            }
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: partial, to: url)
        }
    }

    /// A file's header, and its columns on demand.
    public struct Reader<H: Header> {
        public let header: H
        let data: Data
        let bodyStart: Int

        /// Fails with `notThisKind` when the magic line differs and `damaged` when the header
        /// cannot be read.
        public init(_ url: URL, magic: [UInt8]) throws(ColumnFileError) {
            guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
                throw .unreadable(url.lastPathComponent)
            }
            try self.init(data, name: url.lastPathComponent, magic: magic)
        }

        /// A file's bytes, named in messages by `name`.
        public init(_ data: Data, name: String, magic: [UInt8]) throws(ColumnFileError) {
            let url = URL(fileURLWithPath: name)
            guard data.count >= magic.count + 8, Array(data.prefix(magic.count)) == magic else {
                throw .notThisKind(url.lastPathComponent)
            }
            let length = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: magic.count, as: UInt64.self).littleEndian }
            let headerStart = magic.count + 8
            guard length <= UInt64(data.count - headerStart) else { throw .damaged(url.lastPathComponent) }
            bodyStart = headerStart + Int(length)
            guard let header = try? JSONDecoder().decode(H.self, from: data.subdata(in: headerStart..<bodyStart)) else {
                throw .damaged(url.lastPathComponent)
            }
            self.header = header
            self.data = data
            self.name = url.lastPathComponent
        }

        let name: String

        /// A column as an array; fails when it is missing or lies outside the file.
        public func column<T>(_ column: String, _: T.Type) throws(ColumnFileError) -> [T] {
            guard let range = header.columns[column], range.count == 2, range[0] >= 0, range[1] >= 0,
                range[0] <= data.count - bodyStart, range[1] <= data.count - bodyStart - range[0],
                range[1] % MemoryLayout<T>.stride == 0
            else { throw .damaged(name) }
            let count = range[1] / MemoryLayout<T>.stride
            let from = bodyStart + range[0]
            return data.withUnsafeBytes { raw in
                [T](unsafeUninitializedCapacity: count) { buffer, initialised in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: raw[from..<(from + range[1])]))
                    initialised = count
                }
            }
        }

        public func days(_ column: String) throws(ColumnFileError) -> [Day] {
            try self.column(column, Int32.self).map(Day.init(rawValue:))
        }

        /// Newline-separated strings, as `Writer.add(strings:)` saves them.
        public func strings(_ column: String, count: Int) throws(ColumnFileError) -> [String] {
            let bytes = try self.column(column, UInt8.self)
            guard count > 0 else { return [] }
            let out = bytes.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard out.count == count else { throw .damaged(name) }
            return out
        }
    }
}

extension ColumnFile.Writer {
    /// Strings, newline-separated (none of them may hold a newline).
    public mutating func add(strings name: String, _ values: [String]) {
        add(name, Array(values.joined(separator: "\n").utf8))
    }
}

public enum ColumnFileError: Error, CustomStringConvertible, Equatable {
    case notThisKind(String)
    case damaged(String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .notThisKind(let f): "\(f) is not the kind of file expected here"
        case .damaged(let f): "\(f) is damaged or truncated; run the pipeline again to rebuild it"
        case .unreadable(let f): "\(f) cannot be read (is it missing, or not readable by this user?)"
        }
    }
}
