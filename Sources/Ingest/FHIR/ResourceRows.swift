import FHIR
import PHMCore

/// One parsed resource: its tape and the bytes of its line.
struct Resource {
    let tape: JSONTape
    let bytes: UnsafeRawBufferPointer

    /// The value reached by following object keys from `token` (the resource itself by default).
    func at(_ keys: StaticString..., from token: Int? = 0) -> Int? {
        var t = token
        for key in keys {
            guard let current = t else { return nil }
            t = tape.value(key, in: current, bytes)
        }
        return t
    }

    func elements(_ token: Int?) -> JSONTape.Elements { tape.elements(of: token) }
    func equals(_ token: Int?, _ text: StaticString) -> Bool { tape.equals(token, text, bytes) }

    func equals(_ token: Int?, _ text: [UInt8]) -> Bool {
        guard let token else { return false }
        return text.withUnsafeBytes { tape.equals(token, $0, bytes) }
    }

    func string(_ token: Int?) -> String? { tape.string(token, bytes) }

    /// The first element of an array that satisfies `test`, else the first element.
    func preferred(_ array: Int?, _ test: (Int) -> Bool) -> Int? {
        var first: Int?
        for e in elements(array) {
            if test(e) { return e }
            if first == nil { first = e }
        }
        return first
    }

    /// The logical id a reference names for `type` (`Patient/123`, or an absolute URL ending so).
    func referencedId(_ reference: Int?, type: StaticString) -> [UInt8]? {
        guard let reference, tape.tokens[reference].kind == .string else { return nil }
        var text: [UInt8] = []
        tape.appendString(reference, bytes, to: &text)
        let marker = Array(UnsafeRawBufferPointer(start: type.utf8Start, count: type.utf8CodeUnitCount)) + [UInt8(ascii: "/")]
        guard text.count > marker.count else { return nil }
        var found: Int?
        for i in 0...(text.count - marker.count) where text[i..<(i + marker.count)].elementsEqual(marker) {
            if i == 0 || text[i - 1] == UInt8(ascii: "/") { found = i }
        }
        guard let found else { return nil }
        var id = Array(text[(found + marker.count)...])
        // A versioned reference (`Patient/1/_history/2`) names the same patient.
        if let slash = id.firstIndex(of: UInt8(ascii: "/")) { id.removeSubrange(slash...) }
        return id.isEmpty ? nil : id
    }
}

/// Contract rows assembled from resources, field by field, for the contract's decoders.
struct RowBuilder {
    private(set) var bytes: [UInt8] = []
    private var starts: [Int] = []
    private var ends: [Int] = []
    private var rowStarts: [Int] = []
    /// For each row, the JSON path of each contract column, to name the field in a quarantine entry.
    private(set) var paths: [[String]] = []
    /// For each row, which of the reader's contract files it is a row of.
    private(set) var variants: [Int] = []
    /// Problems that keep the resource but are counted, as a contract row's warnings are.
    var warnings: [Warning] = []

