/// FHIR R4 resources written from the input contract's fields, one JSON line each, in the
/// shapes `BulkExportReader` reads (docs/fhir.md). Empty fields are left out, as FHIR requires.
///
/// Values are written as given: a malformed date or code in the source stays malformed here, so
/// the reader quarantines it just as it would the contract row.
public enum Resources {
    /// A GP registration (one row of `patients.csv`): the practice and period are the PDS shape,
    /// an identifier with a period under `generalPractitioner`.
    public static func patient(_ field: (String) -> String) -> String {
        var o = JSONObject("Patient", id: field("patient_id"))
        person(&o, field)
        o.string("deceasedDateTime", field("date_of_death"))
        var period: [String] = []
        if !field("registered_from").isEmpty { period.append("\"start\":" + JSONObject.quoted(field("registered_from"))) }
        if !field("registered_to").isEmpty { period.append("\"end\":" + JSONObject.quoted(field("registered_to"))) }
        o.raw(
            "generalPractitioner",
            "[{\"type\":\"Organization\",\"identifier\":{\"system\":\(JSONObject.quoted(Vocabulary.odsOrganisation)),\"value\":"
                + JSONObject.quoted(field("practice_code"))
                + (period.isEmpty ? "" : ",\"period\":{" + period.joined(separator: ",") + "}") + "}}]")
        return o.closed
    }

    /// The contract's identity columns on a Patient: NHS number, official name, gender, birth date,
    /// home postcode and the UK Core ethnic category, each left out when empty.
    static func person(_ o: inout JSONObject, _ field: (String) -> String) {
        if !field("ethnic_category").isEmpty {
            o.raw(
                "extension",
                "[{\"url\":\(JSONObject.quoted(Vocabulary.ethnicCategoryExtension)),\"valueCodeableConcept\":"
                    + JSONObject.concept(Vocabulary.ethnicCategoryEngland, field("ethnic_category")) + "}]")
        }
        if !field("nhs_number").isEmpty {
            o.raw("identifier", "[" + JSONObject.identifier(Vocabulary.nhsNumber, field("nhs_number")) + "]")
        }
        var name: [String] = []
        if !field("family_name").isEmpty { name.append("\"family\":" + JSONObject.quoted(field("family_name"))) }
        if !field("given_name").isEmpty { name.append("\"given\":[" + JSONObject.quoted(field("given_name")) + "]") }
        if !name.isEmpty { o.raw("name", "[{\"use\":\"official\"," + name.joined(separator: ",") + "}]") }
        let sex = field("sex")
        if !sex.isEmpty { o.string("gender", Vocabulary.genders.first { $0.contract == sex }?.fhir ?? sex) }
        o.string("birthDate", field("date_of_birth"))
        if !field("postcode").isEmpty {
            o.raw("address", "[{\"use\":\"home\",\"postalCode\":" + JSONObject.quoted(field("postcode")) + "}]")
        }
    }

    /// A National Data Opt-out registered by the patient, as a `Consent` that denies under the
    /// opt-out policy.
    public static func optOut(patient id: String) -> String {
        var o = JSONObject("Consent", id: "ndop-" + id)
        o.string("status", "active")
        o.raw("scope", JSONObject.concept(Vocabulary.consentScope, "patient-privacy"))
        o.raw("category", "[" + JSONObject.concept("http://loinc.org", "59284-0") + "]")
        o.raw("patient", JSONObject.reference("Patient", id))
        o.raw("policy", "[{\"uri\":\(JSONObject.quoted(Vocabulary.nationalDataOptOut))}]")
        o.raw("provision", "{\"type\":\"deny\"}")
        return o.closed
    }

    /// A coded entry of `gp_events.csv`: an `Observation` when it carries a value, else a `Condition`.
    public static func clinicalEntry(id: String, _ field: (String) -> String) -> (type: String, line: String) {
        let system = Vocabulary.uri(ofSystem: field("code_system")) ?? field("code_system")
        let value = field("value")
        if value.isEmpty {
            var o = JSONObject("Condition", id: id)
            o.raw("clinicalStatus", JSONObject.concept(Vocabulary.conditionClinical, "active"))
            o.raw("verificationStatus", JSONObject.concept(Vocabulary.conditionVerification, "confirmed"))
            o.raw("category", "[" + JSONObject.concept(Vocabulary.conditionCategory, "problem-list-item") + "]")
            o.raw("code", JSONObject.concept(system, field("code")))
            o.raw("subject", JSONObject.reference("Patient", field("patient_id")))
            o.string("onsetDateTime", field("event_date"))
            return ("Condition", o.closed)
        }
        var o = JSONObject("Observation", id: id)
        o.string("status", "final")
        o.raw("code", JSONObject.concept(system, field("code")))
        o.raw("subject", JSONObject.reference("Patient", field("patient_id")))
        o.string("effectiveDateTime", field("event_date"))
        var quantity = ["\"value\":" + JSONObject.number(value)]
        let unit = field("unit")
        if !unit.isEmpty {
            quantity.append("\"unit\":" + JSONObject.quoted(unit))
            quantity.append("\"system\":" + JSONObject.quoted(Vocabulary.ucum))
            quantity.append("\"code\":" + JSONObject.quoted(unit))
        }
        o.raw("valueQuantity", "{" + quantity.joined(separator: ",") + "}")
        return ("Observation", o.closed)
    }

