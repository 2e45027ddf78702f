import Foundation
import Identity
import PHMCore
import Pipeline
import Projections
import Synthesis
import TestSupport

/// The pipeline run once on the default synthetic health system, shared by the tests.
enum DefaultRun {
    private static let root = temporaryFolder("default-run")
    /// The run's folder (its data directory is `data`) and output folder. Reading either runs the
    /// pipeline first, so no test finds them empty because it ran before the first user of `result`.
    static var folder: URL {
        _ = result
        return root
    }
    static var output: URL {
        _ = result
        return root.appendingPathComponent("out")
    }
    /// A fixed key: pseudonyms decide the held-out split, so a fresh random key per test process
    /// would make every model figure vary from one run of the tests to the next.
    static let keyFile: URL = {
        let url = temporaryFolder("key").appendingPathComponent("pseudonymisation.key")
        try! Data((String(repeating: "5eed", count: 16) + "\n").utf8).write(to: url)
        _ = try! PseudonymKey(contentsOf: url)
        return url
    }()
    static let result: RunResult = {
        var options = RunOptions(
            input: DefaultSynthetic.folder, asOf: SyntheticHealthSystem.defaultAsOf, output: root.appendingPathComponent("out"),
            dataDirectory: root.appendingPathComponent("data"), keyFile: keyFile)
        options.projection = DefaultRun.projection
        return try! PipelineRun.execute(options)
    }()
    static var input: URL { DefaultSynthetic.folder }

    /// Fewer draws than a real run's 200: the tests of the projection's method are its own. The
    /// example scenarios, as the demo compares them.
    static let projection: ProjectionSettings = {
        var settings = ProjectionSettings()
        settings.draws = 20
        let url = temporaryFolder("scenarios").appendingPathComponent("scenarios.yaml")
        try! ScenarioFile.example.write(to: url, atomically: true, encoding: .utf8)
        settings.scenarios = url
        return settings
    }()
}
