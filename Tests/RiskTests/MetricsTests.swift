import Foundation
import Outputs
import Testing

@testable import Risk

@Suite struct MetricsTests {
    @Test func aurocAndAveragePrecisionOfTheScikitLearnExample() {
        // scikit-learn's documented example: roc_auc_score 0.75, average_precision_score 0.8333.
        let labels: [UInt8] = [0, 0, 1, 1]
        let scores = [0.1, 0.4, 0.35, 0.8]
        #expect(abs(Metrics.auroc(scores, labels)!.value - 0.75) < 1e-12)
        #expect(abs(Metrics.averagePrecision(scores, labels)! - 0.833_333_333) < 1e-9)
        #expect(Metrics.auroc(scores, [0, 0, 0, 0]) == nil)
    }

    @Test func delongStandardErrorMatchesTheStructuralComponentsComputedPairwise() {
        // DeLong 1988: V10(x) = mean over negatives of psi(x, y), V01(y) = mean over positives,
        // psi = 1 if x > y, 1/2 if tied; var = S10 / m + S01 / n. Computed here pair by pair.
        var state: UInt64 = 3
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return Double(state >> 40) / Double(1 << 24)
        }
        var scores: [Double] = [], labels: [UInt8] = []
        for _ in 0..<300 {
            let y: UInt8 = next() < 0.3 ? 1 : 0
            labels.append(y)
            // Rounded to create ties.
            scores.append(((next() + (y == 1 ? 0.4 : 0)) * 10).rounded() / 10)
        }
        let pos = scores.indices.filter { labels[$0] == 1 }.map { scores[$0] }
        let neg = scores.indices.filter { labels[$0] == 0 }.map { scores[$0] }
        func psi(_ x: Double, _ y: Double) -> Double { x > y ? 1 : x == y ? 0.5 : 0 }
        let v10 = pos.map { x in neg.reduce(0) { $0 + psi(x, $1) } / Double(neg.count) }
        let v01 = neg.map { y in pos.reduce(0) { $0 + psi($1, y) } / Double(pos.count) }
        let auc = v10.reduce(0, +) / Double(pos.count)
        func s(_ v: [Double]) -> Double {
            let m = v.reduce(0, +) / Double(v.count)
            return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
        }
        let se = (s(v10) / Double(pos.count) + s(v01) / Double(neg.count)).squareRoot()
        let fast = Metrics.auroc(scores, labels)!
        #expect(abs(fast.value - auc) < 1e-12)
        #expect(abs(fast.standardError - se) < 1e-12)
    }

    @Test func evaluationFlagsTheTopAndCalibratesByDecile() {
        // 100 people, risk i/100; the top ten (risks 0.90-0.99) hold 5 of the 10 events.
        let risk = (0..<100).map { Double($0) / 100 }
        var labels = [UInt8](repeating: 0, count: 100)
        for i in [99, 97, 95, 93, 91, 50, 40, 30, 20, 10] { labels[i] = 1 }
        let e = Evaluation(risk: risk, labels: labels, groups: [("half", (0..<100).map { $0 < 50 ? "low" : "high" })])
        let top10 = e.flagging.first { $0.topPercent == 10 }!
        #expect(top10.flagged == 10)
        #expect(abs(top10.ppv - 0.5) < 1e-12)
        #expect(abs(top10.sensitivity - 0.5) < 1e-12)
        #expect(e.flagging.first { $0.topPercent == 0.5 }!.flagged == 1)
        #expect(e.calibration.count == 10)
        #expect(abs(e.calibration[9].expected - 0.945) < 1e-12)
        #expect(abs(e.calibration[9].observed - 0.5) < 1e-12)
        #expect(abs(e.brier - zip(risk, labels).reduce(0) { $0 + pow($1.0 - Double($1.1), 2) } / 100) < 1e-12)
        let high = e.subgroups.first { $0.group == "high" }!
        #expect(high.people == 50 && high.events == 6)
        #expect(e.roc.first! == [0, 0] && e.roc.last! == [1, 1])
    }
}

@Suite struct StratificationTests {
    @Test func tiersFollowTheDocumentedCutPoints() {
        let risks = (0..<1000).map { Double($0) }
        let tiers = Tier.assign(risks)
        #expect(tiers.filter { $0 == .veryHigh }.count == 5)
        #expect(tiers.filter { $0 == .high }.count == 45)
        #expect(tiers.filter { $0 == .moderate }.count == 150)
        #expect(tiers.filter { $0 == .low }.count == 800)
        #expect(tiers[999] == .veryHigh && tiers[0] == .low)
    }

    @Test func heldOutShareIsAFifthAndStable() {
        let names = (0..<50_000).map { "person-\($0)" }
        let held = names.filter { Training.isHeldOut($0, seed: 42) }
        #expect(abs(Double(held.count) / 50_000 - 0.2) < 0.01)
        #expect(names.filter { Training.isHeldOut($0, seed: 42) } == held)
        #expect(names.filter { Training.isHeldOut($0, seed: 7) } != held)
    }

    @Test func topShareCountsTiesAndNeverZero() {
        #expect(
            Snapshot.topShare([5, 4, 4, 1, 0, 0, 0, 0, 0, 0], share: 0.2) == [true, true, true]
                + [Bool](repeating: false, count: 7))
        #expect(Snapshot.topShare([0, 0, 0, 0], share: 0.5) == [false, false, false, false])
    }

    @Test func savedModelsScoreExactlyAsBefore() throws {
        let (x, y) = simulated(rows: 3000)
        var parameters = BoostedTrees.Parameters()
        parameters.trees = 5
        let card = ModelCard(
            outcome: .emergencyAdmission, outcomeDefinition: "", algorithm: .boostedTrees, features: [], trainingIndex: "",
            trainingPeople: 0, trainingEvents: 0, seed: 1, trainingSeconds: 0, heldOut: Evaluation(risk: [0.5], labels: [1]),
            baselines: [])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("phm-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for algorithm in Algorithm.allCases {
            var model = RiskModel(outcome: .emergencyAdmission, algorithm: algorithm, features: x.features, card: card)
            if algorithm == .boostedTrees {
                model.trees = BoostedTrees.train(x, labels: y, parameters: parameters, workers: 2)
            } else {
                model.logistic = LogisticRegression.train(x, labels: y)
            }
            // Recalibration is saved with the model and applied when scoring.
            model.recalibration = .init(intercept: 0.1, slope: 0.9, interceptStandardError: 0, slopeStandardError: 0)
            let url = folder.appendingPathComponent(model.fileName)
            try model.save(to: url)
            let loaded = try RiskModel.load(from: url)
            #expect(try loaded.risks(x, workers: 2) == model.risks(x, workers: 2))
        }
        #expect(throws: RiskError.self) { try RiskModel.load(from: folder.appendingPathComponent("missing.json")) }
        let other = FeatureMatrix(features: [Feature("a", "a", .value)], rows: 1)
        var model = RiskModel(outcome: .emergencyAdmission, algorithm: .logisticRegression, features: x.features, card: card)
        model.logistic = LogisticRegression.train(x, labels: y)
        #expect(throws: RiskError.missingFeature("b")) { try model.risks(other, workers: 1) }
    }
}
