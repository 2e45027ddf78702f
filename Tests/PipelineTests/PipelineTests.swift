import Analysis
import Foundation
import Identity
import Ingest
import Outputs
import PHMCore
import Pipeline
import Storage
import Synthesis
import TestSupport
import Testing

@Suite(.serialized) struct PipelineTests {
    /// Every injected fault is quarantined at its line with its rule, and nothing else is.
    @Test func quarantineMatchesInjectedFaults() throws {
        let result = DefaultRun.result
        #expect(result.prepared.reconciliation.balanced)
        let truth = readCSV(DefaultRun.input.appendingPathComponent("ground-truth/faults.csv")).dropFirst()
        let expected = Set(truth.map { "\($0[0]):\($0[1]):\($0[2])" })
        var found = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(
            atPath: DefaultRun.output.appendingPathComponent("quarantine").path)
        {
            for row in readCSV(DefaultRun.output.appendingPathComponent("quarantine/\(file)")).dropFirst() {
                found.insert("\(file):\(row[0]):\(row[2])")
            }
        }
        #expect(expected.count > 20)
        #expect(found == expected)
        #expect(result.prepared.reconciliation.quarantined == expected.count)
    }

    /// Linkage against the generator's ground truth: precision at least 99.5%, recall at least 97%.
    @Test func linkageIsPreciseAndComplete() throws {
        let result = DefaultRun.result
        var personOfPatient: [String: String] = [:]
        for row in readCSV(DefaultRun.input.appendingPathComponent("ground-truth/registrations.csv")).dropFirst() {
            personOfPatient[row[0]] = row[1]
        }
        var truth: [String: String] = [:]
        for row in readCSV(DefaultRun.input.appendingPathComponent("ground-truth/care_records.csv")).dropFirst() {
            truth[row[1]] = row[2]
        }
        var linked = 0, correct = 0
        for (r, id) in result.prepared.careRecordIds.enumerated() {
            let person = result.prepared.carePerson[r]
            guard person >= 0 else { continue }
            linked += 1
            if personOfPatient[result.prepared.registrationIds[Int(person)][0]] == truth[id] { correct += 1 }
        }
        let precision = Double(correct) / Double(linked)
        let recall = Double(correct) / Double(result.prepared.careRecordIds.count)
        #expect(precision >= 0.995, "precision \(precision)")
        #expect(recall >= 0.97, "recall \(recall)")
        #expect(result.prepared.linkage.linked == linked)
    }

