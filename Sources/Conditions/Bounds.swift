/// Numeric bounds as written in definitions files (`at_least`, `at_most`, `above`, `below`);
/// every bound given must hold.
public struct Bounds: Sendable, Decodable {
    public var atLeast: Double?
    public var atMost: Double?
    public var above: Double?
    public var below: Double?

    public init(atLeast: Double? = nil, atMost: Double? = nil, above: Double? = nil, below: Double? = nil) {
        self.atLeast = atLeast
        self.atMost = atMost
        self.above = above
        self.below = below
    }

    enum CodingKeys: String, CodingKey {
        case above, below
        case atLeast = "at_least"
        case atMost = "at_most"
    }

    public func accepts(_ x: Double) -> Bool {
        (atLeast.map { x >= $0 } ?? true) && (atMost.map { x <= $0 } ?? true) && (above.map { x > $0 } ?? true)
            && (below.map { x < $0 } ?? true)
    }

    public var isEmpty: Bool { atLeast == nil && atMost == nil && above == nil && below == nil }
}

/// The key of a rule written as a one-key mapping, e.g. `{ever: [...]}` or `{condition: id}`.
public struct RuleKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

extension RuleKey {
    /// The container and only key of a rule, or an error listing the kinds of rule.
    public static func single(_ decoder: any Decoder, kinds: [String]) throws -> (KeyedDecodingContainer<RuleKey>, RuleKey) {
        let container = try decoder.container(keyedBy: RuleKey.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a rule has exactly one of: \(kinds.joined(separator: ", "))"))
        }
        return (container, key)
    }
}

extension KeyedDecodingContainer where K == RuleKey {
    /// One string or a list of them.
    public func strings(forKey key: RuleKey) throws -> [String] {
        if let one = try? decode(String.self, forKey: key) { return [one] }
        return try decode([String].self, forKey: key)
    }
}