    var rowCount: Int { rowStarts.count }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        rowStarts.removeAll(keepingCapacity: true)
        paths.removeAll(keepingCapacity: true)
        variants.removeAll(keepingCapacity: true)
        warnings.removeAll(keepingCapacity: true)
    }

    mutating func beginRow(_ columnPaths: [String], variant: Int = 0) {
        rowStarts.append(starts.count)
        paths.append(columnPaths)
        variants.append(variant)
    }

    /// A string's value or a number's text; empty for anything else or nothing.
    mutating func field(_ token: Int?, _ r: Resource) {
        starts.append(bytes.count)
        if let token { r.tape.appendString(token, r.bytes, to: &bytes) }
        ends.append(bytes.count)
    }

    mutating func field(_ value: [UInt8]) {
        starts.append(bytes.count)
        bytes.append(contentsOf: value)
        ends.append(bytes.count)
    }

    mutating func field(_ text: String) { field(Array(text.utf8)) }

    /// A FHIR `date` or `dateTime` as the contract's date: a date-time's day as written, before its
    /// time and zone (a partial date stays partial, and is refused by the date rule).
    mutating func date(_ token: Int?, _ r: Resource) {
        starts.append(bytes.count)
        if let token, r.tape.tokens[token].kind == .string {
            let before = bytes.count
            r.tape.appendString(token, r.bytes, to: &bytes)
            if bytes.count > before + 10, bytes[before + 10] == UInt8(ascii: "T") { bytes.removeSubrange((before + 10)...) }
        }
        ends.append(bytes.count)
    }

    /// Runs `body` on row `k` as the contract's decoders see a CSV row, over the builder's own
    /// bytes (no copy, so a resource of many rows costs time in proportion to its size).
    mutating func withRow<T>(_ k: Int, line: Int, _ body: (Row) -> T) -> T {
        let first = rowStarts[k]
        let last = k + 1 < rowStarts.count ? rowStarts[k + 1] : starts.count
        if bytes.isEmpty { bytes.append(0) }  // a base address even for a row of empty fields
        return bytes.withUnsafeMutableBytes { raw in
            starts.withUnsafeMutableBufferPointer { s in
                ends.withUnsafeMutableBufferPointer { e in
                    let rowStarts = UnsafeMutableBufferPointer(rebasing: s[first..<last])
                    let rowEnds = UnsafeMutableBufferPointer(rebasing: e[first..<last])
                    return body(
                        Row(base: raw.baseAddress!, starts: rowStarts, ends: rowEnds, fieldCount: last - first, line: line))
                }
            }
        }
    }
}

/// What the export's other resources say about the ones being projected.
struct ExportContext: Sendable {
    /// Organization logical id to ODS code.
    var organisations: [String: String] = [:]
    /// ODS code to the name an Organization resource gives it.
    var organisationNames: [String: String] = [:]
    /// The practices registrations name, by ODS code in the order first met (when asked for).
    var practices: [String] = []
    var practiceSeen: Set<String> = []
    /// Patient logical ids with an active National Data Opt-out.
    var optedOut: Set<String> = []
    /// `Type/id` of a prescription or encounter to the total of the charge items that point at it.
    var costs: [String: Double] = [:]
    /// Patient logical id to the person as that Patient records them (`ResourceRows.identity`),
    /// for the encounters that refer to it; collected only when the export has encounters.
    var identities: [String: [[UInt8]]] = [:]
    /// Normalised postcode to LSOA code, from `postcodes.csv` when the folder has one.
    var postcodes: [String: String] = [:]
}

/// Why a resource yields no rows: it breaks a rule (quarantined), or it is well formed but
/// says something the platform does not read (counted by reason).
enum Refusal: Error {
    case broken(RowError)
    case notRead(String)

    init(_ column: String, _ rule: Rule, _ message: String) { self = .broken(RowError(column, rule, message)) }
}

/// The mapping of each resource type read to the contract's rows (docs/fhir.md).
enum ResourceRows {
    static let systems: [(uri: [UInt8], clinical: String?, medication: String?)] = Vocabulary.codeSystems.map {
        (Array($0.uri.utf8), $0.clinical, $0.medication)
    }

    /// The first coding of a concept in a system the library knows: its contract system name and code.
    static func code(_ concept: Int?, _ r: Resource, medication: Bool, path: String) throws(Refusal) -> (String, Int) {
        var unknown: String?
        for coding in r.elements(r.at("coding", from: concept)) {
            let system = r.at("system", from: coding)
            if let known = systems.first(where: { r.equals(system, $0.uri) }),
                let name = medication ? known.medication : known.clinical
            {
                // A coding of a known system without a code says nothing: the next one may.
                if let code = r.at("code", from: coding) { return (name, code) }
                continue
            }
            if unknown == nil { unknown = r.string(system).map { String($0.prefix(100)) } ?? "(no system)" }
        }
        if let unknown { throw .notRead("code system \(unknown)") }
        throw Refusal(path, .missingValue, "\(path) has no coding in a code system")
    }