    /// A row of `prescriptions.csv` as a `MedicationRequest`, with its cost (if any) as a
    /// `ChargeItem` that points at it through `supportingInformation`.
    public static func prescription(id: String, _ field: (String) -> String) -> (request: String, charge: String?) {
        let system = Vocabulary.uri(ofSystem: field("code_system")) ?? field("code_system")
        var coding = "{\"system\":\(JSONObject.quoted(system)),\"code\":\(JSONObject.quoted(field("code")))"
        if !field("description").isEmpty { coding += ",\"display\":" + JSONObject.quoted(field("description")) }
        coding += "}"
        var o = JSONObject("MedicationRequest", id: id)
        o.string("status", "completed")
        o.string("intent", "order")
        o.raw("medicationCodeableConcept", "{\"coding\":[\(coding)]}")
        o.raw("subject", JSONObject.reference("Patient", field("patient_id")))
        o.string("authoredOn", field("issue_date"))
        if !field("quantity").isEmpty {
            o.raw("dispenseRequest", "{\"quantity\":{\"value\":" + JSONObject.number(field("quantity")) + "}}")
        }
        guard !field("cost").isEmpty else { return (o.closed, nil) }
        var c = JSONObject("ChargeItem", id: "cost-" + id)
        c.string("status", "billed")
        c.raw("code", "{\"coding\":[\(coding)]}")
        c.raw("subject", JSONObject.reference("Patient", field("patient_id")))
        c.raw("priceOverride", "{\"value\":" + JSONObject.number(field("cost")) + ",\"currency\":\"GBP\"}")
        c.raw("supportingInformation", "[" + JSONObject.reference("MedicationRequest", id) + "]")
        return (o.closed, c.closed)
    }
}

extension Resources {
    /// A row of a hospital file (`inpatient_spells.csv`, `ae_attendances.csv`,
    /// `outpatient_appointments.csv`) as an `Encounter`, the person as the hospital recorded them
    /// as a `Patient` of their own (with no registered practice), and the cost as a `ChargeItem`
    /// whose `context` is the encounter. Diagnoses and the procedure are resources contained in the
    /// encounter, named by its `diagnosis` entries in rank order.
    public static func encounter(file: String, _ field: (String) -> String) -> [(type: String, line: String)] {
        let id = field("record_id")
        let person = "hospital-" + id
        var p = JSONObject("Patient", id: person)
        Resources.person(&p, field)

        var e = JSONObject("Encounter", id: id)
        var contained: [String] = []
        var entries: [String] = []
        func diagnosis(_ system: String, _ code: String, procedure: Bool = false) {
            let local = (procedure ? "p" : "d") + String(contained.count + 1)
            var c = JSONObject(procedure ? "Procedure" : "Condition", id: local)
            if procedure { c.string("status", "completed") }
            c.raw("code", JSONObject.concept(system, code))
            c.raw("subject", JSONObject.reference("Patient", person))
            contained.append(c.closed)
            entries.append("{\"condition\":{\"reference\":\"#\(local)\"},\"rank\":\(entries.count + 1)}")
        }
        let icd10 = Vocabulary.uri(ofSystem: "ICD10")!
        let kind: String
        var start = "", end = "", status = "finished"
        switch file {
        case "inpatient_spells.csv":
            kind = "IMP"
            start = field("admission_date")
            end = field("discharge_date")
            if end.isEmpty { status = "in-progress" }
            if !field("primary_diagnosis").isEmpty { diagnosis(icd10, field("primary_diagnosis")) }
            for code in field("secondary_diagnoses").split(separator: "|") { diagnosis(icd10, String(code)) }
            if !field("primary_procedure").isEmpty { diagnosis(Vocabulary.opcs4[0], field("primary_procedure"), procedure: true) }
        case "ae_attendances.csv":
            kind = "EMER"
            start = field("arrival_date")
            let code = field("diagnosis")
            if !code.isEmpty {
                diagnosis(code.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } ? Vocabulary.uri(ofSystem: "SNOMED")! : icd10, code)
            }
        default:
            kind = "AMB"
            start = field("appointment_date")
            // R4 has no status for a missed appointment: a did-not-attend is written cancelled.
            if field("attended") == "N" { status = "cancelled" }
        }
        if !contained.isEmpty { e.raw("contained", "[" + contained.joined(separator: ",") + "]") }
        e.string("status", status)
        e.raw("class", "{\"system\":\(JSONObject.quoted(Vocabulary.encounterClass)),\"code\":\"\(kind)\"}")
        e.raw("subject", JSONObject.reference("Patient", person))
        var period = ["\"start\":" + JSONObject.quoted(start)]
        if !end.isEmpty { period.append("\"end\":" + JSONObject.quoted(end)) }
        e.raw("period", "{" + period.joined(separator: ",") + "}")
        if !entries.isEmpty { e.raw("diagnosis", "[" + entries.joined(separator: ",") + "]") }
        if kind == "IMP" {
            e.raw(
                "hospitalization",
                "{\"extension\":[{\"url\":\(JSONObject.quoted(Vocabulary.admissionMethodExtension)),\"valueCodeableConcept\":"
                    + JSONObject.concept(Vocabulary.admissionMethodEngland, field("admission_method")) + "}]}")
        }
        e.raw(
            "serviceProvider",
            "{\"identifier\":" + JSONObject.identifier(Vocabulary.odsOrganisation, field("provider_code")) + "}")
        var out = [("Patient", p.closed), ("Encounter", e.closed)]
        if !field("cost").isEmpty {
            var c = JSONObject("ChargeItem", id: "cost-" + id)
            c.string("status", "billed")
            c.raw("code", "{\"text\":\"hospital activity\"}")
            c.raw("subject", JSONObject.reference("Patient", person))
            c.raw("context", JSONObject.reference("Encounter", id))
            c.raw("priceOverride", "{\"value\":" + JSONObject.number(field("cost")) + ",\"currency\":\"GBP\"}")
            out.append(("ChargeItem", c.closed))
        }
        return out
    }
}

