import Foundation
import PHMCore
import TestSupport
import Testing

@testable import Cohorts

/// Evaluates a definition for one person straight from the columns, by name: the independent
/// answer the bitset evaluation must equal.
func bruteForce(_ e: CohortExpression, _ f: PersonFrame, _ row: Int) -> Bool {
    switch e {
    case .all(let c): return c.allSatisfy { bruteForce($0, f, row) }
    case .any(let c): return c.contains { bruteForce($0, f, row) }
    case .not(let c): return !bruteForce(c, f, row)
    case .atLeast(let n, let c): return c.filter { bruteForce($0, f, row) }.count >= n
    case .criterion(let c):
        func from(_ m: Int?) -> Day { m.map { f.asOf.adding(months: -$0) } ?? Day(rawValue: Int32.min) }
        switch c {
        case .number(let field, let cmp):
            let x: Double?
            switch field {
            case .age: x = Double(f.age[row])
            case .imdDecile: x = f.imdDecile[row] == 0 ? nil : Double(f.imdDecile[row])
            case .imdQuintile: x = f.imdDecile[row] == 0 ? nil : Double((f.imdDecile[row] + 1) / 2)
            case .ltcCount: x = Double(f.ltcCount[row])
            case .use(let m): x = Double(f.use[m]![row])
            }
            if case .use = field { return x.map(cmp.inFloat.accepts) ?? false }
            return x.map(cmp.accepts) ?? false
        case .category(let field, let values):
            let v = Set(values.map { $0.lowercased() })
            let q = Int(f.practice[row])
            switch field {
            case .sex: return v.contains(String(describing: f.sex[row]))
            case .ethnicGroup: return v.contains(f.ethnicGroup[row].criterionValue)
            case .lsoa: return f.area[row] >= 0 && v.contains(f.areaCodes[Int(f.area[row])].lowercased())
            case .practice: return v.contains(f.hierarchy.practices[q].code.lowercased())
            case .pcn: return v.contains(f.hierarchy.pcns[Int(f.hierarchy.practicePCN[q])].code.lowercased())
            case .locality:
                let l = f.hierarchy.localities[Int(f.hierarchy.practiceLocality[q])]
                return v.contains(l.code.lowercased()) || v.contains(l.name.lowercased())
            case .organisation: return v.contains(f.hierarchy.organisations[0].code.lowercased())
            }
        case .condition(let id, let m):
            let p = f.conditions[f.conditionIds.firstIndex(of: id)!]
            guard let i = p.rows.firstIndex(of: Int32(row)) else { return false }
            return p.day[i] >= from(m)
        case .recorded(let id, let m):
            let p = f.lists[f.listIds.firstIndex(of: id)!]
            guard let i = p.rows.firstIndex(of: Int32(row)) else { return false }
            return p.lastRecorded[i] >= from(m)
        case .latest(let id, let cmp, let m):
            let p = f.lists[f.listIds.firstIndex(of: id)!]
            guard let i = p.rows.firstIndex(of: Int32(row)), !p.latestValue[i].isNaN else { return false }
            return p.latestValueDay[i] >= from(m) && cmp.inFloat.accepts(Double(p.latestValue[i]))
        case .score(let id, let cmp): return cmp.accepts(f.scores[f.scoreIds.firstIndex(of: id)!][row])
        case .segment(let id, let values):
            let s = f.segmentations.first { $0.id == id }!
            return s.segment[row] != .max && values.contains(s.segmentIds[Int(s.segment[row])])
        case .risk(let id, let cmp):
            let r = f.risks.first { $0.outcome == id }!.risk[row]
            return !r.isNaN && cmp.inFloat.accepts(Double(r))
        case .tier(let id, let values):
            let t = f.risks.first { $0.outcome == id }!.tier[row]
            return t >= 0 && values.contains(PersonFrame.tierIds[Int(t)])
        case .rising(let id): return f.risks.first { $0.outcome == id }!.rising[row]
        case .area(let id, let cmp):
            guard f.area[row] >= 0 else { return false }
            let value = f.areaIndicators[f.areaIndicatorNames.firstIndex(of: id)!][Int(f.area[row])]
            return !value.isNaN && cmp.inFloat.accepts(Double(value))
        }
    }
}

