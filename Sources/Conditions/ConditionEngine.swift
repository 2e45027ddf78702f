import PHMCore

/// A library compiled against a population's code table: for each code id, the bitmask of code
/// lists it belongs to, so evaluating people is integer work only.
public struct ConditionEngine: Sendable {
    public let library: ConditionLibrary
    let listWords: Int
    /// `membership[code * listWords + w]`: bits of the lists containing the code.
    let membership: [UInt64]
    /// For each code id, whether it is in any list.
    let matched: [Bool]
    let codeSystems: [CodeSystem]
    /// Prescription counters: (list, months) pairs the rules need, and per list its counters.
    let counters: [(list: Int, months: Int)]
    let countersOfList: [[Int]]
    /// Lists used by value rules, and how many recent values each must keep.
    let valueDepth: [Int]
    /// For each condition, the lists whose earliest code dates it.
    let datingLists: [[Int]]
    /// Every window length (months) the rules use.
    let windowMonths: [Int]
    /// The conditions' rules as plain integers (`Program`).
    let program: Program

    /// What `CodeFacts` must hold for this engine: the windows (months before as-of) prescription
    /// rules count in, and how many recent values each list's value rules read.
    public var prescriptionWindows: [Int] { Array(Set(counters.map(\.months))).sorted() }
    public var valueDepths: [Int] { valueDepth }
    /// Whether a rule counts distinct medicines (`CodeFacts.issuedCode` is read).
    public var countsDistinctMedicines: Bool { program.steps.contains { $0.op == .distinctPrescriptions } }
    /// The size of the code table the engine was compiled for.
    public var codeCount: Int { matched.count }

    /// The code lists (indices into the library's `lists`) holding a code of the table.
    public func lists(containing code: Int) -> [Int] {
        (0..<library.lists.count).filter { membership[code * listWords + $0 >> 6] & (1 << UInt64($0 & 63)) != 0 }
    }

    /// Compiles the library for the codes present in `codes`.
    ///
    /// - Complexity: O(codes x lists) once per run.
    public init(library: ConditionLibrary, codes: CodeTable) {
        self.library = library
        let lists = library.lists
        listWords = max(1, (lists.count + 63) / 64)
        var membership = [UInt64](repeating: 0, count: codes.count * listWords)
        var matched = [Bool](repeating: false, count: codes.count)
        for id in 0..<codes.count {
            let code = codes.codes[id], system = codes.systems[id]
            for (l, list) in lists.enumerated() where list.contains(code, system: system) {
                membership[id * listWords + l >> 6] |= 1 << UInt64(l & 63)
                matched[id] = true
            }
        }
        self.membership = membership
        self.matched = matched
        codeSystems = codes.systems

        var counters: [(list: Int, months: Int)] = []
        var depth = [Int](repeating: 0, count: lists.count)
        func visit(_ rule: Rule) {
            switch rule {
            case .prescriptions(let ls, let months, _):
                for l in ls where !counters.contains(where: { $0.list == l && $0.months == months }) {
                    counters.append((l, months))
                }
            case .value(let v): for l in v.lists { depth[l] = max(depth[l], v.last) }
            case .all(let rules), .any(let rules): rules.forEach(visit)
            case .not(let r): visit(r)
            default: break
            }
        }
        library.conditions.forEach { visit($0.rule) }
        self.counters = counters
        // A condition made of other conditions (anxiety or depression) is dated by theirs.
        func dating(_ rule: Rule, depth: Int) -> [Int] {
            switch rule {
            case .condition(let c): depth < 8 ? dating(library.conditions[c].rule, depth: depth + 1) : []
            case .all(let rules), .any(let rules): rules.flatMap { dating($0, depth: depth) }
            default: rule.datingLists
            }
        }
        datingLists = library.conditions.map { Array(Set(dating($0.rule, depth: 0))).sorted() }
        var months = Set(counters.map(\.months))
        func windows(_ rule: Rule) {
            switch rule {
            case .recordedWithin(_, let m), .firstRecordedWithin(_, let m), .distinctPrescriptions(_, let m, _): months.insert(m)
            case .value(let v): if let m = v.withinMonths { months.insert(m) }
            case .all(let rules), .any(let rules): rules.forEach(windows)
            case .not(let r): windows(r)
            default: break
            }
        }
        library.conditions.forEach { windows($0.rule) }
        windowMonths = months.sorted()
        countersOfList = lists.indices.map { l in counters.indices.filter { counters[$0].list == l } }
        valueDepth = depth
        program = Program(library, datingLists: datingLists)
    }

