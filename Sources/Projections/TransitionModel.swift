import Foundation
import PHMCore

/// Yearly transition probabilities for every cell, estimated from observed transitions.
///
/// A year's outcome is taken as a sequence of choices: dying or not; if not, leaving or not; if
/// staying, gaining nothing or something; and so on through the kinds of change (a
/// stick-breaking, or continuation-ratio, form of the multinomial). Each choice is a proportion,
/// estimated for each cell hierarchically: many cells are small (a deprivation quintile of one
/// sex at one age with eight conditions), so a cell's proportion is drawn from a Beta
/// distribution centred on its age band and state's (over both sexes and every quintile) moved
/// by its sex and quintile's ratio over every age and state (`standardised`), whose own is
/// drawn from one centred on the age band's (over every state) moved by the state's ratio over
/// every age band. How tightly each level
/// holds to its parent, its concentration, is estimated from the data for each choice by
/// maximising the beta-binomial likelihood over a grid (empirical Bayes estimation of many small
/// proportions: Efron and Morris 1975; Kleinman 1973): where the cells of an age band and state
/// differ in their death rates no more than chance would make them, they share their pooled rate;
/// where men die more than women, each keeps its own, whatever the other choices do. Outcomes are
/// relative (conditions gained, death, leaving), so pooling across states is meaningful; the cap
/// at 9 or more conditions is applied when a person moves.
///
/// Uncertainty: a draw takes each age band's proportions from their posterior (Jeffreys prior),
/// each age band and state's from theirs around them, then each cell's around those, so a cell
/// seen in few people varies as widely as its group does, and a group seen in thousands hardly
/// at all.
public struct TransitionModel: Sendable {
    /// Posterior mean probabilities by cell and outcome.
    public let mean: [Double]
    /// Observed counts by cell and outcome.
    let counts: [Double]
    /// Pooled counts by age band, and by age band and state.
    let bandCounts: [Double]
    let groupCounts: [Double]
    /// Each age band's proportion for each choice, and the concentrations of the levels below:
    /// by age band and choice, and by age band and state and choice.
    let bandChoice: [[Double]]
    public let bandConcentration: [[Double]]
    public let groupConcentration: [[Double]]
    /// Each choice's choices made and not made, seen and expected, for each sex and quintile,
    /// and for each state (`standardised`).
    let standardised: [[Standardised]]
    let stateStandardised: [[Standardised]]

    /// One kind of row's (a sex and quintile's, or a state's) choices made (`yes`) and not made
    /// (`no`): seen, and expected at their parents' proportions, each with ten added.
    struct Standardised: Sendable {
        var yes: (seen: Double, expected: Double)
        var no: (seen: Double, expected: Double)

        /// The side the ratio is taken on, for every row of the kind alike: the rarer, so that a
        /// ratio a little above 1 on a common choice does not multiply its small remainder many
        /// times over.
        var onYes: Bool { yes.expected <= no.expected }

        var ratio: Ratio {
            onYes ? Ratio(value: yes.seen / yes.expected, onYes: true) : Ratio(value: no.seen / no.expected, onYes: false)
        }

        /// The ratio drawn from its posterior: the choices made (or not), a Poisson count, over
        /// those expected.
        func draw(_ rng: inout Xoshiro) -> Ratio {
            let side = onYes ? yes : no
            return Ratio(value: rng.gamma(shape: side.seen, mean: side.seen) / side.expected, onYes: onYes)
        }
    }

    /// A standardised ratio and the side it is on.
    struct Ratio: Sendable {
        var value: Double
        var onYes: Bool
    }

    /// The order of the choices: each outcome against those after it; the last outcome is what
    /// remains.
    static let order = [ProjectionSpace.death, ProjectionSpace.exit, 0, 1, 2, 3, 4, 5]
    static var choices: Int { order.count - 1 }
    /// The concentrations tried: from cells that keep nearly their own rates to cells that share
    /// their group's.
    static let grid: [Double] = [1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000]

