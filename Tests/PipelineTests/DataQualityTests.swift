import Foundation
import Governance
import Identity
import Outputs
import PHMCore
import Storage
import Synthesis
import TestSupport
import Testing

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
        ("gates: [{name: a, figure: rows, source: x.csv, practice: all, stop_if_below: 1}]", "not both"),
        ("gates: [{name: a, figure: rows:date_format, stop_if_below: 1}]", "unknown figure"),
        ("gates: [{figure: rows, stop_if_below: 1}]", "'name' is missing"),
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
