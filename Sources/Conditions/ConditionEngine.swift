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
    }

    /// Evaluates every person at the population's as-of date, people split across cores.
    public func evaluate(_ population: Population, workers: Int) -> ConditionResults {
        let parts = Parallel.ranges(population.count, parts: workers * 4)
        let partials = Parallel.map(parts.count) { k in evaluate(population, people: parts[k]) }
        let c = library.conditions.count
        var result = ConditionResults(
            asOf: population.asOf, conditionCount: c, wordsPerPerson: max(1, (c + 63) / 64), flags: [], firstStart: [0],
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

    private func evaluate(_ population: Population, people: Range<Int>) -> ConditionResults {
        let lists = library.lists.count
        let conditions = library.conditions
        let words = max(1, (conditions.count + 63) / 64)
        let asOf = population.asOf
        let asOfRaw = asOf.rawValue
        var result = ConditionResults(
            asOf: asOf, conditionCount: conditions.count, wordsPerPerson: words, flags: [], firstStart: [0], firstCondition: [],
            firstDay: [], ltcCount: [], scores: library.scores.map { _ in [] }, unmatchedEvents: [:], unmatchedCodes: [:])
        result.flags.reserveCapacity(people.count * words)
        var state = [ListState](repeating: ListState(), count: lists)
        var touched: [Int] = []
        var counts = [Int](repeating: 0, count: counters.count)
        var values = valueDepth.map { [Float](repeating: .nan, count: $0) }
        var valueCount = [Int](repeating: 0, count: lists)
        var valueDays = valueDepth.map { [Int32](repeating: 0, count: $0) }
        var unmatched = [Int](repeating: 0, count: CodeSystem.allCases.count)
        // Window starts, computed once: the calendar arithmetic stays out of the per-person loop.
        var windowStartOfMonths = [Int32](repeating: asOfRaw, count: (windowMonths.last ?? 0) + 1)
        for m in windowMonths { windowStartOfMonths[m] = asOf.adding(months: -m).rawValue }
        var seenCode = [Bool](repeating: false, count: matched.count)

        @inline(__always) func visit(_ code: Int32, _ day: Int32, value: Float = .nan, prescription: Bool = false) {
            guard code >= 0 else { return }
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
                        for k in countersOfList[l] where day >= windowStartOfMonths[counters[k].months] { counts[k] += 1 }
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

        // This person's prescriptions before as-of, for distinct-medicine rules.
        var issued: [(code: Int32, day: Int32)] = []
        var flags = [Bool](repeating: false, count: conditions.count)
        for person in people {
            for l in touched {
                state[l] = ListState()
                valueCount[l] = 0
            }
            touched.removeAll(keepingCapacity: true)
            for k in counts.indices { counts[k] = 0 }

            let clinical = population.clinical
            for row in clinical.byPerson.rows(of: person) {
                let day = clinical.day[row].rawValue
                guard day < asOfRaw else { break }
                visit(clinical.code[row], day, value: clinical.value[row])
            }
            let activity = population.activity
            for row in activity.byPerson.rows(of: person) {
                let day = activity.day[row].rawValue
                guard day < asOfRaw else { break }
                visit(activity.diagnosis[row], day)
                for i in Int(activity.secondaryStart[row])..<Int(activity.secondaryStart[row + 1]) {
                    visit(activity.secondaryCodes[i], day)
                }
                if !activity.procedure.isEmpty { visit(activity.procedure[row], day) }
            }
            let rx = population.prescriptions
            issued.removeAll(keepingCapacity: true)
            for row in rx.byPerson.rows(of: person) {
                let day = rx.day[row].rawValue
                guard day < asOfRaw else { break }
                visit(rx.code[row], day, prescription: true)
                issued.append((rx.code[row], day))
            }

            // Conditions in file order, so a rule may use any condition before it.
            func holds(_ rule: Rule) -> Bool {
                switch rule {
                case .ever(let ls): return ls.contains { state[$0].first != Int32.max }
                case .recordedWithin(let ls, let months):
                    let from = windowStartOfMonths[months]
                    return ls.contains { state[$0].last >= from }
                case .firstRecordedWithin(let ls, let months):
                    let from = windowStartOfMonths[months]
                    let first = ls.map { state[$0].first }.min() ?? Int32.max
                    return first != Int32.max && first >= from
                case .latestNotResolved(let ls, let resolved):
                    let latest = ls.map { state[$0].last }.max() ?? Int32.min
                    guard latest != Int32.min else { return false }
                    let resolvedLatest = resolved.map { state[$0].last }.max() ?? Int32.min
                    return latest > resolvedLatest
                case .value(let v):
                    var recent: [(day: Int32, value: Float)] = []
                    for l in v.lists where valueDepth[l] > 0 {
                        let n = min(valueCount[l], valueDepth[l])
                        for i in 0..<n { recent.append((valueDays[l][i], values[l][i])) }
                    }
                    if let months = v.withinMonths {
                        let from = windowStartOfMonths[months]
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
                case .prescriptions(let ls, let months, let atLeast):
                    var total = 0
                    for l in ls { for k in countersOfList[l] where counters[k].months == months { total += counts[k] } }
                    return total >= atLeast
                case .distinctPrescriptions(let ls, let months, let atLeast):
                    let from = windowStartOfMonths[months]
                    var distinct = 0
                    for (code, day) in issued where day >= from && code >= 0 && !seenCode[Int(code)] {
                        let base = Int(code) * listWords
                        if ls.contains(where: { membership[base + $0 >> 6] & (1 << UInt64($0 & 63)) != 0 }) {
                            seenCode[Int(code)] = true
                            distinct += 1
                        }
                    }
                    for (code, _) in issued where code >= 0 { seenCode[Int(code)] = false }
                    return distinct >= atLeast
                case .all(let rules): return rules.allSatisfy(holds)
                case .any(let rules): return rules.contains(where: holds)
                case .not(let r): return !holds(r)
                case .condition(let c): return flags[c]
                }
            }
            var ltc = 0
            var word = [UInt64](repeating: 0, count: words)
            for (c, condition) in conditions.enumerated() {
                flags[c] = holds(condition.rule)
                guard flags[c] else { continue }
                word[c >> 6] |= 1 << UInt64(c & 63)
                if condition.isLTC { ltc += 1 }
                var first = Int32.max
                for l in datingLists[c] { first = min(first, state[l].first) }
                result.firstCondition.append(UInt16(c))
                result.firstDay.append(Day(rawValue: first == Int32.max ? asOfRaw : first))
            }
            result.firstStart.append(Int32(result.firstCondition.count))
            result.flags.append(contentsOf: word)
            result.ltcCount.append(UInt8(clamping: ltc))
            for l in touched.sorted() {
                result.lists.list.append(UInt16(l))
                result.lists.lastRecorded.append(Day(rawValue: state[l].last))
                result.lists.latestValue.append(state[l].value)
                result.lists.latestValueDay.append(Day(rawValue: state[l].valueDay))
            }
            result.lists.start.append(Int32(result.lists.list.count))
            for (s, score) in library.scores.enumerated() {
                var sum = 0.0
                for (c, weight) in score.weights where flags[c] {
                    if score.hierarchy.contains(where: { $0.weaker == c && flags[$0.stronger] }) { continue }
                    sum += weight
                }
                result.scores[s].append(sum / score.divideBy)
            }
        }
        for system in CodeSystem.allCases where unmatched[Int(system.rawValue)] > 0 {
            result.unmatchedEvents[system.name] = unmatched[Int(system.rawValue)]
        }
        return result
    }
}
