import Analysis
import Foundation
import Outputs
import PHMCore
import Pipeline
import TestSupport
import Testing

/// Under suppression, the figures beside a fixed table's counts (shares, means, totals, cost
/// shares, control chart lines, expected events) give back no count more exactly than it is
/// published: each is built from the published counts, so the attacks that recovered exact sizes
/// from exact figures now recover the published ones.
@Suite struct FixedTableDisclosureTests {
    /// Each unit's exact people, by level and code.
    static let exactPeople: [String: Int] = Dictionary(
        uniqueKeysWithValues: DefaultRun.result.prepared.planningUnits.map {
            ("\($0.level.rawValue)/\($0.code)", $0.people.count)
        })

    static func key(_ unit: UnitColumns) -> String { "\(unit.level)/\(unit.unitCode)" }

    /// A unit's total cost over its cost per head gave its exact people. Now the total is
    /// rounded to a step of at least the cost spread and the mean is of costs held within their
    /// range, rounded by the spread over the published people: no size the published count
    /// allows is ruled out. Cost figures are withheld for a unit whose people are hidden, its parent and
    /// siblings; a top share is shown only for 10 people or more however the count was rounded.
    @Test func totalCostAndCostPerHeadLeaveEverySizeConsistent() throws {
        let result = DefaultRun.result
        let units = result.prepared.planningUnits, use = result.prepared.utilisation
        let everyone = units.filter { $0.parent == nil }.flatMap(\.people)
        let spread = Spread.of(everyone, use.totalCost)
        func step(_ x: Double) -> Double {
            let (m, e) = NiceNumber.above(x)
            return m * pow(10, Double(e))
        }
        let concentration = try Published.costConcentration.read(from: DefaultRun.output)
        let perHead = Dictionary(
            try Published.inequalities.read(from: DefaultRun.output).filter {
                $0.row.indicator == "cost_per_head" && $0.row.breakdown == "all"
            }.map { (Self.key($0.unit), $0.row.value?.value) }, uniquingKeysWith: { first, _ in first })
        var checked = 0, withheld = 0
        for unitRow in concentration where unitRow.row.scope == "all_settings" {
            let row = unitRow.row
            guard let people = row.people, let total = row.totalCostGbp?.value else {
                #expect(row.totalCostGbp == nil && row.gini == nil && row.zeroCostShare == nil)
                #expect(row.topShares.allSatisfy { $0 == nil } && row.lorenz.allSatisfy { $0 == nil })
                withheld += 1
                continue
            }
            let mean = try #require(perHead[Self.key(unitRow.unit)] ?? nil)
            let (totalStep, meanStep) = (step(spread), step(spread / Double(people - 2)))
            #expect(abs(total / totalStep - (total / totalStep).rounded()) < 1e-6)
            // The total is of costs as they are and the mean of costs held within the range, so
            // the total is at least the size times the mean, less the rounding of each.
            let consistent = ((people - 2)...(people + 2)).filter { n in
                Double(n) * (mean - meanStep / 2) <= total + totalStep / 2
            }
            #expect(consistent.count == 5, "\(unitRow.unit.unitCode): sizes \(consistent) of \(people)")
            for (f, share) in zip(CostConcentration.topFractions, row.topShares) where share != nil {
                #expect((Double(people - 2) * f).rounded() >= 10, "\(unitRow.unit.unitCode) top \(f)")
            }
            if let zero = row.zeroCostShare?.value {
                let count = zero * Double(people)
                #expect(abs(count - 5 * (count / 5).rounded()) <= 0.00005 * Double(people) + 1e-9)
            }
            checked += 1
        }
        #expect(checked > 10)
    }

