import Analysis
import Testing

/// Making Data Count XmR rules on constructed series with known answers.
@Suite struct ControlChartTests {
    /// Alternating values: mean 10, every moving range 2, limits 10 ± 5.32; no special cause.
    static let calm: [Double] = (0..<20).map { $0 % 2 == 0 ? 9 : 11 }

    @Test func limitsAreTheMeanPlusOrMinus266MovingRanges() {
        let chart = ControlChart(Self.calm)
        #expect(chart.mean == 10)
        #expect(chart.meanMovingRange == 2)
        #expect(abs(chart.upperLimit - 15.32) < 1e-12 && abs(chart.lowerLimit - 4.68) < 1e-12)
        #expect(!chart.trialLimits)
        #expect(chart.points.allSatisfy { !$0.specialCause })
        #expect(ControlChart(Array(Self.calm.prefix(11))).trialLimits)
    }

    /// A figure that never changes (a rate of 0.0002 run after run) has nothing special about
    /// it, though its sum does not divide back to 0.0002 exactly.
    @Test func aConstantSeriesFlagsNothing() {
        let values = [Double](repeating: 0.0002, count: 7)
        #expect(values.reduce(0, +) / 7 != 0.0002)
        let chart = ControlChart(values)
        #expect(chart.mean == 0.0002 && chart.points.allSatisfy { !$0.specialCause })
    }

    @Test func aPointBeyondTheLimits() {
        var values = Self.calm
        values[10] = 30
        let chart = ControlChart(values)
        #expect(chart.points[10].beyondLimits && chart.points[10].side == .above)
        #expect(chart.points.enumerated().filter { $0.element.beyondLimits }.map(\.offset) == [10])
    }

    @Test func sevenPointsOnOneSideOfTheMeanAreAShift() {
        // 13 points alternating about 10, then 7 at 10.5 (above the mean but within two sigma).
        let values = Array(Self.calm.prefix(13)) + [Double](repeating: 10.6, count: 7)
        let chart = ControlChart(values)
        let shifted = chart.points.enumerated().filter { $0.element.shift }.map(\.offset)
        #expect(shifted == Array(13..<20))
        #expect(chart.points[13].side == .above)
        // Six are not enough.
        let six = ControlChart(Array(Self.calm.prefix(13)) + [Double](repeating: 10.6, count: 6))
        #expect(!six.points.contains { $0.shift })
    }

    @Test func sevenPointsRisingAreATrend() {
        let values = Array(Self.calm.prefix(12)) + [9.0, 9.2, 9.4, 9.6, 9.8, 10.0, 10.2]
        let chart = ControlChart(values)
        #expect(chart.points.enumerated().filter { $0.element.trend }.map(\.offset) == Array(12..<19))
        #expect(chart.points[18].side == .above)
        // A repeated value breaks the run.
        let broken = ControlChart(Array(Self.calm.prefix(12)) + [9.0, 9.2, 9.4, 9.4, 9.6, 9.8, 10.0])
        #expect(!broken.points.contains { $0.trend })
    }

    @Test func twoOfThreeBeyondTwoSigma() {
        // 15 and 15.5 lie between two sigma and the limit; 12 between them does not.
        var values = Self.calm
        values[8] = 15
        values[9] = 12
        values[10] = 15.5
        let chart = ControlChart(values)
        let twoSigma = chart.mean + (chart.upperLimit - chart.mean) * 2 / 3
        #expect(15 > twoSigma && 15.5 < chart.upperLimit && 12 < twoSigma)
        #expect(chart.points.enumerated().filter { $0.element.twoOfThree }.map(\.offset) == [8, 10])
        #expect(chart.points[8].side == .above)
        #expect(!chart.points.contains { $0.beyondLimits })
        // One alone is not.
        var single = Self.calm
        single[8] = 15
        #expect(!ControlChart(single).points.contains { $0.twoOfThree })
    }
}
