import Conditions
import Foundation
import Outputs
import PHMCore
import Projections
import TestSupport
import Testing

/// Scenarios by hand: a closed cell of 1,000 people aged 40-44 with no conditions, a tenth of
/// whom gain one in a year, half of those gains being diabetes.
@Suite struct ScenarioTests {
    static let o = ProjectionSpace.outcomes
    static let band = ProjectionSpace.ageBand(42)
    static let cell = ProjectionSpace.cell(age: band, sex: 0, quintile: 3, state: 0)
    static let diabetes = 7

    /// 1,000,000 transitions observed, so the prior hardly moves the cell's rates; 50,000 of the
    /// 100,000 gains were diabetes beginning, without which nothing would have changed.
    static func history() -> Projections.History {
        var history = Projections.History(
            counts: [Double](repeating: 0, count: ProjectionSpace.cells * o), entries: [[]], personYears: 0, years: 1,
            entryYears: 1)
        let observed: [Double] = [900_000, 100_000, 0, 0, 0, 0, 0, 0]
        for k in 0..<o { history.counts[cell * o + k] = observed[k] }
        var onsets = [Double](repeating: 0, count: ProjectionSpace.ages * ProjectionSpace.states * o * o)
        let group = band * ProjectionSpace.states + 0
        onsets[(group * o + 1) * o + 0] = 50_000
        history.onsets = [diabetes: onsets]
        return history
    }

    static func project(
        _ scenarios: [Scenario], rates: Projection.Rates = .none, years: Int = 1, people: Double = 1000
    ) -> [Projection.UnitProjection] {
        var start = [Double](repeating: 0, count: ProjectionSpace.cells)
        start[cell] = people
        var options = Projection.Options()
        options.years = years
        options.draws = 20
        return Projection.run(
            model: TransitionModel(history()), starts: [start], ages: [Projection.evenAges(start)],
            entries: [[Double](repeating: 0, count: ProjectionSpace.cells)],
            entryAges: [[Double](repeating: 0, count: ProjectionSpace.sexes * Projection.singleYears)], entryYears: 1,
            rates: rates,
            scenarios: scenarios, options: options)[0]
    }

    /// A fifth fewer diabetes onsets: 10 fewer of the 100 gains (a fifth of the 50 that were
    /// diabetes); a fifth more: 10 more, taken from those who gained nothing.
    @Test func fewerOnsetsKeepPeopleInTheirState() {
        func scenario(_ id: String, _ change: Double) -> Scenario {
            var s = Scenario(id: id, name: id)
            s.incidence = [IncidenceChange(condition: "diabetes", index: Self.diabetes, change: change, history: Self.history())]
            return s
        }
        let results = Self.project([Scenario(id: "baseline", name: "Baseline"), scenario("less", -0.2), scenario("more", 0.2)])
        let one = Projection.ltcMargin(1), none = Projection.ltcMargin(0)
        let gained = results.map { $0.value($0.central, year: 1, cell: one, .people) }
        #expect(abs(gained[0] - 100) < 0.1 && abs(gained[1] - 90) < 0.1 && abs(gained[2] - 110) < 0.1, "\(gained)")
        let kept = results.map { $0.value($0.central, year: 1, cell: none, .people) }
        #expect(abs(kept[1] - 910) < 0.1 && abs(kept[2] - 890) < 0.1)
        // Nobody is lost or made: the total is the same (probabilities are held as Float).
        for r in results { #expect(abs(r.value(r.central, year: 1, cell: Projection.everyone, .people) - 1000) < 1e-3) }
        // The draws change the same way: the scenario's interval sits below the baseline's.
        #expect(
            results[1].value(results[1].upper, year: 1, cell: one, .people)
                < results[0].value(results[0].lower, year: 1, cell: one, .people))
    }

    /// Every onset taken away leaves only the gains that were not diabetes.
    @Test func noOnsetsAtAll() {
        var s = Scenario(id: "none", name: "none")
        s.incidence = [IncidenceChange(condition: "diabetes", index: Self.diabetes, change: -1, history: Self.history())]
        let r = Self.project([s])[0]
        #expect(abs(r.value(r.central, year: 1, cell: Projection.ltcMargin(1), .people) - 50) < 0.1)
    }