    static func subject(_ r: Resource, _ key: StaticString, path: String) throws(Refusal) -> [UInt8] {
        guard let id = r.referencedId(r.at(key, "reference"), type: "Patient") else {
            throw Refusal(path, .unknownPatient, "\(path) does not name a Patient ('Patient/ID')")
        }
        return id
    }

    static let patientPaths = [
        "Patient.id", "Patient.identifier.value", "Patient.name.given", "Patient.name.family", "Patient.birthDate",
        "Patient.gender", "Patient.address.postalCode", "Patient.address.postalCode",
        "Patient.extension(ethnic category).valueCodeableConcept", "Patient.generalPractitioner.identifier.value",
        "Patient.generalPractitioner.identifier.period.start", "Patient.generalPractitioner.identifier.period.end",
        "Patient.deceasedDateTime", "Consent.provision",
    ]

    static let nhsNumberSystem = Array(Vocabulary.nhsNumber.utf8)
    static let genders = Vocabulary.genders.map { (fhir: Array($0.fhir.utf8), contract: Array($0.contract.utf8)) }
    static let odsSystem = Array(Vocabulary.odsOrganisation.utf8)
    static let ethnicExtension = Array(Vocabulary.ethnicCategoryExtension.utf8)
    static let england = Array(Vocabulary.ethnicCategoryEngland.utf8)
    static let wales = Array(Vocabulary.ethnicCategoryWales.utf8)

    /// A Patient with a registered practice is a GP registration, one row of `patients.csv`.
    static func patient(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        // The current registration: of the entries that are organisations (a practice, not a
        // Practitioner), the one whose period has no end, else the first.
        guard let gp = registration(r) else {
            throw .notRead("Patient with no registered practice (generalPractitioner)")
        }
        let person = identity(r)
        guard person.knownGender else {
            throw Refusal("Patient.gender", .enumValue, "Patient.gender must be male, female, other or unknown")
        }
        rows.beginRow(patientPaths)
        rows.field(r.at("id"), r)
        for field in person.fields { rows.field(field) }
        let postcode = person.fields[5]
        var lsoa: [UInt8] = []
        if let normal = postcode.withUnsafeBytes({ Postcode.normalise($0) }), let code = context.postcodes[normal] {
            lsoa = Array(code.utf8)
        }
        rows.field(lsoa)
        rows.field(ethnicCategory(r))
        let identifier = r.at("identifier", from: gp)
        if let ods = practiceCode(gp, r, context) {
            rows.field(ods)
        } else {
            throw Refusal(
                "Patient.generalPractitioner", .unknownPractice,
                "Patient.generalPractitioner names no practice by ODS code (identifier or a reference to an Organization)")
        }
        rows.date(r.at("period", "start", from: identifier), r)
        rows.date(r.at("period", "end", from: identifier), r)
        if r.tape.kind(r.at("deceasedBoolean")) == .true {
            throw Refusal("Patient.deceasedBoolean", .missingValue, "the patient is recorded as deceased without a date")
        }
        rows.date(r.at("deceasedDateTime"), r)
        let id = r.string(r.at("id")) ?? ""
        rows.field(context.optedOut.contains(id) ? "Y" : "N")
    }

    /// The `generalPractitioner` entry that is the current registration: of the entries that are
    /// organisations (a practice, not a Practitioner), the one whose period has no end, else the first.
    static func registration(_ r: Resource) -> Int? {
        let practices = r.elements(r.at("generalPractitioner")).filter { entry in
            r.equals(r.at("identifier", "system", from: entry), odsSystem) || r.equals(r.at("type", from: entry), "Organization")
                || r.referencedId(r.at("reference", from: entry), type: "Organization") != nil
        }
        return practices.first(where: { r.at("identifier", "period", "end", from: $0) == nil }) ?? practices.first
    }

    /// A registration's practice by ODS code: its identifier, or the Organization it references.
    static func practiceCode(_ gp: Int, _ r: Resource, _ context: ExportContext) -> [UInt8]? {
        let code = organisation(gp, r, context)
        return code.isEmpty ? nil : code
    }

