import ArgumentParser
import Conditions
import Foundation
import Logging
import PHMCore
import Pipeline
import TestSupport
import Testing

@testable import CLI
@testable import Storage
@testable import Web

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct CommandLineTests {
    /// Each setting from its flag, else its environment variable, else the configuration file,
    /// else its default; a bad value is refused naming where it came from, and so is a name the
    /// file may not hold (a misspelling, or a password).
    @Test func settingsComeFromFlagsThenTheEnvironmentThenTheConfigurationFile() throws {
        let folder = temporaryFolder("configuration")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("phm.json")
        func write(_ text: String) throws { try Data(text.utf8).write(to: file) }
        try write(
            #"{"data-dir": "/srv/phm/data", "port": 8443, "log-level": "notice", "access-log": "1/10", "workers": 3, "keep-frames": 4, "wait": 600, "gates": "/etc/phm/gates.yaml"}"#
        )
        let sources = try SettingSources(file: file.path, environment: ["PHM_LOG_LEVEL": "warning", "PHM_PORT": "9000"])
        func serve(_ arguments: [String], _ sources: SettingSources) throws -> PHMCommand.Serve {
            var serve = try #require(try PHMCommand.parseAsRoot(["serve"] + arguments) as? PHMCommand.Serve)
            try serve.platform.resolve(sources)
            try serve.resolve(sources)
            return serve
        }
        let run = ["run", "--input", "in", "--as-of", "2025-04-01", "--out", "out"]
        func pipeline(_ arguments: [String], _ sources: SettingSources) throws -> PipelineOptions {
            var pipeline = try #require(try PHMCommand.parseAsRoot(run + arguments) as? PHMCommand.Run).pipeline
            try pipeline.resolve(sources)
            return pipeline
        }
        let served = try serve(["--host", "0.0.0.0"], sources)
        #expect(served.address == ("0.0.0.0", 9000))  // the flag, the environment over the file
        #expect(served.logs.logLevel == .warning && !served.logs.json)  // the environment; the default
        #expect(served.access == .sample(10) && served.platform.dataDirectory == "/srv/phm/data")  // the file
        let flagged = try serve(["--port", "7000", "--log-level", "debug", "--data-dir", "here"], sources)
        #expect(flagged.address.port == 7000 && flagged.logs.logLevel == .debug && flagged.platform.dataDirectory == "here")
        let defaults = try serve([], SettingSources(file: nil, environment: ["PHM_PORT": "", "PHM_DATA_DIR": ""]))
        #expect(defaults.address == ("127.0.0.1", 8080) && defaults.logs.logLevel == .info && defaults.access == .all)
        #expect(defaults.platform.dataDirectory == "phm-data")
        let ran = try pipeline(["--workers", "1"], sources)
        #expect(ran.workers == 1 && ran.retention.frames == 4 && ran.wait == 600)
        #expect(ran.dataDirectory == "/srv/phm/data" && ran.logs.logLevel == .warning)
        // `$PHM_CONFIG` names the file when `--config` does not.
        let named = try SettingSources(file: nil, environment: ["PHM_CONFIG": file.path])
        #expect(try named.text("gates", flag: nil) == "/etc/phm/gates.yaml")
        #expect(try named.text("gates", flag: "mine.yaml") == "mine.yaml")

        // Parsing a command reads the file it names (the test process's environment names no
        // setting), and the run's options carry the wait.
        let parsed = try #require(try PHMCommand.parseAsRoot(run + ["--config", file.path]) as? PHMCommand.Run)
        #expect(parsed.pipeline.dataDirectory == "/srv/phm/data" && parsed.gates == "/etc/phm/gates.yaml")
        let options = try Console.options(input: "in", asOf: Day(iso: "2025-04-01")!, out: "out", pipeline: parsed.pipeline)
        #expect(options.lockWait == 600 && options.workers == 3 && options.retention.frames == 4)
        let parsedServe = try #require(try PHMCommand.parseAsRoot(["serve", "--config", file.path]) as? PHMCommand.Serve)
        #expect(parsedServe.address.port == 8443 && parsedServe.access == .sample(10))
        // A demo never takes a deployment's settings.
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["demo", "--config", file.path]) }

        func refusal(_ text: String, environment: [String: String] = [:]) -> String {
            do {
                try write(text)
                let sources = try SettingSources(file: file.path, environment: environment)
                _ = try serve([], sources)
                _ = try pipeline([], sources)
                return "taken"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(#"{"pgpassword": "secret"}"#).contains(#"phm.json: "pgpassword" is not a setting"#))
        #expect(refusal(#"{"data_dir": "x"}"#).contains(#""data_dir" is not a setting"#))
        #expect(refusal(#"{"port": "https"}"#).contains(#"phm.json: port "https": a port number, 1 to 65535"#))
        #expect(refusal(#"{"port": 8080.5}"#).contains("phm.json: port is a port number"))
        #expect(refusal(#"{"data-dir": ""}"#).contains(#"data-dir "": a path"#))
        #expect(refusal(#"{"data-dir": 5}"#).contains("data-dir is a path"))
        #expect(refusal(#"{"key-file": "/keys/a\u0000b"}"#).contains("a path, without control characters"))
        #expect(refusal(#"{"log": {"level": "info"}}"#).contains("one JSON object of settings"))
        #expect(refusal("[1, 2]").contains("one JSON object of settings"))
        #expect(refusal(String(repeating: " ", count: 70_000) + "{}").contains("at most 65536 bytes"))
        // Every value in the file is checked, whichever command reads it.
        #expect(refusal(#"{"wait": 86401}"#).contains(#"wait "86401": a whole number from 0 to 86400"#))
        #expect(refusal(#"{"workers": 0}"#).contains(#"workers "0": a whole number from 1 to 4096"#))
        #expect(refusal("{}", environment: ["PHM_WORKERS": "0"]).contains(#"$PHM_WORKERS "0": a whole number from 1"#))
        #expect(refusal("{}", environment: ["PHM_ACCESS_LOG": "half"]).contains(#"$PHM_ACCESS_LOG "half": all, off or 1/N"#))
        #expect(refusal("{}", environment: ["PHM_PORT": "tcp://10.0.0.1:8080"]).contains(#"$PHM_PORT "tcp://10.0.0.1:8080""#))
        #expect(
            refusal("{}", environment: ["PHM_LOG_LEVEL": String(repeating: "x", count: 100_000)]).contains(
                "... (100000 bytes)"))
        // Only a regular file is read: not a missing one, a pipe (which could block) or a device.
        func unreadable(_ path: String) -> String {
            do {
                _ = try SettingSources(file: path, environment: [:])
                return "read"
            } catch {
                return "\(error)"
            }
        }
        #expect(unreadable(folder.appendingPathComponent("none.json").path).contains("cannot be read"))
        let pipe = folder.appendingPathComponent("pipe.json")
        #expect(mkfifo(pipe.path, 0o600) == 0)
        #expect(unreadable(pipe.path).contains("must be a regular file"))
        let device = folder.appendingPathComponent("zero.json")
        try FileManager.default.createSymbolicLink(atPath: device.path, withDestinationPath: "/dev/zero")
        #expect(unreadable(device.path).contains("must be a regular file"))
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["serve", "--log-level", "loud"]) }
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["demo", "--log-format", "xml"]) }
    }

    /// The systemd unit and the container file start a command this build accepts, on the data
    /// directory the operations guide names.
    @Test func theDeploymentFilesStartACommandThatParses() throws {
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy")
        let unit = try String(contentsOf: deploy.appendingPathComponent("phm.service"), encoding: .utf8)
        let start = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let words = start.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        #expect(words.first == "/usr/local/bin/phm")
        // The unit names the example configuration file where it is installed, which sets where
        // the data is (read here from the repository).
        #expect(words.dropFirst() == ["serve", "--config", "/etc/phm/phm.json"])
        let installed = deploy.appendingPathComponent("phm.json").path
        var serve = try #require(try PHMCommand.parseAsRoot(["serve", "--config", installed]) as? PHMCommand.Serve)
        let example = try SettingSources(file: installed, environment: [:])
        try serve.platform.resolve(example)
        try serve.resolve(example)
        #expect(serve.platform.dataDirectory == "/var/lib/phm/data" && serve.address == ("127.0.0.1", 8080))
        #expect(try example.text("port", flag: nil) == "8080" && serve.logs.json)
        #expect(try example.text("platform-key-file", flag: nil) == "/var/lib/phm/keys/platform.key")
        let container = try String(contentsOf: deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        let cmd = try #require(container.split(separator: "\n").first { $0.hasPrefix("CMD ") })
        let arguments = try #require(try JSONSerialization.jsonObject(with: Data(cmd.dropFirst(4).utf8)) as? [String])
        let contained = try #require(try PHMCommand.parseAsRoot(arguments) as? PHMCommand.Serve)
        #expect(contained.platform.dataDirectory == "/var/lib/phm/data" && contained.address.port == 8080)
    }

    @Test func parsesRunOptions() throws {
        let command = try PHMCommand.parseAsRoot([
            "run", "--input", "in", "--as-of", "2025-04-01", "--out", "out", "--key-file", "/keys/k", "--workers", "3",
        ])
        let run = try #require(command as? PHMCommand.Run)
        #expect(run.files.input == "in")
        #expect(run.files.asOf.description == "2025-04-01")
        #expect(run.pipeline.keyFile == "/keys/k")
        #expect(run.pipeline.workers == 3)
        #expect(run.pipeline.dataDirectory == "phm-data")
    }

    @Test func parsesModelCommands() throws {
        let command = try PHMCommand.parseAsRoot([
            "model", "score", "--input", "in", "--as-of", "2025-04-01", "--out", "o", "--models", "m", "--model-seed", "7",
        ])
        let score = try #require(command as? PHMCommand.Model.Score)
        #expect(score.pipeline.risk.models?.lastPathComponent == "m")
        #expect(score.pipeline.risk.seed == 7)
        // Scoring and evaluating need saved models.
        #expect(throws: (any Error).self) {
            try PHMCommand.parseAsRoot(["model", "score", "--input", "in", "--as-of", "2025-04-01", "--out", "o"])
        }
        let train = try PHMCommand.parseAsRoot([
            "model", "train", "--input", "in", "--as-of", "2025-04-01", "--out", "o", "--export-features", "f.csv",
        ])
        #expect((train as? PHMCommand.Model.Train)?.exportFeatures == "f.csv")
        #expect((train as? PHMCommand.Model.Train)?.pipeline.risk.areaFeatures == false)
        let withAreas = try PHMCommand.parseAsRoot([
            "model", "train", "--input", "in", "--as-of", "2025-04-01", "--out", "o", "--risk-area-features",
        ])
        #expect((withAreas as? PHMCommand.Model.Train)?.pipeline.risk.areaFeatures == true)
    }

    @Test func rejectsBadArguments() {
        #expect(throws: (any Error).self) {
            try PHMCommand.parseAsRoot(["run", "--input", "in", "--as-of", "2025-02-30", "--out", "o"])
        }
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["run", "--input", "in", "--out", "o"]) }
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["synth", "--people", "5", "--out", "o"]) }
        #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["demo", "--workers", "0"]) }
        // The projection's draws are held per unit: years and draws are bounded.
        for bad in [
            ["--projection-years", "51"], ["--projection-years", "-1"], ["--projection-draws", "0"],
            ["--projection-draws", "1001"], ["--projection-years", "99999999999999999999"],
        ] {
            #expect(throws: (any Error).self) { try PHMCommand.parseAsRoot(["demo"] + bad) }
        }
        #expect(throws: Never.self) { try PHMCommand.parseAsRoot(["demo", "--projection-years", "0"]) }
    }

    @Test func helpNamesEveryCommand() {
        let help = PHMCommand.helpMessage()
        for command in ["run", "synth", "demo", "model", "library", "serve", "publish"] { #expect(help.contains(command)) }
        #expect(!help.contains("bench"), "the benchmarks are their own executable, phm-bench")
        #expect(PHMCommand.helpMessage(for: PHMCommand.Run.self).contains("--as-of <as-of>"))
    }

    @Test func unusableInputFailsWithOneMessage() throws {
        let folder = MinimalExtract.folder()
        let out = temporaryFolder("out")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: out)
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("areas.csv"))
        let keyFolder = temporaryFolder("key")
        let key = keyFolder.appendingPathComponent("k")
        try Data(String(repeating: "ab", count: 32).utf8).write(to: key)
        let run = try PHMCommand.Run.parse([
            "--input", folder.path, "--as-of", "2025-04-01", "--out", out.path, "--key-file", key.path,
            "--data-dir", out.appendingPathComponent("data").path,
        ])
        #expect { try run.run() } throws: { "\($0)".hasPrefix("areas.csv: is missing from") }
    }

    @Test func refusesAKeyFileInsideTheDataDirectory() throws {
        let folder = MinimalExtract.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("data/k")
        try FileManager.default.createDirectory(at: key.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(String(repeating: "ab", count: 32).utf8).write(to: key)
        let run = try PHMCommand.Run.parse([
            "--input", folder.path, "--as-of", "2025-04-01", "--out", folder.appendingPathComponent("out").path,
            "--key-file", key.path, "--data-dir", folder.appendingPathComponent("data").path,
        ])
        #expect { try run.run() } throws: { "\($0)".contains("inside the data or input directory") }
    }

    /// The exported library loads and, passed back with --conditions, gives the same results.
    @Test func exportedLibraryRoundTrips() throws {
        let folder = temporaryFolder("library")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("my-library")
        try PHMCommand.Library.parse(["--out", out.path]).run()
        let exported = try ConditionLibrary.load(definitions: out.appendingPathComponent("definitions.yaml"))
        let standard = try ConditionLibrary.standard()
        #expect(exported.conditions.map(\.id) == standard.conditions.map(\.id))
        #expect(throws: (any Error).self) { try PHMCommand.Library.parse(["--out", out.path]).run() }
    }
}

