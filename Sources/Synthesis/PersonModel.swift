import Foundation
import PHMCore

/// Generates each person's registration, identity, conditions and care, one person at a time.
struct PersonModel: Sendable {
    let options: SynthesisOptions
    let geography: Geography
    let age: [Int]
    let female: [Bool]
    let area: [Int]
    let practice: [Int]
    let ltcCount: [Int]
    let birth: [Day]
    let death: [Day?]
    /// With forward onsets: the conditions each person held when their life in the data began
    /// (`lifeStart`), and the days they gained more.
    let heldAtStart: [Int]
    let gained: [[Day]]
    /// Each person's social factors, as bits of `Catalogue.factors`.
    let factors: [UInt16]
    /// Divides every emergency admission rate, so that the factors' effects leave the
    /// population's rate the one calibrated (their mean rate ratio, over everyone).
    let factorMeanEffect: Double
    let historyStart: Day
    let lifeStart: Day
    let end: Day

    // File indices, in `SyntheticHealthSystem.headers` order.
    static let patients = 0, gp = 1, rx = 2, apc = 3, ae = 4, op = 5, care = 6, gtCare = 7, gtReg = 8, gtPerson = 9,
        gtIntervention = 11

    /// Years before as-of over which people die, move and leave: as many as the projection reads
    /// of the registered population's history (5) and its backtest goes back before that (3),
    /// so the extract holds the people who left it.
    static let lifeYears = 8
    /// Months of prescription history before as-of.
    static let prescriptionMonths = 24
    /// People moving into the area, and out of it, each year: a share of the population.
    static let migration = 0.04

    /// England-like age structure: share of people by five-year band 0-4 ... 85-89, 90+.
    static let ageBandShare: [Double] = [
        5.4, 5.9, 6.0, 5.7, 6.0, 6.5, 6.9, 6.7, 6.4, 6.1, 6.8, 6.7, 5.9, 5.1, 5.0, 3.9, 2.6, 1.6, 0.9,
    ]

