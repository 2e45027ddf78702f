import Dispatch
import Identity
import Ingest
import PHMCore

/// Builds the columnar population from accepted, linked records: no identifying field crosses.
public enum PopulationBuilder {
    public static func build(
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
            population.registeredSince.append(regs.map { patients.registeredFrom[$0] }.min() ?? patients.registeredFrom[r])
            population.death.append(death)
        }

        // The three event tables are grouped independently, each on its own core.
        let tables = Unchecked(
            (
                UnsafeMutablePointer<ClinicalEvents>.allocate(capacity: 1),
                UnsafeMutablePointer<PrescriptionEvents>.allocate(capacity: 1),
                UnsafeMutablePointer<ActivityEvents>.allocate(capacity: 1)
            ))
        defer {
            tables.value.0.deallocate()
            tables.value.1.deallocate()
            tables.value.2.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: 3) { k in
            switch k {
            case 0: tables.value.0.initialize(to: clinicalEvents(extract.clinical, spine: spine, people: n))
            case 1: tables.value.1.initialize(to: prescriptionEvents(extract.prescriptions, spine: spine, people: n))
            default: tables.value.2.initialize(to: activityEvents(extract.care, linkage: linkage, people: n))
            }
        }
        population.clinical = tables.value.0.move()
        population.prescriptions = tables.value.1.move()
        population.activity = tables.value.2.move()
        return population
    }

    static func clinicalEvents(_ clinical: ClinicalRecords, spine: Spine, people n: Int) -> ClinicalEvents {
        var events = ClinicalEvents()
        let person = clinical.registration.map { spine.personOfRegistration[Int($0)] }
        let (index, order) = groupByPerson(person: person, day: clinical.day, people: n)
        events.byPerson = index
        events.day = clinical.day.permuted(by: order)
        events.code = clinical.code.permuted(by: order)
        events.value = clinical.value.permuted(by: order)
        return events
    }

    static func prescriptionEvents(_ rx: PrescriptionRecords, spine: Spine, people n: Int) -> PrescriptionEvents {
        var events = PrescriptionEvents()
        let person = rx.registration.map { spine.personOfRegistration[Int($0)] }
        let (index, order) = groupByPerson(person: person, day: rx.day, people: n)
        events.byPerson = index
        events.day = rx.day.permuted(by: order)
        events.code = rx.code.permuted(by: order)
        events.quantity = rx.quantity.permuted(by: order)
        events.cost = rx.cost.permuted(by: order)
        return events
    }

    /// Only linked care records join the population; unlinked ones are counted in linkage.json.
    static func activityEvents(_ care: CareRecords, linkage: Linkage, people n: Int) -> ActivityEvents {
        var events = ActivityEvents()
        let linkedRows = (0..<care.count).filter { linkage.person[$0] >= 0 }.map { Int32($0) }
        let linkedPerson = linkedRows.map { linkage.person[Int($0)] }
        let linkedDay = linkedRows.map { care.day[Int($0)] }
        let (index, order) = groupByPerson(person: linkedPerson, day: linkedDay, people: n)
        let rows = order.map { linkedRows[Int($0)] }
        events.byPerson = index
        events.day = care.day.permuted(by: rows)
        events.endDay = care.endDay.permuted(by: rows)
        events.kind = care.kind.permuted(by: rows)
        events.cost = care.cost.permuted(by: rows)
        events.diagnosis = care.diagnosis.permuted(by: rows)
        events.procedure = care.procedure.permuted(by: rows)
        var start: [Int32] = [0]
        var codes: [Int32] = []
        start.reserveCapacity(rows.count + 1)
        for row in rows {
            codes.append(
                contentsOf: care.secondaryCodes[Int(care.secondaryStart[Int(row)])..<Int(care.secondaryStart[Int(row) + 1])])
            start.append(Int32(codes.count))
        }
        events.secondaryStart = start
        events.secondaryCodes = codes
        return events
    }
}
