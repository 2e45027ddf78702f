import Foundation
import Outputs
import PHMCore

extension Validation {
    /// Writes the development snapshot as CSV for checking the models elsewhere: one row per
    /// person with `split` (`train` or `held_out`), each outcome (0 or 1) and every feature.
    /// No pseudonym is written: rows are people only by position.
    public func exportFeatures(to url: URL) throws {
        let x = development.features
        var rows = CSVRows(capacity: x.rows * x.columns * 4)
        let outcomes = Outcome.allCases.filter { development.outcomes[$0] != nil }
        rows.raw((["split"] + outcomes.map(\.rawValue) + x.features.map(\.id)).joined(separator: ","))
        var held = [Bool](repeating: false, count: x.rows)
        for r in testRows { held[Int(r)] = true }
        for i in 0..<x.rows {
            rows.field(held[i] ? "held_out" : "train")
            for o in outcomes { rows.field(Int(development.outcomes[o]![i])) }
            for j in 0..<x.columns { rows.field(Double(x[i, j]), decimals: 4) }
            rows.end()
        }
        try Data(rows.bytes).write(to: url)
    }
}
