import CZlib
import Foundation

/// Reads a gzip file as the bytes it holds, a bounded amount at a time (zlib's inflate, RFC 1952),
/// so an export's `.ndjson.gz` files stream like plain ones. Several gzip members one after
/// another (as `cat a.gz b.gz` makes) read as one text.
///
/// A file that is not gzip, is damaged or ends early, or that expands to more than 250 times
/// its size (the synthetic export's NDJSON compresses 23 to 31 times with gzip; far more is a decompression bomb), throws
/// `UnusableInput` naming it.
final class GzipReader {
    static let maximumRatio = 250
    private let handle: FileHandle
    private let name: String
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let input = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 20)
    private var inputEnded = false
    private var memberEnded = false
    private var produced = 0
    private(set) var bytesRead = 0

    /// Whether `url` starts with the gzip magic bytes.
    static func isGzip(_ url: URL) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 2)).map { Array($0) == [0x1F, 0x8B] } ?? false
    }

    init(handle: FileHandle, name: String) throws {
        self.handle = handle
        self.name = name
        stream.initialize(to: z_stream())
        guard czlib_inflate_init(stream) == Z_OK else {
            throw UnusableInput(file: name, problem: "cannot be decompressed (zlib would not start)", remedy: "Try again.")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// Up to `count` bytes of the decompressed text; empty at its end.
    func read(upTo count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var written = 0
        while written < count {
            if stream.pointee.avail_in == 0, !inputEnded {
                let data = try handle.read(upToCount: 1 << 20) ?? Data()
                if data.isEmpty {
                    inputEnded = true
                } else {
                    data.copyBytes(to: input, count: data.count)
                    bytesRead += data.count
                    stream.pointee.next_in = input
                    stream.pointee.avail_in = UInt32(data.count)
                    if memberEnded {
                        // Another member follows the one that ended.
                        guard inflateReset(stream) == Z_OK else { throw damaged("it cannot be read past a member") }
                        memberEnded = false
                    }
                }
            }
            if stream.pointee.avail_in == 0, inputEnded {
                if !memberEnded { throw damaged("it ends in the middle of its compressed data") }
                break
            }
            if memberEnded {
                guard inflateReset(stream) == Z_OK else { throw damaged("it cannot be read past a member") }
                memberEnded = false
            }
            let before = written
            let status = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.pointee.next_out = buffer.baseAddress! + written
                stream.pointee.avail_out = UInt32(count - written)
                let status = inflate(stream, Z_NO_FLUSH)
                written = count - Int(stream.pointee.avail_out)
                return status
            }
            switch status {
            case Z_OK: break
            case Z_STREAM_END: memberEnded = true
            case Z_BUF_ERROR where written > before || stream.pointee.avail_in == 0: break
            default: throw damaged("its compressed data is damaged (zlib status \(status))")
            }
            produced += written - before
            if produced > Self.maximumRatio * max(bytesRead, 1 << 16) {
                throw UnusableInput(
                    file: name, problem: "expands to more than \(Self.maximumRatio) times its size, so it is not read",
                    remedy: "Check the file: FHIR NDJSON compresses some 20 to 30 times; far more is a decompression bomb.")
            }
        }
        out.removeSubrange(written...)
        return out
    }

    private func damaged(_ why: String) -> UnusableInput {
        UnusableInput(
            file: name, problem: "is not a readable gzip file: \(why)",
            remedy: "Download the file again, or check it with gzip -t.")
    }
}
