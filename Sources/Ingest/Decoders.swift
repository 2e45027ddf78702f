import PHMCore

/// Lookups a row may be checked against: practices, areas and patients read earlier.
struct References: Sendable {
    var practices = KeyIndex()
    var areas = KeyIndex()
    var patients = KeyIndex()
    var patientBirth: [Day] = []
}

/// The per-file decoders: each reads one row's fields, checks every rule, and appends the row.
enum Decoders {
    static func practices() -> RowDecoder<PracticeRecords> {
        let names = InputContract.practices.columns.map(\.name)
        return { row, c, piece throws(RowError) in
            for i in [0, 2, 4, 6] { try Field.orgCode(row[c[i]], names[i]) }
            for i in [1, 3, 5, 7] {
                try Field.required(row[c[i]], names[i])
                try Field.optionalText(row[c[i]], names[i])
            }
            let t = { (i: Int) in Field.text(row[c[i]]) }
            piece.batch.code.append(t(0))
            piece.batch.name.append(t(1))
            piece.batch.pcn.append(Hierarchy.Unit(code: t(2), name: t(3)))
            piece.batch.locality.append(Hierarchy.Unit(code: t(4), name: t(5)))
            piece.batch.organisation.append(Hierarchy.Unit(code: t(6), name: t(7)))
        }
    }

    static func areas() -> RowDecoder<AreaRecords> {
        { row, c, piece throws(RowError) in
            let code = row[c[0]]
            try Field.required(code, "lsoa_code")
            guard code.count == 9, CodeFormat.isLetter(code[0]), code.dropFirst().allSatisfy(CodeFormat.isDigit) else {
                throw RowError(
                    "lsoa_code", .codeFormat, "lsoa_code \(Field.show(code)) is not an area code (a letter and 8 digits)")
            }
            guard let decile = try Field.optionalDecimal(row[c[1]], "imd_decile") else {
                throw RowError("imd_decile", .missingValue, "imd_decile is required but empty")
            }
            guard decile == decile.rounded(), (1...10).contains(decile) else {
                throw RowError(
                    "imd_decile", .outOfRange, "imd_decile \(Field.show(row[c[1]])) must be a whole number from 1 to 10")
            }
            let score = try Field.optionalDecimal(row[c[2]], "imd_score")
            var indicators: [Float] = []
            for extra in c.extras {
                let value = try Field.optionalDecimal(row[extra.position], extra.name)
                indicators.append(value.map(Float.init) ?? .nan)
            }
            piece.batch.code.append(Field.text(code))
            piece.batch.imdDecile.append(UInt8(decile))
            piece.batch.imdScore.append(score.map(Float.init) ?? .nan)
            piece.batch.indicatorRows.append(indicators)
        }
    }

    static func postcodes(_ refs: References) -> RowDecoder<PostcodeRecords> {
        { row, c, piece throws(RowError) in
            try Field.required(row[c[0]], "postcode")
            guard let postcode = Postcode.normalise(row[c[0]]) else {
                throw RowError("postcode", .codeFormat, "postcode \(Field.show(row[c[0]])) is not a UK postcode")
            }
            try Field.required(row[c[1]], "lsoa_code")
            guard refs.areas.find(row[c[1]]) != nil else {
                throw RowError("lsoa_code", .unknownArea, "lsoa_code \(Field.show(row[c[1]])) is not in areas.csv")
            }
            piece.batch.postcode.append(postcode)
            piece.batch.lsoa.append(Field.text(row[c[1]]))
        }
    }

