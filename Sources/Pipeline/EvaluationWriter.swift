import Conditions
import Evaluation
import Foundation
import Governance
import Identity
import PHMCore
import Storage

/// `phm evaluate`: an evaluation definition run against the newest run's evaluation base, its
/// report and tables written to a folder, and the evaluation audited.
public enum EvaluationWriter {
    public static let files = (
        report: "evaluation.md", result: "evaluation.json", balance: "evaluation_balance.csv",
        effects: "evaluation_effects.csv", eventStudy: "evaluation_event_study.csv",
        rejected: "evaluation_rejected_rows.txt"
    )

    /// - Parameters:
    ///   - key: the pseudonymisation key, needed only for a list of NHS numbers.
    ///   - suppress: publish for planning (`PlanningDisclosure`: perturbed counts, rounded means,
    ///     rates and effects); exact figures when false.
    public static func evaluate(
        definition url: URL, dataDirectory: URL, to folder: URL, key: (() throws -> PseudonymKey)?, suppress: Bool,
        workers: Int
    ) throws -> EvaluationResult {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DefinitionError(file: url.path, message: "cannot be read as UTF-8 text")
        }
        let definition: EvaluationDefinition
        do { definition = try EvaluationDefinition.parse(text) } catch {
            throw DefinitionError(file: url.lastPathComponent, message: "\(error)")
        }
        let base = try EvaluationBaseFile.latest(dataDirectory: dataDirectory)
        let store = try RunStore(directory: dataDirectory)
        let platformKey = try PlatformKey.load(dataDirectory: dataDirectory)
        let governance = GovernanceStore(runs: store, directory: dataDirectory, key: platformKey)

        var exposures: Exposures
        switch definition.intervention {
        case .worklist(let cohort, let status, let from, let to):
            exposures = Exposures(
                worklist: try governance.statusChanges(cohort: cohort), status: status, from: from, to: to, base: base)
        case .list(let file):
            let listURL = URL(fileURLWithPath: file, relativeTo: url.deletingLastPathComponent())
            // At most one byte past the limit is read, whatever the file is.
            guard let handle = try? FileHandle(forReadingFrom: listURL),
                let data = try? handle.read(upToCount: Exposures.maximumListBytes + 1)
            else { throw DefinitionError(file: listURL.path, message: "cannot be read") }
            try? handle.close()
            // The key is needed, and read, only for a list of NHS numbers.
            let header = String(decoding: data.prefix(1_024).prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            let pseudonymKey = header.lowercased().contains("nhs_number") ? try key.map { try $0() } : nil
            exposures = try Exposures(
                list: data, file: listURL.lastPathComponent, base: base,
                pseudonymise: pseudonymKey.map { k in { k.pseudonym(nhsNumber: $0) } })
        case .place(let level, let codes, let start):
            do {
                exposures = try Exposures(place: level, codes: codes, start: start, base: base, options: definition.options)
            } catch { throw DefinitionError(file: url.lastPathComponent, message: error.description) }
        }

        let detail = try JSONSerialization.data(
            withJSONObject: ["definition": url.lastPathComponent, "name": definition.name, "run": base.runId],
            options: [.sortedKeys])
        try governance.audit(
            user: "pipeline", role: "system", purpose: Purpose.planning.rawValue, action: "evaluate", outcome: "allowed",
            detail: String(decoding: detail, as: UTF8.self))

        var result = try EvaluationResult.evaluate(
            name: definition.name, base: base, exposures: exposures, options: definition.options,
            recordKeys: suppress ? platformKey.recordKeys(base.pseudonym) : nil, workers: workers)
        if !exposures.rejected.isEmpty {
            result.warnings.insert(
                "\(exposures.rejectedRows) rows of the list could not be read and were left out (see \(files.rejected))",
                at: 0)
        }

        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(result).write(to: folder.appendingPathComponent(files.result))
        try Data(result.markdown().utf8).write(to: folder.appendingPathComponent(files.report))
        try Data(result.balanceCSV.utf8).write(to: folder.appendingPathComponent(files.balance))
        try Data(result.effectsCSV.utf8).write(to: folder.appendingPathComponent(files.effects))
        try Data(result.eventStudyCSV.utf8).write(to: folder.appendingPathComponent(files.eventStudy))
        let rejectedFile = folder.appendingPathComponent(files.rejected)
        try? fm.removeItem(at: rejectedFile)
        if !exposures.rejected.isEmpty {
            try Data((exposures.rejected.joined(separator: "\n") + "\n").utf8).write(to: rejectedFile)
        }
        return result
    }
}
