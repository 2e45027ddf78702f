import Foundation
import PHMCore

/// Small-number suppression for outputs meant for planning, the NHS secondary care convention
/// for sub-national counts: counts of 1 to 7 are suppressed and all others rounded to the
/// nearest 5. Rates and percentages computed from a suppressed count are suppressed with it.
///
/// Secondary suppression: counts are linked by additive relations (groups of a breakdown add up
/// to their unit's total; practices add up to their PCN). A relation with exactly one hidden
/// cell would give that cell away by subtraction, so another cell of the relation is hidden too,
/// the smallest non-zero one, until every relation hides none or at least two cells. That is
/// not always enough: relations together can still pin a cell down (two hidden pairs joined by
/// one hidden cell in a table with margins). So every group of linked hidden cells is then
/// checked exactly by linear algebra, and a further cell is hidden beside any that is still
/// determined, until none is.
///
/// Counts of ad-hoc sets of people (cohorts a user defines) carry a cell key and are published by
/// cell-key perturbation instead of plain rounding (see `perturbed`), because rounding alone does
/// not survive differencing: two cohorts differing by one person would show that person when
/// their counts straddle a multiple of 5 at a known place.
public struct Suppression: Sendable {
    /// Counts from 1 up to this are suppressed.
    public static let largestSuppressed = 7
    public static let roundTo = 5
    /// The smallest count published for a set of people with a cell key.
    public static let smallestPerturbed = 10

    /// Whether suppression applies; off, `published` returns the exact counts.
    public var enabled: Bool
    public private(set) var counts: [Int] = []
    public private(set) var hidden: [Bool] = []
    private var keys: [UInt8?] = []
    /// Cells published exactly elsewhere: known to any reader, so never hidden.
    private var known: [Bool] = []
    private var relations: [[Int]] = []  // the total first, then its parts
    private var relationsOfCell: [[Int32]] = []

    public init(enabled: Bool) { self.enabled = enabled }

    /// Adds a count and returns its cell. With a cell key (the sum of its people's record keys
    /// modulo 256), the count is published by cell-key perturbation.
    public mutating func add(_ count: Int, key: UInt8? = nil) -> Int {
        counts.append(count)
        keys.append(key)
        hidden.append(enabled && (key.map { Suppression.perturbed(count, key: $0) == nil } ?? Suppression.isSmall(count)))
        known.append(false)
        relationsOfCell.append([])
        return counts.count - 1
    }

    /// Adds a count another output publishes exactly (a total): it relates the table's cells to
    /// what a reader already knows, and is never hidden, so protection hides the table's cells
    /// around it instead. A hidden cell that only such counts determine (the one group of a
    /// breakdown, say) stays determined: it is then the published count itself.
    public mutating func addKnown(_ count: Int) -> Int {
        let cell = add(count)
        hidden[cell] = false
        known[cell] = true
        return cell
    }

    /// Adds a count that is never published under suppression, whatever its size: one whose
    /// publication would give back a small count beside it and that no relation protects.
    public mutating func addWithheld(_ count: Int) -> Int {
        let cell = add(count)
        if enabled { hidden[cell] = true }
        return cell
    }

    public static func isSmall(_ count: Int) -> Bool { count >= 1 && count <= largestSuppressed }

    /// Cell-key perturbation of a count (the method of the ABS TableBuilder and of the ONS 2021
    /// Census flexible table builder, here with a perturbation that is a random rounding): 0 stays
    /// 0; 1 to 7 are hidden; 8 and 9 are hidden for half of all keys and shown as 10 otherwise, so
    /// a shown count next to a hidden one does not pin the threshold; 10 and over are rounded to a
    /// multiple of 5, up with probability (n mod 5) / 5 as the key decides, so the published count
    /// is unbiased. The key is the same for the same people and unrelated for any other set, so
    /// asking again gives the same answer and two cohorts differing by one person differ by noise.
    public static func perturbed(_ n: Int, key: UInt8) -> Int? {
        if n <= 0 { return 0 }
        if n <= largestSuppressed { return nil }
        if n < smallestPerturbed { return key & 1 == 0 ? nil : smallestPerturbed }
        let remainder = n % roundTo
        let up = (Int(key) * roundTo) >> 8 < remainder
        return n - remainder + (up ? roundTo : 0)
    }

