import Ingest
import PHMCore

/// One check of a row, in the order the in-process decoder makes it: a rule whose failure
/// quarantines the row, or a warning counted for a row that reached it.
struct Check {
    enum Kind {
        case rule(Rule)
        case warning(Warning)
    }

    let kind: Kind
    /// True when the row fails the rule, or earns the warning.
    let condition: String

    static func rule(_ rule: Rule, _ condition: String) -> Check { Check(kind: .rule(rule), condition: condition) }
    static func warning(_ warning: Warning, _ condition: String) -> Check {
        Check(kind: .warning(warning), condition: condition)
    }
}

/// A contract file's rows as Spark checks them: its columns as `c_NAME` (and area indicators as
/// `x_K`), the keys of earlier files it refers to, and its checks in the decoder's order
/// (`Decoders` in Ingest; a test holds the two to the same counts on the same files).
struct FileChecks {
    let spec: FileSpec
    /// (alias, earlier file, its key column, this file's column): a LEFT JOIN exposing `ALIAS_found`.
    var references: [(alias: String, file: FileSpec, key: String, column: String)] = []
    var checks: [Check]

    static func column(_ name: String) -> String { "c_" + name }

    static func forFile(_ spec: FileSpec, extras: Int = 0) -> FileChecks {
        typealias C = SQLCheck
        let c = column
        // The typed readers, each a list of checks for one column.
        func required(_ x: String) -> [Check] { [.rule(.missingValue, C.empty(c(x)))] }
        func text(_ x: String) -> [Check] { [.rule(.textFormat, C.badText(c(x)))] }
        func optionalDate(_ x: String) -> [Check] {
            [
                .rule(.dateFormat, "(\(c(x)) <> '' AND \(C.badDate(c(x))))"),
                .rule(.dateRange, "(\(c(x)) <> '' AND \(C.outOfRange(c(x))))"),
            ]
        }
        func date(_ x: String) -> [Check] { required(x) + optionalDate(x) }
        func optionalDecimal(_ x: String) -> [Check] { [.rule(.numberFormat, "(\(x) <> '' AND \(C.badDecimal(x)))")] }
        func optionalMoney(_ x: String) -> [Check] {
            optionalDecimal(c(x)) + [.rule(.negativeAmount, "(\(c(x)) <> '' AND \(C.negative(c(x))))")]
        }
        func money(_ x: String) -> [Check] { required(x) + optionalMoney(x) }
        func orgCode(_ x: String) -> [Check] { required(x) + [.rule(.codeFormat, C.badOrgCode(c(x)))] }
        func identifier(_ x: String) -> [Check] { required(x) + [.rule(.textFormat, C.badIdentifier(c(x)))] }
        func flag(_ x: String) -> [Check] { required(x) + [.rule(.enumValue, C.notIn(c(x), ["Y", "N"]))] }
        // Valid ISO dates compare as text; the earlier date is required and already checked.
        func before(_ later: String, _ earlier: String) -> Check {
            .rule(.dateOrder, "(\(c(later)) <> '' AND \(c(later)) < \(c(earlier)))")
        }
        func nhsNumber(_ x: String) -> [Check] {
            [.warning(.nhsNumberMalformed, C.nhsMalformed(c(x))), .warning(.nhsNumberCheckDigit, C.nhsBadCheck(c(x)))]
        }
        func postcode(_ x: String) -> [Check] { [.warning(.postcodeFormat, "(\(c(x)) <> '' AND \(C.badPostcode(c(x))))")] }
        func patientRef() -> [Check] {
            required("patient_id") + [.rule(.unknownPatient, "(NOT patient_found)")]
        }
        func codeSystem(_ allowed: [CodeSystem]) -> [Check] {
            required("code_system") + [.rule(.enumValue, C.notIn(c("code_system"), allowed.map(\.name)))]
        }
        func code(_ x: String, systems allowed: [CodeSystem]) -> Check {
            let cases = allowed.map { "WHEN '\($0.name)' THEN \(C.badCode(c(x), $0))" }.joined(separator: " ")
            return .rule(.codeFormat, "(CASE \(c("code_system")) \(cases) END)")
        }
        // What every secondary and community care row adds once it is read: its identity fields'
        // warnings, then the ethnic category's.
        func careIdentity() -> [Check] {
            nhsNumber("nhs_number") + [
                .warning(.dateOfBirthFormat, "(\(c("date_of_birth")) <> '' AND \(C.badDate(c("date_of_birth"))))"),
                .warning(.sexValue, "(\(c("sex")) <> '' AND \(C.notIn(c("sex"), sexCodes)))"),
            ] + postcode("postcode") + [
                .warning(
                    .ethnicCategoryValue,
                    "(\(c("ethnic_category")) <> '' AND \(C.notIn(c("ethnic_category"), ethnicCodes)))")
            ]
        }
        let ethnicCodes = EthnicCategory.codes.sorted().map { String(UnicodeScalar($0)) }
        let sexCodes = Sex.allCases.map(\.code)

        switch spec.name {
        case InputContract.practices.name:
            let codes = ["practice_code", "pcn_code", "locality_code", "organisation_code"]
            let names = ["practice_name", "pcn_name", "locality_name", "organisation_name"]
            return FileChecks(spec: spec, checks: codes.flatMap(orgCode) + names.flatMap { required($0) + text($0) })
        case InputContract.areas.name:
            return FileChecks(
                spec: spec,
                checks: required("lsoa_code") + [
                    .rule(.codeFormat, "(NOT (\(c("lsoa_code")) RLIKE :lsoa))"),
                    .rule(.numberFormat, "(\(c("imd_decile")) <> '' AND \(C.badDecimal(c("imd_decile"))))"),
                    .rule(.missingValue, C.empty(c("imd_decile"))),
                    .rule(
                        .outOfRange,
                        "(NOT (try_cast(\(c("imd_decile")) AS DOUBLE) = floor(try_cast(\(c("imd_decile")) AS DOUBLE)) AND try_cast(\(c("imd_decile")) AS DOUBLE) BETWEEN 1 AND 10))"
                    ),
                ] + optionalDecimal(c("imd_score")) + (0..<extras).flatMap { optionalDecimal("x_\($0)") })
        case InputContract.patients.name:
            var checks = FileChecks(
                spec: spec,
                references: [
                    ("area", InputContract.areas, "lsoa_code", "lsoa_code"),
                    ("practice", InputContract.practices, "practice_code", "practice_code"),
                ],
                checks: identifier("patient_id") + nhsNumber("nhs_number") + text("given_name") + text("family_name")
                    + date("date_of_birth"))
            checks.checks += required("sex") + [.rule(.enumValue, C.notIn(c("sex"), sexCodes))]
            checks.checks += postcode("postcode")
            checks.checks += [
                .rule(.unknownArea, "(\(c("lsoa_code")) <> '' AND NOT area_found)"),
                .rule(.enumValue, "(\(c("ethnic_category")) <> '' AND \(C.notIn(c("ethnic_category"), ethnicCodes)))"),
            ]
            checks.checks += required("practice_code") + [.rule(.unknownPractice, "(NOT practice_found)")]
            checks.checks += date("registered_from") + optionalDate("registered_to")
            checks.checks.append(before("registered_to", "registered_from"))
            checks.checks += optionalDate("date_of_death")
            checks.checks.append(before("date_of_death", "date_of_birth"))
            checks.checks.append(before("registered_from", "date_of_birth"))
            checks.checks += flag("national_opt_out")
            return checks
        case InputContract.gpEvents.name:
            let systems: [CodeSystem] = [.snomed, .read2, .ctv3, .icd10]
            return FileChecks(
                spec: spec, references: [("patient", InputContract.patients, "patient_id", "patient_id")],
                checks: patientRef() + date("event_date") + codeSystem(systems) + [code("code", systems: systems)]
                    + optionalDecimal(c("value")) + text("unit"))
        case InputContract.prescriptions.name:
            let systems: [CodeSystem] = [.dmd, .bnf]
            return FileChecks(
                spec: spec, references: [("patient", InputContract.patients, "patient_id", "patient_id")],
                checks: patientRef() + date("issue_date") + codeSystem(systems) + [code("code", systems: systems)]
                    + text("description") + optionalMoney("quantity") + optionalMoney("cost"))
        case InputContract.inpatientSpells.name:
            var checks = identifier("record_id") + orgCode("provider_code") + date("admission_date")
            checks += optionalDate("discharge_date") + [before("discharge_date", "admission_date")]
            checks += required("admission_method") + [.rule(.enumValue, "(NOT (\(c("admission_method")) RLIKE :admission))")]
            checks += required("primary_diagnosis") + [.rule(.codeFormat, C.badCode(c("primary_diagnosis"), .icd10))]
            checks.append(
                .rule(
                    .codeFormat,
                    "(\(c("secondary_diagnoses")) <> '' AND exists(split(\(c("secondary_diagnoses")), '[|]', -1), part -> \(C.badCode("part", .icd10))))"
                ))
            checks.append(
                .rule(.codeFormat, "(\(c("primary_procedure")) <> '' AND \(C.badCode(c("primary_procedure"), .opcs4)))"))
            return FileChecks(spec: spec, checks: checks + money("cost") + careIdentity())
        case InputContract.aeAttendances.name:
            let diagnosis = c("diagnosis")
            let checks =
                identifier("record_id") + orgCode("provider_code") + date("arrival_date") + [
                    .rule(
                        .codeFormat,
                        "(\(diagnosis) <> '' AND IF(\(diagnosis) RLIKE :digits, \(C.badCode(diagnosis, .snomed)), \(C.badCode(diagnosis, .icd10))))"
                    )
                ] + money("cost")
            return FileChecks(spec: spec, checks: checks + careIdentity())
        case InputContract.outpatientAppointments.name:
            let tfc = c("treatment_function_code")
            let checks =
                identifier("record_id") + orgCode("provider_code") + date("appointment_date") + flag("attended")
                + [.rule(.codeFormat, "(\(tfc) <> '' AND NOT (\(tfc) RLIKE :threeDigits))")] + money("cost")
            return FileChecks(spec: spec, checks: checks + careIdentity())
        case InputContract.careContacts.name:
            // The `setting` values `CareSetting.careContact` reads: the contact settings' names.
            let settings = CareSetting.careContactSettings.map(\.name)
            var checks = identifier("record_id") + required("setting") + [.rule(.enumValue, C.notIn(c("setting"), settings))]
            checks += text("service") + date("start_date") + optionalDate("end_date") + [before("end_date", "start_date")]
            return FileChecks(spec: spec, checks: checks + money("cost") + careIdentity())
        default:
            preconditionFailure("no Spark checks for \(spec.name)")
        }
    }

    /// The index of the first check a row fails (`passed` when none), over the checks that are rules.
    var failedAt: String {
        let branches = checks.enumerated().compactMap { k, check -> String? in
            guard case .rule = check.kind else { return nil }
            return "WHEN \(check.condition) THEN \(k)"
        }
        return "CASE \(branches.joined(separator: " ")) ELSE \(FileChecks.passed) END"
    }

    static let passed = 100_000
}
