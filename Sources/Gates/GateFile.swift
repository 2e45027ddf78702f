import Conditions
import Foundation
import Ingest
import Outputs
import PHMCore

/// Rules that stop a run whose data looks wrong before anything is published or the latest run
/// changes, read from a YAML file ([data-quality.md](../../docs/data-quality.md)):
///
/// ```yaml
/// gates:
///   - name: inpatient-feed
///     figure: rows_per_1000
///     source: inpatient_spells.csv
///     stop_if_falls_by_more_than_percent: 20
///     against_last_runs: 6
/// ```
public struct GateFile: Sendable {
    public var gates: [Gate]

    public static func read(_ url: URL) throws -> GateFile {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw GateFileError(file: url.lastPathComponent, message: "it cannot be read as UTF-8 text")
        }
        do { return try parse(text) } catch let error as GateFileError {
            throw GateFileError(file: url.lastPathComponent, message: error.message)
        }
    }

    /// Reads a gates file's text; `read` names the file in errors.
    public static func parse(_ text: String) throws -> GateFile {
        struct Root: Decodable {
            var gates: [Gate]
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, ["gates"])
                let c = try decoder.container(keyedBy: YAMLInput.AnyKey.self)
                gates = try c.decode([Gate].self, forKey: .init(stringValue: "gates"))
            }
        }
        let root: Root
        do { root = try YAMLInput.decode(Root.self, from: text) } catch let error as YAMLInputError {
            throw GateFileError(file: "", message: error.description)
        } catch let error as DecodingError {
            throw GateFileError(file: "", message: GateFileError.describe(error))
        }
        var seen = Set<String>()
        for gate in root.gates {
            guard seen.insert(gate.name).inserted else {
                throw GateFileError(file: "", message: "two gates are named \(gate.name)")
            }
        }
        return GateFile(gates: root.gates)
    }

    /// Each gate checked against this run's figures and the earlier runs' (oldest first).
    public func check(_ report: QualityReport, earlier: [QualityReport]) -> [GateOutcome] {
        gates.flatMap { $0.check(report, earlier: earlier) }
    }
}

public struct Gate: Sendable, Decodable, Equatable {
    public enum Scope: Sendable, Equatable {
        case run
        case source(String)
        case practice(String)
        case everyPractice
        /// A provider's rows of every file it sends (`provider: CODE`), or every provider's (`all`).
        case provider(String)
        case everyProvider
    }

    public enum Test: Sendable, Equatable {
        case below(Double)
        case above(Double)
        case fallsByMoreThan(percent: Double)
        case risesByMoreThan(percent: Double)

        var isRelative: Bool {
            switch self {
            case .below, .above: false
            case .fallsByMoreThan, .risesByMoreThan: true
            }
        }
    }

    public var name: String
    public var figure: String
    public var scope: Scope
    public var test: Test
    /// How many earlier runs' median a relative rule compares with.
    public var againstLastRuns: Int

    /// A relative rule needs at least this many earlier runs with the figure.
    public static let minimumEarlierRuns = 3

    static let keys = [
        "name", "figure", "source", "practice", "provider", "stop_if_below", "stop_if_above",
        "stop_if_falls_by_more_than_percent",
        "stop_if_rises_by_more_than_percent", "against_last_runs",
    ]

