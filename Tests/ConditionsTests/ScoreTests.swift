import Conditions
import Foundation
import PHMCore
import TestSupport
import Testing

/// Charlson and Cambridge scores on people whose answers are worked out from the published tables.
@Suite struct ScoreTests {
    /// ICD-10 codes (dots as recorded) with their Quan 2005 Charlson condition.
    static let charlsonCodes: [(code: String, condition: String?)] = [
        ("I21.9", "charlson_mi"), ("I25.2", "charlson_mi"), ("I25.1", nil), ("I50.0", "charlson_chf"), ("I42.5", "charlson_chf"),
        ("I42.1", nil), ("I11.0", "charlson_chf"), ("I70.2", "charlson_pvd"), ("I73.9", "charlson_pvd"), ("I73.0", nil),
        ("G45.9", "charlson_cevd"), ("I63.9", "charlson_cevd"), ("H34.0", "charlson_cevd"), ("F03", "charlson_dementia"),
        ("G30.1", "charlson_dementia"), ("F05.1", "charlson_dementia"), ("F05.0", nil), ("J44.9", "charlson_copd"),
        ("J45.0", "charlson_copd"), ("J68.4", "charlson_copd"), ("J68.0", nil), ("M05.3", "charlson_rheumatic"),
        ("M35.3", "charlson_rheumatic"), ("M35.2", nil), ("K25.9", "charlson_peptic_ulcer"), ("K29.0", nil),
        ("K70.3", "charlson_mild_liver"), ("K70.4", "charlson_severe_liver"), ("B18.2", "charlson_mild_liver"),
        ("K76.5", "charlson_severe_liver"), ("E11.9", "charlson_diabetes"), ("E10.6", "charlson_diabetes"),
        ("E11.2", "charlson_diabetes_complicated"), ("E14.7", "charlson_diabetes_complicated"), ("G81.9", "charlson_hemiplegia"),
        ("G83.4", "charlson_hemiplegia"), ("G83.5", nil), ("N18.3", "charlson_renal"), ("N03.2", "charlson_renal"),
        ("N03.1", nil), ("Z99.2", "charlson_renal"), ("C34.9", "charlson_malignancy"), ("C44.9", nil),
        ("C91.0", "charlson_malignancy"),
        ("C78.7", "charlson_metastatic"), ("C80.9", "charlson_metastatic"), ("B20.0", "charlson_hiv"), ("B23.0", nil),
    ]

