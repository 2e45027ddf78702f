import Analysis
import Cohorts
import Foundation
import Governance
import PHMCore
import Storage
import TestSupport
import Testing

@testable import Service

/// Differencing attacks on planning profiles: two cohorts that differ by one person, as an
/// attacker who knows that builds them (`practice = X` and `practice = X and age < 95`).
@Suite struct DisclosureTests {
    /// The counts `Suppression.perturbed` can publish for `n` people, over every key.
    static func outputs(_ n: Int) -> Set<Int?> { Set((0...255).map { Suppression.perturbed(n, key: UInt8($0)) }) }

    /// Pairs of random cohorts A and A + one person. For every count (the size and each group),
    /// whatever A shows hidden, at least two sizes of A are consistent with both answers; and an
    /// attacker's estimate of the person's value from the two means, (n + 1) x mean(A + p) -
    /// n x mean(A), is no better than a guess within the cap.
    @Test func pairsDifferingByOnePersonGiveNothingAway() throws {
        let fixture = try Fixture()
        let analyst = try fixture.session(.analyst, .planning)
        let frame = try fixture.platform.frame(for: .planning)
        #expect(frame.recordKeys.count == frame.count && !frame.measureCaps.isEmpty)
        let scope = try analyst.scope(frame)
        let population = CohortProfile.Tally(frame, rows: scope)
        var rng = Xoshiro(seed: 7)
        let people = scope.rows
        var closeGuesses = 0, guesses = 0, hiddenCells = 0
        func profile(_ rows: Bitset) -> CohortProfile {
            CohortProfile(cohort: CohortProfile.Tally(frame, rows: rows), population: population)
        }
        func published(_ profile: CohortProfile) -> PublishedProfile {
            CohortResult(profile: profile, suppressed: true, runId: frame.runId, asOf: frame.asOf, seconds: 0).published()
        }
        for trial in 0..<300 {
            // A: a practice's people in an age range (small or large), within the scope.
            let practice = Int32(rng.int(0..<12)), low = rng.int(0..<100), high = low + [1, 3, 10, 100][trial % 4]
            var a = Bitset(count: frame.count) {
                frame.practice[$0] == practice && Int(frame.age[$0]) >= low && Int(frame.age[$0]) < high
            }
            a.formIntersection(scope)
            let outside = people.filter { !a.contains($0) }
            let p = outside[rng.int(0..<outside.count)]
            var b = a
            b.insert(p)
            let (fa, fb) = (profile(a), profile(b))
            let (pa, pb) = (published(fa), published(fb))
            // Counts: the size and every group; the groups holding p are one larger in B.
            let pairs =
                [(pa.size, pb.size, fa.size, fb.size)]
                + pa.groups.indices.map {
                    (pa.groups[$0].cohort, pb.groups[$0].cohort, fa.groups[$0].cohort, fb.groups[$0].cohort)
                }
            for (shownA, shownB, trueA, trueB) in pairs where shownA == nil && (1...9).contains(trueA) {
                hiddenCells += 1
                // Sizes of A an attacker who knows the cell is small, and whether p is in it,
                // cannot rule out.
                let consistent = (1...9).filter { h in
                    Self.outputs(h).contains(nil) && Self.outputs(h + trueB - trueA).contains(shownB)
                }
                #expect(consistent.count >= 2, "hidden count pinned: A shows nothing, B shows \(String(describing: shownB))")
            }
            // Means: p's value estimated from the two published means and sizes.
            // Means are shown or not by the published size alone: never beside a size under 15.
            for p in [pa, pb] where (p.size ?? 0) < 15 { #expect(p.measures.isEmpty) }
            #expect(!pa.measures.contains { $0.measure.hasPrefix("rising_") })
            guard let na = pa.size, let nb = pb.size, na > 0 else { continue }
            // The attacker's best size for a mean of whole numbers: the one near the published size
            // that makes mean x size whole (how exact means gave exact sizes away).
            func sum(_ mean: Double, _ shown: Int) -> Double {
                let sizes = (max(1, shown - 4)...(shown + 4)).map(Double.init)
                let n = sizes.min { abs(($0 * mean).rounded() - $0 * mean) < abs(($1 * mean).rounded() - $1 * mean) }!
                return n * mean
            }
            for (ma, mb) in zip(pa.measures, pb.measures)
            where ["age", "ltc_count"].contains(ma.measure) && ma.cohort.isFinite && mb.cohort.isFinite {
                let value = CohortProfile.measures(frame).first { $0.name == ma.measure }!.column.value(p)!
                let estimate = sum(mb.cohort, nb) - sum(ma.cohort, na)
                let cap = try #require(ma.cap), width = cap.upperBound - cap.lowerBound
                guesses += 1
                if abs(estimate - min(max(value, cap.lowerBound), cap.upperBound)) < width / 10 { closeGuesses += 1 }
            }
        }
        #expect(hiddenCells > 100 && guesses > 200)
        // Exact means give nearly every estimate exactly; the published ones are right to a tenth
        // of the cap about as often as a guess would be.
        #expect(Double(closeGuesses) / Double(guesses) < 0.3, "\(closeGuesses) of \(guesses) estimates within cap / 10")
    }

    /// A mean over the few people whose value is known (a risk scored for 11 of 1,000) is
    /// rounded at the precision of those 11, not of the 1,000, and hidden under 10 of them.
    @Test func aMeanIsRoundedByHowManyItIsOver() throws {
        var frame = randomFrame(1_000, seed: 5)
        frame.recordKeys = (0..<frame.count).map { UInt8($0 % 256) }
        for scored in [11, 9] {
            for r in frame.risks.indices {
                frame.risks[r].risk = (0..<frame.count).map { $0 < scored ? Float($0 + 1) / 100 + 0.003 : .nan }
            }
            frame.measureCaps = CohortProfile.caps(frame)
            let everyone = Bitset.all(frame.count)
            let profile = CohortProfile(frame, cohort: everyone, population: everyone)
            let published = CohortResult(profile: profile, suppressed: true, runId: 1, asOf: frame.asOf, seconds: 0).published()
            let name = "risk_" + frame.risks[0].outcome
            let risk = try #require(published.measures.first { $0.measure == name })
            let cap = try #require(frame.measureCaps[name])
            #expect(profile.measures.first { $0.measure == name }?.cohortCount == scored)
            if scored < Suppression.smallestPerturbed {
                #expect(risk.cohort.isNaN)
            } else {
                // The step for 11 people, not for 1,000: one person moves the mean by at most the
                // cap's width over 11.
                let (mantissa, exponent) = Suppression.step(atLeast: (cap.upperBound - cap.lowerBound) / Double(scored))
                let step = mantissa * pow(10, Double(exponent))
                let steps = risk.cohort / step
                #expect(abs(steps - steps.rounded()) < 1e-9, "\(risk.cohort) is not a multiple of \(step)")
            }
        }
    }

    /// The same people always give the same answer: asking again, or another way, reveals nothing new.
    @Test func theSamePeopleGiveTheSameAnswer() throws {
        let fixture = try Fixture()
        let analyst = try fixture.session(.analyst, .planning)
        let one = try analyst.query(try CohortText.parse("practice = P3 and age >= 40")).published()
        let again = try analyst.query(try CohortText.parse("age >= 40 and (practice = P3)")).published()
        let other = try analyst.query(try CohortText.parse("practice = P3 and not age < 40")).published()
        for p in [again, other] {
            #expect(p.size == one.size && p.groups.map(\.cohort) == one.groups.map(\.cohort))
            #expect(p.measures.map(\.cohort).description == one.measures.map(\.cohort).description)
        }
    }

    /// Caps are never one person's value: both ends are 0 or 1, 2 or 5 times a power of ten.
    @Test func capsAreOnAGrid() throws {
        let fixture = try Fixture()
        let frame = try fixture.platform.frame(for: .planning)
        func onGrid(_ x: Double) -> Bool {
            guard x != 0 else { return true }
            let scaled = abs(x) / pow(10, log10(abs(x)).rounded(.down))
            return [1, 2, 5, 10].contains { abs(scaled - $0) < 1e-9 }
        }
        #expect(frame.measureCaps.count >= 4)
        for (name, cap) in frame.measureCaps {
            #expect(onGrid(cap.lowerBound) && onGrid(cap.upperBound), "\(name): \(cap)")
        }
    }

    @Test func perturbationIsUnbiasedAndHidesSmallCounts() {
        for n in 1...7 { #expect(Self.outputs(n) == [nil]) }
        #expect(Self.outputs(8) == [nil, 10] && Self.outputs(9) == [nil, 10])
        #expect(Self.outputs(0) == [0])
        for n in [10, 11, 13, 27, 1_234] {
            let mean = Double((0...255).map { Suppression.perturbed(n, key: UInt8($0))! }.reduce(0, +)) / 256
            #expect(abs(mean - Double(n)) < 0.05, "\(n): \(mean)")
            #expect(Self.outputs(n).allSatisfy { $0! % 5 == 0 && abs($0! - n) < 5 })
        }
        // Means: a step one person cannot cross, and unbiased over keys.
        let value = 41.37
        let shown = (0...255).map { Suppression.mean(value, people: 200, spread: 92, key: UInt8($0))! }
        #expect(Set(shown) == [41, 41.5])
        #expect(abs(shown.reduce(0, +) / 256 - value) < 0.1)
        #expect(Suppression.mean(value, people: 9, spread: 92, key: 0) == nil)
        #expect(Suppression.step(atLeast: 0.46).0 == 5 && Suppression.step(atLeast: 0.46).1 == -1)
        #expect(Suppression.step(atLeast: 120).0 == 2 && Suppression.step(atLeast: 120).1 == 2)
    }
}

/// The rest of the hardening list, one test each.
@Suite struct GovernanceHardeningTests {
    /// Only a cohort's owner adds versions; a worklist keeps to the version it was opened at.
    @Test func cohortsBelongToTheirOwnerAndWorklistsPinTheirVersion() throws {
        let fixture = try Fixture()
        let clinician = try fixture.session(.clinician, .directCare)
        let analyst = try fixture.session(.analyst, .planning)
        _ = try clinician.saveCohort("frail", try CohortText.parse("age >= 60"))
        #expect(throws: AccessError.notOwner(cohort: "frail", owner: "cli")) {
            try analyst.saveCohort("frail", try CohortText.parse("age >= 200"))
        }
        let log = try fixture.platform.store.auditEntries()
        #expect(log.last?.outcome == "denied" && log.last?.detail.contains("owned by another user") == true)
        let opened = try clinician.worklist("frail", reason: "review", limit: 10)
        #expect(opened.cohort.version == 1 && opened.total > 0)
        // The owner saves a version that matches nobody; the opened list keeps to version 1.
        _ = try clinician.saveCohort("frail", try CohortText.parse("age >= 200"))
        let paged = try clinician.worklist("frail", version: 1, reason: "review", offset: 10, limit: 10)
        #expect(paged.total == opened.total && paged.cohort.version == 1)
        #expect(try clinician.worklist("frail", reason: "review").total == 0)
        #expect(throws: AccessError.unknownVersion("frail", 9)) { try clinician.worklist("frail", version: 9, reason: "r") }
    }

    /// Names, notes and reasons with control or bidirectional characters are refused.
    @Test func invisibleCharactersAreRefused() throws {
        let fixture = try Fixture()
        let analyst = try fixture.session(.analyst, .planning)
        let definition = try CohortText.parse("age >= 60")
        for name in ["older\u{202E}txt.exe", "zero\u{200B}width", "bell\u{7}", String(repeating: "a", count: 65)] {
            #expect(throws: AccessError.self) { try analyst.saveCohort(name, definition) }
        }
        #expect(throws: AccessError.self) { try analyst.saveCohort("ok", definition, description: "a\u{2066}b") }
        let admin = try fixture.session(.admin, .administration)
        #expect(throws: AccessError.self) {
            try admin.setUser("adm\u{202E}in", role: .analyst, practiceCode: nil, password: "long enough password")
        }
        _ = try analyst.saveCohort("older", definition, description: "people aged 60 and over")
    }

