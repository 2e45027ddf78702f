/// The identifiers, code systems and extensions of FHIR R4 and the UK Core profiles that the
/// platform reads and writes. Sources: HL7 FHIR R4 (4.0.1); HL7 UK, UK Core naming systems and
/// code systems; NHS England, Personal Demographics Service FHIR API (GP registration on
/// `Patient.generalPractitioner`).
public enum Vocabulary {
    public static let nhsNumber = "https://fhir.nhs.uk/Id/nhs-number"
    public static let odsOrganisation = "https://fhir.nhs.uk/Id/ods-organization-code"
    public static let ethnicCategoryExtension = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
    public static let ethnicCategoryEngland = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
    public static let ethnicCategoryWales = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryWales"
    /// The policy a `Consent` names to record a National Data Opt-out.
    public static let nationalDataOptOut = "https://digital.nhs.uk/services/national-data-opt-out"
    public static let consentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
    public static let conditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    public static let conditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    public static let conditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
    public static let ucum = "http://unitsofmeasure.org"
    public static let admissionMethodExtension = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
    public static let admissionMethodEngland = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland"
    public static let encounterClass = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    /// OPCS-4 as HL7 UK names it, written with `http` and read with either scheme.
    public static let opcs4 = ["http://fhir.hl7.org.uk/CodeSystem/OPCS-4", "https://fhir.hl7.org.uk/CodeSystem/OPCS-4"]

    /// Clinical code systems by URI, with the contract's name for each. SNOMED CT codes on a
    /// medication are dm+d codes (dm+d identifiers are SNOMED CT UK drug extension concepts).
    public static let codeSystems: [(uri: String, clinical: String?, medication: String?)] = [
        ("http://snomed.info/sct", "SNOMED", "DMD"),
        ("http://read.info/readv2", "READ2", nil),
        ("http://read.info/ctv3", "CTV3", nil),
        ("http://hl7.org/fhir/sid/icd-10", "ICD10", nil),
        ("http://hl7.org/fhir/sid/icd-10-uk", "ICD10", nil),
        ("https://dmd.nhs.uk", nil, "DMD"),
        ("https://fhir.hl7.org.uk/Id/bnf-drug-codes", nil, "BNF"),
    ]

    /// The URI written for a contract code system name.
    public static func uri(ofSystem name: String) -> String? {
        switch name {
        case "SNOMED": "http://snomed.info/sct"
        case "READ2": "http://read.info/readv2"
        case "CTV3": "http://read.info/ctv3"
        case "ICD10": "http://hl7.org/fhir/sid/icd-10"
        case "DMD": "https://dmd.nhs.uk"
        case "BNF": "https://fhir.hl7.org.uk/Id/bnf-drug-codes"
        default: nil
        }
    }

    /// FHIR administrative gender and the contract's sex codes: `other` is the NHS "indeterminate"
    /// (UK Core's mapping of the NHS Data Dictionary person stated gender code 9).
    public static let genders: [(fhir: String, contract: String)] = [
        ("male", "M"), ("female", "F"), ("other", "I"), ("unknown", "U"),
    ]

    /// The England ethnic category code read from a Wales one. Wales codes share England's
    /// letters where they share a meaning; Wales `A` (any White background) reads as `A`, `B`
    /// (Gypsy or Irish Traveller) as `C` (any other White background) and `T` (Arab) as `S` (any
    /// other ethnic group), so each keeps its census group.
    public static func englandCategory(fromWales code: String) -> String? {
        switch code {
        case "B": "C"
        case "T": "S"
        case "A", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z": code
        default: nil
        }
    }
}
