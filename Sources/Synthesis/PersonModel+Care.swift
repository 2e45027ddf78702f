import Foundation
import PHMCore

extension PersonModel {
    static let cardiometabolic: Set<String> = [
        "hypertension", "diabetes", "chronic_kidney_disease", "coronary_heart_disease", "stroke_tia", "heart_failure",
        "atrial_fibrillation",
    ]
    static let mentalHealth: Set<String> = [
        "depression", "anxiety", "schizophrenia_bipolar", "dementia", "substance_misuse", "alcohol", "anorexia_bulimia",
    ]
    /// Mean acute (one-off) prescription types per year by LTC band; repeat medicines come from conditions.
    static let acuteTypes: [Double] = [0.9, 0.9, 1.15, 1.6, 1.8, 2.1, 2.2, 2.2, 2.9]

    // MARK: Primary care

    func primaryCare(
        _ person: Int, gpId: String, age: Int, birth: Day, decile: Int, conditions: [Condition], until: Day,
        block: inout Block, rng: inout Xoshiro
    ) {
        let gp = PersonModel.gp, rx = PersonModel.rx
        func event(_ day: Day, _ code: String, value: Double? = nil, unit: String = "") {
            guard day < until, day >= birth else { return }
            block.files[gp].field(gpId)
            block.files[gp].field(day)
            block.files[gp].field("SNOMED")
            block.files[gp].field(code)
            if let value { block.files[gp].field(tenths: value) } else { block.files[gp].empty() }
            if unit.isEmpty { block.files[gp].empty() } else { block.files[gp].field(unit) }
            block.end(gp)
        }
        let names = Set(conditions.map { Catalogue.conditions[$0.index].name })
        for c in conditions {
            let condition = Catalogue.conditions[c.index]
            if condition.prescriptionDefined && rng.chance(0.3) { continue }
            event(c.onset, condition.snomed[rng.int(0..<condition.snomed.count)])
        }
        let cardio = !names.isDisjoint(with: PersonModel.cardiometabolic)
        for year in 0..<(options.historyYears + options.followUpYears) {
            let start = historyStart.adding(months: 12 * year)
            func someday() -> Day { start.adding(days: rng.int(0..<365)) }
            if cardio || (age >= 40 && rng.chance(0.25)) {
                for _ in 0..<(cardio ? 1 + rng.int(0..<2) : 1) {
                    let mean = names.contains("hypertension") ? 142.0 : 126
                    event(someday(), Catalogue.systolicBP, value: (mean + 13 * rng.normal()).clamped(80, 230), unit: "mmHg")
                }
            }
            if names.contains("diabetes") {
                for _ in 0..<2 {
                    event(someday(), Catalogue.hba1c, value: (56 + 12 * rng.normal()).clamped(30, 130), unit: "mmol/mol")
                }
            }
            if names.contains("chronic_kidney_disease") {
                for _ in 0..<2 {
                    event(someday(), Catalogue.eGFR, value: (44 + 8 * rng.normal()).clamped(8, 59), unit: "mL/min/1.73m2")
                }
            } else if cardio {
                event(someday(), Catalogue.eGFR, value: (82 + 10 * rng.normal()).clamped(61, 120), unit: "mL/min/1.73m2")
            }
            if age >= 18, rng.chance(cardio ? 0.8 : 0.3) {
                let day = someday()
                let bmi = (26.5 + 0.3 * Double(10 - decile) + 5 * rng.normal()).clamped(15, 60)
                event(day, Catalogue.bodyMassIndex, value: bmi, unit: "kg/m2")
                if bmi >= 30, rng.chance(0.4) { event(day, Catalogue.obesity) }
            }
        }
        // Social factors, recorded once in the 20 months before as-of (so within every factor's
        // window), from their own stream; some people without one have a code saying so.
        var social = Xoshiro(seed: options.seed, UInt64(person), 6)
        func recently() -> Day { options.asOf.adding(days: -1 - social.int(0..<600)) }
        for (k, factor) in Catalogue.factors.enumerated() where factors[person] & (1 << k) != 0 {
            event(recently(), factor.snomed)
        }
        if age >= 18 {
            let smoker = Catalogue.factors.firstIndex { $0.name == "current_smoker" }!
            let drugs = Catalogue.factors.firstIndex { $0.name == "drug_misuse" }!
            if factors[person] & (1 << smoker) == 0, social.chance(0.25) { event(recently(), Catalogue.exSmoker) }
            if factors[person] & (1 << drugs) == 0, social.chance(0.05) { event(recently(), Catalogue.noDrugMisuse) }
        }
        maybeFault(gp, &block, &rng) { rows in
            rows.raw("\(gpId),2023-02-30,SNOMED,\(Catalogue.systolicBP),120,mmHg")
            return "date_format"
        }

        // Prescriptions: the two years before as-of and the follow-up year.
        let rxStart = options.asOf.adding(months: -PersonModel.prescriptionMonths)
        func issue(_ day: Day, _ code: String, quantity: Int, cost: Double) {
            guard day < until, day >= rxStart, day >= birth else { return }
            block.files[rx].field(gpId)
            block.files[rx].field(day)
            block.files[rx].field("BNF")
            block.files[rx].field(code)
            block.files[rx].empty()
            block.files[rx].field(quantity)
            block.files[rx].field(money: cost)
            block.end(rx)
        }
        var repeats: [String: (start: Day, interval: Int)] = [:]
        for c in conditions {
            let condition = Catalogue.conditions[c.index]
            guard !condition.medicines.isEmpty, condition.prescriptionDefined || condition.alwaysTreated || rng.chance(0.85)
            else { continue }
            let interval = condition.prescriptionDefined ? 56 : 84
            for medicine in condition.medicines {
                let start = max(c.onset, rxStart).adding(days: rng.int(0..<28))
                if let existing = repeats[medicine] {
                    repeats[medicine] = (min(existing.start, start), min(existing.interval, interval))
                } else {
                    repeats[medicine] = (start, interval)
                }
            }
        }
        for medicine in repeats.keys.sorted() {
            let plan = repeats[medicine]!
            let cost = rng.logNormal(median: 7, sigma: 0.8)
            var day = plan.start
            while day < until {
                issue(day, medicine, quantity: plan.interval, cost: cost)
                day = day.adding(days: plan.interval + rng.int(-5..<6))
            }
        }
        let band = min(8, ltcCount[person])
        for year in 0..<(2 + options.followUpYears) {
            let start = rxStart.adding(months: 12 * year)
            var chosen = Set<Int>()
            for _ in 0..<rng.poisson(PersonModel.acuteTypes[band]) {
                chosen.insert(rng.int(0..<Catalogue.acuteMedicines.count))
            }
            for m in chosen.sorted() {
                for _ in 0..<(rng.chance(0.7) ? 1 : 2) {
                    issue(
                        start.adding(days: rng.int(0..<365)), Catalogue.acuteMedicines[m], quantity: 7 * (1 + rng.int(0..<4)),
                        cost: rng.logNormal(median: 3, sigma: 0.6))
                }
            }
        }
        maybeFault(rx, &block, &rng) { rows in
            rows.raw("\(gpId),2024-06-01,BNF,0501013B0AAAAAA,,21,-4.50")
            return "negative_amount"
        }
    }