    public init(_ history: History) {
        let space = ProjectionSpace.self
        let o = space.outcomes
        let counts = history.counts
        var band = [Double](repeating: 0, count: space.ages * o)
        var group = [Double](repeating: 0, count: space.ages * space.states * o)
        for cell in 0..<space.cells {
            let (a, _, _, s) = space.parts(cell)
            for k in 0..<o {
                band[a * o + k] += counts[cell * o + k]
                group[(a * space.states + s) * o + k] += counts[cell * o + k]
            }
        }
        // The top level: each choice as the age band made it; a choice nobody in the band faced
        // is not made (nobody dies, leaves or changes).
        let bandChoice = (0..<space.ages).map { a -> [Double] in
            Self.splits(band[a * o..<(a + 1) * o]).map { $0.total > 0 ? $0.yes / $0.total : 0 }
        }
        // Each state's ratios over every age band: how much more often people with more
        // conditions die, or gain another, than their age band as a whole.
        let stateStandardised = Self.standardised(
            group, rows: space.ages * space.states, kinds: space.states, kind: { $0 % space.states },
            state: { $0 % space.states }, parent: { bandChoice[$0 / space.states] })
        let stateRatio = stateStandardised.map { $0.map(\.ratio) }
        var bandConcentration = [[Double]](repeating: [], count: space.ages)
        var groupChoice = [[Double]](repeating: [], count: space.ages * space.states)
        for a in 0..<space.ages {
            let rows = (0..<space.states).map { s in
                Self.splits(group[(a * space.states + s) * o..<(a * space.states + s + 1) * o])
            }
            let centres = (0..<space.states).map { s in
                (0..<Self.choices).map { j in Self.centre(bandChoice[a][j], stateRatio[j][s]) }
            }
            // States for which a choice is fixed say nothing about how its groups spread.
            let w = (0..<Self.choices).map { j in
                let free = (0..<space.states).filter { Self.fixed($0, j) == nil }
                return Self.concentration(free.map { rows[$0][j] }, around: free.map { centres[$0][j] })
            }
            bandConcentration[a] = w
            for s in 0..<space.states {
                groupChoice[a * space.states + s] = (0..<Self.choices).map { j in
                    (rows[s][j].yes + w[j] * centres[s][j]) / (rows[s][j].total + w[j])
                }
            }
        }
        var members = [[Int]](repeating: [], count: space.ages * space.states)
        for cell in 0..<space.cells {
            let (a, _, _, s) = space.parts(cell)
            members[a * space.states + s].append(cell)
        }
        let standardised = Self.standardised(
            counts, rows: space.cells, kinds: space.sexes * space.quintiles, kind: Self.kind,
            state: { space.parts($0).state },
            parent: { cell in
                let (a, _, _, s) = space.parts(cell)
                return groupChoice[a * space.states + s]
            })
        let ratio = standardised.map { $0.map(\.ratio) }
        var groupConcentration = [[Double]](repeating: [], count: space.ages * space.states)
        var mean = [Double](repeating: 0, count: space.cells * o)
        for g in members.indices {
            let rows = members[g].map { Self.splits(counts[$0 * o..<($0 + 1) * o]) }
            // Each cell is centred on its group's proportion moved by its sex and quintile's ratio.
            let centres = members[g].map { cell in
                (0..<Self.choices).map { j in Self.centre(groupChoice[g][j], ratio[j][Self.kind(cell)]) }
            }
            let w = (0..<Self.choices).map { j in
                Self.concentration(rows.map { $0[j] }, around: centres.map { $0[j] })
            }
            groupConcentration[g] = w
            let state = g % space.states
            for (c, (cell, row)) in zip(members[g], rows).enumerated() {
                let q = (0..<Self.choices).map { j in
                    Self.fixed(state, j) ?? (row[j].yes + w[j] * centres[c][j]) / (row[j].total + w[j])
                }
                for (k, p) in Self.outcomes(q).enumerated() { mean[cell * o + k] = p }
            }
        }
        self.mean = mean
        self.standardised = standardised
        self.stateStandardised = stateStandardised
        self.counts = counts
        bandCounts = band
        groupCounts = group
        self.bandChoice = bandChoice
        self.bandConcentration = bandConcentration
        self.groupConcentration = groupConcentration
    }