    /// Emergency admissions halved at 18-44 from the first projected year: the four-fifths still
    /// aged 18-44 bring half as many, the fifth reaching 45-64 as many as before.
    @Test func activityChangesFromTheFirstProjectedYear() {
        let segments = AgeBand.allCases.count * LTCBand.allCases.count
        var perPerson = [[Double]](repeating: [Double](repeating: 0, count: Projection.Measure.allCases.count), count: segments)
        for s in 0..<segments { perPerson[s][Projection.Measure.emergencyAdmissions.rawValue] = 1 }
        var s = Scenario(id: "fewer", name: "fewer")
        s.activity = [ActivityChange(measure: .emergencyAdmissions, change: -0.5, ageBand: .b)]
        let results = Self.project(
            [Scenario(id: "baseline", name: "Baseline"), s], rates: Projection.Rates(perPerson: perPerson))
        let admissions = { (r: Projection.UnitProjection, year: Int) in
            r.value(r.central, year: year, cell: Projection.everyone, .emergencyAdmissions)
        }
        #expect(abs(admissions(results[0], 0) - 1000) < 1e-6 && abs(admissions(results[1], 0) - 1000) < 1e-6)
        #expect(abs(admissions(results[0], 1) - 1000) < 0.1)
        #expect(abs(admissions(results[1], 1) - (800 * 0.5 + 200)) < 0.1, "\(admissions(results[1], 1))")
    }

