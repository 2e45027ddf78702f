import Foundation
import Outputs
import PHMCore

/// Everything accepted from one input folder, with its reconciliation and quarantine.
public struct Extract: Sendable {
    public var hierarchy = Hierarchy()
    public var areas = Areas()
    public var patients = PatientRecords()
    public var clinical = ClinicalRecords()
    public var prescriptions = PrescriptionRecords()
    public var care = CareRecords()
    /// For each care record, the file it came from.
    public var careSource: [DataSource] = []
    public var codes = CodeTable()
    public var reconciliation: [FileReconciliation] = []
    public var quarantine: [QuarantinedRow] = []

    public init() {}

    /// The sources that supplied at least one accepted row.
    public var sourcesPresent: [DataSource] {
        var present = Set(careSource)
        if patients.count > 0 { present.insert(.gp) }
        return DataSource.allCases.filter(present.contains)
    }

    /// Total bytes read across all files.
    public var bytes: Int { reconciliation.reduce(0) { $0 + $1.bytes } }
}

/// Reads a folder that follows input contract version 1, where primary care may instead come as
/// a FHIR Bulk Data export (docs/fhir.md).
public struct ExtractReader: Sendable {
    public var folder: URL
    public var workers: Int
    public var blockSize: Int
    public var progress: ProgressHandler?
    /// The organisation (integrated care board or health board) whose practices a FHIR export's
    /// registrations name, for a folder without `practices.csv`.
    public var organisation: Hierarchy.Unit?

    public init(
        folder: URL, workers: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 16 << 20,
        progress: ProgressHandler? = nil, organisation: Hierarchy.Unit? = nil
    ) {
        self.folder = folder
        self.workers = workers
        self.blockSize = blockSize
        self.progress = progress
        self.organisation = organisation
    }

    /// Reads every contract file in dependency order (practices and areas, then patients, then
    /// the files that refer to patients).
    ///
    /// - Throws: `UnusableInput` when a required file or column is missing, or a file is not UTF-8 CSV.
    public func read() throws -> Extract {
        guard (try? folder.checkResourceIsReachable()) == true else {
            throw UnusableInput(
                file: folder.path, problem: "is not a readable folder",
                remedy: "Pass --input a folder of extracts that follows docs/input-contract.md.")
        }
        var extract = Extract()
        var refs = References()
        let export = try BulkExport.find(in: folder).map {
            ExportReader(export: $0, workers: workers, blockSize: blockSize, progress: progress)
        }
        func present(_ spec: FileSpec) -> Bool {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(spec.name).path)
        }

        // Beside a FHIR export, practices may come from its registrations (under the organisation
        // named), and a folder without areas has every area unknown.
        let practicesFromExport = export != nil && !present(InputContract.practices)
        if practicesFromExport, organisation == nil {
            throw UnusableInput(
                file: InputContract.practices.name, problem: "is missing from \(folder.path)",
                remedy:
                    "Add practices.csv, or name the organisation (--organisation CODE:NAME) to take the practices from the FHIR export's registrations."
            )
        }
        if !practicesFromExport {
            let practices = try ingest(InputContract.practices, &extract, Decoders.practices())
            for i in 0..<practices.count {
                extract.hierarchy.addPractice(
                    Hierarchy.Unit(code: practices.code[i], name: practices.name[i]), pcn: practices.pcn[i],
                    locality: practices.locality[i], organisation: practices.organisation[i])
                refs.practices.insert(practices.code[i], value: Int32(i))
            }
        }

        var areasSpec = InputContract.areas
        areasSpec.requiredFile = export == nil
        let (areas, areaColumns) = try ingestWithColumns(areasSpec, &extract, Decoders.areas())
        extract.areas.codes = areas.code
        extract.areas.imdDecile = areas.imdDecile
        extract.areas.imdScore = areas.imdScore
        // A trailing comma in the header names an empty column: there is nothing in it to keep.
        let extras = areaColumns?.extras ?? []
        let kept = extras.indices.filter { !extras[$0].name.isEmpty }
        extract.areas.indicatorNames = kept.map { extras[$0].name }
        try ColumnMap.checkIndicators(extract.areas.indicatorNames)
        extract.areas.indicators = kept.map { k in areas.indicatorRows.map { $0[k] } }
        for (i, code) in areas.code.enumerated() { refs.areas.insert(code, value: Int32(i)) }