    // MARK: Hospital, community, mental health and social care

    func hospitalCare(
        _ person: Int, identity: Identity, registrations: [Registration], age: Int, decile: Int, conditions: [Condition],
        until: Day, block: inout Block, rng: inout Xoshiro
    ) {
        let names = Set(conditions.filter { $0.onset < options.asOf }.map { Catalogue.conditions[$0.index].name })
        let bandAtAsOf = Double(min(8, ltcCount[person]))
        let userShare = min(0.95, Calibration.activeShare * (1 + Calibration.activeSlope * bandAtAsOf))
        let user = rng.chance(userShare)
        let g = rng.gamma(shape: Calibration.personShape) / userShare
        // Where the person lives at as-of stands for where they lived throughout.
        let air = exp(Calibration.pm25Effect * (geography.areaIndicators[area[person]][0] - Calibration.pm25Centre))
        // And their social factors, relative to the population's mean effect.
        let social = Catalogue.factors.indices.reduce(1 / factorMeanEffect) {
            factors[person] & (1 << $1) != 0 ? $0 * Catalogue.factors[$1].emergencyEffect : $0
        }
        let keep = Calibration.activePersistence
        let become = (1 - keep) * userShare / (1 - userShare)
        var sequence = 0
        let start = max(historyStart, identity.birth)

        // Writes the record id and identity columns, and the ground-truth row.
        func begin(_ file: Int, _ prefix: String, _ day: Day, setting: String? = nil) {
            sequence += 1
            let id = prefix + Geography.pad(person, 8) + Geography.pad(sequence, 4)
            block.files[file].field(id)
            let postcode = registrations.last(where: { $0.from <= day })?.postcode ?? registrations[0].postcode
            if options.identities == .messy {
                messyIdentity(
                    identity, postcode: postcode, missingNHSNumber: Self.missingNHSNumber(file, setting),
                    into: &block.files[file], rng: &rng)
            } else {
                recordedIdentity(identity, postcode: postcode, into: &block.files[file], rng: &rng)
            }
            block.files[PersonModel.gtCare].field(SyntheticHealthSystem.headers[file].file)
            block.files[PersonModel.gtCare].field(id)
            block.files[PersonModel.gtCare].field(person)
            block.end(PersonModel.gtCare)
        }
        /// Ends a record with the ethnic category its source recorded: the GP record's, or with
        /// messy identities none on one record in ten.
        func finish(_ file: Int) {
            if let ethnic = identity.ethnic, options.identities == .typical || !rng.chance(0.1) {
                block.files[file].field(String(ethnic))
            } else {
                block.files[file].empty()
            }
            block.end(file)
        }
        func cost(mean: Double, sigma: Double) -> Double {
            // A log-normal with this mean.
            rng.logNormal(median: mean * exp(-sigma * sigma / 2), sigma: sigma)
        }

        var programme = Programme(self, person: person, identity: identity, registrations: registrations, until: until)
        for year in 0..<(options.historyYears + options.followUpYears) {
            let periodStart = historyStart.adding(months: 12 * year)
            // The seed counts conditions at the end of the year whose use it reports.
            let periodEnd = periodStart.adding(months: 12)
            let band = min(8, conditions.filter { $0.onset < periodEnd }.count)
            let h = rng.gamma(shape: Calibration.yearShape)
            let active = user ? rng.chance(keep) : rng.chance(become)
            let scale = active ? g * h : 0
            // Hospital events scale with the person's use; community and social care only by year.
            func days(_ rate: Double, hospital: Bool = true) -> [Day] { draw(rate * (hospital ? scale : h)) }
            /// Days of a Poisson number of events with this mean, within the person's time.
            func draw(_ expected: Double) -> [Day] {
                (0..<rng.poisson(expected)).map { _ in periodStart.adding(days: rng.int(0..<365)) }
                    .filter { $0 >= start && $0 < until }.sorted()
            }
            for day in days(Calibration.aeRate[band]) {
                begin(PersonModel.ae, "A", day)
                let f = PersonModel.ae
                block.files[f].field("RQX")
                block.files[f].field(day)
                let u = rng.uniform()
                if u < 0.3 {
                    block.files[f].field(Catalogue.acuteDiagnoses[rng.int(0..<Catalogue.acuteDiagnoses.count)])
                } else if u < 0.5 {
                    block.files[f].field(Catalogue.aeSnomedDiagnoses[rng.int(0..<Catalogue.aeSnomedDiagnoses.count)])
                } else {
                    block.files[f].empty()
                }
                block.files[f].field(money: cost(mean: Calibration.aeCost, sigma: 0.35))
                finish(f)
            }
            for day in days(Calibration.outpatientRate[band] / 0.92) {
                begin(PersonModel.op, "O", day)
                let f = PersonModel.op
                let attended = rng.chance(0.92)
                block.files[f].field("RQX")
                block.files[f].field(day)
                block.files[f].field(attended ? "Y" : "N")
                block.files[f].field(Catalogue.treatmentFunctions[rng.int(0..<Catalogue.treatmentFunctions.count)])
                block.files[f].field(money: attended ? cost(mean: Calibration.outpatientCost, sigma: 0.35) : 0)
                finish(f)
            }
            for day in days(Calibration.electiveRate[band]) {
                let los = rng.chance(0.7) ? 0 : 1 + rng.int(0..<4)
                spell(
                    day, los: los, method: rng.chance(0.8) ? "11" : "12",
                    primary: Catalogue.electiveDiagnoses[rng.int(0..<Catalogue.electiveDiagnoses.count)],
                    procedure: rng.chance(0.8)
                        ? Catalogue.electiveProcedures[rng.int(0..<Catalogue.electiveProcedures.count)] : "",
                    cost: cost(mean: Calibration.electiveCost[band], sigma: 0.6))
            }
            let emergencies: [Day]
            switch options.signal {
            case .full: emergencies = days(Calibration.emergencyRate[band] * air * social)
            case .weak:
                // About 5% a year; rate ratios 1.13 per decade of age, 1.11 per deprivation decile
                // and 1.25 per long-term condition.
                emergencies = draw(
                    0.02 * air * exp(0.12 * Double(age - 50) / 10 + 0.10 * Double(10 - decile) + 0.22 * Double(band)))
            case .none: emergencies = draw(0.05)
            }
            for day in emergencies {
                if programme?.prevents(day) == true { continue }
                let own = conditions.filter { $0.onset <= day }
                let primary =
                    !own.isEmpty && rng.chance(0.5)
                    ? Catalogue.conditions[own[rng.int(0..<own.count)].index].icd10[0]
                    : Catalogue.acuteDiagnoses[rng.int(0..<Catalogue.acuteDiagnoses.count)]
                let los = rng.chance(0.2) ? 0 : Int(-log(max(rng.uniform(), 1e-9)) * (2 + 0.6 * Double(band)))
                let u = rng.uniform()
                spell(
                    day, los: los, method: u < 0.7 ? "21" : (u < 0.85 ? "22" : (u < 0.95 ? "28" : "2A")), primary: primary,
                    procedure: "", cost: cost(mean: Calibration.emergencyCost[band], sigma: Calibration.admissionCostSigma))
                if rng.chance(0.6) {
                    contact(
                        day, end: nil, setting: "ambulance", service: "Emergency conveyance",
                        cost: cost(mean: Calibration.ambulanceCost, sigma: 0.2))
                }
            }
            if identity.female, (18...44).contains(age), rng.chance(0.03) {
                let day = periodStart.adding(days: rng.int(0..<365))
                if day >= start, day < until {
                    spell(
                        day, los: 1 + rng.int(0..<2), method: "31", primary: "O80", procedure: "R17.9",
                        cost: cost(mean: 1_800, sigma: 0.3))
                }
            }
            let communityRate = [0.05, 0.15, 0.4, 0.7, 1.1, 1.8, 2.6, 3.6, 6][band] * (age >= 75 ? 2 : 1)
            for day in days(communityRate, hospital: false) {
                contact(
                    day, end: nil, setting: "community",
                    service: ["District nursing", "Physiotherapy", "Podiatry"][rng.int(0..<3)],
                    cost: cost(mean: Calibration.communityCost, sigma: 0.3))
            }
            if !names.isDisjoint(with: PersonModel.mentalHealth) {
                let rate = names.contains("schizophrenia_bipolar") ? 5.0 : 1.2
                for day in days(rate, hospital: false).prefix(12) {
                    contact(
                        day, end: nil, setting: "mental_health",
                        service: ["Community mental health team", "Talking therapies"][rng.int(0..<2)],
                        cost: cost(mean: Calibration.mentalHealthCost, sigma: 0.3))
                }
            }
            if age >= 65, band >= 3, rng.chance(0.04 * Double(band - 2)) {
                let day = periodStart.adding(days: rng.int(0..<365))
                if day >= start, day < until {
                    let length = 28 + rng.int(0..<150)
                    contact(
                        day, end: day.adding(days: length), setting: "social_care",
                        service: rng.chance(0.8) ? "Home care" : "Residential care",
                        cost: Double(length) * Calibration.socialCarePerDay * rng.logNormal(median: 1, sigma: 0.3))
                }
            }
        }
        if let start = programme?.enrolled() {
            block.files[PersonModel.gtIntervention].field(NHSNumber.text(identity.nhs))
            block.files[PersonModel.gtIntervention].field(start)
            block.end(PersonModel.gtIntervention)
        }
        maybeFault(PersonModel.apc, &block, &rng) { rows in
            rows.raw(
                "X\(Geography.pad(person, 8)),\(identityFields(identity, registrations[0].postcode)),RQX,2024-05-10,2024-05-01,21,J18.9,,,1500.00,"
            )
            return "date_order"
        }
        maybeFault(PersonModel.ae, &block, &rng) { rows in
            rows.raw("Y\(Geography.pad(person, 8)),\(identityFields(identity, registrations[0].postcode)),RQX,2024-05-10,,,")
            return "missing_value"
        }
        maybeFault(PersonModel.op, &block, &rng) { rows in
            rows.raw(
                "Z\(Geography.pad(person, 8)),\(identityFields(identity, registrations[0].postcode)),RQX,2024-05-10,X,100,135.00,"
            )
            return "enum_value"
        }
        maybeFault(PersonModel.care, &block, &rng) { rows in
            rows.raw(
                "W\(Geography.pad(person, 8)),\(identityFields(identity, registrations[0].postcode)),hospice,Day hospice,2024-05-10,,80.00,"
            )
            return "enum_value"
        }

        func spell(_ day: Day, los: Int, method: String, primary: String, procedure: String, cost: Double) {
            let f = PersonModel.apc
            begin(f, "I", day)
            block.files[f].field("RQX")
            block.files[f].field(day)
            block.files[f].field(day.adding(days: los))
            block.files[f].field(method)
            block.files[f].field(primary)
            let secondary = conditions.filter { $0.onset <= day }.prefix(10).map { Catalogue.conditions[$0.index].icd10[0] }
            block.files[f].field(secondary.filter { $0 != primary }.joined(separator: "|"))
            block.files[f].field(procedure)
            block.files[f].field(money: cost)
            finish(f)
        }
        func contact(_ day: Day, end: Day?, setting: String, service: String, cost: Double) {
            let f = PersonModel.care
            begin(f, "C", day, setting: setting)
            block.files[f].field(setting)
            block.files[f].field(service)
            block.files[f].field(day)
            if let end { block.files[f].field(end) } else { block.files[f].empty() }
            block.files[f].field(money: cost)
            finish(f)
        }
    }

