import Analysis
import Conditions
import Foundation
import Governance
import Outputs
import PHMCore
import Pipeline
import Projections
import Storage
import TestSupport
import Testing

/// Segments, inequalities, variation and SPC as `phm run` writes them for the default synthetic
/// population, with small-number suppression on.
@Suite struct PlanningTests {
    /// Columns holding counts, by file; only for counted indicators in the inequality and variation tables.
    static let countColumns: [(file: String, columns: [String])] = [
        ("segment-profiles.csv", ["people"]), ("inequalities.csv", ["people", "numerator"]),
        ("variation.csv", ["people", "observed"]), ("spc.csv", ["value"]), ("multimorbidity-by-unit.csv", ["patients"]),
        ("multimorbidity.csv", ["patients"]), ("cost-concentration.csv", ["people"]),
    ]

    static func table(_ file: String) -> (header: [String], rows: [[String]]) {
        _ = DefaultRun.result
        let rows = readCSV(DefaultRun.output.appendingPathComponent(file))
        return (rows[0], Array(rows.dropFirst()))
    }

    @Test func noPublishedCountIsSmallOrUnrounded() {
        for (file, columns) in PlanningTests.countColumns {
            let (header, rows) = PlanningTests.table(file)
            let kind = header.firstIndex(of: "kind")
            var hidden = 0, shown = 0
            for row in rows {
                if let kind, row[kind] == "mean" { continue }
                for column in columns {
                    let value = row[header.firstIndex(of: column)!]
                    guard !value.isEmpty else {
                        hidden += 1
                        continue
                    }
                    shown += 1
                    let n = Int(value)!
                    #expect(n == 0 || (n >= 10 && n % 5 == 0), "\(file) \(column): \(n)")
                }
            }
            #expect(shown > 0, "\(file)")
            if file == "inequalities.csv" { #expect(hidden > 0, "\(file) should hide small counts") }
        }
    }

    @Test func bridgesToHealthPlacesEveryoneByPriority() throws {
        let result = DefaultRun.result
        let b2h = try #require(result.segments.segmentations.firstIndex { $0.id == "bridges_to_health" })
        let ids = result.segments.segmentations[b2h].segments.map(\.id)
        var counts = [String: Int]()
        for p in result.prepared.population.registered { counts[result.segments.label(b2h, p)!, default: 0] += 1 }
        #expect(counts.values.reduce(0, +) == result.prepared.population.registered.count)
        // The planning outputs count people without a National Data Opt-out only.
        var planning = [String: Int]()
        for p in result.prepared.population.registered where !result.prepared.population.optedOut[p] {
            planning[result.segments.label(b2h, p)!, default: 0] += 1
        }
        for id in ids where id != "short_decline_before_dying" { #expect(counts[id, default: 0] > 100, "\(id)") }
        // Everyone with dementia is in a segment at or above frailty and dementia.
        let dementia = try #require(result.prepared.library.condition("dementia"))
        for p in result.prepared.population.registered where result.prepared.conditions.has(p, dementia) {
            #expect(ids.firstIndex(of: result.segments.label(b2h, p)!)! <= 1)
        }
        // The profile file has every segment of both segmentations for the organisation.
        let (header, rows) = PlanningTests.table("segment-profiles.csv")
        let organisation = rows.filter { $0[0] == "organisation" }
        #expect(organisation.count == 25 + 8)
        let people = header.firstIndex(of: "people")!, segment = header.firstIndex(of: "segment")!
        let healthy = try #require(organisation.first { $0[segment] == "healthy" })
        #expect(abs(Int(healthy[people])! - planning["healthy"]!) <= 2)
    }

    @Test func inequalitiesShowTheDeprivationGradient() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        let organisation = rows.filter { $0[column("level")] == "organisation" }
        func row(_ indicator: String, _ breakdown: String, _ group: String) throws -> [String] {
            try #require(
                organisation.first {
                    $0[column("indicator")] == indicator && $0[column("breakdown")] == breakdown && $0[column("group")] == group
                })
        }
        let most = try row("multimorbidity_2plus", "imd_decile", "1"), least = try row("multimorbidity_2plus", "imd_decile", "10")
        #expect(Double(most[column("age_standardised")])! > Double(least[column("age_standardised")])!)
        // More multimorbidity in more deprived areas: a negative slope from most to least deprived.
        let sii = try row("multimorbidity_2plus", "imd_decile_gradient", "sii")
        #expect(Double(sii[column("upper_95")])! < 0)
        let rii = try row("multimorbidity_2plus", "imd_decile_gradient", "rii")
        #expect(Double(rii[column("value")])! < 1)
        // Every indicator has its whole-population row, age-standardised where counted.
        let all = organisation.filter { $0[column("breakdown")] == "all" }
        #expect(all.count == Set(rows.map { $0[column("indicator")] }).count)
        #expect(all.allSatisfy { !$0[column("age_standardised")].isEmpty || $0[column("numerator")] == "0" })
        // Practices are compared with their PCN.
        let practice = try #require(rows.first { $0[column("level")] == "practice" && $0[column("breakdown")] == "all" })
        #expect(!practice[column("parent_code")].isEmpty && !practice[column("parent_value")].isEmpty)
    }