    /// A Patient beside `patients.csv`, which holds the registered population: read only as the
    /// person encounters name, and counted.
    static func identityOnly(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        do throws(Refusal) {
            try patient(r, context, into: &rows)
        } catch {
            if case .notRead = error { throw error }
        }
        throw .notRead("Patient with a registered practice, beside patients.csv (which holds the registered population)")
    }

    /// A person as a Patient resource records them, in the contract's identity columns: NHS number,
    /// given names, family name, date of birth, sex and postcode. `knownGender` is false for a
    /// gender outside FHIR's four, which is passed on as written.
    static func identity(_ r: Resource) -> (fields: [[UInt8]], knownGender: Bool) {
        func text(_ token: Int?) -> [UInt8] {
            var out: [UInt8] = []
            if let token { r.tape.appendString(token, r.bytes, to: &out) }
            return out
        }
        let nhs = r.elements(r.at("identifier")).first { r.equals(r.at("system", from: $0), nhsNumberSystem) }
        let name = r.preferred(r.at("name")) { r.equals(r.at("use", from: $0), "official") }
        var given: [UInt8] = []
        for part in r.elements(r.at("given", from: name)) {
            if !given.isEmpty { given.append(UInt8(ascii: " ")) }
            r.tape.appendString(part, r.bytes, to: &given)
        }
        var birth = r.tape.kind(r.at("birthDate")) == .string ? text(r.at("birthDate")) : []
        if birth.count > 10, birth[10] == UInt8(ascii: "T") { birth.removeSubrange(10...) }
        let gender = r.at("gender")
        var sex: [UInt8] = []
        var known = true
        if gender != nil {
            if let match = genders.first(where: { r.equals(gender, $0.fhir) }) {
                sex = match.contract
            } else {
                sex = text(gender)
                known = false
            }
        }
        let address = r.preferred(r.at("address")) {
            r.equals(r.at("use", from: $0), "home") && r.at("period", "end", from: $0) == nil
        }
        return (
            [
                text(r.at("value", from: nhs)), given, text(r.at("family", from: name)), birth, sex,
                text(r.at("postalCode", from: address)),
            ], known
        )
    }

    /// The England ethnic category letter of the UK Core extension (England or Wales codes).
    static func ethnicCategory(_ r: Resource) -> [UInt8] {
        for e in r.elements(r.at("extension")) where r.equals(r.at("url", from: e), ethnicExtension) {
            for coding in r.elements(r.at("valueCodeableConcept", "coding", from: e)) {
                let system = r.at("system", from: coding)
                guard let code = r.string(r.at("code", from: coding)) else { continue }
                if r.equals(system, england) { return code == "99" ? [] : Array(code.utf8) }
                if r.equals(system, wales) { return Array((Vocabulary.englandCategory(fromWales: code) ?? code).utf8) }
            }
        }
        return []
    }

    // Each mapping's JSON paths, built once: a row only points at them.
    static let conditionPaths = [clinicalPaths("Condition", "onsetDateTime"), clinicalPaths("Condition", "recordedDate")]
    static let procedurePaths = clinicalPaths("Procedure", "performedDateTime")
    static let requestPaths = prescriptionPaths("MedicationRequest", "authoredOn")
    static let statementPaths = prescriptionPaths("MedicationStatement", "effectiveDateTime")
    /// An Observation's and its components' paths, by the element its date came from.
    static let observationPaths: [String: [[String]]] = Dictionary(
        uniqueKeysWithValues: ["effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"].map { date in
            (
                date,
                ["Observation", "Observation.component"].map { path in
                    var p = clinicalPaths(path, "")
                    p[0] = "Observation.subject.reference"
                    p[1] = "Observation." + date
                    return p
                }
            )
        })

    static func clinicalPaths(_ type: String, _ date: String) -> [String] {
        [
            "\(type).subject.reference", "\(type).\(date)", "\(type).code.coding.system", "\(type).code.coding.code",
            "\(type).valueQuantity.value", "\(type).valueQuantity.unit",
        ]
    }

