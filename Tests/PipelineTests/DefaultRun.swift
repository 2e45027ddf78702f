import Foundation
import Identity
import PHMCore
import Pipeline
import Synthesis
import TestSupport

/// The pipeline run once on the default synthetic health system, shared by the tests.
enum DefaultRun {
    static let folder = temporaryFolder("default-run")
    static let keyFile: URL = {
        let url = temporaryFolder("key").appendingPathComponent("pseudonymisation.key")
        _ = try! PseudonymKey.create(at: url)
        return url
    }()
    static let output = folder.appendingPathComponent("out")
    static let result: RunResult = {
        let options = RunOptions(
            input: DefaultSynthetic.folder, asOf: SyntheticHealthSystem.defaultAsOf, output: output,
            dataDirectory: folder.appendingPathComponent("data"), keyFile: keyFile)
        return try! PipelineRun.execute(options)
    }()
    static var input: URL { DefaultSynthetic.folder }
}
