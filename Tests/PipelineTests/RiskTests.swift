import Foundation
import Outputs
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

    /// Area indicators are features only when asked for: then each is a column holding the
    /// person's home area's value (the areas' mean where it has none), never named as a reason.
    @Test func areaIndicatorsAreRiskFeaturesOnlyWhenAsked() throws {
        #expect(!DefaultRun.result.risk.models.contains { $0.features.contains { Feature.isArea($0.id) } })
        #expect(!DefaultRun.result.risk.current.features.features.contains { Feature.isArea($0.id) })
        let prepared = DefaultRun.result.prepared
        let (_, current) = RiskStage.snapshots(prepared, workers: 2, areaFeatures: true)
        let areas = prepared.population.areas
        let ids = current.features.features.map(\.id)
        #expect(Array(ids.suffix(areas.indicatorNames.count)) == areas.indicatorNames.map { "area_" + $0 })
        #expect(ids.dropLast(areas.indicatorNames.count) == DefaultRun.result.risk.current.features.features.map(\.id))
        let pm25 = try #require(ids.firstIndex(of: "area_pm25"))
        var checked = 0
        for (row, person) in current.people.enumerated().prefix(2_000) {
            let area = Int(prepared.population.area[Int(person)])
            guard area >= 0, !areas.indicators[0][area].isNaN else { continue }
            #expect(current.features[row, pm25] == areas.indicators[0][area])
            checked += 1
        }
        #expect(checked > 1_000)
        #expect(!Feature.isReason("area_pm25") && !Feature.isReason("imd_decile") && Feature.isReason("age"))
    }

    @Test func boostedModelBeatsBothBaselinesWithItsInterval() throws {
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
            // A full model scores people, chosen without a warning, and is calibrated.
            let scoring = try #require(DefaultRun.result.risk.stratification.scores[outcome]).model.card
            #expect(Algorithm.learned.contains(scoring.algorithm))
            #expect(scoring.choice?.scoresPeople == true && scoring.choice?.warning == false)
            #expect(try #require(scoring.choice?.overBaselineLower) > 0)
            // The slope's interval reaches the calibrated range (persistent high cost has few
            // events outside the top decile, so its slope is the less precise).
            let c = try #require(scoring.heldOut.calibrationMeasures)
            #expect(c.slopeLower < 1.2 && c.slopeUpper > 0.8, "\(outcome) calibration slope \(c.slope)")
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
        let tiers = try Published.riskTiers.read(from: out)
        let organisation = tiers.filter { $0.unit.level == "organisation" && $0.row.outcome == "emergency_admission_12m" }
            .map(\.row)
        #expect(organisation.map(\.tier) == ["very high", "high", "moderate", "low"])
        let people = try organisation.map { try #require($0.people) }
        // Counts are rounded to 5 for planning, and people with a National Data Opt-out left out.
        #expect(abs(people.reduce(0, +) - result.summary.planningPeople) <= 10)
        #expect(abs(Double(people[0]) / Double(result.summary.planningPeople) - 0.005) < 0.001)
        // Mean risk falls tier by tier.
        let means = organisation.compactMap { $0.meanRisk?.value }
        #expect(means.count == 4 && means == means.sorted(by: >))
        let rising = try Published.risingRisk.read(from: out)
        let practiceRows = rising.filter { $0.unit.level == "practice" && $0.row.outcome == "emergency_admission_12m" }
        let organisationRising = try #require(
            rising.first { $0.unit.level == "organisation" && $0.row.outcome == "emergency_admission_12m" }?.row.rising)
        // Practices add up to the organisation within the rounding to 5 of each published count.
        let practiceSum = practiceRows.reduce(0) { $0 + ($1.row.rising ?? 0) }
        #expect(abs(practiceSum - organisationRising) <= 7 * practiceRows.count)
        #expect(practiceRows.allSatisfy { $0.row.rising.map { $0 == 0 || ($0 >= 10 && $0 % 5 == 0) } ?? true })
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
        // Area deprivation adjusts the risk but is never given as a reason.
        #expect(!persons.dropFirst().contains { $0[factors].contains("IMD decile") })
    }

    @Test func heldOutAUROCIsWithinAHundredthOfScikitLearn() throws {
        let result = DefaultRun.result
        try crossCheck(
            result.risk.models,
            Validation(
                development: result.risk.development, later: nil, population: result.prepared.population, seed: RiskOptions().seed
            ))
    }
}

