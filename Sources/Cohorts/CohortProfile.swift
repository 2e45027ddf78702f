import Foundation
import PHMCore

/// Who is in a cohort, beside the population it was drawn from: counts by age and sex (the
/// pyramid), deprivation, ethnic group, segment, risk tier and condition, and mean use, cost and
/// risk per person.
public struct CohortProfile: Sendable {
    /// One group of one breakdown: people in the cohort and in the population, with the cell
    /// key of each (the sum of its people's record keys, modulo 256).
    public struct Group: Sendable, Equatable {
        public var breakdown: String
        public var group: String
        public var cohort: Int
        public var population: Int
        public var cohortKey: UInt8 = 0
        public var populationKey: UInt8 = 0
    }

    /// A mean per person in the cohort and in the population: exact, and with each person's
    /// value held within `cap` (what planning publishes), with the people it is over.
    public struct Measure: Sendable, Equatable {
        public var measure: String
        public var cohort: Double
        public var population: Double
        /// The range each person's value is held to for planning (nil: none).
        public var cap: ClosedRange<Double>?
        public var cohortCapped: Double = .nan
        public var populationCapped: Double = .nan
        public var cohortCount: Int = 0
        public var populationCount: Int = 0

        /// A measure as published: means only, beside the cap they were taken under.
        public init(measure: String, cohort: Double, population: Double, cap: ClosedRange<Double>?) {
            self.measure = measure
            self.cohort = cohort
            self.population = population
            self.cap = cap
        }

        init(
            measure: String, cohort: Double, population: Double, cap: ClosedRange<Double>?, cohortCapped: Double,
            populationCapped: Double,
            cohortCount: Int, populationCount: Int
        ) {
            self.init(measure: measure, cohort: cohort, population: population, cap: cap)
            self.cohortCapped = cohortCapped
            self.populationCapped = populationCapped
            self.cohortCount = cohortCount
            self.populationCount = populationCount
        }
    }

    public var size: Int
    public var populationSize: Int
    /// The cell keys of the cohort and of the population.
    public var sizeKey: UInt8
    public var populationKey: UInt8
    /// Breakdowns whose groups add up to the whole (every one except `condition`), in order.
    public var groups: [Group]
    public var measures: [Measure]

    /// Breakdowns whose groups do not add up to the whole: a person has many conditions.
    public static let overlapping: Set<String> = ["condition"]

    /// Five-year age bands to 90+, as population pyramids use.
    public static let pyramidBands = (0..<18).map { "\($0 * 5)-\($0 * 5 + 4)" } + ["90+"]

    /// Profiles `cohort` within `population` (both sets of frame rows; the cohort a subset).
    public init(_ frame: PersonFrame, cohort: Bitset, population: Bitset) {
        self.init(cohort: Tally(frame, rows: cohort), population: Tally(frame, rows: population))
    }

    /// A profile from the tallies of a cohort and of the population it was drawn from. A
    /// population's tally can be kept and reused for every cohort drawn from it.
    public init(cohort: Tally, population: Tally) {
        size = cohort.size
        populationSize = population.size
        sizeKey = cohort.key
        populationKey = population.key
        groups = zip(cohort.groups, population.groups).compactMap { c, p in
            // A condition nobody in the population has is left out.
            p.count == 0 && Self.overlapping.contains(p.breakdown)
                ? nil
                : Group(
                    breakdown: p.breakdown, group: p.group, cohort: c.count, population: p.count, cohortKey: c.key,
                    populationKey: p.key)
        }
        func mean(_ sum: Double, _ n: Int) -> Double { n > 0 ? sum / Double(n) : .nan }
        measures = zip(cohort.sums, population.sums).map { c, p in
            Measure(
                measure: p.measure, cohort: mean(c.sum, c.n), population: mean(p.sum, p.n), cap: p.cap,
                cohortCapped: mean(c.capped, c.n), populationCapped: mean(p.capped, p.n), cohortCount: c.n,
                populationCount: p.n)
        }
    }

    /// A measure's values as the frame holds them, read in place rather than boxed per person.
    public enum Column: Sendable {
        case int16([Int16]), uint8([UInt8])
        /// NaN where unknown.
        case float([Float]), double([Double])
        /// 1 or 0, unknown where `known` is negative.
        case flag([Bool], known: [Int8])

        /// The value at `row`, nil where unknown.
        public func value(_ row: Int) -> Double? {
            switch self {
            case .int16(let c): Double(c[row])
            case .uint8(let c): Double(c[row])
            case .float(let c): c[row].isNaN ? nil : Double(c[row])
            case .double(let c): c[row].isNaN ? nil : c[row]
            case .flag(let f, let known): known[row] < 0 ? nil : f[row] ? 1 : 0
            }
        }
    }

    /// Every measure of each row side by side (row-major, NaN where unknown), so a cohort's sums
    /// read one cache line per person rather than one per measure: read a column at a time, the
    /// sums streamed every measure's whole column through the cache for a cohort of any size.
    /// Held as `Float`, as the frame holds use and risk: a score keeps seven significant digits.
    public struct MeasureRows: Sendable {
        public let names: [String]
        /// Row `r`'s values are `values[r * names.count ..< (r + 1) * names.count]`.
        public let values: [Float]

