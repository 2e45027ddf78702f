import PHMCore

/// Accepted rows of `practices.csv`.
public struct PracticeRecords: RecordBatch {
    public var code: [String] = []
    public var name: [String] = []
    public var pcn: [Hierarchy.Unit] = []
    public var locality: [Hierarchy.Unit] = []
    public var organisation: [Hierarchy.Unit] = []
    public init() {}
    public var count: Int { code.count }

    mutating func append(_ o: PracticeRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        code.append(o.code, skipping: s)
        name.append(o.name, skipping: s)
        pcn.append(o.pcn, skipping: s)
        locality.append(o.locality, skipping: s)
        organisation.append(o.organisation, skipping: s)
    }
}

/// Accepted rows of `areas.csv`; indicator values are row-major, one per extra column.
public struct AreaRecords: RecordBatch {
    public var code: [String] = []
    public var imdDecile: [UInt8] = []
    public var imdScore: [Float] = []
    public var indicatorRows: [[Float]] = []
    public init() {}
    public var count: Int { code.count }

    mutating func append(_ o: AreaRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        code.append(o.code, skipping: s)
        imdDecile.append(o.imdDecile, skipping: s)
        imdScore.append(o.imdScore, skipping: s)
        indicatorRows.append(o.indicatorRows, skipping: s)
    }
}

/// Accepted rows of `patients.csv`: GP registrations, the identity spine.
///
/// Identifying columns (NHS number, names, date of birth, postcode) are held here only until
/// the identity stage moves them to the vault.
public struct PatientRecords: RecordBatch {
    public var patientId: [String] = []
    /// The NHS number where it is ten digits with a valid check digit, else 0.
    public var nhsNumber: [UInt64] = []
    public var givenName: [String] = []
    public var familyName: [String] = []
    public var dateOfBirth: [Day] = []
    public var sex: [Sex] = []
    /// Normalised postcode, or empty where missing or not a postcode.
    public var postcode: [String] = []
    public var area: [Int32] = []
    /// Ethnic category code letter, 0 where missing.
    public var ethnicCategory: [UInt8] = []
    public var practice: [Int32] = []
    public var registeredFrom: [Day] = []
    public var registeredTo: [Day] = []
    public var death: [Day] = []
    public var optedOut: [Bool] = []
    public init() {}
    public var count: Int { patientId.count }

    mutating func append(_ o: PatientRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        patientId.append(o.patientId, skipping: s)
        nhsNumber.append(o.nhsNumber, skipping: s)
        givenName.append(o.givenName, skipping: s)
        familyName.append(o.familyName, skipping: s)
        dateOfBirth.append(o.dateOfBirth, skipping: s)
        sex.append(o.sex, skipping: s)
        postcode.append(o.postcode, skipping: s)
        area.append(o.area, skipping: s)
        ethnicCategory.append(o.ethnicCategory, skipping: s)
        practice.append(o.practice, skipping: s)
        registeredFrom.append(o.registeredFrom, skipping: s)
        registeredTo.append(o.registeredTo, skipping: s)
        death.append(o.death, skipping: s)
        optedOut.append(o.optedOut, skipping: s)
    }
}

/// Accepted rows of `postcodes.csv`.
struct PostcodeRecords: RecordBatch {
    var postcode: [String] = []
    var lsoa: [String] = []
    var count: Int { postcode.count }

    mutating func append(_ o: PostcodeRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        postcode.append(o.postcode, skipping: s)
        lsoa.append(o.lsoa, skipping: s)
    }
}

/// Accepted rows of `gp_events.csv`; `registration` indexes `PatientRecords`.
public struct ClinicalRecords: RecordBatch {
    public var registration: [Int32] = []
    public var day: [Day] = []
    public var code: [Int32] = []
    public var value: [Float] = []
    public init() {}
    public var count: Int { day.count }

    mutating func append(_ o: ClinicalRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        registration.append(contentsOf: o.registration)
        day.append(contentsOf: o.day)
        // An empty map: the ids are already the extract's (a FHIR file's batch, read whole).
        code.append(contentsOf: codeMap.isEmpty ? o.code : o.code.map { codeMap[Int($0)] })
        value.append(contentsOf: o.value)
    }

    func forEachCode(skipping s: Set<Int>, _ body: (Int32) -> Void) { code.forEach(body) }
}

/// Accepted rows of `prescriptions.csv`.
public struct PrescriptionRecords: RecordBatch {
    public var registration: [Int32] = []
    public var day: [Day] = []
    public var code: [Int32] = []
    public var quantity: [Float] = []
    public var cost: [Float] = []
    public init() {}
    public var count: Int { day.count }

    mutating func append(_ o: PrescriptionRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        registration.append(contentsOf: o.registration)
        day.append(contentsOf: o.day)
        // An empty map: the ids are already the extract's (a FHIR file's batch, read whole).
        code.append(contentsOf: codeMap.isEmpty ? o.code : o.code.map { codeMap[Int($0)] })
        quantity.append(contentsOf: o.quantity)
        cost.append(contentsOf: o.cost)
    }

