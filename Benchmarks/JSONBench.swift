import Dispatch
import Foundation
import PHMCore

/// Writing an API body as JSON: a 100-person worklist page (the API's largest), through the
/// platform's writer and through Foundation's `JSONEncoder` with the same key rules.
enum JSONBench {
    struct Entry: Encodable {
        var rank: Int
        var pseudonym: String
        var givenName: String
        var familyName: String
        var nhsNumber: String
        var dateOfBirth: String
        var age: Int
        var risk: Double
        var tier: String
        var rising: Bool
        var reasons: [String]
        var gaps: [String]
        var status: String
        var note: String
    }

    struct Page: Encodable {
        var cohort: String
        var version: Int
        var practice: String
        var total: Int
        var offset: Int
        var outcome: String
        var rankedBy: String
        var entries: [Entry]
    }

    static func run() throws {
        let page = Page(
            cohort: "older people at risk", version: 1, practice: "A81001", total: 650, offset: 0,
            outcome: "emergency_admission_12m", rankedBy: "boosted trees",
            entries: (0..<100).map { i in
                Entry(
                    rank: i + 1, pseudonym: String(repeating: "3f9a", count: 16), givenName: "Alice", familyName: "Smith",
                    nhsNumber: "9434765919", dateOfBirth: "1950-01-01", age: 76, risk: 0.3141 + Double(i) / 1000, tier: "high",
                    rising: i % 2 == 0,
                    reasons: ["age 76", "emergency admissions, last 12 months: 3", "heart failure"], gaps: ["bp_check"],
                    status: "to_contact", note: "")
            })
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        foundation.keyEncodingStrategy = .convertToSnakeCase
        print("| writer | bytes | µs a body (best of 5 x 200) |")
        print("|---|---|---|")
        for (name, write) in [
            ("PHMCore `JSON`", { try JSON.bytes(page).count }),
            ("Foundation `JSONEncoder`, sorted snake_case keys", { try foundation.encode(page).count }),
        ] as [(String, () throws -> Int)] {
            var best = Double.infinity
            var size = 0
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<200 { size = try write() }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 200 / 1000)
            }
            print("| \(name) | \(size) | \(String(format: "%.0f", best)) |")
        }
    }
}