    /// Statuses that say a record should not be read as having happened.
    static func checkStatus(_ r: Resource, _ key: StaticString, refusing: [StaticString]) throws(Refusal) {
        let status = r.at(key)
        for word in refusing where r.equals(status, word) { throw .notRead("\(key) \(word)") }
    }

    /// A Condition as one coded entry of `gp_events.csv`, dated by its onset, else its recording.
    static func condition(_ r: Resource, into rows: inout RowBuilder) throws(Refusal) {
        let verification = r.at("verificationStatus", "coding")
        for coding in r.elements(verification) {
            for word: StaticString in ["refuted", "entered-in-error"] where r.equals(r.at("code", from: coding), word) {
                throw .notRead("verificationStatus \(word)")
            }
        }
        let patient = try subject(r, "subject", path: "Condition.subject.reference")
        let (system, code) = try Self.code(r.at("code"), r, medication: false, path: "Condition.code")
        let onset = r.at("onsetDateTime") ?? r.at("onsetPeriod", "start")
        rows.beginRow(conditionPaths[onset != nil ? 0 : 1])
        rows.field(patient)
        rows.date(onset ?? r.at("recordedDate"), r)
        rows.field(system)
        rows.field(code, r)
        rows.field([])
        rows.field([])
    }

    /// An Observation as coded entries: its own code with its value, and each component with its
    /// value (blood pressure's systolic and diastolic readings).
    static func observation(_ r: Resource, into rows: inout RowBuilder) throws(Refusal) {
        try checkStatus(r, "status", refusing: ["entered-in-error", "cancelled"])
        let patient = try subject(r, "subject", path: "Observation.subject.reference")
        let dates: [(StaticString, Int?)] = [
            ("effectiveDateTime", r.at("effectiveDateTime")), ("effectivePeriod.start", r.at("effectivePeriod", "start")),
            ("effectiveInstant", r.at("effectiveInstant")), ("issued", r.at("issued")),
        ]
        let dated = dates.first { $0.1 != nil }
        let when = dated?.1
        let components = Array(r.elements(r.at("component")))
        guard components.count <= 64 else {
            throw Refusal("Observation.component", .outOfRange, "an Observation of more than 64 components is not read")
        }
        let paths = observationPaths[dated.map { "\($0.0)" } ?? "effectiveDateTime"]!
        var firstUnknown: String?
        // The observation's code with its value, a coded value as an entry of its own (a smoking
        // status's "ex-smoker", which the library's rules look for), and each component.
        let valueConcept = r.at("valueCodeableConcept")
        var concepts = [(r.at("code"), 0, "Observation.code")]
        if valueConcept != nil { concepts.append((valueConcept, -1, "Observation.valueCodeableConcept")) }
        concepts += components.map { (r.at("code", from: $0), $0, "Observation.component.code") }
        for (concept, base, path) in concepts {
            do throws(Refusal) {
                let (system, code) = try Self.code(concept, r, medication: false, path: path)
                let quantity = base == 0 ? r.at("valueQuantity") : base < 0 ? nil : r.at("valueQuantity", from: base)
                // A value beyond a limit (`>90`) is censored: it is not read as the exact value, as
                // `>90` in a CSV file is not a number.
                if let comparator = r.at("comparator", from: quantity) {
                    throw Refusal(
                        (base == 0 ? "Observation" : "Observation.component") + ".valueQuantity.comparator", .numberFormat,
                        "a value with a comparator (\(r.string(comparator).map { String($0.prefix(2)) } ?? "?")) is not an exact number"
                    )
                }
                // A panel's own code carries no value when its components do.
                rows.beginRow(paths[base <= 0 ? 0 : 1])
                rows.field(patient)
                rows.date(when, r)
                rows.field(system)
                rows.field(code, r)
                rows.field(r.at("value", from: quantity), r)
                rows.field(r.at("unit", from: quantity) ?? r.at("code", from: quantity), r)
            } catch {
                // A code in a system the library does not know leaves the rest of the observation readable.
                guard case .notRead(let reason) = error else { throw error }
                if firstUnknown == nil { firstUnknown = reason }
            }
        }
        if rows.rowCount == 0, let firstUnknown { throw .notRead(firstUnknown) }
    }

