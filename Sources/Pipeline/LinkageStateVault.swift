import Foundation
import Identity
import Storage

/// Linkage state to and from the identity vault's columns.
extension LinkageState {
    var stored: StoredLinkage {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Finite numbers and plain values only: encoding cannot fail.
        var stored = StoredLinkage(model: (try? encoder.encode(model)) ?? Data(), frequency: model.frequency)
        stored.identity.reserveCapacity(decisions.count)
        for (digest, decision) in decisions {
            stored.identity.append(Data(digest.bytes))
            stored.evidence.append(decision.evidence)
            stored.person.append(decision.person)
            stored.probability.append(decision.probability)
        }
        return stored
    }

    /// The state a vault holds; nil when its model cannot be read (written by another version),
    /// so the run estimates a new one.
    init?(_ stored: StoredLinkage) {
        guard var model = try? JSONDecoder().decode(MatchModel.self, from: stored.model) else { return nil }
        model.frequency = stored.frequency
        var decisions: [IdentityDigest: LinkDecision] = [:]
        decisions.reserveCapacity(stored.identity.count)
        for i in stored.identity.indices {
            // A row of another length (a damaged vault) is no decision: its record is scored.
            guard let digest = IdentityDigest(bytes: Array(stored.identity[i])) else { continue }
            decisions[digest] = LinkDecision(
                evidence: stored.evidence[i], person: stored.person[i], probability: stored.probability[i])
        }
        self.init(model: model, decisions: decisions)
    }
}
