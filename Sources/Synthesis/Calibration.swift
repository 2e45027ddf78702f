import Foundation

/// The figures the generator is tuned to, per long-term-condition count band 0..7 and 8+.
///
/// Targets are the seed multimorbidity table (Leicestershire, 356,796 patients): share of
/// patients by LTC count, and per patient per year A&E attendances, outpatient attendances,
/// elective and emergency admissions, their costs and unique prescription types. Where the seed
/// rounds a rate to 0.0 or 0.1, the rate is taken from the seed's cost column divided by a
/// plausible cost per admission. The dispersion parameters were tuned so that secondary care
/// cost is as concentrated as the seed reports (top 0.5% of people ~20%, top 5% ~66%, ~80% with
/// none in a year).
enum Calibration {
    /// Seed patient counts by LTC band 0..7, 8+.
    static let ltcPatients: [Double] = [179_543, 78_370, 37_592, 21_661, 13_201, 8_835, 5_981, 3_864, 7_749]

    static let aeRate: [Double] = [0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.6, 0.7, 1.4]
    static let outpatientRate: [Double] = [0.4, 1.0, 1.7, 2.3, 2.9, 3.5, 4.3, 4.7, 6.2]
    static let electiveRate: [Double] = [0.01, 0.08, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9, 1.1]
    static let emergencyRate: [Double] = [0.018, 0.06, 0.09, 0.12, 0.18, 0.24, 0.3, 0.46, 1.1]
    /// Mean cost of an emergency spell by band (GBP): seed emergency cost / emergency rate.
    static let emergencyCost: [Double] = [1_556, 917, 1_044, 1_275, 1_217, 1_690, 1_917, 1_787, 2_197]
    /// Mean cost of an elective spell by band (GBP): seed (APC - emergency cost) / elective rate.
    static let electiveCost: [Double] = [1_000, 913, 940, 1_043, 1_062, 990, 1_029, 1_005, 1_054]
    /// Unique prescription types per year (seed), split into repeat medicines from conditions
    /// and acute ones drawn here.
    static let prescriptionTypes: [Double] = [0.9, 2.2, 3.7, 5.4, 6.8, 8.2, 9.5, 10.5, 13.2]

    /// Hospital use is a mixture: in a year a person is either no user of secondary care or a
    /// user whose rates are scaled by a person-level gamma multiplier and a yearly one. The share
    /// of users grows with LTC count, `activeShare * (1 + activeSlope * band)`, and users stay
    /// users from one year to the next with probability `activePersistence`.
    static let activeShare = 0.14
    static let activeSlope = 0.6
    static let activePersistence = 0.8
    /// Shape of the person-level gamma multiplier of hospital use among users.
    static let personShape = 1.3
    /// Shape of the year-to-year gamma multiplier.
    static let yearShape = 3.0
    /// Log-normal spread of the cost of one admission.
    static let admissionCostSigma = 0.6

    static let aeCost = 190.0

    /// Emergency admissions are `exp(pm25Effect x (pm25 - pm25Centre))` times as frequent for
    /// people living in an area with that annual mean PM2.5 (micrograms per cubic metre): 4% more
    /// for each microgram, several times the association published for long-term exposure (about
    /// 6-8% more deaths per 10 micrograms; COMEAP 2018), so that a gradient across the areas'
    /// quintiles is plain in 100,000 people and its size can be checked.
    static let pm25Effect = log(1.04)
    static let pm25Centre = 9.0
    static let outpatientCost = 135.0
    static let communityCost = 62.0
    static let mentalHealthCost = 175.0
    static let ambulanceCost = 420.0
    static let socialCarePerDay = 28.0
}
