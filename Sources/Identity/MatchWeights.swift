import Foundation
import Ingest
import Outputs
import PHMCore

/// Probabilistic linkage (Fellegi and Sunter, 1969) for the care records the deterministic rules
/// leave unlinked.
///
/// Each record is compared with the registrations that share a blocking key with it; each field
/// agrees at a level (exact, close by Jaro-Winkler, transposed, same sector, ...). A level's
/// match weight is log2(m/u): m the chance of that level between two records of one person,
/// u between two people's. u comes from random pairs, m from the expectation-maximisation
/// algorithm on blocked pairs with u held fixed, as Splink does; an exact name or postcode is
/// weighed by how common that value is on the spine (term-frequency adjustment). A record links
/// to its best person when the match probability reaches `threshold` and the next best person
/// is at least `margin` times less likely; below that, a record with some person above
/// `reviewFloor` is counted as uncertain.
public struct MatchWeights: Sendable, Codable {
    /// The fields compared and the levels each can agree at, best first; the last is "missing".
    public enum Field: Int, CaseIterable, Sendable {
        case nhsNumber, dateOfBirth, givenName, familyName, postcode, sex

        public var name: String {
            ["nhs_number", "date_of_birth", "given_name", "family_name", "postcode", "sex"][rawValue]
        }

        public var levels: [String] {
            switch self {
            case .nhsNumber: ["equal", "different", "missing"]
            case .dateOfBirth: ["exact", "day and month swapped", "one part different", "different", "missing"]
            case .givenName: ["exact", "Jaro-Winkler 0.92+", "Jaro-Winkler 0.80+", "same initial", "different", "missing"]
            case .familyName: ["exact", "Jaro-Winkler 0.92+", "Jaro-Winkler 0.80+", "different", "missing"]
            case .postcode: ["unit", "sector", "district", "area", "different", "missing"]
            case .sex: ["same", "different", "missing"]
            }
        }

        /// Exact agreement on these is weighed by the value's frequency on the spine.
        var termFrequency: Bool { self == .givenName || self == .familyName || self == .postcode }
    }

    /// A record's link probability at or above which it links.
    public static let threshold = 0.99
    /// How many times likelier the best person must be than the next.
    public static let margin = 10.0
    /// A record whose best person is at least this likely but not linked is uncertain.
    public static let reviewFloor = 0.5

    /// m and u for each field's levels, and the prior share of blocked pairs that match.
    public var m: [[Double]]
    public var u: [[Double]]
    public var prior: Double
    public var iterations: Int
    public var converged: Bool

    /// The identity of one side of a comparison, normalised as linkage compares it.
    struct Identity: Hashable {
        var nhs: UInt64
        var birth: Day
        var given: String
        var family: String
        var postcode: String
        var sex: Sex?
    }

    /// Levels of the six fields, one byte each (level indices are below 8).
    typealias Vector = UInt64

    static func level(_ v: Vector, _ field: Field) -> Int { Int((v >> (8 * UInt64(field.rawValue))) & 0xFF) }

    /// Compares two identities, trying the names the other way round when one of them agrees
    /// exactly across (a swap), and keeping the better.
    static func compare(_ a: Identity, _ b: Identity) -> Vector {
        func put(_ level: Int, _ field: Field) -> Vector { Vector(level) << (8 * UInt64(field.rawValue)) }
        var v: Vector = 0
        v |= put(a.nhs == 0 || b.nhs == 0 ? 2 : (a.nhs == b.nhs ? 0 : 1), .nhsNumber)
        v |= put(birthLevel(a.birth, b.birth), .dateOfBirth)
        var given = nameLevel(a.given, b.given, initial: true), family = nameLevel(a.family, b.family, initial: false)
        if given + family > 0, (!a.family.isEmpty && a.family == b.given) || (!a.given.isEmpty && a.given == b.family) {
            let swappedGiven = nameLevel(a.family, b.given, initial: true)
            let swappedFamily = nameLevel(a.given, b.family, initial: false)
            if swappedGiven <= 1, swappedFamily <= 1, swappedGiven + swappedFamily < given + family {
                (given, family) = (swappedGiven, swappedFamily)
            }
        }
        v |= put(given, .givenName) | put(family, .familyName)
        v |= put(postcodeLevel(a.postcode, b.postcode), .postcode)
        let sa = a.sex == .unknown ? nil : a.sex, sb = b.sex == .unknown ? nil : b.sex
        v |= put(sa == nil || sb == nil ? 2 : (sa == sb ? 0 : 1), .sex)
        return v
    }

