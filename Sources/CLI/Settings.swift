import ArgumentParser
import Configuration
import Foundation
import Logging
import PHMCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where a deployment's settings come from, for `phm serve`, `phm run` and every command that
/// opens a data directory: each setting from its flag, else its environment variable (`PHM_` and
/// the flag's name in capitals: `--data-dir` is `$PHM_DATA_DIR`), else the configuration file
/// (`--config FILE` or `$PHM_CONFIG`: one JSON object keyed by the flags' names), else its
/// default. Secrets are never settings: passwords come from the environment only, keys from
/// key files.
struct SettingSources: Sendable {
    /// Every name a configuration file may hold. A name not here is refused, so a misspelt
    /// setting (or a password put where it must not be) fails the command rather than being
    /// ignored.
    static let names: Set<String> = [
        // Where the data is: the server and runs.
        "data-dir", "store", "vault", "care-gaps",
        // Where the key files are (the libraries read these from the environment).
        "key-file", "platform-key-file",
        // Runs.
        "workers", "conditions", "segmentations", "gates", "wait", "keep-person-level-runs", "keep-output-runs",
        "keep-frames",
        // The server.
        "host", "port", "access-log",
        // Logs: the server and runs.
        "log-level", "log-format",
    ]

    /// The largest configuration file read: it holds a few paths and numbers.
    static let maximumFileBytes = 64 * 1024

    /// The environment's variables, then the file's values, in the order they are consulted.
    private let sources: [(describe: @Sendable (String) -> String, provider: any ConfigProvider)]
    private let environment: [String: String]

    /// Reads the configuration file `file` (else the one `$PHM_CONFIG` names, if any).
    init(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.environment = environment
        var sources: [(describe: @Sendable (String) -> String, provider: any ConfigProvider)] = [
            (Self.variable, EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["phm"]))
        ]
        if let path = file ?? environment["PHM_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            sources.append(({ "\(path): \($0)" }, InMemoryProvider(name: path, values: try Self.read(path))))
        }
        self.sources = sources
    }

    /// The environment variable of setting `name`.
    static func variable(_ name: String) -> String { "$PHM_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// The value of setting `name`: the flag's when given, else the first source's that has it;
    /// with where it came from, for messages.
    func text(_ name: String, flag: String?) -> (value: String, from: String)? {
        precondition(Self.names.contains(name), "\(name) is not a setting")
        if let flag { return (flag, "--" + name) }
        for source in sources {
            let found = try? source.provider.value(forKey: AbsoluteConfigKey([name]), type: .string)
            if case .string(let value)? = found?.value?.content, !value.isEmpty { return (value, source.describe(name)) }
        }
        return nil
    }

    /// The value of setting `name`, read by `parse` from wherever it is found: a value it
    /// refuses fails the command, with where the value came from and what was expected.
    func value<T>(_ name: String, flag: String?, expecting rule: String, _ parse: (String) -> T?) throws -> T? {
        guard let (text, from) = text(name, flag: flag) else { return nil }
        guard let value = parse(text) else { throw ValidationError("\(from) \(SafeEcho.text(text)): \(rule)") }
        return value
    }

    /// The key files' paths from the configuration file, put into this process's environment
    /// where it has none: the libraries find the key files there wherever they open them (a
    /// run, the server, a backup), and create the pseudonymisation key on first use.
    func exportKeyFiles() {
        for name in ["key-file", "platform-key-file"] {
            let variable = String(Self.variable(name).dropFirst())
            guard environment[variable]?.isEmpty ?? true, let (path, _) = text(name, flag: nil) else { continue }
            setenv(variable, path, 1)
        }
    }

    /// A configuration file's settings: one JSON object of names from `names` to strings or
    /// whole numbers.
    static func read(_ path: String) throws -> [AbsoluteConfigKey: ConfigValue] {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
            FileManager.default.isReadableFile(atPath: path)
        else { throw ValidationError("\(path): the configuration file cannot be read") }
        guard size <= maximumFileBytes else {
            throw ValidationError("\(path): a configuration file of \(size) bytes; at most \(maximumFileBytes)")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        guard JSONDepth.of(bytes) <= 1, let object = (try? JSONDecoder().decode(JSONValue.self, from: bytes))?.object else {
            throw ValidationError("\(path): a configuration file is one JSON object of settings (see docs/operations.md)")
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (name, value) in object {
            guard names.contains(name) else {
                throw ValidationError(
                    "\(path): \(SafeEcho.text(name)) is not a setting (settings: \(names.sorted().joined(separator: ", ")))")
            }
            let text: String
            switch value {
            case .string(let string): text = string
            case .number(let number) where number == number.rounded() && abs(number) < 1e15: text = String(Int64(number))
            default: throw ValidationError("\(path): \(name) is a string or a whole number")
            }
            values[AbsoluteConfigKey([name])] = ConfigValue(.string(text), isSecret: false)
        }
        return values
    }
}

/// How a command logs: the level and the format, text or one JSON object a line.
struct LogOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help:
            "trace, debug, info, notice, warning, error or critical (default: $PHM_LOG_LEVEL, the configuration file, else info)."
    )
    var level: String?

    @Option(
        name: .customLong("log-format"),
        help: "text or json: one JSON object a line (default: $PHM_LOG_FORMAT, the configuration file, else text).")
    var format: String?

    static let levels = "trace, debug, info, notice, warning, error or critical"
    static let formats = ["text": false, "json": true]

    /// Fills in what the command line left out from the environment and the configuration
    /// file, and checks both values, naming where a bad one came from.
    mutating func resolve(_ sources: SettingSources) throws {
        level = try sources.value("log-level", flag: level, expecting: Self.levels) { Logger.Level(rawValue: $0) }?.rawValue
        format = try sources.value("log-format", flag: format, expecting: "text or json") { text in
            Self.formats[text].map { _ in text }
        }
    }

    /// The level, once resolved (info when none is set).
    var logLevel: Logger.Level { level.flatMap(Logger.Level.init(rawValue:)) ?? .info }

    /// Whether lines are JSON objects, once resolved (text when none is set).
    var json: Bool { format.flatMap { Self.formats[$0] } ?? false }
}

/// A value echoed back in a message: quoted, its control characters escaped, cut short (a
/// setting can be anything a file or the environment holds).
enum SafeEcho {
    static func text(_ value: String) -> String {
        let shown = String(value.prefix(80)).debugDescription
        return value.count <= 80 ? shown : shown + "... (\(value.utf8.count) bytes)"
    }
}
