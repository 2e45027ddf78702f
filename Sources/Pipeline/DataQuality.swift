import Analysis
import Conditions
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore

/// Measures a run's data quality figures from what it read, once its conditions are found and
/// before risk, frames or outputs: each source file as received (every row the reconciliation
/// counts), each provider's rows of each hospital file, and each practice's primary care events
/// of its registered people without a National Data Opt-out.
///
/// Only sources shared for planning are described beyond their row and quarantine counts (which
/// `reconciliation.json` publishes anyway). A figure that would show fewer than 8 people, or one
/// record's cost, is withheld: named in the entry's `withheld`, not given.
enum DataQuality {
    /// Practices with fewer registered people have no figures of their own: too noisy to watch,
    /// and too close to persons.
    static let minimumPractice = 100
    /// Fewer rows than this give no mean cost (it would be a few records' costs).
    static let minimumRowsForMean = 10
    /// The figures of a practice.
    static let practiceFigures = [
        QualityFigure.rowsPer1000, .unrecognisedCodeShare, .latestMonthPer1000, .emptyMonths, .daysSinceLatest,
    ].map(\.rawValue)
    /// The figures of a source shared for planning beyond its rows and quarantine.
    static let describedFigures = [
        QualityFigure.rowsPer1000, .latestMonthPer1000, .emptyMonths, .daysSinceLatest, .linkedShare, .unrecognisedCodeShare,
        .withoutNHSNumberShare, .meanCost,
    ].map(\.rawValue)
    /// A provider with fewer rows in a file has no figures of its own for it: too few to watch.
    static let minimumProviderRows = 100