    /// A Procedure recorded in primary care, as a coded entry dated when it was performed.
    static func procedure(_ r: Resource, into rows: inout RowBuilder) throws(Refusal) {
        try checkStatus(r, "status", refusing: ["entered-in-error", "not-done"])
        let patient = try subject(r, "subject", path: "Procedure.subject.reference")
        let (system, code) = try Self.code(r.at("code"), r, medication: false, path: "Procedure.code")
        rows.beginRow(procedurePaths)
        rows.field(patient)
        rows.date(r.at("performedDateTime") ?? r.at("performedPeriod", "start"), r)
        rows.field(system)
        rows.field(code, r)
        rows.field([])
        rows.field([])
    }

    static func prescriptionPaths(_ type: String, _ date: String) -> [String] {
        [
            "\(type).subject.reference", "\(type).\(date)", "\(type).medicationCodeableConcept.coding.system",
            "\(type).medicationCodeableConcept.coding.code", "\(type).medicationCodeableConcept.coding.display",
            "\(type).dispenseRequest.quantity.value", "ChargeItem.priceOverride.value",
        ]
    }

    /// A MedicationRequest issued in primary care, as a row of `prescriptions.csv`; its cost comes
    /// from the ChargeItems that point at it.
    static func medicationRequest(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        try checkStatus(r, "status", refusing: ["entered-in-error", "cancelled", "draft"])
        try checkStatus(r, "intent", refusing: ["proposal", "plan"])
        try medication(r, context, type: "MedicationRequest", date: "authoredOn", into: &rows)
    }

    /// A MedicationStatement, as a row of `prescriptions.csv` dated when it took effect.
    static func medicationStatement(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        try checkStatus(r, "status", refusing: ["entered-in-error", "not-taken"])
        try medication(r, context, type: "MedicationStatement", date: "effectiveDateTime", into: &rows)
    }

    private static func medication(
        _ r: Resource, _ context: ExportContext, type: String, date: StaticString, into rows: inout RowBuilder
    ) throws(Refusal) {
        guard r.at("medicationReference") == nil else {
            throw .notRead("medicationReference (a separate Medication resource)")
        }
        let patient = try subject(r, "subject", path: "\(type).subject.reference")
        let (system, code) = try Self.code(
            r.at("medicationCodeableConcept"), r, medication: true, path: "\(type).medicationCodeableConcept")
        rows.beginRow(type == "MedicationRequest" ? requestPaths : statementPaths)
        rows.field(patient)
        let when =
            type == "MedicationRequest"
            ? r.at("authoredOn") : r.at("effectiveDateTime") ?? r.at("effectivePeriod", "start") ?? r.at("dateAsserted")
        rows.date(when, r)
        rows.field(system)
        rows.field(code, r)
        rows.field([])
        rows.field(r.at("dispenseRequest", "quantity", "value"), r)
        let id = r.string(r.at("id")) ?? ""
        rows.field(context.costs[type + "/" + id].map(money) ?? "")
    }

    // MARK: Hospital activity

    static let admissionMethodExtension = Array(Vocabulary.admissionMethodExtension.utf8)
    static let icd10 = [Array("http://hl7.org/fhir/sid/icd-10".utf8), Array("http://hl7.org/fhir/sid/icd-10-uk".utf8)]
    static let snomed = Array("http://snomed.info/sct".utf8)
    static let opcs4 = Vocabulary.opcs4.map { Array($0.utf8) }