    /// A mean over `n` people (the published count) of values each held within a range `spread`
    /// wide, as planning publishes it: nil under `smallestPerturbed` people; else rounded to a
    /// step of at least spread / n (1, 2 or 5 times a power of ten), up or down as the key decides
    /// with the probability that keeps it unbiased. One person moves such a mean by at most
    /// spread / n, so two cohorts differing by one person leave that person's value within the
    /// noise of their means.
    public static func mean(_ value: Double, people n: Int, spread: Double, key: UInt8) -> Double? {
        guard n >= smallestPerturbed, spread.isFinite, spread > 0 else { return nil }
        return randomlyRounded(value, step: spread / Double(n), key: key)
    }

    /// `value` rounded to a multiple of the smallest 1, 2 or 5 times a power of ten at least
    /// `step`, up with the probability that keeps it unbiased, as the key decides: nil when either
    /// is not finite or the step is not positive. A change in the value smaller than the step is
    /// hidden in the rounding, and asking again gives the same answer.
    public static func randomlyRounded(_ value: Double, step: Double, key: UInt8) -> Double? {
        guard value.isFinite, step.isFinite, step > 0 else { return nil }
        let (mantissa, exponent) = Self.step(atLeast: step)
        func scaled(_ k: Double) -> Double {
            exponent >= 0 ? k * mantissa * pow(10, Double(exponent)) : k * mantissa / pow(10, Double(-exponent))
        }
        let size = scaled(1)
        let lower = (value / size).rounded(.down)
        let fraction = value / size - lower
        let up = Double(key) / 256 < fraction
        return scaled(lower + (up ? 1 : 0))
    }

    /// An age-standardised rate or proportion as fixed tables publish it beside counts rounded
    /// to 5: the crude value of the published counts times the standardisation ratio (the exact
    /// standardised value over the exact crude one), that ratio to two significant figures.
    /// Computed from exact counts by age band, the exact standardised value of a group whose
    /// people share one band is the band's weight times events over people, which gives both
    /// counts back; its ratio is the band's weight alone, which says nothing of them. Over several
    /// bands the ratio depends on how events and people split between them, and two figures
    /// leave many splits, and so many counts, consistent with it. Nil when the exact crude value
    /// is not positive or either value is not finite.
    public static func standardised(_ value: Double, crude: Double, publishedCrude: Double) -> Double? {
        guard value.isFinite, crude.isFinite, crude > 0, publishedCrude.isFinite else { return nil }
        let ratio = value / crude
        guard ratio > 0 else { return 0 }
        return publishedCrude * NiceNumber.significant(ratio, .toNearestOrAwayFromZero)
    }

    /// `value` rounded to the nearest multiple of the smallest 1, 2 or 5 times a power of ten at
    /// least `step` (halves away from zero); nil when either is not finite or the step is not positive.
    public static func nearest(_ value: Double, step: Double) -> Double? {
        guard value.isFinite, step.isFinite, step > 0 else { return nil }
        let (mantissa, exponent) = Self.step(atLeast: step)
        let k = (value / (mantissa * pow(10, Double(exponent)))).rounded()
        return exponent >= 0 ? k * mantissa * pow(10, Double(exponent)) : k * mantissa / pow(10, Double(-exponent))
    }

    /// The smallest 1, 2 or 5 times a power of ten at least `x`, as (1, 2 or 5, the power).
    public static func step(atLeast x: Double) -> (Double, Int) { NiceNumber.above(x) }

    /// Mixes a cell key with an index, so the several means of one cohort round independently.
    public static func key(_ key: UInt8, _ index: Int) -> UInt8 {
        let mixed = (UInt32(key) &+ 1) &* 2_654_435_761 &+ UInt32(truncatingIfNeeded: index) &* 40_503
        return UInt8(truncatingIfNeeded: mixed >> 24)
    }

    /// Records that the `parts` add up to `total`.
    public mutating func relate(total: Int, parts: [Int]) {
        guard enabled, !parts.isEmpty else { return }
        let r = Int32(relations.count)
        relations.append([total] + parts)
        relationsOfCell[total].append(r)
        for p in parts { relationsOfCell[p].append(r) }
    }

    /// Applies secondary suppression until no hidden cell can be worked out from the published
    /// cells: first no relation may hide exactly one cell, then an exact check by linear algebra
    /// finds cells that several relations together still determine, and hides more.
    public mutating func protect() {
        guard enabled else { return }
        var pending = relations.indices.filter { r in relations[r].contains { hidden[$0] } }
        var settled = Set<[Int]>()
        repeat {
            hideComplements(pending)
            pending = hideDetermined(skipping: &settled)
        } while !pending.isEmpty
    }

