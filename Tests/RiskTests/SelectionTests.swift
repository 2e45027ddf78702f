import Foundation
import Outputs
import Testing

@testable import Risk

/// A reproducible stream of uniforms for simulations.
struct Uniforms {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
    mutating func normal() -> Double { (-2 * log(max(next(), 1e-300))).squareRoot() * cos(2 * .pi * next()) }
}

@Suite struct SampleSizeTests {
    @Test func followsRileysWorkedExample() {
        // Riley et al. (BMJ 2020) and pmsampsize: Cox-Snell R-squared 0.288, 24 parameters,
        // prevalence 0.174 need 623 people for shrinkage, 662 for optimism, 221 for the intercept.
        let size = SampleSize(parameters: 24, prevalence: 0.174, anticipatedR2: 0.288)
        #expect(size.criteria == [623, 662, 221])
        #expect(size.minimumPeople == 662)
        #expect(size.minimumEvents == 116)
    }

    @Test func theDefaultAnticipationIsFifteenPercentOfTheMaximum() {
        // Prevalence 0.05: the largest Cox-Snell R-squared is 1 - (0.05^0.05 0.95^0.95)^2 = 0.3277.
        let size = SampleSize(parameters: 79, prevalence: 0.05)
        #expect(abs(size.anticipatedR2 - 0.15 * 0.32768) < 1e-4)
        // Fewer parameters need fewer people.
        #expect(SampleSize(parameters: 4, prevalence: 0.05).minimumPeople < size.minimumPeople / 10)
    }
}

@Suite struct CalibrationTests {
    /// Model log-odds and outcomes drawn from `logit(true risk) = a + b x log-odds`.
    static func miscalibrated(_ a: Double, _ b: Double, rows: Int = 40_000) -> ([Double], [UInt8]) {
        var u = Uniforms(state: 11)
        var eta: [Double] = [], y: [UInt8] = []
        for _ in 0..<rows {
            let x = -2 + u.normal()
            eta.append(x)
            y.append(u.next() < 1 / (1 + exp(-(a + b * x))) ? 1 : 0)
        }
        return (eta, y)
    }

    @Test func recoversAKnownInterceptAndSlope() throws {
        let (eta, y) = Self.miscalibrated(0.3, 0.7)
        let fit = try #require(LogisticCalibration.fit(logOdds: eta, labels: y))
        #expect(abs(fit.intercept - 0.3) < 3 * fit.interceptStandardError)
        #expect(abs(fit.slope - 0.7) < 3 * fit.slopeStandardError)
        #expect(fit.slopeStandardError > 0.005 && fit.slopeStandardError < 0.05)
        // Recalibrating with the fit makes the risks calibrated: slope 1 and intercept 0.
        let recalibrated = eta.map { fit.risk(logOdds: $0) }
        let measures = try #require(CalibrationMeasures(risk: recalibrated, labels: y))
        #expect(abs(measures.slope - 1) < 1e-6)
        #expect(abs(measures.inTheLarge) < 1e-6)
        #expect(measures.observedOverExpectedLower < 1 && measures.observedOverExpectedUpper > 1)
    }

    @Test func flagsRisksThatAreTooExtremeAndTooLow() throws {
        // The model's log-odds spread too far (true slope 0.7) and sit too low (true intercept 0.3).
        let (eta, y) = Self.miscalibrated(0.3, 0.7)
        let measures = try #require(CalibrationMeasures(risk: eta.map { 1 / (1 + exp(-$0)) }, labels: y))
        #expect(measures.slopeUpper < 1)
        #expect(measures.observedOverExpectedLower > 1)
        #expect(measures.inTheLargeLower > 0)
        #expect(CalibrationMeasures(risk: [0.1, 0.2], labels: [0, 0]) == nil)
    }