extension Resources {
    /// One person in a `Group`: by NHS number for direct care, or by pseudonym under planning.
    public enum Member: Sendable {
        case nhsNumber(String)
        /// A person without a usable NHS number, named for the clinician who looks them up.
        case named(String)
        case pseudonym(String)
    }

    /// A cohort or worklist as an actual `Group` of persons (FHIR R4), its members in order, with
    /// the practice that manages it for a worklist. A pseudonym is an identifier of this
    /// deployment's own (its key makes it), so it carries a type and no system.
    public static func group(id: String, name: String, practice: String? = nil, members: [Member]) -> String {
        var o = JSONObject("Group", id: safeId(id))
        o.string("type", "person")
        o.raw("actual", "true")
        o.string("name", name)
        o.raw("quantity", String(members.count))
        if let practice {
            o.raw("managingEntity", "{\"identifier\":" + JSONObject.identifier(Vocabulary.odsOrganisation, practice) + "}")
        }
        let entries = members.map { member -> String in
            switch member {
            case .nhsNumber(let n): "{\"entity\":{\"identifier\":" + JSONObject.identifier(Vocabulary.nhsNumber, n) + "}}"
            case .named(let text): "{\"entity\":{\"display\":" + JSONObject.quoted(text) + "}}"
            case .pseudonym(let p):
                "{\"entity\":{\"identifier\":{\"type\":{\"text\":\"pseudonym\"},\"value\":" + JSONObject.quoted(p) + "}}}"
            }
        }
        if !entries.isEmpty { o.raw("member", "[" + entries.joined(separator: ",") + "]") }
        return o.closed
    }

    /// A FHIR id from any text: letters, digits, `-` and `.`, at most 64 characters.
    static func safeId(_ text: String) -> String {
        let kept = String(
            text.unicodeScalars.map { scalar -> Character in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "-")
                    ? Character(scalar) : "-"
            }
            .prefix(64))
        return kept.isEmpty ? "group" : kept
    }
}

/// One JSON object written key by key, in order.
struct JSONObject {
    private(set) var text: String

    init(_ type: String, id: String) {
        text = "{\"resourceType\":\(Self.quoted(type)),\"id\":\(Self.quoted(id))"
    }

    mutating func string(_ key: String, _ value: String) {
        if !value.isEmpty { text += ",\(Self.quoted(key)):\(Self.quoted(value))" }
    }

    mutating func raw(_ key: String, _ json: String) { text += ",\(Self.quoted(key)):\(json)" }

    var closed: String { text + "}" }

    static func reference(_ type: String, _ id: String) -> String { "{\"reference\":" + quoted(type + "/" + id) + "}" }

    static func identifier(_ system: String, _ value: String) -> String {
        "{\"system\":\(quoted(system)),\"value\":\(quoted(value))}"
    }

    static func concept(_ system: String, _ code: String) -> String {
        "{\"coding\":[{\"system\":\(quoted(system)),\"code\":\(quoted(code))}]}"
    }

    /// A decimal written as a JSON number when it is one (`-?(0|[1-9][0-9]*)(.[0-9]+)?`), else as a
    /// string, which the reader refuses.
    static func number(_ text: String) -> String {
        var digits = Array(text.utf8)
        if digits.first == UInt8(ascii: "-") { digits.removeFirst() }
        let point = digits.firstIndex(of: UInt8(ascii: "."))
        let whole = digits[..<(point ?? digits.count)]
        let fraction = point.map { digits[($0 + 1)...] }
        let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        let valid =
            !whole.isEmpty && whole.allSatisfy(isDigit) && (whole.count == 1 || whole.first != UInt8(ascii: "0"))
            && (fraction.map { !$0.isEmpty && $0.allSatisfy(isDigit) } ?? true)
        return valid ? text : quoted(text)
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
