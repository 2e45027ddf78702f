import Foundation

/// A cohort definition and where each part of it was written, for error messages.
public struct CohortDefinition: Sendable, Equatable {
    public var expression: CohortExpression
    /// Where each node was written as text, shaped like the expression.
    var written: Written?

    /// A node's line and column, and its children's.
    struct Written: Sendable {
        var position: String
        var children: [Written] = []
    }

    public init(_ expression: CohortExpression) {
        self.expression = expression
        written = nil
    }

    init(_ expression: CohortExpression, written: Written) {
        self.expression = expression
        self.written = written
    }

    /// Where the node at `path` was written: a line and column for text, a JSON path otherwise.
    public func position(of path: [Int]) -> String {
        if var node = written {
            for i in path {
                guard i < node.children.count else { break }
                node = node.children[i]
            }
            return node.position
        }
        var node = expression
        var out = ""
        for i in path {
            switch node {
            case .all: out += "all[\(i)]."
            case .any: out += "any[\(i)]."
            case .not: out += "not."
            case .atLeast: out += "at_least.of[\(i)]."
            case .criterion: break
            }
            node = node.children[i]
        }
        if case .criterion(let c) = node { out += c.key } else if out.hasSuffix(".") { out.removeLast() }
        return out.isEmpty ? "definition" : out
    }

    public static func == (a: CohortDefinition, b: CohortDefinition) -> Bool { a.expression == b.expression }
}

/// A mistake in a cohort definition, with where it is.
public struct CohortError: Error, Sendable, CustomStringConvertible {
    public var position: String
    public var message: String
    public init(_ position: String, _ message: String) {
        self.position = position
        self.message = message
    }
    public var description: String { "\(position): \(message)" }
}

/// The readable text form of cohort definitions.
///
/// ```
/// locality = Andover and condition depression and latest bmi >= 30 within 24 months
/// at least 2 of (condition diabetes, condition copd, tier emergency_admission_12m >= high)
/// ```
/// `and` binds tighter than `or`; `not` applies to what follows it; parentheses group. Values are
/// words or "quoted strings"; windows are `within N months` (or years).
public enum CohortText {
    /// The words a criterion starts with.
    public static let criteria =
        NumberField.allCases.map(\.rawValue) + CategoryField.allCases.map(\.rawValue)
        + ["condition", "recorded", "latest", "score", "segment", "risk", "tier", "rising", "area", "not", "at least"]

    /// The language's other words: joining, grouping and windows.
    public static let connectives = ["and", "or", "not", "at least", "of", "in", "within", "months", "years"]

    public static func parse(_ text: String) throws(CohortError) -> CohortDefinition {
        guard text.utf8.count <= CohortLimits.maximumBytes else {
            throw CohortError("definition", "longer than \(CohortLimits.maximumBytes) bytes")
        }
        var parser = Parser(tokens: try Lexer.tokens(text))
        let parsed = try parser.expression()
        if let extra = parser.peek, extra.kind != .end {
            throw CohortError(extra.position, "expected 'and', 'or' or the end, found '\(extra.text)'")
        }
        let definition = CohortDefinition(parsed.expression, written: parsed.written)
        try CohortLimits.check(definition)
        return definition
    }

    /// The canonical text of an expression; parsing it gives the same expression.
    public static func format(_ expression: CohortExpression) -> String {
        func grouped(_ e: CohortExpression) -> String {
            switch e {
            case .all, .any: "(" + format(e) + ")"
            default: format(e)
            }
        }
        switch expression {
        case .all(let c): return c.map(grouped).joined(separator: " and ")
        case .any(let c): return c.map(grouped).joined(separator: " or ")
        case .not(let e): return "not " + grouped(e)
        case .atLeast(let n, let c): return "at least \(n) of (" + c.map(format).joined(separator: ", ") + ")"
        case .criterion(let c): return format(c)
        }
    }