    init(options: SynthesisOptions, geography: Geography) {
        self.options = options
        self.geography = geography
        historyStart = options.asOf.adding(months: -12 * options.historyYears)
        lifeStart = options.asOf.adding(months: -12 * PersonModel.lifeYears)
        end = options.asOf.adding(months: 12 * options.followUpYears)
        let n = options.people
        let ageCumulative = cumulative(PersonModel.ageBandShare)
        var age = [Int](repeating: 0, count: n)
        var female = [Bool](repeating: false, count: n)
        var area = [Int](repeating: 0, count: n)
        var practice = [Int](repeating: 0, count: n)
        var propensity = [Double](repeating: 0, count: n)
        let practices = geography.practices.count
        for i in 0..<n {
            var rng = Xoshiro(seed: options.seed, UInt64(i), 1)
            let band = rng.pick(cumulative: ageCumulative)
            age[i] = band == 18 ? 90 + Int(-log(max(rng.uniform(), 1e-9)) * 3.5) % 15 : band * 5 + rng.int(0..<5)
            female[i] = rng.chance(age[i] >= 75 ? 0.56 : 0.505)
            area[i] = rng.int(0..<geography.areaCodes.count)
            let home = geography.areaPractice[area[i]]
            practice[i] = rng.chance(0.9) ? home : min(practices - 1, max(0, home + (rng.chance(0.5) ? 1 : -1)))
            // Multimorbidity rises with age and comes 10-15 years earlier in the most deprived
            // areas (Barnett et al., Lancet 2012).
            let deprivation = Double(10 - geography.areaDecile[area[i]])
            propensity[i] = 0.055 * Double(age[i]) + 0.075 * deprivation + 0.85 * rng.normal()
        }
        // LTC counts by rank of propensity, so the counts follow the seed's distribution in the
        // population alive at as-of: a first ranking over everyone sets the death hazard, a
        // second over the survivors sets the counts they carry.
        let shares = cumulative(Calibration.ltcPatients).map { $0 / Calibration.ltcPatients.reduce(0, +) }
        func assign(_ people: [Int], into ltc: inout [Int]) {
            let order = people.sorted { propensity[$0] < propensity[$1] }
            var band = 0
            for (rank, person) in order.enumerated() {
                while band < 8, Double(rank) >= shares[band] * Double(order.count) { band += 1 }
                if band < 8 {
                    ltc[person] = band
                } else {
                    var rng = Xoshiro(seed: options.seed, UInt64(person), 3)
                    ltc[person] = min(16, 8 + Int(-log(max(rng.uniform(), 1e-9)) * 1.6))
                }
            }
        }
        var ltc = [Int](repeating: 0, count: n)
        assign(Array(0..<n), into: &ltc)
        var birth = [Day](repeating: options.asOf, count: n)
        var death = [Day?](repeating: nil, count: n)
        let start = options.asOf.adding(months: -12 * PersonModel.lifeYears), end = self.end
        // Conditions raise the hazard relative to the age band's typical count, so the band's
        // mortality stays the Gompertz curve's.
        var typical = [Double](repeating: 0, count: 20), inBand = [Double](repeating: 0, count: 20)
        for i in 0..<n {
            typical[min(19, age[i] / 5)] += Double(ltc[i])
            inBand[min(19, age[i] / 5)] += 1
        }
        for b in typical.indices { typical[b] = inBand[b] > 0 ? typical[b] / inBand[b] : 0 }
        var held = [Int](repeating: 0, count: options.onsets == .forward ? n : 0)
        var gained = [[Day]](repeating: [], count: held.count)
        for i in 0..<n {
            var rng = Xoshiro(seed: options.seed, UInt64(i), 4)
            birth[i] = options.asOf.adding(months: -(age[i] * 12) - rng.int(1..<12)).adding(days: -rng.int(0..<28))
            switch options.onsets {
            case .backdated:
                death[i] = PersonModel.deathDay(
                    age: age[i], ltc: ltc[i], typical: typical[min(19, age[i] / 5)], birth: birth[i], asOf: options.asOf,
                    from: start, to: end, rng: &rng)
            case .forward:
                // The seed's count is what they hold when the data's years begin (none for
                // anyone born since), and the years run on from there.
                held[i] = birth[i] < start.adding(days: -1) ? ltc[i] : 0
                let quintile = (geography.areaDecile[area[i]] + 1) / 2
                (death[i], gained[i]) = PersonModel.liveForwards(
                    holding: held[i], female: female[i], quintile: quintile, birth: birth[i], from: start, to: end,
                    rng: &rng)
                ltc[i] = held[i] + gained[i].filter { $0 < options.asOf }.count
            }
        }
        if options.onsets == .backdated {
            assign((0..<n).filter { death[$0].map { $0 >= options.asOf } ?? true }, into: &ltc)
        }
        // Social factors, from a stream of their own, by age band, sex and deprivation.
        var factors = [UInt16](repeating: 0, count: n), effectSum = 0.0
        for i in 0..<n {
            var rng = Xoshiro(seed: options.seed, UInt64(i), 5)
            let band = Int(AgeBand(age: age[i]).rawValue), steps = Double(10 - geography.areaDecile[area[i]])
            var effect = 1.0
            for (k, factor) in Catalogue.factors.enumerated() where !factor.femaleOnly || female[i] {
                if rng.chance(factor.share[band] * (1 + factor.deprivationSlope * steps)) {
                    factors[i] |= 1 << k
                    effect *= factor.emergencyEffect
                }
            }
            effectSum += effect
        }
        self.factors = factors
        factorMeanEffect = n > 0 ? effectSum / Double(n) : 1
        heldAtStart = held
        self.gained = gained
        self.birth = birth
        self.death = death
        self.age = age
        self.female = female
        self.area = area
        self.practice = practice
        ltcCount = ltc
    }

    /// Death by a Gompertz hazard by age, year by year, raised by each condition more than the
    /// age band's typical count and lowered by each fewer (30% of the typical count's risk per
    /// condition).
    static func deathDay(
        age: Int, ltc: Int, typical: Double, birth: Day, asOf: Day, from start: Day, to end: Day, rng: inout Xoshiro
    ) -> Day? {
        var day = max(start, birth)
        while day < end {
            let ageThen = Double(age) - Double(day.days(to: asOf)) / 365.25
            let hazard =
                ageThen < 1
                ? 0.004 : min(0.6, exp(-10.4 + 0.094 * ageThen) * (1 + 0.3 * Double(ltc)) / (1 + 0.3 * typical))
            if rng.chance(hazard) {
                let death = max(birth.adding(days: 1), day.adding(days: rng.int(0..<365)))
                return death < end ? death : nil
            }
            day = day.adding(months: 12)
        }
        return nil
    }

