import Foundation
import Ingest
import Outputs
import PHMCore
import Testing

@testable import Identity

/// Incremental linkage against a full re-link with the same model, over rounds of a spine that
/// changes under its records: people join and leave, move house, change name, and gain twins
/// who share their date of birth, names and postcode.
@Suite struct LinkageStateTests {
    static let families =
        ["SMITH", "SMYTH", "JONES", "KHAN", "NGUYEN", "OBRIEN", "PATEL", "BROWN", "TAYLOR", "LI"].flatMap {
            [$0, $0 + "SON", "MC" + $0]
        }
    static let givens = ["OLIVIA", "OLIVER", "AMELIA", "MUHAMMAD", "ZOE", "JACK", "ALI", "SIOBHAN"]
    static let postcodes = (1...4).flatMap { d in ["AB1\(d)CD", "AB1\(d)CE", "AB2\(d)XY", "CD4\(d)EF", "CD5\(d)EG"] }

    struct Person {
        var id: String
        var nhs: UInt64
        var given: String
        var family: String
        var birth: Day
        var sex: Sex
        var postcode: String
    }

    static func patients(_ people: [Person]) -> PatientRecords {
        var p = PatientRecords()
        for person in people {
            p.patientId.append(person.id)
            p.nhsNumber.append(person.nhs)
            p.givenName.append(person.given)
            p.familyName.append(person.family)
            p.dateOfBirth.append(person.birth)
            p.sex.append(person.sex)
            p.postcode.append(person.postcode)
            p.area.append(0)
            p.ethnicCategory.append(0)
            p.practice.append(0)
            p.registeredFrom.append(Day(year: 2000, month: 1, day: 1)!)
            p.registeredTo.append(.latest)
            p.death.append(.missing)
            p.optedOut.append(false)
        }
        return p
    }

    /// A record of `person` as another organisation wrote it: NHS number often missing, names
    /// misspelt or swapped, date of birth transposed, an old address.
    static func record(of person: Person, id: Int, _ rng: inout Xoshiro, into care: inout CareRecords) {
        care.recordId.append("R\(id)")
        care.day.append(Day(year: 2024, month: 1, day: 1)!)
        care.nhsNumber.append(rng.chance(0.3) ? person.nhs : 0)
        var given = person.given, family = person.family
        if rng.chance(0.2) { family = String(family.dropLast()) }
        if rng.chance(0.1) { swap(&given, &family) }
        care.givenName.append(given)
        care.familyName.append(family)
        var birth = person.birth
        if rng.chance(0.1) {
            let (y, m, d) = birth.civil
            birth = Day(year: y, month: d, day: m) ?? birth
        }
        care.dateOfBirth.append(birth)
        care.sex.append(rng.chance(0.05) ? nil : person.sex)
        care.postcode.append(rng.chance(0.2) ? postcodes[rng.int(0..<postcodes.count)] : person.postcode)
        care.ethnicCategory.append(0)
    }

    static func newPerson(_ n: Int, _ rng: inout Xoshiro) -> Person {
        Person(
            id: "P\(n)", nhs: rng.chance(0.8) ? 9_000_000_000 + UInt64(n) : 0, given: givens[rng.int(0..<givens.count)],
            family: families[rng.int(0..<families.count)],
            birth: Day(year: 1950 + rng.int(0..<10), month: 1 + rng.int(0..<12), day: 1 + rng.int(0..<28))!,
            sex: rng.chance(0.5) ? .female : .male, postcode: postcodes[rng.int(0..<postcodes.count)])
    }