    /// Hides another cell of each relation that hides exactly one, until none does.
    private mutating func hideComplements(_ start: [Int]) {
        var queue = start
        var queued = Set(queue)
        while let r = queue.popLast() {
            queued.remove(r)
            let cells = relations[r]
            guard hiddenCount(cells) == 1, let complement = self.complement(in: cells) else { continue }
            hidden[complement] = true
            for next in relationsOfCell[complement] where !queued.contains(Int(next)) {
                queued.insert(Int(next))
                queue.append(Int(next))
            }
        }
    }

    /// How many of the cells are hidden.
    private func hiddenCount(_ cells: [Int]) -> Int {
        var count = 0
        for c in cells where hidden[c] { count += 1 }
        return count
    }

    /// The cell to hide beside a relation's hidden ones: the smallest non-zero visible part, else
    /// any visible part, else the total; never a known cell (nil when only those are left).
    private func complement(in cells: [Int]) -> Int? {
        let visibleParts = cells.dropFirst().filter { !hidden[$0] && !known[$0] }
        let total = hidden[cells[0]] || known[cells[0]] ? nil : cells[0]
        return visibleParts.filter { counts[$0] > 0 }.min { counts[$0] < counts[$1] } ?? visibleParts.first ?? total
    }

    /// Finds hidden cells that the relations determine, hides a further cell beside each, and
    /// returns the relations touched (empty when no hidden cell is determined).
    ///
    /// Hidden cells are grouped into components linked by relations; for each component the
    /// relations restricted to its cells are reduced to row echelon form. A cell is determined
    /// exactly when its unit vector lies in their row space: its column is a pivot whose row has
    /// no other non-zero entry.
    ///
    /// `settled` holds the components (their hidden cells, in order) that an earlier round left
    /// as they were: they determined nothing, or nothing could be hidden beside what they
    /// determined. The same cells make the same equations and the same choices, so they are not
    /// reduced again (at a million people, each round reduced the same few hundred components
    /// again, half a second a round). A component one of whose relations gained a hidden cell
    /// earlier in the round is checked as before, and not settled.
    private mutating func hideDetermined(skipping settled: inout Set<[Int]>) -> [Int] {
        let hiddenCells = hidden.indices.filter { hidden[$0] }
        var parent = Array(hidden.indices)  // only hidden cells are joined
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        for cells in relations {
            var first: Int?
            for c in cells where hidden[c] {
                if let first { parent[find(c)] = find(first) } else { first = c }
            }
        }
        var components: [Int: [Int]] = [:]
        for c in hiddenCells { components[find(c), default: []].append(c) }
        var touched: [Int] = []
        // Cells whose relations gained a hidden cell in this round.
        var disturbed = [Bool](repeating: false, count: hidden.count)
        // In a fixed order (each component by its first cell): which further cells a component
        // hides depends on what those before it hid, and a dictionary's order changes from one
        // process to the next, so the same table would otherwise be published differently.
        for cells in components.values.sorted(by: { $0[0] < $1[0] }) where cells.count >= 2 {
            let undisturbed = !cells.contains { disturbed[$0] }
            if undisturbed, settled.contains(cells) { continue }
            let rows = Set(cells.flatMap { relationsOfCell[$0].map(Int.init) }).sorted().map { r in
                relations[r].enumerated().filter { hidden[$0.element] }.map {
                    (unknown: $0.element, coefficient: $0.offset == 0 ? -1.0 : 1)
                }
            }
            let hiddenBefore = touched.count
            for cell in Suppression.determinedCells(rows) {
                // Hide beside it in its relation with the fewest hidden cells.
                guard
                    let r = relationsOfCell[cell].map(Int.init).min(by: {
                        hiddenCount(relations[$0]) < hiddenCount(relations[$1])
                    })
                else { continue }
                guard let extra = complement(in: relations[r]), !hidden[extra] else { continue }
                hidden[extra] = true
                touched += relationsOfCell[extra].map(Int.init)
                for r in relationsOfCell[extra] { for c in relations[Int(r)] { disturbed[c] = true } }
            }
            if undisturbed, touched.count == hiddenBefore { settled.insert(cells) }
        }
        return touched
    }

