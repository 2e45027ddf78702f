import Conditions
import Foundation
import PHMCore
import TestSupport
import Testing

@Suite struct LibraryTests {
    @Test func standardLibraryLoadsWithEveryEntryValid() throws {
        let library = try ConditionLibrary.standard()
        #expect(library.ltcConditions.count == 37)
        for list in library.lists { #expect(list.rejected.isEmpty, "\(list.name): \(list.rejected)") }
        #expect(
            library.scores.map(\.id) == [
                "cms_general", "cms_mortality", "charlson_1987", "charlson_quan2011", "elixhauser_vw", "efi",
            ])
        #expect(library.conditions.filter { $0.group == "efi" }.count == 36)
        #expect(library.scores.last!.weights.count == 36 && library.scores.last!.divideBy == 36)
        #expect(library.conditions.filter { $0.group == "elixhauser" }.count == 31)
        #expect(library.conditions.filter { $0.group == "charlson" }.count == 17)
    }

    /// Every real OpenCodelists list loads without edits, and a code from it is recognised.
    @Test func realOpenCodelistsListsLoad() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/reference/codelists").standardizedFileURL
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".csv") {
            let system: CodeSystem = file.contains("icd10") ? .icd10 : .snomed
            let list = try CodeList.load(csv: folder.appendingPathComponent(file), name: file, system: system)
            #expect(list.count > 0, "\(file)")
            #expect(list.rejected.isEmpty, "\(file): \(list.rejected.prefix(3))")
            let first = readCSV(folder.appendingPathComponent(file))[1][0]
            let normal = CodeFormat.normalise(first, system: system) ?? first
            #expect(list.contains(normal, system: system), "\(file): \(first)")
        }
    }

    @Test func icd10ListsMatchPrefixesAndRanges() {
        let list = CodeList(name: "t", system: .icd10, entries: ["I60-I62", "E11.9", "K70"])
        #expect(list.contains("I61", system: .icd10))
        #expect(list.contains("I629", system: .icd10))
        #expect(!list.contains("I63", system: .icd10))
        #expect(list.contains("E119", system: .icd10))
        #expect(!list.contains("E118", system: .icd10))
        #expect(list.contains("K703", system: .icd10))
        #expect(!list.contains("K703", system: .snomed))
        let bad = CodeList(name: "t", system: .icd10, entries: ["I6-I9", "Q", "C00-D10"])
        #expect(bad.rejected == ["I6-I9", "Q", "C00-D10"])
        let snomed = CodeList(name: "t", system: .snomed, entries: ["38341003", "38341004"])
        #expect(snomed.rejected == ["38341004"])
    }

    @Test func definitionErrorsNameTheFileAndPlace() throws {
        let folder = temporaryFolder("defs")
        defer { try? FileManager.default.removeItem(at: folder) }
        func error(_ yaml: String) -> String? {
            let url = folder.appendingPathComponent("definitions.yaml")
            try! Data(yaml.utf8).write(to: url)
            do {
                _ = try ConditionLibrary.load(definitions: url)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let lists = "version: 1\ncodelists:\n  a: {system: SNOMED, codes: ['38341003']}\n"
        #expect(
            error(lists + "conditions:\n  - {id: x, name: X, rule: {ever: [b]}}\n")
                == "definitions.yaml: condition 'x': unknown code list 'b'")
        #expect(
            error(lists + "conditions:\n  - {id: x, name: X, rule: {often: [a]}}\n")?.contains("unknown rule 'often'") == true)
        #expect(
            error(lists + "conditions:\n  - {id: x, name: X, rule: {condition: y}}\n")
                == "definitions.yaml: condition 'x': condition 'y' is not defined before it is used")
        #expect(
            error("version: 1\ncodelists:\n  a: {system: XYZ, codes: ['1']}\nconditions: []\n")?.contains("unknown system 'XYZ'")
                == true)
        #expect(
            error(lists + "conditions: []\nscores:\n  - {id: s, name: S, weights: {z: 1}}\n")
                == "definitions.yaml: score 's' names unknown condition 'z'")
    }

    /// Files no decoder should trap or stall on: a base-60 number too large for an integer (found
    /// by fuzzing: the YAML decoder traps on the overflow) and anchors whose aliases expand to a
    /// billion values. Each is refused with the file and line.
    @Test func hostileYAMLIsRefusedNotTrappedOn() throws {
        let file = URL(fileURLWithPath: "/nonexistent/definitions.yaml")
        func error(_ text: String) -> String {
            do {
                _ = try ConditionLibrary.load(definitions: text, from: file)
                return "loaded"
            } catch { return "\(error)" }
        }
        let huge = error("version: 1999:999999999999991999:99991999:99\n")
        #expect(huge.hasPrefix("definitions.yaml") && huge.contains("line 1:") && huge.contains("base 60"), "\(huge)")
        #expect(error("version: 1:2:3:4:5:6:7:8:9:10:11:12\n").contains("base 60"))
        // Underscores, which the decoder drops, do not hide one (found by fuzzing).
        #expect(error("version: _9999999:999989919999999992:99\n").contains("base 60"))
        // Base 60 that fits is read as YAML 1.1 reads it (1:00 is 60), then refused as a version.
        #expect(
            error("version: 1:00\ncodelists: {}\nconditions: []\n").contains("version 60 is not supported"),
            "\(error("version: 1:00\ncodelists: {}\nconditions: []\n"))")
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            laughs += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(error(laughs).contains("more than 1000000 values"), "\(error(laughs).prefix(200))")
        // Deep nesting is refused by the parser, not followed down the stack.
        let deep = error("version: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        #expect(deep.hasPrefix("definitions.yaml"), "\(deep.prefix(200))")
        // The parser quotes the offending line: cut short, not echoed whole.
        #expect(deep.utf8.count < 1_000, "\(deep.utf8.count) bytes")
    }
}