    static let encounterPaths: [[String]] = {
        let identity = [
            "Encounter.id", "Patient.identifier.value", "Patient.name.given", "Patient.name.family", "Patient.birthDate",
            "Patient.gender", "Patient.address.postalCode", "Encounter.serviceProvider",
        ]
        let ethnic = "Patient.extension(ethnic category).valueCodeableConcept"
        return [
            identity + [
                "Encounter.period.start", "Encounter.period.end", "Encounter.hospitalization.extension(admission method)",
                "Encounter.diagnosis(rank 1).condition", "Encounter.diagnosis.condition", "Encounter.diagnosis(procedure)",
                "ChargeItem.priceOverride.value", ethnic,
            ],
            identity + ["Encounter.period.start", "Encounter.diagnosis.condition", "ChargeItem.priceOverride.value", ethnic],
            identity + [
                "Encounter.period.start", "Encounter.status", "Encounter.serviceType", "ChargeItem.priceOverride.value",
                ethnic,
            ],
        ]
    }()

    /// An Encounter as a row of the hospital file its class names: `IMP`, `ACUTE`, `NONAC` or `SS`
    /// an admitted spell; `EMER` an emergency department attendance; `AMB` or `VR` an outpatient
    /// appointment. The person is the Patient its subject names, as that Patient records them;
    /// diagnoses and the procedure are the contained resources its `diagnosis` entries name, by
    /// rank; its cost is the ChargeItems whose `context` is the encounter.
    static func encounter(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        try checkStatus(r, "status", refusing: ["entered-in-error", "planned"])
        let classCode = r.at("class", "code")
        // A cancelled admission or attendance never began; a cancelled appointment is read as missed.
        if r.equals(r.at("status"), "cancelled"), !(r.equals(classCode, "AMB") || r.equals(classCode, "VR")) {
            throw .notRead("status cancelled")
        }
        let variant: Int
        switch true {
        case ["IMP", "ACUTE", "NONAC", "SS"].contains(where: { r.equals(classCode, Array($0.utf8)) }): variant = 0
        case r.equals(classCode, "EMER"): variant = 1
        case r.equals(classCode, "AMB") || r.equals(classCode, "VR"): variant = 2
        default: throw .notRead("Encounter class \(r.string(classCode).map { String($0.prefix(20)) } ?? "missing")")
        }
        let subject = String(decoding: try subject(r, "subject", path: "Encounter.subject.reference"), as: UTF8.self)
        guard let person = context.identities[subject] else {
            throw Refusal(
                "Encounter.subject.reference", .unknownPatient, "Encounter.subject.reference is not a Patient of the export")
        }
        let entries = try diagnoses(r)
        rows.beginRow(encounterPaths[variant], variant: variant)
        rows.field(r.at("id"), r)
        for field in person.prefix(6) { rows.field(field) }
        rows.field(organisation(r.at("serviceProvider"), r, context))
        rows.date(r.at("period", "start"), r)
        switch variant {
        case 0:
            rows.date(r.at("period", "end"), r)
            let method = r.elements(r.at("hospitalization", "extension")).first {
                r.equals(r.at("url", from: $0), admissionMethodExtension)
            }
            let coding = r.elements(r.at("valueCodeableConcept", "coding", from: method)).first { _ in true }
            rows.field(r.at("code", from: coding), r)
            let coded = entries.filter { !$0.procedure }.map { code($0.resource, r, systems: icd10) }
            guard let primary = coded.first else {
                throw Refusal("Encounter.diagnosis", .missingValue, "an admitted spell needs a diagnosis (rank 1)")
            }
            guard let primary else {
                throw Refusal("Encounter.diagnosis.condition", .codeFormat, "the primary diagnosis is not coded in ICD-10")
            }
            rows.field(primary)
            rows.field(Array(coded.dropFirst().compactMap { $0 }.joined(separator: [UInt8(ascii: "|")])))
            rows.field(entries.filter(\.procedure).lazy.compactMap { code($0.resource, r, systems: opcs4) }.first ?? [])
        case 1:
            rows.field(entries.first { !$0.procedure }.flatMap { code($0.resource, r, systems: [snomed] + icd10) } ?? [])
        default:
            rows.field(r.equals(r.at("status"), "cancelled") ? "N" : "Y")
            rows.field([])
        }
        let id = r.string(r.at("id")) ?? ""
        if let cost = context.costs["Encounter/" + id] {
            rows.field(money(cost))
        } else {
            rows.field("0")
            rows.warnings.append(.costMissing)
        }
        rows.field(person.count > 6 ? person[6] : [])
    }

