import Cohorts
import Evaluation
import Foundation
import Governance
import Logging
import PHMCore
import Service
import Storage

/// A data directory with a random frame, an identity vault for it, and one user of each role.
public final class Fixture: @unchecked Sendable {
    public let folder = FileManager.default.temporaryDirectory.appendingPathComponent("governed-\(UUID().uuidString)")
    public let frame: PersonFrame
    public let platform: Platform
    public static let password = "correct horse battery"
    /// The platform key, in memory: audit entries and record keys.
    public let key = PlatformKey.ephemeral()
    /// Users by role; the clinician works at practice P3.
    public static let names: [Role: String] = [
        .analyst: "ana", .clinician: "cli", .igLead: "ig", .admin: "adm", .linkageReviewer: "rev",
    ]

    /// `store`: where the data directory keeps its store (SQLite, or a database on the test server).
    public init(store: TestStore = .sqlite) throws {
        let frame = randomFrame(4_000, seed: 21)
        self.frame = frame
        let folder = self.folder
        try store.prepare(folder)
        try FrameFile.save(frame, dataDirectory: folder)
        // Evaluation data for the same run: 4,000 people over five years with a known programme.
        try EvaluationBaseFile.save(
            KnownEffectPopulation(people: 4_000, effect: -0.2, seed: 21, runId: frame.runId).base, dataDirectory: folder)
        try FrameFile.commit(run: frame.runId, dataDirectory: folder)
        let vault = try IdentityVault(directory: folder.appendingPathComponent("vault"))
        try vault.replaceIdentities(
            frame.pseudonym.indices.map { row in
                VaultEntry(
                    pseudonym: frame.pseudonym[row], nhsNumber: "9434765919", givenName: "Given\(row)", familyName: "Family",
                    dateOfBirth: "1950-01-01", postcode: "SO23 8UJ",
                    practiceCode: frame.hierarchy.practices[Int(frame.practice[row])].code, patientIds: "gp-\(row)")
            })
        // Care gaps over the names the random frame has.
        let gaps = folder.appendingPathComponent("care-gaps.yaml")
        try Data(
            """
            care_gaps:
              - id: hypertension_no_bp
                name: "Hypertension without a blood pressure reading in 12 months"
                rule: condition hypertension and not recorded systolic_bp within 12 months
              - id: diabetes_no_hba1c
                name: "Diabetes without an HbA1c in 12 months"
                rule: condition diabetes and not recorded hba1c within 12 months
            """.utf8
        ).write(to: gaps)
        platform = try Platform(dataDirectory: folder, key: key, hasher: PasswordHasher(logN: 4), careGaps: gaps)
        try platform.createFirstAdmin("adm", password: Fixture.password)
        let admin = try platform.login("adm", password: Fixture.password, purpose: .administration)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: Fixture.password)
        try admin.setUser("cli", role: .clinician, practiceCode: "P3", password: Fixture.password)
        try admin.setUser("ig", role: .igLead, practiceCode: nil, password: Fixture.password)
        try admin.setUser("rev", role: .linkageReviewer, practiceCode: nil, password: Fixture.password)
        // A review queue of two undecided records, each beside two of the frame's people.
        func side(_ given: String) -> ReviewPair.Side {
            ReviewPair.Side(
                nhsNumber: nil, givenName: given, familyName: "FAMILY", dateOfBirth: "1950-01-01", sex: "F", postcode: "SO238UJ")
        }
        let queue = (1...2).map { id in
            ReviewPair(
                id: Int64(id), runId: frame.runId, identity: Data(repeating: UInt8(id), count: 16), source: "care_contacts.csv",
                recordId: "C\(id)", records: id, record: side("GIVEN"),
                candidates: (0..<2).map { k in
                    ReviewPair.Candidate(
                        person: frame.pseudonym[2 * id + k], probability: 0.9 - 0.1 * Double(k), practiceCode: "P3",
                        registration: side("GIVEN\(k)"),
                        levels: ["missing", "exact", "Jaro-Winkler 0.92+", "exact", "unit", "same"])
                }, linkedByNHSNumber: id == 2)
        }
        try vault.stageLinkage(nil, newModel: false, queue: queue)
        try vault.pruneToStaged()
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// An evaluation of a place-based scheme at practice P0 of the evaluation data.
    public static let placeEvaluation = """
        name: Scheme at P0
        intervention:
          place: {practices: [P0], start: 2023-01-01}
        matching: {controls_per_person: 1}
        outcomes: [emergency_admissions]
        windows: {pre_months: 6, post_months: 6}
        bootstrap: 200
        """

    public func session(_ role: Role, _ purpose: Purpose) throws -> Session {
        try platform.login(Fixture.names[role]!, password: Fixture.password, purpose: purpose)
    }
}

/// A logger for servers under test: warnings and errors only, not a line per request.
public let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    return logger
}()
