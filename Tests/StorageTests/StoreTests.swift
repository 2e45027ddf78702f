import Foundation
import Storage
import Testing

@Suite struct StoreTests {
    func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        return url
    }

    @Test func keepsRunsAndTheirResults() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(directory: dir)
        var run = RunRecord(startedAt: Date(), asOf: "2025-04-01", inputFolder: "in", outputFolder: "out", status: "running")
        let id = try store.begin(run)
        run.id = id
        run.status = "succeeded"
        run.registeredPeople = 42
        try store.update(run)
        try store.save(["a": 1, "b": 2], named: "counts", run: id)
        // Reopening runs the migrations again without harm.
        let reopened = try RunStore(directory: dir)
        let runs = try reopened.runs()
        #expect(runs.count == 1)
        #expect(runs[0].status == "succeeded")
        #expect(runs[0].registeredPeople == 42)
        #expect(try reopened.result([String: Int].self, named: "counts", run: id) == ["a": 1, "b": 2])
        #expect(try reopened.result([String: Int].self, named: "missing", run: id) == nil)
    }

    @Test func vaultHoldsIdentitiesApartFromTheStore() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let vault = try IdentityVault(directory: dir.appendingPathComponent("vault"))
        let entry = VaultEntry(
            pseudonym: "abc", nhsNumber: "9434765919", givenName: "Ada", familyName: "Lovelace", dateOfBirth: "1950-12-10",
            postcode: "LS14AP", practiceCode: "A00001", patientIds: "P1")
        try vault.replaceIdentities([entry])
        try vault.replaceIdentities([entry])
        #expect(try vault.count() == 1)
        #expect(try vault.identity(of: "abc")?.familyName == "Lovelace")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("vault/identity.sqlite").path))
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("vault").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }
}
