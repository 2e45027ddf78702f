import Analysis
import Foundation
import PHMCore
import Risk

/// Did an intervention work? Compares the people exposed with matched people who were not.
///
/// The design follows the Improvement Analytics Unit's matched-control evaluations and OHDSI
/// CohortMethod:
/// 1. each exposed person's index month is the month they started; they are eligible when they
///    were in the population at its start and for the whole pre window, and the data covers their
///    pre window (and the year before the index month the covariates read) and post window;
/// 2. a propensity score (logistic regression on the covariates of `Covariates`, all from history
///    before the index month) is fitted on the exposed and a random sample of the not yet
///    exposed, each of those given an index month drawn from the exposed people's;
/// 3. each exposed person is matched, greedily and without replacement, to the nearest people
///    not yet exposed at their index month (risk-set matching), in the logit of the score within
///    a caliper (0.2 standard deviations by default; Austin 2011), eligible at the same index
///    month and equal on the exact strata; controls take their person's index month, and a
///    control exposed later counts only until then;
/// 4. balance is checked covariate by covariate (standardised mean difference below 0.1 after
///    matching, or within what chance gives for the number matched, over all the covariates);
///    effects are withheld from the headline when it fails;
/// 5. effects are differences in differences of rates per person-year, pre window against post
///    window, with 95% intervals from a bootstrap of matched sets (percentile method), beside the
///    naive before-and-after change of the exposed alone, which regression to the mean inflates.
public enum MatchedComparison {
    /// One exposed person and when they started.
    public struct Exposure: Sendable, Equatable {
        /// Row of the evaluation base.
        public var person: Int32
        public var start: Day
        public init(person: Int32, start: Day) {
            self.person = person
            self.start = start
        }
    }

    /// A treated person and their controls, all at one index month.
    public struct MatchedSet: Sendable, Equatable {
        public var month: Int32
        public var treated: Int32
        public var controls: [Int32]
    }

    /// The work behind a result, for checking it against another implementation.
    public struct Detail: Sendable {
        /// The propensity fit's rows (exposed first, labelled 1) and its model.
        public var fit: FeatureMatrix
        public var fitLabels: [UInt8]
        public var model: LogisticRegression
        public var sets: [MatchedSet]
    }