    /// The identity columns as text, exactly as the spine has them (for injected bad rows).
    func identityFields(_ id: Identity, _ postcode: String) -> String {
        "\(NHSNumber.text(id.nhs)),\(id.given),\(id.family),\(id.birth),\(id.female ? "F" : "M"),\(postcode)"
    }

    /// The identity as another organisation recorded it, with the faults real extracts have:
    /// about 2% without an NHS number, 1% with a wrong one, misspelt names, swapped dates.
    func recordedIdentity(_ id: Identity, postcode: String, into row: inout CSVRows, rng: inout Xoshiro) {
        let u = rng.uniform()
        if u < 0.02 {
            row.empty()
        } else if u < 0.027 {
            var digits = Array(NHSNumber.text(id.nhs).utf8)
            let i = rng.int(0..<9)
            digits[i] = 0x30 + (digits[i] - 0x30 + UInt8(1 + rng.int(0..<9))) % 10
            row.field(String(decoding: digits, as: UTF8.self))
        } else if u < 0.03 {
            row.field(NHSNumber.text(nhsNumber(rng.int(0..<options.people))))
        } else {
            row.field(NHSNumber.text(id.nhs))
        }
        row.field(rng.chance(0.015) ? misspelt(id.given, &rng) : id.given)
        row.field(rng.chance(0.02) ? misspelt(id.family, &rng) : id.family)
        let v = rng.uniform()
        if v < 0.005 {
            row.empty()
        } else if v < 0.01 {
            let (y, m, d) = id.birth.civil
            row.field(Day(year: y, month: d, day: m) ?? id.birth.adding(days: 1))
        } else {
            row.field(id.birth)
        }
        if rng.chance(0.003) { row.empty() } else { row.field(id.female ? "F" : "M") }
        if rng.chance(0.03) { row.empty() } else { row.field(postcode) }
    }

