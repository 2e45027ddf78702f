import Analysis
import PHMCore
import Testing

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
