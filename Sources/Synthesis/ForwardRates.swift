import Foundation
import PHMCore

/// The yearly rates people live by when the generator runs conditions forwards
/// (`SynthesisOptions.Onsets.forward`). Each is constant within the projection's age bands
/// (five-year bands split at the seed's edges 18, 45, 65 and 80), so the projection's estimates
/// can be compared with them cell by cell.
///
/// - Gaining a long-term condition in a year: 1%, 2.5%, 5%, 8% and 11% in the seed's age bands
///   0-17, 18-44, 45-64, 65-79 and 80+; 10% higher for each IMD quintile more deprived than the
///   least (quintile 5; an area of unknown deprivation counts as quintile 3); 10% higher for
///   each condition already held (up to 9); 10% higher for women; at most 50%. At most one
///   condition is gained a year.
/// - Dying in a year: a Gompertz hazard at the middle of the person's five-year age band
///   (`exp(-11 + 0.094 x age)`, 90 and over taken as 92.5), 25% higher for each condition held
///   (up to 9) and 30% higher for men; at most 50%.
///
/// Gaining and dying are independent within a year; a condition gained after the day of death
/// is not recorded. Only conditions recorded once and kept are gained (not those the library
/// counts from recent codes, prescriptions or test values), so the record shows every one.
public enum ForwardRates {
    static let gainByBand: [Double] = [0.01, 0.025, 0.05, 0.08, 0.11]

    public static func gain(age: Int, female: Bool, quintile: Int, conditions: Int) -> Double {
        let band = Int(AgeBand(age: age).rawValue)
        let q = (1...5).contains(quintile) ? quintile : 3
        let rate =
            gainByBand[band] * (1 + 0.1 * Double(5 - q)) * (1 + 0.1 * Double(min(conditions, 9))) * (female ? 1.1 : 1)
        return min(0.5, rate)
    }

    public static func death(age: Int, male: Bool, conditions: Int) -> Double {
        let middle = Double(min(age, 90) / 5 * 5) + 2.5
        return min(0.5, exp(-11 + 0.094 * middle) * (1 + 0.25 * Double(min(conditions, 9))) * (male ? 1.3 : 1))
    }

    /// Whether a condition can be gained: recorded once by a code and kept ever after.
    static func kept(_ condition: SyntheticCondition) -> Bool {
        !condition.recent && !condition.prescriptionDefined && !condition.alwaysTreated && !condition.valueDefined
    }
}