    /// The share of records without an NHS number by file and setting, in messy mode: from
    /// nearly all admissions carrying one to social care, where many systems hold none.
    static func missingNHSNumber(_ file: Int, _ setting: String?) -> Double {
        switch (file, setting) {
        case (PersonModel.apc, _): 0.03
        case (PersonModel.op, _): 0.04
        case (PersonModel.ae, _): 0.08
        case (_, "social_care"): 0.40
        case (_, "ambulance"): 0.25
        case (_, "mental_health"): 0.12
        default: 0.15
        }
    }

    /// The identity as a messier source recorded it (`SynthesisOptions.Identities.messy`). Name
    /// variants and swaps are three to four times as common for people of minority ethnic
    /// groups (census categories D to S), as missed links are in practice.
    func messyIdentity(
        _ id: Identity, postcode: String, missingNHSNumber: Double, into row: inout CSVRows, rng: inout Xoshiro
    ) {
        let minority = id.ethnic.map { !"ABCZ".contains($0) } ?? false
        let u = rng.uniform()
        if u < missingNHSNumber {
            row.empty()
        } else if u < missingNHSNumber + 0.007 {
            var digits = Array(NHSNumber.text(id.nhs).utf8)
            let i = rng.int(0..<9)
            digits[i] = 0x30 + (digits[i] - 0x30 + UInt8(1 + rng.int(0..<9))) % 10
            row.field(String(decoding: digits, as: UTF8.self))
        } else if u < missingNHSNumber + 0.01 {
            row.field(NHSNumber.text(nhsNumber(rng.int(0..<options.people))))
        } else {
            row.field(NHSNumber.text(id.nhs))
        }
        var given = id.given, family = id.family
        if rng.chance(minority ? 0.04 : 0.005) { swap(&given, &family) }
        if rng.chance(minority ? 0.06 : 0.015) { given = variant(given, &rng) }
        if rng.chance(minority ? 0.06 : 0.02) { family = variant(family, &rng) }
        // A family name changed (on marriage, say) and not yet known to the GP record.
        if id.female, rng.chance(0.02) { family = Names.family[rng.int(0..<Names.family.count)] }
        row.field(given)
        row.field(family)
        let (y, m, d) = id.birth.civil
        let v = rng.uniform()
        if v < 0.01 {
            row.empty()
        } else if v < 0.03 {
            row.field(Day(year: y, month: d, day: m) ?? id.birth.adding(days: 1))
        } else if v < 0.04 {
            row.field(Day(year: y + (rng.chance(0.5) ? 1 : -1), month: m, day: min(d, 28)) ?? id.birth)
        } else if v < 0.05 {
            // A partial date completed with the first of the month (or of the year).
            row.field(Day(year: y, month: rng.chance(0.5) ? m : 1, day: 1) ?? id.birth)
        } else {
            row.field(id.birth)
        }
        if rng.chance(0.01) { row.empty() } else { row.field(id.female ? "F" : "M") }
        let w = rng.uniform()
        if w < 0.05 {
            row.empty()
        } else if w < 0.13 {
            // Moved to an address the spine does not know yet.
            let area = geography.areaPostcodes[rng.int(0..<geography.areaPostcodes.count)]
            row.field(area[rng.int(0..<area.count)])
        } else {
            row.field(postcode)
        }
    }