    /// The generator's air quality raises emergency admissions by 4% a microgram of PM2.5, and
    /// its green space changes nothing, both uncorrelated with deprivation across the areas: the
    /// gradients across their quintiles recover the one and show none for the other.
    @Test func areaIndicatorGradientsRecoverTheGeneratorsEffects() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        func gradient(_ indicator: String, _ area: String, _ index: String) throws -> (value: Double, low: Double, high: Double) {
            let row = try #require(
                rows.first {
                    $0[column("level")] == "organisation" && $0[column("indicator")] == indicator
                        && $0[column("breakdown")] == "area_\(area)_quintile_gradient" && $0[column("group")] == index
                }, "\(indicator) \(area) \(index)")
            return (Double(row[column("value")])!, Double(row[column("lower_95")])!, Double(row[column("upper_95")])!)
        }
        // The relative index the effect gives, worked from the areas' PM2.5 and people: each
        // quintile's expected rate relative to the others, and the population-weighted line
        // through them at the middle of each quintile's ranks (its value at rank 1 over rank 0).
        let areas = readCSV(DefaultSynthetic.folder.appendingPathComponent("areas.csv"))
        let pm25 = Dictionary(
            uniqueKeysWithValues: areas.dropFirst().map { ($0[0], Double($0[areas[0].firstIndex(of: "pm25")!])!) })
        let persons = readCSV(DefaultRun.output.appendingPathComponent("persons.csv"))
        let lsoa = persons[0].firstIndex(of: "lsoa_code")!
        var people: [String: Double] = [:]
        for person in persons.dropFirst() where pm25[person[lsoa]] != nil { people[person[lsoa], default: 0] += 1 }
        let ordered = people.keys.sorted { (pm25[$0]!, $0) < (pm25[$1]!, $1) }
        let total = people.values.reduce(0, +)
        var before = 0.0, weight = [Double](repeating: 0, count: 5), expected = weight
        for area in ordered {
            let n = people[area]!, q = min(4, Int(5 * (before + n / 2) / total))
            before += n
            weight[q] += n
            expected[q] += n * exp(log(1.04) * (pm25[area]! - 9))
        }
        let share = weight.map { $0 / total }, rate = zip(expected, weight).map { $0 / $1 }
        let rank = share.indices.map { q in share[..<q].reduce(0, +) + share[q] / 2 }
        let meanRank = zip(share, rank).reduce(0) { $0 + $1.0 * $1.1 }, meanRate = zip(share, rate).reduce(0) { $0 + $1.0 * $1.1 }
        let slope =
            share.indices.reduce(0) { $0 + share[$1] * (rank[$1] - meanRank) * (rate[$1] - meanRate) }
            / share.indices.reduce(0) { $0 + share[$1] * (rank[$1] - meanRank) * (rank[$1] - meanRank) }
        let intercept = meanRate - slope * meanRank
        let expectedRII = (intercept + slope) / intercept
        #expect(expectedRII > 1.2 && expectedRII < 1.4, "\(expectedRII)")

        let air = try gradient("emergency_admissions", "pm25", "rii")
        #expect(air.low > 1 && air.low <= expectedRII && expectedRII <= air.high, "\(air) against \(expectedRII)")
        // Air quality does not give people conditions, and green space does nothing.
        for (indicator, area) in [
            ("multimorbidity_2plus", "pm25"), ("emergency_admissions", "green_space_access_pct"),
            ("emergency_admission_people", "green_space_access_pct"), ("multimorbidity_2plus", "green_space_access_pct"),
            ("cost_per_head", "green_space_access_pct"),
        ] {
            let sii = try gradient(indicator, area, "sii")
            #expect(sii.low <= 0 && 0 <= sii.high, "\(indicator) by \(area): \(sii)")
        }
        // The quintiles' cut points are published: five per indicator, rising, not overlapping.
        let (_, cuts) = PlanningTests.table("area-quintiles.csv")
        let fifths = cuts.filter { $0[0] == "pm25" }
        #expect(fifths.map { $0[1] } == ["1", "2", "3", "4", "5"])
        for (a, b) in zip(fifths, fifths.dropFirst()) { #expect(Double(a[3])! < Double(b[2])!, "\(a) \(b)") }
        #expect(fifths.reduce(0) { $0 + Int($1[4])! } == pm25.count)
        // Overcrowding follows deprivation, and so shows its gradient without an effect of its own.
        #expect(try gradient("multimorbidity_2plus", "overcrowded_households_pct", "sii").low > 0)
    }

    /// Social factors recorded in primary care: the generator raises emergency admissions by
    /// half with social isolation (not tied to deprivation), doubles them with homelessness (tied
    /// to it) and leaves carers' as they are. The breakdowns' cells are the people's (recounted
    /// from the person-level outputs), and the people with a factor have the admissions the
    /// generator gave them against the rest of their age: an indirectly standardised ratio,
    /// with an interval from the people's own spread (admissions cluster in people).
    @Test func socialFactorBreakdownsRecoverTheGeneratorsEffects() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        func cell(_ indicator: String, _ breakdown: String, _ group: String) throws -> [String] {
            try #require(
                rows.first {
                    $0[column("level")] == "organisation" && $0[column("indicator")] == indicator
                        && $0[column("breakdown")] == breakdown && $0[column("group")] == group
                }, "\(indicator) \(breakdown) \(group)")
        }
        let persons = readCSV(DefaultRun.output.appendingPathComponent("persons.csv"))
        let pseudonym = persons[0].firstIndex(of: "pseudonym")!, age = persons[0].firstIndex(of: "age")!
        let admissions = persons[0].firstIndex(of: "emergency_admissions_12m")!
        var recorded: [String: Set<String>] = [:]
        for row in readCSV(DefaultRun.output.appendingPathComponent("person-conditions.csv")).dropFirst() {
            recorded[row[1], default: []].insert(row[0])
        }
        let people = persons.dropFirst().map {
            (id: $0[pseudonym], cell: AgeCell.of(age: Int($0[age])!), y: Double($0[admissions])!)
        }

        /// Observed over expected admissions of the people with `factor`, expected from the rest's
        /// rates by age cell, with limits from the log ratio's standard error.
        func ratio(_ factor: String) throws -> (value: Double, low: Double, high: Double) {
            let with = recorded[factor] ?? []
            var n = [[Double]](repeating: [0, 0], count: AgeCell.count), sum = n, squares = n
            for p in people {
                let g = with.contains(p.id) ? 0 : 1
                n[p.cell][g] += 1
                sum[p.cell][g] += p.y
                squares[p.cell][g] += p.y * p.y
            }
            // The cells agree with the people's.
            let published = try cell("emergency_admissions", "condition_" + factor, "recorded")
            let total = n.reduce(0) { $0 + $1[0] }, observed = sum.reduce(0) { $0 + $1[0] }
            #expect(abs(Double(published[column("people")])! - total) <= 5, "\(factor) people")
            #expect(abs(Double(published[column("numerator")])! - observed) <= 5, "\(factor) admissions")
            var expected = 0.0, varianceObserved = 0.0, varianceExpected = 0.0
            for c in 0..<AgeCell.count where n[c][0] > 0 && n[c][1] > 1 {
                let rate = sum[c][1] / n[c][1]
                expected += n[c][0] * rate
                varianceObserved += squares[c][0] - 2 * rate * sum[c][0] + n[c][0] * rate * rate
                let spread = (squares[c][1] - sum[c][1] * rate) / (n[c][1] - 1)
                varianceExpected += n[c][0] * n[c][0] * spread / n[c][1]
            }
            let r = observed / expected
            let se = (varianceObserved / (observed * observed) + varianceExpected / (expected * expected)).squareRoot()
            return (r, r * exp(-1.959964 * se), r * exp(1.959964 * se))
        }
        let isolated = try ratio("socially_isolated")
        #expect(isolated.low > 1 && isolated.low <= 1.5 && 1.5 <= isolated.high, "\(isolated)")
        // The published age-standardised rates, over the age bands the recorded people are in,
        // say the same.
        let standardised = try ["recorded", "not_recorded"].map {
            Double(try cell("emergency_admissions", "condition_socially_isolated", $0)[column("age_standardised")])!
        }
        #expect(isolated.low...isolated.high ~= standardised[0] / standardised[1], "\(standardised)")
        let carer = try ratio("carer")
        #expect(carer.low <= 1 && 1 <= carer.high && carer.high - carer.low < 0.6, "\(carer)")
        // Homelessness: its own doubling and the deprivation it comes with.
        #expect(try ratio("homeless").low > 1.5)

        // The factors are recorded as the generator gave them: the people counted with each are
        // those the ground truth gives it, less those who opted out (3%) and whose rows were
        // refused (the platform sees codes of the last 2 years, and the generator records each
        // factor within them).
        let truth = readCSV(DefaultRun.input.appendingPathComponent("ground-truth/persons.csv"))
        let factors = truth[0].firstIndex(of: "social_factors")!, registered = truth[0].firstIndex(of: "registered_at_as_of")!
        let alive = truth.dropFirst().filter { $0[registered] == "1" }
        for factor in ["socially_isolated", "carer", "homeless"] {
            let expected = Double(alive.filter { $0[factors].split(separator: "|").contains(Substring(factor)) }.count)
            let found = Double(try cell(factor, "all", "all")[column("numerator")])!
            #expect(found <= expected + 10 && found >= 0.92 * expected - 10, "\(factor): \(found) against \(expected)")
        }
    }

    /// A social factor's recorded people and its prevalence's numerator are one count in two
    /// places: in every unit both are published and equal, or both are hidden.
    @Test func aSocialFactorsCountIsHiddenWhereverItIsHidden() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        var numerator: [String: String] = [:], recorded: [String: String] = [:]
        for row in rows {
            let key = row[column("unit_code")] + " " + row[column("indicator")]
            if row[column("breakdown")] == "all" { numerator[key] = row[column("numerator")] }
            if row[column("breakdown")].hasPrefix("condition_"), row[column("group")] == "recorded" {
                recorded[row[column("unit_code")] + " " + row[column("breakdown")].dropFirst("condition_".count)] =
                    row[column("people")]
            }
        }
        #expect(recorded.count > 100)
        var hidden = 0
        for (key, people) in recorded {
            #expect(numerator[key] == people, "\(key)")
            if people.isEmpty { hidden += 1 }
        }
        // The same count elsewhere: the factor's share of its own recorded people (all of them),
        // and the share with any social need among those with homelessness.
        for row in rows where row[column("group")] == "recorded" {
            let unit = row[column("unit_code")], factor = String(row[column("breakdown")].dropFirst("condition_".count))
            if row[column("indicator")] == factor || (row[column("indicator")] == "social_need" && factor == "homeless") {
                #expect(row[column("numerator")] == recorded[unit + " " + factor], "\(row)")
            }
        }
        // A factor's rest has a standardised value only beside its recorded people's.
        func key(_ row: [String]) -> String {
            [row[column("unit_code")], row[column("indicator")], row[column("breakdown")]].joined(separator: " ")
        }
        let recordedStandardised = Dictionary(
            rows.filter { $0[column("group")] == "recorded" }.map { (key($0), !$0[column("age_standardised")].isEmpty) },
            uniquingKeysWith: { a, _ in a })
        for row in rows where row[column("group")] == "not_recorded" && !row[column("age_standardised")].isEmpty {
            #expect(recordedStandardised[key(row)] == true, "\(row)")
        }
        // Where the recorded people are hidden, neither group's standardised value is shown.
        for row in rows where row[column("breakdown")].hasPrefix("condition_") {
            let unit = row[column("unit_code")], factor = String(row[column("breakdown")].dropFirst("condition_".count))
            if recorded[unit + " " + factor]?.isEmpty == true { #expect(row[column("age_standardised")].isEmpty, "\(row)") }
        }
        #expect(hidden > 0, "no factor's count was small enough to hide")
        // The rest of the unit, beside it, has only its age-standardised values: its counts less
        // the unit's would give the recorded count back. And withholding them hides nothing more:
        // every practice's people are published.
        let rest = rows.filter { $0[column("breakdown")].hasPrefix("condition_") && $0[column("group")] == "not_recorded" }
        #expect(!rest.isEmpty)
        for row in rest {
            #expect(row[column("people")].isEmpty && row[column("numerator")].isEmpty && row[column("value")].isEmpty, "\(row)")
        }
        #expect(rest.contains { !$0[column("age_standardised")].isEmpty })
        #expect(
            rows.allSatisfy {
                $0[column("breakdown")] != "all" || $0[column("indicator")] != "emergency_admissions"
                    || !$0[column("people")].isEmpty
            })
    }

    /// Under suppression a gradient says no more than its groups' published counts: it is the
    /// line through the published values at the published people's ranks, and no unit has one
    /// beside a hidden group.
    @Test func gradientsUnderSuppressionFollowThePublishedCounts() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        let byUnit = Dictionary(grouping: rows) { $0[column("unit_code")] + "|" + $0[column("indicator")] }
        var checked = 0, withheld = 0
        for (_, unitRows) in byUnit {
            for breakdown in ["imd_decile", "area_pm25_quintile"] {
                let groups = unitRows.filter { $0[column("breakdown")] == breakdown && $0[column("group")] != "unknown" }
                guard unitRows.first?[column("kind")] != "mean", !groups.isEmpty else { continue }
                let sii = unitRows.first { $0[column("breakdown")] == breakdown + "_gradient" && $0[column("group")] == "sii" }
                let hidden = groups.contains { $0[column("people")].isEmpty || $0[column("numerator")].isEmpty }
                if hidden {
                    #expect(sii == nil, "\(unitRows[0][column("unit_code")]) \(breakdown)")
                    withheld += 1
                    continue
                }
                guard let sii else { continue }
                let shown = groups.filter { Double($0[column("people")])! > 0 }
                let people = shown.map { Double($0[column("people")])! }, values = shown.map { Double($0[column("value")])! }
                let total = people.reduce(0, +), share = people.map { $0 / total }
                let rank = share.indices.map { share[..<$0].reduce(0, +) + share[$0] / 2 }
                let meanRank = zip(share, rank).reduce(0) { $0 + $1.0 * $1.1 }
                let meanValue = zip(share, values).reduce(0) { $0 + $1.0 * $1.1 }
                let slope =
                    share.indices.reduce(0) { $0 + share[$1] * (rank[$1] - meanRank) * (values[$1] - meanValue) }
                    / share.indices.reduce(0) { $0 + share[$1] * (rank[$1] - meanRank) * (rank[$1] - meanRank) }
                #expect(abs(slope - Double(sii[column("value")])!) < 0.01 + 0.001 * abs(slope), "\(sii)")
                checked += 1
            }
        }
        #expect(checked > 100 && withheld > 0, "\(checked) checked, \(withheld) withheld")
    }

    /// Each setting of care_contacts.csv with contacts has its own contacts per 1,000. The generator
    /// sends an ambulance with 60% of emergency admissions and with nothing else, so ambulance
    /// contacts run at 0.6 times emergency admissions.
    @Test func careContactSettingsHaveTheirOwnActivityAndCost() throws {
        let (header, rows) = PlanningTests.table("inequalities.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        func whole(_ indicator: String) -> [String]? {
            rows.first {
                $0[column("level")] == "organisation" && $0[column("indicator")] == indicator
                    && $0[column("breakdown")] == "all"
            }
        }
        for setting in ["community", "mental_health", "social_care", "ambulance"] {
            let row = try #require(whole(setting + "_contacts"), "\(setting)")
            #expect((Double(row[column("value")]) ?? 0) > 0, "\(setting)")
        }
        // The synthetic data has no valid contacts in `other` (its malformed ones are quarantined).
        #expect(whole("other_care_contacts") == nil)
        let ambulance = Double(try #require(whole("ambulance_contacts"))[column("value")])!
        let emergency = Double(try #require(whole("emergency_admissions"))[column("value")])!
        #expect(abs(ambulance / emergency - 0.6) < 0.05, "\(ambulance) against \(emergency)")
    }

    @Test func variationHasFunnelLimitsForEveryLevel() {
        let (header, rows) = PlanningTests.table("variation.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        #expect(Set(rows.map { $0[column("level")] }) == ["locality", "pcn", "practice"])
        #expect(rows.contains { $0[column("method")] == "risk_model" })
        let limits = ["funnel_lower_998", "funnel_lower_95", "funnel_upper_95", "funnel_upper_998"]
        var hidden = 0
        for row in rows where row[column("kind")] != "mean" {
            // A row whose count is hidden shows nothing derived from it: no expected value, ratio,
            // limits or crude value.
            guard !row[column("observed")].isEmpty else {
                hidden += 1
                for name in ["expected", "ratio", "crude_value"] + limits {
                    #expect(row[column(name)].isEmpty, "\(name): \(row)")
                }
                continue
            }
            let l = limits.map { Double(row[column($0)]) ?? .nan }
            #expect(l[0] <= l[1] && l[1] < 1 && 1 < l[2] && l[2] <= l[3], "\(row)")
            #expect(["high", "low", "none"].contains(row[column("outlier")]))
            // The ratio is of the published (rounded) count: observed / expected.
            let ratio = Double(row[column("ratio")]) ?? .nan, observed = Double(row[column("observed")])!
            #expect(abs(ratio - observed / Double(row[column("expected")])!) < 1e-3 * max(1, ratio), "\(row)")
        }
        #expect(hidden > 0 && hidden < rows.count / 2)
    }

    @Test func spcSeriesCoverThirtySixMonths() {
        let (header, rows) = PlanningTests.table("spc.csv")
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        let organisation = rows.filter {
            $0[column("level")] == "organisation" && $0[column("measure")] == "emergency_admissions"
        }
        #expect(organisation.map { $0[column("month")] }.first == "2022-04")
        #expect(organisation.map { $0[column("month")] }.last == "2025-03")
        #expect(organisation.count == 36)
        #expect(rows.count == 36 * MonthlySeries.Measure.allCases.count * DefaultRun.result.prepared.population.units().count)
    }
}

@Suite struct OptOutTests {
    /// People with a National Data Opt-out are in no planning output: not by pseudonym in the
    /// person-level files, and not in the organisation's totals of the aggregate ones.
    @Test func optOutsAreAbsentFromEveryPlanningOutput() throws {
        let result = DefaultRun.result
        let population = result.prepared.population
        let optedOut = Set(population.registered.filter { population.optedOut[$0] }.map { population.pseudonym[$0] })
        let planning = result.summary.planningPeople
        #expect(optedOut.count > 100 && planning == result.summary.registeredPeople - optedOut.count)
        for file in ["persons.csv", "person-conditions.csv"] {
            let rows = readCSV(DefaultRun.output.appendingPathComponent(file)).dropFirst()
            #expect(!rows.isEmpty && rows.allSatisfy { !optedOut.contains($0[0]) }, "\(file)")
        }
        let seedTable = readCSV(DefaultRun.output.appendingPathComponent("multimorbidity.csv"))
        #expect(abs(Int(seedTable.last { $0[0] == "total" }![1])! - planning) <= 5)
        let (header, profiles) = PlanningTests.table("segment-profiles.csv")
        let people = header.firstIndex(of: "people")!, segmentation = header.firstIndex(of: "segmentation")!
        for id in ["ltc_age", "bridges_to_health"] {
            let total = profiles.filter { $0[0] == "organisation" && $0[segmentation] == id }.compactMap { Int($0[people]) }
                .reduce(0, +)
            #expect(abs(total - planning) <= 3 * 25, "\(id): \(total) vs \(planning)")
        }
        let tiers = try Published.riskTiers.read(from: DefaultRun.output)
            .filter { $0.unit.level == "organisation" && $0.row.outcome == "emergency_admission_12m" }.compactMap(\.row.people)
        #expect(abs(tiers.reduce(0, +) - planning) <= 10)
    }
}

@Suite("The projection a run writes")
struct ProjectionOutputTests {
    /// Twenty years ahead for the organisation, each locality and each PCN; year 0 is today's
    /// planning population; every unit's rows add up to its parent's; small cells are withheld
    /// and everything else is a multiple of 5; intervals hold their central figure.
    @Test func projectsEveryUnitTwentyYearsAhead() throws {
        _ = DefaultRun.result
        let rows = try Published.projections.read(from: DefaultRun.output)
        let summary = try Published.projection.read(from: DefaultRun.output)
        #expect(summary.years == 20 && summary.personYears > 100_000)
        #expect(Set(rows.map(\.row.yearsAhead)) == Set(0...20))
        #expect(Set(rows.map(\.unit.level)) == ["organisation", "locality", "pcn"])
        for row in rows.map(\.row) {
            guard let people = row.people else { continue }
            #expect(people % 5 == 0 && people >= 8 || people == 0)
            #expect((row.peopleLower95 ?? people) <= people && people <= (row.peopleUpper95 ?? people))
            if let major = row.majorIllness { #expect(major <= people + 5) }
        }
        let cells = rows.filter {
            $0.row.ageBand != "all" && $0.row.ltcBand != "all" && $0.row.imdQuintile != "all" && $0.row.scenario == "baseline"
        }
        func everyone(_ level: String, _ year: Int) -> [ProjectionRow] {
            rows.filter {
                $0.row.scenario == "baseline" && $0.unit.level == level && $0.row.yearsAhead == year && $0.row.ageBand == "all"
                    && $0.row.ltcBand == "all"
                    && $0.row.imdQuintile == "all"
            }.map(\.row)
        }
        // Year 0 against the run's own planning population, in the margin and in the cells.
        let persons = try String(contentsOf: DefaultRun.output.appendingPathComponent(PersonFiles.persons), encoding: .utf8)
        let planning = persons.split(separator: "\n").count - 1
        let board = try #require(everyone("organisation", 0).first?.people)
        #expect(abs(board - planning) <= 2)
        let start = cells.filter { $0.unit.level == "organisation" && $0.row.yearsAhead == 0 }.compactMap(\.row.people)
        #expect(abs(start.reduce(0, +) - planning) < planning / 50)
        for year in [1, 10, 20] {
            // The margin is the cells' sum within rounding, and localities add up to it.
            let total = try #require(everyone("organisation", year).first)
            let parts = cells.filter { $0.unit.level == "organisation" && $0.row.yearsAhead == year }.compactMap(\.row.people)
            #expect(abs(total.people! - parts.reduce(0, +)) < total.people! / 50)
            let localities = everyone("locality", year).compactMap(\.people).reduce(0, +)
            #expect(abs(total.people! - localities) < total.people! / 50, "year \(year): \(total) against \(localities)")
            // Activity and cost of the margin follow the people.
            #expect(total.emergencyAdmissions! > 0 && total.costGbp! > 0)
            #expect(total.costGbpLower95! <= total.costGbp! && total.costGbp! <= total.costGbpUpper95!)
        }
        // The backtest is reported by band, its counts published as every planning count is.
        #expect(summary.backtest?.bands.contains { $0.breakdown == "all" } == true)
        for band in summary.backtest?.bands ?? [] {
            #expect(band.observed.map { $0 % 5 == 0 && $0 >= 8 } ?? true)
            #expect(band.projected.truncatingRemainder(dividingBy: 5) == 0)
        }
    }

    /// `phm project` from the basis the run kept: the same scenarios give the run's own files
    /// byte for byte, other scenarios need no person's record, and each projection is audited.
    @Test func projectsAgainFromTheBasisTheRunKept() throws {
        _ = DefaultRun.result
        let data = DefaultRun.folder.appendingPathComponent("data")
        let again = temporaryFolder("reprojected")
        let summary = try ProjectionWriter.reproject(
            run: DefaultRun.output, scenarios: DefaultRun.projection.scenarios, settings: DefaultRun.projection,
            suppress: true, to: again, dataDirectory: data)
        #expect(summary == (try Published.projection.read(from: DefaultRun.output)))
        let file = Published.projections.file
        #expect(
            try Data(contentsOf: again.appendingPathComponent(file))
                == Data(contentsOf: DefaultRun.output.appendingPathComponent(file)))
        // Another condition's onsets were kept too.
        let other = temporaryFolder("other-scenarios").appendingPathComponent("scenarios.yaml")
        try "scenarios:\n  - id: fewer_copd\n    incidence: {copd: -50}\n".write(to: other, atomically: true, encoding: .utf8)
        var ten = DefaultRun.projection
        ten.years = 10
        let copd = try ProjectionWriter.reproject(
            run: DefaultRun.output, scenarios: other, settings: ten, suppress: true, to: again, dataDirectory: data)
        #expect(copd.years == 10 && copd.scenarios?.map(\.id) == ["baseline", "fewer_copd"])
        #expect(
            try Published.projections.read(from: again).contains { $0.row.scenario == "fewer_copd" && $0.row.yearsAhead == 10 })
        // A basis altered by hand (a size it does not have, a parent that is not before its
        // child, a count that is not a number of people) is refused before anything that size is
        // made.
        let basis = try ProjectionBasis.read(from: DefaultRun.output)
        // A basis kept before ages were still projects, its people spread evenly over their
        // bands' years.
        var ageless = basis
        ageless.ages = nil
        ageless.entryAges = nil
        let old = temporaryFolder("ageless-basis")
        try ageless.save(to: old)
        let fromOld = try ProjectionWriter.reproject(
            run: old, scenarios: nil, settings: ten, suppress: true, to: again, dataDirectory: data)
        #expect(fromOld.years == 10)
        var huge = basis, orphan = basis, negative = basis, fewerAges = basis
        huge.transitions.count = 1 << 40
        orphan.units[1].parent = 99
        negative.starts[0].value[0] = -5
        fewerAges.ages?.removeLast()
        for altered in [huge, orphan, negative, fewerAges] {
            let folder = temporaryFolder("altered-basis")
            try altered.save(to: folder)
            #expect(throws: DefinitionError.self) {
                try ProjectionWriter.reproject(
                    run: folder, scenarios: nil, settings: ten, suppress: true, to: again, dataDirectory: data)
            }
        }
        // The run's own folder is not written over.
        #expect(throws: DefinitionError.self) {
            try ProjectionWriter.reproject(
                run: DefaultRun.output, scenarios: nil, settings: ten, suppress: true, to: DefaultRun.output, dataDirectory: data)
        }
        let store = try RunStore(directory: data)
        let governance = GovernanceStore(runs: store, directory: data, key: try PlatformKey.load(dataDirectory: data))
        #expect(try governance.auditEntries().filter { $0.action == "project" }.count >= 2)
    }

    /// The example scenarios beside the baseline: the same start; fewer diabetes onsets leave
    /// fewer people with conditions and the same people in all; fewer emergency admissions at
    /// 80 and over change those and nothing else.
    @Test func comparesTheScenariosWithTheBaseline() throws {
        _ = DefaultRun.result
        let rows = try Published.projections.read(from: DefaultRun.output).filter { $0.unit.level == "organisation" }
        let summary = try Published.projection.read(from: DefaultRun.output)
        #expect(summary.scenarios?.map(\.id) == ["baseline", "diabetes_prevention", "admission_avoidance"])
        #expect(summary.scenarios?[1].changes == ["onsets of diabetes -10%"])
        func row(_ scenario: String, _ year: Int, age: String = "all", ltc: String = "all") throws -> ProjectionRow {
            try #require(
                rows.first {
                    $0.row.scenario == scenario && $0.row.yearsAhead == year && $0.row.ageBand == age && $0.row.ltcBand == ltc
                        && $0.row.imdQuintile == "all"
                }?.row)
        }
        func same(_ a: ProjectionRow, _ b: ProjectionRow) -> Bool {
            var b = b
            b.scenario = a.scenario
            return a == b
        }
        for scenario in ["diabetes_prevention", "admission_avoidance"] {
            #expect(same(try row(scenario, 0), try row("baseline", 0)))
        }
        let base = try row("baseline", 20), diabetes = try row("diabetes_prevention", 20)
        #expect(abs(diabetes.people! - base.people!) <= 10)
        #expect(try row("diabetes_prevention", 20, ltc: "0").people! >= row("baseline", 20, ltc: "0").people!)
        #expect(diabetes.majorIllness! <= base.majorIllness!)
        let old = try row("baseline", 10, age: "80+"), fewer = try row("admission_avoidance", 10, age: "80+")
        #expect(fewer.people == old.people && fewer.costGbp == old.costGbp)
        let ratio = Double(fewer.emergencyAdmissions!) / Double(old.emergencyAdmissions!)
        #expect(abs(ratio - 0.9) < 0.02, "\(ratio)")
        #expect(same(try row("admission_avoidance", 10, age: "65-79"), try row("baseline", 10, age: "65-79")))
    }
}
