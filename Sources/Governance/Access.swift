import PHMCore

/// What a user is, for what they may see and do (`summary` says what each is).
public enum Role: String, Sendable, Codable, CaseIterable {
    case analyst
    case clinician
    case igLead = "ig_lead"
    case admin
    case linkageReviewer = "linkage_reviewer"

    public var summary: String {
        switch self {
        case .analyst: "planning and analysis: pseudonymised and aggregate data only"
        case .clinician: "a clinician of one practice: may re-identify that practice's registered patients, for direct care"
        case .igLead: "information governance lead: the audit log and data sharing settings"
        case .admin: "administrator: users and roles"
        case .linkageReviewer:
            "judges the care records linkage could not decide against the people they may be: sees both sides' identities, for running the platform, never a person's care"
        }
    }
}

/// Why a request is made. The purpose decides which people count and what is shown.
public enum Purpose: String, Sendable, Codable, CaseIterable {
    case planning
    case directCare = "direct_care"
    case administration

    public var summary: String {
        switch self {
        case .planning:
            "planning and commissioning: people with a National Data Opt-out are left out and small numbers are suppressed"
        case .directCare:
            "direct care of the clinician's own registered patients: opt-outs do not apply, numbers are not suppressed, and only the clinician's practice is shown"
        case .administration:
            "running the platform: users, the audit log (which names people by pseudonym), data sharing settings, and the review of undecided linkage; no care records, and identities only as a linkage reviewer judges a pair"
        }
    }
}

/// Everything a user can ask the platform to do (`summary` says what each is).
public enum Action: String, Sendable, Codable, CaseIterable {
    case viewAggregates = "view_aggregates"
    case queryCohort = "query_cohort"
    case saveCohort = "save_cohort"
    case listPseudonymised = "list_pseudonymised"
    case viewWorklist = "view_worklist"
    case updateWorklist = "update_worklist"
    case evaluate
    case viewAudit = "view_audit"
    case manageSharing = "manage_sharing"
    case manageUsers = "manage_users"
    case reviewLinkage = "review_linkage"
}

extension Action {
    /// What data an action shows or changes.
    public enum Exposure: String, Sendable, CaseIterable {
        /// Counts, rates and profiles: suppressed and without opt-outs under planning.
        case aggregates = "aggregates"
        /// Rows by pseudonym, never a name or NHS number.
        case pseudonymised = "pseudonymised rows"
        /// Names, NHS numbers, dates of birth from the identity vault.
        case identifiable = "identifiable"
        /// Users, settings, cohort definitions: no care data.
        case governance = "no care data"
    }

    public var summary: String {
        switch self {
        case .viewAggregates: "aggregate tables and profiles (counts, rates, charts)"
        case .queryCohort: "count and profile a cohort"
        case .saveCohort: "save a new version of a cohort definition"
        case .listPseudonymised: "list or export a cohort's members by pseudonym"
        case .viewWorklist: "open a practice worklist, re-identified from the identity vault"
        case .updateWorklist: "change a worklist entry's status or note"
        case .evaluate: "evaluate an intervention against matched controls (aggregates only)"
        case .viewAudit: "read and check the audit log"
        case .manageSharing: "say which sources may be used for which purpose"
        case .manageUsers: "add users, change their roles, deactivate them"
        case .reviewLinkage: "judge care records linkage could not decide beside the people they may be"
        }
    }

    public var exposure: Exposure {
        switch self {
        case .viewAggregates, .queryCohort, .evaluate: .aggregates
        case .saveCohort, .manageSharing, .manageUsers: .governance
        // The log's details name the pseudonyms re-identified, changed and judged.
        case .listPseudonymised, .viewAudit: .pseudonymised
        case .viewWorklist, .updateWorklist, .reviewLinkage: .identifiable
        }
    }
}

/// Who may do what, for which purpose: the whole access policy in one table.
public enum AccessPolicy {
    static let grants: [Role: [Purpose: Set<Action>]] = [
        .analyst: [.planning: [.viewAggregates, .queryCohort, .saveCohort, .listPseudonymised, .evaluate]],
        .clinician: [
            .planning: [.viewAggregates, .queryCohort],
            .directCare: [.viewAggregates, .queryCohort, .saveCohort, .viewWorklist, .updateWorklist],
        ],
        .igLead: [.planning: [.viewAggregates], .administration: [.viewAudit, .manageSharing]],
        .admin: [.administration: [.manageUsers, .viewAudit]],
        .linkageReviewer: [.administration: [.reviewLinkage]],
    ]

    /// What a role may do under a purpose, in the order actions are declared.
    public static func actions(of role: Role, for purpose: Purpose) -> [Action] {
        Action.allCases.filter { allows(role, $0, for: purpose) }
    }

    public static func allows(_ role: Role, _ action: Action, for purpose: Purpose) -> Bool {
        grants[role]?[purpose]?.contains(action) ?? false
    }

    /// The purposes a role may work under at all.
    public static func purposes(of role: Role) -> [Purpose] {
        Purpose.allCases.filter { grants[role]?[$0]?.isEmpty == false }
    }
}

/// Which sources may be used for which purpose. Every source is shared for planning and direct
/// care until the information governance lead says otherwise.
public struct SharingSettings: Sendable, Codable, Equatable {
    public var allowed: [DataSource: Set<Purpose>]

    public init(allowed: [DataSource: Set<Purpose>]) { self.allowed = allowed }

    public static let `default` = SharingSettings(
        allowed: Dictionary(uniqueKeysWithValues: DataSource.allCases.map { ($0, [.planning, .directCare]) }))

    public func allows(_ source: DataSource, for purpose: Purpose) -> Bool { allowed[source]?.contains(purpose) ?? false }

    /// The sources allowed for a purpose.
    public func sources(for purpose: Purpose) -> Set<DataSource> {
        Set(DataSource.allCases.filter { allows($0, for: purpose) })
    }
}
