@preconcurrency import Crypto
import Foundation
import Ingest
import Outputs
import PHMCore

/// The second stage of linkage: match weights (`MatchWeights`) for the care records the
/// deterministic rules left unlinked, against every registration that shares a blocking key.
///
/// The registrations are indexed once under every key they have, as one sorted array of
/// `key << registrationBits | registration` (keys truncated to the bits left: a false
/// candidate costs a comparison, never a link), so a block is a binary search away and the
/// index takes eight bytes an entry however many records are scored.
///
/// What it decided is kept for the next run (`LinkageState`): a record whose identity and
/// candidates are unchanged keeps its decision without being scored again.
public struct ProbabilisticLinker: Sendable {
    private let identities: [MatchWeights.Identity]
    private let personOfRegistration: [Int32]
    /// Each person's registrations: `registrations[registrationStart[p]..<registrationStart[p + 1]]`.
    private let registrationStart: [Int32]
    private let registrations: [Int32]
    private let registrationOfPerson: [Int32]
    /// Each person's pseudonym, as decisions name people.
    private let personKeys: [String]
    /// Each registration's digest: its fields and its person's pseudonym.
    private let content: [UInt64]
    private let patientId: [String]
    private let index: [UInt64]
    private let registrationBits: UInt64

    /// A scoring key shared by more registrations than this is not used: it would compare a
    /// record with hundreds of people, none of them singled out by the key. Training blocks may
    /// be larger: only a sample of records is compared with them.
    static let largestBlock = 200
    static let largestTrainingBlock = 1_000
    /// Records sampled for estimation (by a hash of their record id), and random pairs for u.
    static let estimationRecords = 10_000
    static let randomPairs = 200_000

    /// `pseudonyms` name the spine's people (by default, the GP patient id of each one's
    /// registration at as-of).
    public init(patients: PatientRecords, spine: Spine, pseudonyms: [String]? = nil, workers: Int = 2) {
        let identities = (0..<patients.count).map { r in
            MatchWeights.Identity(
                nhs: patients.nhsNumber[r], birth: patients.dateOfBirth[r],
                given: NameKey.normalise(patients.givenName[r]), family: NameKey.normalise(patients.familyName[r]),
                postcode: patients.postcode[r], sex: patients.sex[r])
        }
        let personKeys = pseudonyms ?? spine.registrationOfPerson.map { patients.patientId[Int($0)] }
        let chunks = Parallel.ranges(identities.count, parts: workers * 4)
        content = Parallel.map(chunks.count) { k in
            chunks[k].map { r in identities[r].digest(person: personKeys[Int(spine.personOfRegistration[r])]).high }
        }.flatMap { $0 }
        let bits = UInt64(max(1, (patients.count + 1).bitWidth - (patients.count + 1).leadingZeroBitCount))
        let parts = Parallel.ranges(identities.count, parts: workers * 4)
        var index = Parallel.map(parts.count) { k -> [UInt64] in
            var entries: [UInt64] = []
            for r in parts[k] {
                let identity = identities[r]
                let keys = Self.keys(identity) + Self.trainingKeys(identity).compactMap { $0 }
                for key in Set(keys) { entries.append(key << bits | UInt64(r)) }
            }
            return entries
        }.flatMap { $0 }
        index.sort()
        self.identities = identities
        self.index = index
        self.personKeys = personKeys
        registrationBits = bits
        personOfRegistration = spine.personOfRegistration
        registrationOfPerson = spine.registrationOfPerson
        registrationStart = spine.registrationStart
        registrations = spine.registrations
        patientId = patients.patientId
    }

    /// The scoring keys a registration is indexed under (besides the training keys): date of birth
    /// with the family initial, and with the given initial; postcode, and family name, with the
    /// birth year; family name with the day and month of birth; postcode with family name; the
    /// NHS number.
    static func keys(_ i: MatchWeights.Identity) -> [UInt64] {
        var keys: [UInt64] = []
        if i.nhs != 0 { keys.append(hash(10, Int(truncatingIfNeeded: i.nhs), "", "")) }
        if !i.postcode.isEmpty, !i.family.isEmpty { keys.append(hash(6, 0, i.postcode, i.family)) }
        guard i.birth != .missing else { return keys }
        let (y, m, d) = i.birth.civil
        let day = Int(i.birth.rawValue)
        if let f = i.family.utf8.first { keys.append(hash(1, day, String(UnicodeScalar(f)), "")) }
        if let g = i.given.utf8.first { keys.append(hash(11, day, String(UnicodeScalar(g)), "")) }
        if !i.postcode.isEmpty { keys.append(hash(2, y, i.postcode, "")) }
        if !i.family.isEmpty {
            keys.append(hash(3, y, i.family, ""))
            keys.append(hash(5, m * 32 + d, i.family, ""))
        }
        return keys
    }

