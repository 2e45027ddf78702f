import ArgumentParser
import Configuration
import Foundation
import Logging
import PHMCore
import Web

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
    /// What a setting's value must be.
    struct Rule: Sendable {
        var expecting: String
        /// Whether a configuration file may give it as a JSON number.
        var number = false
        var accepts: @Sendable (String) -> Bool
    }

    /// Every setting, with its rule. A name not here is refused in a configuration file, so a
    /// misspelt setting (or a password put where it must not be) fails rather than is ignored.
    static let rules: [String: Rule] = {
        let path = Rule(expecting: "a path, without control characters") { text in
            !text.isEmpty && text.utf8.count <= 4_096
                && text.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control }
        }
        func count(_ range: ClosedRange<Int>) -> Rule {
            Rule(expecting: "a whole number from \(range.lowerBound) to \(range.upperBound)", number: true) { text in
                text.count <= 12 && Int(text).map(range.contains) == true
            }
        }
        return [
            // Where the data is: the server and runs.
            "data-dir": path, "store": path, "vault": path, "care-gaps": path,
            // Where the key files are (the libraries read these from the environment).
            "key-file": path, "platform-key-file": path,
            // Runs.
            "workers": count(1...4_096), "conditions": path, "segmentations": path, "gates": path,
            "wait": count(0...86_400), "keep-person-level-runs": count(0...1_000_000),
            "keep-output-runs": count(0...1_000_000), "keep-frames": count(0...1_000_000),
            // The server.
            "host": Rule(expecting: "a host name or address") { text in
                !text.isEmpty && text.utf8.count <= 255 && text.allSatisfy { $0.isASCII && !$0.isWhitespace && !$0.isNewline }
            },
            "port": Rule(expecting: "a port number, 1 to 65535", number: true) { text in
                text.count <= 5 && Int(text).map((1...65_535).contains) == true
            },
            "access-log": Rule(expecting: "all, off or 1/N") { AccessLog($0) != nil },
            // Logs: the server and runs.
            "log-level": Rule(expecting: LogOptions.levels) { Logger.Level(rawValue: $0) != nil },
            "log-format": Rule(expecting: "text or json") { LogOptions.formats[$0] != nil },
        ]
    }()

    /// The largest configuration file read: it holds a few paths and numbers.
    static let maximumFileBytes = 64 * 1024

    /// The environment's variables, then the file's values, in the order they are consulted.
    private let sources: [(describe: @Sendable (String) -> String, provider: any ConfigProvider)]
    private let environment: [String: String]

    /// Reads the configuration file `file` (else the one `$PHM_CONFIG` names, if any), and checks
    /// every value in it.
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

    /// The value of setting `name`: the flag's when given, else the first source's that has it.
    /// A value that breaks the setting's rule fails the command, naming where it came from.
    func text(_ name: String, flag: String?) throws -> String? {
        guard let rule = Self.rules[name] else { preconditionFailure("\(name) is not a setting") }
        var found = flag.map { (value: $0, from: "--" + name) }
        for source in sources where found == nil {
            let looked = try? source.provider.value(forKey: AbsoluteConfigKey([name]), type: .string)
            // An empty variable is an unset one (`PHM_STORE=` in a unit file), as the libraries read it.
            if case .string(let value)? = looked?.value?.content, !value.isEmpty { found = (value, source.describe(name)) }
        }
        guard let found else { return nil }
        guard rule.accepts(found.value) else {
            throw ValidationError("\(found.from) \(SafeEcho.text(found.value)): \(rule.expecting)")
        }
        return found.value
    }

    /// The value of setting `name`, converted once its rule is kept.
    func value<T>(_ name: String, flag: String?, _ convert: (String) -> T?) throws -> T? {
        try text(name, flag: flag).flatMap(convert)
    }

    /// The key files' paths from the configuration file, put into this process's environment
    /// where it has none: the libraries find the key files there wherever they open them (a
    /// run, the server, a backup). Called once a command starts its work
    /// (`DataDirectoryOptions.useKeyFiles`), before it opens any key, never while arguments are
    /// parsed.
    func exportKeyFiles() throws {
        for name in ["key-file", "platform-key-file"] {
            let variable = String(Self.variable(name).dropFirst())
            guard environment[variable]?.isEmpty ?? true, let path = try text(name, flag: nil) else { continue }
            setenv(variable, path, 1)
        }
    }

    /// A configuration file's settings: one JSON object of names from `rules` to values that
    /// keep their rules. Only a regular file is read (a pipe or a device could block or never
    /// end), and at most `maximumFileBytes` of it.
    static func read(_ path: String) throws -> [AbsoluteConfigKey: ConfigValue] {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let type = (try? FileManager.default.attributesOfItem(atPath: target))?[.type] as? FileAttributeType else {
            throw ValidationError("\(path): the configuration file cannot be read")
        }
        guard type == .typeRegular else { throw ValidationError("\(path): a configuration file must be a regular file") }
        // Not blocking and bounded, whatever the path has become since.
        let descriptor = open(target, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw ValidationError("\(path): the configuration file cannot be read") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maximumFileBytes + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw ValidationError("\(path): the configuration file cannot be read") }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumFileBytes else {
            throw ValidationError("\(path): a configuration file is at most \(maximumFileBytes) bytes")
        }
        let text = Data(bytes[..<count])
        guard JSONDepth.of(text) <= 1, let object = (try? JSONDecoder().decode(JSONValue.self, from: text))?.object else {
            throw ValidationError("\(path): a configuration file is one JSON object of settings (see docs/operations.md)")
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let rule = rules[name] else {
                throw ValidationError(
                    "\(path): \(SafeEcho.text(name)) is not a setting (settings: \(rules.keys.sorted().joined(separator: ", ")))")
            }
            let text: String
            switch value {
            case .string(let string): text = string
            case .number(let number) where rule.number && number == number.rounded() && abs(number) < 1e12:
                text = String(Int64(number))
            default: throw ValidationError("\(path): \(name) is \(rule.expecting)")
            }
            guard rule.accepts(text) else { throw ValidationError("\(path): \(name) \(SafeEcho.text(text)): \(rule.expecting)") }
            values[AbsoluteConfigKey([name])] = ConfigValue(.string(text), isSecret: false)
        }
        return values
    }
}

