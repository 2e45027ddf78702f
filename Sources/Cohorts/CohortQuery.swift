import PHMCore

/// A cohort definition checked against a frame, ready to evaluate.
///
/// Checking resolves every name (condition, code list, score, segmentation and segment, outcome,
/// tier, practice, PCN, locality, LSOA, sex, ethnic group) to an index once, so evaluation is
/// integer work over columns: each criterion becomes a bitset of rows, and the tree combines
/// them word by word.
public struct CohortQuery: Sendable {
    public let definition: CohortDefinition
    let root: Node

    indirect enum Node: Sendable {
        case all([Node]), any([Node]), not(Node), atLeast(Int, [Node])
        case number(NumberField, Comparison)
        /// Rows whose category index (by field) is in the allowed set.
        case category(CategoryField, [Bool])
        case condition(Int, from: Day?)
        case recorded(Int, from: Day?)
        case latest(Int, Comparison, from: Day?)
        case score(Int, Comparison)
        case segment(Int, [Bool])
        case risk(Int, Comparison)
        case tier(Int, [Bool])
        case rising(Int)
        /// Rows whose area's value of an indicator (by index) compares true.
        case area(Int, Comparison)
    }

    public init(_ definition: CohortDefinition, frame: PersonFrame) throws(CohortError) {
        self.definition = definition
        root = try Self.compile(definition.expression, path: [], definition: definition, frame: frame)
    }

    /// The rows of the frame in the cohort. With a deadline, refuses once it passes (checked
    /// between criteria, each one pass over the frame), so a server can bound each request.
    public func evaluate(_ frame: PersonFrame, until deadline: ContinuousClock.Instant? = nil) throws(CohortError) -> Bitset {
        try Self.evaluate(root, frame, deadline)
    }

    static func compile(_ e: CohortExpression, path: [Int], definition: CohortDefinition, frame: PersonFrame)
        throws(CohortError) -> Node
    {
        func children(_ c: [CohortExpression]) throws(CohortError) -> [Node] {
            var out: [Node] = []
            for (i, child) in c.enumerated() {
                out.append(try compile(child, path: path + [i], definition: definition, frame: frame))
            }
            return out
        }
        switch e {
        case .all(let c): return .all(try children(c))
        case .any(let c): return .any(try children(c))
        case .not(let c): return .not(try compile(c, path: path + [0], definition: definition, frame: frame))
        case .atLeast(let n, let c): return .atLeast(n, try children(c))
        case .criterion(let c):
            do { return try criterion(c, frame: frame) } catch let message {
                throw CohortError(definition.position(of: path), message.text)
            }
        }
    }

    struct Message: Error { var text: String }

    static func index(_ name: String, in names: [String], _ what: String) throws(Message) -> Int {
        if let i = names.firstIndex(of: name) { return i }
        throw Message(text: "unknown \(what) '\(name)'" + Suggest.hint(name, among: names))
    }

    static func window(_ months: Int?, _ frame: PersonFrame) throws(Message) -> Day? {
        guard let months else { return nil }
        guard months > 0 else { throw Message(text: "a window must be at least 1 month") }
        guard months <= CohortLimits.maximumWindowMonths else {
            throw Message(text: "a window can be at most \(CohortLimits.maximumWindowMonths) months")
        }
        return frame.asOf.adding(months: -months)
    }