    /// Years of gaining conditions and facing death under `ForwardRates`, in the years that
    /// begin on the anniversaries of `start` (a projection's years, which end at as-of), from
    /// `holding` conditions: the day of death, if before `end`, and the days conditions were
    /// gained. A year in which someone is born counts for its share of the year.
    static func liveForwards(
        holding: Int, female: Bool, quintile: Int, birth: Day, from start: Day, to end: Day, rng: inout Xoshiro
    ) -> (death: Day?, gained: [Day]) {
        var held = holding, gained: [Day] = []
        var yearStart = start
        while yearStart < end {
            let yearEnd = yearStart.adding(months: 12)
            defer { yearStart = yearEnd }
            guard yearEnd > birth else { continue }
            let from = max(yearStart, birth.adding(days: 1)), days = max(1, from.days(to: yearEnd))
            let share = Double(days) / Double(yearStart.days(to: yearEnd))
            let age = ageByMonth(birth: birth, on: yearStart)
            let dies = rng.chance(ForwardRates.death(age: age, male: !female, conditions: held) * share)
            let gains = rng.chance(
                ForwardRates.gain(age: age, female: female, quintile: quintile, conditions: held) * share)
            let deathDay = from.adding(days: rng.int(0..<days)), gainDay = from.adding(days: rng.int(0..<days))
            if gains, !dies || gainDay < deathDay {
                gained.append(gainDay)
                held += 1
            }
            if dies { return (deathDay, gained) }
        }
        return (nil, gained)
    }

    /// Age in completed years as the platform reads it, from the month of birth (taken as its
    /// middle), so a year's rates are the ones of the age band the platform puts it in.
    static func ageByMonth(birth: Day, on day: Day) -> Int {
        let (by, bm, _) = birth.civil, (y, m, d) = day.civil
        let months = (y - by) * 12 + m - bm
        return max(0, (d >= 15 ? months : months - 1) / 12)
    }

    func nhsNumber(_ person: Int) -> UInt64 {
        var prefix = UInt64(999_000_000 + person * 8)
        while true {
            if let digit = NHSNumber.checkDigit(forFirstNine: prefix) { return prefix * 10 + UInt64(digit) }
            prefix += 1
        }
    }

    func block(_ people: Range<Int>) -> Block {
        var block = Block(people: people.count)
        for person in people { generate(person, into: &block) }
        return block
    }

    // MARK: One person

    struct Condition {
        var index: Int
        var onset: Day
    }

    struct Registration {
        var id: String
        var practice: Int
        var from: Day
        var to: Day?
        var postcode: String
        var area: Int
    }

    struct Identity {
        var nhs: UInt64
        var given: String
        var family: String
        var birth: Day
        var female: Bool
        /// The ethnic category the GP record holds, if any.
        var ethnic: Character?
    }

