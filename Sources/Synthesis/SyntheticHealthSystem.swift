import Foundation
import PHMCore

/// What to generate.
public struct SynthesisOptions: Sendable {
    /// People on the GP spine (registered at some time in the period).
    public var people: Int
    public var seed: UInt64
    /// The as-of date the data is built around: three years of history before it, one after.
    public var asOf: Day
    public var historyYears = 3
    public var followUpYears = 1
    /// Extra malformed rows per row written, per file.
    public var faultRate = 0.00005
    /// How much of the emergency admissions the records can predict.
    public var signal = Signal.full
    /// How people come by their conditions over the years.
    public var onsets = Onsets.backdated
    /// A programme to evaluate, or nil for none.
    public var intervention: Intervention?
    /// How cleanly care records carry the identity of the person they belong to.
    public var identities = Identities.typical

    /// A programme chosen as a real one would be: adults with recent emergency admissions, enrolled
    /// over six months, with a known effect on their emergency admissions afterwards. Everyone
    /// enrolled is listed in `ground-truth/intervention.csv` with their start date.
    public struct Intervention: Sendable, Equatable {
        /// The relative change in each enrolled person's emergency admissions from the month after
        /// their start: -0.2 removes each admission (and its ambulance conveyance) with
        /// probability 0.2; 0 enrols people and changes nothing.
        public var effect: Double
        /// Each adult is considered on one day of the six months from 20 months before as-of, and
        /// enrolled with this chance after 2 or more emergency admissions in the 12 whole months
        /// before that day's month (and a tenth of it after 1).
        public var enrolment = 0.25

        public init(effect: Double) { self.effect = effect }

        /// The first month of enrolment, counted back from as-of: every start leaves a year of
        /// history before it and a whole year after it within the data.
        public static let monthsBeforeAsOf = 20
        public static let enrolmentMonths = 6
    }

    /// How care records name their person (see docs/synthetic-data.md).
    public enum Identities: String, Sendable, CaseIterable {
        /// NHS numbers on 98% of records, with occasional misspellings and swapped dates.
        case typical
        /// What community, social care and voluntary-sector extracts look like: NHS numbers missing
        /// by setting (3% of admissions to 40% of social care contacts), names swapped and spelt
        /// differently, more often for people of minority ethnic groups, dates of birth transposed
        /// or partial, family names changed, and addresses the spine does not yet know.
        case messy
    }

    /// How conditions and deaths unfold before as-of.
    public enum Onsets: String, Sendable, CaseIterable {
        /// Each person's count at as-of follows the seed's distribution; the conditions are then
        /// dated back over the years before (25, or 4 for cancer), and deaths follow the count at
        /// as-of. The seed's table is reproduced; the years before as-of are not a forwards process.
        case backdated
        /// Conditions are gained year by year, and deaths happen, under the documented rates of
        /// `ForwardRates`, from the count each person holds eight years before as-of: what a
        /// projection estimates from the history can be checked against the rates it was made with.
        case forward
    }

    /// How strongly emergency admissions follow what the records say about a person: `weak` and
    /// `none` test that risk models are chosen and guarded rather than assumed to work.
    public enum Signal: String, Sendable, CaseIterable {
        /// Admissions follow long-term conditions and each person's lasting and yearly use of
        /// care, so earlier use predicts later use, and the air quality where they live.
        case full
        /// Admissions follow only age, deprivation, the number of long-term conditions and the
        /// area's air quality, and weakly: a Poisson rate with no lasting person-level frailty.
        case weak
        /// Admissions are independent of everything recorded: nothing can predict them.
        case none
    }

    public init(people: Int, seed: UInt64, asOf: Day = SyntheticHealthSystem.defaultAsOf) {
        self.people = people
        self.seed = seed
        self.asOf = asOf
    }
}

/// Counts of what was written, by file.
public struct SynthesisSummary: Sendable, Codable {
    /// People on the spine.
    public var people: Int
    public var rows: [String: Int]
    public var injectedFaults: [String: Int]
}

/// A synthetic health system written as a folder that follows the input contract, with a
/// `ground-truth/` folder saying which record belongs to whom.
///
/// The same options always give the same bytes, whatever the number of cores.
public enum SyntheticHealthSystem {
    public static let defaultAsOf = Day(year: 2025, month: 4, day: 1)!

