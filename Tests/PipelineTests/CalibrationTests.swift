import Foundation
import PHMCore
import Pipeline
import TestSupport
import Testing

/// The default synthetic population, as the platform summarises it, reproduces the seed table
/// (Leicestershire, 356,796 patients) by LTC count band and its cost concentration.
@Suite(.serialized) struct CalibrationTests {
    struct Band {
        var people = 0
        var sums = [Double](repeating: 0, count: 7)
    }

    /// Per band of the generator's true LTC count: people and per-person means of the seed's columns.
    static let bands: [Band] = {
        let result = DefaultRun.result
        var ltcOfPerson: [String: Int] = [:]
        for row in readCSV(DefaultRun.input.appendingPathComponent("ground-truth/persons.csv")).dropFirst() {
            ltcOfPerson[row[0]] = Int(row[1])!
        }
        var personOfPatient: [String: String] = [:]
        for row in readCSV(DefaultRun.input.appendingPathComponent("ground-truth/registrations.csv")).dropFirst() {
            personOfPatient[row[0]] = row[1]
        }
        let use = result.prepared.utilisation
        var bands = [Band](repeating: Band(), count: 9)
        for p in result.prepared.population.registered {
            let band = min(8, ltcOfPerson[personOfPatient[result.prepared.registrationIds[p][0]]!]!)
            bands[band].people += 1
            let values = [
                Double(use.aeAttendances[p]), Double(use.outpatientAttendances[p]), Double(use.electiveAdmissions[p]),
                Double(use.emergencyAdmissions[p]), use.apcCost[p], use.emergencyCost[p], Double(use.prescriptionTypes[p]),
            ]
            for i in values.indices { bands[band].sums[i] += values[i] }
        }
        return bands
    }()

    static func seed() -> [[String]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/reference/seed-multimorbidity-table.csv").standardizedFileURL
        return readCSV(url).dropFirst().map { $0 }
    }

    @Test func ltcShareUtilisationAndCostAreWithinFifteenPercentOfTheSeed() {
        let seed = CalibrationTests.seed()
        let total = Double(CalibrationTests.bands.reduce(0) { $0 + $1.people })
        let seedTotal = seed.prefix(9).reduce(0.0) { $0 + Double($1[1])! }
        for b in 0..<9 {
            let band = CalibrationTests.bands[b]
            let share = Double(band.people) / total
            let seedShare = Double(seed[b][1])! / seedTotal
            #expect(abs(share - seedShare) / seedShare < 0.15, "band \(b) share \(share) vs \(seedShare)")
            for (i, column) in (3...9).enumerated() {
                let value = band.sums[i] / Double(band.people)
                let target = Double(seed[b][column])!
                // The seed prints rates to one decimal: 0.0 means below 0.05.
                if target < 0.1 && column <= 6 {
                    #expect(value < 0.1, "band \(b) column \(column): \(value)")
                } else if column <= 6 && target < 1 {
                    #expect(abs(value - target) <= 0.05 + 0.15 * target, "band \(b) column \(column): \(value) vs \(target)")
                } else {
                    #expect(abs(value - target) / target < 0.15, "band \(b) column \(column): \(value) vs \(target)")
                }
            }
        }
    }

    /// The platform's own multimorbidity table, from conditions it derives from the coded records,
    /// has the seed's layout and is within 15% of the seed in every band.
    @Test func platformMultimorbidityTableReproducesTheSeed() throws {
        _ = DefaultRun.result
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/reference/seed-multimorbidity-table.csv").standardizedFileURL
        let seedText = try String(contentsOf: url, encoding: .utf8)
        let ours = readCSV(DefaultRun.output.appendingPathComponent("multimorbidity.csv"))
        #expect(ours[0] == splitCSVLine(String(seedText.prefix { $0 != "\n" })))
        #expect(ours.dropFirst().map { $0[0] } == ["0", "1", "2", "3", "4", "5", "6", "7", "8+", "total"])
        let seed = CalibrationTests.seed()
        for (row, target) in zip(ours.dropFirst(), seed) {
            #expect(abs(Double(row[2])! - Double(target[2])!) <= 0.01 + 0.15 * Double(target[2])!, "band \(row[0]) share")
            for column in 3...9 {
                let value = Double(row[column])!, expected = Double(target[column])!
                if expected < 0.1 && column <= 6 {
                    #expect(value < 0.1, "band \(row[0]) column \(column): \(value)")
                } else if column <= 6 && expected < 1 {
                    #expect(
                        abs(value - expected) <= 0.05 + 0.15 * expected,
                        "band \(row[0]) column \(column): \(value) vs \(expected)")
                } else {
                    #expect(abs(value - expected) / expected < 0.15, "band \(row[0]) column \(column): \(value) vs \(expected)")
                }
            }
        }
        // The risk columns: mean predicted risks, rising with the number of conditions as the seed's do.
        for column in [10, 11] {
            let risks = ours.dropFirst().prefix(9).map { Double($0[column])! }
            #expect(risks[0] < risks[2] && risks[2] < risks[4] && risks[4] < risks[8], "column \(column): \(risks)")
            #expect(risks.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test func emergencyAdmissionsRiseWithLTCCount() {
        let rates = CalibrationTests.bands.map { $0.sums[3] / Double($0.people) }
        for b in 1..<9 { #expect(rates[b] > rates[b - 1] * 0.95, "band \(b)") }
        #expect(rates[8] > 10 * rates[0])
    }

    /// Seed: 0.5% of people ~20% of secondary care cost, 5% ~66%, ~80% with none in a year.
    @Test func secondaryCareCostIsConcentratedAsInTheSeed() {
        let result = DefaultRun.result
        let costs = result.prepared.population.registered.map { result.prepared.utilisation.secondaryCost($0) }.sorted(by: >)
        let total = costs.reduce(0, +)
        func share(_ top: Double) -> Double { costs.prefix(Int(Double(costs.count) * top)).reduce(0, +) / total }
        let zero = Double(costs.filter { $0 == 0 }.count) / Double(costs.count)
        #expect((0.16...0.24).contains(share(0.005)), "top 0.5%: \(share(0.005))")
        #expect((0.60...0.72).contains(share(0.05)), "top 5%: \(share(0.05))")
        #expect((0.75...0.85).contains(zero), "zero: \(zero)")
    }
}
