import Foundation
import Logging
import PHMCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which requests get a line in the log. Refusals and failures (status 400 and over) always do;
/// a busy server's successful requests can be sampled or left out (a load test of 4.9 million
/// requests wrote as many lines).
public enum AccessLog: Sendable, Equatable {
    case all
    case off
    /// One successful request in every `n`.
    case sample(Int)

    /// `all`, `off` or `1/N`.
    public init?(_ text: String) {
        switch text {
        case "all": self = .all
        case "off": self = .off
        default:
            guard text.hasPrefix("1/"), let n = Int(text.dropFirst(2)), n >= 1 else { return nil }
            self = n == 1 ? .all : .sample(n)
        }
    }
}

/// Counts requests to pick the sampled ones: every n-th, so the sample is even over time.
final class AccessLogSampler: Sendable {
    let policy: AccessLog
    private let seen = Atomic(0)

    init(_ policy: AccessLog) { self.policy = policy }

    func logs(status: Int) -> Bool {
        if status >= 400 { return true }
        switch policy {
        case .all: return true
        case .off: return false
        case .sample(let n): return seen.wrappingAdd(1, ordering: .relaxed).oldValue % n == 0
        }
    }
}

/// Log lines as JSON objects, one a line, for a log collector: `time` (ISO 8601, UTC), `level`,
/// `label`, `message`, then the metadata's keys (one named like those four is written as
/// `metadata.KEY`). Each line goes to standard output in one call where the system allows (a
/// line longer than a pipe's buffer may be split by another's).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardOutput) {
        self.label = label
        self.write = write
    }

    /// Lines to standard output: the server's, for the service manager or container runtime.
    public static let standardOutput = lines(to: 1)
    /// Lines to standard error: a command's, whose standard output holds its answer.
    public static let standardError = lines(to: 2)

    /// Straight to a file descriptor; a short or interrupted write is carried on, and a line that
    /// cannot be written at all (the descriptor closed) is dropped.
    static func lines(to descriptor: Int32) -> @Sendable (String) -> Void {
        { line in
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    #if canImport(Glibc)
                        let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #else
                        let written = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #endif
                    if written < 0, errno == EINTR || errno == EAGAIN { continue }
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "time": .string(
                ISO8601DateFormatter.string(
                    from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])),
            "level": .string(event.level.rawValue), "label": .string(label), "message": .string(event.message.description),
        ]
        let provided = metadataProvider?.get() ?? [:]
        let all = metadata.merging(provided) { $1 }.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in all { object[object[key] == nil ? key : "metadata." + key] = Self.json(value) }
        guard let line = try? JSON.text(JSONValue.object(object)) else { return }
        write(line + "\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let s): .string(s.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let values): .object(values.mapValues(json))
        }
    }
}