/// The governed commands end to end on a copy of the default run's frames and vault.
@Suite struct GovernedCommandTests {
    /// On either store: PostgreSQL is named once, by the first command, and found by the rest.
    @Test(arguments: TestStore.available) func firstAdminAddsAClinicianWhoOpensAWorklist(_ kind: TestStore) throws {
        _ = DefaultRun.result
        let folder = temporaryFolder("governed")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = DefaultRun.folder.appendingPathComponent("data")
        for item in ["frames", "vault"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(item), to: folder.appendingPathComponent(item))
        }
        let practice = DefaultRun.result.prepared.population.hierarchy.practices[0].code
        setenv("PHM_PASSWORD", "a long enough password", 1)
        setenv("PHM_NEW_PASSWORD", "a long enough password", 1)
        func run(_ arguments: [String]) throws {
            var command = try PHMCommand.parseAsRoot(arguments + ["--data-dir", folder.path])
            try command.run()
        }
        let store = try kind.newDatabase()
        try run(["users", "init", "--name", "admin"] + (store.map { ["--store", $0] } ?? []))
        try run([
            "users", "set", "--user", "admin", "--purpose", "administration", "--name", "gp", "--role", "clinician",
            "--practice", practice, "--password",
        ])
        try run(["cohort", "save", "--user", "gp", "--purpose", "direct_care", "older", "age >= 75 and ltc_count >= 2"])
        let csv = folder.appendingPathComponent("worklist.csv")
        try run([
            "worklist", "show", "--user", "gp", "--purpose", "direct_care", "older", "--reason", "frailty review", "--csv",
            csv.path,
        ])
        let rows = readCSV(csv)
        #expect(rows[0].starts(with: ["rank", "nhs_number", "name", "date_of_birth", "pseudonym"]))
        #expect(
            rows.count > 5
                && rows.dropFirst().allSatisfy {
                    if case .valid = NHSNumber.check($0[1]) { return true } else { return $0[1].isEmpty }
                })
        // The same list as a FHIR Group, for the practice's clinical system: NHS numbers in rank order.
        let group = folder.appendingPathComponent("worklist.json")
        try run([
            "worklist", "show", "--user", "gp", "--purpose", "direct_care", "older", "--reason", "frailty review", "--fhir",
            group.path,
        ])
        let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: group)) as? [String: Any])
        let members = try #require(json["member"] as? [[String: Any]])
        #expect(json["resourceType"] as? String == "Group" && json["quantity"] as? Int == rows.count - 1)
        let listed = members.map {
            (($0["entity"] as? [String: Any])?["identifier"] as? [String: Any])?["value"] as? String ?? ""
        }
        #expect(listed == rows.dropFirst().map { $0[1] })
        #expect((json["managingEntity"] as? [String: Any]).map { "\($0)".contains(practice) } == true)
        // Under planning, an analyst's export of a cohort's members is a Group of pseudonyms.
        try run([
            "users", "set", "--user", "admin", "--purpose", "administration", "--name", "analyst", "--role", "analyst",
            "--password",
        ])
        let pseudonyms = folder.appendingPathComponent("members.json")
        try run([
            "cohort", "members", "--user", "analyst", "--purpose", "planning", "age >= 75 and ltc_count >= 2", "--out",
            pseudonyms.path, "--format", "fhir",
        ])
        let planning = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: pseudonyms)) as? [String: Any])
        let text = String(decoding: try Data(contentsOf: pseudonyms), as: UTF8.self)
        #expect((planning["quantity"] as? Int ?? 0) > rows.count - 1 && !text.contains("nhs-number"))
        let validation = try validateFHIR([group.path, pseudonyms.path])
        #expect(validation.status == 0, "\(validation.output)\(validation.errors)")
        try run(["worklist", "status", "--user", "gp", "--purpose", "direct_care", "older", rows[1][4], "contacted"])
        try run(["audit", "verify", "--user", "admin", "--purpose", "administration"])
        // Everything went to the store named first: one told another is refused, saying why.
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("phm.sqlite").path) == (store == nil))
        #expect(throws: CommandFailure.self) {
            try run([
                "audit", "verify", "--user", "admin", "--purpose", "administration", "--store",
                "postgresql://phm@/elsewhere?host=/nonexistent",
            ])
        }
        // Not under planning: worklists are for direct care, and the command says why.
        #expect(throws: CommandFailure.self) {
            try run(["worklist", "show", "--user", "gp", "--purpose", "planning", "older", "--reason", "curious"])
        }
        // The vault the run wrote stays where it is: a PostgreSQL vault is for a new directory.
        if let vault = try kind.newDatabase() {
            let refused = #expect(throws: CommandFailure.self) {
                try run(["audit", "verify", "--user", "admin", "--purpose", "administration", "--vault", vault])
            }
            #expect(refused?.message.contains("identity.sqlite") == true)
        }
    }

    /// `--vault` names the vault's database once; later commands find it, and one told another
    /// vault is refused.
    @Test(.enabled(if: PostgresTesting.url != nil)) func theVaultIsNamedOnceAndFoundAfter() throws {
        let vault = try #require(try TestStore.postgres.newDatabase())
        let other = try #require(try TestStore.postgres.newDatabase())
        let folder = temporaryFolder("vault")
        defer { try? FileManager.default.removeItem(at: folder) }
        setenv("PHM_PASSWORD", "a long enough password", 1)
        setenv("PHM_NEW_PASSWORD", "a long enough password", 1)
        func run(_ arguments: [String]) throws {
            var command = try PHMCommand.parseAsRoot(arguments + ["--data-dir", folder.path])
            try command.run()
        }
        try run(["users", "init", "--name", "admin", "--vault", vault])
        let recorded = try String(contentsOf: folder.appendingPathComponent("vault/store.url"), encoding: .utf8)
        #expect(
            recorded.contains("/store_")
                && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("vault/identity.sqlite").path))
        try run(["audit", "verify", "--user", "admin", "--purpose", "administration"])
        let opened = try IdentityVault(directory: folder.appendingPathComponent("vault"))
        #expect(try opened.count() == 0 && opened.database.location.hasPrefix("postgresql://phm@"))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("vault/identity.sqlite").path))
        #expect(throws: CommandFailure.self) {
            try run(["audit", "verify", "--user", "admin", "--purpose", "administration", "--vault", other])
        }
    }
}
