import PHMCore

/// What a user is, for what they may see and do.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Planning and analysis: pseudonymised and aggregate data only.
    case analyst
    /// A clinician of one practice: may re-identify that practice's registered patients, for direct care.
    case clinician
    /// Information governance lead: the audit log and data sharing settings.
    case igLead = "ig_lead"
    /// Administrator: users and roles.
    case admin
    /// Judges the care records linkage could not decide against the people they may be: sees
    /// both sides' identities, for running the platform, never a person's care.
    case linkageReviewer = "linkage_reviewer"
}

/// Why a request is made. The purpose decides which people count and what is shown.
public enum Purpose: String, Sendable, Codable, CaseIterable {
    /// Planning and commissioning: people with a National Data Opt-out are left out and small
    /// numbers are suppressed.
    case planning
    /// Direct care of the clinician's own registered patients: opt-outs do not apply, numbers are
    /// not suppressed, and only the clinician's practice is shown.
    case directCare = "direct_care"
    /// Running the platform: users, the audit log, data sharing settings, and the review of
    /// undecided linkage. No care data; identities only as a linkage reviewer judges a pair.
    case administration
}

/// Everything a user can ask the platform to do.
public enum Action: String, Sendable, Codable, CaseIterable {
    /// Aggregate tables and profiles (counts, rates, charts).
    case viewAggregates = "view_aggregates"
    /// Count and profile a cohort.
    case queryCohort = "query_cohort"
    /// Save a new version of a cohort definition.
    case saveCohort = "save_cohort"
    /// List or export a cohort's members by pseudonym.
    case listPseudonymised = "list_pseudonymised"
    /// Open a practice worklist, re-identified from the identity vault.
    case viewWorklist = "view_worklist"
    /// Change a worklist entry's status or note.
    case updateWorklist = "update_worklist"
    /// Evaluate an intervention against matched controls (aggregates only).
    case evaluate
    case viewAudit = "view_audit"
    case manageSharing = "manage_sharing"
    case manageUsers = "manage_users"
    /// See the review queue of undecided care records beside the people they may be, and judge them.
    case reviewLinkage = "review_linkage"
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
