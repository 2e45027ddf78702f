import Foundation
import PHMCore
import TestSupport
import Testing

@testable import Web

/// The API's types and `openapi.json` describe the same bodies: a change to one without the
/// other fails here.
@Suite struct ContractTests {
    /// Every response type, encoded with each optional field both present and null, against the
    /// schema its route declares, by a JSON Schema validator (the `jsonschema` package). The
    /// check is strict both ways: a key the type writes that the document lacks fails, and so
    /// does a property the document names that the type never writes.
    @Test func responsesMatchTheDocument() throws {
        let organisation = API.Unit(level: "organisation", code: "O1", name: "Board", parent: nil)
        let practice = API.Unit(level: "practice", code: "P1", name: "Practice", parent: "O1")
        let cohort = API.Cohort(
            name: "older", version: 2, definition: "age >= 65", description: "", savedBy: "ana",
            savedAt: "2026-01-02T03:04:05Z")
        let entry = API.Worklist.Entry(
            rank: 1, pseudonym: "p1", givenName: "A", familyName: "B", nhsNumber: "9434765919", dateOfBirth: "1950-01-01",
            age: 76, risk: 0.31, tier: "high", rising: true, reasons: ["age 76"], gaps: ["bp_check"], status: "contacted",
            note: "rang")
        let unknown = API.Worklist.Entry(
            rank: 2, pseudonym: "p2", givenName: nil, familyName: nil, nhsNumber: nil, dateOfBirth: nil, age: 70, risk: nil,
            tier: nil, rising: false, reasons: [], gaps: [], status: "to_contact", note: "")
        let examples: [String: any Encodable] = [
            "error": API.Failure(error: "not signed in"),
            "get /health 200": API.Health(status: "ok", run: 3),
            "get /health/ready 200": API.Health(status: "ready", run: 3),
            "post /api/sessions 201": API.SessionStarted(
                token: "t", csrf: "c", role: "analyst", purpose: "planning", idleExpirySeconds: 1800),
            "get /api/units 200": API.Units(run: 3, units: [organisation, practice]),
            "get /api/pages/{page} 200": API.Page(
                page: "overview", title: "Overview", run: 3, asOf: "2026-03-31", unit: practice, path: [organisation, practice],
                children: [], indicator: "emergency_admissions", indicators: ["emergency_admissions"], measure: "rate",
                measures: ["rate"],
                panels: [
                    API.PagePanel(
                        id: "p", title: "T", note: "n", columns: ["unit", "people"],
                        rows: [[.text("P1"), .number(12)], [.text("P2"), .empty]])
                ]),
            "get /api/cohorts 200": API.Cohorts(cohorts: [cohort]),
            "post /api/cohorts 201": cohort,
            "post /api/cohorts/profile 200": API.Profile(
                run: 3, asOf: "2026-03-31", suppressed: true, size: 120, population: nil,
                groups: [
                    .init(breakdown: "sex", group: "female", cohort: 60, population: 5000),
                    .init(breakdown: "sex", group: "male", cohort: nil, population: nil),
                ],
                measures: [
                    .init(measure: "age", cohort: 70.5, population: 41.2, cappedTo: [0, 100]),
                    .init(measure: "risk", cohort: nil, population: nil, cappedTo: nil),
                ]),
            "post /api/worklists 200": API.Worklist(
                cohort: "older", version: 2, practice: "P1", total: 2, offset: 0, outcome: "emergency_admission_12m",
                rankedBy: "boosted trees", entries: [entry, unknown],
                uncheckedGaps: [.init(id: "high_risk_no_review", reason: "no model scores the risk of 'x' in this run")]),
            "post /api/worklists/status 200": API.Saved(saved: true),
            "post /api/evaluations 200": API.Evaluation(
                name: "Scheme", run: 3, asOf: "2026-03-31", planning: true, balanced: true, balanceLimit: 0.1, preMonths: 12,
                postMonths: 12, intervalMethod: "bootstrap",
                steps: [.init(step: "matched", people: 120), .init(step: "named", people: nil)],
                indexMonths: [.init(month: "2025-01-01", treated: 120)],
                effects: [
                    .init(
                        outcome: "emergency_admissions", description: "Emergency admissions", negativeControl: false,
                        treatedPre: 1.2, treatedPost: nil, controlsPre: 1.1, controlsPost: 0.9,
                        relative: .init(estimate: -0.2, low: -0.3, high: -0.1),
                        absolute: .init(estimate: nil, low: nil, high: nil),
                        naiveRelative: .init(estimate: -0.5, low: -0.6, high: -0.4),
                        naiveAbsolute: .init(estimate: -0.6, low: nil, high: nil))
                ],
                eventStudy: [
                    .init(outcome: "emergency_admissions", month: -1, difference: .init(estimate: 0.01, low: -0.1, high: 0.1))
                ],
                balance: [
                    .init(
                        covariate: "age", description: "age", treatedBefore: 70.5, controlsBefore: 50.1, smdBefore: 1.01,
                        treatedAfter: 70.4, controlsAfter: 70.2, smdAfter: 0.01, fails: false)
                ],
                overlap: .init(treated: [0.5, 0.5], controls: [0.9, 0.1], equipoiseTreated: 0.4, equipoiseControls: 0.1),
                syntheticControl: [
                    .init(
                        outcome: "emergency_admissions", description: "emergency admissions",
                        weights: [.init(practice: "P2", weight: 0.7)], donors: 12, preRmspe: 0.05, postRmspe: 0.1,
                        effect: -0.08, relative: nil, pValue: 0.077, months: [.init(month: -1, place: 0.3, synthetic: 0.31)])
                ], syntheticControlNote: nil,
                warnings: ["fewer than 100 matched"]),
            "get /api/audit 200": API.Audit(
                intact: true, verification: "intact", whole: false, wholeLogCheckedAt: "2026-01-02T03:04:05.000Z", checked: 4,
                entries: [
                    .init(
                        sequence: 1, at: "2026-01-02T03:04:05.000Z", user: "ana", role: "analyst", purpose: "planning",
                        action: "login", outcome: "allowed", detail: "{}", hash: "ab")
                ]),
        ]
        var encoded: [String: Any] = [:]
        for (key, value) in examples { encoded[key] = try JSONSerialization.jsonObject(with: Data(try JSON.bytes(value))) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("examples.json")
        try JSONSerialization.data(withJSONObject: encoded).write(to: file)
        let check = try runProgram([crossCheckPython, "-c", Self.validator, WebApp.openAPIDocument.path, file.path])
        #expect(check.status == 0 && check.output.contains("consistent"), Comment(rawValue: check.output + check.errors))
    }

    /// Validates each example against its route's schema made strict: every property required
    /// and no other allowed. Error responses must all be the `Error` schema.
    static let validator = #"""
        import json, sys
        from jsonschema import Draft202012Validator
        spec = json.load(open(sys.argv[1])); examples = json.load(open(sys.argv[2]))
        schemas = spec["components"]["schemas"]
        def strict(s):
            if isinstance(s, list): return [strict(x) for x in s]
            if not isinstance(s, dict): return s
            if "$ref" in s: return strict(schemas[s["$ref"].rsplit("/", 1)[1]])
            out = {k: ({p: strict(v) for p, v in s[k].items()} if k == "properties" else strict(v)) for k, v in s.items()}
            if "properties" in out:
                out["additionalProperties"] = False
                out["required"] = sorted(out["properties"])
            return out
        problems, declared = [], set()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                for status, response in operation.get("responses", {}).items():
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema is None or path == "/openapi.json": continue
                    key = f"{method} {path} {status}" if status.startswith("2") else "error"
                    if key == "error" and schema != {"$ref": "#/components/schemas/Error"}:
                        problems.append(f"{method} {path} {status}: errors are the Error schema")
                    declared.add(key)
                    if key not in examples:
                        problems.append(f"{key}: the document describes a body no type writes")
                        continue
                    for e in Draft202012Validator(strict(schema)).iter_errors(examples[key]):
                        problems.append(f"{method} {path} {status}: {e.message} at {list(e.absolute_path)}")
        problems += [f"{key}: a type writes a body the document does not describe" for key in examples if key not in declared]
        print("\n".join(sorted(set(problems))) or "consistent")
        """#

    /// Every request type reads the body its route declares: an example with every property
    /// decodes, leaving out a required one fails, leaving out an optional one does not, and the
    /// type has no field the document does not name.
    @Test func requestsMatchTheDocument() throws {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: WebApp.openAPIDocument)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let readers: [String: (Data) throws -> Any] = [
            "/api/sessions": { try Body.decode(API.SignIn.self, from: $0) },
            "/api/cohorts/profile": { try Body.decode(API.ProfileQuery.self, from: $0) },
            "/api/cohorts": { try Body.decode(API.SaveCohort.self, from: $0) },
            "/api/worklists": { try Body.decode(API.OpenWorklist.self, from: $0) },
            "/api/worklists/status": { try Body.decode(API.SetStatus.self, from: $0) },
            "/api/evaluations": { try Body.decode(API.Evaluate.self, from: $0) },
        ]
        func example(_ schema: [String: Any]) -> Any {
            if let ref = schema["$ref"] as? String,
                let target = schemas[String(ref.split(separator: "/").last!)] as? [String: Any]
            {
                return example(target)
            }
            if let options = schema["enum"] as? [Any], let first = options.first { return first }
            if let options = schema["oneOf"] as? [[String: Any]], let first = options.first { return example(first) }
            switch schema["type"] as? String {
            case "integer": return (schema["minimum"] as? Int) ?? 1
            case "string": return "age >= 65"
            default: return [:] as [String: Any]
            }
        }
        var described: Set<String> = []
        for (path, operations) in paths {
            guard let post = operations["post"] as? [String: Any],
                let schema = ((post["requestBody"] as? [String: Any])?["content"] as? [String: Any])
                    .flatMap({ ($0["application/json"] as? [String: Any])?["schema"] as? [String: Any] })
            else { continue }
            described.insert(path)
            let read = try #require(readers[path], "no type reads the body of POST \(path)")
            let properties = try #require(schema["properties"] as? [String: [String: Any]])
            let required = Set(schema["required"] as? [String] ?? [])
            let full = properties.mapValues(example)
            func decodes(_ body: [String: Any]) -> Any? { try? read(try JSONSerialization.data(withJSONObject: body)) }
            let value = try #require(decodes(full), "POST \(path): a body with every property is refused")
            let fields = Set(Mirror(reflecting: value).children.compactMap(\.label).map(Self.snakeCase))
            #expect(fields == Set(properties.keys), "POST \(path): the type reads \(fields.sorted())")
            for key in properties.keys {
                var partial = full
                partial[key] = nil
                #expect((decodes(partial) == nil) == required.contains(key), "POST \(path) without \(key)")
            }
        }
        #expect(described == Set(readers.keys))
    }

    static func snakeCase(_ name: String) -> String {
        name.drop(while: { $0 == "_" }).reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }
    }
}