    /// The library's rules, scores and dating lists flattened into integer arrays. Evaluating a
    /// person then reads no reference-counted storage: matching an indirect enum or copying a
    /// condition retains and releases its payloads, once per rule per person.
    struct Program: Sendable {
        enum Op: UInt8, Sendable {
            case ever, recordedWithin, firstRecordedWithin, latestNotResolved, value, prescriptions
            case distinctPrescriptions, all, any, not, condition
        }

        /// One rule: its lists (or child steps) at `pool[a..<b]`, and its numbers in `c` and `d`
        /// (months and at-least counts; the resolved lists at `pool[c..<d]`; a value rule's index
        /// in `c`; a negated step or a condition in `a`).
        struct Step: Sendable {
            var op: Op
            var a: Int32, b: Int32, c: Int32 = 0, d: Int32 = 0
        }

        var steps: [Step] = []
        var pool: [Int32] = []
        var valueRules: [Rule.ValueRule] = []
        /// Each condition's root step, and whether it counts towards the LTC count.
        var roots: [Int32] = []
        var isLTC: [Bool] = []
        /// Each condition's dating lists at `dating[datingStart[c]..<datingStart[c + 1]]`.
        var datingStart: [Int32] = [0]
        var dating: [Int32] = []
        /// Each score's weights at `weights[weightStart[s]..<weightStart[s + 1]]`, and per weight
        /// the stronger conditions that take its place at `stronger[strongerStart[w]..<strongerStart[w + 1]]`.
        var weightStart: [Int32] = [0]
        var weightCondition: [Int32] = []
        var weightValue: [Double] = []
        var strongerStart: [Int32] = [0]
        var stronger: [Int32] = []
        var divideBy: [Double] = []

        init(_ library: ConditionLibrary, datingLists: [[Int]]) {
            for condition in library.conditions {
                roots.append(compile(condition.rule))
                isLTC.append(condition.isLTC)
            }
            for lists in datingLists {
                dating.append(contentsOf: lists.map { Int32($0) })
                datingStart.append(Int32(dating.count))
            }
            for score in library.scores {
                for (c, weight) in score.weights {
                    weightCondition.append(Int32(c))
                    weightValue.append(weight)
                    stronger.append(contentsOf: score.hierarchy.filter { $0.weaker == c }.map { Int32($0.stronger) })
                    strongerStart.append(Int32(stronger.count))
                }
                weightStart.append(Int32(weightCondition.count))
                divideBy.append(score.divideBy)
            }
            // Evaluation reads these indices without bounds checks, so they are checked here once
            // (the library's loader checks them too, but its fields are public and editable).
            let listCount = library.lists.count, conditionCount = library.conditions.count
            func isList(_ l: Int32) -> Bool { l >= 0 && Int(l) < listCount }
            for step in steps {
                let items = step.b > step.a ? pool[Int(step.a)..<Int(step.b)] : pool[0..<0]
                switch step.op {
                case .all, .any: precondition(items.allSatisfy { $0 >= 0 && Int($0) < steps.count }, "a rule's step")
                case .not: precondition(step.a >= 0 && Int(step.a) < steps.count, "a rule's step")
                case .condition: precondition(step.a >= 0 && Int(step.a) < conditionCount, "a rule's condition")
                case .value: precondition(valueRules[Int(step.c)].lists.allSatisfy { $0 >= 0 && $0 < listCount }, "a code list")
                case .latestNotResolved:
                    precondition(items.allSatisfy(isList) && pool[Int(step.c)..<Int(step.d)].allSatisfy(isList), "a code list")
                default: precondition(items.allSatisfy(isList), "a code list")
                }
            }
            precondition(dating.allSatisfy(isList), "a dating list")
            precondition((weightCondition + stronger).allSatisfy { $0 >= 0 && Int($0) < conditionCount }, "a score's condition")
        }

        private mutating func lists(_ ls: [Int]) -> (Int32, Int32) {
            let a = Int32(pool.count)
            pool.append(contentsOf: ls.map { Int32($0) })
            return (a, Int32(pool.count))
        }