        public init(_ frame: PersonFrame) {
            let columns = CohortProfile.measures(frame)
            names = columns.map(\.name)
            let width = columns.count
            var values = [Float](repeating: .nan, count: frame.count * width)
            for (m, measure) in columns.enumerated() {
                for row in 0..<frame.count {
                    if let value = measure.column.value(row) { values[row * width + m] = Float(value) }
                }
            }
            self.values = values
        }

        /// For each measure, over `rows`: the sum of the known values, the sum with each held
        /// within the measure's cap, and how many were known.
        func sums(over rows: [Int], caps: [ClosedRange<Double>?]) -> [(sum: Double, capped: Double, n: Int)] {
            let width = names.count
            var sum = [Double](repeating: 0, count: width), capped = sum
            var known = [Int](repeating: 0, count: width)
            let low = caps.map { $0?.lowerBound ?? -.infinity }, high = caps.map { $0?.upperBound ?? .infinity }
            values.withUnsafeBufferPointer { values in
                low.withUnsafeBufferPointer { low in
                    high.withUnsafeBufferPointer { high in
                        sum.withUnsafeMutableBufferPointer { sum in
                            capped.withUnsafeMutableBufferPointer { capped in
                                known.withUnsafeMutableBufferPointer { known in
                                    // Sixteen people at a time, measure by measure: the first
                                    // measure's sixteen reads miss the cache together rather than
                                    // one person after another, and the rest find their lines.
                                    withUnsafeTemporaryAllocation(of: Int.self, capacity: 16) { bases in
                                        var start = 0
                                        while start < rows.count {
                                            let n = min(16, rows.count - start)
                                            for i in 0..<n { bases[i] = rows[start + i] &* width }
                                            for m in 0..<width {
                                                var s = 0.0, c = 0.0, k = 0
                                                let lo = low[m], hi = high[m]
                                                // Unknown (NaN) adds nothing.
                                                for i in 0..<n {
                                                    let x = Double(values[bases[i] &+ m])
                                                    let isKnown = !x.isNaN
                                                    s += isKnown ? x : 0
                                                    c += isKnown ? min(max(x, lo), hi) : 0
                                                    k &+= isKnown ? 1 : 0
                                                }
                                                sum[m] += s
                                                capped[m] += c
                                                known[m] &+= k
                                            }
                                            start += n
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return (0..<width).map { (sum[$0], capped[$0], known[$0]) }
        }
    }

    /// The measures a profile gives means of, each with its column.
    public static func measures(_ frame: PersonFrame) -> [(name: String, column: Column)] {
        var out: [(name: String, column: Column)] = [("age", .int16(frame.age)), ("ltc_count", .uint8(frame.ltcCount))]
        for m in UseMeasure.allCases {
            guard let column = frame.use[m] else { continue }
            out.append((m.rawValue + "_12m", .float(column)))
        }
        for (s, id) in frame.scoreIds.enumerated() { out.append((id, .double(frame.scores[s]))) }
        for risk in frame.risks {
            out.append(("risk_" + risk.outcome, .float(risk.risk)))
            out.append(("rising_" + risk.outcome, .flag(risk.rising, known: risk.tier)))
        }
        // Each area indicator of where people live (unknown where the area or its value is).
        for (k, name) in frame.areaIndicatorNames.enumerated() {
            let values = frame.areaIndicators[k]
            out.append(("area_" + name, .float(frame.area.map { $0 >= 0 ? values[Int($0)] : .nan })))
        }
        return out
    }

    /// The centiles of each measure that planning holds a person's value within before taking means.
    public static let capCentiles = (low: 0.001, high: 0.999)

    /// Each measure's cap: its 0.1th to 99.9th centiles over the people planning sees (no
    /// National Data Opt-outs), widened to 1, 2 or 5 times a power of ten so that no one person's
    /// value is published as a cap. One person can then move a mean of n people by at most the
    /// cap's width over n.
    public static func caps(_ frame: PersonFrame) -> [String: ClosedRange<Double>] {
        var caps: [String: ClosedRange<Double>] = [:]
        let planning = (0..<frame.count).filter { !frame.optedOut[$0] }
        for (name, column) in measures(frame) {
            caps[name] = NiceNumber.centileRange(planning.compactMap(column.value), low: capCentiles.low, high: capCentiles.high)
        }
        return caps
    }

    /// Counts by every breakdown and sums for every mean over one set of rows.
    ///
    /// - Complexity: one pass over the rows per breakdown, each reading one column, one through
    ///   each row's conditions and one through each row's measures. Column at a time took 43 ms
    ///   for 927,625 people (cohort and population together); one pass calling every breakdown
    ///   for each row took 330 ms.
    public struct Tally: Sendable {
        public var size: Int
        /// The cell key of the rows: their record keys summed modulo 256 (0 without keys).
        public var key: UInt8
        var groups: [(breakdown: String, group: String, count: Int, key: UInt8)] = []
        var sums: [(measure: String, sum: Double, capped: Double, n: Int, cap: ClosedRange<Double>?)] = []

        public init(_ frame: PersonFrame, rows: Bitset) {
            // The rows listed once: every breakdown and measure below reads the list rather than
            // decoding the set again.
            let list = rows.rows
            size = list.count
            let keys = frame.recordKeys.count == frame.count ? frame.recordKeys : [UInt8](repeating: 0, count: frame.count)
            key = 0
            /// Counts and cell keys of the rows by `group(row)`, from 0 to `labels.count` (that
            /// one not counted). Four tallies, the rows taken in turn, added at the end: rows in
            /// the same group one after another otherwise wait on each other's increments.
            func breakdown(_ labels: [(breakdown: String, group: String)], _ group: (Int) -> Int) {
                let width = labels.count + 1
                var counts = [Int](repeating: 0, count: 4 * width)
                var cellKeys = [UInt8](repeating: 0, count: 4 * width)
                // Through buffers: the row loop does no uniqueness or bounds checks on the tallies.
                counts.withUnsafeMutableBufferPointer { c in
                    cellKeys.withUnsafeMutableBufferPointer { k in
                        keys.withUnsafeBufferPointer { recordKeys in
                            list.withUnsafeBufferPointer { list in
                                for (i, row) in list.enumerated() {
                                    let slot = (i & 3) &* width &+ group(row)
                                    c[slot] &+= 1
                                    k[slot] &+= recordKeys[row]
                                }
                            }
                        }
                    }
                }
                for (g, label) in labels.enumerated() {
                    let lanes = [g, width + g, 2 * width + g, 3 * width + g]
                    groups.append(
                        (
                            label.breakdown, label.group, lanes.reduce(0) { $0 + counts[$1] },
                            lanes.reduce(0) { $0 &+ cellKeys[$1] }
                        ))
                }
            }
            func breakdown(_ name: String, _ labels: [String], _ group: (Int) -> Int) {
                breakdown(labels.map { (name, $0) }, group)
            }
            breakdown("sex", Sex.allCases.map(\.criterionValue)) { Int(frame.sex[$0].rawValue) }
            // Every row has a sex: the whole set's key is the sum of theirs.
            key = groups.reduce(0) { $0 &+ $1.key }
            // Both pyramids in one pass: women's bands, then men's.
            let bands = CohortProfile.pyramidBands
            breakdown(bands.map { ("age_female", $0) } + bands.map { ("age_male", $0) }) {
                let band = min(Int(frame.age[$0]) / 5, bands.count - 1)
                switch frame.sex[$0] {
                case .female: return band
                case .male: return bands.count + band
                default: return 2 * bands.count
                }
            }
            breakdown("imd_decile", (1...10).map(String.init) + ["unknown"]) {
                frame.imdDecile[$0] == 0 ? 10 : Int(frame.imdDecile[$0]) - 1
            }
            breakdown("ethnic_group", EthnicGroup.allCases.map(\.criterionValue)) { Int(frame.ethnicGroup[$0].rawValue) }
            for segmentation in frame.segmentations {
                breakdown("segment_" + segmentation.id, segmentation.segmentIds + ["unassigned"]) {
                    let s = segmentation.segment[$0]
                    return s == .max ? segmentation.segmentIds.count : Int(s)
                }
            }
            for risk in frame.risks {
                breakdown("tier_" + risk.outcome, PersonFrame.tierIds + ["not_scored"]) {
                    risk.tier[$0] < 0 ? PersonFrame.tierIds.count : Int(risk.tier[$0])
                }
            }
            // Row by row through each row's own conditions: a small cohort's tally no longer
            // reads every condition's whole population of postings.
            let byRow = frame.conditionsByRow ?? PersonFrame.RowIndex(frame.conditions, count: frame.count)
            var conditionCounts = [Int](repeating: 0, count: frame.conditions.count)
            var conditionKeys = [UInt8](repeating: 0, count: frame.conditions.count)
            conditionCounts.withUnsafeMutableBufferPointer { counts in
                conditionKeys.withUnsafeMutableBufferPointer { cellKeys in
                    byRow.start.withUnsafeBufferPointer { start in
                        byRow.items.withUnsafeBufferPointer { items in
                            keys.withUnsafeBufferPointer { keys in
                                list.withUnsafeBufferPointer { list in
                                    for row in list {
                                        let key = keys[row]
                                        for i in Int(start[row])..<Int(start[row + 1]) {
                                            let c = Int(items[i])
                                            counts[c] &+= 1
                                            cellKeys[c] &+= key
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for c in frame.conditions.indices {
                groups.append(("condition", frame.conditionIds[c], conditionCounts[c], conditionKeys[c]))
            }
            let matrix = frame.measureRows ?? MeasureRows(frame)
            let caps = matrix.names.map { frame.measureCaps[$0] }
            for (m, total) in matrix.sums(over: list, caps: caps).enumerated() {
                sums.append((matrix.names[m], total.sum, total.capped, total.n, caps[m]))
            }
        }
    }
}
