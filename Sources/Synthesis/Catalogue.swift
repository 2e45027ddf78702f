/// The clinical content the generator draws from: conditions with the codes a GP system and a
/// hospital would record for them, the medicines that treat them, and everyday acute care.
///
/// Conditions are the 37 of the Cambridge Multimorbidity Score (Payne et al., CMAJ 2020). SNOMED CT codes were checked against the OpenCodelists lists where one
/// exists; BNF codes are presentation-shaped codes under the right BNF chapter.
public struct SyntheticCondition: Sendable {
    public var name: String
    public var snomed: [String]
    public var icd10: [String]
    /// Relative weight of being chosen, by age band A-E.
    var ageWeight: [Double]
    /// Multiplies the weight for each decile step towards the most deprived.
    var deprivationSlope: Double
    var sex: Character?
    /// Medicines issued repeatedly while the condition is present.
    var medicines: [String]
    /// Whether the condition was first recorded within the last five years (cancer).
    var recent: Bool = false
    /// Whether the condition is counted from prescriptions rather than a diagnosis code.
    var prescriptionDefined: Bool = false
    /// Whether everyone with the condition is treated (the score counts it only with current treatment).
    var alwaysTreated: Bool = false
    /// Whether the condition is counted from test values rather than a diagnosis code.
    var valueDefined: Bool = false
}

/// A social factor a GP records (coded as in the condition library's social lists): who has it
/// and what it does to their emergency admissions.
struct SyntheticFactor: Sendable {
    var name: String
    var snomed: String
    /// Share of people with it by age band A-E, in the least deprived decile.
    var share: [Double]
    /// Multiplies the share by `1 + slope` for each decile step towards the most deprived.
    var deprivationSlope: Double
    var femaleOnly = false
    /// Rate ratio of emergency admissions for the people with it.
    var emergencyEffect: Double
}

public enum Catalogue {
    // Age weight profiles by band A 0-17, B 18-44, C 45-64, D 65-79, E 80+.
    static let young: [Double] = [3, 2, 1.2, 1, 1]
    static let adult: [Double] = [0.3, 2, 2, 1.3, 1]
    static let middle: [Double] = [0.1, 0.6, 1.5, 2, 2]
    static let old: [Double] = [0.01, 0.2, 1, 3, 4.5]
    static let veryOld: [Double] = [0, 0.02, 0.3, 2, 6]

