import Foundation
import Storage
import TestSupport
import Testing

/// A data directory keeps one store, and says so when told another.
@Suite struct StoreLocationTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("location-\(UUID().uuidString)")

    @Test func aDataDirectoryKeepsTheStoreItWasGiven() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // The default: phm.sqlite, nothing recorded.
        let embedded = try StoreLocation.store.database(of: dir, environment: [:])
        #expect(embedded.location.hasSuffix("phm.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("store.url").path))
        // A PostgreSQL store for a directory that already keeps phm.sqlite is refused before
        // anything is reached, by flag or by environment.
        let elsewhere = "postgresql://phm@/phm?host=/nonexistent"
        for (given, environment) in [(elsewhere, [:]), (nil, ["PHM_STORE": elsewhere])] as [(String?, [String: String])] {
            let error = #expect(throws: StoreLocationError.self) {
                try StoreLocation.store.database(of: dir, given: given, environment: environment)
            }
            #expect(error?.description.contains("already keeps its store in phm.sqlite") == true)
        }
        // A recorded store that differs from the one given is refused; a damaged record too.
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("postgresql://phm@/kept?host=/nonexistent\n".utf8).write(to: other.appendingPathComponent("store.url"))
        let mismatch = #expect(throws: StoreLocationError.self) {
            try StoreLocation.store.database(of: other, given: elsewhere, environment: [:])
        }
        #expect(mismatch?.description.contains("keeps its store at postgresql://phm@/kept") == true)
        try Data().write(to: other.appendingPathComponent("store.url"))
        #expect(throws: StoreLocationError.self) { try StoreLocation.store.database(of: other, environment: [:]) }
        // A URL holding a password is refused, and never recorded.
        let fresh = dir.appendingPathComponent("fresh")
        #expect(throws: PostgresURLError.self) {
            try StoreLocation.store.database(of: fresh, given: "postgresql://phm:secret@db/phm", environment: [:])
        }
        #expect(!FileManager.default.fileExists(atPath: fresh.appendingPathComponent("store.url").path))
    }

    /// Named once, the store is found again by every later opening without being named.
    @Test(arguments: TestStore.available) func laterOpeningsFindTheRecordedStore(_ kind: TestStore) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try kind.prepare(dir)
        let again = try StoreLocation.store.database(of: dir, environment: [:])
        #expect(again.location == first.location)
        #expect(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("store.url").path) == (kind == .postgres))
        if kind == .postgres {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("store.url").path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("phm.sqlite").path))
        }
    }
}
