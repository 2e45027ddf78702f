import Foundation
import Governance
import Service
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two `phm serve` processes over one data directory, as behind a load balancer.
@Suite struct MultiProcessTests {
    /// A port nothing listens on now: the system's choice for a socket bound to port 0.
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func curl(_ arguments: [String]) throws -> ProgramOutput {
        try runProgram(["/usr/bin/curl", "-s", "--max-time", "30"] + arguments)
    }

    /// Both servers answer requests at once, and every request appends to the audit log: the log
    /// stays one chain, each entry after the one before it whichever process wrote it, with no
    /// request refused for a locked store. Sessions and failed sign-ins are the store's, so
    /// either process serves a session and counts a failure the other saw.
    @Test(arguments: TestStore.available)
    func twoServersOnOneDataDirectoryShareSessionsAndKeepOneAuditChain(_ kind: TestStore) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: phmExecutable), "no phm beside the tests: \(phmExecutable)")
        let folder = temporaryFolder("two-servers")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data"), keyFile = folder.appendingPathComponent("keys/platform.key")
        // The servers find the store the data directory records.
        try kind.prepare(data)
        let key = try PlatformKey.load(keyFile)
        let password = "a long enough password"
        try Platform(dataDirectory: data, key: key).createFirstAdmin("admin", password: password)

        // One server told by flags and the environment, the other by a configuration file:
        // both must find the same data directory and platform key.
        let ports = [try Self.freePort(), try Self.freePort()]
        let configuration = folder.appendingPathComponent("phm.json")
        try Data(
            #"{"data-dir": "\#(data.path)", "platform-key-file": "\#(keyFile.path)", "port": \#(ports[1])}"#.utf8
        ).write(to: configuration)
        let servers = [
            try startProgram(
                [phmExecutable, "serve", "--data-dir", data.path, "--port", "\(ports[0])"],
                environment: ["PHM_PLATFORM_KEY_FILE": keyFile.path]),
            try startProgram([phmExecutable, "serve"], environment: ["PHM_CONFIG": configuration.path]),
        ]
        defer {
            for pid in servers { kill(pid, SIGTERM) }
            for pid in servers { waitForProgram(pid) }
        }
        var tokens: [String] = []
        for port in ports {
            var up = false
            for _ in 0..<120 where !up {
                up = try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/health"]).output == "200"
                if !up { usleep(250_000) }
            }
            try #require(up, "the server on \(port) did not start")
            let signIn = try Self.curl([
                "-X", "POST", "-H", "Content-Type: application/json", "--data",
                "{\"user\":\"admin\",\"password\":\"\(password)\",\"purpose\":\"administration\"}",
                "http://127.0.0.1:\(port)/api/sessions",
            ])
            let body = try JSONSerialization.jsonObject(with: Data(signIn.output.utf8)) as? [String: Any]
            tokens.append(try #require(body?["token"] as? String, "\(signIn.output)"))
        }

        // 150 requests to each server, eight at a time, both servers at once.
        let requests = 150
        let loads = zip(ports, tokens).map { port, token in
            Task.detached {
                // curl takes an output for each address.
                try Self.curl(
                    ["--parallel", "--parallel-max", "8", "-H", "Authorization: Bearer \(token)", "-w", "%{http_code}\n"]
                        + (0..<requests).flatMap { _ in ["-o", "/dev/null", "http://127.0.0.1:\(port)/api/audit?limit=1"] })
            }
        }
        for load in loads {
            let codes = try await load.value.output.split(separator: "\n")
            #expect(codes.count == requests && codes.allSatisfy { $0 == "200" }, "\(Set(codes))")
        }

        // A session started on one process is the same session on the other; signed out on
        // one, it is gone from both.
        func status(_ port: Int, _ token: String, _ method: String = "GET", _ path: String = "/api/audit?limit=1") throws
            -> String
        {
            try Self.curl([
                "-X", method, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)",
                "http://127.0.0.1:\(port)\(path)",
            ]).output
        }
        #expect(try status(ports[1], tokens[0]) == "200" && status(ports[0], tokens[1]) == "200")
        #expect(try status(ports[1], tokens[0], "DELETE", "/api/sessions") == "204")
        #expect(try status(ports[0], tokens[0]) == "401" && status(ports[1], tokens[0]) == "401")
        // Failed sign-ins count on both: the limit for a name is reached across the two.
        func signIn(_ port: Int, _ password: String) throws -> String {
            try Self.curl([
                "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "--data",
                "{\"user\":\"admin\",\"password\":\"\(password)\",\"purpose\":\"administration\"}",
                "http://127.0.0.1:\(port)/api/sessions",
            ]).output
        }
        let failures = try (0..<5).map { try signIn(ports[$0 % 2], "wrong password \($0)") }
        #expect(failures == Array(repeating: "401", count: 5))
        #expect(try signIn(ports[0], password) == "429" && signIn(ports[1], password) == "429")

        let store = try GovernanceStore(directory: data, key: key)
        let entries = try store.auditEntries()
        #expect(entries.count >= 2 * requests + 2 + 5)
        // One chain in stored order: sequence after sequence, each linked to the one before.
        #expect(entries.map(\.sequence) == Array(1...Int64(entries.count)))
        #expect(zip(entries.dropFirst(), entries).allSatisfy { $0.previousHash == $1.hash })
        let check = try Platform(dataDirectory: data, key: key).verifyAudit(whole: true)
        guard case .intact = check.verification else {
            Issue.record("audit: \(check.verification)")
            return
        }
    }
}
