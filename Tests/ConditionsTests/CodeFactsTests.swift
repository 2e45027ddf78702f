import Conditions
import PHMCore
import Testing

/// Code facts come from another engine (Spark), so every index and count is checked before the
/// condition engine reads them without bounds checks: each kind of damage is named, never read.
@Suite struct CodeFactsTests {
    static let asOf = Day(year: 2025, month: 4, day: 1)!

    /// An engine over the shipped library and one code, and facts for two people: the first with
    /// eGFR (two values, the rule's depth) and laxatives, the second with nothing.
    static func sample() throws -> (ConditionEngine, CodeFacts) {
        let library = try ConditionLibrary.standard()
        var codes = CodeTable()
        _ = codes.intern("0106020C0AAAAAA", system: .bnf)
        let engine = ConditionEngine(library: library, codes: codes)
        let egfr = library.lists.firstIndex { $0.name == "egfr" }!
        let laxatives = library.lists.firstIndex { $0.name == "laxatives_bnf" }!
        let windows = engine.prescriptionWindows.count
        var facts = CodeFacts(asOf: asOf)
        for (list, values) in [(min(egfr, laxatives), egfr < laxatives), (max(egfr, laxatives), egfr > laxatives)] {
            facts.list.append(Int32(list))
            facts.first.append(asOf.adding(days: -400))
            facts.last.append(asOf.adding(days: -10))
            facts.latestValue.append(values ? 25 : .nan)
            facts.latestValueDay.append(values ? asOf.adding(days: -10) : Day(rawValue: .min))
            facts.valueCount.append(values ? 3 : 0)
            if values {
                facts.recentValue += [50, 25]
                facts.recentDay += [asOf.adding(days: -10), asOf.adding(days: -10)]
            }
            facts.recentStart.append(Int32(facts.recentValue.count))
            facts.prescribed += Array(repeating: values ? 0 : 4, count: windows)
        }
        facts.start = [0, 2, 2]
        facts.issuedStart = [0, 1, 1]
        facts.issuedCode = [0]
        facts.issuedDay = [asOf.adding(days: -10)]
        return (engine, facts)
    }

    @Test func wellFormedFactsAreEvaluated() throws {
        let (engine, facts) = try Self.sample()
        #expect(facts.problem(for: engine) == nil)
        let results = engine.evaluate(facts, workers: 2)
        let library = engine.library
        func has(_ person: Int, _ id: String) -> Bool { results.has(person, library.conditions.firstIndex { $0.id == id }!) }
        // The best of the latest two eGFR values is 50: below 60, not below 30; four laxatives.
        #expect(has(0, "chronic_kidney_disease") && !has(0, "ckd_stage_4_5") && has(0, "constipation"))
        #expect(!has(1, "chronic_kidney_disease") && results.ltcCount[1] == 0)
    }

    static let damages = [
        "list out of range", "lists out of order", "rows overlap", "column short", "too many recent values",
        "recent values newest first", "a day at as-of", "a negative count", "an issued code out of range",
        "issued rows short", "recent rows falling",
    ]

    @Test(arguments: damages)
    func damagedFactsAreNamed(_ damage: String) throws {
        var (engine, facts) = try Self.sample()
        switch damage {
        case "list out of range": facts.list[1] = Int32(engine.library.lists.count)
        case "lists out of order": facts.list.swapAt(0, 1)
        case "rows overlap": facts.start = [0, 2, 1]
        case "column short": facts.first.removeLast()
        case "too many recent values": facts.valueCount[facts.latestValue[0].isNaN ? 1 : 0] = 1
        case "recent values newest first":
            let r = facts.latestValue[0].isNaN ? 1 : 0
            facts.recentDay[Int(facts.recentStart[r])] = Self.asOf.adding(days: -5)
        case "a day at as-of": facts.last[0] = Self.asOf
        case "a negative count": facts.prescribed[0] = -1
        case "an issued code out of range": facts.issuedCode[0] = 1
        case "issued rows short": facts.issuedStart = [0, 1]
        default: facts.recentStart[1] = facts.recentStart[2] + 1
        }
        #expect(facts.problem(for: engine) != nil, "\(damage)")
    }
}