/// The configuration file and the data directory, for every command that opens a data directory.
struct DataDirectoryOptions: ParsableArguments {
    @Option(help: "A configuration file of settings (default: $PHM_CONFIG; see docs/operations.md).")
    var config: String?

    @Option(
        name: .customLong("data-dir"),
        help:
            "The data directory: the store, the vault, the runs' frames (default: $PHM_DATA_DIR, the configuration file, else phm-data)."
    )
    var dataDirectoryOption: String?

    var dataDirectory: String { dataDirectoryOption ?? "phm-data" }

    /// Fills in the data directory from the environment or the configuration file when the
    /// command line does not name it: called by the commands that take settings (not `demo`,
    /// whose synthetic run must never land in a deployment's data directory).
    mutating func resolve(_ sources: SettingSources) throws {
        dataDirectoryOption = try sources.text("data-dir", flag: dataDirectoryOption)
    }

    /// Makes the configuration file's key files the ones the libraries open: called when a
    /// command starts its work, not while its arguments are parsed.
    func useKeyFiles() throws { try SettingSources(file: config).exportKeyFiles() }
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

    /// The flags themselves, for every command (one that takes no settings, `demo`, too).
    func validate() throws {
        if let level, Logger.Level(rawValue: level) == nil {
            throw ValidationError("--log-level \(SafeEcho.text(level)): \(Self.levels)")
        }
        if let format, Self.formats[format] == nil {
            throw ValidationError("--log-format \(SafeEcho.text(format)): text or json")
        }
    }

    /// Fills in what the command line left out from the environment and the configuration
    /// file, each value checked.
    mutating func resolve(_ sources: SettingSources) throws {
        level = try sources.text("log-level", flag: level)
        format = try sources.text("log-format", flag: format)
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
