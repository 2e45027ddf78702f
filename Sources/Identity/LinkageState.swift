@preconcurrency import Crypto
import Foundation
import Outputs
import PHMCore

/// What the match-weight stage keeps from one run to the next, in the identity vault: the model
/// it estimated and every decision it made, each with a digest of the evidence it read.
///
/// A decision depends on the record's identity, on the model, and on the registrations that
/// share a blocking key with the record (their fields and their person). A later run reuses a
/// decision whose record and evidence are unchanged, and scores the rest with the same model; so
/// a month's extract links its new records without scoring history again, and gives the
/// clusters a full re-link with that model gives. Pseudonyms come from the NHS number or the GP
/// patient id under the key, never from the order people were found, so they do not change.
public struct LinkageState: Sendable {
    public var model: MatchModel
    /// By the digest of the record's identity.
    public var decisions: [IdentityDigest: LinkDecision]

    public init(model: MatchModel, decisions: [IdentityDigest: LinkDecision]) {
        self.model = model
        self.decisions = decisions
    }
}

/// How the match-weight stage uses the state an earlier run left.
public enum LinkageMode: String, CaseIterable, Sendable, Codable {
    /// Keep the model; reuse each decision whose record and evidence are unchanged.
    case incremental
    /// Keep the model; score every record again.
    case relink
    /// Estimate the model again from this run's data, and score every record.
    case reestimate
}

/// 128 bits of SHA-256 of a record's identity as linkage compares it.
public struct IdentityDigest: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    /// The 16 bytes, high first, big-endian.
    public var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> UInt64(56 - 8 * (i % 8))) }
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// One record identity's decision.
public struct LinkDecision: Sendable, Equatable {
    /// A digest of every registration the record was compared with: its fields and the
    /// pseudonym of its person.
    public var evidence: UInt64
    /// The pseudonym of the person it links to, or nil.
    public var person: String?
    /// The probability of its best candidate.
    public var probability: Double

    public init(evidence: UInt64, person: String?, probability: Double) {
        self.evidence = evidence
        self.person = person
        self.probability = probability
    }
}

/// The match weights as estimated, with the term frequencies of that run's spine, so that a run
/// reusing the model weighs exactly as the run that estimated it.
public struct MatchModel: Sendable, Codable {
    /// What a decision means: raised whenever the comparisons, the weights, the thresholds or
    /// the blocking change, so that a later release re-estimates rather than reuse decisions an
    /// earlier one made.
    public static let currentVersion = 1
    public var version = MatchModel.currentVersion
    public var weights: MatchWeights
    /// People on the spine with each given name, family name and postcode, in that order.
    public var frequency: [[String: Int]] = [[:], [:], [:]]
    /// People on the spine when estimated: the denominator of the term frequencies.
    public var persons: Int
    public var estimationRecords: Int
    public var blockedPairs: Int
    public var randomPairs: Int
    /// The run and as-of date it was estimated in.
    public var estimatedInRun: Int64
    public var estimatedAsOf: String

    enum CodingKeys: String, CodingKey {
        case version, weights, persons, estimationRecords, blockedPairs, randomPairs, estimatedInRun, estimatedAsOf
    }

    public init(
        weights: MatchWeights, frequency: [[String: Int]], persons: Int, estimationRecords: Int, blockedPairs: Int,
        randomPairs: Int, estimatedInRun: Int64, estimatedAsOf: String
    ) {
        self.weights = weights
        self.frequency = frequency
        self.persons = persons
        self.estimationRecords = estimationRecords
        self.blockedPairs = blockedPairs
        self.randomPairs = randomPairs
        self.estimatedInRun = estimatedInRun
        self.estimatedAsOf = estimatedAsOf
    }

    /// A spine whose number of people moved further than this from the model's is estimated
    /// again: the prior and the term frequencies are shares of the spine.
    public static let largestChange = 0.1

    /// Whether the model can weigh a spine of `persons` people: it is of this version, its
    /// fields and levels are those compared now, its numbers are finite and in range, and the
    /// spine has not moved by more than `largestChange`.
    public func fits(persons: Int) -> Bool {
        let fields = MatchWeights.Field.allCases
        let shaped = [weights.m, weights.u].allSatisfy { table in
            table.count == fields.count
                && zip(table, fields).allSatisfy { row, field in
                    row.count == field.levels.count && row.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 1 }
                }
        }
        let prior = weights.prior.isFinite && weights.prior > 0 && weights.prior < 1
        let counts = frequency.count == 3 && self.persons > 0
        return version == Self.currentVersion && shaped && prior && counts
            && abs(Double(persons - self.persons)) <= Self.largestChange * Double(self.persons)
    }
}

extension MatchWeights.Identity {
    /// SHA-256 of every field, each with its length (and of a person's pseudonym where given),
    /// cut to 128 bits.
    func digest(person: String? = nil) -> IdentityDigest {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        func put(_ value: UInt64) { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) } }
        func put(_ text: String) {
            put(UInt64(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        put(nhs)
        put(UInt64(bitPattern: Int64(birth.rawValue)))
        put(UInt64(sex.map { $0.rawValue } ?? 0xFF))
        put(given)
        put(family)
        put(postcode)
        if let person { put(person) }
        let hash = Array(SHA256.hash(data: bytes))
        return IdentityDigest(bytes: Array(hash[0..<16]))!
    }
}

/// What the match-weight stage did in one run.
public struct LinkOutcome: Sendable {
    public var report: LinkageReport.Probabilistic
    /// For the next run.
    public var state: LinkageState
    /// The record identities it could not decide, likeliest first.
    public var queue: [ReviewItem]
}

/// A record identity the match weights could not decide (its best person at least
/// `MatchWeights.reviewFloor` likely, but not linked), with its best people, for a reviewer.
public struct ReviewItem: Sendable {
    public var identity: IdentityDigest
    /// The first care record with this identity, and how many records have it.
    public var row: Int
    public var records: Int
    /// The best person and the next, if any.
    public var candidates: [Candidate]
    /// A record linked by NHS number whose other fields disagree strongly, with the person linked.
    public var linkedByNHSNumber = false

    public struct Candidate: Sendable {
        /// The person's pseudonym.
        public var person: String
        /// Their registration that scored highest (an index into the patient records).
        public var registration: Int
        public var probability: Double
        /// How each field agreed, by name, in `MatchWeights.Field` order.
        public var levels: [String]
    }
}