    private func generate(_ person: Int, into block: inout Block) {
        var rng = Xoshiro(seed: options.seed, UInt64(person), 2)
        let asOf = options.asOf
        let age = self.age[person]
        let birth = self.birth[person]
        let isFemale = female[person]
        let decile = geography.areaDecile[area[person]]
        let ageBand = AgeBand(age: age).rawValue

        // Conditions, drawn without replacement, weighted by age band, sex and deprivation.
        var conditions: [Condition] = []
        let forward = options.onsets == .forward
        var weights = Catalogue.conditions.map { c -> Double in
            if let sex = c.sex, (sex == "F") != isFemale { return 0 }
            if forward && !ForwardRates.kept(c) { return 0 }
            return c.ageWeight[Int(ageBand)] * (1 + c.deprivationSlope * Double(10 - decile))
        }
        func pick() -> Int? {
            guard weights.reduce(0, +) > 0 else { return nil }
            let index = rng.pick(cumulative: cumulative(weights))
            weights[index] = 0
            return index
        }
        let yearsLived = max(1, age)
        if forward {
            // Those held when the data's years begin, from before then; then each one gained.
            let before = lifeStart.adding(days: -1)
            for _ in 0..<heldAtStart[person] {
                guard let index = pick() else { break }
                let lived = min(max(1, age - PersonModel.lifeYears), 25)
                let onset = max(birth.adding(days: 1), before.adding(days: -rng.int(0..<(lived * 365))))
                conditions.append(Condition(index: index, onset: onset))
            }
            for day in gained[person] {
                guard let index = pick() else { break }
                conditions.append(Condition(index: index, onset: day))
            }
        }
        for _ in 0..<(forward ? 0 : ltcCount[person]) {
            guard let index = pick() else { break }
            let span = Catalogue.conditions[index].recent ? min(yearsLived, 4) : min(yearsLived, 25)
            // Someone who died was diagnosed before they died.
            let onset = max(
                birth.adding(days: 30), min(asOf, self.death[person] ?? asOf).adding(days: -1 - rng.int(0..<(span * 365))))
            conditions.append(Condition(index: index, onset: onset))
        }
        // New diagnoses in the year after as-of (incidence), not counted at as-of; forwards,
        // the years run on past as-of.
        if !forward, rng.chance(0.03 + 0.02 * Double(ltcCount[person])) {
            let total = weights.reduce(0, +)
            if total > 0 {
                let index = rng.pick(cumulative: cumulative(weights))
                let onset = asOf.adding(days: rng.int(0..<365))
                if onset < self.death[person] ?? .max { conditions.append(Condition(index: index, onset: onset)) }
            }
        }

        let death = self.death[person]

        // Registrations: people join the area at birth or move in, at a steady rate looking back
        // from as-of (the time since joining is exponential), and leave at the same rate, so
        // that the registered population changes by little more than births less deaths. Some
        // move practice (and house) within the area. Forwards, leavers leave on a day spread
        // evenly over the years before as-of, having joined an exponential time before it, so as
        // many leave in each year and the rates a projection reads from one stretch of years
        // hold in the next; backdated, they leave between joining and as-of, more of them lately.
        var identity = makeIdentity(person, birth: birth, female: isFemale, rng: &rng)
        var registrations: [Registration] = []
        // Backdated, looking back from the day they were last here alive: someone who died had
        // joined before they died, at the same rate. Forwards, joining does not depend on dying:
        // looked back from as-of (or, for a leaver, from leaving), and someone who would have
        // joined after they died never lived here, so is not written; otherwise the years of
        // those who die would be seen more often than those of people who live on, and death
        // rates would read higher than the rates they died by.
        let yearsHere = min(150, -log(max(rng.uniform(), 1e-12)) / PersonModel.migration)
        var firstFrom = max(birth, min(asOf, self.death[person] ?? asOf).adding(days: -Int(yearsHere * 365.25)))
        if forward {
            firstFrom = max(birth, asOf.adding(days: -Int(yearsHere * 365.25)))
        } else if let death, firstFrom >= death {
            firstFrom = max(birth, death.adding(days: -1 - rng.int(0..<365)))
        }
        let homeArea = area[person]
        let homePostcode = geography.areaPostcodes[homeArea][rng.int(0..<Geography.postcodesPerArea)]
        let moves = rng.chance(0.1)
        let leaves = !moves && rng.chance(1 - exp(-PersonModel.migration * Double(PersonModel.lifeYears)))
        if moves, firstFrom < asOf.adding(days: -60) {
            let moveDay = max(firstFrom.adding(days: 30), asOf.adding(days: -rng.int(30..<(365 * PersonModel.lifeYears))))
            let oldArea = rng.int(0..<geography.areaCodes.count)
            registrations.append(
                Registration(
                    id: patientId(person, 0), practice: geography.areaPractice[oldArea], from: firstFrom, to: moveDay,
                    postcode: geography.areaPostcodes[oldArea][rng.int(0..<Geography.postcodesPerArea)], area: oldArea))
            registrations.append(
                Registration(
                    id: patientId(person, 1), practice: practice[person], from: moveDay, to: nil, postcode: homePostcode,
                    area: homeArea))
        } else {
            var to: Day?
            if forward {
                let leaving = lifeStart.adding(days: rng.int(0..<lifeStart.days(to: asOf)))
                if leaves, leaving > birth.adding(days: 30), leaving < death ?? .max {
                    to = leaving
                    firstFrom = max(birth, leaving.adding(days: -30 - Int(yearsHere * 365.25)))
                }
            } else {
                let earliest = max(firstFrom.adding(days: 30), lifeStart)
                if leaves, earliest < asOf { to = earliest.adding(days: rng.int(0..<max(1, earliest.days(to: asOf)))) }
            }
            registrations.append(
                Registration(
                    id: patientId(person, 0), practice: practice[person], from: firstFrom, to: to, postcode: homePostcode,
                    area: homeArea))
        }
        if forward, let death, registrations[0].from >= death { return }
        if let death {
            for r in registrations.indices where registrations[r].to == nil || registrations[r].to! > death {
                registrations[r].to = death
            }
            if registrations.count > 1, registrations[1].from >= death { registrations.removeLast() }
        }
        let optOut = rng.chance(0.03)
        let ethnic = ethnicCategory(decile: decile, rng: &rng)
        identity.ethnic = ethnic
        let current = registrations.last!
        let activeUntil = [death, registrations.last!.to, end].compactMap { $0 }.min()!

        for r in registrations {
            var row = CSVRows(capacity: 160)
            row.field(r.id)
            row.field(NHSNumber.text(identity.nhs))
            row.field(identity.given)
            row.field(identity.family)
            row.field(identity.birth)
            row.field(identity.female ? "F" : "M")
            row.field(r.postcode)
            row.field(geography.areaCodes[r.area])
            if let ethnic { row.field(String(ethnic)) } else { row.empty() }
            row.field(geography.practices[r.practice].code)
            row.field(r.from)
            if let to = r.to { row.field(to) } else { row.empty() }
            if let death { row.field(death) } else { row.empty() }
            row.field(optOut ? "Y" : "N")
            block.files[PersonModel.patients].bytes.append(contentsOf: row.bytes)
            block.end(PersonModel.patients)
            block.files[PersonModel.gtReg].field(r.id)
            block.files[PersonModel.gtReg].field(person)
            block.end(PersonModel.gtReg)
        }
        maybeFault(PersonModel.patients, &block, &rng) { rows in
            rows.raw(
                "\(patientId(person, 9)),\(NHSNumber.text(identity.nhs)),\(identity.given),\(identity.family),1960-13-01,\(identity.female ? "F" : "M"),\(homePostcode),,,\(geography.practices[0].code),2020-01-01,,,N"
            )
            return "date_format"
        }

        let registeredAtAsOf = current.from <= asOf && (current.to ?? .max) > asOf && (death ?? .max) > asOf
        let diedBefore = death.map { $0 <= asOf } ?? false
        block.files[PersonModel.gtPerson].field(person)
        block.files[PersonModel.gtPerson].field(forward ? conditions.filter { $0.onset < asOf }.count : ltcCount[person])
        block.files[PersonModel.gtPerson].field(
            conditions.filter { $0.onset < asOf }.map { Catalogue.conditions[$0.index].name }.sorted().joined(separator: "|"))
        block.files[PersonModel.gtPerson].field(registeredAtAsOf ? 1 : 0)
        block.files[PersonModel.gtPerson].field(diedBefore ? 1 : 0)
        block.files[PersonModel.gtPerson].field(
            Catalogue.factors.indices.filter { factors[person] & (1 << $0) != 0 }.map { Catalogue.factors[$0].name }
                .joined(separator: "|"))
        block.end(PersonModel.gtPerson)

        let gpId = current.id
        primaryCare(
            person, gpId: gpId, age: age, birth: birth, decile: decile, conditions: conditions, until: activeUntil, block: &block,
            rng: &rng)
        hospitalCare(
            person, identity: identity, registrations: registrations, age: age, decile: decile, conditions: conditions,
            until: activeUntil, block: &block, rng: &rng)
    }