    static let identityHeader = "nhs_number,given_name,family_name,date_of_birth,sex,postcode"
    static let headers: [(file: String, header: String)] = [
        (
            "patients.csv",
            "patient_id,\(identityHeader),lsoa_code,ethnic_category,practice_code,registered_from,registered_to,date_of_death,national_opt_out"
        ),
        ("gp_events.csv", "patient_id,event_date,code_system,code,value,unit"),
        ("prescriptions.csv", "patient_id,issue_date,code_system,code,description,quantity,cost"),
        (
            "inpatient_spells.csv",
            "record_id,\(identityHeader),provider_code,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses,primary_procedure,cost,ethnic_category"
        ),
        ("ae_attendances.csv", "record_id,\(identityHeader),provider_code,arrival_date,diagnosis,cost,ethnic_category"),
        (
            "outpatient_appointments.csv",
            "record_id,\(identityHeader),provider_code,appointment_date,attended,treatment_function_code,cost,ethnic_category"
        ),
        ("care_contacts.csv", "record_id,\(identityHeader),setting,service,start_date,end_date,cost,ethnic_category"),
        ("ground-truth/care_records.csv", "file,record_id,person"),
        ("ground-truth/registrations.csv", "patient_id,person"),
        ("ground-truth/persons.csv", "person,ltc_count,conditions,registered_at_as_of,died_before_as_of,social_factors"),
        ("ground-truth/faults.csv", "file,line,rule"),
        ("ground-truth/intervention.csv", "nhs_number,start_date"),
    ]

    /// Writes the folder and returns what it holds.
    public static func write(
        _ options: SynthesisOptions, to folder: URL, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> SynthesisSummary {
        let fm = FileManager.default
        try fm.createDirectory(at: folder.appendingPathComponent("ground-truth"), withIntermediateDirectories: true)
        let geography = Geography(people: options.people, seed: options.seed)
        try writeOrganisations(geography, to: folder)

        let model = PersonModel(options: options, geography: geography)
        let files = try headers.map { try OutputFile(folder.appendingPathComponent($0.file), header: $0.header) }
        var rows = [Int](repeating: 0, count: headers.count)
        var faults = [String: Int]()

        let blockSize = 2_000
        let blocks = (options.people + blockSize - 1) / blockSize
        let wave = max(1, ProcessInfo.processInfo.activeProcessorCount * 4)
        var done = 0
        for waveStart in stride(from: 0, to: blocks, by: wave) {
            let count = min(wave, blocks - waveStart)
            let built = Parallel.map(count) { k in
                let first = (waveStart + k) * blockSize
                return model.block(first..<min(options.people, first + blockSize))
            }
            for block in built {
                for (f, rowsOfFile) in block.files.enumerated() {
                    // Lines of injected faults are known only now: header is line 1.
                    for fault in block.faults where fault.file == f {
                        var line = CSVRows(capacity: 64)
                        line.field(headers[f].file)
                        line.field(rows[f] + fault.row + 2)
                        line.field(fault.rule)
                        line.end()
                        try files[faultsFile].write(line.bytes)
                        faults[headers[f].file, default: 0] += 1
                    }
                    try files[f].write(rowsOfFile.bytes)
                    rows[f] += block.rowCounts[f]
                }
                done += block.people
                progress?(done, options.people)
            }
        }
        for file in files { try file.close() }
        var rowCounts: [String: Int] = [:]
        for (i, h) in headers.enumerated() where !h.file.hasPrefix("ground-truth") { rowCounts[h.file] = rows[i] }
        // People written: forwards, someone who would have joined after they died is not.
        return SynthesisSummary(people: rows[PersonModel.gtPerson], rows: rowCounts, injectedFaults: faults)
    }

    static let faultsFile = 10

    private static func writeOrganisations(_ g: Geography, to folder: URL) throws {
        var practices = CSVRows()
        practices.raw(
            "practice_code,practice_name,pcn_code,pcn_name,locality_code,locality_name,organisation_code,organisation_name")
        for p in g.practices {
            for value in [
                p.code, p.name, g.pcnCodes[p.pcn], g.pcnNames[p.pcn], g.localityCodes[p.locality], g.localityNames[p.locality],
                Geography.organisationCode, Geography.organisationName,
            ] {
                practices.field(value)
            }
            practices.end()
        }
        try Data(practices.bytes).write(to: folder.appendingPathComponent("practices.csv"))

        var areas = CSVRows()
        areas.raw("lsoa_code,imd_decile,imd_score,pm25,green_space_access_pct,overcrowded_households_pct")
        for a in g.areaCodes.indices {
            areas.field(g.areaCodes[a])
            areas.field(g.areaDecile[a])
            areas.field(tenths: g.areaScore[a])
            for v in g.areaIndicators[a] { areas.field(tenths: v) }
            areas.end()
        }
        try Data(areas.bytes).write(to: folder.appendingPathComponent("areas.csv"))
    }
}

/// One block of people's rows for every file.
struct Block: Sendable {
    var files: [CSVRows]
    var rowCounts: [Int]
    var faults: [(file: Int, row: Int, rule: String)] = []
    var people: Int

    init(people: Int) {
        files = SyntheticHealthSystem.headers.map { _ in CSVRows(capacity: people * 64) }
        rowCounts = [Int](repeating: 0, count: SyntheticHealthSystem.headers.count)
        self.people = people
    }

    mutating func end(_ file: Int) {
        files[file].end()
        rowCounts[file] += 1
    }
}