    static func link(
        _ people: [Person], _ care: CareRecords, previous: LinkageState?, mode: LinkageMode,
        reviews: [IdentityDigest: [String: Bool]] = [:]
    ) -> (person: [Int32], report: LinkageReport.Probabilistic, state: LinkageState, queue: [ReviewItem]) {
        let patients = patients(people)
        let spine = Spine(patients: patients, asOf: Day(year: 2025, month: 1, day: 1)!)
        var linkage = Linkage(
            person: [Int32](repeating: -1, count: care.count), rule: [LinkRule](repeating: .unlinked, count: care.count),
            nhsConflict: [Bool](repeating: false, count: care.count))
        let outcome = ProbabilisticLinker(patients: patients, spine: spine, workers: 2).link(
            care, &linkage, workers: 2, previous: previous, mode: mode, reviews: reviews, run: 1)
        // People by their patient id (the default pseudonym), so rounds compare by identity.
        let person = linkage.person.map { p -> Int32 in
            p < 0 ? -1 : Int32(people.firstIndex { $0.id == patients.patientId[Int(spine.registrationOfPerson[Int(p)])] }!)
        }
        return (person, outcome.report, outcome.state, outcome.queue)
    }

    @Test func incrementalEqualsAFullRelinkAsTheSpineChanges() throws {
        var rng = Xoshiro(seed: 11)
        var people = (0..<300).map { Self.newPerson($0, &rng) }
        var next = people.count
        var care = CareRecords()
        for i in 0..<600 { Self.record(of: people[rng.int(0..<people.count)], id: i, &rng, into: &care) }
        var (_, _, state, queue) = Self.link(people, care, previous: nil, mode: .reestimate)
        var reused = 0, changed = 0, changedDecision = 0, byReview = 0
        // Reviewers' judgements, made on each round's queue: one person the same, or each different.
        var reviews: [IdentityDigest: [String: Bool]] = [:]

        for round in 1...6 {
            // Twins of people with records: the same identity under another NHS number.
            for _ in 0..<5 {
                var twin = people[rng.int(0..<people.count)]
                twin.id = "P\(next)"
                twin.nhs = 9_000_000_000 + UInt64(next)
                next += 1
                people.append(twin)
            }
            for _ in 0..<5 {
                people.append(Self.newPerson(next, &rng))
                next += 1
            }
            // Someone without an NHS number under a patient id another person has: a pseudonym
            // two people share names neither.
            var namesake = Self.newPerson(next, &rng)
            next += 1
            namesake.nhs = 0
            namesake.id = people[rng.int(0..<people.count)].id
            people.append(namesake)
            for _ in 0..<6 { people.remove(at: rng.int(0..<people.count)) }
            for _ in 0..<5 { people[rng.int(0..<people.count)].postcode = Self.postcodes[rng.int(0..<Self.postcodes.count)] }
            for _ in 0..<3 { people[rng.int(0..<people.count)].family = Self.families[rng.int(0..<Self.families.count)] }
            for i in 0..<50 { Self.record(of: people[rng.int(0..<people.count)], id: 600 + 50 * round + i, &rng, into: &care) }

            for item in queue.prefix(8) {
                if rng.chance(0.5) {
                    reviews[item.identity] = [item.candidates[0].person: true]
                } else {
                    for c in item.candidates { reviews[item.identity, default: [:]][c.person] = false }
                }
            }
            let incremental = Self.link(people, care, previous: state, mode: .incremental, reviews: reviews)
            let full = Self.link(people, care, previous: state, mode: .relink, reviews: reviews)
            let differ = zip(incremental.person, full.person).filter { $0 != $1 }.count
            #expect(differ == 0, "round \(round): \(differ) records linked differently")
            let decisions = full.state.decisions.filter { incremental.state.decisions[$0.key] != $0.value }.count
            #expect(decisions == 0 && incremental.state.decisions.count == full.state.decisions.count, "round \(round)")
            #expect(incremental.report.uncertain == full.report.uncertain)
            #expect(full.report.decisionsReused == 0 && incremental.report.estimatedInRun == state.model.estimatedInRun)
            reused += incremental.report.decisionsReused ?? 0
            changed += incremental.report.evidenceChanged ?? 0
            for (digest, decision) in incremental.state.decisions {
                if let before = state.decisions[digest], before.evidence != decision.evidence, before.person != decision.person {
                    changedDecision += 1
                }
            }
            #expect(incremental.queue.map(\.identity) == full.queue.map(\.identity))
            byReview += incremental.report.linkedByReview ?? 0
            state = incremental.state
            queue = incremental.queue
        }
        // The rounds reused decisions, and changed evidence changed some of them: a decision
        // reused without its evidence checked would have been wrong.
        #expect(reused > 1_000 && changed > 50 && changedDecision > 5, "\(reused) \(changed) \(changedDecision)")
        #expect(byReview > 10, "\(byReview)")
    }