        var context = ExportContext()
        if let export {
            let postcodes = try ingest(InputContract.postcodes, &extract, Decoders.postcodes(refs))
            context = try export.context(
                postcodes: Dictionary(zip(postcodes.postcode, postcodes.lsoa), uniquingKeysWith: { first, _ in first }),
                practices: practicesFromExport, optOuts: !present(InputContract.patients), into: &extract)
            try export.unreadFiles(into: &extract)
        }
        if practicesFromExport, let organisation {
            // Each practice a registration names by a well-formed ODS code (others stay unknown, and
            // their registrations are quarantined), with its Organization's name where the export
            // has one; the export says nothing of networks or localities.
            let codes = context.practices.filter { code in
                code.utf8.count >= 3 && Array(code.utf8).withUnsafeBytes { OrganisationCode.pack($0) } != 0
            }
            guard codes.count <= 10_000 else {
                throw UnusableInput(
                    file: "Patient", problem: "registrations name \(codes.count) practices, more than the 10,000 a run takes",
                    remedy: "Supply practices.csv with the practices of the organisation.")
            }
            let network = Hierarchy.Unit(code: "UNKNOWN", name: "Network not given")
            let locality = Hierarchy.Unit(code: "UNKNOWN", name: "Locality not given")
            for (i, code) in codes.enumerated() {
                extract.hierarchy.addPractice(
                    Hierarchy.Unit(code: code, name: context.organisationNames[code] ?? code), pcn: network, locality: locality,
                    organisation: organisation)
                refs.practices.insert(code, value: Int32(i))
            }
        }
        let snapshot = refs
        let patientsFile = present(InputContract.patients)
        if let export, !export.export.files(of: "Patient").isEmpty, patientsFile {
            // patients.csv holds the registered population; the export's Patients are then only the
            // people its encounters name (a hospital export beside a GP extract).
            extract.patients = try ingest(InputContract.patients, &extract, Decoders.patients(snapshot))
            let _: PatientRecords = try export.read(
                "Patient", as: InputContract.patients, context: context, into: &extract, project: ResourceRows.identityOnly,
                decode: Decoders.patients(snapshot))
        } else if let export, !export.export.files(of: "Patient").isEmpty {
            extract.patients = try export.read(
                "Patient", as: InputContract.patients, keyed: true, context: context, into: &extract,
                project: ResourceRows.patient, decode: Decoders.patients(snapshot))
        } else {
            extract.patients = try ingest(InputContract.patients, &extract, Decoders.patients(snapshot))
        }
        refs.patients.reserveCapacity(extract.patients.count)
        for (i, id) in extract.patients.patientId.enumerated() { refs.patients.insert(id, value: Int32(i)) }

        let withPatients = refs
        extract.clinical = try ingest(InputContract.gpEvents, &extract, Decoders.gpEvents(withPatients))
        extract.prescriptions = try ingest(InputContract.prescriptions, &extract, Decoders.prescriptions(withPatients))
        if let export {
            let entries: [(String, @Sendable (Resource, ExportContext, inout RowBuilder) throws(Refusal) -> Void)] = [
                ("Condition", { r, _, rows throws(Refusal) in try ResourceRows.condition(r, into: &rows) }),
                ("Observation", { r, _, rows throws(Refusal) in try ResourceRows.observation(r, into: &rows) }),
                ("Procedure", { r, _, rows throws(Refusal) in try ResourceRows.procedure(r, into: &rows) }),
            ]
            for (type, project) in entries {
                extract.clinical.append(
                    contentsOf: try export.read(
                        type, as: InputContract.gpEvents, context: context, into: &extract, project: project,
                        decode: Decoders.gpEvents(withPatients)))
            }
            for (type, project) in [
                ("MedicationRequest", ResourceRows.medicationRequest), ("MedicationStatement", ResourceRows.medicationStatement),
            ] {
                extract.prescriptions.append(
                    contentsOf: try export.read(
                        type, as: InputContract.prescriptions, context: context, into: &extract, project: project,
                        decode: Decoders.prescriptions(withPatients)))
            }
        }

        let careFiles: [(FileSpec, RowDecoder<CareRecords>, DataSource?)] = [
            (InputContract.inpatientSpells, Decoders.inpatientSpells(), .acute),
            (InputContract.aeAttendances, Decoders.aeAttendances(), .acute),
            (InputContract.outpatientAppointments, Decoders.outpatientAppointments(), .acute),
            (InputContract.careContacts, Decoders.careContacts(), nil),
        ]
        for (spec, decoder, source) in careFiles {
            if spec.name == InputContract.careContacts.name, let export {
                // Hospital activity from the export's encounters, after the hospital files and
                // before community care, the order the contract's files are read in.
                let records: CareRecords = try export.read(
                    "Encounter",
                    as: [
                        (InputContract.inpatientSpells, Decoders.inpatientSpells()),
                        (InputContract.aeAttendances, Decoders.aeAttendances()),
                        (InputContract.outpatientAppointments, Decoders.outpatientAppointments()),
                    ], keyed: true, context: context, into: &extract, project: ResourceRows.encounter)
                extract.care.append(contentsOf: records)
                extract.careSource.append(contentsOf: records.kind.map { _ in .acute })
            }
            let records = try ingest(spec, &extract, decoder)
            extract.care.append(contentsOf: records)
            extract.careSource.append(contentsOf: records.kind.map { source ?? $0.source })
        }
        return extract
    }

    private func ingest<B: RecordBatch>(_ spec: FileSpec, _ extract: inout Extract, _ decode: @escaping RowDecoder<B>) throws -> B
    {
        try ingestWithColumns(spec, &extract, decode).0
    }

    private func ingestWithColumns<B: RecordBatch>(
        _ spec: FileSpec, _ extract: inout Extract, _ decode: @escaping RowDecoder<B>
    ) throws -> (B, ColumnMap?) {
        let file = FileIngest<B>(spec: spec, folder: folder, workers: workers, blockSize: blockSize, progress: progress)
        let output = try file.run(codes: &extract.codes, decode: decode)
        extract.reconciliation.append(output.reconciliation)
        extract.quarantine.append(contentsOf: output.quarantine)
        return (output.batch, output.columns)
    }
}
