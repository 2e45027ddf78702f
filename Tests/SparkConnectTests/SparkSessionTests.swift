import ArrowIPC
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

@testable import SparkConnect

@Suite struct SparkSessionTests {
    static var session: SparkSession { SparkSession(try! SparkAddress(SparkTesting.address!)) }

    @Test func readsAddresses() throws {
        #expect(try SparkAddress("spark://127.0.0.1:15002") == SparkAddress(host: "127.0.0.1", port: 15002))
        #expect(try SparkAddress("sc://spark-driver.internal") == SparkAddress(host: "spark-driver.internal", port: 15002))
        #expect(try SparkAddress("sc://h:1/") == SparkAddress(host: "h", port: 1))
        #expect(try SparkAddress("spark://h:2").description == "spark://h:2")
        for bad in [
            "", "h:1", "http://h:1", "spark://", "spark://:1", "spark://h:0", "spark://h:65536", "spark://h:1:2",
            "spark://h:x", "spark://user@h:1", "spark://h/;token=secret", "spark://h h:1", "spark://\u{0}:1",
            "spark://" + String(repeating: "a", count: 300),
        ] {
            #expect(throws: SparkError.self, "\(bad)") { try SparkAddress(bad) }
        }
        // Megabytes of host, port or colons: refused.
        for huge in [
            "spark://" + String(repeating: "a", count: 1 << 20), "sc://h:" + String(repeating: "9", count: 1 << 20),
            "spark://" + String(repeating: ":", count: 1 << 20),
        ] {
            #expect(throws: SparkError.self) { try SparkAddress(huge) }
        }
        // A refusal never repeats what it was given: Spark's connection strings carry tokens.
        #expect {
            try SparkAddress("sc://h:15002/;token=secret-token;user_id=u")
        } throws: { error in
            !"\(error)".contains("secret") && "\(error)".contains("spark://HOST:PORT")
        }
        #expect(
            SparkSession.redacted("[CAST_INVALID_INPUT] The value 'Smith' of the type \"STRING\"")
                == "[CAST_INVALID_INPUT] The value '…' of the type \"STRING\"")
        #expect(SparkSession.redacted("open 'quote") == "open '…")
    }

    /// Each type the platform asks Spark for comes back as the value it is, nulls as nil.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func queriesReturnTypedColumns() async throws {
        let table = try await Self.session.connect { spark in
            try await spark.query(
                """
                SELECT CAST(7 AS INT) AS i, CAST(-9000000000 AS BIGINT) AS l, CAST(2.5 AS DOUBLE) AS d,
                       'Dŵr ✓' AS s, DATE'2025-04-01' AS dt, DATE'1969-12-31' AS before, TRUE AS b,
                       CAST(NULL AS STRING) AS n, CAST(NULL AS INT) AS ni, TIMESTAMP'2025-04-01 00:00:01' AS at
                """)
        }
        #expect(table.rowCount == 1)
        #expect(try table.column("i").values == .integers([7]))
        #expect(try table.column("l").values == .integers([-9_000_000_000]))
        #expect(try table.column("d").values == .doubles([2.5]))
        #expect(try table.column("s").values == .strings(["Dŵr ✓"]))
        #expect(try table.column("dt").values == .dates([20179]))
        #expect(try table.column("before").values == .dates([-1]))
        #expect(try table.column("b").values == .booleans([true]))
        #expect(try table.column("n").values == .strings([nil]))
        #expect(try table.column("ni").values == .integers([nil]))
        #expect(try table.column("at").values == .timestamps([1_743_465_601_000_000]))
    }

    /// Values are bound as parameters, never written into the SQL: text that would end a string
    /// literal comes back as it went.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func boundValuesStayValues() async throws {
        let hostile = "O'Brien'; DROP TABLE x; --"
        let table = try await Self.session.connect { spark in
            try await spark.query(
                "SELECT :name AS name, :day AS day, :n + 1 AS n, :x * 2 AS x, NOT :flag AS flag",
                ["name": .string(hostile), "day": .date(20179), "n": .integer(41), "x": .double(0.25), "flag": .boolean(false)])
        }
        #expect(try table.column("name").values == .strings([hostile]))
        #expect(try table.column("day").values == .dates([20179]))
        #expect(try table.column("n").values == .integers([42]))
        #expect(try table.column("x").values == .doubles([0.5]))
        #expect(try table.column("flag").values == .booleans([true]))
        // Arrays make a small table, row by row.
        let rows = try await Self.session.connect { spark in
            try await spark.query(
                "SELECT inline(arrays_zip(:names, :ns)) AS (name, n) ORDER BY n",
                ["names": .strings([hostile, "", "b"]), "ns": .integers([3, 1, 2])])
        }
        #expect(try rows.column("name").values == .strings(["", "b", hostile]))
        #expect(try rows.column("n").values == .integers([1, 2, 3]))
        // Empty arrays make an empty table (no code of an extract in any list).
        let none = try await Self.session.connect { spark in
            try await spark.query(
                "SELECT count(*) AS n FROM (SELECT inline(arrays_zip(:names, :ns)) AS (name, n))",
                ["names": .strings([]), "ns": .integers([])])
        }
        #expect(try none.column("n").values == .integers([0]))
    }

    /// A CSV file read as a view with a schema, then queried; a result of many Arrow batches
    /// joined in order.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func readsCSVViewsAndLongResults() async throws {
        let folder = temporaryFolder("spark-csv")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines: [String] = (0..<5_000).map { (i: Int) -> String in "P\(i % 50),C\(i % 7),\(Double(i) / 4)" }
        let csv = "person,code,cost\n" + lines.joined(separator: "\n")
        try Data(csv.utf8).write(to: folder.appendingPathComponent("events.csv"))
        let (grouped, long) = try await Self.session.connect { spark in
            try await spark.createView(
                "events", reading: "csv", paths: [folder.appendingPathComponent("events.csv").path],
                schema: "person STRING, code STRING, cost DOUBLE",
                options: ["header": "true", "mode": "FAILFAST"])
            let grouped = try await spark.query(
                "SELECT person, COUNT(*) AS events, SUM(cost) AS cost FROM events GROUP BY person ORDER BY person")
            let long = try await spark.query(
                "SELECT id, CONCAT('row-', CAST(id AS STRING), REPEAT('x', 40)) AS label FROM range(300000) ORDER BY id")
            return (grouped, long)
        }
        #expect(grouped.rowCount == 50)
        #expect(try grouped.column("events").values == .integers(Array(repeating: 100, count: 50)))
        var costByName: [String: Double] = [:]
        for i in 0..<5_000 { costByName["P\(i % 50)", default: 0] += Double(i) / 4 }
        let expected: [Double?] = costByName.keys.sorted().map { costByName[$0] }
        #expect(try grouped.column("cost").values == .doubles(expected))
        #expect(long.rowCount == 300_000)
        #expect(try long.column("id").values == .integers((0..<300_000).map { Int64($0) }))
        guard case .strings(let labels) = try long.column("label").values else { throw SparkError.result("label") }
        #expect(labels[299_999] == "row-299999" + String(repeating: "x", count: 40))
    }

    /// A result that arrives in many Arrow batches, and one row larger than Spark's 4 MiB batch
    /// target (sent as one larger message).
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func joinsManyBatchesAndReadsLargeRows() async throws {
        let (streams, big) = try await Self.session.connect { spark in
            var plan = Spark_Connect_Plan()
            plan.root = Spark_Connect_Relation.with {
                $0.sql = Spark_Connect_SQL.with { $0.query = "SELECT id, REPEAT('y', 100) AS label FROM range(200000)" }
            }
            let (streams, rows) = try await spark.execute(plan)
            #expect(rows == 200_000)
            return (streams.count, try await spark.query("SELECT REPEAT('z', 5000000) AS big"))
        }
        #expect(streams > 1)
        guard case .strings(let values) = try big.column("big").values else { throw SparkError.result("big") }
        #expect(values.first??.count == 5_000_000)
    }

    /// Spark's refusal of a query is an error with its message; a server that is not there is
    /// another error, not a hang.
    @Test(.enabled(if: SparkTesting.address != nil, "needs the test Spark Connect server (scripts/test)"))
    func errorsSayWhatWentWrong() async throws {
        await #expect {
            try await Self.session.connect { spark in try await spark.query("SELECT no_such_column FROM range(1)") }
        } throws: { error in
            guard case .server(let message) = error as? SparkError else { return false }
            return message.contains("no_such_column")
        }
        await #expect {
            try await Self.session.connect { spark in
                try await spark.createView("v", reading: "csv", paths: ["/nonexistent/phm/none.csv"], schema: "a STRING")
                return try await spark.query("SELECT * FROM v")
            }
        } throws: { error in
            guard case .server = error as? SparkError else { return false }
            return true
        }
        // A value Spark quotes in its refusal is not carried into the error.
        await #expect {
            try await Self.session.connect { spark in
                try await spark.query("SELECT CAST(:surname AS INT) AS n", ["surname": .string("Hopkinson")])
            }
        } throws: { error in
            guard case .server(let message) = error as? SparkError else { return false }
            return message.contains("CAST_INVALID_INPUT") && !message.contains("Hopkinson")
        }
        // A port nothing listens on.
        let closed = SparkSession(SparkAddress(host: "127.0.0.1", port: 1))
        await #expect {
            try await closed.connect { spark in try await spark.query("SELECT 1") }
        } throws: { error in
            guard case .unreachable = error as? SparkError else { return false }
            return true
        }
    }
}