    /// A sum of charges as a plain decimal of at most four places (a sum of decimal amounts in
    /// binary floating point carries noise in its last digits, which the money rule would refuse).
    static func money(_ amount: Double) -> String {
        let units = Int64((min(amount, 1e12) * 10_000).rounded())
        let fraction = String(units % 10_000)
        let digits = String(repeating: "0", count: 4 - fraction.count) + fraction
        return "\(units / 10_000).\(digits)"
    }

    /// The contained resources an encounter's `diagnosis` entries name, ordered by `rank` (unranked
    /// ones after, in the order listed).
    static func diagnoses(_ r: Resource) throws(Refusal) -> [(resource: Int, procedure: Bool)] {
        // A spell codes at most a few dozen diagnoses and procedures: more is not a spell, and
        // bounds the work one line can ask for.
        let entries = Array(r.elements(r.at("diagnosis")))
        let contained = Array(r.elements(r.at("contained")))
        guard entries.count <= 64, contained.count <= 128 else {
            throw Refusal(
                "Encounter.diagnosis", .outOfRange,
                "an Encounter of more than 64 diagnoses or 128 contained resources is not read")
        }
        var byId: [String: Int] = [:]
        for resource in contained {
            if let id = r.string(r.at("id", from: resource)), byId[id] == nil { byId[id] = resource }
        }
        var found: [(rank: Int, order: Int, resource: Int, procedure: Bool)] = []
        for (order, entry) in entries.enumerated() {
            guard let reference = r.string(r.at("condition", "reference", from: entry)), reference.hasPrefix("#"),
                let resource = byId[String(reference.dropFirst())]
            else {
                throw Refusal(
                    "Encounter.diagnosis.condition", .missingValue,
                    "Encounter.diagnosis.condition must name a resource contained in the encounter ('#id')")
            }
            // A rank is a positive whole number; anything else counts as unranked.
            var rank = Int.max
            let token = r.at("rank", from: entry)
            if r.tape.kind(token) == .number, let raw = r.tape.raw(token, r.bytes), raw.count <= 6,
                let value = Int(String(decoding: raw, as: UTF8.self)), value >= 1
            {
                rank = value
            }
            found.append((rank, order, resource, r.equals(r.at("resourceType", from: resource), "Procedure")))
        }
        return found.sorted { ($0.rank, $0.order) < ($1.rank, $1.order) }.map { ($0.resource, $0.procedure) }
    }

    /// The code of a contained resource's first coding in one of `systems`.
    static func code(_ resource: Int, _ r: Resource, systems: [[UInt8]]) -> [UInt8]? {
        for coding in r.elements(r.at("code", "coding", from: resource)) {
            let system = r.at("system", from: coding)
            if systems.contains(where: { r.equals(system, $0) }), let code = r.at("code", from: coding) {
                var out: [UInt8] = []
                r.tape.appendString(code, r.bytes, to: &out)
                return out
            }
        }
        return nil
    }

    /// An organisation's ODS code: its identifier, or the Organization its reference names.
    static func organisation(_ reference: Int?, _ r: Resource, _ context: ExportContext) -> [UInt8] {
        let identifier = r.at("identifier", from: reference)
        if r.equals(r.at("system", from: identifier), odsSystem), let value = r.at("value", from: identifier) {
            var out: [UInt8] = []
            r.tape.appendString(value, r.bytes, to: &out)
            return out
        }
        if let id = r.referencedId(r.at("reference", from: reference), type: "Organization"),
            let ods = context.organisations[String(decoding: id, as: UTF8.self)]
        {
            return Array(ods.utf8)
        }
        return []
    }
}
