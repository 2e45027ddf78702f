import Conditions
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore

/// Measures a run's data quality figures from what it read, before anything is derived from it:
/// every accepted row of each source file (as the reconciliation counts them), and each
/// practice's primary care events of its registered people without a National Data Opt-out.
///
/// Figures are rounded (rates per 1,000 to one decimal, shares to four places) so that no ratio
/// gives back the exact counts it was made of.
enum DataQuality {
    /// Practices with fewer registered people have no figures of their own: too noisy to watch,
    /// and too close to persons.
    static let minimumPractice = 100

    static func measure(
        extract: Extract, spine: Spine, report: LinkageReport, population: Population,
        library: ConditionLibrary, asOf: Day
    ) -> QualityReport {
        let registered = population.registered
        let perThousand = 1000 / Double(max(1, registered.count))
        let recognised = (0..<extract.codes.count).map { id in
            library.lists.contains { $0.contains(extract.codes.codes[id], system: extract.codes.systems[id]) }
        }
        let months = Months(asOf: asOf)
        var entries: [QualityReport.Entry] = []

        // The run as a whole.
        var run: [String: Double] = [
            QualityFigure.registered.rawValue: Double(registered.count),
            QualityFigure.rows.rawValue: Double(extract.reconciliation.reduce(0) { $0 + $1.rowsIn }),
            QualityFigure.linkedShare.rawValue: share(report.linked, report.records),
            QualityFigure.withoutNHSNumberShare.rawValue: share(report.spine.personsWithoutValidNHSNumber, spine.count),
            QualityFigure.ethnicityUnknownShare.rawValue: share(
                registered.filter { [.unknown, .notStated].contains(population.ethnicGroup[$0]) }.count, registered.count),
        ]
        let rowsIn = extract.reconciliation.reduce(0) { $0 + $1.rowsIn }
        run[QualityFigure.quarantineRate.rawValue] = share(extract.reconciliation.reduce(0) { $0 + $1.quarantined }, rowsIn)
        entries.append(.init(subject: .run, figures: run))

        // Each source file.
        var dates: [String: [Day]] = [
            InputContract.gpEvents.name: extract.clinical.day, InputContract.prescriptions.name: extract.prescriptions.day,
        ]
        var coded: [String: (rows: Int, unrecognised: Int)] = [:]
        coded[InputContract.gpEvents.name] = (
            extract.clinical.count, extract.clinical.code.filter { $0 < 0 || !recognised[Int($0)] }.count
        )
        coded[InputContract.prescriptions.name] = (
            extract.prescriptions.count, extract.prescriptions.code.filter { $0 < 0 || !recognised[Int($0)] }.count
        )
        var careRows: [String: (rows: Int, withoutNHS: Int, cost: Double)] = [:]
        for r in 0..<extract.care.count {
            let file = LinkageReport.file(of: extract.care.kind[r])
            dates[file, default: []].append(extract.care.day[r])
            careRows[file, default: (0, 0, 0)].rows += 1
            if extract.care.nhsNumber[r] == 0 { careRows[file, default: (0, 0, 0)].withoutNHS += 1 }
            careRows[file, default: (0, 0, 0)].cost += Double(extract.care.cost[r])
        }
        for file in extract.reconciliation where file.present {
            var figures: [String: Double] = [
                QualityFigure.rows.rawValue: Double(file.rowsIn),
                QualityFigure.rowsPer1000.rawValue: round(Double(file.accepted) * perThousand, 1),
                QualityFigure.quarantineRate.rawValue: share(file.quarantined, file.rowsIn),
            ]
            for (rule, n) in file.quarantinedByRule {
                figures[QualityFigure.quarantineRate.rawValue + ":" + rule] = share(n, file.rowsIn)
            }
            if let linked = report.bySource[file.file] {
                figures[QualityFigure.linkedShare.rawValue] = share(linked.linked, linked.records)
                for (rule, n) in linked.byRule where rule != LinkageCounts.unlinked {
                    figures[QualityFigure.linkedShare.rawValue + ":" + rule] = share(n, linked.records)
                }
            }
            if let c = coded[file.file] { figures[QualityFigure.unrecognisedCodeShare.rawValue] = share(c.unrecognised, c.rows) }
            if let c = careRows[file.file] {
                figures[QualityFigure.withoutNHSNumberShare.rawValue] = share(c.withoutNHS, c.rows)
                figures[QualityFigure.meanCost.rawValue] = c.rows == 0 ? 0 : round(c.cost / Double(c.rows), 2)
            }
            if file.file == InputContract.prescriptions.name, extract.prescriptions.count > 0 {
                let cost = extract.prescriptions.cost.reduce(0) { $0 + Double($1) }
                figures[QualityFigure.meanCost.rawValue] = round(cost / Double(extract.prescriptions.count), 2)
            }
            var monthly: [Int]?
            if let days = dates[file.file] {
                let counted = months.count(days)
                monthly = counted.rows
                months.figures(counted, perThousand: perThousand, into: &figures)
            }
            entries.append(.init(subject: .init(.source, file.file), figures: figures, monthlyRows: monthly))
        }

        // Each practice: its registered people without an opt-out, and their primary care events
        // recorded there.
        let h = population.hierarchy
        var people = [Int](repeating: 0, count: h.practices.count)
        var planning = [Bool](repeating: false, count: spine.count)
        for p in registered where !population.optedOut[p] {
            people[Int(population.practice[p])] += 1
            planning[p] = true
        }
        var eventDays = [[Day]](repeating: [], count: h.practices.count)
        var unrecognised = [Int](repeating: 0, count: h.practices.count)
        let clinical = extract.clinical
        for e in 0..<clinical.count {
            let r = Int(clinical.registration[e])
            guard planning[Int(spine.personOfRegistration[r])] else { continue }
            let practice = Int(extract.patients.practice[r])
            eventDays[practice].append(clinical.day[e])
            if clinical.code[e] < 0 || !recognised[Int(clinical.code[e])] { unrecognised[practice] += 1 }
        }
        var withheld = 0
        for (k, practice) in h.practices.enumerated() where people[k] > 0 {
            guard people[k] >= minimumPractice else {
                withheld += 1
                continue
            }
            let rate = 1000 / Double(people[k])
            var figures: [String: Double] = [
                QualityFigure.rowsPer1000.rawValue: round(Double(eventDays[k].count) * rate, 1),
                QualityFigure.unrecognisedCodeShare.rawValue: share(unrecognised[k], eventDays[k].count),
            ]
            let counted = months.count(eventDays[k])
            months.figures(counted, perThousand: rate, into: &figures)
            entries.append(.init(subject: .init(.practice, practice.code), figures: figures))
        }
        return QualityReport(asOf: asOf.description, entries: entries, practicesWithheld: withheld)
    }

