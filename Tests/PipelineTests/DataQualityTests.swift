import Analysis
import Cohorts
import Foundation
import Governance
import Identity
import Outputs
import PHMCore
import Risk
import Storage
import Synthesis
import TestSupport
import Testing

@testable import Gates
@testable import Pipeline

@Suite struct DataQualityTests {
    static let password = "quality-lead-password"

    /// Nine monthly extracts with two known faults: from month 4 half the primary care codes of
    /// one practice become local codes no list holds; in month 6 the inpatient feed arrives 30%
    /// short. The gates stop exactly those runs, naming the source, figure and rule, and publish
    /// nothing; an IG lead's acceptance lets them go on, audited; a wrong password does not; the
    /// control charts over the runs flag the drop at month 6 and the practice from month 4.
    @Test func gatesStopTheFaultyMonthsAndTheChartsFlagThem() throws {
        let folder = temporaryFolder("quality")
        defer { try? FileManager.default.removeItem(at: folder) }
        let months = 9, practice = "Z00002"
        let sequence = MonthlySequence(
            months: months, feedDrop: .init(file: "inpatient_spells.csv", month: 6, share: 0.3),
            codingChange: .init(practice: practice, month: 4, share: 0.5))
        var synthesis = SynthesisOptions(people: 2_500, seed: 11, asOf: SyntheticHealthSystem.defaultAsOf)
        synthesis.faultRate = 0
        _ = try MonthlyExtracts.write(sequence, synthesis, to: folder.appendingPathComponent("extracts"))
        let changes = readCSV(folder.appendingPathComponent("extracts/\(MonthlyExtracts.changesFile)"))
        let withheld = changes.filter { $0[4] == "rows withheld" }
        #expect(withheld.map { [$0[0], $0[2]] } == [["6", "inpatient_spells.csv"]])
        #expect(Set(changes.filter { $0[4] == "codes made local" }.map { Int($0[0])! }) == Set(4...months))

        let data = folder.appendingPathComponent("data"), output = folder.appendingPathComponent("out")
        let key = folder.appendingPathComponent("key")
        _ = try PseudonymKey.create(at: key)
        let store = try RunStore(directory: data)
        let governance = GovernanceStore(runs: store, directory: data, key: try PlatformKey.load(dataDirectory: data))
        try governance.save(
            UserRecord(name: "lead", role: .igLead, practiceCode: nil, passwordHash: try PasswordHasher().hash(Self.password)))
        try governance.save(
            UserRecord(name: "analyst", role: .analyst, practiceCode: nil, passwordHash: try PasswordHasher().hash(Self.password))
        )
        let gates = try GateFile.read(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/gates.yaml"))

        func run(_ month: Int, accepting: [String] = [], user: String = "lead", password: String = Self.password) throws
            -> RunResult
        {
            let asOf = MonthlySequence.asOf(month: month, first: synthesis.asOf)
            var options = RunOptions(
                input: folder.appendingPathComponent("extracts/\(asOf)"), asOf: asOf, output: output, dataDirectory: data,
                keyFile: key, workers: 2)
            options.projection.years = 0
            options.gates = gates
            if !accepting.isEmpty { options.acceptance = GateAcceptance(user: user, password: password, gates: accepting) }
            return try PipelineRun.execute(options)
        }
        func stopped(_ month: Int, accepting: [String] = []) -> GateStopped? {
            do {
                _ = try run(month, accepting: accepting)
                return nil
            } catch let error as GateStopped { return error } catch { return nil }
        }
        func published() throws -> RunSummary { try Published.run.read(from: output) }

        for month in 1...3 { _ = try run(month) }
        let third = try published().runId

        // Month 4: the practice's codes. Stopped, named, nothing published.
        let coding = try #require(stopped(4))
        #expect(coding.failed.map(\.gate) == ["practice-coding"])
        #expect(coding.failed.first?.subject == .init(.practice, practice))
        #expect("\(coding)".contains("practice \(practice) unrecognised_code_share"))
        #expect(try published().runId == third)
        #expect(try store.runs().first?.status == "stopped")
        // A wrong password, or a user who is not an IG lead, cannot accept it; both are audited.
        #expect(throws: GateAcceptanceRefused.self) { try run(4, accepting: ["practice-coding"], password: "wrong password!") }
        #expect(throws: GateAcceptanceRefused.self) { try run(4, accepting: ["practice-coding"], user: "analyst") }
        #expect(try published().runId == third)
        let fourth = try run(4, accepting: ["practice-coding"])
        #expect(fourth.summary.gates?.filter { $0.result == .accepted }.map(\.acceptedBy) == ["lead"])
        let acceptances = try governance.auditEntries().filter { $0.action == "accept_gate" }
        #expect(acceptances.map(\.outcome) == ["denied", "denied", "allowed"])
        #expect(acceptances.last?.detail.contains("\"gate\":\"practice-coding\"") == true)

        _ = try run(5, accepting: ["practice-coding"])
        // Month 6: the short inpatient feed, and the practice still.
        let drop = try #require(stopped(6, accepting: ["practice-coding"]))
        #expect(drop.failed.map(\.gate) == ["inpatient-feed"])
        let failure = try #require(drop.failed.first)
        #expect(failure.subject == .init(.source, "inpatient_spells.csv") && failure.figure == "rows_per_1000")
        // The drop measured against the median of the five earlier runs: about the share withheld.
        let fall = 1 - failure.value! / failure.baseline!
        #expect(abs(fall - 0.3) < 0.05, "fell by \(fall)")
        _ = try run(6, accepting: ["practice-coding", "inpatient-feed"])
        for month in 7...months { _ = try run(month, accepting: ["practice-coding"]) }

        // The control charts over the nine published months.
        let history = try Published.quality.read(from: output)
        #expect(
            history.runs.map(\.asOf) == (1...months).map { MonthlySequence.asOf(month: $0, first: synthesis.asOf).description })
        func flags(_ subject: QualitySubject, _ figure: String) throws -> [String?] {
            try #require(history.series.first { $0.subject == subject && $0.figure == figure }).specialCause
        }
        let inpatient = try flags(.init(.source, "inpatient_spells.csv"), "rows_per_1000")
        #expect(inpatient.enumerated().filter { $0.element == "below" }.map { $0.offset + 1 } == [6], "\(inpatient)")
        let codes = try flags(.init(.practice, practice), "unrecognised_code_share")
        #expect(codes.enumerated().filter { $0.element == "above" }.map { $0.offset + 1 } == Array(4...months), "\(codes)")
        // Another practice's codes did not change: its share stays small, whatever noise the chart flags.
        let other = try #require(
            history.series.first { $0.subject == .init(.practice, "Z00001") && $0.figure == "unrecognised_code_share" })
        #expect(other.values.allSatisfy { ($0 ?? 1) < 0.01 }, "\(other.values)")
        // run.json carries the same figures.
        #expect(try published().quality?.value(.init(.practice, practice), "unrecognised_code_share") != nil)
    }

    /// The 12 calendar months before as-of, at their edges.
    @Test func monthsAreCountedToTheDay() {
        let asOf = Day(iso: "2025-05-01")!
        let months = DataQuality.Months(asOf: asOf)
        let tally = months.tally(
            ["2025-04-30", "2025-04-01", "2025-03-31", "2024-05-01", "2024-04-30", "2025-05-01"].map { Day(iso: $0)! })
        #expect(tally.rows == 6 && tally.latest == Day(iso: "2025-04-30"))
        #expect(tally.monthly[11] == 2 && tally.monthly[10] == 1 && tally.monthly[0] == 1 && tally.monthly.reduce(0, +) == 4)
        var figures: [String: Double] = [:]
        tally.figures(perThousand: 10, asOf: asOf, into: &figures)
        #expect(figures["latest_month_per_1000"] == 20 && figures["days_since_latest"] == 1 && figures["empty_months"] == 9)
    }

    @Test func gatesCompareWithTheMedianOfEarlierRuns() {
        func report(_ value: Double) -> QualityReport {
            QualityReport(
                asOf: "2025-01-01", entries: [.init(subject: .init(.source, "a.csv"), figures: ["rows_per_1000": value])],
                practicesWithheld: 0)
        }
        let gate = Gate(
            name: "feed", figure: "rows_per_1000", scope: .source("a.csv"), test: .fallsByMoreThan(percent: 20),
            againstLastRuns: 3)
        // The median of the last three (100, 110, 90 -> 100), not of all five.
        let earlier = [10, 10, 100, 110, 90].map(report)
        #expect(gate.check(report(79), earlier: earlier).map(\.result) == [.failed])
        #expect(gate.check(report(81), earlier: earlier).map(\.result) == [.passed])
        #expect(gate.check(report(79), earlier: earlier).first?.baseline == 100)
        // Too few earlier runs: not checked, and said so.
        let few = gate.check(report(1), earlier: [100, 100].map(report))
        #expect(few.map(\.result) == [.notChecked] && few[0].message.contains("2 earlier runs"))
        // A figure the run does not have is not checked either.
        let absent = Gate(name: "x", figure: "rows_per_1000", scope: .source("b.csv"), test: .below(5))
        #expect(absent.check(report(1), earlier: []).map(\.result) == [.notChecked])
        // A figure earlier runs had and this run has not fails: the feed is gone.
        let gone = gate.check(
            QualityReport(asOf: "2025-02-01", entries: [], practicesWithheld: 0), earlier: earlier)
        #expect(gone.map(\.result) == [.failed] && gone[0].message.contains("though earlier runs had it"))
        // A figure withheld for too few people is not checked, and said so.
        let withheld = QualityReport(
            asOf: "2025-02-01", entries: [.init(subject: .init(.source, "a.csv"), figures: [:], withheld: ["rows_per_1000"])],
            practicesWithheld: 0)
        #expect(gate.check(withheld, earlier: earlier).first?.message.contains("withheld") == true)
        // Every practice: a practice of the run before that is missing now is checked too.
        let practices = Gate(
            name: "p", figure: "rows_per_1000", scope: .everyPractice, test: .fallsByMoreThan(percent: 20),
            againstLastRuns: 3)
        let withPractice = QualityReport(
            asOf: "2025-01-01", entries: [.init(subject: .init(.practice, "A1"), figures: ["rows_per_1000": 10])],
            practicesWithheld: 0)
        let outcomes = practices.check(
            QualityReport(asOf: "2025-02-01", entries: [], practicesWithheld: 0), earlier: [withPractice])
        #expect(outcomes.map(\.subject) == [.init(.practice, "A1")] && outcomes.map(\.result) == [.failed])
        let floor = Gate(name: "y", figure: "rows_per_1000", scope: .source("a.csv"), test: .below(5))
        #expect(floor.check(report(4.9), earlier: []).map(\.result) == [.failed])
        #expect(floor.check(report(5), earlier: []).map(\.result) == [.passed])
    }

    @Test(arguments: [
        ("gates: [{name: a, figure: rows, stop_if_below: 1, colour: red}]", "unknown key 'colour'"),
        ("gates: [{name: a, figure: rows_per_100, stop_if_below: 1}]", "unknown figure 'rows_per_100'"),
        ("gates: [{name: a, figure: rows}]", "exactly one of"),
        ("gates: [{name: a, figure: rows, stop_if_below: 1, stop_if_above: 2}]", "exactly one of"),
        (
            "gates: [{name: a, figure: rows, stop_if_below: 1}, {name: a, figure: rows, stop_if_above: 1}]",
            "two gates are named a"
        ),
        ("gates: [{name: a, figure: rows, stop_if_below: 1, against_last_runs: 4}]", "compares with earlier runs"),
        ("gates: [{name: a, figure: rows, stop_if_falls_by_more_than_percent: 0}]", "above 0"),
        ("gates: [{name: a, figure: rows, stop_if_falls_by_more_than_percent: 10, against_last_runs: 1}]", "3 to 120"),
        ("gates: [{name: 'a b', figure: rows, stop_if_below: 1}]", "letters, digits"),
        ("gates: [{name: a, figure: rows, source: patients.csv, practice: all, stop_if_below: 1}]", "not more"),
        ("gates: [{name: a, figure: rows:date_format, stop_if_below: 1}]", "unknown figure"),
        ("gates: [{figure: rows, stop_if_below: 1}]", "'name' is missing"),
        ("gates: [{name: a, figure: rows, source: inpatients.csv, stop_if_below: 1}]", "not a file of the input contract"),
        ("gates: [{name: a, figure: rows, provider: r-1, stop_if_below: 1}]", "organisation code or all"),
    ])
    func gateFilesWithMistakesAreRefused(text: String, message: String) {
        #expect {
            _ = try GateFile.parse(text)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func theShippedGatesFileReads() throws {
        let file = try GateFile.parse(
            String(
                contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                    "../../examples/gates.yaml"), encoding: .utf8))
        #expect(file.gates.map(\.name).contains("inpatient-feed"))
        #expect(file.gates.first { $0.name == "practice-coding" }?.scope == .everyPractice)
        // A rule by quarantine rule reads as well.
        let byRule = try GateFile.parse(
            "gates: [{name: dates, figure: 'quarantine_rate:date_format', source: gp_events.csv, stop_if_above: 0.01}]")
        #expect(byRule.gates.first?.figure == "quarantine_rate:date_format")
    }
}

