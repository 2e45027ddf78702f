import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The result of running a program.
public struct ProgramOutput: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a program with `posix_spawn`, its standard output and error going to files, and waits.
///
/// Used instead of Foundation's `Process`, which is not reliable when tests run concurrently.
public func runProgram(_ arguments: [String]) throws -> ProgramOutput {
    let folder = temporaryFolder("spawn")
    defer { try? FileManager.default.removeItem(at: folder) }
    let outPath = folder.appendingPathComponent("out").path, errPath = folder.appendingPathComponent("err").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
    guard spawned == 0 else { throw CocoaError(.executableLoad) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProgramOutput(
        status: exitCode, output: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        errors: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// The interpreter of the project's cross-check venv (`.venv-crosscheck`, made by scripts/test),
/// by a path that keeps its symlink: resolving it would leave the venv.
public let crossCheckPython: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".venv-crosscheck/bin/python").path

/// Validates FHIR R4 files (NDJSON or one resource of JSON) with independent implementations,
/// `Tests/FHIRTests/validate_fhir.py` on fhir.resources and fhirkit-rs in the cross-check venv:
/// its status and report.
public func validateFHIR(_ files: [String]) throws -> ProgramOutput {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FHIRTests/validate_fhir.py").path
    return try runProgram(["/usr/bin/env", crossCheckPython, script] + files)
}

/// Starts a program with extra environment variables, its output discarded, and returns its
/// process id without waiting: for tests that stop it themselves.
public func startProgram(_ arguments: [String], environment: [String: String]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var merged = ProcessInfo.processInfo.environment
    for (k, v) in environment { merged[k] = v }
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv + envp { free(p) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp) == 0 else { throw CocoaError(.executableLoad) }
    return pid
}

/// Waits for a process; its exit status, or 128 + the signal that ended it.
@discardableResult
public func waitForProgram(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// The `phm` executable of the build the tests belong to: beside the test bundle, whichever
/// configuration and build folder that is.
public let phmExecutable: String = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("phm").path

/// The throwaway Spark Connect server `scripts/test` starts (`scripts/spark`), in `$PHM_TEST_SPARK`,
/// and the interpreter of its venv (pyspark, pyarrow). Tests that need them are enabled only when
/// it is set.
public enum SparkTesting {
    public static let address = ProcessInfo.processInfo.environment["PHM_TEST_SPARK"].flatMap { $0.isEmpty ? nil : $0 }
    public static let python: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".venv-spark/bin/python").path
}