    @Test func netBenefitFollowsItsDefinition() {
        // 10 people, 3 events. At threshold 0.25 (odds 1/3) the model flags the four with risk
        // >= 0.25: 2 events and 2 not. Net benefit 2/10 - 2/10 x 1/3 = 0.1333; treating all:
        // 0.3 - 0.7 x 1/3 = 0.0667.
        let risk = [0.9, 0.6, 0.3, 0.25, 0.2, 0.1, 0.1, 0.05, 0.05, 0.01]
        let labels: [UInt8] = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
        let curve = NetBenefit.curve(risk: risk, labels: labels, thresholds: [(0.25, ""), (1.5, "ignored")])
        #expect(curve.count == 1)
        #expect(curve[0].flagged == 4)
        #expect(abs(curve[0].model - (0.2 - 0.2 / 3)) < 1e-12)
        #expect(abs(curve[0].treatAll - (0.3 - 0.7 / 3)) < 1e-12)
    }
}

@Suite struct ComparisonTests {
    @Test func pairedDeLongAgreesWithAPairedBootstrap() throws {
        // Two correlated scores of the same 3,000 people: their difference in AUROC has a
        // standard error the bootstrap also finds.
        var u = Uniforms(state: 5)
        var a: [Double] = [], b: [Double] = [], y: [UInt8] = []
        for _ in 0..<3_000 {
            let signal = u.normal(), shared = u.normal()
            let label: UInt8 = u.next() < 1 / (1 + exp(-(-2 + signal))) ? 1 : 0
            y.append(label)
            a.append(signal + 0.8 * shared + 0.6 * u.normal())
            b.append(0.6 * signal + 0.8 * shared + 0.6 * u.normal())
        }
        let d = try #require(Metrics.aurocDifference(a, b, y))
        let ra = try #require(Metrics.auroc(a, y)), rb = try #require(Metrics.auroc(b, y))
        #expect(abs(d.value - (ra.value - rb.value)) < 1e-12)
        var differences: [Double] = []
        for _ in 0..<300 {
            let rows = (0..<y.count).map { _ in Int(u.next() * Double(y.count)) }
            let yb = rows.map { y[$0] }
            let da = Metrics.auroc(rows.map { a[$0] }, yb)!.value, db = Metrics.auroc(rows.map { b[$0] }, yb)!.value
            differences.append(da - db)
        }
        let bootstrap = Metrics.variance(differences).squareRoot()
        #expect(abs(d.standardError / bootstrap - 1) < 0.15, "DeLong \(d.standardError), bootstrap \(bootstrap)")
        // Paired: far smaller than if the two curves were independent.
        #expect(d.standardError < 0.8 * (ra.standardError * ra.standardError + rb.standardError * rb.standardError).squareRoot())
        // A score against itself differs by exactly nothing.
        #expect(Metrics.aurocDifference(a, a, y)!.standardError == 0)
    }
}

@Suite struct SearchTests {
    @Test func earlyStoppingStopsOnNoiseAndGoesOnForSignal() {
        var u = Uniforms(state: 3)
        let rows = 8_000
        var x = FeatureMatrix(features: ["a", "b"].map { Feature($0, $0, .value) }, rows: rows)
        var signal = [UInt8](repeating: 0, count: rows), noise = signal
        for i in 0..<rows {
            let a = u.normal(), b = u.normal()
            x[i, 0] = Float(a)
            x[i, 1] = Float(b)
            signal[i] = u.next() < 1 / (1 + exp(-(-1.5 + 1.2 * a * a - 1))) ? 1 : 0
            noise[i] = u.next() < 0.1 ? 1 : 0
        }
        let parameters = BoostedTrees.Parameters(depth: 3)
        let onNoise = BoostedTrees.train(x, labels: noise, parameters: parameters, workers: 2)
        let onSignal = BoostedTrees.train(x, labels: signal, parameters: parameters, workers: 2)
        #expect(onNoise.trees.count < 15, "\(onNoise.trees.count) trees on noise")
        #expect(onSignal.trees.count > 30, "\(onSignal.trees.count) trees on signal")
        // Without a held-back share every tree is grown.
        var all = parameters
        all.validationShare = 0
        #expect(BoostedTrees.train(x, labels: noise, parameters: all, workers: 2).trees.count == 200)
    }