    static func criterion(_ c: Criterion, frame: PersonFrame) throws(Message) -> Node {
        switch c {
        case .number(let field, let cmp):
            guard case .use(let m) = field else { return .number(field, cmp) }
            if frame.use[m] == nil { throw Message(text: "this run has no \(field.rawValue)") }
            return .number(field, cmp.inFloat)
        case .category(let field, let values):
            func unitNames(_ level: Level) -> [[String]] { frame.hierarchy.units(level).map { [$0.code, $0.name] } }
            let names: [[String]]
            switch field {
            case .sex: names = Sex.allCases.map { [$0.criterionValue, $0.code] }
            case .ethnicGroup: names = EthnicGroup.allCases.map { [$0.criterionValue, $0.label] }
            case .lsoa: names = frame.areaCodes.map { [$0] }
            case .practice: names = unitNames(.practice)
            case .pcn: names = unitNames(.pcn)
            case .locality: names = unitNames(.locality)
            case .organisation: names = unitNames(.organisation)
            }
            var allowed = [Bool](repeating: false, count: names.count)
            // Codes and names match whatever their case: "andover" is Andover.
            var lookup: [String: [Int]] = [:]
            for (i, aliases) in names.enumerated() {
                for alias in Set(aliases.map { $0.lowercased() }) { lookup[alias, default: []].append(i) }
            }
            for value in values {
                guard let found = lookup[value.lowercased()] else {
                    let known = field == .lsoa ? [] : names.map { $0[0] }
                    throw Message(text: "unknown \(field.rawValue) '\(value)'" + Suggest.hint(value, among: known))
                }
                for i in found { allowed[i] = true }
            }
            return .category(field, allowed)
        case .condition(let id, let m):
            return .condition(try index(id, in: frame.conditionIds, "condition"), from: try window(m, frame))
        case .recorded(let id, let m):
            return .recorded(try index(id, in: frame.listIds, "code list"), from: try window(m, frame))
        case .latest(let id, let cmp, let m):
            return .latest(try index(id, in: frame.listIds, "code list"), cmp.inFloat, from: try window(m, frame))
        case .score(let id, let cmp): return .score(try index(id, in: frame.scoreIds, "score"), cmp)
        case .segment(let id, let values):
            let s = try index(id, in: frame.segmentations.map(\.id), "segmentation")
            let segments = frame.segmentations[s].segmentIds
            var allowed = [Bool](repeating: false, count: segments.count)
            for v in values { allowed[try index(v, in: segments, "segment of \(id)")] = true }
            return .segment(s, allowed)
        case .risk(let id, let cmp): return .risk(try index(id, in: frame.risks.map(\.outcome), "outcome"), cmp.inFloat)
        case .tier(let id, let values):
            let r = try index(id, in: frame.risks.map(\.outcome), "outcome")
            var allowed = [Bool](repeating: false, count: PersonFrame.tierIds.count)
            for v in values { allowed[try index(v, in: PersonFrame.tierIds, "tier")] = true }
            return .tier(r, allowed)
        case .rising(let id): return .rising(try index(id, in: frame.risks.map(\.outcome), "outcome"))
        case .area(let id, let cmp):
            guard !frame.areaIndicatorNames.isEmpty else {
                throw Message(text: "this run has no area indicators (further numeric columns of areas.csv)")
            }
            return .area(try index(id, in: frame.areaIndicatorNames, "area indicator"), cmp.inFloat)
        }
    }