    /// The cohort builder needs the right to query cohorts, and its views are audited.
    @Test func theCohortBuilderIsCheckedAndAudited() throws {
        let fixture = try Fixture()
        #expect(throws: AccessError.self) { try fixture.session(.igLead, .planning).builderFrame() }
        _ = try fixture.session(.analyst, .planning).builderFrame()
        let log = try fixture.platform.store.auditEntries().filter { $0.detail.contains("cohort_builder") }
        #expect(log.map(\.outcome) == ["denied", "allowed"] && log.map(\.user) == ["ig", "ana"])
    }

    /// The store and the vault are readable by their owner only.
    @Test func filesAreOwnerOnly() throws {
        let fixture = try Fixture()
        for path in ["phm.sqlite", "vault/identity.sqlite"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: fixture.folder.appendingPathComponent(path).path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(path)")
        }
    }

    /// A cell a spreadsheet would run as a formula is written after a quote; numbers are not.
    @Test func csvCellsNeverRunAsFormulas() {
        var rows = CSVRows()
        for field in ["=HYPERLINK(\"http://x\")", "+1+1", "@SUM(A1)", "-2", "-0.5", "\tx", "plain"] { rows.field(field) }
        rows.end()
        #expect(
            String(decoding: rows.bytes, as: UTF8.self) == #""'=HYPERLINK(""http://x"")","'+1+1","'@SUM(A1)",-2,-0.5,"'"#
                + "\tx\",plain\n")
    }
}
