import Foundation
import PHMCore

/// A named set of codes in one code system, in the OpenCodelists CSV layout.
///
/// ICD-10 and OPCS-4 entries match as prefixes, dots ignored: `E11` matches `E11.9`, and a range
/// `I60-I69` stands for `I60` to `I69`. BNF entries match as prefixes too (a chemical substance
/// covers its presentations). SNOMED CT, dm+d, Read v2 and CTV3 entries match exactly (Read v2
/// on its first five characters, so a term code suffix does not matter).
public struct CodeList: Sendable {
    public var name: String
    public var system: CodeSystem
    public private(set) var exact: Set<String> = []
    public private(set) var prefixes: [String] = []
    /// Entries that are not valid codes of the system: reported, never silently dropped.
    public private(set) var rejected: [String] = []

    public init(name: String, system: CodeSystem, entries: [String]) {
        self.name = name
        self.system = system
        for raw in entries {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { continue }
            switch system {
            case .icd10, .opcs4, .bnf:
                let expanded = CodeList.expandRange(entry)
                guard let expanded, expanded.allSatisfy({ CodeList.isPrefix($0, system: system) }) else {
                    rejected.append(entry)
                    continue
                }
                prefixes.append(contentsOf: expanded)
            case .read2:
                guard let normal = CodeFormat.normalise(entry, system: .read2) else {
                    rejected.append(entry)
                    continue
                }
                exact.insert(String(normal.prefix(5)))
            case .snomed, .dmd, .ctv3:
                guard let normal = CodeFormat.normalise(entry, system: system) else {
                    rejected.append(entry)
                    continue
                }
                exact.insert(normal)
            }
        }
        prefixes = Array(Set(prefixes)).sorted()
    }

    /// Whether a code (already in its normal form, as the population holds it) is in the list.
    public func contains(_ code: String, system codeSystem: CodeSystem) -> Bool {
        guard codeSystem == system || (system == .snomed && codeSystem == .dmd) || (system == .dmd && codeSystem == .snomed)
        else { return false }
        switch system {
        case .icd10, .opcs4, .bnf: return prefixes.contains { code.hasPrefix($0) }
        case .read2: return exact.contains(String(code.prefix(5)))
        default: return exact.contains(code)
        }
    }

    public var count: Int { exact.count + prefixes.count }

    /// Reads a list in the OpenCodelists CSV layout: a header, a code column (`code`, or the
    /// first of `dmd_id`, `snomedct_id`, `id`), and any term columns.
    public static func load(csv url: URL, name: String, system: CodeSystem) throws -> CodeList {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw DefinitionError(file: url.lastPathComponent, message: "the code list cannot be read as UTF-8 text")
        }
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { throw DefinitionError(file: url.lastPathComponent, message: "the code list is empty") }
        let header = lines.removeFirst().split(separator: ",").map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"\u{FEFF}")).lowercased()
        }
        guard let column = ["code", "dmd_id", "snomedct_id", "id"].lazy.compactMap({ header.firstIndex(of: $0) }).first else {
            throw DefinitionError(file: url.lastPathComponent, message: "the header has no code column (expected 'code')")
        }
        let entries = lines.map { line -> String in
            // The code column never needs quoting; terms after it may.
            let fields = line.split(separator: ",", maxSplits: column + 1, omittingEmptySubsequences: false)
            return fields.count > column ? fields[column].trimmingCharacters(in: CharacterSet(charactersIn: " \"")) : ""
        }
        return CodeList(name: name, system: system, entries: entries)
    }

    /// `I60-I69` becomes `I60` ... `I69`; a single code stays itself (dots removed, upper case).
    static func expandRange(_ entry: String) -> [String]? {
        let clean = entry.replacingOccurrences(of: ".", with: "").uppercased()
        let parts = clean.split(separator: "-").map(String.init)
        if parts.count == 1 { return [clean] }
        guard parts.count == 2, parts[0].count == parts[1].count, parts[0].first == parts[1].first,
            let lo = Int(parts[0].dropFirst()), let hi = Int(parts[1].dropFirst()), lo <= hi, hi - lo < 1_000
        else { return nil }
        let letter = parts[0].prefix(1)
        let width = parts[0].count - 1
        return (lo...hi).map { n in
            let digits = String(n)
            return letter + String(repeating: "0", count: width - digits.count) + digits
        }
    }

    static func isPrefix(_ entry: String, system: CodeSystem) -> Bool {
        let bytes = Array(entry.utf8)
        switch system {
        case .bnf:
            return (2...15).contains(bytes.count) && bytes.allSatisfy { CodeFormat.isDigit($0) || CodeFormat.isLetter($0) }
        default:
            guard (3...6).contains(bytes.count), CodeFormat.isLetter(bytes[0]), CodeFormat.isDigit(bytes[1]),
                CodeFormat.isDigit(bytes[2])
            else { return false }
            return bytes.dropFirst(3).allSatisfy { CodeFormat.isDigit($0) || (system == .icd10 && CodeFormat.isLetter($0)) }
        }
    }
}

/// A problem in a definitions file or code list, or in a projection's scenarios or population
/// file, naming the file and the place.
public struct DefinitionError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