    public static let conditions: [SyntheticCondition] = [
        c("alcohol", ["7200002"], ["F10.2"], adult, 1.5, 0.08, med: ["0410010A0AAAAAA"]),
        c("anorexia_bulimia", ["56882008"], ["F50.0"], [0.8, 1.5, 0.3, 0.1, 0.05], 0.3, 0, sex: "F"),
        c("anxiety", ["197480006", "21897009"], ["F41.1"], adult, 6, 0.05, med: ["0403030Q0AAAAAA"]),
        c("dementia", ["52448006", "26929004"], ["F03", "G30.9"], veryOld, 3, 0.02, med: ["0411000D0AAAAAA"]),
        c("depression", ["35489007"], ["F32.9"], adult, 9, 0.06, med: ["0403030Q0AAAAAA", "0403030E0AAAAAA"]),
        c("learning_disability", ["110359009"], ["F79"], [1, 1, 0.6, 0.3, 0.1], 0.6, 0.03),
        c("substance_misuse", ["191816009"], ["F19.2"], [0.1, 2, 1, 0.2, 0.05], 0.6, 0.1, med: ["0410030A0AAAAAA"]),
        c(
            "schizophrenia_bipolar", ["58214004", "13746004"], ["F20.9", "F31.9"], [0.05, 1, 1, 0.8, 0.5], 0.8, 0.06,
            med: ["0402010ABAAAAAA"]),
        c("asthma", ["195967001"], ["J45.9"], young, 9, 0.03, med: ["0301011R0AAAAAA", "0302000C0AAAAAA"], alwaysTreated: true),
        c("atrial_fibrillation", ["49436004"], ["I48.9"], old, 3, 0.01, med: ["0208020Z0AAAAAA", "0204000H0AAAAAA"]),
        c("blindness_low_vision", ["397540003"], ["H54.7"], veryOld, 1.2, 0.02),
        c("bronchiectasis", ["12295008"], ["J47"], middle, 0.6, 0.02, med: ["0501050A0AAAAAA"]),
        c(
            "cancer", ["254837009", "93880001", "363406005", "399068003"], ["C50.9", "C34.9", "C18.9", "C61"], old, 3, 0.01,
            med: ["0803041S0AAAAAA"], recent: true),
        c(
            "coronary_heart_disease", ["53741008", "194828000", "22298006"], ["I25.1", "I20.9", "I21.9"], old, 4, 0.05,
            med: ["0209000A0AAAAAA", "0212000B0AAAAAA", "0204000H0AAAAAA"]),
        c(
            "chronic_kidney_disease", ["433144002"], ["N18.3"], veryOld, 3.5, 0.03, med: ["0205051R0AAAAAA"],
            valueDefined: true),
        c("chronic_liver_disease", ["328383001", "19943007"], ["K74.6", "K70.3"], middle, 0.7, 0.08),
        c(
            "constipation", ["14760008"], ["K59.0"], veryOld, 3, 0.03, med: ["0106040M0AAAAAA", "0106040G0AAAAAA"],
            prescriptionDefined: true),
        c("copd", ["13645005"], ["J44.9"], old, 3, 0.1, med: ["0301020Q0AAAAAA", "0301011R0AAAAAA"]),
        c(
            "diabetes", ["44054006", "46635009"], ["E11.9", "E10.9"], middle, 7, 0.06,
            med: ["0601022B0AAABAB", "0212000B0AAAAAA"]),
        c("diverticular_disease", ["397881000"], ["K57.3"], old, 2, 0.01),
        c("epilepsy", ["84757009"], ["G40.9"], [1, 1, 1, 1, 0.8], 1, 0.04, med: ["0408010AEAAAAAA"], alwaysTreated: true),
        c("heart_failure", ["84114007"], ["I50.0"], veryOld, 2.2, 0.04, med: ["0202020L0AAAAAA", "0205051R0AAAAAA"]),
        c("hearing_loss", ["15188001"], ["H91.9"], veryOld, 5, 0.01),
        c("hypertension", ["38341003"], ["I10"], old, 14, 0.03, med: ["0206020A0AAAAAA", "0205051R0AAAAAA"]),
        c("inflammatory_bowel_disease", ["34000006", "64766004"], ["K50.9", "K51.9"], adult, 0.8, 0),
        c("irritable_bowel_syndrome", ["10743008"], ["K58.9"], adult, 3, 0.02, med: ["0102000P0AAAAAA"]),
        c("migraine", ["37796009"], ["G43.9"], adult, 2.5, 0.01, med: ["0407041T0AAAAAA"]),
        c("multiple_sclerosis", ["24700007"], ["G35"], adult, 0.3, 0),
        c(
            "painful_condition", ["396275006"], ["M19.9"], old, 6, 0.06, med: ["0407010F0AAAAAA", "0407020ADAAAAAA"],
            prescriptionDefined: true),
        c("parkinsons", ["49049000"], ["G20"], veryOld, 0.5, 0, med: ["0409010B0AAAAAA"]),
        c("prostate_disorder", ["266569009"], ["N40"], old, 3, 0, sex: "M", med: ["0704010U0AAAAAA"]),
        c("psoriasis_eczema", ["9014002", "24079001"], ["L40.0", "L20.9"], young, 4, 0.01, med: ["1302010A0AAAAAA"]),
        c("peripheral_vascular_disease", ["400047006"], ["I73.9"], veryOld, 1.2, 0.06, med: ["0209000C0AAAAAA"]),
        c("rheumatoid_arthritis", ["69896004"], ["M06.9"], middle, 1.2, 0.02, med: ["1001030U0AAAAAA"]),
        c("chronic_sinusitis", ["40055000"], ["J32.9"], adult, 1.2, 0, med: ["1202010M0AAAAAA"]),
        c(
            "stroke_tia", ["230690007", "266257000"], ["I63.9", "G45.9"], veryOld, 2.5, 0.04,
            med: ["0209000C0AAAAAA", "0212000B0AAAAAA"]),
        c("thyroid_disorder", ["40930008", "34486009"], ["E03.9", "E05.9"], middle, 4, 0, med: ["0602010V0AAAAAA"]),
    ]

    private static func c(
        _ name: String, _ snomed: [String], _ icd10: [String], _ age: [Double], _ weight: Double, _ slope: Double,
        sex: Character? = nil, med: [String] = [], recent: Bool = false, prescriptionDefined: Bool = false,
        alwaysTreated: Bool = false, valueDefined: Bool = false
    ) -> SyntheticCondition {
        SyntheticCondition(
            name: name, snomed: snomed, icd10: icd10, ageWeight: age.map { $0 * weight }, deprivationSlope: slope, sex: sex,
            medicines: med, recent: recent, prescriptionDefined: prescriptionDefined, alwaysTreated: alwaysTreated,
            valueDefined: valueDefined)
    }