    /// A population file saying women aged 40-44 grow by a tenth: the projected women of that age
    /// are 1,100 a year on, whatever the model's deaths, leavers and ageing.
    @Test func followsAnOfficialProjection() throws {
        let folder = temporaryFolder("population-projection")
        let url = folder.appendingPathComponent("snpp.csv")
        var lines = ["AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025,2026"]
        for sex in ["female", "male"] {
            for age in 0...89 {
                let grows = sex == "female" && (40...44).contains(age)
                lines.append("E06000001,\"Hartlepool, Borough of\",Population,\(sex),\(age),100,\(grows ? 110 : 100)")
            }
            lines.append("E06000001,\"Hartlepool, Borough of\",Population,\(sex),90 and over,50,50")
            lines.append("E06000001,\"Hartlepool, Borough of\",Population,\(sex),All ages,9050,9100")
            lines.append("E06000001,\"Hartlepool, Borough of\",Births,\(sex),0,10,10")
        }
        lines.append("E06000002,Middlesbrough,Population,female,40,1000,2000")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        let file = try PopulationProjectionFile.read(url, areas: ["E06000001"])
        #expect(file.rows == 182 && file.passedOver == 5 && file.areas == ["E06000001"])
        var s = Scenario(id: "ons", name: "ons")
        s.population = try file.constraint(from: 2025, years: 1)
        let r = Self.project([s])[0]
        // 40-44 is the only part of 18-44 anyone is in; the fifth who reached 45-49, a band
        // nobody was in at the start, keep what the model gives them.
        let young = r.value(r.central, year: 1, cell: Projection.ageMargin(1), .people)
        let older = r.value(r.central, year: 1, cell: Projection.ageMargin(2), .people)
        #expect(abs(young - 1100) < 0.1 && abs(older - 200) < 0.1, "\(young), \(older)")
        // It follows the published (rounded) count, never the exact one, and leaves a band of
        // fewer than 8 people to the model: 1,002 women follow 1,000, 6 are not followed.
        let rounded = Self.project([s], people: 1002)[0]
        #expect(abs(rounded.value(rounded.central, year: 1, cell: Projection.ageMargin(1), .people) - 1100) < 0.1)
        let few = Self.project([s], people: 6)[0]
        #expect(abs(few.value(few.central, year: 1, cell: Projection.ageMargin(1), .people) - 6 * 0.8) < 0.01)
        // A projection beyond the file's years is refused, naming them.
        #expect(throws: DefinitionError.self) { try file.constraint(from: 2025, years: 2) }
        do { _ = try file.constraint(from: 2025, years: 2) } catch {
            #expect(
                error.description
                    == "snpp.csv: covers the years 2025 to 2026 (2 of them); the projection needs every year from 2025 to 2027")
        }
    }

    /// A population file's mistakes name the file, line and field.
    @Test func populationFileMistakes() throws {
        let folder = temporaryFolder("population-mistakes")
        let cases: [(String, String)] = [
            (
                "AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,other,40,1",
                "line 2, SEX: 'other' is not female, male or persons"
            ),
            (
                "AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,male,91,1",
                "line 2, AGE_GROUP: '91' is not a single year 0 to 89 or '90 and over'"
            ),
            (
                "AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,male,40,-3",
                "line 2, 2025: '-3' is not a number of people"
            ),
            ("AREA_CODE,AREA_NAME,COMPONENT,SEX,2025\nE1,A,Population,male,1", "line 1, AGE_GROUP: the column is missing"),
            (
                "AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,AREA\nE1,A,Population,male,40,1",
                "line 1, AREA: the column is neither one of AREA_CODE, AREA_NAME, COMPONENT, SEX, AGE_GROUP nor a year"
            ),
            (
                "AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,male,40,1\nE1,A,Population,male,40,2",
                "line 3: the area, sex and age group were given before"
            ),
            ("AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,male,40", "line 2: it has 5 fields, not 6"),
            (
                "\u{FEFF}AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025\nE1,A,Population,persons,40,1\n\n",
                "area E1, persons: no row for age 0, 1, 2 and 87 more: every single year 0 to 89 and 90 and over is needed"
            ),
        ]
        for (k, (text, message)) in cases.enumerated() {
            let url = folder.appendingPathComponent("p\(k).csv")
            try text.write(to: url, atomically: true, encoding: .utf8)
            do {
                _ = try PopulationProjectionFile.read(url)
                Issue.record("case \(k) was read")
            } catch {
                #expect(error.description == "p\(k).csv: \(message)")
            }
        }
    }

    /// Growth no population projection gives (a band multiplied by 1,000) is refused: applied to
    /// a unit's counts it would magnify them.
    @Test func implausibleGrowthIsRefused() throws {
        let url = temporaryFolder("population-growth").appendingPathComponent("snpp.csv")
        var lines = ["AREA_CODE,AREA_NAME,COMPONENT,SEX,AGE_GROUP,2025,2026"]
        for age in 0...90 {
            lines.append("E1,A,Population,persons,\(age == 90 ? "90 and over" : String(age)),10,\(age == 40 ? 10_000 : 10)")
        }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        let file = try PopulationProjectionFile.read(url)
        do {
            _ = try file.constraint(from: 2025, years: 1)
            Issue.record("growth of 1,000 times was accepted")
        } catch {
            #expect(
                error.description.contains("persons aged 40-44 change by a factor of 201 from 2025 to 2026"),
                "\(error.description)")
        }
    }

    /// The example reads; each mistake in a scenarios file is named.
    @Test func scenarioFileMistakes() throws {
        let library = try ConditionLibrary.standard()
        let counted = PersonStates.changesState(in: library)
        let folder = temporaryFolder("scenario-files")
        func read(_ text: String) throws(DefinitionError) -> ScenarioFile {
            let url = folder.appendingPathComponent("scenarios.yaml")
            try! text.write(to: url, atomically: true, encoding: .utf8)
            return try ScenarioFile.read(url, conditions: library.conditions.map(\.id), changesState: counted)
        }
        let example = try read(ScenarioFile.example)
        #expect(example.scenarios.map(\.id) == ["diabetes_prevention", "admission_avoidance"])
        #expect(example.tracked == [library.conditions.firstIndex { $0.id == "diabetes" }!])
        let mistakes: [(String, String)] = [
            ("scenarios:\n  - id: a\n    incidense: {diabetes: -10}", "unknown key 'incidense'"),
            (
                "scenarios:\n  - id: a\n    incidence: {diabetis: -10}",
                "scenario 1 (a): incidence names 'diabetis', which the condition library does not have"
            ),
            (
                "scenarios:\n  - id: a\n    incidence: {diabetes: -300}",
                "scenario 1 (a): the incidence change of 'diabetes' must be -100 to 200 (percent)"
            ),
            (
                "scenarios:\n  - id: baseline\n    incidence: {diabetes: -10}",
                "scenario 1: the id 'baseline' is used twice (or is the baseline's)"
            ),
            (
                "scenarios:\n  - id: A b\n    incidence: {diabetes: -10}",
                "scenario 1: the id must be 1 to 40 lower-case letters, digits or _, starting with a letter"
            ),
            (
                "scenarios:\n  - id: a\n    activity: [{measure: admissions, change: 5}]",
                "scenario 1 (a), activity 1: the measure must be one of emergency_admissions, ae_attendances, outpatient_attendances, elective_admissions, cost_gbp"
            ),
            (
                "scenarios:\n  - id: a\n    activity: [{measure: cost_gbp, change: 5, age_band: 90+}]",
                "scenario 1 (a), activity 1: age_band must be one of 0-17, 18-44, 45-64, 65-79, 80+"
            ),
            ("scenarios:\n  - id: a", "scenario 1 (a): changes nothing: give incidence, activity or population"),
            ("scenarios:\n  - id: a\n    population: {file: missing.csv}", "missing.csv: cannot be read"),
        ]
        for (text, message) in mistakes {
            do {
                _ = try read(text)
                Issue.record("read: \(text)")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
        // A condition that is in no state cannot change one.
        if let other = library.conditions.indices.first(where: { !counted[$0] }) {
            let id = library.conditions[other].id
            #expect(throws: DefinitionError.self) { try read("scenarios:\n  - id: a\n    incidence: {\(id): -10}") }
        }
    }
}
