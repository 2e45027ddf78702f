import Foundation
import Outputs
import PHMCore
import Pipeline
import Risk
import Storage
import Synthesis
import TestSupport
import Testing

/// Risk models on populations they were not designed on: a weak signal, no signal at all, and too
/// few people. The platform chooses, falls back or refuses, and says so everywhere.
@Suite(.serialized) struct RiskChoiceTests {
    /// Synthesises a population with the given signal and runs the whole pipeline on it.
    static func run(people: Int, signal: SynthesisOptions.Signal) throws -> (Pipeline.RunResult, URL) {
        let folder = temporaryFolder("risk-\(signal.rawValue)-\(people)")
        var options = SynthesisOptions(people: people, seed: 7)
        options.signal = signal
        _ = try SyntheticHealthSystem.write(options, to: folder.appendingPathComponent("input"))
        let out = folder.appendingPathComponent("output")
        var run = RunOptions(
            input: folder.appendingPathComponent("input"), asOf: SyntheticHealthSystem.defaultAsOf, output: out,
            dataDirectory: folder.appendingPathComponent("data"), keyFile: DefaultRun.keyFile)
        run.projection.years = 0
        let result = try PipelineRun.execute(run)
        return (result, out)
    }

    static func summary(_ out: URL) throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: out.appendingPathComponent("run.json")))
    }

    @Test func aWeakSignalIsFoundCalibratedAndMatchesScikitLearn() throws {
        let (result, out) = try Self.run(people: 40_000, signal: .weak)
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        let scores = try #require(result.risk.stratification.scores[.emergencyAdmission])
        let card = scores.model.card
        // A full model ranks people: it beats the age-and-sex baseline with 95% confidence.
        #expect(Algorithm.learned.contains(card.algorithm))
        let baseline = try #require(card.baselines.first { $0.name == "age and sex only" })
        #expect(card.heldOut.auroc > baseline.heldOut.auroc)
        #expect(try #require(card.choice?.overBaselineLower) > 0)
        let calibration = try #require(card.heldOut.calibrationMeasures)
        #expect(calibration.slope > 0.8 && calibration.slope < 1.2, "calibration slope \(calibration.slope)")
        #expect(calibration.observedOverExpectedLower < 1 && calibration.observedOverExpectedUpper > 1)
        // Each searched method left a record of its search.
        for model in result.risk.models where Algorithm.learned.contains(model.algorithm) {
            let tuning = try #require(model.card.tuning)
            #expect(tuning.candidates.count > 1 && tuning.folds == 3)
        }
        let choice = try #require(Self.summary(out).riskChoices?.first { $0.outcome == "emergency_admission_12m" })
        #expect(choice.model == card.algorithm.rawValue && !choice.warning)
        try crossCheck(
            result.risk.models,
            Validation(
                development: result.risk.development, later: nil, population: result.prepared.population, seed: RiskOptions().seed
            ))
    }

    @Test func withNoSignalNoModelRanksAndTheRunSaysSo() throws {
        let (result, out) = try Self.run(people: 30_000, signal: .none)
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        // Neither model nor age and sex predicts admissions drawn at random: no one is ranked.
        #expect(result.risk.stratification.scores[.emergencyAdmission] == nil)
        let cards = result.risk.models.filter { $0.outcome == .emergencyAdmission }.map(\.card)
        #expect(Set(cards.map(\.algorithm)) == Set(Algorithm.allCases))
        #expect(cards.allSatisfy { $0.choice?.scoresPeople == false })
        let choice = try #require(Self.summary(out).riskChoices?.first { $0.outcome == "emergency_admission_12m" })
        #expect(choice.model == nil && choice.warning)
        #expect(choice.reason.hasPrefix("no model scores people"))
        let card = try String(
            contentsOf: out.appendingPathComponent("models/emergency_admission_12m.age_sex_baseline.md"), encoding: .utf8)
        #expect(card.contains("Warning: no model scores people"))
        // Persistent high cost still has signal (cost persists in every scenario) and is ranked.
        #expect(result.risk.stratification.scores[.persistentHighCost] != nil)
        let tiers = try Published.riskTiers.read(from: out)
        #expect(!tiers.isEmpty && !tiers.contains { $0.row.outcome == "emergency_admission_12m" })
    }

    @Test func tooFewPeopleForTheFeaturesFallBackToAgeAndSex() throws {
        let (result, out) = try Self.run(people: 12_000, signal: .weak)
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        let models = result.risk.models.filter { $0.outcome == .emergencyAdmission }
        // Below Riley et al.'s minimum no full model is trained; age and sex rank people, loudly.
        #expect(models.map(\.algorithm) == [.ageSexBaseline])
        let card = models[0].card
        let size = try #require(card.sampleSize)
        #expect(card.trainingPeople < size.minimumPeople)
        #expect(card.choice?.warning == true)
        #expect(card.choice?.reason.contains("Riley et al. 2020") == true)
        let choice = try #require(Self.summary(out).riskChoices?.first { $0.outcome == "emergency_admission_12m" })
        #expect(choice.warning && choice.reason.contains("fewer than"))
        if card.choice?.scoresPeople == true {
            #expect(result.risk.stratification.scores[.emergencyAdmission]?.model.algorithm == .ageSexBaseline)
        }
    }
}