    /// A model whose spine moved by more than a tenth, or whose tables do not have the levels
    /// compared now, is estimated again.
    @Test func aModelThatNoLongerFitsIsEstimatedAgain() {
        var rng = Xoshiro(seed: 3)
        let people = (0..<200).map { Self.newPerson($0, &rng) }
        var care = CareRecords()
        for i in 0..<300 { Self.record(of: people[rng.int(0..<people.count)], id: i, &rng, into: &care) }
        var state = Self.link(people, care, previous: nil, mode: .reestimate).state
        state.model.estimatedInRun = 7
        #expect(Self.link(people, care, previous: state, mode: .incremental).report.estimatedInRun == 7)
        #expect(Self.link(Array(people.prefix(178)), care, previous: state, mode: .incremental).report.estimatedInRun == 1)
        #expect(Self.link(Array(people.prefix(182)), care, previous: state, mode: .incremental).report.estimatedInRun == 7)
        var misshapen = state
        misshapen.model.weights.m[2].removeLast()
        #expect(Self.link(people, care, previous: misshapen, mode: .incremental).report.estimatedInRun == 1)
        var infinite = state
        infinite.model.weights.u[0][0] = .infinity
        #expect(Self.link(people, care, previous: infinite, mode: .relink).report.estimatedInRun == 1)
        #expect(Self.link(people, care, previous: state, mode: .reestimate).report.estimatedInRun == 1)
    }