    func forEachCode(skipping s: Set<Int>, _ body: (Int32) -> Void) { code.forEach(body) }
}

/// Accepted rows of the secondary and community care files, with the identity as the other
/// organisation recorded it (for linkage to the spine).
public struct CareRecords: RecordBatch {
    public var recordId: [String] = []
    public var kind: [ActivityKind] = []
    public var day: [Day] = []
    public var endDay: [Day] = []
    public var cost: [Float] = []
    public var diagnosis: [Int32] = []
    public var secondaryStart: [Int32] = [0]
    public var secondaryCodes: [Int32] = []
    public var procedure: [Int32] = []
    /// The provider's organisation code (`OrganisationCode.pack`), 0 for files without one.
    public var provider: [UInt64] = []
    // Identity as recorded by the source.
    public var nhsNumber: [UInt64] = []
    /// `Day.missing` where missing or invalid.
    public var dateOfBirth: [Day] = []
    /// nil where missing or invalid.
    public var sex: [Sex?] = []
    /// Normalised (see `NameKey`), empty where missing.
    public var familyName: [String] = []
    public var givenName: [String] = []
    public var postcode: [String] = []
    /// The NHS ethnic category letter the source recorded (for linkage quality), 0 where none.
    public var ethnicCategory: [UInt8] = []
    public init() {}
    public var count: Int { day.count }

    mutating func append(_ o: CareRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        func mapped(_ id: Int32) -> Int32 { id < 0 || codeMap.isEmpty ? id : codeMap[Int(id)] }
        recordId.append(o.recordId, skipping: s)
        kind.append(o.kind, skipping: s)
        day.append(o.day, skipping: s)
        endDay.append(o.endDay, skipping: s)
        cost.append(o.cost, skipping: s)
        diagnosis.append(o.diagnosis.map(mapped), skipping: s)
        procedure.append(o.procedure.map(mapped), skipping: s)
        provider.append(o.provider, skipping: s)
        if s.isEmpty {
            let base = Int32(secondaryCodes.count)
            secondaryCodes.append(contentsOf: o.secondaryCodes.lazy.map(mapped))
            secondaryStart.append(contentsOf: o.secondaryStart.dropFirst().lazy.map { $0 + base })
        } else {
            for row in 0..<o.count where !s.contains(row) {
                for i in Int(o.secondaryStart[row])..<Int(o.secondaryStart[row + 1]) {
                    secondaryCodes.append(mapped(o.secondaryCodes[i]))
                }
                secondaryStart.append(Int32(secondaryCodes.count))
            }
        }
        nhsNumber.append(o.nhsNumber, skipping: s)
        dateOfBirth.append(o.dateOfBirth, skipping: s)
        sex.append(o.sex, skipping: s)
        familyName.append(o.familyName, skipping: s)
        givenName.append(o.givenName, skipping: s)
        postcode.append(o.postcode, skipping: s)
        ethnicCategory.append(o.ethnicCategory, skipping: s)
    }

    func forEachCode(skipping s: Set<Int>, _ body: (Int32) -> Void) {
        for row in 0..<count where !s.contains(row) {
            body(diagnosis[row])
            for i in Int(secondaryStart[row])..<Int(secondaryStart[row + 1]) { body(secondaryCodes[i]) }
            if !procedure.isEmpty { body(procedure[row]) }
        }
    }

    /// Appends all rows of another file's records.
    public mutating func append(contentsOf other: CareRecords) {
        append(other, skipping: [], codeMap: [])
    }
}

extension Day {
    /// Marks a missing date in columns that must hold a value.
    public static let missing = Day(rawValue: Int32.min)
}

/// An organisation code (3 to 10 upper-case letters and digits, as `Field.orgCode` accepts)
/// packed into one integer, base 37, so a care record carries its provider without a string.
public enum OrganisationCode {
    public static func pack(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard (1...10).contains(bytes.count) else { return 0 }
        var value: UInt64 = 0
        for b in bytes {
            let digit: UInt64 =
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(b - UInt8(ascii: "0")) + 1
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt64(b - UInt8(ascii: "A")) + 11
                default: 0
                }
            guard digit > 0 else { return 0 }
            value = value * 37 + digit
        }
        return value
    }

    public static func text(_ packed: UInt64) -> String {
        var value = packed, characters: [Character] = []
        while value > 0 {
            let digit = value % 37
            value /= 37
            characters.append(
                digit <= 10
                    ? Character(UnicodeScalar(UInt8(ascii: "0") + UInt8(digit - 1)))
                    : Character(UnicodeScalar(UInt8(ascii: "A") + UInt8(digit - 11))))
        }
        return String(characters.reversed())
    }
}