    static func format(_ c: Criterion) -> String {
        func within(_ m: Int?) -> String { m.map { " within \($0) months" } ?? "" }
        func values(_ v: [String]) -> String {
            v.count == 1 ? "= " + word(v[0]) : "in (" + v.map(word).joined(separator: ", ") + ")"
        }
        func compare(_ c: Comparison) -> String { c.op.rawValue + " " + number(c.value) }
        switch c {
        case .number(let f, let cmp): return f.rawValue + " " + compare(cmp)
        case .category(let f, let v): return f.rawValue + " " + values(v)
        case .condition(let id, let m): return "condition " + word(id) + within(m)
        case .recorded(let id, let m): return "recorded " + word(id) + within(m)
        case .latest(let id, let cmp, let m): return "latest " + word(id) + " " + compare(cmp) + within(m)
        case .score(let id, let cmp): return "score " + word(id) + " " + compare(cmp)
        case .segment(let id, let v): return "segment " + word(id) + " " + values(v)
        case .risk(let id, let cmp): return "risk " + word(id) + " " + compare(cmp)
        case .tier(let id, let v): return "tier " + word(id) + " " + values(v)
        case .rising(let id): return "rising " + word(id)
        case .area(let id, let cmp): return "area " + word(id) + " " + compare(cmp)
        }
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    /// A name as the language writes it: bare when it is a plain word, else quoted and escaped.
    public static func word(_ s: String) -> String {
        let plain =
            !s.isEmpty && !Lexer.keywords.contains(s)
            && s.utf8.allSatisfy { Lexer.isWordByte($0) } && !Lexer.isDigit(s.utf8.first!)
        if plain { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

struct Token {
    enum Kind { case word, number, string, op, open, close, comma, end }
    var kind: Kind
    var text: String
    var position: String
}

enum Lexer {
    static let keywords: Set<String> = ["and", "or", "not", "at", "least", "of", "in", "within"]

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    static func isWordByte(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || b == 45 || b >= 0x80
    }

    static func tokens(_ text: String) throws(CohortError) -> [Token] {
        let bytes = Array(text.utf8)
        var tokens: [Token] = []
        var i = 0, line = 1, lineStart = 0
        func at(_ j: Int) -> String { "line \(line), column \(j - lineStart + 1)" }
        while i < bytes.count {
            let b = bytes[i]
            let start = i
            switch b {
            case 10:
                line += 1
                i += 1
                lineStart = i
            case 32, 9, 13: i += 1
            case 40: tokens.append(Token(kind: .open, text: "(", position: at(start))); i += 1
            case 41: tokens.append(Token(kind: .close, text: ")", position: at(start))); i += 1
            case 44: tokens.append(Token(kind: .comma, text: ",", position: at(start))); i += 1
            case 60, 62, 61, 33:  // < > = !
                i += 1
                if i < bytes.count, bytes[i] == 61, b != 61 { i += 1 }
                let op = String(decoding: bytes[start..<i], as: UTF8.self)
                guard Comparison.Operator(rawValue: op) != nil else { throw CohortError(at(start), "unknown operator '\(op)'") }
                tokens.append(Token(kind: .op, text: op, position: at(start)))
            case 34:  // a quoted string, with \" and \\ escapes
                i += 1
                var value: [UInt8] = []
                while i < bytes.count, bytes[i] != 34 {
                    if bytes[i] == 92, i + 1 < bytes.count { i += 1 }
                    if bytes[i] == 10 { throw CohortError(at(start), "string not closed before the end of the line") }
                    value.append(bytes[i])
                    i += 1
                }
                guard i < bytes.count else { throw CohortError(at(start), "string not closed") }
                i += 1
                tokens.append(Token(kind: .string, text: String(decoding: value, as: UTF8.self), position: at(start)))
            default:
                if isDigit(b) || (b == 46 && i + 1 < bytes.count && isDigit(bytes[i + 1])) {
                    while i < bytes.count, isDigit(bytes[i]) || bytes[i] == 46 { i += 1 }
                    // A code such as 1A2 is a word, not a number.
                    if i < bytes.count, isWordByte(bytes[i]) {
                        while i < bytes.count, isWordByte(bytes[i]) { i += 1 }
                        tokens.append(
                            Token(kind: .word, text: String(decoding: bytes[start..<i], as: UTF8.self), position: at(start)))
                    } else {
                        tokens.append(
                            Token(kind: .number, text: String(decoding: bytes[start..<i], as: UTF8.self), position: at(start)))
                    }
                } else if isWordByte(b) {
                    while i < bytes.count, isWordByte(bytes[i]) || bytes[i] == 46 { i += 1 }
                    tokens.append(
                        Token(kind: .word, text: String(decoding: bytes[start..<i], as: UTF8.self), position: at(start)))
                } else {
                    throw CohortError(at(start), "unexpected character '\(String(decoding: [b], as: UTF8.self))'")
                }
            }
        }
        tokens.append(Token(kind: .end, text: "the end", position: at(i)))
        return tokens
    }
}

/// Recursive descent over the tokens; every node remembers where it started. Linear in the
/// tokens, and no deeper than `CohortLimits.maximumDepth`, so no text can exhaust the stack.
struct Parser {
    struct Parsed {
        var expression: CohortExpression
        var written: CohortDefinition.Written
    }

    var tokens: [Token]
    var next = 0
    /// Groups, `not`s and `at least`s open around the token being read.
    var depth = 0

    var peek: Token? { next < tokens.count ? tokens[next] : nil }

    /// The next token; the end token again once there are no more.
    mutating func take() -> Token {
        defer { next = min(next + 1, tokens.count - 1) }
        return tokens[next]
    }

    mutating func accept(_ word: String) -> Bool {
        guard let t = peek, t.kind == .word, t.text == word else { return false }
        next += 1
        return true
    }

    mutating func expect(_ word: String) throws(CohortError) {
        let t = take()
        guard t.kind == .word, t.text == word else { throw CohortError(t.position, "expected '\(word)', found '\(t.text)'") }
    }

    mutating func expect(_ kind: Token.Kind, _ what: String) throws(CohortError) -> Token {
        let t = take()
        guard t.kind == kind else { throw CohortError(t.position, "expected \(what), found '\(t.text)'") }
        return t
    }

    static func combine(_ parts: [Parsed], _ make: ([CohortExpression]) -> CohortExpression, at position: String) -> Parsed {
        if parts.count == 1 { return parts[0] }
        return Parsed(
            expression: make(parts.map(\.expression)), written: .init(position: position, children: parts.map(\.written)))
    }

    mutating func expression() throws(CohortError) -> Parsed {
        let position = peek?.position ?? ""
        var parts = [try conjunction()]
        while accept("or") { parts.append(try conjunction()) }
        return Self.combine(parts, { .any($0) }, at: position)
    }

    mutating func conjunction() throws(CohortError) -> Parsed {
        let position = peek?.position ?? ""
        var parts = [try unary()]
        while accept("and") { parts.append(try unary()) }
        return Self.combine(parts, { .all($0) }, at: position)
    }

    /// Opens one more level of nesting, or refuses past the limit.
    mutating func nest(_ t: Token) throws(CohortError) {
        depth += 1
        guard depth <= CohortLimits.maximumDepth else {
            throw CohortError(t.position, "nested more than \(CohortLimits.maximumDepth) deep")
        }
    }

    mutating func unary() throws(CohortError) -> Parsed {
        let t = peek ?? tokens[tokens.count - 1]
        if accept("not") {
            try nest(t)
            defer { depth -= 1 }
            let inner = try unary()
            return Parsed(expression: .not(inner.expression), written: .init(position: t.position, children: [inner.written]))
        }
        if t.kind == .open {
            try nest(t)
            defer { depth -= 1 }
            next += 1
            let inner = try expression()
            _ = try expect(.close, "')'")
            return inner
        }
        if accept("at") {
            try nest(t)
            defer { depth -= 1 }
            try expect("least")
            let n = try integer("a count")
            try expect("of")
            _ = try expect(.open, "'(' after 'of'")
            var parts = [try expression()]
            while peek?.kind == .comma {
                next += 1
                parts.append(try expression())
            }
            _ = try expect(.close, "')' or ','")
            guard n >= 1, n <= parts.count else {
                throw CohortError(t.position, "at least \(n) of \(parts.count) can never be met")
            }
            return Parsed(
                expression: .atLeast(n, of: parts.map(\.expression)),
                written: .init(position: t.position, children: parts.map(\.written)))
        }
        return Parsed(expression: .criterion(try criterion()), written: .init(position: t.position))
    }

    mutating func integer(_ what: String) throws(CohortError) -> Int {
        let t = try expect(.number, what)
        guard let n = Int(t.text) else { throw CohortError(t.position, "expected a whole number, found '\(t.text)'") }
        return n
    }

    mutating func name(_ what: String) throws(CohortError) -> String {
        let t = take()
        guard t.kind == .word || t.kind == .string else { throw CohortError(t.position, "expected \(what), found '\(t.text)'") }
        return t.text
    }

    mutating func comparison() throws(CohortError) -> Comparison {
        let op = try expect(.op, "a comparison (=, !=, <, <=, >, >=)")
        let t = try expect(.number, "a number")
        guard let value = Double(t.text) else { throw CohortError(t.position, "expected a number, found '\(t.text)'") }
        return Comparison(Comparison.Operator(rawValue: op.text)!, value)
    }

    mutating func window() throws(CohortError) -> Int? {
        guard accept("within") else { return nil }
        let n = try integer("a number of months")
        let unit = take()
        let limit = CohortLimits.maximumWindowMonths
        switch unit.text {
        case "month", "months":
            guard n <= limit else { throw CohortError(unit.position, "a window can be at most \(limit) months") }
            return n
        case "year", "years":
            guard n <= limit / 12 else { throw CohortError(unit.position, "a window can be at most \(limit / 12) years") }
            return n * 12
        default: throw CohortError(unit.position, "expected 'months' or 'years', found '\(unit.text)'")
        }
    }

    /// `= value` or `in (value, ...)`.
    mutating func values() throws(CohortError) -> [String] {
        if accept("in") {
            _ = try expect(.open, "'(' after 'in'")
            var out = [try value()]
            while peek?.kind == .comma {
                next += 1
                out.append(try value())
            }
            _ = try expect(.close, "')' or ','")
            return out
        }
        let op = take()
        guard op.kind == .op, op.text == "=" else { throw CohortError(op.position, "expected '=' or 'in', found '\(op.text)'") }
        return [try value()]
    }

    mutating func value() throws(CohortError) -> String {
        let t = take()
        guard t.kind == .word || t.kind == .string || t.kind == .number else {
            throw CohortError(t.position, "expected a value, found '\(t.text)'")
        }
        return t.text
    }

    mutating func criterion() throws(CohortError) -> Criterion {
        let head = take()
        guard head.kind == .word else { throw CohortError(head.position, "expected a criterion, found '\(head.text)'") }
        if let field = NumberField(rawValue: head.text) { return .number(field, try comparison()) }
        if let field = CategoryField(rawValue: head.text) { return .category(field, try values()) }
        switch head.text {
        case "condition": return .condition(try name("a condition id"), withinMonths: try window())
        case "recorded": return .recorded(try name("a code list id"), withinMonths: try window())
        case "latest":
            let list = try name("a code list id")
            return .latest(list, try comparison(), withinMonths: try window())
        case "score": return .score(try name("a score id"), try comparison())
        case "segment": return .segment(try name("a segmentation id"), try values())
        case "risk": return .risk(try name("an outcome id"), try comparison())
        case "tier":
            let outcome = try name("an outcome id")
            if let op = peek, op.kind == .op, op.text != "=" {
                // tier X >= high: the tiers that compare true, lowest first.
                next += 1
                let t = try value()
                guard let rank = PersonFrame.tierIds.firstIndex(of: t) else {
                    throw CohortError(
                        op.position, "unknown tier '\(t)'; tiers are \(PersonFrame.tierIds.joined(separator: ", "))")
                }
                let cmp = Comparison(Comparison.Operator(rawValue: op.text)!, Double(rank))
                return .tier(
                    outcome, PersonFrame.tierIds.indices.filter { cmp.accepts(Double($0)) }.map { PersonFrame.tierIds[$0] })
            }
            return .tier(outcome, try values())
        case "rising": return .rising(try name("an outcome id"))
        case "area": return .area(try name("an area indicator"), try comparison())
        default:
            throw CohortError(
                head.position, "unknown field '\(head.text)'" + Suggest.hint(head.text, among: CohortText.criteria))
        }
    }
}

/// "Did you mean" hints for misspelt names.
public enum Suggest {
    /// The longest name a hint is looked for: names are short, and edit distance grows with the
    /// product of the lengths, so a hostile 20,000-byte word against every practice code would
    /// otherwise cost seconds.
    static let maximumLength = 64

    /// " (did you mean 'x'?)" for the known name within a third of `name`'s length in edits, or "".
    public static func hint(_ name: String, among names: [String]) -> String {
        guard name.utf8.count <= maximumLength else { return "" }
        let typed = Array(name.lowercased().utf8)
        let limit = max(1, name.count / 3)
        var best: (name: String, distance: Int)?
        for candidate in names {
            let known = Array(candidate.lowercased().utf8)
            // The distance is at least the difference in length.
            guard abs(known.count - typed.count) <= limit else { continue }
            let d = distance(typed, known)
            if d <= limit, d < best?.distance ?? .max { best = (candidate, d) }
        }
        return best.map { " (did you mean '\($0.name)'?)" } ?? ""
    }

    /// Levenshtein distance, two rows at a time.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