    /// A choice a state cannot make differently: someone with major illness cannot begin it,
    /// and someone with 9 or more conditions cannot rise further. Such a choice is fixed (to 1:
    /// the only way left), not estimated, so no probability leaks into what cannot happen.
    /// Choices, in `order`: death, exit, no change, +1, +2, major only, +1 with major.
    static func fixed(_ state: Int, _ j: Int) -> Double? {
        let major = state % 2 == 1, capped = state / 2 >= ProjectionSpace.ltcStates - 1
        switch (major, capped) {
        case (true, true): return j == 2 ? 1 : nil  // nothing can change
        case (true, false): return j == 4 ? 1 : nil  // a change is +1 or +2
        case (false, true): return j == 3 || j == 4 ? 0 : j == 5 ? 1 : nil  // a change is major only
        case (false, false): return nil
        }
    }

    /// Each choice's count of people who made it and of people who faced it.
    static func splits(_ row: ArraySlice<Double>) -> [(yes: Double, total: Double)] {
        let start = row.startIndex
        var remaining = row.reduce(0, +)
        return (0..<choices).map { j in
            let yes = row[start + order[j]]
            defer { remaining -= yes }
            return (yes, remaining)
        }
    }

    /// Outcome probabilities from the proportions of the choices.
    static func outcomes(_ q: [Double]) -> [Double] {
        var p = [Double](repeating: 0, count: ProjectionSpace.outcomes)
        var left = 1.0
        for j in 0..<choices {
            p[order[j]] = left * q[j]
            left *= 1 - q[j]
        }
        p[order[choices]] = left
        return p
    }

    /// A cell's sex and quintile together (`sex * quintiles + quintile`).
    static func kind(_ cell: Int) -> Int {
        let (_, sex, quintile, _) = ProjectionSpace.parts(cell)
        return sex * ProjectionSpace.quintiles + quintile
    }

    /// A parent's proportion moved by its kind's ratio: on a rare choice (dying), the proportion
    /// times the ratio of choices made; on a common one (no change), one less the remainder times
    /// the ratio of choices not made. A proportion of 0 or 1 stays.
    static func centre(_ proportion: Double, _ ratio: Ratio) -> Double {
        guard proportion > 0 && proportion < 1 else { return proportion }
        return ratio.onYes
            ? min(0.999, proportion * ratio.value) : max(0.001, 1 - (1 - proportion) * ratio.value)
    }

    /// For each choice, each kind of row's ratios of the choices made, and not made, to those its
    /// rows' parents would make (indirect standardisation): how much more often women, or people
    /// in the most deprived quintile, gain a condition or die than others of their age and state
    /// (cells, by sex and quintile); how much more often people with five conditions die than
    /// their age band as a whole (groups, by state). Each row is centred on its parent's
    /// proportion moved by its kind's ratios (`centre`), so a gradient that runs through every
    /// age is kept where each row alone is too small to show it. Ten expected choices are added
    /// to each side, so a ratio from few people stays near 1.
    static func standardised(
        _ counts: [Double], rows: Int, kinds: Int, kind: (Int) -> Int, state: (Int) -> Int, parent: (Int) -> [Double]
    ) -> [[Standardised]] {
        let o = ProjectionSpace.outcomes
        var out = [[Standardised]](
            repeating: [Standardised](repeating: Standardised(yes: (10, 10), no: (10, 10)), count: kinds), count: choices)
        for r in 0..<rows {
            let k = kind(r), s = state(r), p = parent(r)
            for (j, row) in splits(counts[r * o..<(r + 1) * o]).enumerated() where fixed(s, j) == nil {
                out[j][k].yes.seen += row.yes
                out[j][k].yes.expected += row.total * p[j]
                out[j][k].no.seen += row.total - row.yes
                out[j][k].no.expected += row.total * (1 - p[j])
            }
        }
        return out
    }

