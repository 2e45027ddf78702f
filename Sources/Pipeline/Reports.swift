import Analysis
import Conditions
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore
import Risk

extension ReconciliationReport {
    init(_ extract: Extract) {
        let files = extract.reconciliation
        let used = Set(files.flatMap(\.quarantinedByRule.keys))
        let warned = Set(files.flatMap(\.warnings.keys))
        self.init(
            files: files, sourcesPresent: extract.sourcesPresent.map(\.rawValue),
            rules: Dictionary(
                uniqueKeysWithValues: Rule.allCases.filter { used.contains($0.rawValue) }.map { ($0.rawValue, $0.explanation) }),
            warnings: Dictionary(
                uniqueKeysWithValues: Warning.allCases.filter { warned.contains($0.rawValue) }.map {
                    ($0.rawValue, $0.explanation)
                }))
    }
}

extension LinkageReport {
    init(extract: Extract, spine: Spine, linkage: Linkage, asOf: Day, suppress: Bool) {
        var bySource: [String: LinkageCounts] = [:]
        for row in 0..<extract.care.count {
            let file = LinkageReport.file(of: extract.care.kind[row])
            bySource[file, default: LinkageCounts()].records += 1
            bySource[file, default: LinkageCounts()].byRule[linkage.rule[row].name, default: 0] += 1
            if linkage.nhsConflict[row] { bySource[file, default: LinkageCounts()].nhsNumberConflicts += 1 }
        }
        self.init(
            spine: spine, bySource: bySource, rules: LinkRule.allCases.map(\.name), probabilistic: linkage.probabilistic)
        byGroup = Self.groups(extract, linkage, asOf: asOf, suppress: suppress)
    }

    /// Each care record counted under its own age band (its date of birth at as-of), the
    /// deprivation quintile of its postcode (where the spine's registrations place that
    /// postcode) and the ethnic group its source recorded: missed links that gather in one group
    /// bias every table that group appears in. (By source, `bySource` has the exact counts.)
    ///
    /// Under suppression each breakdown is a table whose rows (records = linked by NHS number +
    /// by demographics + by match weight + unlinked) and columns add up to totals that
    /// `bySource` publishes exactly (known cells): secondary suppression hides the table's cells
    /// until none can be worked out from those totals and the rest.
    static func groups(_ extract: Extract, _ linkage: Linkage, asOf: Day, suppress: Bool) -> [GroupCounts] {
        // A postcode's area: the one most of its registrations give, the lowest on a tie.
        var areasOfPostcode: [String: [Int32: Int]] = [:]
        for r in 0..<extract.patients.count where extract.patients.area[r] >= 0 && !extract.patients.postcode[r].isEmpty {
            areasOfPostcode[extract.patients.postcode[r], default: [:]][extract.patients.area[r], default: 0] += 1
        }
        let areaOfPostcode = areasOfPostcode.mapValues { counts in
            counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
        }
        let breakdowns = ["age_band", "deprivation_quintile", "ethnic_group"]
        // records, by NHS number, by demographics, by match weight, unlinked; by breakdown and group
        var counts = [[String: [Int]]](repeating: [:], count: breakdowns.count)
        let care = extract.care
        for row in 0..<care.count {
            let dob = care.dateOfBirth[row]
            let area = areaOfPostcode[care.postcode[row]]
            let groups = [
                dob == .missing || dob > asOf ? "unknown" : AgeBand(age: dob.age(on: asOf)).label,
                area.map { String((Int(extract.areas.imdDecile[Int($0)]) + 1) / 2) } ?? "unknown",
                EthnicCategory.group(code: care.ethnicCategory[row] == 0 ? nil : care.ethnicCategory[row]).label,
            ]
            let column: Int
            switch linkage.rule[row] {
            case .nhsNumberAndBirth, .nhsNumberAndName: column = 1
            case .birthSexNamePostcode, .birthSexPostcodeInitial, .birthSexNames: column = 2
            case .matchWeight, .clericalReview: column = 3
            case .unlinked: column = 4
            }
            for (b, group) in groups.enumerated() {
                counts[b][group, default: [0, 0, 0, 0, 0]][0] += 1
                counts[b][group]![column] += 1
            }
        }
        var suppression = Suppression(enabled: suppress)
        var cells: [[(group: String, cells: [Int])]] = []
        for b in breakdowns.indices {
            let groups = counts[b].keys.sorted()
            let total = (0..<5).map { c in suppression.addKnown(groups.reduce(0) { $0 + counts[b][$1]![c] }) }
            let rows = groups.map { g in (group: g, cells: counts[b][g]!.map { suppression.add($0) }) }
            for c in 0..<5 { suppression.relate(total: total[c], parts: rows.map { $0.cells[c] }) }
            for row in rows { suppression.relate(total: row.cells[0], parts: Array(row.cells[1...])) }
            cells.append(rows)
        }
        suppression.protect()
        var out: [GroupCounts] = []
        for (b, breakdown) in breakdowns.enumerated() {
            for row in cells[b] {
                let shown = row.cells.map { suppression.published($0) }
                out.append(
                    GroupCounts(
                        breakdown: breakdown, group: row.group, records: shown[0], byNHSNumber: shown[1],
                        byDemographics: shown[2], byMatchWeight: shown[3], unlinked: shown[4],
                        unlinkedShare: suppression.share(shown[4], of: shown[0])))
            }
        }
        return out
    }

