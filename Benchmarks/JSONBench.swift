import Dispatch
import Foundation
import PHMCore
import Web

/// Writing an API body as JSON: a 100-person worklist page (the API's largest), through the
/// platform's writer and through Foundation's `JSONEncoder` with the same key rules.
enum JSONBench {
    static func run() throws {
        let page = API.Worklist.sample(people: 100)
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