    @Test func mapsICD10CodesToCharlsonConditionsAsQuan2005() throws {
        let library = try ConditionLibrary.standard()
        let people = ScoreTests.charlsonCodes.map { entry in
            var h = RuleTests.History()
            h.admissions = [("2024-01-01", "R69", [entry.code])]
            return h
        }
        let population = RuleTests.population(people)
        let results = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 2)
        let charlson = library.conditions.indices.filter { library.conditions[$0].group == "charlson" }
        for (i, entry) in ScoreTests.charlsonCodes.enumerated() {
            let found = charlson.filter { results.has(i, $0) }.map { library.conditions[$0].id }
            #expect(found == (entry.condition.map { [$0] } ?? []), "\(entry.code)")
        }
    }

    /// People with several Charlson conditions, scored by hand with the 1987 and Quan 2011
    /// weights, including the three hierarchy rules.
    @Test func scoresCharlsonWithBothWeightingsAndTheHierarchy() throws {
        let library = try ConditionLibrary.standard()
        let cases: [(codes: [String], w1987: Double, quan2011: Double)] = [
            ([], 0, 0),
            (["I21.0"], 1, 0),  // MI: 1 and 0
            (["I50.0", "F03"], 2, 4),  // CHF 1/2 + dementia 1/2
            (["K70.3", "K70.4"], 3, 4),  // severe liver beats mild: 3/4 only
            (["E11.9", "E11.2"], 2, 1),  // diabetes with complications beats without
            (["C34.9", "C78.0"], 6, 6),  // metastatic beats any malignancy
            (["B20.0", "N18.4", "G81.0", "J44.1"], 11, 8),  // HIV 6/4 + renal 2/1 + hemiplegia 2/2 + COPD 1/1
            (["K25.0", "M05.9", "I70.0", "G45.9"], 4, 1),  // ulcer 1/0 + rheumatic 1/1 + PVD 1/0 + CeVD 1/0
        ]
        let people = cases.map { c in
            var h = RuleTests.History()
            h.admissions = c.codes.map { ("2024-01-01", $0, []) }
            return h
        }
        let population = RuleTests.population(people)
        let results = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 1)
        let s1987 = library.score("charlson_1987")!, s2011 = library.score("charlson_quan2011")!
        for (i, c) in cases.enumerated() {
            #expect(results.scores[s1987][i] == c.w1987, "\(c.codes)")
            #expect(results.scores[s2011][i] == c.quan2011, "\(c.codes)")
        }
    }

    /// Cambridge Multimorbidity Score (Payne 2020, 20-condition weights) for hand-built people.
    @Test func scoresCambridgeMultimorbidity() throws {
        let library = try ConditionLibrary.standard()
        var a = RuleTests.History()  // hypertension, diabetes, depression
        a.clinical = [
            ("2010-01-01", .snomed, "38341003", .nan), ("2012-01-01", .snomed, "44054006", .nan),
            ("2020-01-01", .snomed, "35489007", .nan),
        ]
        var b = RuleTests.History()  // dementia, heart failure, anxiety and depression (counted once), hearing loss
        b.clinical = [
            ("2018-01-01", .snomed, "52448006", .nan), ("2019-01-01", .snomed, "84114007", .nan),
            ("2019-06-01", .snomed, "197480006", .nan),
            ("2019-07-01", .snomed, "35489007", .nan), ("2015-01-01", .snomed, "15188001", .nan),
        ]
        var c = RuleTests.History()  // cancer first recorded 2018: more than five years before as-of, so not counted
        c.clinical = [("2018-01-01", .snomed, "254837009", .nan), ("2024-01-01", .snomed, "254837009", .nan)]
        let population = RuleTests.population([a, b, c])
        let results = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 1)
        let general = library.score("cms_general")!, mortality = library.score("cms_mortality")!
        #expect(abs(results.scores[general][0] - (0.08 + 0.75 + 0.50)) < 1e-9)
        #expect(abs(results.scores[mortality][0] - (-2.09 + 10.23 + 7.04)) < 1e-9)
        #expect(abs(results.scores[general][1] - (2.50 + 1.18 + 0.50 + 0.09)) < 1e-9)
        #expect(abs(results.scores[mortality][1] - (124.42 + 43.47 + 7.04 - 3.94)) < 1e-9)
        #expect(results.ltcCount == [3, 5, 0])
        #expect(results.scores[general][2] == 0)
    }

    /// Electronic Frailty Index (Clegg 2016): deficits present / 36, with its four categories.
    @Test func scoresTheElectronicFrailtyIndex() throws {
        let library = try ConditionLibrary.standard()
        var a = RuleTests.History()
        // Hypertension, diabetes, atrial fibrillation and falls: 4 deficits; five different
        // medicines in the last year: polypharmacy, the fifth.
        a.clinical = [
            ("2010-01-01", .snomed, "38341003", .nan), ("2012-01-01", .snomed, "44054006", .nan),
            ("2015-01-01", .snomed, "49436004", .nan),
            ("2024-11-01", .snomed, "161898004", .nan),
        ]
        a.prescriptions = ["0206020A0AAAAAA", "0601022B0AAABAB", "0212000B0AAAAAA", "0208020Z0AAAAAA", "0204000H0AAAAAA"].map {
            ("2024-12-01", $0)
        }
        var b = a
        b.prescriptions.removeLast()  // four medicines: no polypharmacy
        var c = RuleTests.History()  // nine deficits: moderate (0.25)
        c.clinical = [
            "38341003", "44054006", "49436004", "161898004", "404640003", "267036007", "64859006", "165232002", "193462001",
        ]
        .map { ("2020-01-01", .snomed, $0, .nan) }
        let population = RuleTests.population([a, b, c, RuleTests.History()])
        let results = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 1)
        let efi = library.score("efi")!
        let expected: [Double] = [5.0 / 36, 4.0 / 36, 9.0 / 36, 0]
        #expect(results.scores[efi] == expected)
        let categories: [String] = results.scores[efi].map { library.scores[efi].category(of: $0) ?? "" }
        #expect(categories == ["mild", "fit", "moderate", "fit"])
    }
}
