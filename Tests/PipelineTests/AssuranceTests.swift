import Foundation
import Governance
import Ingest
import Testing

@testable import CLI
@testable import Storage

/// The data protection evidence in `docs/assurance` is the code's own account of itself.
@Suite struct AssuranceTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/assurance")

    /// The data flow and the DPIA in the docs are what `phm assurance` writes from the code today:
    /// a change to the contract, the schema, the access policy, the outputs or retention that is
    /// not regenerated fails here.
    @Test func theDataFlowAndTheDPIAInTheDocsAreTheOnesTheCodeGenerates() throws {
        for (name, generated) in AssuranceEvidence.files {
            let shipped = try String(contentsOf: Self.docs.appendingPathComponent(name), encoding: .utf8)
            #expect(
                shipped == generated,
                "docs/assurance/\(name) is not what the code generates: run phm assurance --out docs/assurance")
        }
    }

    /// Every table of both databases says what it holds and how identifiable it is, and no
    /// description names a table the schema no longer has.
    @Test func everyStoredTableSaysWhatItHolds() {
        let tables = StoredTables.all
        #expect(StoredTables.undescribed.isEmpty, "tables without a description: \(StoredTables.undescribed)")
        #expect(Set(StoredTables.described.keys) == Set(tables.map(\.name)))
        #expect(tables.contains { $0.database == "identity vault" && $0.name == "identity" && $0.kind == .identifiable })
        #expect(tables.first { $0.name == "audit" }?.columns.first == "rowid")
    }

    /// No table outside the identity vault has a column for an identifying field of the contract.
    @Test func identifyingFieldsAreStoredInTheVaultOnly() {
        let identifying = Set(
            (InputContract.all + [InputContract.postcodes]).flatMap { $0.columns.filter(\.identifying).map(\.name) }
                .map { $0.replacingOccurrences(of: "_", with: "").lowercased() })
        #expect(identifying == ["nhsnumber", "givenname", "familyname", "dateofbirth", "postcode"])
        for table in StoredTables.all {
            let columns = Set(table.columns.map { $0.lowercased() })
            if table.database == "store" {
                #expect(columns.isDisjoint(with: identifying), "\(table.name) in the store has identifying columns")
                #expect(table.kind != .identifiable)
            } else if !columns.isDisjoint(with: identifying) {
                #expect(table.kind == .identifiable, "\(table.name) holds identifying columns")
            }
        }
    }

    @Test func aTableIsReadFromItsCreateStatement() throws {
        let (name, columns) = try #require(
            StoredTables.parse(
                """
                CREATE TABLE "user" (
                    name text PRIMARY KEY, "group" text NOT NULL, amount numeric(10, 2), CHECK (amount > 0),
                    PRIMARY KEY (name, "group"))
                """))
        #expect(name == "user")
        #expect(columns == ["name", "group", "amount"])
        #expect(StoredTables.parse("CREATE INDEX a ON b (c)") == nil)
    }

    /// Identifiable data is shown only under direct care or to a linkage reviewer.
    @Test func identitiesAreShownOnlyForDirectCareOrLinkageReview() {
        for role in Role.allCases {
            for purpose in Purpose.allCases {
                for action in AccessPolicy.actions(of: role, for: purpose) where action.exposure == .identifiable {
                    #expect(
                        (purpose == .directCare && role == .clinician)
                            || (purpose == .administration && role == .linkageReviewer),
                        "\(role) may \(action) under \(purpose)")
                }
            }
        }
    }
}
