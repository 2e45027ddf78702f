import Foundation
import PHMCore

/// An output file written in order from blocks built in parallel.
final class OutputFile {
    let handle: FileHandle

    init(_ url: URL, header: String) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        handle = try FileHandle(forWritingTo: url)
        try write(Array((header + "\n").utf8))
    }

    func write(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: bytes)
    }

    func close() throws { try handle.close() }
}