/// A random definition over the random frame's names, up to `depth` levels of combination.
func randomExpression(_ rng: inout Xoshiro, depth: Int) -> CohortExpression {
    func cmp() -> Comparison { Comparison(Comparison.Operator.allCases[rng.int(0..<6)], Double(rng.int(0..<5))) }
    if depth > 0, rng.chance(0.5) {
        let children = (0..<rng.int(2..<4)).map { _ in randomExpression(&rng, depth: depth - 1) }
        switch rng.int(0..<4) {
        case 0: return .all(children)
        case 1: return .any(children)
        case 2: return .not(children[0])
        default: return .atLeast(rng.int(1..<(children.count + 1)), of: children)
        }
    }
    let window: Int? = rng.chance(0.5) ? rng.int(1..<60) : nil
    let criterion: Criterion
    switch rng.int(0..<14) {
    case 0: criterion = .number(.age, Comparison(Comparison.Operator.allCases[rng.int(0..<6)], Double(rng.int(0..<100))))
    case 1: criterion = .number([.imdDecile, .imdQuintile, .ltcCount][rng.int(0..<3)], cmp())
    case 2: criterion = .number(.use([.emergencyAdmissions, .aeAttendances, .prescriptionTypes][rng.int(0..<3)]), cmp())
    case 3: criterion = .number(.use(.cost), Comparison(.atLeast, Double(rng.int(0..<10_000))))
    case 4: criterion = .category(.sex, [["male"], ["female"], ["male", "unknown"]][rng.int(0..<3)])
    case 5:
        criterion =
            [
                .category(.practice, ["P3", "p7"]), .category(.pcn, ["N1", "N2"]), .category(.locality, ["Andover"]),
                .category(.locality, ["L2"]),
            ][rng.int(0..<4)]
    case 6: criterion = .category(.ethnicGroup, [["asian", "black"], ["not_stated"]][rng.int(0..<2)])
    case 7: criterion = .condition(["depression", "obesity", "hypertension", "diabetes"][rng.int(0..<4)], withinMonths: window)
    case 8: criterion = .recorded(["bmi", "systolic_bp", "hba1c"][rng.int(0..<3)], withinMonths: window)
    case 9:
        criterion = .latest(
            ["bmi", "systolic_bp"][rng.int(0..<2)], Comparison(Comparison.Operator.allCases[rng.int(0..<6)], 30),
            withinMonths: window)
    case 10: criterion = .score(["cms", "efi"][rng.int(0..<2)], Comparison(.atLeast, Double(rng.int(0..<40)) / 10))
    case 11: criterion = .segment("bridges_to_health", [["frailty"], ["healthy", "stable"]][rng.int(0..<2)])
    case 12:
        criterion =
            rng.chance(0.5)
            ? .risk(
                "emergency_admission_12m",
                Comparison(Comparison.Operator.allCases[rng.int(0..<6)], Double(rng.int(0..<1000)) / 1000))
            : .tier("persistent_high_cost", [["high", "very_high"], ["low"]][rng.int(0..<2)])
    default: criterion = .rising(["emergency_admission_12m", "persistent_high_cost"][rng.int(0..<2)])
    }
    if case .number(.age, _) = criterion, rng.chance(0.1) { return .criterion(.category(.lsoa, ["E01003", "e01007"])) }
    if case .number(.ltcCount, _) = criterion, rng.chance(0.3) {
        return .criterion(
            .area(["pm25", "green_space_access_pct"][rng.int(0..<2)], Comparison(cmp().op, Double(rng.int(0..<80)))))
    }
    return .criterion(criterion)
}

