import Foundation
import PHMCore
import Testing

@testable import Analysis

/// Small-number suppression: primary rule and rounding, and secondary suppression that no
/// subtraction from totals can undo, checked by linear algebra on random tables.
@Suite struct SuppressionTests {
    @Test func countsOneToSevenAreHiddenAndOthersRoundedToFive() {
        var s = Suppression(enabled: true)
        let cells = [0, 1, 7, 8, 12, 13, 1_002].map { s.add($0) }
        s.protect()
        #expect(cells.map { s.published($0) } == [0, nil, nil, 10, 10, 15, 1_000])
        var off = Suppression(enabled: false)
        let exact = [0, 3, 12].map { off.add($0) }
        off.protect()
        #expect(exact.map { off.published($0) } == [0, 3, 12])
    }

    @Test func aLoneHiddenCellTakesTheSmallestOtherWithIt() {
        var s = Suppression(enabled: true)
        let total = s.add(140)
        let parts = [5, 60, 25, 50].map { s.add($0) }
        s.relate(total: total, parts: parts)
        s.protect()
        #expect(parts.map { s.isHidden($0) } == [true, false, true, false])
        #expect(!s.isHidden(total))
    }

    /// A total published exactly elsewhere is never hidden, even small: protection hides the
    /// table's cells around it; and in a table whose column totals are known, no hidden cell is
    /// left alone in a column or a row.
    @Test func knownTotalsStayPublishedAndTheCellsAroundThemHide() {
        var s = Suppression(enabled: true)
        let small = s.addKnown(3)
        let parts = [3, 0].map { s.add($0) }
        s.relate(total: small, parts: parts)
        let total = s.addKnown(140)
        let others = [5, 60, 25, 50].map { s.add($0) }
        s.relate(total: total, parts: others)
        s.protect()
        #expect(!s.isHidden(small) && !s.isHidden(total) && s.published(small) == Suppression.rounded(3))
        #expect(parts.map { s.isHidden($0) } == [true, true])
        #expect(others.map { s.isHidden($0) } == [true, false, true, false])

        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var t = Suppression(enabled: true)
            let rows = (0..<5).map { _ in (0..<4).map { _ in Int.random(in: 0...12, using: &generator) } }
            let cells = rows.map { row in (row.reduce(0, +), row) }.map { sum, row in (t.add(sum), row.map { t.add($0) }) }
            let known = (0..<4).map { c in t.addKnown(rows.reduce(0) { $0 + $1[c] }) }
            for (c, k) in known.enumerated() { t.relate(total: k, parts: cells.map { $0.1[c] }) }
            for (sum, parts) in cells { t.relate(total: sum, parts: parts) }
            t.protect()
            #expect(known.allSatisfy { !t.isHidden($0) })
            for c in 0..<4 { #expect(cells.filter { t.isHidden($0.1[c]) }.count != 1) }
            for (sum, parts) in cells { #expect(([sum] + parts).filter { t.isHidden($0) }.count != 1) }
        }
    }

    /// A table of counts with row, column and grand totals, every line an additive relation.
    static func table(rows: Int, columns: Int, random: inout some RandomNumberGenerator) -> (Suppression, [[Int]]) {
        var s = Suppression(enabled: true)
        var values = (0..<rows).map { _ in (0..<columns).map { _ in Int.random(in: 0...40, using: &random) } }
        for r in 0..<rows { values[r].append(values[r].reduce(0, +)) }
        values.append((0...columns).map { c in values.reduce(0) { $0 + $1[c] } })
        let cells = values.map { row in row.map { s.add($0) } }
        for r in 0...rows { s.relate(total: cells[r][columns], parts: Array(cells[r][0..<columns])) }
        for c in 0...columns { s.relate(total: cells[rows][c], parts: (0..<rows).map { cells[$0][c] }) }
        s.protect()
        return (s, cells)
    }

    /// Whether a hidden cell's value follows from the published cells: true when its unit vector
    /// lies in the row space of the relations restricted to the hidden cells.
    static func recoverable(_ cell: Int, hidden: [Int], relations: [[Int: Double]]) -> Bool {
        func rank(_ matrix: [[Double]]) -> Int {
            var m = matrix, rank = 0
            let columns = m.first?.count ?? 0
            for c in 0..<columns where rank < m.count {
                guard let pivot = (rank..<m.count).max(by: { abs(m[$0][c]) < abs(m[$1][c]) }), abs(m[pivot][c]) > 1e-9 else {
                    continue
                }
                m.swapAt(rank, pivot)
                for r in 0..<m.count where r != rank {
                    let f = m[r][c] / m[rank][c]
                    for k in 0..<columns { m[r][k] -= f * m[rank][k] }
                }
                rank += 1
            }
            return rank
        }
        let index = Dictionary(uniqueKeysWithValues: hidden.enumerated().map { ($1, $0) })
        let rows = relations.map { relation in
            var row = [Double](repeating: 0, count: hidden.count)
            for (c, coefficient) in relation { if let i = index[c] { row[i] = coefficient } }
            return row
        }
        var unit = [Double](repeating: 0, count: hidden.count)
        unit[index[cell]!] = 1
        return rank(rows) == rank(rows + [unit])
    }

    /// The exact check on systems worked by hand: x + y = 0 with y = 0 determines both; x + y + z
    /// = 0 with z = 0 determines z alone, and still does when y's coefficient is far below the
    /// rounding threshold (an entry the elimination does not touch is kept, however small); an
    /// unknown given twice in a row counts as its last coefficient.
    @Test func determinedUnknownsOfSystemsWorkedByHand() {
        #expect(Suppression.determinedCells([[(3, -1), (8, 1)], [(8, 1)]]) == [3, 8])
        #expect(Suppression.determinedCells([[(0, 1), (1, 1), (2, 1)], [(2, 1)]]) == [2])
        #expect(Suppression.determinedCells([[(0, 2), (1, 1e-9), (2, 1)], [(2, 1)]]) == [2])
        #expect(Suppression.determinedCells([[(0, 1), (1, 1)], [(1, 1), (2, 1)], [(0, 1), (2, -1)]]) == [])
        #expect(Suppression.determinedCells([[(5, 1), (5, 0)], [(7, 1)]]) == [7])
    }

    @Test func noHiddenCellCanBeRecoveredFromTheTotals() {
        var random = Xoshiro(seed: 7)
        var tables = 0, hiddenCells = 0
        for _ in 0..<200 {
            let rows = Int.random(in: 2...5, using: &random), columns = Int.random(in: 2...6, using: &random)
            let (s, cells) = SuppressionTests.table(rows: rows, columns: columns, random: &random)
            // Every line of the table hides none or at least two cells.
            let lines = cells.map { $0 } + (0...columns).map { c in cells.map { $0[c] } }
            for line in lines { #expect(line.filter(s.isHidden).count != 1) }
            // And no hidden cell is determined by all the relations together.
            var relations: [[Int: Double]] = []
            for line in lines {
                var relation: [Int: Double] = [line.last!: -1]
                for c in line.dropLast() { relation[c] = 1 }
                relations.append(relation)
            }
            let hidden = cells.flatMap { $0 }.filter(s.isHidden)
            for cell in hidden {
                #expect(!SuppressionTests.recoverable(cell, hidden: hidden, relations: relations), "cell \(cell)")
            }
            if !hidden.isEmpty { tables += 1 }
            hiddenCells += hidden.count
        }
        #expect(tables > 100, "the random tables should exercise suppression")
        #expect(hiddenCells > 500)
    }
}

/// Age-standardised values published beside counts rounded to 5 (`Suppression.standardised`).
@Suite struct StandardisedDisclosureTests {
    static let esp = Statistics.europeanStandardPopulation2013

    static func rounded(_ n: Int) -> Int { n <= 9 ? 10 : Int((Double(n) / 5).rounded()) * 5 }

    /// The value published for a group with `events` and `people` by age band.
    static func published(events: [Int], people: [Int], merging: Bool = true) -> Double? {
        let x = events.reduce(0, +), n = people.reduce(0, +)
        var (populations, counts, weights) = (people.map(Double.init), events.map(Double.init), esp)
        if merging, !Inequalities.mergeSmallBands(people: &populations, counts: &counts, weights: &weights, under: 8) {
            return nil
        }
        guard
            let exact = Statistics.directlyStandardisedRate(
                counts: counts, populations: populations, standard: weights, multiplier: 100)
        else { return nil }
        let crude = Inequalities.counted(.proportion, Double(x), of: Double(n)).value
        let publishedCrude = Inequalities.counted(.proportion, Double(rounded(x)), of: Double(rounded(n))).value
        return Suppression.standardised(exact.value, crude: crude, publishedCrude: publishedCrude)
    }

    /// A group whose people all share one band: the exact value is the band's weight times events
    /// over people and gives both counts back (find the fraction). Published, it is the same for
    /// every pair of counts with the same published counts: it tells nothing more than they do.
    @Test func aGroupInOneAgeBandGetsNoCountBack() throws {
        for band in [0, 7, 18] {
            var seen: [[Int]: Double] = [:]
            for people in 20...160 {
                for events in 10...people {
                    var e = [Int](repeating: 0, count: Self.esp.count), p = e
                    e[band] = events
                    p[band] = people
                    let value = try #require(Self.published(events: e, people: p))
                    let key = [Self.rounded(events), Self.rounded(people)]
                    if let earlier = seen[key] {
                        #expect(earlier == value, "band \(band): \(events) of \(people)")
                    } else {
                        seen[key] = value
                    }
                }
            }
        }
    }

    /// Over two bands, an attacker who knows which two bands a group's people are in and tries
    /// every split of every pair of counts consistent with the published counts finds more than
    /// one number of events still consistent. (Before bands under 8 people were merged, 1 group
    /// in 78 had its events pinned: 7 of 7 people in one band and 16 of 20 in the other.)
    @Test func overTwoBandsSeveralCountsStayConsistent() throws {
        var random = Xoshiro(seed: 7)
        let bands = (a: 13, b: 16)
        var groups = 0, pinned: [String] = []
        for _ in 0..<100 {
            let n1 = Int.random(in: 5...30, using: &random), n2 = Int.random(in: 5...30, using: &random)
            let x1 = Int.random(in: 0...n1, using: &random), x2 = Int.random(in: 0...n2, using: &random)
            guard x1 + x2 >= 10 else { continue }
            func group(_ x1: Int, _ x2: Int, _ n1: Int, _ n2: Int) -> ([Int], [Int]) {
                var e = [Int](repeating: 0, count: Self.esp.count), p = e
                (e[bands.a], e[bands.b], p[bands.a], p[bands.b]) = (x1, x2, n1, n2)
                return (e, p)
            }
            let (e, p) = group(x1, x2, n1, n2)
            let target = try #require(Self.published(events: e, people: p))
            let x = x1 + x2, n = n1 + n2
            var consistent = Set<Int>()
            for cn in (n - 2)...(n + 2) where Self.rounded(cn) == Self.rounded(n) {
                for cx in max(10, x - 2)...(x + 2) where Self.rounded(cx) == Self.rounded(x) && cx <= cn {
                    search: for m1 in 1..<cn {
                        for y1 in 0...min(m1, cx) where cx - y1 <= cn - m1 {
                            let (ce, cp) = group(y1, cx - y1, m1, cn - m1)
                            if Self.published(events: ce, people: cp) == target {
                                consistent.insert(cx)
                                break search
                            }
                        }
                    }
                }
            }
            #expect(consistent.contains(x))
            groups += 1
            if consistent.count < 2 { pinned.append("\(x1)/\(n1) and \(x2)/\(n2)") }
        }
        #expect(groups >= 50)
        #expect(pinned.isEmpty, "pinned: \(pinned) of \(groups)")
    }

    /// One person alone in a band (39 people aged 35 to 39 and one aged 90 or over): unmerged,
    /// whether they have the condition moves the value by far more than the ratio's rounding, for
    /// every count behind the same published counts. Merged into the band beside, it does not.
    @Test func onePersonAloneInABandShowsNothing() throws {
        for events in 10...12 {
            func group(_ lone: Int) -> ([Int], [Int]) {
                var e = [Int](repeating: 0, count: Self.esp.count), p = e
                (e[7], p[7], e[18], p[18]) = (events - lone, 39, lone, 1)
                return (e, p)
            }
            let without = group(0), with = group(1)
            #expect(Self.published(events: without.0, people: without.1) == Self.published(events: with.0, people: with.1))
            // Unmerged, the same two groups are told apart.
            #expect(
                Self.published(events: without.0, people: without.1, merging: false)
                    != Self.published(events: with.0, people: with.1, merging: false))
            var people = with.1.map(Double.init), counts = with.0.map(Double.init), weights = Self.esp
            Inequalities.mergeSmallBands(people: &people, counts: &counts, weights: &weights, under: 8)
            #expect(people.filter { $0 > 0 } == [40] && counts.reduce(0, +) == Double(events))
            #expect(abs(weights.reduce(0, +) - Self.esp.reduce(0, +)) < 1e-9)
        }
    }

    @Test func theRatioIsRoundedToTwoFigures() {
        // Exact 12.3456 over a crude 10: ratio 1.23456 -> 1.2, times the published crude 11.
        #expect(abs(Suppression.standardised(12.3456, crude: 10, publishedCrude: 11)! - 13.2) < 1e-9)
        #expect(abs(Suppression.standardised(0.5678, crude: 10, publishedCrude: 10)! - 0.57) < 1e-9)
        #expect(abs(NiceNumber.significant(0.0123456, .up) - 0.013) < 1e-12)
        #expect(abs(NiceNumber.significant(98.76, .toNearestOrAwayFromZero) - 99) < 1e-12)
        // A group of 5 in all cannot be merged to bands of 8: no value.
        var people = [3.0, 2, 0], counts = [1.0, 1, 0], weights = [5_000.0, 5_500, 5_500]
        #expect(!Inequalities.mergeSmallBands(people: &people, counts: &counts, weights: &weights, under: 8))
        #expect(people.reduce(0, +) == 5 && counts.reduce(0, +) == 2 && weights.reduce(0, +) == 16_000)
        #expect(Suppression.standardised(5, crude: 0, publishedCrude: 1) == nil)
        #expect(Suppression.standardised(.nan, crude: 1, publishedCrude: 1) == nil)
    }
}

/// The figures fixed tables publish beside their counts.
@Suite struct FixedTableFigureTests {
    /// A mean of n people and the same mean with one more person whose value lies within the
    /// spread differ by at most one step once published, whatever the counts; a mean is hidden
    /// under 10 published people, exact without suppression, and its interval is no narrower
    /// than the exact one and a whole number of steps wide.
    @Test func onePersonMovesAPublishedMeanByAtMostOneStep() throws {
        var random = Xoshiro(seed: 11)
        let on = Suppression(enabled: true), off = Suppression(enabled: false)
        for _ in 0..<2_000 {
            let n = Int.random(in: 8...400, using: &random), spread = [1.0, 20, 5_000].randomElement(using: &random)!
            let sum = (0..<n).reduce(0.0) { sum, _ in sum + Double.random(in: 0...spread, using: &random) }
            let x = Double.random(in: 0...spread, using: &random)
            let before = try #require(on.mean(sum / Double(n), people: on.count(n), spread: spread))
            let after = try #require(on.mean((sum + x) / Double(n + 1), people: on.count(n + 1), spread: spread))
            let step = { (people: Int) in
                let (m, e) = Suppression.step(atLeast: spread / Double(Suppression.rounded(people) - 2))
                return m * pow(10, Double(e))
            }
            #expect(abs(after - before) <= max(step(n), step(n + 1)) * (1 + 1e-9))
            #expect(off.mean(sum / Double(n), people: n, spread: spread) == sum / Double(n))
            let exact = Statistics.Estimate(value: sum / Double(n), lower: sum / Double(n) - 0.3, upper: sum / Double(n) + 0.3)
            let published = try #require(on.mean(exact, people: on.count(n), spread: spread))
            let half = published.upper - published.value, width = step(n)
            #expect(half >= 0.3 - 1e-9 && abs(half / width - (half / width).rounded()) < 1e-6)
        }
        #expect(on.mean(5, people: 5, spread: 1) == nil && on.mean(5, people: nil, spread: 1) == nil)
        #expect(on.mean(0.123_456, people: 10, spread: 1) == 0.2 && on.mean(0.123_456, people: 12, spread: 1) == 0.1)
    }

