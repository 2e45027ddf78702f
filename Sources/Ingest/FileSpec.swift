/// One column the contract names for a file.
public struct ColumnSpec: Sendable {
    public var name: String
    /// Whether the column must be in the header (its values may still be optional).
    public var requiredColumn: Bool
    /// Whether the column identifies a person (kept out of everything but the identity vault).
    public var identifying: Bool

    public init(_ name: String, required: Bool = true, identifying: Bool = false) {
        self.name = name
        self.requiredColumn = required
        self.identifying = identifying
    }
}

/// The contract for one file: its name, whether it must be present, its columns and its key.
public struct FileSpec: Sendable {
    public var name: String
    public var requiredFile: Bool
    public var columns: [ColumnSpec]
    /// The column whose values must be unique within the file, if any.
    public var keyColumn: Int?
    /// Whether columns the contract does not name are kept (area indicators) rather than ignored.
    public var keepsExtraColumns = false

    public var hasIdentifyingColumns: Bool { columns.contains(where: \.identifying) }
}

/// The identity columns every secondary and community care file carries.
let identityColumns: [ColumnSpec] = [
    ColumnSpec("nhs_number", identifying: true),
    ColumnSpec("given_name", identifying: true),
    ColumnSpec("family_name", identifying: true),
    ColumnSpec("date_of_birth", identifying: true),
    ColumnSpec("sex"),
    ColumnSpec("postcode", identifying: true),
]

/// The ethnic category a secondary or community care source recorded, last in its file and
/// optional: linkage quality is reported by it.
let recordedEthnicity = ColumnSpec("ethnic_category", required: false)

/// The files of input contract version 1.
public enum InputContract {
    public static let practices = FileSpec(
        name: "practices.csv", requiredFile: true,
        columns: [
            ColumnSpec("practice_code"), ColumnSpec("practice_name"), ColumnSpec("pcn_code"), ColumnSpec("pcn_name"),
            ColumnSpec("locality_code"), ColumnSpec("locality_name"), ColumnSpec("organisation_code"),
            ColumnSpec("organisation_name"),
        ], keyColumn: 0)

    public static let areas = FileSpec(
        name: "areas.csv", requiredFile: true,
        columns: [ColumnSpec("lsoa_code"), ColumnSpec("imd_decile"), ColumnSpec("imd_score", required: false)],
        keyColumn: 0, keepsExtraColumns: true)

    public static let patients = FileSpec(
        name: "patients.csv", requiredFile: true,
        columns: [
            ColumnSpec("patient_id"), ColumnSpec("nhs_number", identifying: true),
            ColumnSpec("given_name", identifying: true), ColumnSpec("family_name", identifying: true),
            ColumnSpec("date_of_birth", identifying: true), ColumnSpec("sex"),
            ColumnSpec("postcode", identifying: true), ColumnSpec("lsoa_code"), ColumnSpec("ethnic_category"),
            ColumnSpec("practice_code"), ColumnSpec("registered_from"), ColumnSpec("registered_to"),
            ColumnSpec("date_of_death"), ColumnSpec("national_opt_out"),
        ], keyColumn: 0)

    public static let gpEvents = FileSpec(
        name: "gp_events.csv", requiredFile: false,
        columns: [
            ColumnSpec("patient_id"), ColumnSpec("event_date"), ColumnSpec("code_system"), ColumnSpec("code"),
            ColumnSpec("value", required: false), ColumnSpec("unit", required: false),
        ], keyColumn: nil)

    public static let prescriptions = FileSpec(
        name: "prescriptions.csv", requiredFile: false,
        columns: [
            ColumnSpec("patient_id"), ColumnSpec("issue_date"), ColumnSpec("code_system"), ColumnSpec("code"),
            ColumnSpec("description", required: false), ColumnSpec("quantity", required: false),
            ColumnSpec("cost", required: false),
        ], keyColumn: nil)

    public static let inpatientSpells = FileSpec(
        name: "inpatient_spells.csv", requiredFile: false,
        columns: [ColumnSpec("record_id")] + identityColumns + [
            ColumnSpec("provider_code"), ColumnSpec("admission_date"), ColumnSpec("discharge_date"),
            ColumnSpec("admission_method"), ColumnSpec("primary_diagnosis"), ColumnSpec("secondary_diagnoses"),
            ColumnSpec("primary_procedure", required: false), ColumnSpec("cost"), recordedEthnicity,
        ], keyColumn: 0)

    public static let aeAttendances = FileSpec(
        name: "ae_attendances.csv", requiredFile: false,
        columns: [ColumnSpec("record_id")] + identityColumns + [
            ColumnSpec("provider_code"), ColumnSpec("arrival_date"), ColumnSpec("diagnosis", required: false),
            ColumnSpec("cost"), recordedEthnicity,
        ], keyColumn: 0)

    public static let outpatientAppointments = FileSpec(
        name: "outpatient_appointments.csv", requiredFile: false,
        columns: [ColumnSpec("record_id")] + identityColumns + [
            ColumnSpec("provider_code"), ColumnSpec("appointment_date"), ColumnSpec("attended"),
            ColumnSpec("treatment_function_code", required: false), ColumnSpec("cost"), recordedEthnicity,
        ], keyColumn: 0)

    public static let careContacts = FileSpec(
        name: "care_contacts.csv", requiredFile: false,
        columns: [ColumnSpec("record_id")] + identityColumns + [
            ColumnSpec("setting"), ColumnSpec("service", required: false), ColumnSpec("start_date"),
            ColumnSpec("end_date", required: false), ColumnSpec("cost"), recordedEthnicity,
        ], keyColumn: 0)

    /// Postcodes to small areas, read beside a FHIR export (whose patients carry a postcode but no
    /// LSOA): the `pcds` and `lsoa21cd` columns of the ONS Postcode Directory, renamed.
    public static let postcodes = FileSpec(
        name: "postcodes.csv", requiredFile: false,
        columns: [ColumnSpec("postcode", identifying: true), ColumnSpec("lsoa_code")],
        keyColumn: 0)

    public static let all: [FileSpec] = [
        practices, areas, patients, gpEvents, prescriptions, inpatientSpells, aeAttendances,
        outpatientAppointments, careContacts,
    ]
}
