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

    var rowCount: Int { rowStarts.count }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        rowStarts.removeAll(keepingCapacity: true)
        paths.removeAll(keepingCapacity: true)
    }

    mutating func beginRow(_ columnPaths: [String]) {
        rowStarts.append(starts.count)
        paths.append(columnPaths)
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

    /// Runs `body` on row `k` as the contract's decoders see a CSV row.
    func withRow<T>(_ k: Int, line: Int, _ body: (Row) -> T) -> T {
        let first = rowStarts[k]
        let last = k + 1 < rowStarts.count ? rowStarts[k + 1] : starts.count
        var rowStartsCopy = Array(starts[first..<last])
        var rowEndsCopy = Array(ends[first..<last])
        var copy = bytes
        copy.append(0)  // never an empty allocation
        return copy.withUnsafeMutableBytes { raw in
            rowStartsCopy.withUnsafeMutableBufferPointer { s in
                rowEndsCopy.withUnsafeMutableBufferPointer { e in
                    body(Row(base: raw.baseAddress!, starts: s, ends: e, fieldCount: s.count, line: line))
                }
            }
        }
    }
}

/// What the export's other resources say about the ones being projected.
struct ExportContext: Sendable {
    /// Organization logical id to ODS code.
    var organisations: [String: String] = [:]
    /// Patient logical ids with an active National Data Opt-out.
    var optedOut: Set<String> = []
    /// `Type/id` of a prescription to the total of the charge items that point at it.
    var costs: [String: Double] = [:]
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
                let name = medication ? known.medication : known.clinical, let code = r.at("code", from: coding)
            {
                return (name, code)
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
    static let odsSystem = Array(Vocabulary.odsOrganisation.utf8)
    static let ethnicExtension = Array(Vocabulary.ethnicCategoryExtension.utf8)
    static let england = Array(Vocabulary.ethnicCategoryEngland.utf8)
    static let wales = Array(Vocabulary.ethnicCategoryWales.utf8)

    /// A Patient with a registered practice is a GP registration, one row of `patients.csv`.
    static func patient(_ r: Resource, _ context: ExportContext, into rows: inout RowBuilder) throws(Refusal) {
        let practices = r.at("generalPractitioner")
        // The current registration: the practice whose period has no end, else the first listed.
        guard
            let gp = r.preferred(practices, { r.at("identifier", "period", "end", from: $0) == nil })
        else {
            throw .notRead("Patient with no registered practice (generalPractitioner)")
        }
        rows.beginRow(patientPaths)
        rows.field(r.at("id"), r)
        let nhs = r.elements(r.at("identifier")).first { r.equals(r.at("system", from: $0), nhsNumberSystem) }
        rows.field(r.at("value", from: nhs), r)
        let name = r.preferred(r.at("name")) { r.equals(r.at("use", from: $0), "official") }
        var given: [UInt8] = []
        for part in r.elements(r.at("given", from: name)) {
            if !given.isEmpty { given.append(UInt8(ascii: " ")) }
            r.tape.appendString(part, r.bytes, to: &given)
        }
        rows.field(given)
        rows.field(r.at("family", from: name), r)
        rows.date(r.at("birthDate"), r)
        let gender = r.at("gender")
        if gender == nil {
            rows.field([])
        } else if let sex = Vocabulary.genders.first(where: { r.equals(gender, Array($0.fhir.utf8)) }) {
            rows.field(sex.contract)
        } else {
            throw Refusal("Patient.gender", .enumValue, "Patient.gender must be male, female, other or unknown")
        }
        let address = r.preferred(r.at("address")) {
            r.equals(r.at("use", from: $0), "home") && r.at("period", "end", from: $0) == nil
        }
        let postcode = r.at("postalCode", from: address)
        rows.field(postcode, r)
        var lsoa: [UInt8] = []
        if let postcode, let text = r.tape.raw(postcode, r.bytes), let normal = Postcode.normalise(text),
            let code = context.postcodes[normal]
        {
            lsoa = Array(code.utf8)
        }
        rows.field(lsoa)
        rows.field(ethnicCategory(r))
        let identifier = r.at("identifier", from: gp)
        if r.equals(r.at("system", from: identifier), odsSystem) {
            rows.field(r.at("value", from: identifier), r)
        } else if let id = r.referencedId(r.at("reference", from: gp), type: "Organization"),
            let ods = context.organisations[String(decoding: id, as: UTF8.self)]
        {
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
        rows.beginRow(clinicalPaths("Condition", onset != nil ? "onsetDateTime" : "recordedDate"))
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
        let when = r.at("effectiveDateTime") ?? r.at("effectivePeriod", "start") ?? r.at("effectiveInstant") ?? r.at("issued")
        var firstUnknown: String?
        for (concept, base) in [(r.at("code"), 0)] + r.elements(r.at("component")).map({ (r.at("code", from: $0), $0) }) {
            let path = base == 0 ? "Observation" : "Observation.component"
            do throws(Refusal) {
                let (system, code) = try Self.code(concept, r, medication: false, path: path + ".code")
                let quantity = base == 0 ? r.at("valueQuantity") : r.at("valueQuantity", from: base)
                // A panel's own code carries no value when its components do.
                rows.beginRow(clinicalPaths(path, "effectiveDateTime"))
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
        rows.beginRow(clinicalPaths("Procedure", "performedDateTime"))
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
        rows.beginRow(prescriptionPaths(type, "\(date)"))
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
        rows.field(context.costs[type + "/" + id].map { String($0) } ?? "")
    }
}
