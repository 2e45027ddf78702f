import ArrowIPC
import Foundation
import Ingest
import Outputs
import SparkConnect

/// The contract's CSV files read and checked by Spark: each file's rows in, accepted and
/// quarantined by rule, and its warnings, as `ReconciliationReport` counts them in process, with
/// each file's accepted rows left as a view (`accepted_FILE`) for the stages after it.
///
/// Spark reads a file where it lies (a path or URI the server can reach), one record per line.
/// Differences from the in-process reader, which the docs list: a line break inside a quoted field
/// (which RFC 4180 allows) ends the record there, so both parts are quarantined; and a second byte
/// order mark after the first is read past.
public struct SparkIngest: Sendable {
    /// The folder of extracts as the Spark server sees it.
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    /// Reads and checks every file; a file the contract needs that is missing or unreadable stops
    /// the run as the in-process reader's `UnusableInput` does.
    public func reconcile(_ spark: SparkSession.Connection) async throws -> [FileReconciliation] {
        var reports: [FileReconciliation] = []
        // The contract's files in its order, which is the order their references need.
        for spec in InputContract.all {
            reports.append(try await reconcile(spec, spark))
        }
        return reports
    }

    func reconcile(_ spec: FileSpec, _ spark: SparkSession.Connection) async throws -> FileReconciliation {
        let name = Self.viewName(spec)
        let path = folder.hasSuffix("/") ? folder + spec.name : folder + "/" + spec.name
        do {
            try await spark.createView("raw_\(name)", reading: "text", paths: [path], options: ["lineSep": "\n"])
        } catch SparkError.server(let message) where message.contains("PATH_NOT_FOUND") {
            if spec.requiredFile {
                throw UnusableInput(
                    file: spec.name, problem: "is missing from \(folder)",
                    remedy: "Every extract needs practices.csv, areas.csv and patients.csv; see docs/input-contract.md.")
            }
            return FileReconciliation(file: spec.name, present: false)
        }
        try await spark.createView("lines_\(name)", query: "SELECT value, monotonically_increasing_id() AS id FROM raw_\(name)")
        // The file's size from the binary file source, which reads no content when none is asked for.
        try await spark.createView("file_\(name)", reading: "binaryFile", paths: [path])
        let size = try await spark.query("SELECT length FROM file_\(name)")
        let head = try await spark.query(
            """
            SELECT min(id) AS first, min_by(value, id) AS header, count_if(value RLIKE :nul) AS nuls,
                   count_if(NOT is_valid_utf8(value)) AS invalid
            FROM lines_\(name)
            """, Self.parameters)
        guard case .integers(let firsts) = try head.column("first").values, let firstID = firsts.first, let first = firstID else {
            throw UnusableInput(
                file: spec.name, problem: "is empty (it has no header row)",
                remedy: "Write the header row of column names; see docs/input-contract.md.")
        }
        if try Self.integer(head, "nuls") > 0 {
            throw UnusableInput(
                file: spec.name, problem: "is not CSV text (it holds a NUL byte)",
                remedy: "Export the extract as UTF-8 CSV; see docs/input-contract.md.")
        }
        // The text source keeps a line's bytes as they are, so a byte that is not UTF-8 is still there to find.
        if try Self.integer(head, "invalid") > 0 {
            throw UnusableInput(
                file: spec.name, problem: "is not UTF-8",
                remedy: "Re-export the file as UTF-8 (for example with iconv -f WINDOWS-1252 -t UTF-8).")
        }
        guard case .strings(let headers) = try head.column("header").values, let header = headers.first ?? nil else {
            throw SparkError.result("\(spec.name): no header row came back")
        }
        // The text source has already dropped a byte order mark at the start of the file.
        var line = header
        if line.hasSuffix("\r") { line.removeLast() }
        let map = try ColumnMap(header: line, spec: spec)
        if spec.name == InputContract.areas.name {
            try ColumnMap.checkIndicators(map.extras.map(\.name).filter { !$0.isEmpty })
        }
        let extras = spec.keepsExtraColumns ? map.extras : []
        let checks = FileChecks.forFile(spec, extras: extras.count)

        // Each record's fields, unquoted, by contract column (empty where an optional column is absent).
        let columns =
            spec.columns.enumerated().map { k, column in
                map[k] < 0
                    ? "'' AS \(FileChecks.column(column.name))"
                    : "coalesce(try_element_at(fields, \(map[k] + 1)), '') AS \(FileChecks.column(column.name))"
            } + extras.enumerated().map { k, extra in "coalesce(try_element_at(fields, \(extra.position + 1)), '') AS x_\(k)" }
        try await spark.createView(
            "records_\(name)",
            query: """
                SELECT id, record_ok, size(fields) AS field_count, \(columns.joined(separator: ", "))
                FROM (
                    SELECT id, line RLIKE :record AS record_ok,
                           transform(regexp_extract_all(concat(',', line), :field, 1),
                                     f -> IF(startswith(f, '"'), replace(substring(f, 2, char_length(f) - 2), '""', '"'), f)) AS fields
                    FROM (SELECT id, regexp_replace(value, :carriageReturn, '') AS line FROM lines_\(name) WHERE id <> :first)
                    WHERE line <> ''
                )
                """, Self.parameters.merging(["first": .integer(first)]) { $1 })

        // The first check each record fails: its quoting, its field count, then the decoder's checks
        // with the keys of the files it refers to joined.
        let joins = checks.references.map { ref in
            "LEFT JOIN (SELECT \(FileChecks.column(ref.key)) AS k FROM accepted_\(Self.viewName(ref.file))) \(ref.alias) ON r.\(FileChecks.column(ref.column)) = \(ref.alias).k"
        }
        let found = checks.references.map { "(\($0.alias).k IS NOT NULL) AS \($0.alias)_found" }
        let failed =
            "CASE WHEN NOT record_ok THEN \(Self.quoting) WHEN field_count <> \(map.fieldCount) THEN \(Self.fieldCount) ELSE \(checks.failedAt) END"
        let key = spec.keyColumn.map { FileChecks.column(spec.columns[$0].name) }
        // A key repeated among rows otherwise accepted: the first in the file keeps it.
        let rank =
            key.map {
                "IF(failed_at = \(FileChecks.passed), row_number() OVER (PARTITION BY \($0), failed_at = \(FileChecks.passed) ORDER BY id), 1)"
            } ?? "1"
        try await spark.createView(
            "checked_\(name)",
            query: "SELECT r.*\(found.map { ", " + $0 }.joined()) FROM records_\(name) r \(joins.joined(separator: " "))")
        try await spark.createView(
            "failures_\(name)", query: "SELECT *, \(failed) AS failed_at FROM checked_\(name)", Self.parameters)
        try await spark.createView(
            "ranked_\(name)", query: "SELECT *, \(rank) AS key_rank FROM failures_\(name)", Self.parameters)
        try await spark.createView(
            "accepted_\(name)",
            query: "SELECT * FROM ranked_\(name) WHERE failed_at = \(FileChecks.passed) AND key_rank = 1")

        // Counts by first failure, with each warning counted where the row reached it.
        let warnings = checks.checks.enumerated().compactMap { k, check -> String? in
            guard case .warning = check.kind else { return nil }
            return "count_if(failed_at > \(k) AND \(check.condition)) AS w_\(k)"
        }
        let counts = try await spark.query(
            """
            SELECT failed_at, key_rank > 1 AS duplicate, count(*) AS n\(warnings.map { ", " + $0 }.joined())
            FROM ranked_\(name) GROUP BY failed_at, key_rank > 1
            """, Self.parameters)
        var report = FileReconciliation(file: spec.name, present: true)
        report.bytes = Int(try Self.integer(size, "length"))
        report.extraColumns = map.extras.map(\.name)
        report.extraColumnsKept = spec.keepsExtraColumns
        guard case .integers(let failedAt) = try counts.column("failed_at").values,
            case .booleans(let duplicate) = try counts.column("duplicate").values,
            case .integers(let n) = try counts.column("n").values
        else { throw SparkError.result("\(spec.name): counts of an unexpected type") }
        for row in 0..<counts.rowCount {
            let rows = Int(n[row] ?? 0)
            report.rowsIn += rows
            let at = Int(failedAt[row] ?? -1)
            let rule: Rule?
            switch at {
            case Self.quoting: rule = .quoting
            case Self.fieldCount: rule = .fieldCount
            case FileChecks.passed: rule = duplicate[row] == true ? .duplicateKey : nil
            case checks.checks.indices:
                guard case .rule(let r) = checks.checks[at].kind else { throw SparkError.result("a warning as a rule") }
                rule = r
            default: throw SparkError.result("\(spec.name): a failure at check \(at)")
            }
            if let rule {
                report.quarantined += rows
                report.quarantinedByRule[rule.rawValue, default: 0] += rows
            } else {
                report.accepted += rows
            }
            for (k, check) in checks.checks.enumerated() {
                guard case .warning(let warning) = check.kind else { continue }
                let count = try Self.integer(counts, "w_\(k)", row: row)
                if count > 0 { report.warnings[warning.rawValue, default: 0] += Int(count) }
            }
        }
        return report
    }

