import Cohorts
import FHIR
import Storage

/// Cohorts and worklists as FHIR R4 `Group` resources, the one form `phm` and the API both write.
extension PracticeWorklist {
    /// The people shown, in rank order, by NHS number; one without a usable number by name and
    /// date of birth, for the clinician to look up. The practice manages the group.
    public var fhirGroup: String {
        let members = entries.map { e -> Resources.Member in
            if let nhs = e.identity?.nhsNumber, !nhs.isEmpty { return .nhsNumber(nhs) }
            let name = e.identity.map { "\($0.givenName) \($0.familyName), born \($0.dateOfBirth)" }
            return .named(name ?? "pseudonym \(e.entry.pseudonym)")
        }
        // A page of the list is a Group of its own, named by the ranks it holds.
        let ranks = entries.isEmpty ? "none of \(total)" : "ranks \(offset + 1) to \(offset + entries.count) of \(total)"
        return Resources.group(
            id: "worklist-\(cohort.name)-v\(cohort.version)-from-\(offset + 1)",
            name: "\(cohort.name) (version \(cohort.version)) at \(practiceCode), \(ranks)", practice: practiceCode,
            members: members)
    }
}

extension CohortDefinition {
    /// A cohort's members by pseudonym (planning), named by the definition.
    public func fhirGroup(of pseudonyms: [String]) -> String {
        Resources.group(id: "cohort-members", name: CohortText.format(expression), members: pseudonyms.map { .pseudonym($0) })
    }
}