    static func patients(_ refs: References) -> RowDecoder<PatientRecords> {
        { row, c, piece throws(RowError) in
            try Field.identifier(row[c[0]], "patient_id")
            let nhs = nhsNumber(row[c[1]], &piece)
            try Field.optionalText(row[c[2]], "given_name")
            try Field.optionalText(row[c[3]], "family_name")
            let dob = try Field.date(row[c[4]], "date_of_birth", identifying: true)
            guard let sexByte = row[c[5]].first, row[c[5]].count == 1, let sex = Sex(code: sexByte) else {
                try Field.required(row[c[5]], "sex")
                throw RowError("sex", .enumValue, "sex \(Field.show(row[c[5]])) must be M, F, I or U")
            }
            let postcode = postcode(row[c[6]], &piece)
            var area: Int32 = -1
            if !row[c[7]].isEmpty {
                guard let found = refs.areas.find(row[c[7]]) else {
                    throw RowError("lsoa_code", .unknownArea, "lsoa_code \(Field.show(row[c[7]])) is not in areas.csv")
                }
                area = found
            }
            var ethnic: UInt8 = 0
            if !row[c[8]].isEmpty {
                guard row[c[8]].count == 1, EthnicCategory.codes.contains(row[c[8]][0]) else {
                    throw RowError(
                        "ethnic_category", .enumValue,
                        "ethnic_category \(Field.show(row[c[8]])) is not an NHS ethnic category code (A-S or Z)")
                }
                ethnic = row[c[8]][0]
            }
            try Field.required(row[c[9]], "practice_code")
            guard let practice = refs.practices.find(row[c[9]]) else {
                throw RowError(
                    "practice_code", .unknownPractice, "practice_code \(Field.show(row[c[9]])) is not in practices.csv")
            }
            let from = try Field.date(row[c[10]], "registered_from")
            let to = try Field.optionalDate(row[c[11]], "registered_to")
            if let to, to < from {
                throw RowError("registered_to", .dateOrder, "registered_to is before registered_from")
            }
            let death = try Field.optionalDate(row[c[12]], "date_of_death")
            if let death, death < dob {
                throw RowError("date_of_death", .dateOrder, "date_of_death is before date_of_birth")
            }
            if from < dob {
                throw RowError("registered_from", .dateOrder, "registered_from is before date_of_birth")
            }
            let optOut = try Field.flag(row[c[13]], "national_opt_out")
            piece.batch.patientId.append(Field.text(row[c[0]]))
            piece.batch.nhsNumber.append(nhs)
            piece.batch.givenName.append(Field.text(row[c[2]]))
            piece.batch.familyName.append(Field.text(row[c[3]]))
            piece.batch.dateOfBirth.append(dob)
            piece.batch.sex.append(sex)
            piece.batch.postcode.append(postcode)
            piece.batch.area.append(area)
            piece.batch.ethnicCategory.append(ethnic)
            piece.batch.practice.append(practice)
            piece.batch.registeredFrom.append(from)
            piece.batch.registeredTo.append(to ?? .max)
            piece.batch.death.append(death ?? .max)
            piece.batch.optedOut.append(optOut)
        }
    }

    static func gpEvents(_ refs: References) -> RowDecoder<ClinicalRecords> {
        { row, c, piece throws(RowError) in
            let patient = try patientRef(row[c[0]], refs)
            let day = try Field.date(row[c[1]], "event_date")
            let system = try codeSystem(row[c[2]], allowed: [.snomed, .read2, .ctv3, .icd10])
            let code = try piece.codes.intern(row[c[3]], system: system, column: "code")
            let value = try Field.optionalDecimal(row[c[4]], "value")
            try Field.optionalText(row[c[5]], "unit")
            piece.batch.registration.append(patient)
            piece.batch.day.append(day)
            piece.batch.code.append(code)
            piece.batch.value.append(value.map(Float.init) ?? .nan)
        }
    }

    static func prescriptions(_ refs: References) -> RowDecoder<PrescriptionRecords> {
        { row, c, piece throws(RowError) in
            let patient = try patientRef(row[c[0]], refs)
            let day = try Field.date(row[c[1]], "issue_date")
            let system = try codeSystem(row[c[2]], allowed: [.dmd, .bnf])
            let code = try piece.codes.intern(row[c[3]], system: system, column: "code")
            try Field.optionalText(row[c[4]], "description")
            let quantity = try Field.optionalMoney(row[c[5]], "quantity")
            let cost = try Field.optionalMoney(row[c[6]], "cost")
            piece.batch.registration.append(patient)
            piece.batch.day.append(day)
            piece.batch.code.append(code)
            piece.batch.quantity.append(quantity.map(Float.init) ?? .nan)
            piece.batch.cost.append(Float(cost ?? 0))
        }
    }

    // Secondary care files: record_id, six identity columns, then their own columns from index 7.

