import Foundation
import PHMCore
import Synthesis
import TestSupport
import Testing

@Suite struct SynthesisTests {
    @Test func sameSeedWritesTheSameFiles() throws {
        let a = temporaryFolder("synth-a"), b = temporaryFolder("synth-b")
        defer {
            try? FileManager.default.removeItem(at: a)
            try? FileManager.default.removeItem(at: b)
        }
        _ = try SyntheticHealthSystem.write(SynthesisOptions(people: 3_000, seed: 7), to: a)
        _ = try SyntheticHealthSystem.write(SynthesisOptions(people: 3_000, seed: 7), to: b)
        for file in try FileManager.default.contentsOfDirectory(atPath: a.path) where file.hasSuffix(".csv") {
            #expect(
                try Data(contentsOf: a.appendingPathComponent(file)) == Data(contentsOf: b.appendingPathComponent(file)),
                "\(file)")
        }
        let c = temporaryFolder("synth-c")
        defer { try? FileManager.default.removeItem(at: c) }
        _ = try SyntheticHealthSystem.write(SynthesisOptions(people: 3_000, seed: 8), to: c)
        #expect(
            try Data(contentsOf: a.appendingPathComponent("patients.csv"))
                != Data(contentsOf: c.appendingPathComponent("patients.csv")))
    }

    @Test func everyCatalogueCodeIsValidInItsSystem() {
        for condition in Catalogue.conditions {
            for code in condition.snomed {
                #expect(CodeFormat.normalise(code, system: .snomed) != nil, "\(condition.name) \(code)")
            }
            for code in condition.icd10 {
                #expect(CodeFormat.normalise(code, system: .icd10) != nil, "\(condition.name) \(code)")
            }
        }
        #expect(Catalogue.conditions.count == 37)
    }

    /// The population registered at as-of follows the seed's LTC count distribution (Leicestershire).
    @Test func ltcCountsFollowTheSeed() throws {
        let rows = readCSV(DefaultSynthetic.folder.appendingPathComponent("ground-truth/persons.csv")).dropFirst().filter {
            $0[3] == "1"
        }
        var counts = [Int](repeating: 0, count: 9)
        for row in rows { counts[min(8, Int(row[1])!)] += 1 }
        let seed: [Double] = [179_543, 78_370, 37_592, 21_661, 13_201, 8_835, 5_981, 3_864, 7_749]
        for band in 0..<9 {
            let expected = seed[band] / seed.reduce(0, +)
            let observed = Double(counts[band]) / Double(rows.count)
            #expect(abs(observed - expected) / expected < 0.05, "band \(band): \(observed) vs \(expected)")
        }
    }

    @Test func writesValidNHSNumbersAndAboutThreePercentOptOuts() throws {
        let rows = readCSV(DefaultSynthetic.folder.appendingPathComponent("patients.csv")).dropFirst()
        var valid = 0, optOut = 0, people = Set<String>()
        for row in rows where row[1] != "" {
            if case .valid = NHSNumber.check(row[1]) { valid += 1 }
            if people.insert(row[1]).inserted, row[13] == "Y" { optOut += 1 }
        }
        #expect(valid == rows.filter { $0[1] != "" }.count)
        let share = Double(optOut) / Double(people.count)
        #expect(share > 0.025 && share < 0.035)
    }
}