    static func file(of kind: ActivityKind) -> String {
        switch kind {
        case .aeAttendance: "ae_attendances.csv"
        case .outpatientAttended, .outpatientDidNotAttend: "outpatient_appointments.csv"
        case .electiveAdmission, .emergencyAdmission, .maternityAdmission, .otherAdmission: "inpatient_spells.csv"
        default: "care_contacts.csv"
        }
    }
}

extension CodeReport {
    init(_ results: ConditionResults, _ library: ConditionLibrary) {
        var rejected: [String: [String]] = [:]
        for list in library.lists where !list.rejected.isEmpty { rejected[list.name] = list.rejected }
        self.init(
            eventsWithCodesInNoList: results.unmatchedEvents, distinctCodesInNoList: results.unmatchedCodes,
            rejectedListEntries: rejected)
    }
}

extension ModelSummary {
    /// The card's summary. For planning (`suppress`): its counts of people are rounded to 5
    /// (a decile's hidden from 1 to 7), its events hidden from 1 to 7 and rounded, each decile's
    /// observed rate is of those counts, the ROC curve (whose steps count the events) is left
    /// out where the events are hidden, and the performance measures and their intervals (whose
    /// width gives the events back) are rounded to two significant figures.
    init(_ card: ModelCard, suppress: Bool) {
        let e = card.heldOut
        let table = Suppression(enabled: suppress)
        func shown(_ x: Double) -> Double {
            suppress && x.isFinite && x != 0 ? NiceNumber.significant(abs(x), .toNearestOrAwayFromZero) * (x < 0 ? -1 : 1) : x
        }
        let measures =
            e.calibrationMeasures.map { c in
                [
                    Measure(
                        name: "observed / expected", value: shown(c.observedOverExpected),
                        lower: shown(c.observedOverExpectedLower),
                        upper: shown(c.observedOverExpectedUpper)),
                    Measure(
                        name: "calibration-in-the-large", value: shown(c.inTheLarge), lower: shown(c.inTheLargeLower),
                        upper: shown(c.inTheLargeUpper)),
                    Measure(
                        name: "calibration slope", value: shown(c.slope), lower: shown(c.slopeLower), upper: shown(c.slopeUpper)),
                ]
            } ?? []
        let events = table.count(e.events)
        self.init(
            outcome: card.outcome, outcomeDefinition: card.outcomeDefinition, algorithm: card.algorithm.rawValue,
            trainingIndex: card.trainingIndex,
            trainingPeople: suppress ? Suppression.rounded(card.trainingPeople) : card.trainingPeople,
            heldOut: HeldOut(
                people: suppress ? Suppression.rounded(e.people) : e.people, events: events, auroc: shown(e.auroc),
                aurocLower: shown(e.aurocLower), aurocUpper: shown(e.aurocUpper), auprc: shown(e.auprc), brier: shown(e.brier),
                roc: events == nil ? [] : e.roc,
                calibration: e.calibration.map {
                    guard suppress else {
                        return Decile(decile: $0.decile, people: $0.people, expected: $0.expected, observed: $0.observed)
                    }
                    let people = table.count($0.people)
                    let events = table.count(Int(($0.observed * Double($0.people)).rounded()))
                    return Decile(
                        decile: $0.decile, people: people, expected: $0.expected, observed: table.share(events, of: people))
                }, measures: measures))
    }
}