    /// Counts outside any relation are hidden from 1 to 7 and rounded to 5; shares are of
    /// published counts; a figure is rounded to its step under suppression and exact without.
    @Test func countsSharesAndFigures() {
        let on = Suppression(enabled: true), off = Suppression(enabled: false)
        #expect(on.count(0) == 0 && on.count(7) == nil && on.count(8) == 10 && on.count(12) == 10 && off.count(7) == 7)
        #expect(on.share(10, of: 40, times: 100) == 25 && on.share(nil, of: 40) == nil && on.share(5, of: 0) == nil)
        #expect(on.figure(0.123_456, step: 0.003) == 0.125 && off.figure(0.123_456, step: 0.003) == 0.123_456)
    }

    /// The spread is the 0.1th to 99.9th centile range widened to 1, 2 or 5 times a power of ten.
    @Test func spreadOfAKnownDistribution() {
        let values = (0..<10_000).map { $0 < 100 ? 0 : Double($0) / 100 }  // 1% zeros, then 1 to 99.99
        #expect(NiceNumber.centileRange(values) == 0...100)
        #expect(Spread.of(Array(0..<10_000)) { values[$0] } == 100)
        #expect(Spread.of([]) { _ in 0 } == 1)
        // One outlier above the 99.9th centile does not set the spread.
        var outlier = values
        outlier[9_999] = 1e9
        #expect(Spread.of(Array(0..<10_000)) { outlier[$0] } == 100)
    }
}
