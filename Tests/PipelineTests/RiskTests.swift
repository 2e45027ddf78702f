import Foundation
import PHMCore
import Pipeline
import Risk
import Storage
import Synthesis
import TestSupport
import Testing

/// Risk stratification on the default synthetic run: model quality, the outputs, and a
/// cross-check of both algorithms against scikit-learn (installed by scripts/test).
@Suite(.serialized) struct RiskStratificationTests {
    static func model(_ outcome: Outcome, _ algorithm: Algorithm) -> RiskModel {
        DefaultRun.result.risk.models.first { $0.outcome == outcome && $0.algorithm == algorithm }!
    }

    @Test func boostedModelBeatsBothBaselinesWithItsInterval() {
        for outcome in Outcome.allCases {
            let card = RiskStratificationTests.model(outcome, .boostedTrees).card
            #expect(card.heldOut.people > 10_000)
            #expect(card.heldOut.aurocLower < card.heldOut.auroc && card.heldOut.auroc < card.heldOut.aurocUpper)
            #expect(card.baselines.count == 2)
            for baseline in card.baselines {
                #expect(card.heldOut.aurocLower > baseline.heldOut.auroc, "\(outcome) vs \(baseline.name)")
            }
            // Temporal validation: the later period is covered by the synthetic follow-up year.
            let later = try! #require(card.laterPeriod)
            #expect(abs(later.auroc - card.heldOut.auroc) < 0.05)
            #expect(Set(card.heldOut.subgroups.map(\.breakdown)) == ["sex", "age_band", "imd_quintile", "ethnic_group"])
            #expect(card.heldOut.flagging.map(\.topPercent) == [0.5, 1, 5, 10])
        }
        let emergency = RiskStratificationTests.model(.emergencyAdmission, .boostedTrees).card.heldOut
        #expect(emergency.auroc > 0.75)
        // Calibrated: expected and observed events agree within 10% overall and in the top decile.
        let expected = emergency.calibration.reduce(0) { $0 + $1.expected * Double($1.people) }
        #expect(abs(expected - Double(emergency.events)) < 0.1 * Double(emergency.events))
        let top = emergency.calibration[9]
        #expect(abs(top.expected - top.observed) < 0.1 * top.observed)
    }