    /// A name as another system spelt it: a letter dropped or changed, or two letters swapped.
    private func variant(_ name: String, _ rng: inout Xoshiro) -> String {
        var chars = Array(name)
        guard chars.count > 3, rng.chance(0.4) else { return misspelt(name, &rng) }
        let i = 1 + rng.int(0..<(chars.count - 2))
        chars.swapAt(i, i + 1)
        return String(chars)
    }

    private func misspelt(_ name: String, _ rng: inout Xoshiro) -> String {
        var chars = Array(name)
        guard chars.count > 2 else { return name }
        let i = 1 + rng.int(0..<(chars.count - 1))
        if rng.chance(0.5) {
            chars.remove(at: i)
        } else {
            chars[i] = Array("aeiounrst")[rng.int(0..<9)]
        }
        return String(chars)
    }
}

/// One person's place in the synthetic programme: the day they are considered, whether they are
/// enrolled, and which of their later emergency admissions it prevents. Drawn from its own random
/// stream, so the rest of the person's records are those written without a programme until an
/// admission is prevented.
struct Programme {
    let effect: Double
    let enrolment: Double
    let considered: Day
    let month: Int32
    let eligible: Bool
    var rng: Xoshiro
    var recent = 0
    var decision: Bool?

    init?(
        _ model: PersonModel, person: Int, identity: PersonModel.Identity, registrations: [PersonModel.Registration], until: Day
    ) {
        guard let intervention = model.options.intervention else { return nil }
        rng = Xoshiro(seed: model.options.seed, UInt64(person), 0x1e7a)
        let first = model.options.asOf.monthNumber - Int32(SynthesisOptions.Intervention.monthsBeforeAsOf)
        month = first + Int32(rng.int(0..<SynthesisOptions.Intervention.enrolmentMonths))
        considered = Day(firstOfMonth: month).adding(days: rng.int(0..<28))
        effect = intervention.effect
        enrolment = intervention.enrolment
        eligible =
            registrations[0].from <= considered && considered < until && identity.birth.age(on: considered) >= 18
    }

    /// Whether the programme prevents an emergency admission on `day` (days come in order).
    mutating func prevents(_ day: Day) -> Bool {
        let m = day.monthNumber
        if m < month {
            if m >= month - 12 { recent += 1 }
            return false
        }
        guard m > month, enrolled() != nil else { return false }
        return rng.chance(-effect)
    }

    /// The start date if the person is enrolled, deciding once from the admissions before.
    mutating func enrolled() -> Day? {
        if decision == nil {
            let chance = recent >= 2 ? enrolment : (recent == 1 ? enrolment / 10 : 0)
            decision = eligible && rng.chance(chance)
        }
        return decision! ? considered : nil
    }
}