    public init(from decoder: any Decoder) throws {
        try YAMLInput.refuseUnknown(decoder, Self.keys)
        let c = try decoder.container(keyedBy: YAMLInput.AnyKey.self)
        func key(_ name: String) -> YAMLInput.AnyKey { .init(stringValue: name) }
        name = try c.decode(String.self, forKey: key("name"))
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw GateFileError(
                file: "", message: "a gate's name must be 1 to 64 letters, digits, - or _ (got '\(name.prefix(64))')")
        }
        figure = try c.decode(String.self, forKey: key("figure"))
        guard QualityFigure.isKnown(figure) else {
            throw GateFileError(
                file: "",
                message:
                    "gate \(name): unknown figure '\(figure.prefix(64))' (known: \(QualityFigure.allCases.map(\.rawValue).joined(separator: ", ")); quarantine_rate and linked_share also as FIGURE:RULE)"
            )
        }
        let source = try c.decodeIfPresent(String.self, forKey: key("source"))
        let practice = try c.decodeIfPresent(String.self, forKey: key("practice"))
        if let source, !InputContract.all.contains(where: { $0.name == source }) {
            throw GateFileError(
                file: "",
                message:
                    "gate \(name): source '\(source.prefix(64))' is not a file of the input contract (\(InputContract.all.map(\.name).joined(separator: ", ")))"
            )
        }
        if let practice, practice.isEmpty || practice.count > 16 || !practice.allSatisfy({ $0.isLetter || $0.isNumber }) {
            throw GateFileError(file: "", message: "gate \(name): practice must be an ODS code or all")
        }
        let provider = try c.decodeIfPresent(String.self, forKey: key("provider"))
        if let provider, provider != "all", Array(provider.utf8).withUnsafeBytes({ OrganisationCode.pack($0) }) == 0 {
            throw GateFileError(file: "", message: "gate \(name): provider must be an organisation code or all")
        }
        switch (source, practice, provider) {
        case (nil, nil, nil): scope = .run
        case (let file?, nil, nil): scope = .source(file)
        case (nil, "all", nil): scope = .everyPractice
        case (nil, let code?, nil): scope = .practice(code)
        case (nil, nil, "all"): scope = .everyProvider
        case (nil, nil, let code?): scope = .provider(code)
        default: throw GateFileError(file: "", message: "gate \(name): give one of source, practice or provider, not more")
        }
        var tests: [Test] = []
        if let v = try c.decodeIfPresent(Double.self, forKey: key("stop_if_below")) { tests.append(.below(v)) }
        if let v = try c.decodeIfPresent(Double.self, forKey: key("stop_if_above")) { tests.append(.above(v)) }
        if let v = try c.decodeIfPresent(Double.self, forKey: key("stop_if_falls_by_more_than_percent")) {
            tests.append(.fallsByMoreThan(percent: v))
        }
        if let v = try c.decodeIfPresent(Double.self, forKey: key("stop_if_rises_by_more_than_percent")) {
            tests.append(.risesByMoreThan(percent: v))
        }
        guard tests.count == 1, let test = tests.first else {
            throw GateFileError(
                file: "",
                message:
                    "gate \(name): give exactly one of stop_if_below, stop_if_above, stop_if_falls_by_more_than_percent, stop_if_rises_by_more_than_percent"
            )
        }
        switch test {
        case .below(let v), .above(let v):
            guard v.isFinite else { throw GateFileError(file: "", message: "gate \(name): the limit must be a number") }
        case .fallsByMoreThan(let p), .risesByMoreThan(let p):
            guard p.isFinite, p > 0, p <= 1000 else {
                throw GateFileError(file: "", message: "gate \(name): the percentage must be above 0 and at most 1000")
            }
        }
        self.test = test
        let runs = try c.decodeIfPresent(Int.self, forKey: key("against_last_runs"))
        guard runs == nil || test.isRelative else {
            throw GateFileError(
                file: "", message: "gate \(name): against_last_runs is for a rule that compares with earlier runs")
        }
        againstLastRuns = runs ?? 6
        guard (Self.minimumEarlierRuns...120).contains(againstLastRuns) else {
            throw GateFileError(file: "", message: "gate \(name): against_last_runs must be \(Self.minimumEarlierRuns) to 120")
        }
    }

    init(name: String, figure: String, scope: Scope, test: Test, againstLastRuns: Int = 6) {
        self.name = name
        self.figure = figure
        self.scope = scope
        self.test = test
        self.againstLastRuns = againstLastRuns
    }

    /// The rule in words.
    public var rule: String {
        switch test {
        case .below(let v): "stop if below \(Self.number(v))"
        case .above(let v): "stop if above \(Self.number(v))"
        case .fallsByMoreThan(let p):
            "stop if more than \(Self.number(p))% below the median of the last \(againstLastRuns) runs"
        case .risesByMoreThan(let p):
            "stop if more than \(Self.number(p))% above the median of the last \(againstLastRuns) runs"
        }
    }

    /// The subjects a gate checks: for every practice, those of this run and of the run before
    /// it, so a practice that vanishes is checked too.
    func subjects(in report: QualityReport, earlier: [QualityReport]) -> [QualitySubject] {
        switch scope {
        case .run: return [.run]
        case .source(let file): return [.init(.source, file)]
        case .practice(let code): return [.init(.practice, code)]
        case .everyPractice, .everyProvider, .provider:
            var seen = Set<QualitySubject>()
            return ((earlier.last?.entries ?? []) + report.entries).map(\.subject).filter { subject in
                let included =
                    switch scope {
                    case .everyPractice: subject.kind == .practice
                    case .everyProvider: subject.kind == .provider
                    case .provider(let code): subject.kind == .provider && subject.id.hasPrefix(code + " ")
                    default: false
                    }
                return included && seen.insert(subject).inserted
            }
        }
    }

    func check(_ report: QualityReport, earlier: [QualityReport]) -> [GateOutcome] {
        subjects(in: report, earlier: earlier).map { subject in
            let value = report.value(subject, figure)
            func outcome(_ result: GateOutcome.Result, baseline: Double? = nil, _ message: String) -> GateOutcome {
                GateOutcome(
                    gate: name, subject: subject, figure: figure, value: value, baseline: baseline, rule: rule, result: result,
                    message: message)
            }
            guard let value else {
                if report.isWithheld(subject, figure) {
                    return outcome(.notChecked, "\(subject.description) \(figure) is withheld in this run (too few people)")
                }
                // A figure earlier runs had and this one has not: its feed or practice is gone.
                if earlier.suffix(againstLastRuns).contains(where: { $0.value(subject, figure) != nil }) {
                    return outcome(
                        .failed, "\(subject.description) has no figure \(figure) in this run, though earlier runs had it")
                }
                return outcome(.notChecked, "\(subject.description) has no figure \(figure) in this run")
            }
            let shown = "\(subject.description) \(figure) is \(Self.number(value))"
            switch test {
            case .below(let limit):
                return value < limit ? outcome(.failed, "\(shown), below \(Self.number(limit))") : outcome(.passed, shown)
            case .above(let limit):
                return value > limit ? outcome(.failed, "\(shown), above \(Self.number(limit))") : outcome(.passed, shown)
            case .fallsByMoreThan(let percent), .risesByMoreThan(let percent):
                let values = earlier.compactMap { $0.value(subject, figure) }.suffix(againstLastRuns)
                guard values.count >= Self.minimumEarlierRuns else {
                    return outcome(
                        .notChecked,
                        "\(shown); \(values.count) earlier runs have it, and the rule needs \(Self.minimumEarlierRuns)")
                }
                let median = Self.median(Array(values))
                guard median != 0 else {
                    return outcome(
                        .notChecked, baseline: median, "\(shown); the median of earlier runs is 0, so no change can be measured")
                }
                let change = (value - median) / abs(median) * 100
                let falls = if case .fallsByMoreThan = test { true } else { false }
                let broken = falls ? change < -percent : change > percent
                let moved =
                    "\(shown), \(Self.number(abs(change)))% \(change < 0 ? "below" : "above") the median of the last \(values.count) runs (\(Self.number(median)))"
                return outcome(broken ? .failed : .passed, baseline: median, moved)
            }
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// Whole numbers and large ones without decimals, others to four significant figures.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        return abs(value) >= 1000 || value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.4g", value)
    }
}

public struct GateFileError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { file.isEmpty ? "the gates file: \(message)" : "\(file): \(message)" }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            "\(path(context.codingPath)): '\(key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty
            ? "the top level" : keys.map { $0.intValue.map { "item \($0 + 1)" } ?? $0.stringValue }.joined(separator: " > ")
    }
}

/// A gate failed: the run stopped before anything was published.
public struct GateStopped: Error, CustomStringConvertible, Sendable {
    public var runId: Int64
    public var failed: [GateOutcome]

    public init(runId: Int64, failed: [GateOutcome]) {
        self.runId = runId
        self.failed = failed
    }

    public var description: String {
        let lines = failed.map { "gate \($0.gate) (\($0.rule)): \($0.message)" }
        return "run \(runId) stopped before publishing anything; the latest run is unchanged.\n"
            + lines.joined(separator: "\n")
            + "\nAn IG lead may let it go on: run again with --accept-gate NAME --user NAME (password in $PHM_PASSWORD)."
    }
}
