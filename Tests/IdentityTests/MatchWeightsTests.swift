import Foundation
import Ingest
import PHMCore
import TestSupport
import Testing

@testable import Identity

@Suite struct MatchWeightsTests {
    /// Winkler's (1990) worked examples, as the literature quotes them.
    @Test func jaroWinklerMatchesPublishedExamples() {
        for (a, b, expected) in [
            ("MARTHA", "MARHTA", 0.961111), ("DWAYNE", "DUANE", 0.84), ("DIXON", "DICKSONX", 0.813333), ("A", "A", 1),
            ("ABC", "XYZ", 0), ("AB", "BA", 0), ("", "", 1), ("SMITH", "", 0),
        ] {
            #expect(abs(MatchWeights.jaroWinkler(a, b) - expected) < 1e-6, "\(a) \(b)")
            #expect(abs(MatchWeights.jaroWinkler(b, a) - expected) < 1e-6, "\(b) \(a)")
        }
    }

    /// Against an independent implementation (jellyfish 1.1.3) on 5,000 pairs of names and
    /// names with letters dropped, changed, swapped and added.
    @Test func jaroWinklerAgreesWithJellyfish() throws {
        var rng = Xoshiro(seed: 7)
        let names = [
            "OLIVIA", "AMELIA", "MUHAMMAD", "OLUWASEUN", "NGUYEN", "SMITH", "SMYTHE", "OBRIEN", "SMITHJONES", "ZOE", "LI",
            "KHAN", "CHAUDHRY", "CHOUDHURY", "KOWALSKI", "WOJCIECHOWSKI", "SIOBHAN", "JOHNSON", "JONES", "A",
        ]
        var pairs: [(String, String)] = []
        for _ in 0..<5_000 {
            let a = names[rng.int(0..<names.count)]
            var b = Array(rng.chance(0.3) ? names[rng.int(0..<names.count)] : a)
            for _ in 0..<rng.int(0..<4) where !b.isEmpty {
                let i = rng.int(0..<b.count)
                switch rng.int(0..<4) {
                case 0: b.remove(at: i)
                case 1: b[i] = Array("AEIOUNRST")[rng.int(0..<9)]
                case 2: if i + 1 < b.count { b.swapAt(i, i + 1) }
                default: b.insert(Array("AEHY")[rng.int(0..<4)], at: i)
                }
            }
            pairs.append((a, String(b)))
        }
        let folder = temporaryFolder("jaro-winkler")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("pairs.txt")
        try Data(pairs.map { "\($0.0),\($0.1)\n" }.joined().utf8).write(to: file)
        let script = """
            import sys, jellyfish
            for line in open(sys.argv[1]):
                a, b = line.rstrip("\\n").split(",")
                print(repr(jellyfish.jaro_winkler_similarity(a, b)) if a and b else "x")
            """
        let run = try runProgram([crossCheckPython, "-c", script, file.path])
        #expect(run.status == 0, Comment(rawValue: run.errors))
        let theirs = run.output.split(separator: "\n")
        #expect(theirs.count == pairs.count)
        var differing = 0
        for (pair, value) in zip(pairs, theirs) where value != "x" {
            if abs(MatchWeights.jaroWinkler(pair.0, pair.1) - Double(value)!) > 1e-9 { differing += 1 }
        }
        #expect(differing == 0)
    }

