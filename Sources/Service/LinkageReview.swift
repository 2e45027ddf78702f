import Foundation
import Governance
import PHMCore
import Storage

/// A page of the clerical review queue: care records linkage could not decide, each beside the
/// people it may be, with the judgements made so far.
public struct LinkageReviewPage: Sendable {
    public var pairs: [ReviewPair]
    /// The queue's length and where this page starts in it.
    public var total: Int
    public var offset: Int
    /// The judgements of each pair's record, by pair id, then by person.
    public var judgements: [Int64: [String: ReviewDecision]]
}

extension Session {
    /// The most pairs one view shows (and re-identifies).
    public static let reviewPageLimit = 20

    /// How many pairs the current queue holds, and its run: counts only, nobody shown.
    public func linkageReviewQueue() throws -> (total: Int, run: Int64?) {
        try authorise(.reviewLinkage, detail: ["queue": true])
        let (first, total) = try platform.vault().reviewPairs(offset: 0, limit: 1)
        return (total, first.first?.runId)
    }

    /// A page of the review queue. Both sides of each pair are identifying, so the view is
    /// audited with the pairs and the people shown.
    public func linkageReview(offset: Int = 0, limit: Int = Session.reviewPageLimit) throws -> LinkageReviewPage {
        let offset = max(0, offset), limit = min(max(0, limit), Session.reviewPageLimit)
        // Allowed views are audited below with what was shown; a refusal here.
        if !AccessPolicy.allows(user.role, .reviewLinkage, for: purpose) {
            try authorise(.reviewLinkage, detail: ["offset": .number(Double(offset))])
        }
        let vault = try platform.vault()
        let (pairs, total) = try vault.reviewPairs(offset: offset, limit: limit)
        try authorise(
            .reviewLinkage,
            detail: [
                "run": pairs.first.map { .number(Double($0.runId)) } ?? .null, "offset": .number(Double(offset)),
                "total": .number(Double(total)), "pairs": .array(pairs.map { .number(Double($0.id)) }),
                "people": .array(pairs.flatMap { $0.candidates.map { .string($0.person) } }),
            ])
        var byIdentity: [Data: [String: ReviewDecision]] = [:]
        for decision in try vault.reviewDecisions(of: pairs.map(\.identity)) {
            byIdentity[decision.identity, default: [:]][decision.person] = decision
        }
        var judgements: [Int64: [String: ReviewDecision]] = [:]
        for pair in pairs { judgements[pair.id] = byIdentity[pair.identity] }
        return LinkageReviewPage(pairs: pairs, total: total, offset: offset, judgements: judgements)
    }

    /// Judges a pair of the current queue: its record and its candidate number `candidate` (from
    /// 0) are the same person, or not. The next run links (or stops proposing) accordingly; a
    /// judgement of the same person replaces any other the record had. Audited with the record's
    /// id and the person's pseudonym, so the log traces it after the queue is replaced; one that
    /// cannot be made is audited as refused.
    public func judge(run: Int64, pair: Int64, candidate: Int, same: Bool) throws {
        var detail: [String: JSONValue] = [
            "run": .number(Double(run)), "pair": .number(Double(pair)), "candidate": .number(Double(candidate)),
            "judgement": .string(same ? "same" : "different"),
        ]
        if !AccessPolicy.allows(user.role, .reviewLinkage, for: purpose) { try authorise(.reviewLinkage, detail: detail) }
        let vault = try platform.vault()
        guard let found = try vault.reviewPair(id: pair), found.runId == run, found.candidates.indices.contains(candidate)
        else {
            let problem = "that pair is not in the review queue as shown: open the queue again"
            detail["reason"] = .string(problem)
            try store.audit(
                user: user.name, role: user.role.rawValue, purpose: purpose.rawValue, action: Action.reviewLinkage.rawValue,
                outcome: "refused", detail: Session.json(detail))
            throw AccessError.invalid(problem)
        }
        let person = found.candidates[candidate].person
        detail["record"] = .string(found.recordId)
        detail["person"] = .string(person)
        try authorise(.reviewLinkage, detail: detail)
        try vault.decide(
            ReviewDecision(identity: found.identity, person: person, same: same, reviewer: user.name, decidedAt: Date()))
    }
}
