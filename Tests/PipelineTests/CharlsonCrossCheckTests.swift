import Conditions
import Foundation
import PHMCore
import Pipeline
import TestSupport
import Testing

/// Charlson (1987 weights) and Elixhauser (van Walraven) scores agree with an independent implementation, the comorbidipy package (installed
/// by scripts/test), on the hospital ICD-10 codes of people from the default synthetic run.
@Suite(.serialized) struct CharlsonCrossCheckTests {
    static let script = """
        import sys, pandas, pandas.core.common, pandas.errors
        # comorbidipy 0.5.0 imports this warning from where pandas 1.4 kept it.
        pandas.core.common.SettingWithCopyWarning = pandas.errors.SettingWithCopyWarning
        from comorbidipy import comorbidity
        df = pandas.read_csv(sys.argv[1], dtype=str)
        charlson = comorbidity(df, id="id", code="code", age=None, score="charlson", icd="icd10", variant="quan",
                               weighting="charlson", assign0=True)
        elixhauser = comorbidity(df, id="id", code="code", age=None, score="elixhauser", icd="icd10", variant="quan",
                                 weighting="vw", assign0=True)
        scores = elixhauser.set_index("id")["comorbidity_score"]
        for row in charlson.itertuples():
            print(f"{row.id},{row.comorbidity_score:g},{scores[row.id]:g}")
        """

    @Test func agreesWithComorbidipyOnCharlsonAndElixhauser() throws {
        let result = DefaultRun.result
        var population = result.prepared.population
        // Hospital records only: the GP record's SNOMED codes are not in comorbidipy's ICD-10 scope.
        population.clinical = ClinicalEvents()
        population.clinical.byPerson = PersonIndex(start: [Int32](repeating: 0, count: population.count + 1))
        population.prescriptions = PrescriptionEvents()
        population.prescriptions.byPerson = PersonIndex(start: [Int32](repeating: 0, count: population.count + 1))
        let results = ConditionEngine(library: result.prepared.library, codes: population.codes).evaluate(population, workers: 2)
        let score = result.prepared.library.score("charlson_1987")!

        var csv = "id,code\n"
        var sample: [Int] = []
        let activity = population.activity
        for p in population.registered where sample.count < 3_000 {
            var codes = Set<Int32>()
            for row in activity.byPerson.rows(of: p) where activity.day[row] < population.asOf {
                if activity.diagnosis[row] >= 0 { codes.insert(activity.diagnosis[row]) }
                for i in Int(activity.secondaryStart[row])..<Int(activity.secondaryStart[row + 1]) {
                    codes.insert(activity.secondaryCodes[i])
                }
            }
            let icd = codes.filter { population.codes.systems[Int($0)] == .icd10 }
            guard !icd.isEmpty else { continue }
            sample.append(p)
            for code in icd { csv += "\(p),\(population.codes.codes[Int(code)])\n" }
        }
        let folder = temporaryFolder("charlson")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(csv.utf8).write(to: folder.appendingPathComponent("codes.csv"))
        // Through env, so the venv's interpreter keeps its own path and finds its packages.
        let run = try runProgram([
            "/usr/bin/env", crossCheckPython, "-c", CharlsonCrossCheckTests.script,
            folder.appendingPathComponent("codes.csv").path,
        ])
        #expect(run.status == 0, "\(run.errors.suffix(2_000))")
        let output = run.output
        var theirs: [Int: Double] = [:], theirElixhauser: [Int: Double] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ",")
            theirs[Int(parts[0])!] = Double(parts[1])!
            theirElixhauser[Int(parts[0])!] = Double(parts[2])!
        }
        #expect(sample.count > 1_000)
        #expect(theirs.count == sample.count)
        // Two documented differences of comorbidipy 0.5.0: it keeps one category per code (the
        // last that matches), while Quan's coding lets a code mark several (K70.3 is liver disease
        // and alcohol abuse), so people with such a code are compared separately; and it floors
        // every total at 0, while van Walraven scores can be negative (-19 to 89), so ours is
        // floored for the comparison.
        let library = result.prepared.library
        let elixhauserLists = library.lists.filter { $0.name.hasPrefix("elixhauser_") }
        let multiCategory = (0..<population.codes.count).map { id in
            elixhauserLists.filter { $0.contains(population.codes.codes[id], system: population.codes.systems[id]) }.count > 1
        }
        let elixhauser = library.score("elixhauser_vw")!
        var disagreements = 0, elixhauserDisagreements = 0, unexplained = 0
        var nonZero = 0, elixhauserNonZero = 0, multi = 0
        for p in sample {
            if results.scores[score][p] != theirs[p] { disagreements += 1 }
            if results.scores[score][p] > 0 { nonZero += 1 }
            let ambiguous = activity.byPerson.rows(of: p).contains { row in
                activity.day[row] < population.asOf
                    && ([activity.diagnosis[row]]
                        + activity.secondaryCodes[Int(activity.secondaryStart[row])..<Int(activity.secondaryStart[row + 1])])
                        .contains { $0 >= 0 && multiCategory[Int($0)] }
            }
            let ours = max(0, results.scores[elixhauser][p])
            if ambiguous {
                multi += 1
                if ours == theirElixhauser[p] { continue }
                elixhauserDisagreements += 1
            } else if ours != theirElixhauser[p] {
                unexplained += 1
            }
            if results.scores[elixhauser][p] != 0 { elixhauserNonZero += 1 }
        }
        #expect(disagreements == 0)
        #expect(unexplained == 0)
        #expect(nonZero > 300)
        #expect(elixhauserNonZero > 300)
        // Disagreements happen only for people with a multi-category code.
        #expect(elixhauserDisagreements <= multi)
    }
}