    /// Social factors, their prevalence and their effects. The effects are the generator's
    /// choices, of the direction published evidence reports, sized so that tests can see them:
    /// social isolation (not tied to deprivation) raises emergency admissions by half, and caring
    /// (nor tied to deprivation) leaves them as they are, so that the breakdowns can be checked
    /// for size and for a null; the others are tied to deprivation, as they are in life.
    static let factors: [SyntheticFactor] = [
        // name, code, share by age band A-E, deprivation slope, emergency rate ratio
        f("homeless", "32911000", [0, 0.002, 0.0015, 0.0003, 0], 0.5, 2),
        f("housing_problem", "105531004", [0.01, 0.01, 0.008, 0.005, 0.003], 0.2, 1.2),
        f("lives_alone", "105529008", [0, 0.04, 0.06, 0.15, 0.3], 0.03, 1),
        f("carer", "133932002", [0.005, 0.04, 0.07, 0.05, 0.03], 0, 1),
        f("unemployed", "73438004", [0, 0.02, 0.015, 0, 0], 0.2, 1.2),
        f("socially_isolated", "422650009", [0, 0.01, 0.015, 0.03, 0.06], 0, 1.5),
        f("domestic_abuse", "205171000000107", [0.002, 0.015, 0.008, 0.002, 0.001], 0.15, 1.3, femaleOnly: true),
        f("hazardous_drinking", "198421000000108", [0, 0.04, 0.05, 0.03, 0.01], 0.05, 1.2),
        f("drug_misuse", "361055000", [0.001, 0.015, 0.006, 0.001, 0], 0.3, 1.5),
        f("current_smoker", "77176002", [0.005, 0.1, 0.1, 0.06, 0.03], 0.12, 1.2),
        f("care_home", "160734000", [0, 0, 0.001, 0.01, 0.08], 0, 1.3),
        f("asylum_refugee", "446654005", [0.002, 0.004, 0.001, 0, 0], 0.2, 1),
        f("interpreter_needed", "315594003", [0.005, 0.01, 0.01, 0.01, 0.01], 0.1, 1),
    ]

    private static func f(
        _ name: String, _ snomed: String, _ share: [Double], _ slope: Double, _ effect: Double, femaleOnly: Bool = false
    ) -> SyntheticFactor {
        SyntheticFactor(
            name: name, snomed: snomed, share: share, deprivationSlope: slope, femaleOnly: femaleOnly, emergencyEffect: effect)
    }
    /// Recorded for some people without the factor: an ex-smoker code, and a drug use status
    /// saying none (the drug list holds both kinds of status).
    static let exSmoker = "8517006"
    static let noDrugMisuse = "228367002"

    /// One-off medicines (antibiotics, short courses).
    static let acuteMedicines: [String] = [
        "0501013B0AAAAAA", "0501130R0AAAAAA", "0501030I0AAAAAA", "0501050B0AAAAAA", "0501012G0AAAAAA",
        "0603020T0AAAAAA", "1001010J0AAAAAA", "0304010G0AAAAAA", "1304000H0AAAAAA", "0501080W0AAAAAA",
        "0304010I0AAAAAA", "0304010W0AAAAAA", "1202010J0AAAAAA", "0503021C0AAAAAA", "0501110C0AAAAAA",
        "0501013K0AAAAAA", "1001010P0AAAAAA", "0407020C0AAAAAA", "0401020K0AAAAAA", "0401010Z0AAAAAA",
        "0501021A0AAAAAA", "1310020H0AAAAAA", "0407010H0AAAAAA", "0103050P0AAAAAB",
    ]

    /// Observations recorded with a value: systolic BP, BMI, HbA1c (IFCC), eGFR.
    static let systolicBP = "271649006"
    static let bodyMassIndex = "60621009"
    static let hba1c = "999791000000106"
    static let eGFR = "1011481000000105"
    static let obesity = "162864005"

    /// Primary diagnoses of emergency admissions and A&E attendances not tied to a condition.
    static let acuteDiagnoses = [
        "J18.9", "N39.0", "R07.4", "S72.0", "R55", "J22", "K35.8", "R10.4", "A09.9", "L03.9", "S06.0", "T78.4",
    ]
    static let electiveDiagnoses = ["H25.9", "M17.1", "K80.2", "N20.0", "M16.1", "K40.9", "D12.6", "H26.9", "Z51.1"]
    static let electiveProcedures = ["C71.2", "W40.1", "J18.3", "M65.3", "W37.1", "T20.2", "H22.9", "C75.1", "X72.9"]
    static let treatmentFunctions = [
        "100", "101", "110", "120", "130", "300", "301", "320", "330", "340", "400", "420", "502", "800",
    ]
    static let aeSnomedDiagnoses = ["125605004", "29857009", "233604007", "68566005", "271594007", "62315008"]
}