    @Test func levelsOfDatesPostcodesAndNames() {
        let day = { (text: String) in Day(iso: text)! }
        #expect(MatchWeights.birthLevel(day("1950-03-07"), day("1950-03-07")) == 0)
        #expect(MatchWeights.birthLevel(day("1950-03-07"), day("1950-07-03")) == 1)
        #expect(MatchWeights.birthLevel(day("1950-03-07"), day("1951-03-07")) == 2)
        #expect(MatchWeights.birthLevel(day("1950-03-07"), day("1950-03-01")) == 2)
        #expect(MatchWeights.birthLevel(day("1950-03-07"), day("1961-05-07")) == 3)
        #expect(MatchWeights.birthLevel(.missing, day("1950-03-07")) == 4)
        #expect(MatchWeights.postcodeLevel("LS14AP", "LS14AP") == 0)
        #expect(MatchWeights.postcodeLevel("LS14AP", "LS14BQ") == 1)
        #expect(MatchWeights.postcodeLevel("LS14AP", "LS19ZZ") == 2)
        #expect(MatchWeights.postcodeLevel("LS14AP", "LS61AA") == 3)
        #expect(MatchWeights.postcodeLevel("LS14AP", "M11AE") == 4)
        #expect(MatchWeights.postcodeLevel("", "M11AE") == 5)
        #expect(MatchWeights.nameLevel("SMITH", "SMITH", initial: false) == 0)
        #expect(MatchWeights.nameLevel("SMITH", "SMIHT", initial: false) == 1)
        #expect(MatchWeights.nameLevel("JOHN", "JONATHAN", initial: true) == 2)
        #expect(MatchWeights.nameLevel("JAMES", "JULIE", initial: true) == 3)
        #expect(MatchWeights.nameLevel("JAMES", "PETER", initial: true) == 4)
        #expect(MatchWeights.nameLevel("", "PETER", initial: true) == 5)
        // Given and family names the other way round agree as if in place.
        let record = MatchWeights.Identity(
            nhs: 0, birth: day("1950-03-07"), given: "NGUYEN", family: "LAN", postcode: "LS14AP", sex: .female)
        let registration = MatchWeights.Identity(
            nhs: 9_434_765_919, birth: day("1950-03-07"), given: "LAN", family: "NGUYEN", postcode: "LS14AP", sex: .female)
        let v = MatchWeights.compare(record, registration)
        #expect(MatchWeights.level(v, .givenName) == 0 && MatchWeights.level(v, .familyName) == 0)
        #expect(MatchWeights.level(v, .nhsNumber) == 2 && MatchWeights.level(v, .sex) == 0)
    }

    /// Pairs drawn from known m and u: expectation-maximisation with u from random pairs
    /// recovers m for the fields each training rule leaves free, within 0.01.
    @Test func expectationMaximisationRecoversKnownParameters() {
        let fields = MatchWeights.Field.allCases
        let m: [[Double]] = [
            [0.85, 0.05, 0.10], [0.90, 0.02, 0.05, 0.02, 0.01], [0.88, 0.05, 0.03, 0.02, 0.01, 0.01],
            [0.86, 0.06, 0.03, 0.04, 0.01], [0.70, 0.05, 0.15, 0.04, 0.02, 0.04], [0.97, 0.02, 0.01],
        ]
        let u: [[Double]] = [
            [0.0001, 0.8999, 0.10], [0.0003, 0.0001, 0.02, 0.9696, 0.01], [0.02, 0.01, 0.03, 0.05, 0.88, 0.01],
            [0.01, 0.005, 0.02, 0.955, 0.01], [0.001, 0.01, 0.2, 0.3, 0.449, 0.04], [0.49, 0.49, 0.02],
        ]
        var rng = Xoshiro(seed: 3)
        func draw(_ p: [Double]) -> Int {
            var x = rng.uniform()
            for (i, q) in p.enumerated() {
                if x < q { return i }
                x -= q
            }
            return p.count - 1
        }
        func vector(_ from: [[Double]], fixing: [MatchWeights.Field]) -> MatchWeights.Vector {
            var v: MatchWeights.Vector = 0
            for field in fields {
                let level = fixing.contains(field) ? 0 : draw(from[field.rawValue])
                v |= MatchWeights.Vector(level) << (8 * UInt64(field.rawValue))
            }
            return v
        }
        var random: [MatchWeights.Vector: Int] = [:]
        for _ in 0..<400_000 { random[vector(u, fixing: []), default: 0] += 1 }
        let blocked = MatchWeights.trainingRules.map { rule -> [MatchWeights.Vector: Int] in
            var pairs: [MatchWeights.Vector: Int] = [:]
            for _ in 0..<60_000 { pairs[vector(rng.chance(0.15) ? m : u, fixing: rule), default: 0] += 1 }
            return pairs
        }
        let estimate = MatchWeights.estimate(random: random, blocked: blocked, persons: 1_000)
        #expect(estimate.converged)
        #expect(estimate.prior == 1.0 / 1_000)
        for field in fields {
            for level in field.levels.indices {
                #expect(abs(estimate.m[field.rawValue][level] - m[field.rawValue][level]) < 0.01, "\(field) \(level)")
                #expect(abs(estimate.u[field.rawValue][level] - u[field.rawValue][level]) < 0.005, "\(field) \(level) u")
            }
        }
    }
}
