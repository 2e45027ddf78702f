import PHMCore
import Testing

@testable import Storage

@Suite struct PostgresURLTests {
    @Test func readsURLsAsLibpqDoes() throws {
        let socket = try PostgresURL("postgresql://phm@/planning?host=/run/pg", environment: ["PGPASSWORD": "s3cret"])
        #expect(socket.endpoint == .socket(path: "/run/pg/.s.PGSQL.5432"))
        #expect(socket.user == "phm" && socket.database == "planning" && socket.encryption == .disable)
        #expect(socket.password == "s3cret")

        let tcp = try PostgresURL("postgres://analyst@db.example.nhs.uk:6432/phm?sslmode=verify-full", environment: [:])
        #expect(tcp.endpoint == .tcp(host: "db.example.nhs.uk", port: 6432))
        #expect(tcp.encryption == .require && tcp.password == nil)

        // Defaults: the user postgres, a database named as the user, encryption required over TCP.
        let bare = try PostgresURL("postgresql://db", environment: [:])
        #expect(bare.endpoint == .tcp(host: "db", port: 5432) && bare.user == "postgres" && bare.database == "postgres")
        #expect(bare.encryption == .require)
        #expect(try PostgresURL("postgresql://db?sslmode=prefer", environment: [:]).encryption == .prefer)
        let local = try PostgresURL("postgresql:///phm", environment: [:])
        #expect(local.endpoint == .socket(path: "/var/run/postgresql/.s.PGSQL.5432") && local.database == "phm")
        #expect(local.encryption == .disable)

        // libpq's environment fills what the URL leaves out; the URL wins where both say.
        let environment = [
            "PGHOST": "/tmp/pg", "PGPORT": "5433", "PGUSER": "analyst", "PGDATABASE": "planning", "PGSSLMODE": "require",
        ]
        let fromEnvironment = try PostgresURL("postgresql://", environment: environment)
        #expect(fromEnvironment.endpoint == .socket(path: "/tmp/pg/.s.PGSQL.5433"))
        #expect(fromEnvironment.user == "analyst" && fromEnvironment.database == "planning")
        #expect(fromEnvironment.encryption == .disable, "a socket is never encrypted")
        let overridden = try PostgresURL("postgresql://phm@db:6000/phm", environment: environment)
        #expect(overridden.endpoint == .tcp(host: "db", port: 6000) && overridden.user == "phm" && overridden.database == "phm")
        #expect(try PostgresURL("postgresql://", environment: ["USER": "gp"]).user == "gp")

        // An IPv6 address in brackets, and a socket folder written percent-encoded as the host.
        #expect(try PostgresURL("postgresql://[::1]:5433/phm", environment: [:]).endpoint == .tcp(host: "::1", port: 5433))
        #expect(
            try PostgresURL("postgresql://%2Frun%2Fpg/phm", environment: [:]).endpoint == .socket(path: "/run/pg/.s.PGSQL.5432"))
    }

    /// Any text at all, malformed, long or full of URL syntax, gives a URL or a reason, at once.
    @Test func anyTextGivesAURLOrAReason() {
        var random = Xoshiro(seed: 5)
        let pieces = [
            "postgresql://", "postgres://", "@", ":", "/", "?", "&", "=", "%", "%2F", "[", "]", "::1", "host", "port",
            "sslmode", "user", "dbname", "require", ",", "#", " ", "é", "\u{0}", "65536", "-1", "phm",
        ]
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 0...40, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            do {
                let url = try PostgresURL(text, environment: [:])
                #expect(!url.user.isEmpty && !url.database.isEmpty)
            } catch {
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgresql://db/" + String(repeating: "%", count: 1_000_000)) }
    }

    @Test func refusesWhatItCannotUseSayingWhy() {
        let refused: [(String, String)] = [
            ("postgresql://phm:hunter2@db/phm", "password"),
            ("mysql://db/phm", "not a postgresql:// URL"),
            ("postgresql://db:0/phm", "port"),
            ("postgresql://db/phm?port=99999", "port"),
            ("postgresql://db/phm?sslmode=sometimes", "sslmode"),
            ("postgresql://db/phm?options=-csearch_path%3Devil", "not one phm reads"),
            ("postgresql:///phm?host=/run/pg&sslmode=require", "Unix socket"),
            ("postgresql://db/phm?host=", "empty"),
            ("postgresql://a,b/phm", "several hosts"), ("postgresql:///phm?host=a,b", "several hosts"),
            ("postgresql://db/" + String(repeating: "x", count: 3000), "longer"),
        ]
        for (url, reason) in refused {
            #expect(throws: PostgresURLError.self) { try PostgresURL(url, environment: [:]) }
            do {
                _ = try PostgresURL(url, environment: [:])
            } catch {
                #expect(error.description.contains(reason), "\(url): \(error)")
                // The password never reaches a message.
                #expect(!error.description.contains("hunter2"))
            }
        }
    }
}