    /// The unknowns that sparse linear equations determine: those whose unit vector lies in the
    /// rows' span. The rows are reduced one at a time to reduced row echelon form (each pivot
    /// column cleared from every other row), so an unknown is determined exactly when it is a
    /// pivot whose row has no other entry. A row's entries for one unknown given twice count as
    /// the last; a coefficient of 0 (or not a number) is no entry. Rows are kept as arrays sorted
    /// by unknown, numbered within the equations, and combined by merging (a dictionary per row
    /// spent most of the time hashing).
    static func determinedCells(_ rows: [[(unknown: Int, coefficient: Double)]]) -> [Int] {
        typealias Sparse = [(column: Int32, value: Double)]
        let unknowns = Set(rows.lazy.flatMap { $0.map(\.unknown) }).sorted()
        let column = Dictionary(uniqueKeysWithValues: unknowns.enumerated().map { ($1, Int32($0)) })
        let zero = 1e-9
        var basis = [Sparse?](repeating: nil, count: unknowns.count)  // by pivot, 1 at the pivot
        var rowsWith = [[Int32]](repeating: [], count: unknowns.count)  // pivots whose rows may hold it
        var dense = [Double](repeating: 0, count: unknowns.count)
        var held = [Bool](repeating: false, count: unknowns.count)
        /// `row[at]`, or 0.
        func entry(_ row: Sparse, _ at: Int32) -> Double {
            var low = 0, high = row.count
            while low < high {
                let mid = (low + high) / 2
                if row[mid].column < at { low = mid + 1 } else { high = mid }
            }
            return low < row.count && row[low].column == at ? row[low].value : 0
        }
        for row in rows {
            // The row in dense scratch space (the last entry for an unknown wins), then each pivot
            // column it holds cleared, as a row of the basis has no other pivot column.
            var touched: [Int32] = []
            for (unknown, value) in row {
                let c = column[unknown]!
                if !held[Int(c)] {
                    held[Int(c)] = true
                    touched.append(c)
                }
                dense[Int(c)] = value
            }
            touched.sort()
            for c in touched where basis[Int(c)] != nil {
                let f = dense[Int(c)]
                guard f != 0 else { continue }
                for (k, x) in basis[Int(c)]! {
                    if !held[Int(k)] {
                        held[Int(k)] = true
                        touched.append(k)
                    }
                    let y = dense[Int(k)] - f * x
                    dense[Int(k)] = abs(y) < zero ? 0 : y
                }
            }
            touched.sort()
            var v: Sparse = []
            for c in touched {
                if dense[Int(c)] != 0 { v.append((c, dense[Int(c)])) }
                dense[Int(c)] = 0
                held[Int(c)] = false
            }
            guard let pivot = v.first?.column else { continue }
            let scale = v[0].value
            for i in v.indices { v[i].value /= scale }
            // Clear the new pivot from the rows already in the basis.
            var others = rowsWith[Int(pivot)]
            others.sort()
            var previous: Int32 = -1
            for other in others where other != previous {
                previous = other
                let r = basis[Int(other)]!
                let f = entry(r, pivot)
                guard f != 0 else { continue }
                var merged: Sparse = []
                merged.reserveCapacity(r.count + v.count)
                var i = 0, j = 0
                while i < r.count || j < v.count {
                    let k: Int32, y: Double
                    if j == v.count || (i < r.count && r[i].column < v[j].column) {
                        // An entry the new row does not touch stays as it is, however small.
                        merged.append(r[i])
                        i += 1
                        continue
                    } else if i == r.count || v[j].column < r[i].column {
                        (k, y) = (v[j].column, -f * v[j].value)
                        if abs(y) >= zero { rowsWith[Int(k)].append(other) }
                        j += 1
                    } else {
                        (k, y) = (r[i].column, r[i].value - f * v[j].value)
                        i += 1
                        j += 1
                    }
                    if abs(y) >= zero { merged.append((k, y)) }
                }
                basis[Int(other)] = merged
            }
            rowsWith[Int(pivot)] = []
            basis[Int(pivot)] = v
            for (k, _) in v where k != pivot { rowsWith[Int(k)].append(pivot) }
        }
        return basis.indices.filter { basis[$0]?.count == 1 }.map { unknowns[$0] }
    }

    /// The count as published: nil when hidden, else rounded to the nearest 5, or perturbed by
    /// its cell key (exact when off).
    public func published(_ cell: Int) -> Int? {
        guard !hidden[cell] else { return nil }
        guard enabled else { return counts[cell] }
        return keys[cell].map { Suppression.perturbed(counts[cell], key: $0) ?? 0 } ?? Suppression.rounded(counts[cell])
    }

    public func isHidden(_ cell: Int) -> Bool { hidden[cell] }

    // Figures that are not counts, beside the table's counts. Without suppression each is exact;
    // under it, no more exact than the published counts, so that no figure times, over or beside
    // another gives a count back more exactly than the count itself is published.

    /// A count outside the table's cells (people with no cost, events, women in a segment):
    /// hidden when 1 to 7 and rounded to 5 under suppression, exact without. Only that protects
    /// it: no secondary suppression, though such counts may add up to others.
    public func count(_ n: Int) -> Int? {
        guard enabled else { return n }
        return Suppression.isSmall(n) ? nil : Suppression.rounded(n)
    }