    @Test func outputsCarryScoresTiersAndRisingRisk() throws {
        let result = DefaultRun.result
        let out = DefaultRun.output
        for model in result.risk.models {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("models/" + model.fileName).path))
            let card = try String(
                contentsOf: out.appendingPathComponent("models/" + model.fileName.replacingOccurrences(of: ".json", with: ".md")),
                encoding: .utf8)
            #expect(card.contains("AUROC") && card.contains("baseline: age and sex only"))
        }
        let tiers = readCSV(out.appendingPathComponent("risk-tiers.csv"))
        let organisation = tiers.dropFirst().filter { $0[0] == "organisation" && $0[3] == "emergency_admission_12m" }
        #expect(organisation.map { $0[4] } == ["very high", "high", "moderate", "low"])
        let people = organisation.map { Int($0[5])! }
        // Counts are rounded to 5 for planning, and people with a National Data Opt-out left out.
        #expect(abs(people.reduce(0, +) - result.summary.planningPeople) <= 10)
        #expect(abs(Double(people[0]) / Double(result.summary.planningPeople) - 0.005) < 0.001)
        // Mean risk falls tier by tier.
        let means = organisation.map { Double($0[7])! }
        #expect(means == means.sorted(by: >))
        let rising = readCSV(out.appendingPathComponent("rising-risk.csv"))
        #expect(rising[0].contains("rising"))
        let practiceRows = rising.dropFirst().filter { $0[0] == "practice" && $0[3] == "emergency_admission_12m" }
        let organisationRising = Int(
            rising.dropFirst().first { $0[0] == "organisation" && $0[3] == "emergency_admission_12m" }![7])!
        // Practices add up to the organisation within the rounding to 5 of each published count.
        let practiceSum = practiceRows.reduce(0) { $0 + (Int($1[7]) ?? 0) }
        #expect(abs(practiceSum - organisationRising) <= 7 * practiceRows.count)
        #expect(practiceRows.allSatisfy { Int($0[7]).map { $0 == 0 || ($0 >= 10 && $0 % 5 == 0) } ?? true })
        #expect(organisationRising > 0)

        let persons = readCSV(out.appendingPathComponent("persons.csv"))
        let header = persons[0]
        let risk = header.firstIndex(of: "risk_emergency_admission_12m")!, factors = header.firstIndex(of: "risk_factors")!
        let veryHigh = persons.dropFirst().filter { $0[risk + 1] == "very high" }
        #expect(!veryHigh.isEmpty)
        // The highest-risk people are told why, in words.
        #expect(veryHigh.allSatisfy { !$0[factors].isEmpty })
        let descriptions = RiskStratificationTests.model(.emergencyAdmission, .boostedTrees).features.map(\.description)
        for row in veryHigh {
            let named = row[factors].components(separatedBy: "; ")
            #expect(named.count <= 3)
            #expect(named.allSatisfy { factor in descriptions.contains { factor.hasPrefix($0) } }, "\(named)")
        }
    }

    static let script = """
        import sys, json, numpy as np, pandas as pd
        from sklearn.preprocessing import StandardScaler
        from sklearn.linear_model import LogisticRegression
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import roc_auc_score
        df = pd.read_csv(sys.argv[1])
        outcomes = ["emergency_admission_12m", "persistent_high_cost"]
        features = [c for c in df.columns if c not in outcomes and c != "split"]
        train, test = df[df.split == "train"], df[df.split == "held_out"]
        result = {}
        for outcome in outcomes:
            scaler = StandardScaler().fit(train[features])
            lr = LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(train[features]), train[outcome])
            hgb = HistGradientBoostingClassifier(max_iter=100, max_depth=6, max_leaf_nodes=None, learning_rate=0.1,
                min_samples_leaf=20, l2_regularization=1.0, max_bins=255, early_stopping=False, random_state=0)
            hgb.fit(train[features], train[outcome])
            result[outcome] = {
                "logistic_regression": roc_auc_score(test[outcome], lr.predict_proba(scaler.transform(test[features]))[:, 1]),
                "boosted_trees": roc_auc_score(test[outcome], hgb.predict_proba(test[features])[:, 1]),
            }
        print(json.dumps(result))
        """

    @Test func heldOutAUROCIsWithinAHundredthOfScikitLearn() throws {
        let result = DefaultRun.result
        let design = Validation(
            development: result.risk.development, later: nil, population: result.population, seed: RiskOptions().seed)
        let folder = temporaryFolder("features")
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("features.csv")
        try design.exportFeatures(to: csv)
        let run = try runProgram(["/usr/bin/env", crossCheckPython, "-c", RiskStratificationTests.script, csv.path])
        #expect(run.status == 0, "\(run.errors.suffix(2_000))")
        let theirs = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as! [String: [String: Double]]
        for outcome in Outcome.allCases {
            for algorithm in Algorithm.allCases {
                let ours = RiskStratificationTests.model(outcome, algorithm).card.heldOut.auroc
                let reference = theirs[outcome.rawValue]![algorithm.rawValue]!
                #expect(abs(ours - reference) <= 0.01, "\(outcome) \(algorithm): \(ours) vs scikit-learn \(reference)")
            }
        }
    }
}

@Suite(.serialized) struct ModelCommandTests {
    @Test func savedModelsScoreTheSameRunIdentically() throws {
        let result = DefaultRun.result
        let out = temporaryFolder("scored")
        defer { try? FileManager.default.removeItem(at: out) }
        let options = RunOptions(
            input: DefaultRun.input, asOf: SyntheticHealthSystem.defaultAsOf, output: out,
            // A data directory of its own: the default run's vault is read by other tests meanwhile.
            dataDirectory: out.appendingPathComponent("data"), keyFile: DefaultRun.keyFile)
        let scored = try PipelineRun.scoreModels(
            options, models: DefaultRun.output.appendingPathComponent("models"), log: { _ in })
        for outcome in Outcome.allCases {
            let before = result.risk.stratification.scores[outcome]!, after = scored.scores[outcome]!
            #expect(before.model.algorithm == .boostedTrees)
            #expect(zip(before.risk, after.risk).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
        }
        let rows = readCSV(out.appendingPathComponent("risk-scores.csv"))
        #expect(rows.count - 1 == result.summary.planningPeople)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("rising-risk.csv").path))
    }

    @Test func evaluatingWithoutModelsFailsClearly() throws {
        let out = temporaryFolder("evaluated")
        defer { try? FileManager.default.removeItem(at: out) }
        let options = RunOptions(
            input: DefaultRun.input, asOf: SyntheticHealthSystem.defaultAsOf, output: out,
            // A data directory of its own: the default run's vault is read by other tests meanwhile.
            dataDirectory: out.appendingPathComponent("data"), keyFile: DefaultRun.keyFile)
        #expect(throws: RiskError.unreadableModel(path: out.path, reason: "the folder holds no saved models")) {
            try PipelineRun.evaluateModels(options, models: out, log: { _ in })
        }
    }
}
