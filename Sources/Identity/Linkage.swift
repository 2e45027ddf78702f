import Ingest
import Outputs
import PHMCore

/// How a secondary or community care record was linked to a person on the GP spine.
///
/// Rules are tried in order; a demographic rule links only when exactly one person on the
/// spine has the key (ambiguous keys never link).
public enum LinkRule: UInt8, Sendable, Codable, CaseIterable {
    /// Valid NHS number on the spine and the same date of birth.
    case nhsNumberAndBirth
    /// Valid NHS number on the spine, date of birth missing or different, same family name and sex.
    case nhsNumberAndName
    /// Same date of birth, sex, family name and postcode.
    case birthSexNamePostcode
    /// Same date of birth, sex, postcode and first letter of given name (family name misspelt or changed).
    case birthSexPostcodeInitial
    /// Same date of birth, sex, family name and given name (moved house).
    case birthSexNames
    /// A Fellegi-Sunter match probability of at least 0.99, clear of the next person
    /// (`ProbabilisticLinker`).
    case matchWeight
    /// A reviewer judged the record and the person the same (`ReviewItem`).
    case clericalReview
    /// No rule matched.
    case unlinked

    public var name: String {
        switch self {
        case .nhsNumberAndBirth: "nhs_number+date_of_birth"
        case .nhsNumberAndName: "nhs_number+family_name+sex"
        case .birthSexNamePostcode: "date_of_birth+sex+family_name+postcode"
        case .birthSexPostcodeInitial: "date_of_birth+sex+postcode+given_initial"
        case .birthSexNames: "date_of_birth+sex+family_name+given_name"
        case .matchWeight: "match_weight"
        case .clericalReview: "clerical_review"
        case .unlinked: LinkageCounts.unlinked
        }
    }
}

/// The persons of the GP spine: registrations grouped by valid NHS number.
public struct Spine: Sendable {
    /// For each registration in `PatientRecords`, its person.
    public var personOfRegistration: [Int32]
    /// For each person, the registration that describes them at as-of (current, else latest).
    public var registrationOfPerson: [Int32]
    /// For each person, every registration (offsets into `registrations`).
    public var registrationStart: [Int32]
    public var registrations: [Int32]

    public var count: Int { registrationOfPerson.count }

    /// Groups registrations into persons and picks each person's registration at `asOf`.
    public init(patients: PatientRecords, asOf: Day) {
        var personOfNHS: [UInt64: Int32] = [:]
        personOfNHS.reserveCapacity(patients.count)
        var personOfRegistration = [Int32](repeating: 0, count: patients.count)
        var members: [[Int32]] = []
        for r in 0..<patients.count {
            let nhs = patients.nhsNumber[r]
            if nhs != 0, let p = personOfNHS[nhs] {
                personOfRegistration[r] = p
                members[Int(p)].append(Int32(r))
            } else {
                let p = Int32(members.count)
                if nhs != 0 { personOfNHS[nhs] = p }
                personOfRegistration[r] = p
                members.append([Int32(r)])
            }
        }
        func covers(_ r: Int) -> Bool { patients.registeredFrom[r] <= asOf && asOf < patients.registeredTo[r] }
        registrationOfPerson = members.map { regs in
            if regs.count == 1 { return regs[0] }
            if let current = regs.first(where: { covers(Int($0)) }) { return current }
            return regs.max { patients.registeredFrom[Int($0)] < patients.registeredFrom[Int($1)] }!
        }
        self.personOfRegistration = personOfRegistration
        registrationStart = [0]
        registrations = []
        for regs in members {
            registrations.append(contentsOf: regs)
            registrationStart.append(Int32(registrations.count))
        }
    }
}

/// The result of linking care records to the spine.
public struct Linkage: Sendable {
    /// For each care record, its person on the spine, or -1.
    public var person: [Int32]
    public var rule: [LinkRule]
    public var nhsConflict: [Bool]
    /// What the match-weight stage did, once it has run.
    public var probabilistic: LinkageReport.Probabilistic?
}

/// Deterministic linkage of secondary and community care records to the GP spine.
public struct Linker: Sendable {
    private var byNHS: [UInt64: Int32] = [:]
    private var byFullKey: [UInt64: Int32] = [:]
    private var byInitialKey: [UInt64: Int32] = [:]
    private var byNamesKey: [UInt64: Int32] = [:]
    private let birth: [Day]
    private let sex: [Sex]
    private let family: [String]

    static let ambiguous: Int32 = -2