    /// The keys a record asks with: a registration's, and the same with its day and month of
    /// birth swapped and with its names the other way round.
    static func scoringKeys(_ i: MatchWeights.Identity) -> [UInt64] {
        var keys = keys(i)
        guard i.birth != .missing else { return keys }
        let (y, m, d) = i.birth.civil
        let f = i.family.utf8.first.map { String(UnicodeScalar($0)) }, g = i.given.utf8.first.map { String(UnicodeScalar($0)) }
        if m != d, let swapped = Day(year: y, month: d, day: m) {
            if let f { keys.append(hash(1, Int(swapped.rawValue), f, "")) }
            if let g { keys.append(hash(11, Int(swapped.rawValue), g, "")) }
        }
        let day = Int(i.birth.rawValue)
        if let g { keys.append(hash(1, day, g, "")) }
        if let f { keys.append(hash(11, day, f, "")) }
        if !i.given.isEmpty { keys.append(hash(3, y, i.given, "")) }
        return keys
    }

    /// The keys of `MatchWeights.trainingRules`, in their order: date of birth; family and given
    /// name; postcode and family name (nil where a field is missing).
    static func trainingKeys(_ i: MatchWeights.Identity) -> [UInt64?] {
        [
            i.birth == .missing ? nil : hash(12, Int(i.birth.rawValue), "", ""),
            i.given.isEmpty || i.family.isEmpty ? nil : hash(9, 0, i.family, i.given),
            i.postcode.isEmpty || i.family.isEmpty ? nil : hash(6, 0, i.postcode, i.family),
        ]
    }

    /// A blocking key: its tag (which key it is), a number and two strings (`KeyHash`).
    static func hash(_ tag: UInt8, _ number: Int, _ a: String, _ b: String) -> UInt64 {
        KeyHash.of(Int64(number), tag, a, b)
    }

    static func identity(_ care: CareRecords, _ row: Int) -> MatchWeights.Identity {
        MatchWeights.Identity(
            nhs: care.nhsNumber[row], birth: care.dateOfBirth[row], given: care.givenName[row],
            family: care.familyName[row], postcode: care.postcode[row], sex: care.sex[row])
    }

