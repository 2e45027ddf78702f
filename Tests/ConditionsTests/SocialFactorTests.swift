import Conditions
import Foundation
import PHMCore
import TestSupport
import Testing

/// The social factors of the shipped library, on people whose codes and dates give known answers
/// (as-of 2025-04-01).
@Suite struct SocialFactorTests {
    static let factors = [
        "homeless", "housing_problem", "lives_alone", "carer", "unemployed", "socially_isolated", "domestic_abuse",
        "hazardous_drinking", "drug_misuse", "current_smoker", "care_home", "asylum_refugee", "interpreter_needed",
        "social_need",
    ]

    @Test func theLibraryHasTheSocialFactorsOutsideTheLongTermConditions() throws {
        let library = try ConditionLibrary.standard()
        let social = library.conditions.filter { $0.group == "social" }
        #expect(social.map(\.id) == SocialFactorTests.factors)
        #expect(social.allSatisfy { !$0.isLTC })
        // The published lists load whole: every row's code is one the list holds.
        for file in [
            "homeless", "carer", "domestic-abuse", "hazardous-drinking", "drug-misuse", "current-smoker", "ex-smoker",
            "care-home", "asylum-refugee", "interpreter-needed",
        ] {
            let url = ConditionLibrary.standardFolder.appendingPathComponent("codelists/\(file)-snomed.csv")
            let list = try CodeList.load(csv: url, name: file, system: .snomed)
            let rows = readCSV(url).dropFirst()
            #expect(!rows.isEmpty && list.count == Set(rows.map { $0[0] }).count, "\(file)")
            #expect(rows.allSatisfy { list.contains($0[0], system: .snomed) }, "\(file)")
        }
    }

    @Test func factorsFollowTheirListsWindowsAndLatestStatus() throws {
        let library = try ConditionLibrary.standard()
        func person(_ codes: [(String, String)]) -> History {
            History(age: 40, clinical: codes.map { ($0.0, .snomed, $0.1, .nan) })
        }
        let people: [(History, Set<String>)] = [
            // Homeless (PRIMIS/NHS Digital list) in the last 2 years: a social need.
            (person([("2024-06-01", "32911000")]), ["homeless", "social_need"]),
            // Homeless three years ago: no longer counted.
            (person([("2022-01-01", "32911000")]), []),
            // Drug use status: the latest one decides, and a code saying none is not use.
            (person([("2024-01-01", "361055000"), ("2024-06-01", "228367002")]), []),
            (person([("2023-01-01", "228367002"), ("2024-06-01", "361055000")]), ["drug_misuse"]),
            (person([("2024-06-01", "228367002")]), []),
            // Not injecting is not abstaining; past use is not current use.
            (person([("2024-01-01", "361055000"), ("2024-06-01", "228392004")]), ["drug_misuse"]),
            (person([("2024-01-01", "361055000"), ("2024-06-01", "44870007")]), []),
            // Smoking: a later ex-smoker code ends it; a later smoker code starts it again.
            (person([("2023-01-01", "77176002"), ("2024-01-01", "8517006")]), []),
            (person([("2023-01-01", "8517006"), ("2024-01-01", "160603005")]), ["current_smoker"]),
            (person([("2023-01-01", "77176002"), ("2024-01-01", "266919005")]), []),
            // Living alone is recorded, but is not by itself a need.
            (person([("2024-01-01", "105529008")]), ["lives_alone"]),
            // A carer, living alone and isolated: social needs; an interpreter is not one.
            (person([("2023-06-01", "133932002")]), ["carer", "social_need"]),
            (
                person([("2021-06-01", "105529008"), ("2025-01-01", "422650009")]),
                ["lives_alone", "socially_isolated", "social_need"]
            ),
            (person([("2010-06-01", "315594003")]), ["interpreter_needed"]),
            (
                person([("2024-06-01", "205171000000107"), ("2024-06-01", "198421000000108")]),
                ["domestic_abuse", "social_need", "hazardous_drinking"]
            ),
        ]
        let population = RuleTests.population(people.map(\.0))
        let results = ConditionEngine(library: library, codes: population.codes).evaluate(population, workers: 2)
        let social = library.conditions.indices.filter { library.conditions[$0].group == "social" }
        for (p, expected) in people.map(\.1).enumerated() {
            let found = Set(social.filter { results.has(p, $0) }.map { library.conditions[$0].id })
            #expect(found == expected, "person \(p)")
        }
    }
}
