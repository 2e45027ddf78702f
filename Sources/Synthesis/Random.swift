import Foundation
import PHMCore

/// Running sums of weights, for `Xoshiro.pick(cumulative:)`.
func cumulative(_ weights: [Double]) -> [Double] {
    var total = 0.0
    return weights.map {
        total += $0
        return total
    }
}