    /// The concentration on the grid under which the rows' counts are likeliest, each row's
    /// proportion drawn from a Beta distribution with that concentration around its mean.
    static func concentration(_ rows: [(yes: Double, total: Double)], around means: [Double]) -> Double {
        // A proportion of 0 or 1 has no spread to estimate, and rows nobody faced say nothing:
        // they hold to their parent.
        guard means.allSatisfy({ $0 > 0 && $0 < 1 }), rows.contains(where: { $0.total > 0 }) else { return grid.last! }
        func logBeta(_ a: Double, _ b: Double) -> Double { lgamma(a) + lgamma(b) - lgamma(a + b) }
        var best = grid[0], bestLikelihood = -Double.infinity
        for w in grid {
            var likelihood = 0.0
            for (row, mean) in zip(rows, means) where row.total > 0 {
                likelihood +=
                    logBeta(row.yes + w * mean, row.total - row.yes + w * (1 - mean)) - logBeta(w * mean, w * (1 - mean))
            }
            // Ties go to the larger concentration: pool unless the data say otherwise.
            if likelihood >= bestLikelihood {
                best = w
                bestLikelihood = likelihood
            }
        }
        return best
    }

    /// One draw of every cell's probabilities from the posterior.
    public func draw(seed: UInt64, _ index: Int) -> [Float] {
        let space = ProjectionSpace.self
        let o = space.outcomes, choices = Self.choices, order = Self.order
        var rng = Xoshiro(seed: seed, UInt64(index), 19)
        func beta(_ a: Double, _ b: Double) -> Double {
            let x = a > 1e-12 ? rng.gamma(shape: a, mean: a) : 0, y = b > 1e-12 ? rng.gamma(shape: b, mean: b) : 0
            return x + y > 0 ? x / (x + y) : a / max(a + b, 1e-300)
        }
        /// Draws each choice's proportion around `centre` with concentration `w`, from a row of
        /// counts, into `q`.
        func choose(
            _ row: Int, state: Int, in counts: [Double], around centre: (Int) -> Double, _ w: [Double],
            into q: inout [Double]
        ) {
            var remaining = 0.0
            for k in 0..<o { remaining += counts[row * o + k] }
            for j in 0..<choices {
                let yes = counts[row * o + order[j]], m = centre(j)
                q[j] = Self.fixed(state, j) ?? beta(yes + w[j] * m, remaining - yes + w[j] * (1 - m))
                remaining -= yes
            }
        }
        let stateRatio = stateStandardised.map { kinds in kinds.map { $0.draw(&rng) } }
        var groups = [Double](repeating: 0, count: space.ages * space.states * choices)
        var q = [Double](repeating: 0, count: choices)
        for a in 0..<space.ages {
            // The age band's own proportions, from their Jeffreys posterior.
            var band = [Double](repeating: 0, count: choices)
            var remaining = 0.0
            for k in 0..<o { remaining += bandCounts[a * o + k] }
            for j in 0..<choices {
                let yes = bandCounts[a * o + order[j]]
                band[j] = remaining > 0 ? beta(yes + 0.5, remaining - yes + 0.5) : bandChoice[a][j]
                remaining -= yes
            }
            for s in 0..<space.states {
                let g = a * space.states + s
                choose(
                    g, state: s, in: groupCounts, around: { Self.centre(band[$0], stateRatio[$0][s]) },
                    bandConcentration[a], into: &q)
                for j in 0..<choices { groups[g * choices + j] = q[j] }
            }
        }
        let ratio = standardised.map { kinds in kinds.map { $0.draw(&rng) } }
        var out = [Float](repeating: 0, count: counts.count)
        for cell in 0..<space.cells {
            let (a, _, _, s) = space.parts(cell)
            let g = a * space.states + s
            let k = Self.kind(cell)
            choose(
                cell, state: s, in: counts, around: { Self.centre(groups[g * choices + $0], ratio[$0][k]) },
                groupConcentration[g], into: &q)
            var left = 1.0
            for j in 0..<choices {
                out[cell * o + order[j]] = Float(left * q[j])
                left *= 1 - q[j]
            }
            out[cell * o + order[choices]] = Float(left)
        }
        return out
    }
}