    /// The registrations indexed under `key`, or none when there are more than `limit`.
    func block(_ key: UInt64, limit: Int) -> ArraySlice<UInt64> {
        let truncated = (key << registrationBits) >> registrationBits
        var lo = 0, hi = index.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if index[mid] >> registrationBits < truncated { lo = mid + 1 } else { hi = mid }
        }
        var upper = lo
        while upper < index.count, upper - lo <= limit, index[upper] >> registrationBits == truncated { upper += 1 }
        return upper - lo > limit ? [] : index[lo..<upper]
    }

    func registration(_ entry: UInt64) -> Int { Int(entry & ((1 << registrationBits) - 1)) }

    /// The registrations sharing a scoring key with a record, each once, in order.
    func candidates(_ record: MatchWeights.Identity) -> [Int32] {
        var found: Set<Int32> = []
        for key in Self.scoringKeys(record) {
            for entry in block(key, limit: Self.largestBlock) { found.insert(Int32(registration(entry))) }
        }
        return found.sorted()
    }

    /// Links the records `linkage` leaves unlinked, with the model of `previous` where it fits
    /// this spine (else one estimated now from these records), reusing `previous`'s decisions
    /// as `mode` allows, and applying reviewers' judgements (`reviews`: for a record identity,
    /// person pseudonym to whether they are the same). Returns what it did, the state for the
    /// next run, and the records it could not decide, for review.
    public func link(
        _ care: CareRecords, _ linkage: inout Linkage, workers: Int, previous: LinkageState? = nil,
        mode: LinkageMode = .incremental, reviews: [IdentityDigest: [String: Bool]] = [:], run: Int64 = 0,
        asOf: Day = .missing
    ) -> LinkOutcome {
        let kept = mode != .reestimate && previous?.model.fits(persons: personKeys.count) == true
        let model = kept ? previous!.model : estimate(care, workers: workers, run: run, asOf: asOf)
        let earlier = kept && mode == .incremental ? previous!.decisions : [:]
        // A pseudonym two people share (an id reused without an NHS number) names neither.
        let personOfKey = Dictionary(personKeys.enumerated().map { ($1, Int32($0)) }) { _, _ in -1 }
        /// The person an earlier decision names (-1 for none), or nil when no one person has its pseudonym.
        @Sendable func resolve(_ key: String?) -> Int32? {
            guard let key else { return -1 }
            guard let person = personOfKey[key], person >= 0 else { return nil }
            return person
        }
        // A record a reviewer judged a different person from the one a rule linked it to is
        // unlinked, whatever the rule (it is then scored without that person): only the records
        // of people someone judged different are digested to find out.
        let judgedDifferent = Set(reviews.values.flatMap { $0.filter { !$0.value }.keys }.compactMap { resolve($0) })
        var broken = 0
        for row in 0..<care.count where linkage.person[row] >= 0 && judgedDifferent.contains(linkage.person[row]) {
            let person = personKeys[Int(linkage.person[row])]
            guard reviews[Self.identity(care, row).digest()]?[person] == false else { continue }
            if linkage.rule[row] == .nhsNumberAndBirth || linkage.rule[row] == .nhsNumberAndName { broken += 1 }
            linkage.person[row] = -1
            linkage.rule[row] = .unlinked
            linkage.nhsConflict[row] = care.nhsNumber[row] != 0
        }
        // Links by NHS number whose other details disagree strongly, unjudged: queued for review first.
        var disputed: [IdentityDigest: ReviewItem] = [:]
        var disputedRecords = 0
        for (row, item) in disputes(care, linkage, model)
        where reviews[item.identity]?[personKeys[Int(linkage.person[row])]] == nil {
            disputedRecords += 1
            disputed[item.identity, default: item].records += 1
            disputed[item.identity]!.row = min(disputed[item.identity]!.row, row)
        }
        let unlinked = (0..<care.count).filter { linkage.person[$0] < 0 }
        // Whose each NHS number is, where a reviewer judged anyone different.
        let nhsOwner: [UInt64: Int32] =
            reviews.values.contains(where: { $0.values.contains(false) })
            ? Dictionary(
                identities.indices.filter { identities[$0].nhs != 0 }.map { (identities[$0].nhs, personOfRegistration[$0]) }
            ) { first, _ in first } : [:]

        // Each unlinked record against its candidates: the best person and the next.
        let scoring = Parallel.ranges(unlinked.count, parts: workers * 4)
        let parts = Parallel.map(scoring.count) { k -> ([Scored], [IdentityDigest: LinkDecision]) in
            // A person's records from one source mostly carry the same identity: decided once.
            var seen: [MatchWeights.Identity: Scored] = [:]
            var decisions: [IdentityDigest: LinkDecision] = [:]
            let scored = scoring[k].map { i -> Scored in
                let row = unlinked[i]
                let identity = Self.identity(care, row)
                if var known = seen[identity] {
                    known.row = row
                    return known
                }
                let digest = identity.digest()
                // A record whose NHS number is that of someone judged a different person carries
                // a wrong NHS number: compared without it, its decision kept under that identity.
                var compared = identity
                if identity.nhs != 0, let owner = nhsOwner[identity.nhs], reviews[digest]?[personKeys[Int(owner)]] == false {
                    compared.nhs = 0
                }
                let key = compared.nhs == identity.nhs ? digest : compared.digest()
                var found = candidates(compared)
                if let review = reviews[digest] {
                    // One person a reviewer called the same links; people called different are
                    // not candidates (and the evidence is what is left).
                    let same = Set(review.filter(\.value).keys.compactMap { resolve($0) }.filter { $0 >= 0 })
                    if same.count == 1 {
                        let result = Scored(row: row, digest: digest, person: same.first!, probability: 1, source: .reviewed)
                        seen[identity] = result
                        return result
                    }
                    let different = Set(review.filter { !$0.value }.keys)
                    found.removeAll { different.contains(personKeys[Int(personOfRegistration[Int($0)])]) }
                }
                let evidence = self.evidence(found)
                var result: Scored
                if let before = earlier[key], before.evidence == evidence, let person = resolve(before.person) {
                    result = Scored(row: row, digest: digest, person: person, probability: before.probability, source: .reused)
                    // An undecided record is scored again for its candidates to review (it scores the same).
                    if person < 0, before.probability >= MatchWeights.reviewFloor {
                        result.candidates = ranking(compared, found, model).candidates
                    }
                } else {
                    let ranked = ranking(compared, found, model)
                    result = Scored(
                        row: row, digest: digest, person: ranked.person, probability: ranked.probability,
                        source: earlier[key] == nil ? .new : .changed)
                    if ranked.person < 0, ranked.probability >= MatchWeights.reviewFloor { result.candidates = ranked.candidates }
                }
                decisions[key] = LinkDecision(
                    evidence: evidence, person: result.person >= 0 ? personKeys[Int(result.person)] : nil,
                    probability: result.probability)
                seen[identity] = result
                return result
            }
            return (scored, decisions)
        }
        var linked = 0, uncertain = 0, reused = 0, changed = 0, reviewed = 0
        var decisions: [IdentityDigest: LinkDecision] = [:]
        var undecided: [IdentityDigest: ReviewItem] = [:]
        for (scored, partDecisions) in parts {
            decisions.merge(partDecisions) { first, _ in first }
            for d in scored {
                if d.source == .reused { reused += 1 }
                if d.source == .changed { changed += 1 }
                if d.source == .reviewed {
                    linkage.person[d.row] = d.person
                    linkage.rule[d.row] = .clericalReview
                    reviewed += 1
                } else if d.person >= 0 {
                    linkage.person[d.row] = d.person
                    linkage.rule[d.row] = .matchWeight
                    linked += 1
                } else if d.probability >= MatchWeights.reviewFloor {
                    uncertain += 1
                    if let candidates = d.candidates {
                        undecided[
                            d.digest, default: ReviewItem(identity: d.digest, row: d.row, records: 0, candidates: candidates)
                        ]
                        .records += 1
                        undecided[d.digest]!.row = min(undecided[d.digest]!.row, d.row)
                    }
                }
            }
        }
        // Disputed links first, the most strongly disputed first (they are links, and may be
        // wrong); then the undecided, likeliest first, so a reviewer's time goes where a
        // judgement most often makes a link.
        let queue =
            (disputed.values.sorted {
                ($0.candidates[0].probability, $0.identity.high, $0.identity.low)
                    < ($1.candidates[0].probability, $1.identity.high, $1.identity.low)
            }
            + undecided.values.sorted {
                ($0.candidates[0].probability, $1.identity.high, $1.identity.low)
                    > ($1.candidates[0].probability, $0.identity.high, $0.identity.low)
            }).prefix(Self.reviewQueueLimit)
        let weights = model.weights
        var report = LinkageReport.Probabilistic(
            threshold: MatchWeights.threshold, margin: MatchWeights.margin, reviewFloor: MatchWeights.reviewFloor,
            prior: weights.prior, iterations: weights.iterations, converged: weights.converged,
            estimationRecords: model.estimationRecords, blockedPairs: model.blockedPairs,
            randomPairs: model.randomPairs, scored: unlinked.count, linked: linked, uncertain: uncertain,
            comparisons: MatchWeights.Field.allCases.map { field in
                .init(
                    field: field.name,
                    levels: field.levels.indices.map { l in
                        let m = weights.m[field.rawValue][l], u = weights.u[field.rawValue][l]
                        let missing = l == field.levels.count - 1
                        return .init(level: field.levels[l], m: m, u: u, weight: missing ? 0 : log2(m / u))
                    })
            })
        report.estimatedInRun = model.estimatedInRun
        report.estimatedAsOf = model.estimatedAsOf
        report.decisionsReused = reused
        report.evidenceChanged = changed
        report.linkedByReview = reviewed
        report.nhsNumberLinksDisputed = disputedRecords
        report.nhsNumberLinksBroken = broken
        report.queuedForReview = queue.count
        return LinkOutcome(
            report: report, state: LinkageState(model: model, decisions: decisions), queue: Array(queue))
    }

    /// Demographics this many bits against (2^-10: a thousand times likelier between two people
    /// than within one) dispute a link by NHS number.
    public static let disputeBits = 10.0

    /// The records linked by NHS number with family name and sex (the date of birth differs or
    /// is missing) whose fields the rule did not use (given name, date of birth, postcode) weigh
    /// at least `disputeBits` against the person at every registration: a relative's NHS
    /// number, say, on the record of someone with another given name and date of birth. Each as
    /// a review item with that person (one record each; callers count them). A link by NHS
    /// number and date of birth is not checked: an exact date of birth outweighs the rest.
    func disputes(_ care: CareRecords, _ linkage: Linkage, _ model: MatchModel) -> [(Int, ReviewItem)] {
        let rows = (0..<care.count).filter { linkage.rule[$0] == .nhsNumberAndName }
        let parts = Parallel.ranges(rows.count, parts: 8)
        return Parallel.map(parts.count) { k in
            parts[k].compactMap { i -> (Int, ReviewItem)? in
                let row = rows[i], person = Int(linkage.person[row])
                let record = Self.identity(care, row)
                var best = -Double.infinity, bestRegistration: Int32 = -1, bestVector: MatchWeights.Vector = 0
                for r in registrations[Int(registrationStart[person])..<Int(registrationStart[person + 1])] {
                    let other = identities[Int(r)]
                    let v = MatchWeights.compare(record, other)
                    let w = model.weights.weight(v, of: [.givenName, .dateOfBirth, .postcode]) { frequency(of: $0, other, model) }
                    if w > best { (best, bestRegistration, bestVector) = (w, r, v) }
                }
                guard best <= -Self.disputeBits, bestRegistration >= 0 else { return nil }
                let full = weight(bestVector, identities[Int(bestRegistration)], model)
                let candidate = ReviewItem.Candidate(
                    person: personKeys[person], registration: Int(bestRegistration),
                    probability: MatchWeights.probability(full),
                    levels: MatchWeights.Field.allCases.map { $0.levels[MatchWeights.level(bestVector, $0)] })
                return (
                    row,
                    ReviewItem(
                        identity: record.digest(), row: row, records: 0, candidates: [candidate], linkedByNHSNumber: true)
                )
            }
        }.flatMap { $0 }
    }

    /// A comparison's match weight under the model, term frequencies of `other` included.
    func weight(_ v: MatchWeights.Vector, _ other: MatchWeights.Identity, _ model: MatchModel) -> Double {
        model.weights.weight(v) { frequency(of: $0, other, model) }
    }

    /// The share of the spine's people with `other`'s value of a field, for exact agreement.
    func frequency(of field: MatchWeights.Field, _ other: MatchWeights.Identity, _ model: MatchModel) -> Double? {
        let n =
            switch field {
            case .givenName: model.frequency[0][other.given]
            case .familyName: model.frequency[1][other.family]
            default: model.frequency[2][other.postcode]
            }
        return n.map { Double($0) / Double(model.persons) }
    }

    /// The most undecided record identities kept for review in a run.
    public static let reviewQueueLimit = 10_000

    /// One record's decision and where it came from.
    struct Scored {
        enum Source { case new, changed, reused, reviewed }
        var row: Int
        var digest: IdentityDigest
        var person: Int32
        var probability: Double
        var source: Source
        /// For a record left uncertain: its best people, for review.
        var candidates: [ReviewItem.Candidate]?
    }

    /// The model from these records: u from random pairs, m by EM on the training blocks
    /// (`MatchWeights.estimate`), and the term frequencies of this spine.
    func estimate(_ care: CareRecords, workers: Int, run: Int64, asOf: Day) -> MatchModel {
        // A sample chosen by record id and registration id, so the same records give the same
        // estimate whatever order they came in.
        let share = min(1, Double(Self.estimationRecords) / Double(max(1, care.count)))
        let sampled = (0..<care.count).filter { Self.chosen(care.recordId[$0], share) }
            .sorted { care.recordId[$0] < care.recordId[$1] }
        let registrationShare = min(1, Double(Self.estimationRecords) / Double(max(1, identities.count)))
        let registrations = (0..<identities.count).filter { Self.chosen(patientId[$0], registrationShare) }
            .sorted { patientId[$0] < patientId[$1] }

        let parts = Parallel.ranges(sampled.count, parts: workers * 4)
        let rules = MatchWeights.trainingRules.count
        let counted = Parallel.map(parts.count) { k -> ([[MatchWeights.Vector: Int]], [MatchWeights.Vector: Int]) in
            var blocked = [[MatchWeights.Vector: Int]](repeating: [:], count: rules)
            var random: [MatchWeights.Vector: Int] = [:]
            for i in parts[k] {
                let row = sampled[i]
                let record = Self.identity(care, row)
                for (rule, key) in Self.trainingKeys(record).enumerated() {
                    guard let key else { continue }
                    for entry in block(key, limit: Self.largestTrainingBlock) {
                        blocked[rule][MatchWeights.compare(record, identities[registration(entry)]), default: 0] += 1
                    }
                }
                guard !registrations.isEmpty else { continue }
                let pairs = Self.randomPairs / max(1, sampled.count) + 1
                for t in 0..<pairs {
                    let j = Int(Self.hash(7, t, care.recordId[row], "") % UInt64(registrations.count))
                    random[MatchWeights.compare(record, identities[registrations[j]]), default: 0] += 1
                }
            }
            return (blocked, random)
        }
        var blocked = [[MatchWeights.Vector: Int]](repeating: [:], count: rules)
        var random: [MatchWeights.Vector: Int] = [:]
        for (b, r) in counted {
            for rule in 0..<rules { blocked[rule].merge(b[rule], uniquingKeysWith: +) }
            random.merge(r, uniquingKeysWith: +)
        }
        // How common each name and postcode is among the spine's people, for exact agreement.
        var frequency = [[String: Int]](repeating: [:], count: 3)
        for r in registrationOfPerson.map(Int.init) {
            let identity = identities[r]
            for (i, value) in [identity.given, identity.family, identity.postcode].enumerated() where !value.isEmpty {
                frequency[i][value, default: 0] += 1
            }
        }
        let persons = max(1, personKeys.count)
        return MatchModel(
            weights: MatchWeights.estimate(random: random, blocked: blocked, persons: persons), frequency: frequency,
            persons: persons, estimationRecords: sampled.count, blockedPairs: blocked.reduce(0) { $0 + $1.values.reduce(0, +) },
            randomPairs: random.values.reduce(0, +), estimatedInRun: run, estimatedAsOf: asOf.description)
    }

    /// A digest of the registrations a record is compared with, whatever their order.
    func evidence(_ candidates: [Int32]) -> UInt64 {
        var digests = candidates.map { content[Int($0)] }
        digests.sort()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * digests.count)
        for d in digests { for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: d >> UInt64(8 * i))) } }
        return SHA256.hash(data: bytes).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The person a record links to (-1 for none), the probability of its best candidate, and
    /// its best two people with the registration that scored highest for each.
    func ranking(_ record: MatchWeights.Identity, _ candidates: [Int32], _ model: MatchModel)
        -> (person: Int32, probability: Double, candidates: [ReviewItem.Candidate])
    {
        var byPerson: [Int32: (weight: Double, registration: Int32, vector: MatchWeights.Vector)] = [:]
        for r in candidates {
            let other = identities[Int(r)]
            let v = MatchWeights.compare(record, other)
            let w = weight(v, other, model)
            let person = personOfRegistration[Int(r)]
            if w > byPerson[person]?.weight ?? -.infinity { byPerson[person] = (w, r, v) }
        }
        let ranked = byPerson.sorted { ($0.value.weight, $1.key) > ($1.value.weight, $0.key) }
        guard let first = ranked.first else { return (-1, 0, []) }
        let probability = MatchWeights.probability(first.value.weight)
        let clear = ranked.count < 2 || first.value.weight - ranked[1].value.weight >= log2(MatchWeights.margin)
        let top = ranked.prefix(2).map { person, best in
            ReviewItem.Candidate(
                person: personKeys[Int(person)], registration: Int(best.registration),
                probability: MatchWeights.probability(best.weight),
                levels: MatchWeights.Field.allCases.map { $0.levels[MatchWeights.level(best.vector, $0)] })
        }
        return (probability >= MatchWeights.threshold && clear ? first.key : -1, probability, top)
    }

    /// Whether an id falls in a sample of about `share`, by its hash.
    static func chosen(_ id: String, _ share: Double) -> Bool {
        share >= 1 || Double(hash(8, 0, id, "") >> 11) * 0x1.0p-53 < share
    }
}
