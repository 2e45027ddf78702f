import PHMCore

/// Unwarranted variation: each indicator for every locality, PCN and practice, crude and
/// risk-adjusted, with funnel-plot limits and outliers.
///
/// Risk adjustment is indirect standardisation: a unit's expected value applies the
/// organisation's rate in each stratum of age band, sex and deprivation quintile to the unit's
/// people in that stratum. For people with an emergency admission there is a second adjustment,
/// `risk_model`: the expected number is the sum of the risks the model gave each person 12
/// months before as-of, so the ratio compares admissions with what each person's history
/// predicted. Units of one level are compared in one funnel plot with a target ratio of 1.
public enum Variation {
    public enum Method: String, Sendable {
        case standardised = "age_sex_deprivation"
        case riskModel = "risk_model"
    }

    public struct Row: Sendable {
        public var unit: Int
        public var indicator: Int
        public var method: Method
        public var people: Double
        public var observed: Double
        public var expected: Double
        /// The crude value in the indicator's units, and the parent unit's.
        public var crude: Double
        public var parentCrude: Double?
        /// Observed / expected with Byar limits (for cost, normal limits).
        public var ratio: Statistics.Estimate
        public var limits: FunnelPlot.Limits
        public var flag: FunnelPlot.Flag
        /// The funnel's overdispersion: mean squared winsorised z-score and between-unit variance.
        public var phi: Double
        public var tau2: Double
    }

    public static func rows(units: [PlanningUnit], totals: [Totals], indicators: [Indicator]) -> [Row] {
        let squares = Totals.squareSlots(indicators)
        func organisation(_ u: Int) -> Int {
            var u = u
            while let p = units[u].parent { u = p }
            return u
        }
        func crude(_ u: Int, _ i: Int) -> Double {
            let everyone = Inequalities.standard[0].groups[0].slots
            return Inequalities.cell(
                totals[u], indicator: i, kind: indicators[i].kind, square: squares[i], slots: everyone, standardise: false
            ).crude?.value ?? 0
        }
        var rows: [Row] = []
        for level in [Level.locality, .pcn, .practice] {
            let members = units.indices.filter { units[$0].level == level }
            for (i, indicator) in indicators.enumerated() {
                var methods: [Method] = [.standardised]
                if case .anyEmergencyAdmission = indicator.source, members.contains(where: { totals[$0].riskPeople > 0 }) {
                    methods.append(.riskModel)
                }
                for method in methods {
                    var points: [(unit: Int, point: FunnelPlot.Point, people: Double)] = []
                    for u in members {
                        let t = totals[u], reference = totals[organisation(u)]
                        var observed = 0.0, expected = 0.0, variance = 0.0, people = 0.0
                        switch method {
                        case .standardised:
                            for s in 0..<Totals.strataCount where t.stratumPeople[s] > 0 {
                                let n = t.stratumPeople[s], base = reference.stratumPeople[s]
                                people += n
                                observed += t.stratumSums[s * t.width + i]
                                guard base > 0 else { continue }
                                let mean = reference.stratumSums[s * t.width + i] / base
                                expected += n * mean
                                if let sq = squares[i], base > 1 {
                                    let v = (reference.stratumSums[s * t.width + sq] - base * mean * mean) / (base - 1)
                                    variance += n * max(0, v)
                                }
                            }
                        case .riskModel:
                            people = t.riskPeople
                            observed = t.riskObserved
                            expected = t.riskExpected
                        }
                        guard expected > 0 else { continue }
                        points.append((u, FunnelPlot.Point(observed: observed, expected: expected, variance: variance), people))
                    }
                    guard !points.isEmpty else { continue }
                    let kind: FunnelPlot.Kind = indicator.kind == .mean ? .normal : .poisson
                    let funnel = FunnelPlot(kind: kind, points: points.map(\.point))
                    for (k, entry) in points.enumerated() {
                        let point = entry.point
                        let ratio: Statistics.Estimate
                        if kind == .normal {
                            let half = Statistics.z95 * funnel.standardError(k)
                            ratio = .init(value: point.ratio, lower: point.ratio - half, upper: point.ratio + half)
                        } else {
                            ratio = Statistics.indirectlyStandardisedRatio(observed: point.observed, expected: point.expected)!
                        }
                        rows.append(
                            Row(
                                unit: entry.unit, indicator: i, method: method, people: entry.people, observed: point.observed,
                                expected: point.expected, crude: crude(entry.unit, i),
                                parentCrude: units[entry.unit].parent.map { crude($0, i) }, ratio: ratio,
                                limits: funnel.limits(k), flag: funnel.flag(k), phi: funnel.phi, tau2: funnel.tau2))
                    }
                }
            }
        }
        return rows
    }
}