    /// Indexes every registration of every spine person (old addresses and names included).
    public init(patients: PatientRecords, spine: Spine) {
        byNHS.reserveCapacity(spine.count)
        func add(_ key: UInt64, _ person: Int32, to table: inout [UInt64: Int32]) {
            if let existing = table[key], existing != person { table[key] = Linker.ambiguous } else { table[key] = person }
        }
        var birth = [Day](repeating: .missing, count: spine.count)
        var sex = [Sex](repeating: .unknown, count: spine.count)
        var family = [String](repeating: "", count: spine.count)
        for r in 0..<patients.count {
            let person = spine.personOfRegistration[r]
            let nhs = patients.nhsNumber[r]
            if nhs != 0 { byNHS[nhs] = person }
            let dob = patients.dateOfBirth[r]
            let s = patients.sex[r]
            let familyKey = NameKey.normalise(patients.familyName[r])
            let givenKey = NameKey.normalise(patients.givenName[r])
            let postcode = patients.postcode[r]
            if Int(spine.registrationOfPerson[Int(person)]) == r {
                birth[Int(person)] = dob
                sex[Int(person)] = s
                family[Int(person)] = familyKey
            }
            if !familyKey.isEmpty, !postcode.isEmpty {
                add(Linker.key(dob, s, familyKey, postcode), person, to: &byFullKey)
            }
            if !postcode.isEmpty, let initial = givenKey.first {
                add(Linker.key(dob, s, postcode, String(initial), salt: 1), person, to: &byInitialKey)
            }
            if !familyKey.isEmpty, !givenKey.isEmpty {
                add(Linker.key(dob, s, familyKey, givenKey, salt: 2), person, to: &byNamesKey)
            }
        }
        self.birth = birth
        self.sex = sex
        self.family = family
    }

    /// Links every care record, in parallel.
    public func link(_ care: CareRecords, workers: Int) -> Linkage {
        let parts = Parallel.ranges(care.count, parts: workers * 4)
        let results = Parallel.map(parts.count) { k in
            parts[k].map { link(care, row: $0) }
        }
        var person: [Int32] = []
        var rule: [LinkRule] = []
        var conflict: [Bool] = []
        person.reserveCapacity(care.count)
        rule.reserveCapacity(care.count)
        for part in results {
            for r in part {
                person.append(r.0)
                rule.append(r.1)
                conflict.append(r.2)
            }
        }
        return Linkage(person: person, rule: rule, nhsConflict: conflict)
    }

    /// Links one record: (person or -1, rule, whether its NHS number disagreed with the spine).
    public func link(_ care: CareRecords, row: Int) -> (Int32, LinkRule, Bool) {
        let dob = care.dateOfBirth[row]
        let recordFamily = care.familyName[row]
        var conflict = false
        let nhs = care.nhsNumber[row]
        if nhs != 0, let person = byNHS[nhs] {
            if dob == birth[Int(person)] { return (person, .nhsNumberAndBirth, false) }
            if !recordFamily.isEmpty, recordFamily == family[Int(person)], care.sex[row] == sex[Int(person)] {
                return (person, .nhsNumberAndName, false)
            }
            conflict = true
        }
        guard dob != .missing, let s = care.sex[row] else { return (-1, .unlinked, conflict) }
        let postcode = care.postcode[row]
        let given = care.givenName[row]
        if !recordFamily.isEmpty, !postcode.isEmpty,
            let person = byFullKey[Linker.key(dob, s, recordFamily, postcode)], person >= 0
        {
            return (person, .birthSexNamePostcode, conflict)
        }
        if !postcode.isEmpty, let initial = given.first,
            let person = byInitialKey[Linker.key(dob, s, postcode, String(initial), salt: 1)], person >= 0
        {
            return (person, .birthSexPostcodeInitial, conflict)
        }
        if !recordFamily.isEmpty, !given.isEmpty,
            let person = byNamesKey[Linker.key(dob, s, recordFamily, given, salt: 2)], person >= 0
        {
            return (person, .birthSexNames, conflict)
        }
        return (-1, .unlinked, conflict)
    }

    /// A 64-bit key for a demographic combination (collisions among a few million keys have
    /// probability about 1e-7).
    static func key(_ dob: Day, _ sex: Sex, _ a: String, _ b: String, salt: UInt64 = 0) -> UInt64 {
        KeyHash.of(dob.rawValue, sex.rawValue, a, b, salt: salt)
    }
}

/// The 64-bit keys of linkage: FNV-1a over a number, a tag and two strings (a separator
/// between them), then MurmurHash3's 64-bit finaliser, so that nearby inputs spread.
enum KeyHash {
    static func of<Number>(_ number: Number, _ tag: UInt8, _ a: String, _ b: String, salt: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ salt
        func mix(_ byte: UInt8) {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        withUnsafeBytes(of: number) { for b in $0 { mix(b) } }
        mix(tag)
        for b in a.utf8 { mix(b) }
        mix(0x1F)
        for b in b.utf8 { mix(b) }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