        /// Appends the steps of `rule` (children first) and returns its own.
        private mutating func compile(_ rule: Rule) -> Int32 {
            let step: Step
            switch rule {
            case .ever(let ls):
                let (a, b) = lists(ls)
                step = Step(op: .ever, a: a, b: b)
            case .recordedWithin(let ls, let months):
                let (a, b) = lists(ls)
                step = Step(op: .recordedWithin, a: a, b: b, c: Int32(months))
            case .firstRecordedWithin(let ls, let months):
                let (a, b) = lists(ls)
                step = Step(op: .firstRecordedWithin, a: a, b: b, c: Int32(months))
            case .latestNotResolved(let ls, let resolved):
                let (a, b) = lists(ls)
                let (c, d) = lists(resolved)
                step = Step(op: .latestNotResolved, a: a, b: b, c: c, d: d)
            case .value(let v):
                valueRules.append(v)
                step = Step(op: .value, a: 0, b: 0, c: Int32(valueRules.count - 1))
            case .prescriptions(let ls, let months, let atLeast):
                let (a, b) = lists(ls)
                step = Step(op: .prescriptions, a: a, b: b, c: Int32(months), d: Int32(clamping: atLeast))
            case .distinctPrescriptions(let ls, let months, let atLeast):
                let (a, b) = lists(ls)
                step = Step(op: .distinctPrescriptions, a: a, b: b, c: Int32(months), d: Int32(clamping: atLeast))
            case .all(let rules), .any(let rules):
                let children = rules.map { compile($0) }
                let a = Int32(pool.count)
                pool.append(contentsOf: children)
                if case .all = rule {
                    step = Step(op: .all, a: a, b: Int32(pool.count))
                } else {
                    step = Step(op: .any, a: a, b: Int32(pool.count))
                }
            case .not(let r):
                step = Step(op: .not, a: compile(r), b: 0)
            case .condition(let c):
                step = Step(op: .condition, a: Int32(c), b: 0)
            }
            steps.append(step)
            return Int32(steps.count - 1)
        }
    }

    /// Evaluates every person at the population's as-of date, people split across cores.
    public func evaluate(_ population: Population, workers: Int) -> ConditionResults {
        // The per-person work reads the compiled tables without bounds checks.
        precondition(population.codes.count == matched.count, "the engine was compiled for another code table")
        return evaluate(.events(population), people: population.count, asOf: population.asOf, workers: workers)
    }

    /// Evaluates every person of `facts` at the day they were reduced at: the same results as
    /// from the events they were reduced from (`codeRecognised` by this engine's code table).
    public func evaluate(_ facts: CodeFacts, workers: Int) -> ConditionResults {
        if let problem = facts.problem(for: self) { preconditionFailure("code facts: \(problem)") }
        var result = evaluate(.facts(facts), people: facts.count, asOf: facts.asOf, workers: workers)
        result.unmatchedEvents = facts.unmatchedEvents
        return result
    }

    /// Where a person's coded history comes from.
    enum Source {
        case events(Population)
        case facts(CodeFacts)
    }

    private func evaluate(_ source: Source, people count: Int, asOf: Day, workers: Int) -> ConditionResults {
        let parts = Parallel.ranges(count, parts: workers * 4)
        let partials = Parallel.map(parts.count) { k in evaluate(source, asOf: asOf, people: parts[k]) }
        let c = library.conditions.count
        var result = ConditionResults(
            asOf: asOf, conditionCount: c, wordsPerPerson: max(1, (c + 63) / 64), flags: [], firstStart: [0],
            firstCondition: [], firstDay: [], ltcCount: [], scores: library.scores.map { _ in [] }, unmatchedEvents: [:],
            unmatchedCodes: [:])
        for part in partials {
            result.flags.append(contentsOf: part.flags)
            let base = Int32(result.firstCondition.count)
            result.firstStart.append(contentsOf: part.firstStart.dropFirst().map { $0 + base })
            result.firstCondition.append(contentsOf: part.firstCondition)
            result.firstDay.append(contentsOf: part.firstDay)
            result.ltcCount.append(contentsOf: part.ltcCount)
            result.lists.append(part.lists)
            for s in result.scores.indices { result.scores[s].append(contentsOf: part.scores[s]) }
            for (system, n) in part.unmatchedEvents { result.unmatchedEvents[system, default: 0] += n }
        }
        for (id, isMatched) in matched.enumerated() where !isMatched {
            result.unmatchedCodes[codeSystems[id].name, default: 0] += 1
        }
        result.codeRecognised = matched
        return result
    }