/// Writes the analytic outputs of a run. Nothing written here carries an identifying field.
enum OutputWriter {
    /// `persons.csv`: one row per registered person at as-of without a National Data Opt-out, built in parallel and written in order.
    static func writePersons(
        _ population: Population, _ use: Utilisation, _ conditions: ConditionResults, _ library: ConditionLibrary,
        _ risk: Stratification, _ segments: SegmentAssignments, registered: [Int], to url: URL, workers: Int
    ) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let header =
            PersonFiles.personColumns + library.scores.map(\.id)
            + library.scores.filter { !$0.categories.isEmpty }.map { PersonFiles.scoreCategory($0.id) }
            + PersonFiles.riskColumns + segments.segmentations.map { PersonFiles.segment($0.id) }
        try handle.write(contentsOf: Data((header.joined(separator: ",") + "\n").utf8))
        let ltcIDs = library.conditions.map { $0.isLTC ? $0.id : nil }
        let places = library.scores.map { $0.isWholeNumber ? 0 : 4 }
        let parts = Parallel.ranges(registered.count, parts: workers * 8)
        let chunks = Parallel.map(parts.count) { k -> [UInt8] in
            var rows = CSVRows(capacity: parts[k].count * 200)
            let h = population.hierarchy
            for i in parts[k] {
                let p = registered[i]
                let practice = Int(population.practice[p])
                let area = Int(population.area[p])
                rows.field(population.pseudonym[p])
                rows.field(population.sex[p].code)
                rows.field(Int(population.age[p]))
                rows.field(AgeBand(age: Int(population.age[p])).label)
                rows.field(h.practices[practice].code)
                rows.field(h.pcns[Int(h.practicePCN[practice])].code)
                rows.field(h.localities[Int(h.practiceLocality[practice])].code)
                if area >= 0 {
                    rows.field(population.areas.codes[area])
                    rows.field(Int(population.areas.imdDecile[area]))
                } else {
                    rows.empty()
                    rows.empty()
                }
                rows.field(population.ethnicGroup[p].label)
                rows.field(Int(use.aeAttendances[p]))
                rows.field(Int(use.outpatientAttendances[p]))
                rows.field(Int(use.electiveAdmissions[p]))
                rows.field(Int(use.emergencyAdmissions[p]))
                rows.field(money: use.emergencyCost[p])
                rows.field(Int(use.prescriptionTypes[p]))
                for s in CareSetting.allCases { rows.field(money: use.costBySetting[Int(s.rawValue)][p]) }
                rows.field(money: use.totalCost(p))
                rows.field(Int(conditions.ltcCount[p]))
                rows.field(
                    conditions.flaggedRows(of: p).compactMap { ltcIDs[Int(conditions.firstCondition[$0])] }.joined(separator: "|")
                )
                for s in library.scores.indices { rows.field(conditions.scores[s][p], decimals: places[s]) }
                for (s, score) in library.scores.enumerated() where !score.categories.isEmpty {
                    rows.field(score.category(of: conditions.scores[s][p]) ?? "")
                }
                RiskWriter.scoreFields(&rows, risk, person: p)
                for s in segments.segmentations.indices { rows.field(segments.label(s, p) ?? "") }
                rows.end()
            }
            return rows.bytes
        }
        for chunk in chunks { try handle.write(contentsOf: chunk) }
    }

    /// `person-conditions.csv`: every flagged condition of every registered person, with the date
    /// it was first recorded.
    static func writePersonConditions(
        _ population: Population, _ conditions: ConditionResults, _ library: ConditionLibrary, registered: [Int], to url: URL
    ) throws {
        var rows = CSVRows(capacity: registered.count * 100)
        rows.raw(PersonConditionRow.columns.joined(separator: ","))
        for p in registered {
            for row in conditions.flaggedRows(of: p) {
                rows.field(population.pseudonym[p])
                rows.field(library.conditions[Int(conditions.firstCondition[row])].id)
                rows.field(conditions.firstDay[row])
                rows.end()
            }
        }
        try Data(rows.bytes).write(to: url)
    }

    /// `quarantine/FILE.csv` for each file with rejected rows; identifying fields redacted.
    static func writeQuarantine(_ rows: [QuarantinedRow], to output: URL) throws {
        try FileManager.default.createDirectory(
            at: output.appendingPathComponent(PersonFiles.quarantine), withIntermediateDirectories: true)
        for (file, rows) in Dictionary(grouping: rows, by: \.file) {
            try PersonFiles.quarantine(file).write(
                rows.map {
                    QuarantineRow(
                        line: $0.line, column: $0.column, rule: $0.rule.rawValue, message: $0.message, row: $0.redactedLine)
                }, to: output)
        }
    }
}
