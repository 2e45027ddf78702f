import Conditions
import Foundation
import PHMCore

/// An evaluation as a user writes it in YAML: who was exposed and when, and how to compare them.
///
/// ```yaml
/// name: Proactive care for people with frequent admissions
/// intervention:
///   worklist: {cohort: frequent-admissions, status: enrolled, from: 2024-01-01, to: 2024-06-30}
///   # or   list: enrolled.csv          (columns pseudonym or nhs_number, and start_date)
///   # or   place: {practices: [P82001, P82002], start: 2024-04-01}   (or pcn: / locality:)
/// eligibility: {minimum_age: 18}
/// matching: {exact: [recent_emergency_admissions, sex], controls_per_person: 2, caliper: 0.2}
/// windows: {pre_months: 12, post_months: 12}
/// outcomes: [emergency_admissions, ae_attendances, emergency_bed_days, cost]
/// negative_controls: [elective_admissions]
/// ```
public struct EvaluationDefinition: Sendable, Equatable {
    public var name: String
    public var intervention: Intervention
    public var options: EvaluationOptions

    /// Who was exposed, and when.
    public enum Intervention: Sendable, Equatable {
        /// Everyone whose status on a cohort's worklist was set to `status` between `from` and
        /// `to` (inclusive); each person's start is the first such day.
        case worklist(cohort: String, status: String, from: Day, to: Day)
        /// A CSV file of people and start dates, relative to the definition's folder.
        case list(file: String)
        /// Everyone registered with the named practices (or a PCN's, or a locality's) on one day.
        case place(level: Level, codes: [String], start: Day)
    }