    /// `part` over `whole` (times `multiplier`), both counts as published: nil when either is
    /// hidden or the whole is 0.
    public func share(_ part: Int?, of whole: Int?, times multiplier: Double = 1) -> Double? {
        guard let part, let whole, whole > 0 else { return nil }
        return multiplier * Double(part) / Double(whole)
    }

    /// A mean over people whose count is published as `people`, of values held within a range
    /// `spread` wide (`Spread`). Under suppression: nil under `smallestPerturbed` people, else
    /// rounded to the nearest multiple of a step of at least spread over the fewest people the
    /// published count allows (1, 2 or 5 times a power of ten). One person moves such a mean by
    /// at most one step, and a mean times a size is no more exact than the size.
    public func mean(_ value: Double, people: Int?, spread: Double) -> Double? {
        guard let people, value.isFinite else { return nil }
        guard enabled else { return value }
        guard people >= Suppression.smallestPerturbed else { return nil }
        return Suppression.nearest(value, step: Suppression.meanStep(spread, people: people))
    }

    /// The step a mean of `spread`-wide values over `people` published is rounded to: spread over
    /// the fewest people a count published as `people` can be (2 fewer, as counts round to 5).
    static func meanStep(_ spread: Double, people: Int) -> Double {
        let (mantissa, exponent) = step(atLeast: spread / Double(max(1, people - roundTo / 2)))
        return mantissa * pow(10, Double(exponent))
    }

    /// A mean with its interval as `mean` publishes the value: under suppression the interval's
    /// half-width is rounded up to the mean's step, so neither limit is more exact than the mean.
    public func mean(_ estimate: Statistics.Estimate, people: Int?, spread: Double) -> Statistics.Estimate? {
        guard let value = mean(estimate.value, people: people, spread: spread), let people else { return nil }
        guard enabled else { return estimate }
        let step = Suppression.meanStep(spread, people: people)
        let half = ((estimate.upper - estimate.value) / step).rounded(.up) * step
        return .init(value: value, lower: max(0, value - half), upper: value + half)
    }

    /// A figure that one person moves by at most `step`, rounded under suppression to the nearest
    /// multiple of a step at least that (exact without).
    public func figure(_ value: Double, step: Double) -> Double? {
        guard value.isFinite else { return nil }
        return enabled ? Suppression.nearest(value, step: step) : value
    }

    /// Rounds to the nearest 5, halves upwards.
    public static func rounded(_ n: Int) -> Int { (n + roundTo / 2) / roundTo * roundTo }
}

extension Suppression {
    /// Records, for one cell per unit, that every unit's children add up to it (practices to
    /// their PCN, PCNs to their locality, localities to the organisation). Units without a
    /// cell (`nil`) are left out, with their parents' relations.
    public mutating func relateToParents(_ units: [PlanningUnit], _ cell: (Int) -> Int?) {
        var children = [[Int]](repeating: [], count: units.count)
        for (u, unit) in units.enumerated() { if let p = unit.parent { children[p].append(u) } }
        for (parent, kids) in children.enumerated() where !kids.isEmpty {
            guard let total = cell(parent) else { continue }
            let parts = kids.compactMap(cell)
            if parts.count == kids.count { relate(total: total, parts: parts) }
        }
    }
}

/// The range a measure that fixed tables average is held within under suppression, and its
/// width, the spread `Suppression.mean` rounds by: the 0.1th to 99.9th centiles among a
/// population, widened to 1, 2 or 5 times a power of ten (`NiceNumber.centileRange`), as cohort
/// profiles hold theirs. Held within it, no one person moves a mean of n people by more than
/// the spread over n, however costly their care.
public enum Spread {
    /// Over `people`, each one's `value`; from every k-th person when there are more than
    /// 100,000 (the range is widened anyway). 0...1 when no value is finite.
    public static func range(_ people: [Int], _ value: (Int) -> Double) -> ClosedRange<Double> {
        let every = max(1, people.count / 100_000)
        return NiceNumber.centileRange(stride(from: 0, to: people.count, by: every).map { value(people[$0]) }) ?? 0...1
    }

    /// The width of `range`.
    public static func of(_ people: [Int], _ value: (Int) -> Double) -> Double {
        let r = range(people, value)
        return r.upperBound - r.lowerBound
    }

    /// Risks lie between 0 and 1.
    public static let risk = 1.0
}

extension ClosedRange<Double> {
    /// `x` held within the range; the range's width.
    public func clamp(_ x: Double) -> Double { Swift.min(Swift.max(x, lowerBound), upperBound) }
    public var width: Double { upperBound - lowerBound }
}