@Suite struct RunHistoryTests {
    /// Two monthly extracts run one after the other: the people who joined, left and stayed, as
    /// `run.json` reports them, equal a count made straight from the extracts and the generator's
    /// ground truth (who each patient id really is); every tier transition row adds up to the
    /// previous run's tier counts and every column to this run's.
    @Test func changesBetweenRunsEqualTheGroundTruth() throws {
        let folder = temporaryFolder("history")
        defer { try? FileManager.default.removeItem(at: folder) }
        var synthesis = SynthesisOptions(people: 1_500, seed: 5, asOf: SyntheticHealthSystem.defaultAsOf)
        synthesis.faultRate = 0
        let extracts = folder.appendingPathComponent("extracts")
        _ = try MonthlyExtracts.write(MonthlySequence(months: 4), synthesis, to: extracts)
        let data = folder.appendingPathComponent("data"), output = folder.appendingPathComponent("out")
        // The default run's fixed key: pseudonyms decide the held-out split, and with a fresh key
        // each time the emergency admission baseline on 880 training people sometimes did not
        // beat chance, so no model scored it and there were no tiers to compare.
        let key = DefaultRun.keyFile
        func run(_ month: Int) throws -> RunResult {
            let asOf = MonthlySequence.asOf(month: month, first: synthesis.asOf)
            var options = RunOptions(
                input: extracts.appendingPathComponent(asOf.description), asOf: asOf, output: output, dataDirectory: data,
                keyFile: key, suppress: false, workers: 2)
            options.projection.years = 0
            options.risingAcrossRuns = true
            return try PipelineRun.execute(options)
        }
        let first = try run(1)
        #expect(first.summary.changes == nil)
        #expect(try Published.tierTransitions.read(from: output).isEmpty)
        // Month 4 against month 1 (three months of leavers and deaths between them).
        let second = try run(4)
        let changes = try #require(second.summary.changes)
        #expect(changes.previousRunId == first.summary.runId && changes.warning == nil)

        // The truth: each patient id's person, and who was registered without an opt-out at each as-of.
        var person: [String: String] = [:]
        for row in readCSV(extracts.appendingPathComponent("full/ground-truth/registrations.csv")).dropFirst() {
            person[row[0]] = row[1]
        }
        func registered(_ month: Int) -> Set<String> {
            let asOf = MonthlySequence.asOf(month: month, first: synthesis.asOf)
            let rows = readCSV(extracts.appendingPathComponent("\(asOf)/patients.csv"))
            let c = Dictionary(uniqueKeysWithValues: rows[0].enumerated().map { ($1, $0) })
            var people = Set<String>()
            for row in rows.dropFirst() {
                let from = Day(iso: row[c["registered_from"]!])!, to = Day(iso: row[c["registered_to"]!]) ?? .max
                let death = Day(iso: row[c["date_of_death"]!]) ?? .max
                if from <= asOf, asOf < to, asOf < death, row[c["national_opt_out"]!] != "Y" {
                    people.insert(person[row[c["patient_id"]!]]!)
                }
            }
            return people
        }
        let before = registered(1), after = registered(4)
        #expect(changes.matched == before.intersection(after).count)
        #expect(changes.joined == after.subtracting(before).count)
        #expect(changes.left == before.subtracting(after).count)
        #expect((changes.left ?? 0) > 0)

        // Rows add up to the first run's tiers, columns to the second's (organisation level).
        let transitions = try Published.tierTransitions.read(from: output).filter {
            $0.unit.level == "organisation" && $0.row.outcome == Outcome.emergencyAdmission.rawValue
        }
        let tiersOf = { (result: RunResult) throws -> [String: Int] in
            let s = try #require(
                result.risk.stratification.scores[.emergencyAdmission],
                "\(result.summary.riskChoices ?? []) \(result.risk.models.map(\.card.summary))")
            var counts: [String: Int] = [:]
            for p in result.prepared.planningPeople {
                counts[s.tier[p].map { PersonFrame.tierIds[Int($0.rawValue)] } ?? "not_scored", default: 0] += 1
            }
            return counts
        }
        let firstTiers = try tiersOf(first), secondTiers = try tiersOf(second)
        for state in RunComparison.states where state != "outside" {
            #expect(transitions.filter { $0.row.from == state }.reduce(0) { $0 + $1.row.people! } == firstTiers[state] ?? 0)
            #expect(transitions.filter { $0.row.to == state }.reduce(0) { $0 + $1.row.people! } == secondTiers[state] ?? 0)
        }
        #expect(transitions.filter { $0.row.from == "outside" }.reduce(0) { $0 + $1.row.people! } == changes.joined)
        #expect(transitions.filter { $0.row.to == "outside" }.reduce(0) { $0 + $1.row.people! } == changes.left)
        // Rising across runs: each person's earlier tier is their tier in the first run, so the
        // people whose tier rose in rising-risk.csv are the matrix's moves up between tiers.
        let firstScores = try #require(first.risk.stratification.scores[.emergencyAdmission])
        let secondScores = try #require(second.risk.stratification.scores[.emergencyAdmission])
        var firstTier: [String: Tier] = [:]
        for p in first.prepared.registered {
            if let t = firstScores.tier[p] { firstTier[first.prepared.population.pseudonym[p]] = t }
        }
        for p in second.prepared.registered {
            #expect(secondScores.previousTier[p] == firstTier[second.prepared.population.pseudonym[p]])
        }
        let tiers = PersonFrame.tierIds
        let movedUp = transitions.filter {
            guard let from = tiers.firstIndex(of: $0.row.from), let to = tiers.firstIndex(of: $0.row.to) else { return false }
            return to > from
        }.reduce(0) { $0 + $1.row.people! }
        let rising = try Published.risingRisk.read(from: output).first {
            $0.unit.level == "organisation" && $0.row.outcome == Outcome.emergencyAdmission.rawValue
        }
        #expect(rising?.row.tierRose == movedUp)
        // The headline share of people with two or more conditions, with an interval around the difference.
        let ltc = try #require(changes.headlines.first { $0.name.contains("two or more") })
        let d = try #require(ltc.difference)
        #expect(ltc.lower95! < d && d < ltc.upper95!)
        // Each provider's rows of a file add up to the file's (providers are big enough to have figures here).
        let quality = try #require(second.summary.quality)
        for file in ["inpatient_spells.csv", "ae_attendances.csv", "outpatient_appointments.csv"] {
            let byProvider = quality.entries.filter { $0.subject.kind == .provider && $0.subject.id.hasSuffix(" " + file) }
            #expect(!byProvider.isEmpty)
            let total = byProvider.reduce(0) { $0 + ($1.figures["rows"] ?? 0) }
            let rows = readCSV(
                extracts.appendingPathComponent("\(MonthlySequence.asOf(month: 4, first: synthesis.asOf))/\(file)"))
            #expect(Int(total) == rows.count - 1, "\(file)")
        }
        // Every headline of the overview is there; use and cost per head straight from the runs' people.
        #expect(changes.headlines.count == 6)
        let cost = try #require(changes.headlines.first { $0.name.hasPrefix("cost of care per head") })
        let planning = second.prepared.planningPeople
        let perHead = planning.reduce(0) { $0 + second.prepared.utilisation.totalCost($1) } / Double(planning.count)
        #expect(abs(cost.current! - perHead) <= 0.05 + 1e-9, "\(cost.current!) against \(perHead)")
        #expect(cost.lower95! <= cost.difference! && cost.difference! <= cost.upper95!)
    }
}