    /// Shares of people are published counts over published counts, and attendances and
    /// admissions per person are published counts of events over published people.
    @Test func multimorbidityFiguresFollowThePublishedCounts() throws {
        let rows = try Published.multimorbidityByUnit.read(from: DefaultRun.output)
        let totals = Dictionary(
            rows.filter { $0.row.ltcCount == "total" }.map { (Self.key($0.unit), $0.row.patients) },
            uniquingKeysWith: { first, _ in first })
        var checked = 0
        for unitRow in rows {
            let row = unitRow.row
            guard let patients = row.patients, patients > 0, let total = totals[Self.key(unitRow.unit)] ?? nil else { continue }
            #expect(abs(try #require(row.pctPatients?.value) - Double(patients) / Double(total)) <= 0.00005 + 1e-12)
            guard patients <= 2_000 else { continue }
            for figure in [row.aeAttendances, row.outpatientAttendances, row.electiveAdmissions, row.emergencyAdmissions] {
                guard let value = figure?.value else { continue }
                let events = value * Double(patients)
                #expect(abs(events - 5 * (events / 5).rounded()) <= 0.0005 * Double(patients) + 1e-9)
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    /// A tier's expected events over its mean risk gave its exact count; now the published one.
    @Test func expectedEventsOverMeanRiskGiveThePublishedPeople() throws {
        var checked = 0
        for unitRow in try Published.riskTiers.read(from: DefaultRun.output) {
            let row = unitRow.row
            guard let people = row.people, people > 0, let mean = row.meanRisk?.value, mean > 0,
                let expected = row.expectedEvents?.value
            else { continue }
            // Within what the mean's four places and the events' one place leave, where that is
            // under one person (else the check could not tell the published count from the exact).
            let slack = (0.05 + 0.000_05 * Double(people)) / mean
            guard slack < 1 else { continue }
            #expect(abs(expected / mean - Double(people)) <= slack + 1e-9, "\(unitRow.unit.unitCode) \(row.tier)")
            checked += 1
        }
        #expect(checked > 10)
    }

    /// A control chart is drawn from the published points, and not at all where one is hidden.
    @Test func controlChartsAreDrawnFromThePublishedPoints() throws {
        let rows = try Published.spc.read(from: DefaultRun.output)
        let series = Dictionary(grouping: rows) { "\(Self.key($0.unit))/\($0.row.measure)" }
        var drawn = 0, withheld = 0
        for (_, points) in series {
            let values = points.map(\.row.value)
            if values.contains(where: { $0 == nil }) {
                #expect(points.allSatisfy { $0.row.mean == nil && $0.row.upperLimit == nil && $0.row.shift == nil })
                withheld += 1
            } else {
                let mean = Double(values.compactMap { $0 }.reduce(0, +)) / Double(values.count)
                #expect(points.allSatisfy { abs(($0.row.mean?.value ?? .nan) - mean) <= 0.005 + 1e-9 })
                drawn += 1
            }
        }
        #expect(drawn > 10 && drawn + withheld == series.count)
    }

    /// Segment shares are counts of people over published people; the JSON copy of the tables
    /// at full precision is gone.
    @Test func segmentSharesFollowThePublishedCounts() throws {
        var checked = 0
        for unitRow in try Published.segmentProfiles.read(from: DefaultRun.output) {
            let row = unitRow.row
            guard let people = row.people, people > 0, people <= 1_000 else { continue }
            for share in [row.pctFemale, row.pctAged65Plus, row.pctCore20] {
                guard let value = share?.value else { continue }
                let count = value * Double(people) / 100
                #expect(abs(count - 5 * (count / 5).rounded()) <= 0.0005 * Double(people) + 1e-9)
                checked += 1
            }
        }
        #expect(checked > 100)
        #expect(!FileManager.default.fileExists(atPath: DefaultRun.output.appendingPathComponent("tables.json").path))
    }

    /// A model summary's counts are rounded to 5 and each decile's observed rate is a published
    /// count of events over its published people.
    @Test func modelSummariesPublishRoundedCounts() throws {
        let summaries = try Published.models.read(from: DefaultRun.output)
        #expect(!summaries.isEmpty)
        for summary in summaries {
            let e = summary.heldOut
            #expect(summary.trainingPeople % 5 == 0 && e.people % 5 == 0 && (e.events ?? 0) % 5 == 0)
            // The measures and their intervals to two significant figures.
            for m in e.measures {
                #expect(m.lower == 0 || NiceNumber.significant(abs(m.lower), .toNearestOrAwayFromZero) == abs(m.lower))
            }
            for decile in e.calibration {
                guard let people = decile.people else { continue }
                #expect(people % 5 == 0)
                guard let rate = decile.observed else { continue }
                let events = rate * Double(people)
                #expect(abs(events - 5 * (events / 5).rounded()) < 1e-6, "\(summary.outcome) decile \(decile.decile)")
            }
        }
    }

    /// A practice's data quality rates are per 1,000 of its people rounded to 5: two rates over
    /// the exact people left only the exact count with whole numbers of rows.
    @Test func practiceQualityRatesAreOverRoundedPeople() throws {
        let quality = try #require(DefaultRun.result.summary.quality)
        var checked = 0
        for entry in quality.entries where entry.subject.kind == .practice {
            guard let rate = entry.figures["rows_per_1000"] else { continue }
            let exact = try #require(Self.exactPeople["practice/\(entry.subject.id)"])
            let rows = rate * Double(Suppression.rounded(exact)) / 1_000
            #expect(abs(rows - rows.rounded()) <= 0.05 * Double(Suppression.rounded(exact)) / 1_000 + 1e-9)
            checked += 1
        }
        #expect(checked > 5)
    }
}