    private func patientId(_ person: Int, _ registration: Int) -> String {
        "P" + Geography.pad(person, 8) + String(registration)
    }

    private func makeIdentity(_ person: Int, birth: Day, female: Bool, rng: inout Xoshiro) -> Identity {
        var given =
            female ? Names.female[rng.pick(cumulative: Names.femaleWeights)] : Names.male[rng.pick(cumulative: Names.maleWeights)]
        var family = Names.family[rng.pick(cumulative: Names.familyWeights)]
        // The long tail from a stream of its own, so every other draw stays as it was.
        var names = Xoshiro(seed: options.seed, UInt64(person), 0x4a3e)
        if names.chance(Names.tailShare.given) { given = Names.givenTail[names.int(0..<Names.givenTail.count)] }
        if names.chance(Names.tailShare.family) { family = Names.familyTail[names.int(0..<Names.familyTail.count)] }
        return Identity(nhs: nhsNumber(person), given: given, family: family, birth: birth, female: female)
    }

    private func ethnicCategory(decile: Int, rng: inout Xoshiro) -> Character? {
        let u = rng.uniform()
        if u < 0.04 { return nil }
        if u < 0.08 { return "Z" }
        // England and Wales 2021 census shares, with more ethnic diversity in deprived areas.
        let minority = 0.10 + 0.02 * Double(10 - decile)
        if !rng.chance(minority) { return rng.chance(0.9) ? "A" : (rng.chance(0.2) ? "B" : "C") }
        let groups: [(Character, Double)] = [
            ("D", 0.4), ("E", 0.3), ("F", 0.5), ("G", 0.4), ("H", 1.8), ("J", 1.6), ("K", 0.6), ("L", 0.9),
            ("M", 0.6), ("N", 1.4), ("P", 0.3), ("R", 0.4), ("S", 1.2),
        ]
        return groups[rng.pick(cumulative: cumulative(groups.map(\.1)))].0
    }

    /// Writes an extra malformed row now and then, recording its rule for the ground truth.
    func maybeFault(_ file: Int, _ block: inout Block, _ rng: inout Xoshiro, _ write: (inout CSVRows) -> String) {
        guard rng.chance(options.faultRate * 10) else { return }
        let row = block.rowCounts[file]
        let rule = write(&block.files[file])
        block.rowCounts[file] += 1
        block.faults.append((file, row, rule))
    }
}