    static func birthLevel(_ a: Day, _ b: Day) -> Int {
        if a == .missing || b == .missing { return 4 }
        if a == b { return 0 }
        let (ya, ma, da) = a.civil, (yb, mb, db) = b.civil
        if ya == yb, ma == db, da == mb { return 1 }
        let same = (ya == yb ? 1 : 0) + (ma == mb ? 1 : 0) + (da == db ? 1 : 0)
        return same == 2 ? 2 : 3
    }

    static func nameLevel(_ a: String, _ b: String, initial: Bool) -> Int {
        let missing = initial ? 5 : 4
        if a.isEmpty || b.isEmpty { return missing }
        if a == b { return 0 }
        let similarity = jaroWinkler(a, b)
        if similarity >= 0.92 { return 1 }
        if similarity >= 0.80 { return 2 }
        if initial, a.utf8.first == b.utf8.first { return 3 }
        return missing - 1
    }

    /// Unit, sector (outward code and the inward code's digit), district (outward code), area
    /// (the outward code's letters), different; postcodes are normalised without a space.
    static func postcodeLevel(_ a: String, _ b: String) -> Int {
        let a = a.utf8, b = b.utf8
        if a.count < 5 || b.count < 5 { return 5 }
        if a.elementsEqual(b) { return 0 }
        let outA = a.dropLast(3), outB = b.dropLast(3)
        if outA.elementsEqual(outB) { return a.dropFirst(outA.count).first == b.dropFirst(outB.count).first ? 1 : 2 }
        let isLetter: (UInt8) -> Bool = { $0 >= 0x41 && $0 <= 0x5A }
        return outA.prefix(while: isLetter).elementsEqual(outB.prefix(while: isLetter)) ? 3 : 4
    }