    public static func parse(_ text: String) throws -> EvaluationDefinition {
        let raw = try YAMLInput.decode(Raw.self, from: text)
        func fail(_ message: String) -> EvaluationError { .invalidOptions(message) }
        func day(_ text: String, _ field: String) throws -> Day {
            guard let d = Day(iso: text) else { throw fail("\(field) '\(text.prefix(40))' is not a date (YYYY-MM-DD)") }
            return d
        }
        let name = raw.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200, !name.contains(where: \.isNewline) else {
            throw fail("name must be one line of 1 to 200 characters")
        }
        let given = [raw.intervention.worklist != nil, raw.intervention.list != nil, raw.intervention.place != nil]
        guard given.filter({ $0 }).count == 1 else {
            throw fail("intervention must give exactly one of worklist, list or place")
        }
        let intervention: Intervention
        if let w = raw.intervention.worklist {
            let from = try day(w.from, "worklist from"), to = try day(w.to, "worklist to")
            guard from <= to else { throw fail("worklist from must not be after to") }
            intervention = .worklist(cohort: w.cohort, status: w.status, from: from, to: to)
        } else if let file = raw.intervention.list {
            intervention = .list(file: file)
        } else {
            let p = raw.intervention.place!
            let levels = [(Level.practice, p.practices), (.pcn, p.pcn.map { [$0] }), (.locality, p.locality.map { [$0] })]
                .filter { $0.1 != nil }
            guard levels.count == 1, let (level, codes) = levels.first, let codes, !codes.isEmpty else {
                throw fail("place must give exactly one of practices, pcn or locality")
            }
            intervention = .place(level: level, codes: codes, start: try day(p.start, "place start"))
        }
        var o = EvaluationOptions()
        if let e = raw.eligibility {
            o.minimumAge = e.minimumAge ?? o.minimumAge
            o.maximumAge = e.maximumAge ?? o.maximumAge
        }
        if let m = raw.matching {
            if let exact = m.exact {
                o.exact = try exact.map { id in
                    guard let s = EvaluationOptions.Stratum(rawValue: id) else {
                        throw fail(
                            "matching exact '\(id.prefix(40))' is not one of \(EvaluationOptions.Stratum.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    return s
                }
            }
            o.controlsPerPerson = m.controlsPerPerson ?? o.controlsPerPerson
            o.caliper = m.caliper ?? o.caliper
            o.balanceThreshold = m.balanceThreshold ?? o.balanceThreshold
            o.fitSample = m.fitSample ?? o.fitSample
        }
        if let w = raw.windows {
            o.preMonths = w.preMonths ?? o.preMonths
            o.postMonths = w.postMonths ?? o.postMonths
        }
        func measures(_ ids: [String], _ field: String) throws -> [Measure] {
            var out: [Measure] = []
            for id in ids {
                guard let m = Measure(rawValue: id) else {
                    throw fail(
                        "\(field) '\(id.prefix(40))' is not one of \(Measure.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                if !out.contains(m) { out.append(m) }
            }
            return out
        }
        if let ids = raw.outcomes { o.outcomes = try measures(ids, "outcome") }
        if let ids = raw.negativeControls { o.negativeControls = try measures(ids, "negative control") }
        if let overlap = o.negativeControls.first(where: o.outcomes.contains) {
            throw fail("\(overlap.rawValue) cannot be both an outcome and a negative control")
        }
        o.bootstrapSamples = raw.bootstrap ?? o.bootstrapSamples
        o.seed = raw.seed ?? o.seed
        if let problem = o.problem { throw fail(problem) }
        return EvaluationDefinition(name: name, intervention: intervention, options: o)
    }

    /// The file as written, every mapping refusing keys it does not know.
    struct Raw: Decodable {
        struct Worklist: Decodable {
            var cohort: String, status: String, from: String, to: String
            enum CodingKeys: String, CodingKey, CaseIterable { case cohort, status, from, to }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                cohort = try c.decode(String.self, forKey: .cohort)
                status = try c.decode(String.self, forKey: .status)
                from = try c.decode(String.self, forKey: .from)
                to = try c.decode(String.self, forKey: .to)
            }
        }
        struct Place: Decodable {
            var practices: [String]?, pcn: String?, locality: String?, start: String
            enum CodingKeys: String, CodingKey, CaseIterable { case practices, pcn, locality, start }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                practices = try c.decodeIfPresent([String].self, forKey: .practices)
                pcn = try c.decodeIfPresent(String.self, forKey: .pcn)
                locality = try c.decodeIfPresent(String.self, forKey: .locality)
                start = try c.decode(String.self, forKey: .start)
            }
        }
        struct Intervention: Decodable {
            var worklist: Worklist?, list: String?, place: Place?
            enum CodingKeys: String, CodingKey, CaseIterable { case worklist, list, place }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                worklist = try c.decodeIfPresent(Worklist.self, forKey: .worklist)
                list = try c.decodeIfPresent(String.self, forKey: .list)
                place = try c.decodeIfPresent(Place.self, forKey: .place)
            }
        }
        struct Eligibility: Decodable {
            var minimumAge: Int?, maximumAge: Int?
            enum CodingKeys: String, CodingKey, CaseIterable { case minimumAge = "minimum_age", maximumAge = "maximum_age" }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                minimumAge = try c.decodeIfPresent(Int.self, forKey: .minimumAge)
                maximumAge = try c.decodeIfPresent(Int.self, forKey: .maximumAge)
            }
        }
        struct Matching: Decodable {
            var exact: [String]?, controlsPerPerson: Int?, caliper: Double?, balanceThreshold: Double?, fitSample: Int?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case exact, controlsPerPerson = "controls_per_person", caliper, balanceThreshold = "balance_threshold"
                case fitSample = "fit_sample"
            }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                exact = try c.decodeIfPresent([String].self, forKey: .exact)
                controlsPerPerson = try c.decodeIfPresent(Int.self, forKey: .controlsPerPerson)
                caliper = try c.decodeIfPresent(Double.self, forKey: .caliper)
                balanceThreshold = try c.decodeIfPresent(Double.self, forKey: .balanceThreshold)
                fitSample = try c.decodeIfPresent(Int.self, forKey: .fitSample)
            }
        }
        struct Windows: Decodable {
            var preMonths: Int?, postMonths: Int?
            enum CodingKeys: String, CodingKey, CaseIterable { case preMonths = "pre_months", postMonths = "post_months" }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                preMonths = try c.decodeIfPresent(Int.self, forKey: .preMonths)
                postMonths = try c.decodeIfPresent(Int.self, forKey: .postMonths)
            }
        }
        var name: String
        var intervention: Intervention
        var eligibility: Eligibility?
        var matching: Matching?
        var windows: Windows?
        var outcomes: [String]?
        var negativeControls: [String]?
        var bootstrap: Int?
        var seed: UInt64?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, intervention, eligibility, matching, windows, outcomes
            case negativeControls = "negative_controls"
            case bootstrap, seed
        }
        init(from decoder: any Decoder) throws {
            try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            intervention = try c.decode(Intervention.self, forKey: .intervention)
            eligibility = try c.decodeIfPresent(Eligibility.self, forKey: .eligibility)
            matching = try c.decodeIfPresent(Matching.self, forKey: .matching)
            windows = try c.decodeIfPresent(Windows.self, forKey: .windows)
            outcomes = try c.decodeIfPresent([String].self, forKey: .outcomes)
            negativeControls = try c.decodeIfPresent([String].self, forKey: .negativeControls)
            bootstrap = try c.decodeIfPresent(Int.self, forKey: .bootstrap)
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        }
    }
}
