import Testing

@testable import PostgresStore

@Suite struct PostgresURLTests {
    @Test func readsURLsAsLibpqDoes() throws {
        let socket = try PostgresURL("postgresql://phm@/planning?host=/run/pg", environment: ["PGPASSWORD": "s3cret"])
        #expect(socket.endpoint == .socket(path: "/run/pg/.s.PGSQL.5432"))
        #expect(socket.user == "phm" && socket.database == "planning" && socket.encryption == .disable)
        #expect(socket.password == "s3cret")

        let tcp = try PostgresURL("postgres://analyst@db.example.nhs.uk:6432/phm?sslmode=verify-full", environment: [:])
        #expect(tcp.endpoint == .tcp(host: "db.example.nhs.uk", port: 6432))
        #expect(tcp.encryption == .require && tcp.password == nil)

        // Defaults: the user postgres, a database named as the user, encryption preferred over TCP.
        let bare = try PostgresURL("postgresql://db", environment: [:])
        #expect(bare.endpoint == .tcp(host: "db", port: 5432) && bare.user == "postgres" && bare.database == "postgres")
        #expect(bare.encryption == .prefer)
        let local = try PostgresURL("postgresql:///phm", environment: [:])
        #expect(local.endpoint == .socket(path: "/var/run/postgresql/.s.PGSQL.5432") && local.database == "phm")
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