    /// No NHS number, name, date of birth or postcode from the input appears in any output file.
    @Test func noIdentityReachesTheOutputs() throws {
        _ = DefaultRun.result
        let patients = readCSV(DefaultRun.input.appendingPathComponent("patients.csv")).dropFirst()
        var numbers = Set<String>(), postcodes = Set<String>(), births = Set<String>(), names = Set<String>()
        for row in patients {
            if !row[1].isEmpty { numbers.insert(row[1]) }
            if !row[6].isEmpty {
                postcodes.insert(row[6])
                postcodes.insert(row[6].replacingOccurrences(of: " ", with: ""))
            }
            births.insert(row[4])
            names.insert(row[2] + " " + row[3])
        }
        births.remove(SyntheticHealthSystem.defaultAsOf.description)
        // The output folder is a link to the run's own folder.
        let enumerator = FileManager.default.enumerator(
            at: DefaultRun.output.resolvingSymlinksInPath(), includingPropertiesForKeys: nil)!
        var scanned = 0
        for case let url as URL in enumerator where !url.hasDirectoryPath {
            let text = try String(contentsOf: url, encoding: .utf8)
            scanned += 1
            let isQuarantine = url.deletingLastPathComponent().lastPathComponent == "quarantine"
            if isQuarantine { try checkRedacted(url) }
            // Files that carry event dates: with 100,000 people almost every date is somebody's
            // birthday, so there the columns are checked instead of the dates.
            let eventDated = isQuarantine || url.lastPathComponent == "person-conditions.csv"
            if url.lastPathComponent == "person-conditions.csv" {
                #expect(text.prefix { $0 != "\n" } == "pseudonym,condition,first_recorded")
            }
            // One pass over the tokens: identifiers as single tokens, names as adjacent pairs.
            let separator: (Character) -> Bool = { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "'") }
            for line in text.split(separator: "\n") {
                let tokens = line.split(whereSeparator: separator).map(String.init)
                for (i, t) in tokens.enumerated() {
                    if numbers.contains(t) { Issue.record("NHS number in \(url.lastPathComponent)") }
                    if !eventDated, births.contains(t) { Issue.record("date of birth in \(url.lastPathComponent)") }
                    if postcodes.contains(t) { Issue.record("postcode in \(url.lastPathComponent)") }
                    if i > 0 {
                        if names.contains(tokens[i - 1] + " " + t) { Issue.record("name in \(url.lastPathComponent)") }
                        if postcodes.contains(tokens[i - 1] + " " + t) { Issue.record("postcode in \(url.lastPathComponent)") }
                    }
                }
            }
        }
        #expect(scanned >= 5)
    }

    /// Every identifying column of every quarantined row is redacted (or the whole row withheld).
    func checkRedacted(_ url: URL) throws {
        let header = splitCSVLine(
            String(
                try String(contentsOf: DefaultRun.input.appendingPathComponent(url.lastPathComponent), encoding: .utf8).prefix {
                    $0 != "\n"
                }))
        let identifying = ["nhs_number", "given_name", "family_name", "date_of_birth", "postcode"].compactMap {
            header.firstIndex(of: $0)
        }
        for row in readCSV(url).dropFirst() {
            let fields = splitCSVLine(row[4])
            if fields.count != header.count {
                #expect(row[4].hasPrefix("***"), "unredacted row in \(url.lastPathComponent)")
                continue
            }
            for i in identifying { #expect(fields[i] == "***" || fields[i].isEmpty, "\(header[i]) in \(url.lastPathComponent)") }
        }
    }

    /// Everything the run writes is named by the output contract and reads back as its type:
    /// no file the contract does not know, no table whose header differs from its row type.
    @Test func outputsFollowTheirContract() throws {
        _ = DefaultRun.result
        let output = DefaultRun.output
        let written = try FileManager.default.contentsOfDirectory(atPath: output.path).sorted()
        #expect(written.allSatisfy { Published.files.contains($0) || Published.folders.contains($0) }, "\(written)")
        #expect(try Published.multimorbidity.read(from: output).map(\.ltcCount) == MultimorbidityTable.bands + ["total"])
        let units = try Published.multimorbidityByUnit.read(from: output).map(\.unit)
        #expect(Set(units.map(\.unitCode)).count * 10 == units.count)
        #expect(try !Published.costConcentration.read(from: output).isEmpty)
        #expect(try !Published.riskTiers.read(from: output).isEmpty && !Published.risingRisk.read(from: output).isEmpty)
        #expect(try !Published.segmentProfiles.read(from: output).isEmpty && !Published.spc.read(from: output).isEmpty)
        #expect(try !Published.inequalities.read(from: output).isEmpty && !Published.variation.read(from: output).isEmpty)
        let conditions = try PersonFiles.personConditions.read(from: output)
        #expect(conditions.count > DefaultRun.result.summary.planningPeople / 2)
        #expect(conditions.allSatisfy { Day(iso: $0.firstRecorded) != nil })
        let quarantined = try FileManager.default.contentsOfDirectory(
            atPath: output.appendingPathComponent(PersonFiles.quarantine).path)
        let rejected = try quarantined.flatMap { try PersonFiles.quarantine($0).read(from: output) }
        #expect(rejected.count == DefaultRun.result.summary.rowsQuarantined)
        #expect(try Published.run.read(from: output).runId == DefaultRun.result.summary.runId)
        #expect(try Published.reconciliation.read(from: output).balanced)
        #expect(try Published.linkage.read(from: output).linked == DefaultRun.result.summary.careRecordsLinked)
        #expect(try Published.models.read(from: output).map(\.outcome) == Outcome.allCases)
        // The person-level files are written column by column: their headers are the contract's.
        let persons = readCSV(output.appendingPathComponent(PersonFiles.persons))[0]
        #expect(Array(persons.prefix(PersonFiles.personColumns.count)) == PersonFiles.personColumns)
        #expect(persons.contains(PersonFiles.segment("ltc_age")) && persons.contains(PersonFiles.scoreCategory("efi")))
    }

    /// Pseudonyms are HMAC-SHA256 of the NHS number under the key, and persons.csv has one row
    /// per registered person.
    @Test func personsArePseudonymisedRegisteredPeople() throws {
        let result = DefaultRun.result
        let rows = readCSV(DefaultRun.output.appendingPathComponent("persons.csv"))
        let expectedHeader: String = [
            "pseudonym,sex,age,age_band,practice_code,pcn_code,locality_code,lsoa_code,imd_decile,ethnic_group",
            "ae_attendances_12m,outpatient_attendances_12m,elective_admissions_12m,emergency_admissions_12m",
            "emergency_cost_12m,prescription_types_12m,cost_prescribing_12m,cost_ae_12m,cost_outpatient_12m",
            "cost_apc_12m,cost_community_12m,cost_mental_health_12m,cost_social_care_12m,cost_ambulance_12m,cost_other_12m",
            "cost_12m,ltc_count,ltc_conditions,cms_general,cms_mortality,charlson_1987,charlson_quan2011,elixhauser_vw,efi,efi_category",
            "risk_emergency_admission_12m,tier_emergency_admission_12m,rising_emergency_admission_12m",
            "risk_persistent_high_cost,tier_persistent_high_cost,rising_persistent_high_cost,risk_factors,segment_ltc_age,segment_bridges_to_health",
        ].joined(separator: ",")
        #expect(rows[0].joined(separator: ",") == expectedHeader)
        #expect(rows.count - 1 == result.summary.planningPeople)
        let key = try PseudonymKey(contentsOf: DefaultRun.keyFile)
        let vault = try IdentityVault(directory: DefaultRun.folder.appendingPathComponent("data/vault"))
        var checked = 0
        for row in rows.dropFirst().prefix(200) {
            let identity = try #require(try vault.identity(of: row[0]))
            if let nhs = identity.nhsNumber {
                #expect(key.pseudonym(of: nhs) == row[0])
                checked += 1
            }
        }
        #expect(checked > 150)
        #expect(Set(rows.dropFirst().map { $0[0] }).count == rows.count - 1)
    }
}