/// Trains scikit-learn's `HistGradientBoostingClassifier` (with the settings the search chose, and
/// early stopping) and `LogisticRegressionCV` (the same penalties, by log loss) on the same
/// exported features, and expects each model's held-out AUROC within 0.01 of theirs.
func crossCheck(_ models: [RiskModel], _ design: Validation) throws {
    let folder = temporaryFolder("features")
    defer { try? FileManager.default.removeItem(at: folder) }
    let csv = folder.appendingPathComponent("features.csv")
    try design.exportFeatures(to: csv)
    var settings: [String: [String: Double]] = [:]
    for outcome in Outcome.allCases {
        guard let trees = models.first(where: { $0.outcome == outcome && $0.algorithm == .boostedTrees })?.trees else {
            continue
        }
        let p = trees.parameters
        settings[outcome.rawValue] = [
            "depth": Double(p.depth), "learning_rate": p.learningRate, "min_leaf": Double(p.minLeaf), "l2": p.lambda,
            "trees": Double(p.trees),
        ]
    }
    let lambdas = ModelSearch().lambdas.map { String($0) }.joined(separator: ",")
    let run = try runProgram([
        "/usr/bin/env", crossCheckPython, "-c", crossCheckScript, csv.path,
        String(decoding: try JSONSerialization.data(withJSONObject: settings), as: UTF8.self), lambdas,
    ])
    #expect(run.status == 0, "\(run.errors.suffix(2_000))")
    let theirs = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as! [String: [String: Double]]
    for model in models where Algorithm.learned.contains(model.algorithm) {
        let ours = model.card.heldOut.auroc
        let reference = try #require(theirs[model.outcome.rawValue]?[model.algorithm.rawValue])
        #expect(abs(ours - reference) <= 0.01, "\(model.outcome) \(model.algorithm): \(ours) vs scikit-learn \(reference)")
    }
}

let crossCheckScript = """
    import sys, json, numpy as np, pandas as pd
    from sklearn.preprocessing import StandardScaler
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    df = pd.read_csv(sys.argv[1])
    settings = json.loads(sys.argv[2])
    lambdas = [float(l) for l in sys.argv[3].split(",")]
    outcomes = ["emergency_admission_12m", "persistent_high_cost"]
    features = [c for c in df.columns if c not in outcomes and c != "split"]
    train, test = df[df.split == "train"], df[df.split == "held_out"]
    result = {}
    for outcome in settings:
        s = settings[outcome]
        scaler = StandardScaler().fit(train[features])
        lr = LogisticRegressionCV(Cs=[1 / l for l in lambdas], cv=3, scoring="neg_log_loss", max_iter=5000)
        lr.fit(scaler.transform(train[features]), train[outcome])
        hgb = HistGradientBoostingClassifier(max_iter=int(s["trees"]), max_depth=int(s["depth"]), max_leaf_nodes=None,
            learning_rate=s["learning_rate"], min_samples_leaf=int(s["min_leaf"]), l2_regularization=s["l2"],
            max_bins=255, early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, scoring="loss",
            random_state=0)
        hgb.fit(train[features], train[outcome])
        result[outcome] = {
            "logistic_regression": roc_auc_score(test[outcome], lr.predict_proba(scaler.transform(test[features]))[:, 1]),
            "boosted_trees": roc_auc_score(test[outcome], hgb.predict_proba(test[features])[:, 1]),
        }
    print(json.dumps(result))
    """

@Suite(.serialized) struct ModelCommandTests {
    @Test func savedModelsScoreTheSameRunIdentically() throws {
        let result = DefaultRun.result
        let out = temporaryFolder("scored")
        defer { try? FileManager.default.removeItem(at: out) }
        let options = RunOptions(
            input: DefaultRun.input, asOf: SyntheticHealthSystem.defaultAsOf, output: out,
            // A data directory of its own: the default run's vault is read by other tests meanwhile.
            dataDirectory: out.appendingPathComponent("data"), keyFile: DefaultRun.keyFile)
        let (scored, transport) = try PipelineRun.scoreModels(
            options, models: DefaultRun.output.appendingPathComponent("models"))
        // On the population they were trained on, the models are calibrated: no drift warning.
        #expect(transport.map(\.outcome) == Outcome.allCases)
        #expect(transport.allSatisfy { $0.warning == nil }, "\(transport.compactMap(\.warning))")
        let check = readCSV(out.appendingPathComponent("model-transport.csv"))
        #expect(check.count == 1 + 4 * Outcome.allCases.count)
        for outcome in Outcome.allCases {
            let before = result.risk.stratification.scores[outcome]!, after = scored.scores[outcome]!
            #expect(before.model.card.choice?.scoresPeople == true)
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
            try PipelineRun.evaluateModels(options, models: out)
        }
    }
}
