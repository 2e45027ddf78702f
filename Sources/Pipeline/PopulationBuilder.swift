import Identity
import Ingest
import PHMCore

/// Builds the columnar population from accepted, linked records: no identifying field crosses.
enum PopulationBuilder {
    static func build(
        extract: Extract, spine: Spine, linkage: Linkage, pseudonyms: [String], asOf: Day
    ) -> Population {
        var population = Population(asOf: asOf, hierarchy: extract.hierarchy, areas: extract.areas, codes: extract.codes)
        let patients = extract.patients
        let n = spine.count
        population.pseudonym = pseudonyms
        population.sex.reserveCapacity(n)
        for p in 0..<n {
            let r = Int(spine.registrationOfPerson[p])
            let regs = spine.registrations[Int(spine.registrationStart[p])..<Int(spine.registrationStart[p + 1])].map(Int.init)
            let birth = patients.dateOfBirth[r]
            let death = regs.map { patients.death[$0] }.min() ?? .max
            let (y, m, _) = birth.civil
            population.sex.append(patients.sex[r])
            population.age.append(Int16(clamping: birth.age(on: min(asOf, death))))
            population.birthMonth.append(Int32(y * 12 + m - 1))
            population.practice.append(patients.practice[r])
            population.area.append(patients.area[r])
            let code = patients.ethnicCategory[r]
            population.ethnicGroup.append(EthnicCategory.group(code: code == 0 ? nil : code))
            // A National Data Opt-out is held against the person, so any registration carrying it counts.
            population.optedOut.append(regs.contains { patients.optedOut[$0] })
            population.registeredFrom.append(patients.registeredFrom[r])
            population.registeredTo.append(patients.registeredTo[r])
            population.death.append(death)
        }

        let clinical = extract.clinical
        let clinicalPerson = clinical.registration.map { spine.personOfRegistration[Int($0)] }
        let (clinicalIndex, clinicalOrder) = groupByPerson(person: clinicalPerson, day: clinical.day, people: n)
        population.clinical.byPerson = clinicalIndex
        population.clinical.day = clinical.day.permuted(by: clinicalOrder)
        population.clinical.code = clinical.code.permuted(by: clinicalOrder)
        population.clinical.value = clinical.value.permuted(by: clinicalOrder)

        let rx = extract.prescriptions
        let rxPerson = rx.registration.map { spine.personOfRegistration[Int($0)] }
        let (rxIndex, rxOrder) = groupByPerson(person: rxPerson, day: rx.day, people: n)
        population.prescriptions.byPerson = rxIndex
        population.prescriptions.day = rx.day.permuted(by: rxOrder)
        population.prescriptions.code = rx.code.permuted(by: rxOrder)
        population.prescriptions.quantity = rx.quantity.permuted(by: rxOrder)
        population.prescriptions.cost = rx.cost.permuted(by: rxOrder)

        // Only linked care records join the population; unlinked ones are counted in linkage.json.
        let care = extract.care
        let linkedRows = (0..<care.count).filter { linkage.person[$0] >= 0 }.map { Int32($0) }
        let linkedPerson = linkedRows.map { linkage.person[Int($0)] }
        let linkedDay = linkedRows.map { care.day[Int($0)] }
        let (careIndex, careOrder) = groupByPerson(person: linkedPerson, day: linkedDay, people: n)
        let rows = careOrder.map { linkedRows[Int($0)] }
        population.activity.byPerson = careIndex
        population.activity.day = care.day.permuted(by: rows)
        population.activity.endDay = care.endDay.permuted(by: rows)
        population.activity.kind = care.kind.permuted(by: rows)
        population.activity.cost = care.cost.permuted(by: rows)
        population.activity.diagnosis = care.diagnosis.permuted(by: rows)
        var start: [Int32] = [0]
        var codes: [Int32] = []
        start.reserveCapacity(rows.count + 1)
        for row in rows {
            codes.append(contentsOf: care.secondaryCodes[Int(care.secondaryStart[Int(row)])..<Int(care.secondaryStart[Int(row) + 1])])
            start.append(Int32(codes.count))
        }
        population.activity.secondaryStart = start
        population.activity.secondaryCodes = codes
        return population
    }
}