    static func share(_ part: Int, _ whole: Int) -> Double { whole == 0 ? 0 : round(Double(part) / Double(whole), 4) }

    static func round(_ value: Double, _ places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }

    /// The 12 calendar months before as-of.
    struct Months {
        let asOf: Day
        /// `starts[k]` begins month `k` (oldest first); `starts[12]` is as-of.
        let starts: [Day]

        init(asOf: Day) {
            self.asOf = asOf
            starts = (0...12).map { asOf.adding(months: $0 - 12) }
        }

        /// Rows dated in each month, and the latest day before as-of.
        func count(_ days: [Day]) -> (rows: [Int], latest: Day?) {
            var rows = [Int](repeating: 0, count: 12)
            var latest: Day?
            for day in days where day < asOf {
                if latest.map({ day > $0 }) ?? true { latest = day }
                guard day >= starts[0] else { continue }
                var k = 11
                while day < starts[k] { k -= 1 }
                rows[k] += 1
            }
            return (rows, latest)
        }

        func figures(_ counted: (rows: [Int], latest: Day?), perThousand: Double, into figures: inout [String: Double]) {
            figures[QualityFigure.latestMonthPer1000.rawValue] = DataQuality.round(Double(counted.rows[11]) * perThousand, 1)
            figures[QualityFigure.emptyMonths.rawValue] = Double(counted.rows.filter { $0 == 0 }.count)
            if let latest = counted.latest { figures[QualityFigure.daysSinceLatest.rawValue] = Double(latest.days(to: asOf)) }
        }
    }
}
