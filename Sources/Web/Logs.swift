import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
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
/// `label`, `message`, then the metadata's keys. Written whole with one call each, so lines from
/// different threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardOutput) {
        self.label = label
        self.write = write
    }

    /// Straight to file descriptor 1, a line a call (a short write is finished by the next).
    public static let standardOutput: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.string(
                from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "level": event.level.rawValue, "label": label, "message": event.message.description,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) where object[key] == nil {
            object[key] = Self.json(value)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): s
        case .stringConvertible(let s): s.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
