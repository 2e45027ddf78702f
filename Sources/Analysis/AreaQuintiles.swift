import PHMCore

/// Population-weighted quintiles of each area indicator (`areas.csv`'s further numeric columns,
/// such as `pm25`): areas ranked by their value, lowest first, and cut so that each fifth holds
/// about a fifth of the people, as IMD quintiles are. An area's quintile is the one its people's
/// middle falls in; areas with equal values share one, and areas with no value have none.
public struct AreaQuintiles: Sendable, Equatable {
    /// The indicators' names, as the outputs and cohort criteria call them.
    public var names: [String]
    /// `[indicator][area]`: 1 (lowest values) to 5 (highest), 0 where the value is missing.
    public var quintile: [[UInt8]]
    /// `[indicator][quintile - 1]`: the lowest and highest value of the quintile's areas (nil for
    /// an empty one).
    public var ranges: [[ClosedRange<Float>?]]

    public init(names: [String] = [], quintile: [[UInt8]] = [], ranges: [[ClosedRange<Float>?]] = []) {
        self.names = names
        self.quintile = quintile
        self.ranges = ranges
    }

    /// The quintiles of `areas`' indicators, weighted by `people` (indices into the population:
    /// the people the outputs count).
    public init(population: Population, people: [Int]) {
        let areas = population.areas
        var weight = [Double](repeating: 0, count: areas.count)
        for p in people where population.area[p] >= 0 { weight[Int(population.area[p])] += 1 }
        self.init(areas: areas, weight: weight)
    }

    /// The quintiles with each area's weight given (its people).
    public init(areas: Areas, weight: [Double]) {
        names = areas.indicatorNames
        quintile = []
        ranges = []
        for values in areas.indicators {
            let known = values.indices.filter { !values[$0].isNaN }.sorted { values[$0] < values[$1] }
            let total = known.reduce(0) { $0 + weight[$1] }
            var q = [UInt8](repeating: 0, count: values.count)
            var range = [ClosedRange<Float>?](repeating: nil, count: 5)
            var before = 0.0, i = 0
            while i < known.count {
                // A run of equal values is placed as one.
                var j = i, people = 0.0
                while j < known.count, values[known[j]] == values[known[i]] {
                    people += weight[known[j]]
                    j += 1
                }
                let middle = total > 0 ? (before + people / 2) / total : Double(i + j) / 2 / Double(known.count)
                let fifth = min(4, Int(5 * middle))
                let v = values[known[i]]
                range[fifth] = range[fifth].map { min($0.lowerBound, v)...max($0.upperBound, v) } ?? v...v
                for k in i..<j { q[known[k]] = UInt8(fifth + 1) }
                before += people
                i = j
            }
            quintile.append(q)
            ranges.append(range)
        }
    }

    /// The output name of indicator `k`'s breakdown: `area_pm25_quintile`.
    public func breakdown(_ k: Int) -> String { "area_\(names[k])_quintile" }
}
