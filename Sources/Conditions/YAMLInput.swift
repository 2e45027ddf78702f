import Foundation
import Yams

/// YAML files the platform reads (condition definitions, segmentations, care gaps), composed into
/// nodes and checked before they are decoded, so no file can trap or stall the decoder. Nesting
/// is bounded by the parser itself (100,000 nested brackets are refused).
public enum YAMLInput {
    /// At most this many nodes, aliases counted each time they are used: a few lines of anchors
    /// and aliases otherwise stand for billions of nodes.
    public static let maximumNodes = 1_000_000

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        // As `YAMLDecoder` parses, with the encoding named (the default reads the environment).
        let parser = try Parser(yaml: text, resolver: Resolver.basic.appending(.merge), encoding: .utf8)
        return try withExtendedLifetime(parser) {
            let root: Node
            do { root = try parser.singleRoot() ?? "" } catch let error as YamlError {
                throw YAMLInputError(line: nil, message: shortened("\(error)"))
            }
            var nodes = 0
            try check(root, &nodes)
            return try YAMLDecoder(encoding: .utf8).decode(type, from: root)
        }
    }

    /// Refuses a mapping with a key not in `known`: a misspelt key would otherwise be ignored, and
    /// what it asked for silently not done. Call first in a `Decodable` initialiser.
    public static func refuseUnknown(_ decoder: any Decoder, _ known: [String]) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = c.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown key '\(unknown.stringValue)' (known: \(known.joined(separator: ", ")))"))
        }
    }

    public struct AnyKey: CodingKey {
        public var stringValue: String
        public var intValue: Int? { nil }
        public init(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }

    /// The parser's message with each quoted line cut short: it quotes the offending line whole,
    /// and a line can be a megabyte.
    static func shortened(_ message: String) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).prefix(4).map {
            $0.count > 200 ? $0.prefix(200) + "..." : String($0)
        }.joined(separator: "\n")
    }

    static func check(_ node: Node, _ nodes: inout Int) throws {
        nodes += 1
        guard nodes <= maximumNodes else {
            throw YAMLInputError(line: node.mark?.line, message: "more than \(maximumNodes) values once aliases are expanded")
        }
        switch node {
        case .scalar(let scalar):
            if sexagesimalOverflows(scalar.string) {
                throw YAMLInputError(
                    line: scalar.mark?.line, message: "a number in base 60 (digits between colons) too large to read")
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                try check(key, &nodes)
                try check(value, &nodes)
            }
        case .sequence(let sequence): for item in sequence { try check(item, &nodes) }
        case .alias: break
        }
    }

    /// Whether a scalar read as a whole number would overflow in YAML 1.1's base-60 form
    /// (`1:30:00`), as the decoder reads it: each part times 60 to the power of its place, the
    /// power taken once more past the last part. The decoder traps on that overflow.
    static func sexagesimalOverflows(_ text: String) -> Bool {
        // The decoder drops underscores before it reads any number (`1_000`), so must this.
        var digits = Substring(text.replacingOccurrences(of: "_", with: ""))
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        // Other forms (hexadecimal, octal, plain) are read without base 60.
        guard digits.contains(":"), !digits.hasPrefix("0") else { return false }
        let pieces = digits.split(separator: ":", omittingEmptySubsequences: false)
        let parts = pieces.compactMap { Int($0) }
        // A part that is not a number: the decoder reads no number at all.
        guard parts.count == pieces.count else { return false }
        var base = 1, value = 0
        for part in parts.reversed() {
            let (term, o1) = part.multipliedReportingOverflow(by: base)
            let (sum, o2) = value.addingReportingOverflow(term)
            let (next, o3) = base.multipliedReportingOverflow(by: 60)
            if o1 || o2 || o3 { return true }
            (value, base) = (sum, next)
        }
        return false
    }
}

public struct YAMLInputError: Error, CustomStringConvertible {
    public var line: Int?
    public var message: String
    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}