    static func measure(
        extract: Extract, withoutNHSNumber: [Bool], linkage: Linkage, population: Population, planningSources: Set<DataSource>,
        conditions: ConditionResults, asOf: Day, suppress: Bool
    ) -> QualityReport {
        let registered = population.registered
        let perThousand = 1000 / Double(max(1, registered.count))
        // The condition engine's finding, per code id of the run's one code table.
        let recognised = conditions.codeRecognised
        func isRecognised(_ code: Int32) -> Bool { code >= 0 && Int(code) < recognised.count && recognised[Int(code)] }
        let months = Months(asOf: asOf)
        var entries: [QualityReport.Entry] = []
        let gpShared = planningSources.contains(.gp)
        let shared = (0..<extract.care.count).map { planningSources.contains(extract.careSource[$0]) }

        // The run as a whole.
        let planning = registered.filter { !population.optedOut[$0] }
        var run = QualityReport.Entry(subject: .run, figures: [:])
        // Rows of the contract's files, FHIR resources read as them included, and what only serves
        // them (postcodes, opt-out consents, charge items) left out: a feed that changes form
        // keeps its figures.
        let contractFiles = Set(InputContract.all.map(\.name))
        let parts = extract.reconciliation.filter { contractFiles.contains($0.file) || $0.readAs != nil }
        let rowsIn = parts.reduce(0) { $0 + $1.rowsIn - ($1.notRead?.values.reduce(0, +) ?? 0) }
        run.figures[QualityFigure.registered.rawValue] = Double(registered.count)
        run.figures[QualityFigure.rows.rawValue] = Double(rowsIn)
        run.figures[QualityFigure.quarantineRate.rawValue] = share(parts.reduce(0) { $0 + $1.quarantined }, rowsIn)
        let linkedRows = (0..<extract.care.count).filter { shared[$0] }
        run.figures[QualityFigure.linkedShare.rawValue] = share(
            linkedRows.filter { linkage.person[$0] >= 0 }.count, linkedRows.count)
        run.people(
            .withoutNHSNumberShare,
            planning.filter { withoutNHSNumber[$0] }.count,
            of: planning.count)
        run.people(
            .ethnicityUnknownShare, planning.filter { [.unknown, .notStated].contains(population.ethnicGroup[$0]) }.count,
            of: planning.count)
        entries.append(run)

        // Each source file of the contract, present or not: a feed that stops is a figure of 0.
        var dated: [String: Months.Tally] = [:]
        var coded: [String: (rows: Int, unrecognised: Int)] = [:]
        if gpShared {
            dated[InputContract.gpEvents.name] = months.tally(extract.clinical.day)
            dated[InputContract.prescriptions.name] = months.tally(extract.prescriptions.day)
            coded[InputContract.gpEvents.name] = (
                extract.clinical.count, extract.clinical.code.filter { !isRecognised($0) }.count
            )
            coded[InputContract.prescriptions.name] = (
                extract.prescriptions.count, extract.prescriptions.code.filter { !isRecognised($0) }.count
            )
        }
        // Tallied by file and provider number in arrays, then named: per record, a dictionary
        // keyed by text and holding collections would build a string and copy a collection.
        struct CareTally {
            var rows = 0, linked = 0, withoutNHS = 0, cost = 0.0
            var byRule = [Int](repeating: 0, count: LinkRule.allCases.count)
            var dated = Months.Tally()
        }
        var fileNames: [String] = []
        let fileOfKind = ActivityKind.allCases.map { kind in
            let name = LinkageReport.file(of: kind)
            if !fileNames.contains(name) { fileNames.append(name) }
            return fileNames.firstIndex(of: name)!
        }
        var careTallies = [CareTally](repeating: CareTally(), count: fileNames.count)
        struct ProviderKey: Hashable {
            var provider: UInt64
            var file: Int
        }
        var providerIndex: [ProviderKey: Int] = [:]
        var providerKeys: [ProviderKey] = []
        var providerTallies: [(rows: Int, linked: Int, tally: Months.Tally)] = []
        let hasProviders = extract.care.provider.count == extract.care.count
        for r in 0..<extract.care.count where shared[r] {
            let file = fileOfKind[Int(extract.care.kind[r].rawValue)]
            let linked = linkage.person[r] >= 0
            if hasProviders, extract.care.provider[r] != 0 {
                let key = ProviderKey(provider: extract.care.provider[r], file: file)
                let k: Int
                if let found = providerIndex[key] {
                    k = found
                } else {
                    k = providerTallies.count
                    providerIndex[key] = k
                    providerKeys.append(key)
                    providerTallies.append((0, 0, Months.Tally()))
                }
                providerTallies[k].rows += 1
                if linked { providerTallies[k].linked += 1 }
                providerTallies[k].tally.add(extract.care.day[r], months)
            }
            careTallies[file].dated.add(extract.care.day[r], months)
            careTallies[file].rows += 1
            if linked {
                careTallies[file].linked += 1
                careTallies[file].byRule[Int(linkage.rule[r].rawValue)] += 1
            }
            if extract.care.nhsNumber[r] == 0 { careTallies[file].withoutNHS += 1 }
            careTallies[file].cost += Double(extract.care.cost[r])
        }
        var care: [String: (rows: Int, linked: Int, byRule: [String: Int], withoutNHS: Int, cost: Double)] = [:]
        for (file, t) in careTallies.enumerated() where t.rows > 0 {
            var byRule: [String: Int] = [:]
            for rule in LinkRule.allCases where t.byRule[Int(rule.rawValue)] > 0 {
                byRule[rule.name] = t.byRule[Int(rule.rawValue)]
            }
            care[fileNames[file]] = (t.rows, t.linked, byRule, t.withoutNHS, t.cost)
            dated[fileNames[file]] = t.dated
        }
        // Each provider's rows of each file: one trust's submission can be late while the rest arrive.
        var providers: [String: (rows: Int, linked: Int, tally: Months.Tally)] = [:]
        for (k, key) in providerKeys.enumerated() {
            providers[OrganisationCode.text(key.provider) + " " + fileNames[key.file]] = providerTallies[k]
        }
        for spec in InputContract.all {
            // A contract file's figures, with the resources of a FHIR export read as it (a FHIR
            // file's quarantine counts in the run's rate: a refused resource may be no file's row).
            var file = FileReconciliation(file: spec.name, present: false)
            for part in extract.reconciliation {
                if part.file == spec.name {
                    file.present = file.present || part.present
                    file.rowsIn += part.rowsIn
                    file.accepted += part.accepted
                    file.quarantined += part.quarantined
                    file.quarantinedByRule.merge(part.quarantinedByRule, uniquingKeysWith: +)
                } else if let n = part.readAs?[spec.name] {
                    file.present = file.present || n > 0
                    file.rowsIn += n
                    file.accepted += n
                    // A FHIR file read as this file alone: its refused resources are this feed's.
                    if part.readAs?.count == 1 {
                        file.rowsIn += part.quarantined
                        file.quarantined += part.quarantined
                        file.quarantinedByRule.merge(part.quarantinedByRule, uniquingKeysWith: +)
                    }
                }
            }
            var entry = QualityReport.Entry(
                subject: .init(.source, spec.name),
                figures: [
                    QualityFigure.rows.rawValue: Double(file.rowsIn),
                    QualityFigure.quarantineRate.rawValue: share(file.quarantined, file.rowsIn),
                ])
            for (rule, n) in file.quarantinedByRule {
                entry.figures[QualityFigure.quarantineRate.rawValue + ":" + rule] = share(n, file.rowsIn)
            }
            let isCare = ![
                InputContract.practices, InputContract.areas, InputContract.patients, InputContract.gpEvents,
                InputContract.prescriptions,
            ].contains { $0.name == spec.name }
            // Withheld sources: their rows and quarantine only. Care files hold several sources;
            // the shared ones' rows are described.
            let described = (isCare && care[spec.name] != nil) || (!isCare && gpShared) || !file.present
            if !described, file.accepted > 0, ![InputContract.practices.name, InputContract.areas.name].contains(spec.name) {
                // Not shared for planning: said so, so a gate does not take the feed for gone.
                entry.withheld = describedFigures
            }
            if described {
                entry.figures[QualityFigure.rowsPer1000.rawValue] = round(
                    Double(isCare ? care[spec.name]?.rows ?? 0 : file.accepted) * perThousand, 1)
            }
            if let c = care[spec.name] {
                entry.figures[QualityFigure.linkedShare.rawValue] = share(c.linked, c.rows)
                for (rule, n) in c.byRule { entry.figures[QualityFigure.linkedShare.rawValue + ":" + rule] = share(n, c.rows) }
                entry.figures[QualityFigure.withoutNHSNumberShare.rawValue] = share(c.withoutNHS, c.rows)
                entry.mean(cost: c.cost, rows: c.rows)
            }
            if let c = coded[spec.name] {
                entry.figures[QualityFigure.unrecognisedCodeShare.rawValue] = share(c.unrecognised, c.rows)
            }
            if spec.name == InputContract.prescriptions.name, gpShared {
                entry.mean(cost: extract.prescriptions.cost.reduce(0) { $0 + Double($1) }, rows: extract.prescriptions.count)
            }
            if let tally = dated[spec.name] { tally.figures(perThousand: perThousand, asOf: asOf, into: &entry.figures) }
            entries.append(entry)
        }

        for (id, p) in providers.sorted(by: { $0.key < $1.key }) where p.rows >= minimumProviderRows {
            var entry = QualityReport.Entry(
                subject: .init(.provider, id),
                figures: [
                    QualityFigure.rows.rawValue: Double(p.rows),
                    QualityFigure.rowsPer1000.rawValue: round(Double(p.rows) * perThousand, 1),
                    QualityFigure.linkedShare.rawValue: share(p.linked, p.rows),
                ])
            p.tally.figures(perThousand: perThousand, asOf: asOf, into: &entry.figures)
            entries.append(entry)
        }

        // Each practice: its registered people without an opt-out, and their primary care events
        // (whichever practice recorded them: the person is the practice's now).
        let h = population.hierarchy
        var people = [Int](repeating: 0, count: h.practices.count)
        for p in planning { people[Int(population.practice[p])] += 1 }
        var withheld = 0
        if gpShared {
            var events = [Months.Tally](repeating: Months.Tally(), count: h.practices.count)
            var unrecognised = [Int](repeating: 0, count: h.practices.count)
            let clinical = population.clinical
            for p in planning {
                let k = Int(population.practice[p])
                for e in clinical.byPerson.rows(of: p) {
                    events[k].add(clinical.day[e], months)
                    let code = clinical.code[e]
                    if !isRecognised(code) { unrecognised[k] += 1 }
                }
            }
            for (k, practice) in h.practices.enumerated() where people[k] > 0 {
                guard people[k] >= minimumPractice else {
                    // Named as withheld, so a gate says so rather than take the practice for gone.
                    entries.append(.init(subject: .init(.practice, practice.code), figures: [:], withheld: practiceFigures))
                    withheld += 1
                    continue
                }
                // For planning, per 1,000 of the practice's people rounded to 5, as the tables
                // publish them: two rates over the exact people left only the exact count with
                // whole numbers of rows.
                let perThousand = 1000 / Double(suppress ? Suppression.rounded(people[k]) : people[k])
                var entry = QualityReport.Entry(
                    subject: .init(.practice, practice.code),
                    figures: [
                        QualityFigure.rowsPer1000.rawValue: round(Double(events[k].rows) * perThousand, 1),
                        QualityFigure.unrecognisedCodeShare.rawValue: share(unrecognised[k], events[k].rows),
                    ])
                events[k].figures(perThousand: perThousand, asOf: asOf, into: &entry.figures)
                entries.append(entry)
            }
        }
        if !gpShared {
            for (k, practice) in h.practices.enumerated() where people[k] > 0 {
                entries.append(.init(subject: .init(.practice, practice.code), figures: [:], withheld: practiceFigures))
            }
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

        /// Rows dated in each of the 12 months, the latest day before as-of, and all rows.
        struct Tally {
            var rows = 0
            var monthly = [Int](repeating: 0, count: 12)
            var latest: Day?

            mutating func add(_ day: Day, _ months: Months) {
                rows += 1
                guard day < months.asOf else { return }
                if latest.map({ day > $0 }) ?? true { latest = day }
                guard day >= months.starts[0] else { return }
                var k = 11
                while day < months.starts[k] { k -= 1 }
                monthly[k] += 1
            }

            func figures(perThousand: Double, asOf: Day, into figures: inout [String: Double]) {
                figures[QualityFigure.latestMonthPer1000.rawValue] = DataQuality.round(Double(monthly[11]) * perThousand, 1)
                figures[QualityFigure.emptyMonths.rawValue] = Double(monthly.filter { $0 == 0 }.count)
                if let latest { figures[QualityFigure.daysSinceLatest.rawValue] = Double(latest.days(to: asOf)) }
            }
        }

        func tally(_ days: [Day]) -> Tally {
            var tally = Tally()
            for day in days { tally.add(day, self) }
            return tally
        }
    }
}

extension QualityReport.Entry {
    /// A share of people, withheld when the people counted, or the rest, are 1 to 7.
    mutating func people(_ figure: QualityFigure, _ count: Int, of total: Int) {
        if (1...7).contains(count) || (1...7).contains(total - count) {
            withheld.append(figure.rawValue)
        } else {
            figures[figure.rawValue] = DataQuality.share(count, total)
        }
    }

    /// The mean cost of a file's rows, withheld for a handful of rows.
    mutating func mean(cost: Double, rows: Int) {
        if rows > 0 && rows < DataQuality.minimumRowsForMean {
            withheld.append(QualityFigure.meanCost.rawValue)
        } else {
            figures[QualityFigure.meanCost.rawValue] = rows == 0 ? 0 : DataQuality.round(cost / Double(rows), 2)
        }
    }
}