    static func evaluate(_ node: Node, _ frame: PersonFrame, _ deadline: ContinuousClock.Instant?) throws(CohortError)
        -> Bitset
    {
        if let deadline, ContinuousClock.now > deadline {
            throw CohortError("definition", "took too long to evaluate: try a simpler definition")
        }
        let n = frame.count
        switch node {
        case .all(let children):
            var set = try evaluate(children[0], frame, deadline)
            for child in children.dropFirst() { set.formIntersection(try evaluate(child, frame, deadline)) }
            return set
        case .any(let children):
            var set = try evaluate(children[0], frame, deadline)
            for child in children.dropFirst() { set.formUnion(try evaluate(child, frame, deadline)) }
            return set
        case .not(let child):
            var set = try evaluate(child, frame, deadline)
            set.formComplement()
            return set
        case .atLeast(let k, let children):
            var sets: [Bitset] = []
            for child in children { sets.append(try evaluate(child, frame, deadline)) }
            return .atLeast(k, of: sets, count: n)
        case .number(let field, let cmp):
            switch field {
            case .age: return scan(frame.age, cmp)
            case .imdDecile: return Bitset(count: n) { frame.imdDecile[$0] != 0 && cmp.accepts(Double(frame.imdDecile[$0])) }
            case .imdQuintile:
                return Bitset(count: n) { frame.imdDecile[$0] != 0 && cmp.accepts(Double((frame.imdDecile[$0] + 1) / 2)) }
            case .ltcCount: return scan(frame.ltcCount, cmp)
            case .use(let m): return scan(frame.use[m]!, cmp)
            }
        case .category(let field, let allowed):
            /// People whose practice's unit (`parent`: each practice's unit index) is allowed:
            /// practices first, so the row loop is one lookup.
            func byPractice(_ parent: [Int32]) -> Bitset {
                let practices = parent.map { allowed[Int($0)] }
                return Bitset(count: n) { practices[Int(frame.practice[$0])] }
            }
            switch field {
            case .sex: return Bitset(count: n) { allowed[Int(frame.sex[$0].rawValue)] }
            case .ethnicGroup: return Bitset(count: n) { allowed[Int(frame.ethnicGroup[$0].rawValue)] }
            case .lsoa: return Bitset(count: n) { frame.area[$0] >= 0 && allowed[Int(frame.area[$0])] }
            case .practice: return Bitset(count: n) { allowed[Int(frame.practice[$0])] }
            case .pcn: return byPractice(frame.hierarchy.practicePCN)
            case .locality: return byPractice(frame.hierarchy.practiceLocality)
            case .organisation: return byPractice(frame.hierarchy.practiceOrganisation)
            }
        case .condition(let c, let from):
            var set = Bitset(count: n)
            let postings = frame.conditions[c]
            for (i, row) in postings.rows.enumerated() where from == nil || postings.day[i] >= from! { set.insert(Int(row)) }
            return set
        case .recorded(let l, let from):
            var set = Bitset(count: n)
            let postings = frame.lists[l]
            for (i, row) in postings.rows.enumerated() where from == nil || postings.lastRecorded[i] >= from! {
                set.insert(Int(row))
            }
            return set
        case .latest(let l, let cmp, let from):
            var set = Bitset(count: n)
            let postings = frame.lists[l]
            for (i, row) in postings.rows.enumerated() {
                let value = postings.latestValue[i]
                guard !value.isNaN, from == nil || postings.latestValueDay[i] >= from!, cmp.accepts(Double(value)) else {
                    continue
                }
                set.insert(Int(row))
            }
            return set
        case .score(let s, let cmp): return scan(frame.scores[s], cmp)
        case .segment(let s, let allowed):
            let column = frame.segmentations[s].segment
            return Bitset(count: n) { column[$0] != .max && allowed[Int(column[$0])] }
        case .risk(let r, let cmp): return scan(frame.risks[r].risk, cmp)
        case .tier(let r, let allowed):
            let column = frame.risks[r].tier
            return Bitset(count: n) { column[$0] >= 0 && allowed[Int(column[$0])] }
        case .rising(let r):
            let column = frame.risks[r].rising
            return Bitset(count: n) { column[$0] }
        case .area(let k, let cmp):
            // Areas first, so the row loop is one lookup; NaN (unknown) never compares true.
            let accepted = frame.areaIndicators[k].map { !$0.isNaN && cmp.accepts(Double($0)) }
            return Bitset(count: n) { frame.area[$0] >= 0 && accepted[Int(frame.area[$0])] }
        }
    }

    /// Rows whose value compares true; NaN (unknown) never does.
    /// (The comparison is made a range first, so the loop over rows has no switch in it.)
    static func scan<T: BinaryInteger>(_ column: [T], _ cmp: Comparison) -> Bitset {
        let (low, high, outside) = cmp.range
        return column.withUnsafeBufferPointer { c in
            Bitset(count: c.count) {
                let x = Double(c[$0])
                return (x >= low && x <= high) != outside
            }
        }
    }

    static func scan<T: BinaryFloatingPoint>(_ column: [T], _ cmp: Comparison) -> Bitset {
        let (low, high, outside) = cmp.range
        return column.withUnsafeBufferPointer { c in
            Bitset(count: c.count) {
                let x = Double(c[$0])
                return !x.isNaN && (x >= low && x <= high) != outside
            }
        }
    }
}
