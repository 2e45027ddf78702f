import Foundation
import Governance
import TestSupport
import Testing

@testable import Storage

/// The tables the assurance evidence lists (read from the PostgreSQL schema) are those the
/// embedded databases have, column for column, and every statement of the schema is understood.
@Suite struct StoredTablesTests {
    /// Tables and their columns as SQLite holds them after every migration.
    static func tables(_ database: any SQLDatabase) throws -> [String: [String]] {
        try database.read { db in
            var tables: [String: [String]] = [:]
            let names = try db.rows(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'",
                []
            ).map { try $0.string(0) }
            for name in names {
                tables[name] = try db.rows("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(name)]).map {
                    try $0.string(0)
                }
            }
            return tables
        }
    }

    @Test func theEmbeddedDatabasesHaveTheTablesTheEvidenceLists() throws {
        let dir = temporaryFolder("stored-tables")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try GovernanceStore(directory: dir, key: PlatformKey.ephemeral())
        let vault = try IdentityVault(directory: dir.appendingPathComponent("vault"))
        let listed = StoredTables.all.filter { $0.name != "phm_owner" }
        for (database, tables) in [
            ("store", try Self.tables(store.database)), ("identity vault", try Self.tables(vault.database)),
        ] {
            let expected = Dictionary(
                uniqueKeysWithValues: listed.filter { $0.database == database }.map { ($0.name, $0.columns) })
            #expect(Set(tables.keys) == Set(expected.keys), "\(database)")
            for (name, columns) in tables {
                // SQLite's implicit rowid is a column of its own on PostgreSQL.
                #expect(Set(columns) == Set(expected[name] ?? []).subtracting(["rowid"]), "\(database) \(name)")
            }
        }
        #expect(StoredTables.unread.isEmpty, "statements not understood: \(StoredTables.unread)")
    }

    @Test func eachKindOfStatementIsRead() {
        #expect(
            StoredTables.read("ALTER TABLE reviewPair ADD COLUMN linkedByNHSNumber boolean")
                == .addColumn("reviewPair", "linkedByNHSNumber"))
        #expect(StoredTables.read("CREATE UNIQUE INDEX auditSequence ON audit (sequence)") == .index)
        #expect(StoredTables.read("CREATE INDEX a ON b (c)") == .index)
        #expect(StoredTables.read("create table x (a int)") == .unread)
        #expect(StoredTables.read("CREATE TABLE IF NOT EXISTS x (a int)") == .unread)
        #expect(StoredTables.read("DROP TABLE x") == .unread)
        #expect(StoredTables.read("CREATE TABLE t (a int, b text)") == .create("t", ["a", "b"]))
    }
}