    @Test func searchIsDeterministicAndRecalibratesOutOfFold() {
        let (x, y) = simulated(rows: 6_000)
        var search = ModelSearch()
        search.treeCandidates = [.init(depth: 2, minLeaf: 50), .init(depth: 4, minLeaf: 20)]
        let (trees, tuning) = search.boostedTrees(x, labels: y, seed: 1, workers: 2)
        let (again, tuningAgain) = search.boostedTrees(x, labels: y, seed: 1, workers: 2)
        #expect(trees.trees.map(\.value) == again.trees.map(\.value))
        #expect(tuning.chosen == tuningAgain.chosen)
        #expect(tuning.people == 6_000 && tuning.folds == 3 && tuning.candidates.count == 2)
        #expect(tuning.crossValidatedLogLoss <= tuning.candidates[tuning.chosen].crossValidatedLogLoss + 1e-9)
        // The chosen settings are those with the lowest left-out loss.
        let losses = tuning.candidates.map(\.crossValidatedLogLoss)
        #expect(losses[tuning.chosen] == losses.min())
        // Recalibration fitted on left-out predictions of a tuned model is close to the identity.
        #expect(abs(tuning.recalibration.slope - 1) < 0.2)
        let (_, logistic) = search.logisticRegression(x, labels: y, seed: 1)
        #expect(logistic.candidates.count == search.lambdas.count)
        // The sample is capped: the search sees at most `maximumPeople`.
        search.maximumPeople = 2_000
        let (_, capped) = search.logisticRegression(x, labels: y, seed: 1)
        #expect(capped.people > 1_700 && capped.people < 2_300)
    }
}

@Suite struct TransportTests {
    @Test func warnsWhenASavedModelUnderestimatesAnotherPopulation() {
        // Risks half of the truth: twice as many events as expected.
        let (eta, y) = CalibrationTests.miscalibrated(log(2), 1)
        let risk = eta.map { 1 / (1 + exp(-$0)) }
        let drifted = Transport(outcome: .emergencyAdmission, index: "2024-04-01", risk: risk, labels: y)
        #expect(drifted.warning?.contains("observed events are") == true)
        #expect(drifted.tiers.map(\.tier) == ["very high", "high", "moderate", "low"])
        #expect(drifted.tiers.reduce(0) { $0 + $1.people } == risk.count)
        // Doubled odds raise observed events least where risks are highest.
        #expect(drifted.tiers.allSatisfy { $0.observedOverExpected > 1.1 })
        #expect(drifted.tiers.last!.observedOverExpected > drifted.tiers.first!.observedOverExpected)
        // Risks that are right draw no warning.
        let (eta2, y2) = CalibrationTests.miscalibrated(0, 1)
        let fine = Transport(
            outcome: .emergencyAdmission, index: "2024-04-01", risk: eta2.map { 1 / (1 + exp(-$0)) }, labels: y2)
        #expect(fine.warning == nil)
    }
}

@Suite struct SavedSettingsTests {
    @Test func settingsSavedBeforeEarlyStoppingGrowEveryTree() throws {
        let old = #"{"trees":100,"depth":6,"learningRate":0.1,"minLeaf":20,"lambda":1,"maxBins":255}"#
        let decoded = try JSONDecoder().decode(BoostedTrees.Parameters.self, from: Data(old.utf8))
        #expect(decoded.validationShare == 0 && decoded.trees == 100 && decoded.patience == 10)
        let now = try JSONDecoder().decode(
            BoostedTrees.Parameters.self, from: JSONEncoder().encode(BoostedTrees.Parameters(depth: 3)))
        #expect(now == BoostedTrees.Parameters(depth: 3))
    }
}