    /// Jaro-Winkler similarity (Winkler 1990): Jaro's matches within half the longer length,
    /// transpositions halved, and, above a Jaro of 0.7, a bonus of 0.1 per common leading
    /// character, up to four. Compared as bytes: names are normalised to ASCII letters.
    static func jaroWinkler(_ a: String, _ b: String) -> Double {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in jaroWinkler(x, y) } }
    }

    static func jaroWinkler(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Double {
        if a.isEmpty && b.isEmpty { return 1 }
        if a.isEmpty || b.isEmpty { return 0 }
        // Names longer than this are not names; the bound keeps the work per pair small.
        let n = min(a.count, 64), k = min(b.count, 64)
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: 128) { flags in
            flags.initialize(repeating: false)
            let window = max(0, max(n, k) / 2 - 1)
            var matches = 0
            for i in 0..<n {
                let lo = max(0, i - window), hi = min(k - 1, i + window)
                guard lo <= hi else { continue }
                for j in lo...hi where !flags[64 + j] && a[i] == b[j] {
                    flags[i] = true
                    flags[64 + j] = true
                    matches += 1
                    break
                }
            }
            if matches == 0 { return 0 }
            var transpositions = 0, j = 0
            for i in 0..<n where flags[i] {
                while !flags[64 + j] { j += 1 }
                if a[i] != b[j] { transpositions += 1 }
                j += 1
            }
            let m = Double(matches)
            let jaro = (m / Double(n) + m / Double(k) + (m - Double(transpositions / 2)) / m) / 3
            // Winkler's boost applies only to strings already alike (Jaro above 0.7).
            guard jaro > 0.7 else { return jaro }
            var prefix = 0
            while prefix < min(4, n, k), a[prefix] == b[prefix] { prefix += 1 }
            return jaro + Double(prefix) * 0.1 * (1 - jaro)
        }
    }

    // MARK: estimation

    /// The blocking rules the estimate is made on, by the fields each fixes. A field's m cannot
    /// be learnt from pairs blocked on it (they all agree), so each field's m is the mean of its
    /// estimates from the rules that leave it free, as Splink does.
    static let trainingRules: [[Field]] = [[.dateOfBirth], [.givenName, .familyName], [.postcode, .familyName]]

    /// u as the share of each level among `random` pairs (almost all of two different people);
    /// then, for each training rule, m of the fields it leaves free and the rule's share of
    /// matching pairs, by expectation-maximisation over the rule's blocked pairs with u held
    /// fixed. Vectors come counted, so the estimate does not depend on the order of the records.
    /// The prior of a match is one in `persons`: a record belongs to one person of the spine.
    static func estimate(
        random: [Vector: Int], blocked: [[Vector: Int]], persons: Int, maxIterations: Int = 200
    ) -> MatchWeights {
        let fields = Field.allCases
        // Add-one smoothing: a level never seen among random pairs is rare, not impossible.
        let u = fields.map { field -> [Double] in
            var counts = [Double](repeating: 1, count: field.levels.count)
            for (v, n) in random { counts[level(v, field)] += Double(n) }
            let total = counts.reduce(0, +)
            return counts.map { $0 / total }
        }
        var sums = fields.map { [Double](repeating: 0, count: $0.levels.count) }
        var estimates = [Int](repeating: 0, count: fields.count)
        // Without pairs to learn from, m stays u, every weight is 0 and nothing links: reported
        // as not converged.
        var iterations = 0, converged = blocked.contains { !$0.isEmpty }
        for (rule, pairs) in zip(trainingRules, blocked) where !pairs.isEmpty {
            let free = fields.filter { !rule.contains($0) }
            let fit = expectationMaximisation(free, u: u, pairs: pairs.sorted { $0.key < $1.key }, maxIterations)
            iterations = max(iterations, fit.iterations)
            converged = converged && fit.converged
            for field in free {
                estimates[field.rawValue] += 1
                for l in field.levels.indices { sums[field.rawValue][l] += fit.m[field.rawValue][l] }
            }
        }
        // A field no rule could estimate keeps m equal to u: it then weighs nothing.
        let m = fields.map { field in
            estimates[field.rawValue] == 0
                ? u[field.rawValue] : sums[field.rawValue].map { $0 / Double(estimates[field.rawValue]) }
        }
        let prior = 1 / Double(max(2, persons))
        return MatchWeights(m: m, u: u, prior: prior, iterations: iterations, converged: converged)
    }

    /// m of `free` fields (the others' rows stay empty) on one rule's pairs, u fixed. Each step
    /// adds one pseudo-count spread over the levels as u spreads, so a level no match showed keeps
    /// a small m (about u over the number of matches) rather than an infinite weight against.
    static func expectationMaximisation(
        _ free: [Field], u: [[Double]], pairs: [(key: Vector, value: Int)], _ maxIterations: Int
    ) -> (m: [[Double]], iterations: Int, converged: Bool) {
        var m = Field.allCases.map { field -> [Double] in
            let n = field.levels.count
            return (0..<n).map { i in i == n - 1 ? 0.05 : (i == 0 ? 0.8 : 0.15 / Double(max(1, n - 2))) }
        }
        let total = Double(pairs.reduce(0) { $0 + $1.value })
        // Start from one match in a block of the mean size: most blocked pairs are not matches.
        var share = 0.05
        for iteration in 1...maxIterations {
            var expected = u
            var matches = 0.0
            for (v, n) in pairs {
                var match = share, nonMatch = 1 - share
                for field in free {
                    let l = level(v, field)
                    match *= m[field.rawValue][l]
                    nonMatch *= u[field.rawValue][l]
                }
                let weight = match / (match + nonMatch) * Double(n)
                for field in free { expected[field.rawValue][level(v, field)] += weight }
                matches += weight
            }
            var change = abs(matches / total - share)
            share = min(max(matches / total, 1e-9), 1 - 1e-9)
            for field in free {
                let row = expected[field.rawValue], sum = row.reduce(0, +)
                for l in row.indices {
                    change = max(change, abs(row[l] / sum - m[field.rawValue][l]))
                    m[field.rawValue][l] = row[l] / sum
                }
            }
            if change < 1e-7 { return (m, iteration, true) }
        }
        return (m, maxIterations, false)
    }

    /// The match weight of a vector, log2 of the odds, with exact names and postcodes weighed
    /// by their frequency on the spine where given. A missing value weighs nothing either way.
    func weight(_ v: Vector, frequency: (Field) -> Double?) -> Double {
        log2(prior / (1 - prior)) + weight(v, of: Field.allCases, frequency: frequency)
    }

    /// What some fields of a vector weigh, without the prior.
    func weight(_ v: Vector, of fields: [Field], frequency: (Field) -> Double?) -> Double {
        var w = 0.0
        for field in fields {
            let l = Self.level(v, field)
            if l == field.levels.count - 1 { continue }
            var uLevel = u[field.rawValue][l]
            if l == 0, field.termFrequency, let f = frequency(field) { uLevel = f }
            w += log2(m[field.rawValue][l] / uLevel)
        }
        return w
    }

    static func probability(_ weight: Double) -> Double { 1 / (1 + exp2(-weight)) }
}