    static func inpatientSpells() -> RowDecoder<CareRecords> {
        { row, c, piece throws(RowError) in
            try Field.identifier(row[c[0]], "record_id")
            try Field.orgCode(row[c[7]], "provider_code")
            let admitted = try Field.date(row[c[8]], "admission_date")
            let discharged = try Field.optionalDate(row[c[9]], "discharge_date")
            if let discharged, discharged < admitted {
                throw RowError("discharge_date", .dateOrder, "discharge_date is before admission_date")
            }
            try Field.required(row[c[10]], "admission_method")
            guard let kind = ActivityKind.admission(method: row[c[10]]) else {
                throw RowError(
                    "admission_method", .enumValue,
                    "admission_method \(Field.show(row[c[10]])) is not an NHS admission method code")
            }
            try Field.required(row[c[11]], "primary_diagnosis")
            let diagnosis = try piece.codes.intern(row[c[11]], system: .icd10, column: "primary_diagnosis")
            var secondary: [Int32] = []
            let list = row[c[12]]
            if !list.isEmpty {
                for part in list.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false) {
                    secondary.append(
                        try piece.codes.intern(
                            UnsafeRawBufferPointer(rebasing: part), system: .icd10, column: "secondary_diagnoses"))
                }
            }
            let procedure =
                row[c[13]].isEmpty ? -1 : try piece.codes.intern(row[c[13]], system: .opcs4, column: "primary_procedure")
            let cost = try Field.money(row[c[14]], "cost")
            appendCare(
                row, c, &piece, kind: kind, day: admitted, end: discharged, cost: cost, diagnosis: diagnosis,
                secondary: secondary, procedure: procedure, provider: OrganisationCode.pack(row[c[7]]))
        }
    }

    static func aeAttendances() -> RowDecoder<CareRecords> {
        { row, c, piece throws(RowError) in
            try Field.identifier(row[c[0]], "record_id")
            try Field.orgCode(row[c[7]], "provider_code")
            let arrived = try Field.date(row[c[8]], "arrival_date")
            var diagnosis: Int32 = -1
            let code = row[c[9]]
            if !code.isEmpty {
                let system: CodeSystem = code.allSatisfy(CodeFormat.isDigit) ? .snomed : .icd10
                diagnosis = try piece.codes.intern(code, system: system, column: "diagnosis")
            }
            let cost = try Field.money(row[c[10]], "cost")
            appendCare(
                row, c, &piece, kind: .aeAttendance, day: arrived, end: nil, cost: cost, diagnosis: diagnosis, secondary: [],
                procedure: -1, provider: OrganisationCode.pack(row[c[7]]))
        }
    }

    static func outpatientAppointments() -> RowDecoder<CareRecords> {
        { row, c, piece throws(RowError) in
            try Field.identifier(row[c[0]], "record_id")
            try Field.orgCode(row[c[7]], "provider_code")
            let day = try Field.date(row[c[8]], "appointment_date")
            let attended = try Field.flag(row[c[9]], "attended")
            let tfc = row[c[10]]
            if !tfc.isEmpty, !(tfc.count == 3 && tfc.allSatisfy(CodeFormat.isDigit)) {
                throw RowError(
                    "treatment_function_code", .codeFormat, "treatment_function_code \(Field.show(tfc)) is not three digits")
            }
            let cost = try Field.money(row[c[11]], "cost")
            appendCare(
                row, c, &piece, kind: attended ? .outpatientAttended : .outpatientDidNotAttend, day: day, end: nil, cost: cost,
                diagnosis: -1, secondary: [], procedure: -1, provider: OrganisationCode.pack(row[c[7]]))
        }
    }

    static func careContacts() -> RowDecoder<CareRecords> {
        { row, c, piece throws(RowError) in
            try Field.identifier(row[c[0]], "record_id")
            try Field.required(row[c[7]], "setting")
            guard let kind = CareSetting.careContact(Field.text(row[c[7]])) else {
                throw RowError(
                    "setting", .enumValue,
                    "setting \(Field.show(row[c[7]])) must be community, mental_health, social_care, ambulance or other")
            }
            try Field.optionalText(row[c[8]], "service")
            let start = try Field.date(row[c[9]], "start_date")
            let end = try Field.optionalDate(row[c[10]], "end_date")
            if let end, end < start { throw RowError("end_date", .dateOrder, "end_date is before start_date") }
            let cost = try Field.money(row[c[11]], "cost")
            appendCare(row, c, &piece, kind: kind, day: start, end: end, cost: cost, diagnosis: -1, secondary: [], procedure: -1)
        }
    }

    // MARK: Shared pieces

    private static func appendCare(
        _ row: Row, _ c: ColumnMap, _ piece: inout Piece<CareRecords>, kind: ActivityKind, day: Day, end: Day?,
        cost: Double, diagnosis: Int32, secondary: [Int32], procedure: Int32, provider: UInt64 = 0
    ) {
        let nhs = nhsNumber(row[c[1]], &piece)
        var dob = Day.missing
        if !row[c[4]].isEmpty {
            if let parsed = Day(iso: row[c[4]]) { dob = parsed } else { piece.warn(.dateOfBirthFormat) }
        }
        var sex: Sex?
        if !row[c[5]].isEmpty {
            sex = row[c[5]].count == 1 ? Sex(code: row[c[5]][0]) : nil
            if sex == nil { piece.warn(.sexValue) }
        }
        piece.batch.recordId.append(Field.text(row[c[0]]))
        piece.batch.kind.append(kind)
        piece.batch.day.append(day)
        piece.batch.endDay.append(end ?? .max)
        piece.batch.cost.append(Float(cost))
        piece.batch.diagnosis.append(diagnosis)
        piece.batch.secondaryCodes.append(contentsOf: secondary)
        piece.batch.secondaryStart.append(Int32(piece.batch.secondaryCodes.count))
        piece.batch.procedure.append(procedure)
        piece.batch.provider.append(provider)
        piece.batch.nhsNumber.append(nhs)
        piece.batch.dateOfBirth.append(dob)
        piece.batch.sex.append(sex)
        piece.batch.givenName.append(NameKey.normalise(row[c[2]]))
        piece.batch.familyName.append(NameKey.normalise(row[c[3]]))
        piece.batch.postcode.append(postcode(row[c[6]], &piece))
        // The source's ethnic category, last of the file's columns; a code that is not one is
        // counted and read as none: it only groups linkage quality.
        let ethnic = row[c[c.positions.count - 1]]
        if ethnic.count == 1, EthnicCategory.codes.contains(ethnic[0]) {
            piece.batch.ethnicCategory.append(ethnic[0])
        } else {
            if !ethnic.isEmpty { piece.warn(.ethnicCategoryValue) }
            piece.batch.ethnicCategory.append(0)
        }
    }

    /// A usable NHS number or 0; an unusable one is counted, and the row kept.
    private static func nhsNumber<B>(_ bytes: UnsafeRawBufferPointer, _ piece: inout Piece<B>) -> UInt64 {
        if bytes.isEmpty { return 0 }
        switch NHSNumber.check(bytes) {
        case .valid(let value): return value
        case .malformed: piece.warn(.nhsNumberMalformed)
        case .badCheckDigit: piece.warn(.nhsNumberCheckDigit)
        }
        return 0
    }

    private static func postcode<B>(_ bytes: UnsafeRawBufferPointer, _ piece: inout Piece<B>) -> String {
        if bytes.isEmpty { return "" }
        if let normal = Postcode.normalise(bytes) { return normal }
        piece.warn(.postcodeFormat)
        return ""
    }

    private static func patientRef(_ bytes: UnsafeRawBufferPointer, _ refs: References) throws(RowError) -> Int32 {
        try Field.required(bytes, "patient_id")
        guard let index = refs.patients.find(bytes) else {
            throw RowError("patient_id", .unknownPatient, "patient_id \(Field.show(bytes)) is not in patients.csv")
        }
        return index
    }

    private static func codeSystem(_ bytes: UnsafeRawBufferPointer, allowed: [CodeSystem]) throws(RowError) -> CodeSystem {
        try Field.required(bytes, "code_system")
        let name = Field.text(bytes)
        guard let system = allowed.first(where: { $0.name == name }) else {
            throw RowError(
                "code_system", .enumValue,
                "code_system \(Field.show(bytes)) must be one of \(allowed.map(\.name).joined(separator: ", "))")
        }
        return system
    }
}
