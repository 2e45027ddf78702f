import ArgumentParser
import Foundation

/// `phm-bench --scaling`: the whole benchmark at 0.1, 0.3, 1 and 3 million people, each size in a
/// process of its own (so that each peak memory is that size's alone) with a fresh data directory
/// and output folder, then one table of the figures.
enum ScalingBench {
    static let sizes = [100_000, 300_000, 1_000_000, 3_000_000]

    /// Options the scaling run sets for each size itself.
    static let replaced: Set<String> = ["--people", "--data-dir", "--out"]

    static func run(arguments: [String]) throws {
        guard let executable = Bundle.main.executableURL else { throw ValidationError("cannot find phm-bench itself") }
        var rows: [String] = []
        for people in sizes {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
                "phm-bench-scaling-\(people)-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let child =
                passedOn(arguments) + [
                    "--people", "\(people)", "--data-dir", scratch.appendingPathComponent("data").path, "--out",
                    scratch.appendingPathComponent("out").path,
                ]
            // Written straight out, not buffered, to come before the child's own output.
            FileHandle.standardOutput.write(Data("=== \(people) people: phm-bench \(child.joined(separator: " "))\n".utf8))
            let output = try runEchoing(executable, child)
            func figure(_ prefix: String, _ suffix: String) -> String {
                guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return "-" }
                var rest = line.dropFirst(prefix.count)
                if let end = rest.range(of: suffix) { rest = rest[..<end.lowerBound] }
                return rest.trimmingCharacters(in: .whitespaces)
            }
            let spine = figure("people on spine: ", ";")
            let bytes = output.split(separator: "\n").first { $0.contains("bytes read: ") }
                .map { String($0[$0.range(of: "bytes read: ")!.upperBound...]) } ?? "-"
            rows.append(
                "| \(spine) | \(bytes) | \(figure("| ingest | ", " |")) | \(figure("| risk training | ", " |")) | \(figure("| total | ", " |")) | \(figure("peak memory (max RSS): ", " GB")) |"
            )
        }
        print("")
        print("| people on spine | input | ingest, s | risk training, s | whole run, s | peak memory, GB |")
        print("|---|---|---|---|---|---|")
        rows.forEach { print($0) }
    }

    /// The arguments given, less `--scaling` and the options each size sets.
    static func passedOn(_ arguments: [String]) -> [String] {
        var out: [String] = [], skip = false
        for a in arguments {
            if skip {
                skip = false
                continue
            }
            let name = String(a.split(separator: "=", maxSplits: 1).first ?? "")
            if a == "--scaling" { continue }
            if replaced.contains(name) {
                skip = !a.contains("=")
                continue
            }
            out.append(a)
        }
        return out
    }

    /// Runs the command with its output shown as it comes, and returns that output.
    static func runEchoing(_ executable: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var output = Data()
        while let chunk = try pipe.fileHandleForReading.read(upToCount: 1 << 16), !chunk.isEmpty {
            FileHandle.standardOutput.write(chunk)
            output.append(chunk)
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("phm-bench \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