    /// Evaluates an intervention against a base.
    ///
    /// - Parameters:
    ///   - exposures: everyone exposed in the period evaluated, with their start dates.
    ///   - firstExposure: when each person was first exposed, in the period or not (the
    ///     exposures' own starts count whether given here or not). A person is a candidate control
    ///     at an index month only while not yet exposed, and a control's outcomes are counted
    ///     only until they are: risk-set matching (Li, Propert and Rosenbaum 2001). Taking only
    ///     the never-exposed as controls would choose them by what happened to them later.
    ///   - recordKeys: each base person's secret record key; when given, the result is published
    ///     for planning (`PlanningDisclosure`), else its figures are exact.
    /// - Complexity: O(people x index months x covariates) to score candidates, plus the fit and
    ///   O(bootstrap samples x matched sets x months x outcomes).
    public static func run(
        name: String, base: EvaluationBase, exposures: [Exposure], firstExposure: [Int32: Day] = [:],
        options: EvaluationOptions, named: Int? = nil, recordKeys: [UInt8]? = nil,
        deadline: ContinuousClock.Instant? = nil, workers: Int
    ) throws(EvaluationError) -> (result: EvaluationResult, detail: Detail) {
        /// Refuses between stages once the deadline has passed.
        func inTime() throws(EvaluationError) {
            if let deadline, ContinuousClock.now > deadline { throw .tookTooLong }
        }
        let planning = recordKeys.flatMap { $0.count == base.count ? PlanningDisclosure(keys: $0) : nil }
        if recordKeys != nil, planning == nil { throw .invalidOptions("the record keys do not match the evaluation data") }
        /// A step's people as published.
        func step(_ text: String, _ people: [Int32]) -> EvaluationResult.Step {
            .init(step: text, people: planning.map { $0.count(people) } ?? people.count)
        }
        /// How many people a decision may see: under planning the published count (0 where
        /// withheld), so no refusal, warning or choice turns on an exact count.
        func size(_ people: [Int32]) -> Int { planning.map { $0.count(people) ?? 0 } ?? people.count }
        if let problem = options.problem { throw .invalidOptions(problem) }
        // One exposure per person (their earliest), each a row of the base.
        let exposures = Dictionary(
            exposures.filter { $0.person >= 0 && Int($0.person) < base.count }.map { ($0.person, $0) },
            uniquingKeysWith: { $0.start <= $1.start ? $0 : $1 }
        ).values.sorted { $0.person < $1.person }
        var steps = [step("started in the period, in the evaluation data (not opted out)", exposures.map(\.person))]
        if let named {
            // The names a list holds are the user's own: rounded, with no people to key.
            let shown = planning == nil ? named : Suppression.isSmall(named) ? nil : Suppression.rounded(named)
            steps.insert(.init(step: "people the intervention names", people: shown), at: 0)
        }

        // 1. Eligible exposed people and their index months.
        // The month each person is first exposed (Int32.max: never).
        var exposedMonth = [Int32](repeating: .max, count: base.count)
        for (p, day) in firstExposure where p >= 0 && Int(p) < base.count {
            exposedMonth[Int(p)] = min(exposedMonth[Int(p)], day.monthNumber)
        }
        for e in exposures { exposedMonth[Int(e.person)] = min(exposedMonth[Int(e.person)], e.start.monthNumber) }
        // Someone exposed before their start in the period (set to the status earlier, say) would
        // bring exposed months into their pre window.
        let first = exposures.filter { exposedMonth[Int($0.person)] >= $0.start.monthNumber }
        steps.append(step("not exposed before their start in the period", first.map(\.person)))
        let lastMonth = base.asOf.monthNumber - 1  // the last whole month the data covers
        let covered = first.filter { e in
            let m = e.start.monthNumber
            return m - Int32(max(options.preMonths, 12)) >= base.firstMonth && m + Int32(options.postMonths) <= lastMonth
        }
        steps.append(step("index month leaves the pre and post windows within the data", covered.map(\.person)))
        let treated = covered.filter { isEligible(base, Int($0.person), month: $0.start.monthNumber, options: options) }
        steps.append(step("in the population from the pre window through the index month, age in range", treated.map(\.person)))
        let treatedSize = size(treated.map(\.person))
        guard treatedSize >= EvaluationResult.minimumTreated else {
            throw .tooFewExposed(minimum: EvaluationResult.minimumTreated)
        }
        var monthCount: [Int32: Int] = [:]
        for t in treated { monthCount[t.start.monthNumber, default: 0] += 1 }
        let months = monthCount.keys.sorted()
        guard months.count <= EvaluationOptions.maximumIndexMonths else { throw .tooManyIndexMonths }

        // 2. Covariates and the propensity fit.
        var holders = [[Int32]](repeating: [], count: base.conditionIds.count)
        for t in treated {
            let month = t.start.monthNumber
            for row in base.conditions.rows(of: Int(t.person)) where base.conditionMonth[row] < month {
                holders[Int(base.condition[row])].append(t.person)
            }
        }
        // Which conditions are covariates is published (the balance table's rows), so it is
        // decided on published counts too.
        let covariates = Covariates(
            base: base, treatedConditionCounts: holders.map(size), minimumHolders: max(5, treatedSize / 100))
        var rng = Xoshiro(seed: options.seed)
        let cumulative = months.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + Double(monthCount[$1]!)) }
        var sample: [(person: Int32, month: Int32)] = []
        let pool = (0..<base.count).filter { exposedMonth[$0] > months[0] }
        let keep = min(1, Double(options.fitSample) / Double(max(1, pool.count)))
        for p in pool {
            let month = months[rng.pick(cumulative: cumulative)]
            if rng.chance(keep), exposedMonth[p] > month, isEligible(base, p, month: month, options: options) {
                sample.append((Int32(p), month))
            }
        }
        let fitRows = treated.map { ($0.person, $0.start.monthNumber) } + sample.map { ($0.person, $0.month) }
        let fit = matrix(covariates, rows: fitRows, workers: workers)
        let labels = [UInt8](repeating: 1, count: treated.count) + [UInt8](repeating: 0, count: sample.count)
        // Too few to publish the unexposed side of the balance table is too few to compare with.
        guard size(sample.map(\.person)) >= EvaluationResult.minimumTreated else { throw .noControls }
        let model = LogisticRegression.train(fit, labels: labels, lambda: 1)
        let weights = zip(model.coefficients, model.scale).map { Float($0 / $1) }
        var intercept = model.intercept
        for j in model.coefficients.indices { intercept -= model.coefficients[j] * model.mean[j] / model.scale[j] }
        let offset = Float(intercept)
        let fitLogits = (0..<fit.rows).map { i -> Float in
            var logit = offset
            for j in 0..<fit.columns { logit += weights[j] * fit[i, j] }
            return logit
        }
        let logitSD = standardDeviation(fitLogits.map(Double.init))
        let caliper = Float(options.caliper * logitSD)

        // 3. Every eligible person not yet exposed scored at every index month, then matching.
        try inTime()
        let sets = match(
            base: base, covariates: covariates, treated: treated, months: months, pool: pool, exposedMonth: exposedMonth,
            weights: weights, offset: offset, caliper: caliper, options: options, deadline: deadline, workers: workers)
        // Past the deadline, scoring stopped part-way: say so rather than report too few matched.
        try inTime()
        steps.append(step("matched to at least one control within the caliper", sets.map(\.treated)))
        steps.append(step("controls matched", sets.flatMap(\.controls)))
        let matchedSize = size(sets.map(\.treated))
        guard matchedSize >= EvaluationResult.minimumTreated else {
            throw .tooFewMatched(minimum: EvaluationResult.minimumTreated)
        }

        try inTime()
        // 4. Balance before (exposed against the fit sample) and after matching.
        let controlRows = sets.flatMap { s in s.controls.map { ($0, s.month) } }
        let controlWeights = sets.flatMap { s in s.controls.map { _ in 1 / Float(s.controls.count) } }
        // The matched exposed are rows of the fit already (each exposed person once, in `treated` order).
        let fitRow = Dictionary(uniqueKeysWithValues: treated.enumerated().map { ($1.person, Int32($0)) })
        let matchedTreated = fit.subset(sets.map { fitRow[$0.treated]! })
        let matchedControls = matrix(covariates, rows: controlRows, workers: workers)
        let before = (0..<fit.columns).map { j in
            (
                stats(fit, column: j, rows: 0..<treated.count, weights: nil),
                stats(fit, column: j, rows: treated.count..<fit.rows, weights: nil)
            )
        }
        var balance: [EvaluationResult.BalanceRow] = []
        for j in 0..<fit.columns {
            let (t0, c0) = before[j]
            let t1 = stats(matchedTreated, column: j, rows: 0..<matchedTreated.rows, weights: nil)
            let c1 = stats(matchedControls, column: j, rows: 0..<matchedControls.rows, weights: controlWeights)
            // One denominator, before matching, so the change shows the means moving (Stuart 2010).
            let sd = ((t0.variance + c0.variance) / 2).squareRoot()
            balance.append(
                .init(
                    covariate: covariates.ids[j], description: covariates.descriptions[j], treatedBefore: t0.mean,
                    controlsBefore: c0.mean, smdBefore: smd(t0.mean, c0.mean, sd), treatedAfter: t1.mean,
                    controlsAfter: c1.mean, smdAfter: smd(t1.mean, c1.mean, sd), fails: false))
        }
        // A matched comparison of this size differs by chance alone: a standardised difference
        // has a standard deviation of about sqrt(1/n1 + 1/n2). Balance fails on a covariate
        // beyond both the threshold and the bound chance passes on any of the covariates only 5%
        // of the time (Bonferroni over them), so small programmes are not withheld for imbalance
        // a randomised trial of the same size would show.
        // Under planning the limit comes from the published counts, and balance is judged on the
        // published table, so neither the limit nor a flag turns on an exact count or mean.
        let controlsSize = size(controlRows.map(\.0))
        let z = Self.twoSidedNormalBound(0.05 / Double(balance.count))
        let chance = z * (1 / Double(matchedSize) + 1 / Double(max(1, controlsSize))).squareRoot()
        let limit = max(options.balanceThreshold, chance)
        if let planning {
            balance = publishedBalance(
                planning, balance, fit: fit, treated: treated.count, matchedTreated: matchedTreated,
                matchedControls: matchedControls, controlWeights: controlWeights, sets: sets, controlRows: controlRows,
                fitPeople: fitRows.map(\.0))
        }
        for i in balance.indices { balance[i].fails = abs(balance[i].smdAfter) >= limit }
        let unbalanced = balance.filter(\.fails).map(\.covariate)
        let beyondThreshold = balance.filter { abs($0.smdAfter) >= options.balanceThreshold && !$0.fails }.map(\.covariate)

        // Overlap: preference scores (Walker et al. 2013), the score with the exposed share removed.
        let share = Double(treated.count) / Double(fit.rows)
        let shift = Float(log(share / (1 - share)))
        let preference = fitLogits.map { 1 / (1 + exp(-Double($0 - shift))) }
        let overlap =
            planning?.overlap(
                preference: preference, people: fitRows.map(\.0), treated: treated.count,
                bins: EvaluationResult.Overlap.binCount)
            ?? EvaluationResult.Overlap(preference: preference, treated: treated.count, bins: EvaluationResult.Overlap.binCount)

        // 5. Effects.
        try inTime()
        var effects = Effects(
            base: base, sets: sets,
            outcomes: options.outcomes + options.negativeControls.filter { !options.outcomes.contains($0) },
            pre: options.preMonths, post: options.postMonths, exposedMonth: exposedMonth)
        let affordable = Int(EvaluationOptions.bootstrapBudget / Double(max(1, matchedSize * effects.width)))
        let samples = min(options.bootstrapSamples, max(200, affordable))
        // Capped before any estimate is drawn, at caps fixed by the whole base (the same for any
        // evaluation of the run), so the bound on what one set moves holds whoever is in it.
        let capped = planning.map { _ in
            effects.winsorise(
                caps: PlanningDisclosure.windowCaps(
                    base, outcomes: effects.outcomes, pre: options.preMonths, post: options.postMonths))
        }
        let estimates = try effects.estimate(
            samples: samples, seed: options.seed, workers: workers, deadline: deadline,
            planning: planning.map { planning in
                Effects.Planning(
                    treatedKey: planning.key(sets.map(\.treated)), controlsKey: planning.key(controlRows.map(\.0)),
                    caps: capped!)
            })
        var warnings: [String] = []
        if samples < options.bootstrapSamples {
            warnings.append(
                "fewer bootstrap samples were drawn than the \(options.bootstrapSamples) asked for (never under 200): the evaluation is large"
            )
        }
        if !unbalanced.isEmpty {
            warnings.append(
                "balance failed: \(unbalanced.count) covariate(s) differ after matching by a standardised mean difference of \(String(format: "%.2f", limit)) or more (\(unbalanced.prefix(5).joined(separator: ", "))); effects are withheld from the headline"
            )
        }
        if !beyondThreshold.isEmpty {
            warnings.append(
                "\(beyondThreshold.count) covariate(s) differ by \(options.balanceThreshold) or more after matching, within what chance gives for the number matched (\(beyondThreshold.prefix(5).joined(separator: ", ")))"
            )
        }
        if matchedSize < EvaluationResult.fewMatched {
            warnings.append(
                "fewer than \(EvaluationResult.fewMatched) exposed people were matched: the intervals are wide and the estimates unstable, so read the interval rather than the estimate"
            )
        }
        if matchedSize < treatedSize * 9 / 10 {
            warnings.append(
                "more than a tenth of the eligible exposed people found no control within the caliper: the effect is for those matched, who may differ from the rest"
            )
        }
        var results: [EvaluationResult.Effect] = []
        for (k, measure) in effects.outcomes.enumerated() {
            var e = estimates.effects[k]
            e.negativeControl = options.negativeControls.contains(measure) && !options.outcomes.contains(measure)
            if e.negativeControl, let low = e.relative.low, let high = e.relative.high, low > 0 || high < 0 {
                warnings.append(
                    "negative control \(measure.rawValue) changed (\(e.relative.describe(percent: true))): residual bias is likely, read the other effects with caution"
                )
            }
            results.append(e)
        }
        let result = EvaluationResult(
            name: name, runId: base.runId, asOf: base.asOf.description, options: options, steps: steps,
            indexMonths: months.map { month in
                let people = treated.filter { $0.start.monthNumber == month }.map(\.person)
                return .init(
                    month: Day(firstOfMonth: month).description, treated: planning.map { $0.count(people) } ?? people.count)
            },
            balance: balance, balanceLimit: limit, balanced: unbalanced.isEmpty, overlap: overlap,
            propensityModel: planning != nil
                ? []
                : zip(covariates.ids, model.coefficients.indices).map { id, j in
                    .init(covariate: id, coefficient: model.coefficients[j] / model.scale[j])
                },
            caliperLogit: planning.flatMap {
                Suppression.randomlyRounded(Double(caliper), step: 0.01, key: $0.key(fitRows.map(\.0)))
            } ?? Double(caliper), effects: results,
            eventStudy: estimates.eventStudy, warnings: warnings, planning: planning != nil)
        return (result, Detail(fit: fit, fitLabels: labels, model: model, sets: sets))
    }

    /// The balance table as planning publishes it: each mean over values held within the
    /// covariate's fixed bounds (`Covariates.bounds`), rounded at random to a step at least the
    /// bounds' width over the group's published count less 4 (a published count can exceed the
    /// true one by up to 4); the controls' mean after matching weights each set once, so one
    /// control moves it by at most the width over the sets. Standardised differences are the
    /// rounded means' difference over the pooled spread before matching (from rounded variances),
    /// to two decimals at random.
    static func publishedBalance(
        _ planning: PlanningDisclosure, _ exact: [EvaluationResult.BalanceRow], fit: FeatureMatrix, treated n: Int,
        matchedTreated: FeatureMatrix, matchedControls: FeatureMatrix, controlWeights: [Float],
        sets: [MatchedSet], controlRows: [(Int32, Int32)], fitPeople: [Int32]
    ) -> [EvaluationResult.BalanceRow] {
        let matched = sets.map(\.treated)
        let groups: [(key: UInt8, count: Int?)] = [
            (planning.key(fitPeople[..<n]), planning.count(fitPeople[..<n])),
            (planning.key(fitPeople[n...]), planning.count(fitPeople[n...])),
            (planning.key(matched), planning.count(matched)),
            (planning.key(controlRows.map(\.0)), planning.count(matched)),
        ]
        return exact.enumerated().map { j, row in
            let range = Covariates.bounds(row.covariate), spread = Double(range.upperBound - range.lowerBound)
            let values = [
                stats(fit, column: j, rows: 0..<n, weights: nil, within: range),
                stats(fit, column: j, rows: n..<fit.rows, weights: nil, within: range),
                stats(matchedTreated, column: j, rows: 0..<matchedTreated.rows, weights: nil, within: range),
                stats(matchedControls, column: j, rows: 0..<matchedControls.rows, weights: controlWeights, within: range),
            ]
            let means = values.enumerated().map { g, value in
                // Every group has at least 10 people (checked before), so a mean is always published.
                Suppression.randomlyRounded(
                    value.mean, step: spread / Double(max(1, (groups[g].count ?? 0) - 4)),
                    key: Suppression.key(groups[g].key, j)) ?? .nan
            }
            // The spread before matching, as the exact table has it (the exposed and the unexposed
            // pooled), from variances rounded at random to a step at least what one person moves
            // them by (the squared width over the published count less 4).
            let steps = [0, 1].map { spread * spread / Double(max(1, (groups[$0].count ?? 0) - 4)) }
            let variances = [0, 1].map { g in
                Suppression.randomlyRounded(values[g].variance, step: steps[g], key: Suppression.key(groups[g].key, 1_000 + j))
                    ?? 0
            }
            // Never below the rounding's own size: variances rounded to 0 must not make any
            // difference in means look like none.
            let sd = max((max(0, variances[0] + variances[1]) / 2).squareRoot(), steps.min()!.squareRoot())
            func difference(_ a: Double, _ b: Double, _ key: UInt8) -> Double {
                Suppression.randomlyRounded(smd(a, b, sd), step: 0.01, key: Suppression.key(key, j)) ?? 0
            }
            var published = row
            (published.treatedBefore, published.controlsBefore) = (means[0], means[1])
            (published.treatedAfter, published.controlsAfter) = (means[2], means[3])
            published.smdBefore = difference(means[0], means[1], groups[0].key &+ groups[1].key)
            published.smdAfter = difference(means[2], means[3], groups[2].key &+ groups[3].key)
            return published
        }
    }

    /// Whether a person can be compared at an index month: in the population from the start of
    /// the pre window to the end of the index month, and of an eligible age. Through the whole
    /// index month, for the exposed and controls alike: an exposed person is known to be there
    /// on their start day, part-way through it, and a control who died before that day would
    /// bring a pre window of use and no post window, making the controls' rates fall more.
    public static func isEligible(_ base: EvaluationBase, _ p: Int, month: Int32, options: EvaluationOptions) -> Bool {
        guard base.isPresent(p, atStartOf: month + 1), base.from[p] <= Day(firstOfMonth: month - Int32(options.preMonths))
        else { return false }
        let age = base.age(of: p, atStartOf: month)
        return age >= options.minimumAge && age <= options.maximumAge
    }

    static func matrix(_ covariates: Covariates, rows: [(Int32, Int32)], workers: Int) -> FeatureMatrix {
        let features = zip(covariates.ids, covariates.descriptions).map { Feature($0, $1, .value) }
        var x = FeatureMatrix(features: features, rows: rows.count)
        let p = covariates.count, n = rows.count
        let parts = Parallel.ranges(n, parts: workers * 4)
        x.values.withUnsafeMutableBufferPointer { values in
            let out = Unchecked(values.baseAddress!)
            _ = Parallel.map(parts.count) { k -> Int in
                var buffer = [Float](repeating: 0, count: p)
                buffer.withUnsafeMutableBufferPointer { b in
                    for i in parts[k] {
                        covariates.fill(person: Int(rows[i].0), month: rows[i].1, into: b.baseAddress!)
                        for j in 0..<p { out.value[j * n + i] = b[j] }
                    }
                }
                return 0
            }
        }
        return x
    }

    static func match(
        base: EvaluationBase, covariates: Covariates, treated: [Exposure], months: [Int32], pool: [Int],
        exposedMonth: [Int32], weights: [Float], offset: Float, caliper: Float, options: EvaluationOptions,
        deadline: ContinuousClock.Instant? = nil, workers: Int
    ) -> [MatchedSet] {
        let hierarchy = base.hierarchy
        /// The exact-matching key of a person whose covariates at the month are in `x`.
        @Sendable func stratum(_ p: Int, _ x: UnsafeMutablePointer<Float>) -> Int {
            var key = 0
            for s in options.exact {
                switch s {
                case .sex: key = key &* 7 &+ Int(base.sex[p].rawValue)
                case .practice: key = key &* 1_000_003 &+ Int(base.practice[p])
                case .pcn: key = key &* 1_000_003 &+ Int(hierarchy.practicePCN[Int(base.practice[p])])
                case .locality: key = key &* 1_000_003 &+ Int(hierarchy.practiceLocality[Int(base.practice[p])])
                case .recentEmergencyAdmissions:
                    // Capped as floats first: a count too large for an Int must not trap.
                    let year = Int(min(5, x[Covariates.emergency12m])), quarter = Int(min(2, x[Covariates.emergency3m]))
                    key = key &* 31 &+ year * 3 + quarter
                }
            }
            return key
        }
        struct Candidate { var logit: Float; var person: Int32; var stratum: Int }
        // Candidates by index month, each part of the pool scored on its own core; parts past the
        // deadline are skipped (the caller then refuses).
        let parts = Parallel.ranges(pool.count, parts: max(workers * 4, pool.count / 20_000))
        let scored = Parallel.map(parts.count) { k -> [[Candidate]] in
            var out = [[Candidate]](repeating: [], count: months.count)
            if let deadline, ContinuousClock.now > deadline { return out }
            var buffer = [Float](repeating: 0, count: covariates.count)
            buffer.withUnsafeMutableBufferPointer { b in
                for i in parts[k] {
                    let p = pool[i]
                    for (m, month) in months.enumerated()
                    where exposedMonth[p] > month && isEligible(base, p, month: month, options: options) {
                        covariates.fill(person: p, month: month, into: b.baseAddress!)
                        var logit = offset
                        for j in 0..<weights.count { logit += weights[j] * b[j] }
                        out[m].append(Candidate(logit: logit, person: Int32(p), stratum: stratum(p, b.baseAddress!)))
                    }
                }
            }
            return out
        }
        var used = Set<Int32>()
        var sets: [MatchedSet] = []
        var rng = Xoshiro(seed: options.seed, 1)
        var buffer = [Float](repeating: 0, count: covariates.count)
        for (m, month) in months.enumerated() {
            var byStratum: [Int: [Candidate]] = [:]
            for part in scored { for c in part[m] { byStratum[c.stratum, default: []].append(c) } }
            var groups: [Int: (logits: [Float], people: [Int32], right: [Int32], left: [Int32])] = [:]
            for (key, var candidates) in byStratum {
                candidates.sort { ($0.logit, $0.person) < ($1.logit, $1.person) }
                let n = candidates.count
                groups[key] = (
                    candidates.map(\.logit), candidates.map(\.person), (0...n).map(Int32.init), (-1..<n).map(Int32.init)
                )
            }
            // The exposed of this month in a random order, each seeking one control per pass.
            var exposed = treated.filter { $0.start.monthNumber == month }.map { t -> (Int32, Float, Int) in
                buffer.withUnsafeMutableBufferPointer { b in
                    covariates.fill(person: Int(t.person), month: month, into: b.baseAddress!)
                    var logit = offset
                    for j in 0..<weights.count { logit += weights[j] * b[j] }
                    return (t.person, logit, stratum(Int(t.person), b.baseAddress!))
                }
            }
            exposed.shuffle(using: &rng)
            var controls = [[Int32]](repeating: [], count: exposed.count)
            for _ in 0..<options.controlsPerPerson {
                for (i, t) in exposed.enumerated() {
                    guard var g = groups[t.2] else { continue }
                    groups[t.2] = nil  // mutate in place without copying
                    if let j = nearest(t.1, &g, used: &used, caliper: caliper) {
                        controls[i].append(g.people[j])
                    }
                    groups[t.2] = g
                }
            }
            for (i, t) in exposed.enumerated() where !controls[i].isEmpty {
                sets.append(MatchedSet(month: month, treated: t.0, controls: controls[i]))
            }
        }
        return sets.sorted { ($0.month, $0.treated) < ($1.month, $1.treated) }
    }

    /// The unused candidate nearest `logit` within the caliper, marked used; nil when none.
    ///
    /// `right[i]` and `left[i]` point towards the nearest unused candidate at or beyond `i` on
    /// each side (union-find with path halving), so used runs are skipped in near-constant time.
    static func nearest(
        _ logit: Float, _ g: inout (logits: [Float], people: [Int32], right: [Int32], left: [Int32]), used: inout Set<Int32>,
        caliper: Float
    ) -> Int? {
        let n = g.logits.count
        func findRight(_ i: Int) -> Int {
            var i = i
            while i < n, Int(g.right[i]) != i {
                g.right[i] = g.right[Int(g.right[i])]
                i = Int(g.right[i])
            }
            return i
        }
        func findLeft(_ i: Int) -> Int {
            var i = i
            while i >= 0, Int(g.left[i + 1]) != i {
                g.left[i + 1] = g.left[Int(g.left[i + 1]) + 1]
                i = Int(g.left[i + 1])
            }
            return i
        }
        func remove(_ i: Int) {
            g.right[i] = Int32(i + 1)
            g.left[i + 1] = Int32(i - 1)
        }
        // First candidate with a logit at or above the person's.
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if g.logits[mid] < logit { lo = mid + 1 } else { hi = mid }
        }
        while true {
            let r = findRight(lo), l = findLeft(lo - 1)
            let dr = r < n ? g.logits[r] - logit : .infinity
            let dl = l >= 0 ? logit - g.logits[l] : .infinity
            guard min(dr, dl) <= caliper else { return nil }
            let pick = dr <= dl ? r : l
            remove(pick)
            // A person scored at several index months is used at most once.
            if used.insert(g.people[pick]).inserted { return pick }
        }
    }

    /// The (weighted) mean and variance of a column over rows, each value held `within` a range when given.
    static func stats(
        _ x: FeatureMatrix, column j: Int, rows: Range<Int>, weights: [Float]?, within range: ClosedRange<Float>? = nil
    ) -> (mean: Double, variance: Double) {
        var sw = 0.0, s = 0.0, ss = 0.0
        for i in rows {
            let w = Double(weights?[i - rows.lowerBound] ?? 1)
            let v = Double(range.map { min($0.upperBound, max($0.lowerBound, x[i, j])) } ?? x[i, j])
            sw += w
            s += w * v
            ss += w * v * v
        }
        guard sw > 0 else { return (0, 0) }
        let mean = s / sw
        return (mean, max(0, ss / sw - mean * mean))
    }

    static func smd(_ a: Double, _ b: Double, _ sd: Double) -> Double { sd > 1e-12 ? (a - b) / sd : 0 }

    /// The z with P(|Z| > z) = p for a standard normal Z, by bisection on erfc.
    static func twoSidedNormalBound(_ p: Double) -> Double {
        var lo = 0.0, hi = 40.0
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if erfc(mid / 2.0.squareRoot()) > p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case invalidOptions(String)
    case tooFewExposed(minimum: Int)
    case tooFewMatched(minimum: Int)
    case tooManyIndexMonths
    case noControls
    case noBase(run: Int64)
    case invalidList(String)
    case tookTooLong

    public var description: String {
        switch self {
        case .invalidOptions(let why): "the evaluation's options cannot be used: \(why)"
        case .tooFewExposed(let minimum):
            "fewer than \(minimum) exposed people are eligible for comparison: is the start period covered by the data, with a full post window before as-of?"
        case .tooFewMatched(let minimum):
            "fewer than \(minimum) exposed people found a control within the caliper: widen the caliper or drop exact strata"
        case .tooManyIndexMonths:
            "the start dates span more than \(EvaluationOptions.maximumIndexMonths) months: evaluate the periods one at a time"
        case .noControls: "no one who was not exposed is eligible for comparison"
        case .invalidList(let why): why
        case .tookTooLong: "the evaluation took too long: try fewer index months, a narrower place or fewer outcomes"
        case .noBase(let run):
            "run \(run) has no evaluation data (it was saved by an earlier version); run the pipeline again"
        }
    }
}
