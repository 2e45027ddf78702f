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

    /// A programme with no effect changes no extract; one with an effect removes emergency
    /// admissions of the people it lists, and only theirs.
    @Test func aProgrammeChangesOnlyItsPeoplesLaterAdmissions() throws {
        let plain = temporaryFolder("synth-plain"), none = temporaryFolder("synth-none"), some = temporaryFolder("synth-some")
        defer { for f in [plain, none, some] { try? FileManager.default.removeItem(at: f) } }
        var options = SynthesisOptions(people: 20_000, seed: 3)
        _ = try SyntheticHealthSystem.write(options, to: plain)
        options.intervention = .init(effect: 0)
        _ = try SyntheticHealthSystem.write(options, to: none)
        options.intervention = .init(effect: -0.5)
        _ = try SyntheticHealthSystem.write(options, to: some)
        for file in try FileManager.default.contentsOfDirectory(atPath: plain.path) where file.hasSuffix(".csv") {
            #expect(
                try Data(contentsOf: plain.appendingPathComponent(file)) == Data(contentsOf: none.appendingPathComponent(file)),
                "\(file)")
        }
        func lines(_ folder: URL, _ file: String) throws -> [Substring] {
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
        }
        let enrolled = try lines(none, "ground-truth/intervention.csv").dropFirst()
        #expect(enrolled.count >= 20, "\(enrolled.count) enrolled")
        #expect(try lines(plain, "ground-truth/intervention.csv").count == 1)
        #expect(try lines(some, "ground-truth/intervention.csv").dropFirst() == enrolled)
        // Emergency spells (methods 2x) of people not enrolled are the same; some of the enrolled's
        // are gone. Record ids carry the person (`I` and 8 digits), patient ids too (`P`).
        let numbers = Set(enrolled.map { $0.split(separator: ",")[0] })
        let people = Set(
            try lines(none, "patients.csv").dropFirst().compactMap { line -> Substring? in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return numbers.contains(fields[1]) ? fields[0].dropFirst().prefix(8) : nil
            })
        func emergencies(_ folder: URL) throws -> (listed: Int, others: [Substring]) {
            var listed = 0, others: [Substring] = []
            for line in try lines(folder, "inpatient_spells.csv").dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                guard fields.count > 10, fields[10].hasPrefix("2") else { continue }
                if people.contains(fields[0].dropFirst().prefix(8)) { listed += 1 } else { others.append(line) }
            }
            return (listed, others)
        }
        let before = try emergencies(none), after = try emergencies(some)
        #expect(after.listed < before.listed)
        #expect(after.others == before.others)
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