    /// Per-person working state for one list, reset between people.
    struct ListState {
        var first = Int32.max
        var last = Int32.min
        var value = Float.nan
        var valueDay = Int32.min
    }

    private func evaluate(_ source: Source, asOf: Day, people: Range<Int>) -> ConditionResults {
        let lists = library.lists.count
        let conditionCount = library.conditions.count
        let words = max(1, (conditionCount + 63) / 64)
        let asOfRaw = asOf.rawValue
        var result = ConditionResults(
            asOf: asOf, conditionCount: conditionCount, wordsPerPerson: words, flags: [], firstStart: [0], firstCondition: [],
            firstDay: [], ltcCount: [], scores: library.scores.map { _ in [] }, unmatchedEvents: [:], unmatchedCodes: [:])
        result.flags.reserveCapacity(people.count * words)
        // Working state in buffers of its own: the per-event and per-rule work below then does no
        // reference counting and no dynamic exclusivity checks.
        let state = UnsafeMutableBufferPointer<ListState>.allocate(capacity: lists)
        state.initialize(repeating: ListState())
        let valueCount = UnsafeMutableBufferPointer<Int>.allocate(capacity: lists)
        valueCount.initialize(repeating: 0)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, counters.count))
        counts.initialize(repeating: 0)
        let flags = UnsafeMutableBufferPointer<Bool>.allocate(capacity: max(1, conditionCount))
        flags.initialize(repeating: false)
        let seenCode = UnsafeMutableBufferPointer<Bool>.allocate(capacity: max(1, matched.count))
        seenCode.initialize(repeating: false)
        defer {
            state.deallocate()
            valueCount.deallocate()
            counts.deallocate()
            flags.deallocate()
            seenCode.deallocate()
        }
        var touched: [Int] = []
        var values = valueDepth.map { [Float](repeating: .nan, count: $0) }
        var valueDays = valueDepth.map { [Int32](repeating: 0, count: $0) }
        var unmatched = [Int](repeating: 0, count: CodeSystem.allCases.count)
        // Window starts, computed once: the calendar arithmetic stays out of the per-person loop.
        var windowStartOfMonths = [Int32](repeating: asOfRaw, count: (windowMonths.last ?? 0) + 1)
        for m in windowMonths { windowStartOfMonths[m] = asOf.adding(months: -m).rawValue }

        // This person's prescriptions before as-of, for distinct-medicine rules.
        var issued: [(code: Int32, day: Int32)] = []
        let program = self.program, codeCount = matched.count
        let windows = prescriptionWindows
        // For each counter, its window's place among the facts' windows.
        let counterWindow = counters.map { c in windows.firstIndex(of: c.months)! }
        // The source's tables, taken out once: reading them through the enum per person would
        // retain and release every array of the population for each person.
        let clinical: ClinicalEvents, activity: ActivityEvents, rx: PrescriptionEvents, facts: CodeFacts
        let fromFacts: Bool
        switch source {
        case .events(let population):
            (clinical, activity, rx, facts) = (
                population.clinical, population.activity, population.prescriptions, CodeFacts(asOf: asOf)
            )
            fromFacts = false
        case .facts(let f):
            (clinical, activity, rx, facts) = (ClinicalEvents(), ActivityEvents(), PrescriptionEvents(), f)
            fromFacts = true
        }
        return membership.withUnsafeBufferPointer { membership in
            program.steps.withUnsafeBufferPointer { steps in
                program.pool.withUnsafeBufferPointer { pool in
                    windowStartOfMonths.withUnsafeBufferPointer { windowStart in
                        @inline(__always) func visit(_ code: Int32, _ day: Int32, value: Float = .nan, prescription: Bool = false)
                        {
                            guard code >= 0, Int(code) < codeCount else { return }
                            let base = Int(code) * listWords
                            var any = false
                            for w in 0..<listWords {
                                var bits = membership[base + w]
                                while bits != 0 {
                                    any = true
                                    let l = w * 64 + bits.trailingZeroBitCount
                                    bits &= bits - 1
                                    if state[l].first == Int32.max && state[l].last == Int32.min { touched.append(l) }
                                    state[l].first = min(state[l].first, day)
                                    state[l].last = max(state[l].last, day)
                                    if !value.isNaN {
                                        state[l].value = value
                                        state[l].valueDay = day
                                    }
                                    if prescription {
                                        for k in countersOfList[l] where day >= windowStart[counters[k].months] { counts[k] += 1 }
                                    }
                                    let depth = valueDepth[l]
                                    if depth > 0, !value.isNaN {
                                        // Clinical events arrive in date order: keep the latest `depth` values.
                                        let slot = valueCount[l] % depth
                                        values[l][slot] = value
                                        valueDays[l][slot] = day
                                        valueCount[l] += 1
                                    }
                                }
                            }
                            if !any { unmatched[Int(codeSystems[Int(code)].rawValue)] += 1 }
                        }

                        func holds(_ index: Int32) -> Bool {
                            let step = steps[Int(index)]
                            // A step's lists or children; `not`, `condition` and `value` have none.
                            let ls = step.b > step.a ? pool[Int(step.a)..<Int(step.b)] : pool[0..<0]
                            switch step.op {
                            case .ever:
                                return ls.contains { state[Int($0)].first != Int32.max }
                            case .recordedWithin:
                                let from = windowStart[Int(step.c)]
                                return ls.contains { state[Int($0)].last >= from }
                            case .firstRecordedWithin:
                                let from = windowStart[Int(step.c)]
                                var first = Int32.max
                                for l in ls { first = min(first, state[Int(l)].first) }
                                return first != Int32.max && first >= from
                            case .latestNotResolved:
                                var latest = Int32.min
                                for l in ls { latest = max(latest, state[Int(l)].last) }
                                guard latest != Int32.min else { return false }
                                var resolvedLatest = Int32.min
                                for l in pool[Int(step.c)..<Int(step.d)] {
                                    resolvedLatest = max(resolvedLatest, state[Int(l)].last)
                                }
                                return latest > resolvedLatest
                            case .value:
                                let v = program.valueRules[Int(step.c)]
                                var recent: [(day: Int32, value: Float)] = []
                                for l in v.lists where valueDepth[l] > 0 {
                                    let n = min(valueCount[l], valueDepth[l])
                                    for i in 0..<n { recent.append((valueDays[l][i], values[l][i])) }
                                }
                                if let months = v.withinMonths {
                                    let from = windowStart[months]
                                    recent.removeAll { $0.day < from }
                                }
                                guard !recent.isEmpty else { return false }
                                recent.sort { $0.day > $1.day }
                                let taken = recent.prefix(v.last).map { Double($0.value) }
                                let x: Double
                                switch v.take {
                                case .latest: x = taken[0]
                                case .max: x = taken.max()!
                                case .min: x = taken.min()!
                                case .mean: x = taken.reduce(0, +) / Double(taken.count)
                                }
                                return v.accepts(x)
                            case .prescriptions:
                                var total = 0
                                for l in ls {
                                    for k in countersOfList[Int(l)] where counters[k].months == Int(step.c) { total += counts[k] }
                                }
                                return total >= Int(step.d)
                            case .distinctPrescriptions:
                                let from = windowStart[Int(step.c)]
                                var distinct = 0
                                for (code, day) in issued where day >= from && code >= 0 && !seenCode[Int(code)] {
                                    let base = Int(code) * listWords
                                    if ls.contains(where: { membership[base + Int($0) >> 6] & (1 << UInt64($0 & 63)) != 0 }) {
                                        seenCode[Int(code)] = true
                                        distinct += 1
                                    }
                                }
                                for (code, _) in issued where code >= 0 { seenCode[Int(code)] = false }
                                return distinct >= Int(step.d)
                            case .all: return ls.allSatisfy(holds)
                            case .any: return ls.contains(where: holds)
                            case .not: return !holds(step.a)
                            case .condition: return flags[Int(step.a)]
                            }
                        }

                        for person in people {
                            for l in touched {
                                state[l] = ListState()
                                valueCount[l] = 0
                            }
                            touched.removeAll(keepingCapacity: true)
                            for k in 0..<counters.count { counts[k] = 0 }

                            issued.removeAll(keepingCapacity: true)
                            if !fromFacts {
                                for row in clinical.byPerson.rows(of: person) {
                                    let day = clinical.day[row].rawValue
                                    guard day < asOfRaw else { break }
                                    visit(clinical.code[row], day, value: clinical.value[row])
                                }
                                for row in activity.byPerson.rows(of: person) {
                                    let day = activity.day[row].rawValue
                                    guard day < asOfRaw else { break }
                                    visit(activity.diagnosis[row], day)
                                    for i in Int(activity.secondaryStart[row])..<Int(activity.secondaryStart[row + 1]) {
                                        visit(activity.secondaryCodes[i], day)
                                    }
                                    if !activity.procedure.isEmpty { visit(activity.procedure[row], day) }
                                }
                                for row in rx.byPerson.rows(of: person) {
                                    let day = rx.day[row].rawValue
                                    guard day < asOfRaw else { break }
                                    visit(rx.code[row], day, prescription: true)
                                    if rx.code[row] >= 0, Int(rx.code[row]) < codeCount { issued.append((rx.code[row], day)) }
                                }
                            } else {
                                // The state the events would have left, list by list.
                                for r in facts.rows(of: person) {
                                    let l = Int(facts.list[r])
                                    touched.append(l)
                                    state[l] = ListState(
                                        first: facts.first[r].rawValue, last: facts.last[r].rawValue,
                                        value: facts.latestValue[r], valueDay: facts.latestValueDay[r].rawValue)
                                    // The ring of recent values as the events fill it: the i-th value at i % depth.
                                    let n = Int(facts.valueCount[r]), depth = valueDepth[l]
                                    valueCount[l] = n
                                    let recent = Int(facts.recentStart[r])..<Int(facts.recentStart[r + 1])
                                    for (i, k) in recent.enumerated() {
                                        let slot = (n - recent.count + i) % depth
                                        values[l][slot] = facts.recentValue[k]
                                        valueDays[l][slot] = facts.recentDay[k].rawValue
                                    }
                                    for k in countersOfList[l] {
                                        counts[k] = Int(facts.prescribed[r * windows.count + counterWindow[k]])
                                    }
                                }
                                for k in Int(facts.issuedStart[person])..<Int(facts.issuedStart[person + 1]) {
                                    issued.append((facts.issuedCode[k], facts.issuedDay[k].rawValue))
                                }
                            }

                            // Conditions in file order, so a rule may use any condition before it.
                            var ltc = 0
                            let wordsStart = result.flags.count
                            result.flags.append(contentsOf: repeatElement(0, count: words))
                            for c in 0..<conditionCount {
                                flags[c] = holds(program.roots[c])
                                guard flags[c] else { continue }
                                result.flags[wordsStart + c >> 6] |= 1 << UInt64(c & 63)
                                if program.isLTC[c] { ltc += 1 }
                                var first = Int32.max
                                for k in Int(program.datingStart[c])..<Int(program.datingStart[c + 1]) {
                                    first = min(first, state[Int(program.dating[k])].first)
                                }
                                result.firstCondition.append(UInt16(c))
                                result.firstDay.append(Day(rawValue: first == Int32.max ? asOfRaw : first))
                            }
                            result.firstStart.append(Int32(result.firstCondition.count))
                            result.ltcCount.append(UInt8(clamping: ltc))
                            for l in touched.sorted() {
                                result.lists.list.append(UInt16(l))
                                result.lists.lastRecorded.append(Day(rawValue: state[l].last))
                                result.lists.latestValue.append(state[l].value)
                                result.lists.latestValueDay.append(Day(rawValue: state[l].valueDay))
                            }
                            result.lists.start.append(Int32(result.lists.list.count))
                            for s in 0..<program.divideBy.count {
                                var sum = 0.0
                                for w in Int(program.weightStart[s])..<Int(program.weightStart[s + 1])
                                where flags[Int(program.weightCondition[w])] {
                                    let stronger = program.stronger[
                                        Int(program.strongerStart[w])..<Int(program.strongerStart[w + 1])]
                                    if stronger.contains(where: { flags[Int($0)] }) { continue }
                                    sum += program.weightValue[w]
                                }
                                result.scores[s].append(sum / program.divideBy[s])
                            }
                        }
                        for system in CodeSystem.allCases where unmatched[Int(system.rawValue)] > 0 {
                            result.unmatchedEvents[system.name] = unmatched[Int(system.rawValue)]
                        }
                        return result
                    }
                }
            }
        }
    }
}