    /// A daughter's records carrying her mother's NHS number (same family name and sex) are
    /// linked to the mother by the rules; her given name, date of birth and postcode dispute the
    /// link, so it is queued for review, first; a reviewer's "different" breaks it and the
    /// records link to the daughter; "same" keeps it and stops the queueing. A record of the
    /// mother with a mistyped date of birth is not disputed.
    @Test func disputedNHSNumberLinksAreQueuedAndAJudgementBreaksThem() throws {
        var rng = Xoshiro(seed: 5)
        var people = (0..<300).map { Self.newPerson($0, &rng) }
        let mother = Person(
            id: "PM", nhs: 9_100_000_001, given: "MARGARET", family: "KOWALSKA", birth: Day(year: 1950, month: 3, day: 4)!,
            sex: .female, postcode: "AB11CD")
        var daughter = mother
        daughter.id = "PD"
        daughter.nhs = 9_100_000_002
        daughter.given = "ZOFIA"
        daughter.birth = Day(year: 1985, month: 7, day: 21)!
        daughter.postcode = "CD55EG"
        people += [mother, daughter]
        var care = CareRecords()
        for i in 0..<600 { Self.record(of: people[rng.int(0..<300)], id: i, &rng, into: &care) }
        func add(_ person: Person, nhs: UInt64, birth: Day, id: String) {
            care.recordId.append(id)
            care.day.append(Day(year: 2024, month: 1, day: 1)!)
            care.nhsNumber.append(nhs)
            care.givenName.append(person.given)
            care.familyName.append(person.family)
            care.dateOfBirth.append(birth)
            care.sex.append(person.sex)
            care.postcode.append(person.postcode)
            care.ethnicCategory.append(0)
        }
        for i in 0..<3 { add(daughter, nhs: mother.nhs, birth: daughter.birth, id: "D\(i)") }
        add(mother, nhs: mother.nhs, birth: Day(year: 1950, month: 3, day: 5)!, id: "M0")
        // The daughter at her mother's address: her given name and date of birth alone dispute it.
        var atHome = daughter
        atHome.postcode = mother.postcode
        add(atHome, nhs: mother.nhs, birth: daughter.birth, id: "S0")
        let atHomeIdentity = MatchWeights.Identity(
            nhs: mother.nhs, birth: daughter.birth, given: "ZOFIA", family: "KOWALSKA", postcode: mother.postcode, sex: .female)
        let typoIdentity = MatchWeights.Identity(
            nhs: mother.nhs, birth: Day(year: 1950, month: 3, day: 5)!, given: "MARGARET", family: "KOWALSKA",
            postcode: mother.postcode, sex: .female)

        let patients = Self.patients(people)
        let spine = Spine(patients: patients, asOf: Day(year: 2025, month: 1, day: 1)!)
        func person(_ id: String) -> Int32 { spine.personOfRegistration[patients.patientId.firstIndex(of: id)!] }
        func link(_ reviews: [IdentityDigest: [String: Bool]]) -> (Linkage, LinkOutcome) {
            var linkage = Linker(patients: patients, spine: spine).link(care, workers: 2)
            let outcome = ProbabilisticLinker(patients: patients, spine: spine, workers: 2).link(
                care, &linkage, workers: 2, reviews: reviews, run: 1)
            return (linkage, outcome)
        }
        let daughterRows = (0..<care.count).filter { care.recordId[$0].hasPrefix("D") }
        let motherRow = care.recordId.firstIndex(of: "M0")!, atHomeRow = care.recordId.firstIndex(of: "S0")!

        let (before, queued) = link([:])
        #expect(daughterRows.allSatisfy { before.person[$0] == person("PM") && before.rule[$0] == .nhsNumberAndName })
        #expect(before.rule[motherRow] == .nhsNumberAndName && before.person[atHomeRow] == person("PM"))
        #expect(queued.report.nhsNumberLinksDisputed == 4 && queued.report.nhsNumberLinksBroken == 0)
        // The most strongly disputed first: the records from another address.
        let first = try #require(queued.queue.first)
        #expect(first.linkedByNHSNumber && first.records == 3 && first.candidates.map(\.person) == ["PM"])
        #expect(queued.queue.filter(\.linkedByNHSNumber).map(\.records) == [3, 1] && queued.queue[1].linkedByNHSNumber)

        // "Different" breaks a link whether or not it is disputed (the mistyped date of birth).
        let (broken, after) = link([
            first.identity: ["PM": false], atHomeIdentity.digest(): ["PM": false], typoIdentity.digest(): ["PM": false],
        ])
        #expect(after.report.nhsNumberLinksBroken == 5 && after.report.nhsNumberLinksDisputed == 0)
        #expect(daughterRows.allSatisfy { broken.person[$0] == person("PD") && broken.rule[$0] == .matchWeight })
        #expect(broken.person[atHomeRow] != person("PM") && broken.nhsConflict[atHomeRow])
        #expect(broken.person[motherRow] != person("PM") && !after.queue.contains(where: \.linkedByNHSNumber))
        // Their NHS number is the mother's, judged a different person: compared without it.
        var withoutNHS = MatchWeights.Identity(
            nhs: 0, birth: daughter.birth, given: "ZOFIA", family: "KOWALSKA", postcode: daughter.postcode, sex: .female)
        #expect(after.state.decisions[withoutNHS.digest()]?.person == "PD")
        withoutNHS.nhs = mother.nhs
        #expect(after.state.decisions[withoutNHS.digest()] == nil)

        let (kept, confirmed) = link([first.identity: ["PM": true]])
        #expect(daughterRows.allSatisfy { kept.person[$0] == person("PM") })
        #expect(confirmed.report.nhsNumberLinksDisputed == 1 && confirmed.queue.filter(\.linkedByNHSNumber).map(\.records) == [1])
    }

    @Test func digestsRoundTripAndSeparateFields() {
        let a = MatchWeights.Identity(nhs: 0, birth: .missing, given: "AB", family: "C", postcode: "", sex: nil)
        let b = MatchWeights.Identity(nhs: 0, birth: .missing, given: "A", family: "BC", postcode: "", sex: nil)
        #expect(a.digest() != b.digest())
        #expect(a.digest(person: "x") != a.digest())
        let d = a.digest()
        #expect(IdentityDigest(bytes: d.bytes) == d)
        #expect(IdentityDigest(bytes: [1, 2, 3]) == nil)
    }
}