    /// Failures before the decoder's checks, numbered below them.
    static let quoting = -2, fieldCount = -1

    static func viewName(_ spec: FileSpec) -> String {
        String(spec.name.prefix { $0 != "." }).replacingOccurrences(of: "-", with: "_")
    }

    static let parameters: [String: SparkValue] = Patterns.all.mapValues { .string($0) }

    static func integer(_ table: ArrowTable, _ column: String, row: Int = 0) throws -> Int64 {
        guard case .integers(let values) = try table.column(column).values, row < values.count else {
            throw SparkError.result("\(column) is not a count")
        }
        return values[row] ?? 0
    }
}

/// A result's columns as the values a query promises: of the type asked for, none missing.
extension ArrowTable {
    func strings(_ name: String) throws -> [String] {
        guard case .strings(let v) = try column(name).values else { throw SparkError.result("\(name) is not text") }
        return try v.map {
            guard let s = $0 else { throw SparkError.result("\(name) missing") }
            return s
        }
    }

    func integers(_ name: String) throws -> [Int64] {
        guard case .integers(let v) = try column(name).values else { throw SparkError.result("\(name) is not an integer") }
        return try v.map {
            guard let n = $0 else { throw SparkError.result("\(name) missing") }
            return n
        }
    }

    func doubles(_ name: String) throws -> [Double] {
        guard case .doubles(let v) = try column(name).values else { throw SparkError.result("\(name) is not a number") }
        return try v.map {
            guard let n = $0 else { throw SparkError.result("\(name) missing") }
            return n
        }
    }
}