@Suite struct CohortQueryTests {
    @Test func bitsetEvaluationEqualsBruteForceOnRandomDefinitions() throws {
        let frame = randomFrame(2_001, seed: 11)
        var rng = Xoshiro(seed: 5)
        var nonTrivial = 0
        for _ in 0..<250 {
            let expression = randomExpression(&rng, depth: 3)
            let query = try CohortQuery(CohortDefinition(expression), frame: frame)
            let rows = try query.evaluate(frame)
            let expected = (0..<frame.count).filter { bruteForce(expression, frame, $0) }
            #expect(rows.rows == expected, "\(CohortText.format(expression))")
            if !expected.isEmpty && expected.count < frame.count { nonTrivial += 1 }
            // Both written forms give back the same tree.
            #expect(try CohortText.parse(CohortText.format(expression)).expression == expression)
            #expect(
                try CohortJSON.parse(CohortJSON.encode(expression)).expression == expression,
                "\(String(decoding: CohortJSON.encode(expression), as: UTF8.self))")
        }
        #expect(nonTrivial > 120)
    }

    @Test func atLeastCountsEachSetOnce() {
        var a = Bitset(count: 130), b = Bitset(count: 130), c = Bitset(count: 130)
        for i in [1, 2, 3, 129] { a.insert(i) }
        for i in [2, 3, 100] { b.insert(i) }
        for i in [3, 100, 129] { c.insert(i) }
        #expect(Bitset.atLeast(1, of: [a, b, c], count: 130).rows == [1, 2, 3, 100, 129])
        #expect(Bitset.atLeast(2, of: [a, b, c], count: 130).rows == [2, 3, 100, 129])
        #expect(Bitset.atLeast(3, of: [a, b, c], count: 130).rows == [3])
        var none = Bitset(count: 130)
        none.formComplement()
        #expect(none.cardinality == 130)
    }

    @Test func textFormReadsLikeTheSeeds() throws {
        let frame = randomFrame(500, seed: 3)
        let text = """
            locality = Andover and condition depression
              and latest bmi >= 30 within 2 years
            """
        let definition = try CohortText.parse(text)
        #expect(
            definition.expression
                == .all([
                    .criterion(.category(.locality, ["Andover"])), .criterion(.condition("depression", withinMonths: nil)),
                    .criterion(.latest("bmi", Comparison(.atLeast, 30), withinMonths: 24)),
                ]))
        #expect(
            CohortText.format(definition.expression)
                == "locality = Andover and condition depression and latest bmi >= 30 within 24 months")
        let json = try CohortJSON.parse(
            Data(
                #"{"all": [{"locality": "Andover"}, {"condition": "depression"}, {"latest": {"list": "bmi", "at_least": 30, "within_months": 24}}]}"#
                    .utf8))
        #expect(json == definition)
        let rows = try CohortQuery(definition, frame: frame).evaluate(frame)
        #expect(rows.rows == (0..<frame.count).filter { bruteForce(definition.expression, frame, $0) })
        // Precedence: and before or; not binds to what follows.
        #expect(
            try CohortText.parse("not rising persistent_high_cost or age < 5 and sex = female").expression
                == .any([
                    .not(.criterion(.rising("persistent_high_cost"))),
                    .all([.criterion(.number(.age, Comparison(.below, 5))), .criterion(.category(.sex, ["female"]))]),
                ]))
        #expect(
            try CohortText.parse("tier emergency_admission_12m >= high").expression
                == .criterion(.tier("emergency_admission_12m", ["high", "very_high"])))
        // Area indicators of where people live, in words and in JSON; an area without a value is never in.
        let air = try CohortText.parse("area pm25 >= 10 and not area green_space_access_pct < 50")
        #expect(CohortText.format(air.expression) == "area pm25 >= 10 and not area green_space_access_pct < 50")
        #expect(
            try CohortJSON.parse(Data(CohortJSON.encode(air.expression))) == air
                && String(decoding: CohortJSON.encode(.criterion(.area("pm25", Comparison(.atLeast, 10)))), as: UTF8.self)
                    == #"{"area":{"at_least":10,"indicator":"pm25"}}"#
        )
        let polluted = try CohortQuery(air, frame: frame).evaluate(frame).rows
        #expect(polluted == (0..<frame.count).filter { bruteForce(air.expression, frame, $0) } && !polluted.isEmpty)
        // A value typed as a file gives it compares as that value, though kept as a 32-bit float.
        var exact = frame
        exact.areaIndicators[0] = exact.areaIndicators[0].map { $0.isNaN ? $0 : Float(9.1) }
        let known = (0..<exact.count).filter { exact.area[$0] >= 0 && !exact.areaIndicators[0][Int(exact.area[$0])].isNaN }
        #expect(try CohortQuery(CohortText.parse("area pm25 = 9.1"), frame: exact).evaluate(exact).rows == known)
        #expect(try CohortQuery(CohortText.parse("area pm25 > 9.1"), frame: exact).evaluate(exact).rows.isEmpty)
        // Unknown is never equal, nor unequal, to anything.
        #expect(
            try CohortQuery(CohortText.parse("area pm25 = 9 or area pm25 != 9"), frame: frame).evaluate(frame).rows.allSatisfy {
                frame.area[$0] >= 0 && !frame.areaIndicators[0][Int(frame.area[$0])].isNaN
            })
    }

    @Test func errorsNameThePosition() {
        let frame = randomFrame(50, seed: 1)
        func textError(_ text: String) -> String {
            do {
                _ = try CohortQuery(try CohortText.parse(text), frame: frame)
                return "no error"
            } catch { return error.description }
        }
        func jsonError(_ json: String) -> String {
            do {
                _ = try CohortQuery(try CohortJSON.parse(Data(json.utf8)), frame: frame)
                return "no error"
            } catch { return error.description }
        }
        #expect(
            textError("age >= 65 and\n  condition depresion")
                == "line 2, column 3: unknown condition 'depresion' (did you mean 'depression'?)")
        #expect(textError("age >= 65 and agge < 80") == "line 1, column 15: unknown field 'agge' (did you mean 'age'?)")
        #expect(textError("practice = Z99") == "line 1, column 1: unknown practice 'Z99'")
        #expect(textError("age >= 65 and (sex = female") == "line 1, column 28: expected ')', found 'the end'")
        #expect(textError("latest bmi >= 30 within 2 weeks") == "line 1, column 27: expected 'months' or 'years', found 'weeks'")
        #expect(
            textError("segment bridges_to_health = frail").hasPrefix(
                "line 1, column 1: unknown segment of bridges_to_health 'frail'"))
        #expect(textError("at least 3 of (age > 1, age > 2)") == "line 1, column 1: at least 3 of 2 can never be met")
        #expect(
            textError("area pm2 > 10") == "line 1, column 1: unknown area indicator 'pm2' (did you mean 'pm25'?)")
        #expect(jsonError(#"{"area": {"indicator": "pm25", "over": 10}}"#).hasPrefix("area: unknown key 'over'"))
        var bare = frame
        bare.areaIndicatorNames = []
        bare.areaIndicators = []
        #expect(throws: CohortError.self) { try CohortQuery(try CohortText.parse("area pm25 > 1"), frame: bare) }
        #expect(
            jsonError(#"{"all": [{"age": {"at_least": 65}}, {"recorded": {"list": "bp"}}]}"#)
                == "all[1].recorded: unknown code list 'bp'")
        #expect(jsonError(#"{"all": [{"age": {"least": 65}}]}"#).hasPrefix("all[0].age: unknown key 'least'"))
        #expect(
            jsonError(#"{"any": [{"sex": "female", "age": {}}]}"#) == "any[0]: each node must be an object with exactly one key")
        #expect(
            jsonError(#"{"not": {"conditon": "copd"}}"#) == "not.conditon: unknown key 'conditon' (did you mean 'condition'?)")
        // A word far longer than any name gets no hint, so no edit distance is taken over it.
        let long = "depression" + String(repeating: "x", count: 19_000)
        #expect(textError("condition \(long)") == "line 1, column 1: unknown condition '\(long)'")
    }

    @Test func aComparisonsRangeAcceptsWhatItDoes() {
        let values: [Double] = [-1e300, -2, -0.5, 0, 0.1, 1, 1.5, 2, 2.0000000001, 30, 1e300, .nan]
        for op in Comparison.Operator.allCases {
            for bound in [-2, 0, 0.1, 2, 30] as [Double] {
                let cmp = Comparison(op, bound)
                let (low, high, outside) = cmp.range
                for x in values {
                    let inRange = !x.isNaN && (x >= low && x <= high) != outside
                    #expect(inRange == (!x.isNaN && cmp.accepts(x)), "\(x) \(op.rawValue) \(bound)")
                }
            }
        }
    }

    @Test func suggestionsUseEditDistance() {
        #expect(Suggest.distance(Array("kitten".utf8), Array("sitting".utf8)) == 3)
        #expect(Suggest.distance([], Array("abc".utf8)) == 3)
        #expect(Suggest.distance(Array("flaw".utf8), Array("lawn".utf8)) == 2)
        #expect(Suggest.hint("Diabtes", among: ["asthma", "diabetes"]) == " (did you mean 'diabetes'?)")
        #expect(Suggest.hint("xyz", among: ["asthma", "diabetes"]) == "")
    }

    @Test func frameFileRoundTrips() throws {
        let frame = randomFrame(777, seed: 9)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("frame-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for run in 1...5 {
            var f = frame
            f.runId = Int64(run)
            try FrameFile.save(f, dataDirectory: folder)
            try FrameFile.commit(run: f.runId, dataDirectory: folder)
        }
        #expect(FrameFile.runs(dataDirectory: folder) == [5, 4, 3])
        let back = try FrameFile.latest(dataDirectory: folder)
        #expect(back.runId == 5)
        #expect(back.pseudonym == frame.pseudonym && back.age == frame.age && back.sex == frame.sex)
        #expect(back.practice == frame.practice && back.area == frame.area && back.imdDecile == frame.imdDecile)
        #expect(back.optedOut == frame.optedOut && back.conditions == frame.conditions)
        #expect(back.lists.map(\.rows) == frame.lists.map(\.rows))
        #expect(back.lists.map { $0.latestValue.map(\.bitPattern) } == frame.lists.map { $0.latestValue.map(\.bitPattern) })
        #expect(back.scores == frame.scores && back.use == frame.use && back.factors == frame.factors)
        #expect(back.risks.map(\.tier) == frame.risks.map(\.tier) && back.risks.map(\.rising) == frame.risks.map(\.rising))
        #expect(back.segmentations.map(\.segment) == frame.segmentations.map(\.segment))
        #expect(back.hierarchy.practices == frame.hierarchy.practices)
        #expect(
            back.areaIndicatorNames == frame.areaIndicatorNames
                && back.areaIndicators.map { $0.map(\.bitPattern) } == frame.areaIndicators.map { $0.map(\.bitPattern) })
        let query = try CohortQuery(try CohortText.parse("condition obesity and latest bmi >= 30"), frame: frame)
        #expect(try query.evaluate(back) == query.evaluate(frame))
    }

    /// A profile's tally (four interleaved tallies, both pyramids in one pass, conditions and
    /// measures read row by row) equals counting each group, key and sum person by person.
    @Test func tallyEqualsCountingPersonByPerson() {
        var frame = randomFrame(3_001, seed: 21)
        var rng = Xoshiro(seed: 4)
        frame.recordKeys = (0..<frame.count).map { _ in UInt8(rng.int(0..<256)) }
        frame.measureCaps = CohortProfile.caps(frame)
        let unindexed = frame
        frame.indexConditions()
        frame.measureRows = CohortProfile.MeasureRows(frame)
        let measures = CohortProfile.measures(frame)
        for trial in 0..<20 {
            let density = [0.0, 0.01, 0.3, 1.0][trial % 4]
            let rows = Bitset(count: frame.count) { _ in rng.chance(density) }
            let profile = CohortProfile(cohort: .init(frame, rows: rows), population: .init(frame, rows: .all(frame.count)))
            let plain = CohortProfile(cohort: .init(unindexed, rows: rows), population: .init(unindexed, rows: .all(frame.count)))
            #expect(profile.groups == plain.groups && "\(profile.measures)" == "\(plain.measures)")
            let members = rows.rows
            #expect(profile.size == members.count)
            #expect(profile.sizeKey == members.reduce(UInt8(0)) { $0 &+ frame.recordKeys[$1] })
            func expect(_ breakdown: String, _ group: String, _ holds: (Int) -> Bool) {
                let people = members.filter(holds)
                let found = profile.groups.first { $0.breakdown == breakdown && $0.group == group }
                #expect(found?.cohort == people.count, "\(breakdown) \(group)")
                #expect(found?.cohortKey == people.reduce(UInt8(0)) { $0 &+ frame.recordKeys[$1] }, "\(breakdown) \(group)")
            }
            for sex in Sex.allCases { expect("sex", sex.criterionValue) { frame.sex[$0] == sex } }
            for (b, band) in CohortProfile.pyramidBands.enumerated() {
                expect("age_female", band) { frame.sex[$0] == .female && min(Int(frame.age[$0]) / 5, 18) == b }
                expect("age_male", band) { frame.sex[$0] == .male && min(Int(frame.age[$0]) / 5, 18) == b }
            }
            expect("imd_decile", "unknown") { frame.imdDecile[$0] == 0 }
            expect("imd_decile", "3") { frame.imdDecile[$0] == 3 }
            for (c, id) in frame.conditionIds.enumerated() {
                expect("condition", id) { row in frame.conditions[c].rows.contains(Int32(row)) }
            }
            for (m, measure) in measures.enumerated() {
                let values = members.compactMap(measure.column.value)
                let cap = frame.measureCaps[measure.name]
                let found = profile.measures[m]
                #expect(found.measure == measure.name && found.cohortCount == values.count)
                guard !values.isEmpty else { continue }
                let mean = values.reduce(0, +) / Double(values.count)
                let capped = values.map { v in cap.map { min(max(v, $0.lowerBound), $0.upperBound) } ?? v }
                // Values are held as Float row by row: equal to about one part in ten million.
                #expect(abs(found.cohort - mean) <= 1e-6 * max(1, abs(mean)), "\(measure.name)")
                let cappedMean = capped.reduce(0, +) / Double(values.count)
                #expect(abs(found.cohortCapped - cappedMean) <= 1e-6 * max(1, abs(cappedMean)), "\(measure.name)")
            }
        }
    }

    /// A frame file whose lists point outside its people is refused, not read and trusted.
    @Test func aDamagedFrameIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("frame-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var frame = randomFrame(100, seed: 2)
        frame.conditions[0].rows.append(Int32(frame.count + 5))
        frame.conditions[0].day.append(frame.asOf)
        try FrameFile.save(frame, dataDirectory: folder)
        try FrameFile.commit(run: frame.runId, dataDirectory: folder)
        #expect(throws: FrameFileError.self) { try FrameFile.latest(dataDirectory: folder) }
        var tiers = randomFrame(100, seed: 2)
        tiers.risks[0].tier[7] = 9
        tiers.runId = 2
        try FrameFile.save(tiers, dataDirectory: folder)
        try FrameFile.commit(run: tiers.runId, dataDirectory: folder)
        #expect(throws: FrameFileError.self) { try FrameFile.latest(dataDirectory: folder) }
    }
}
