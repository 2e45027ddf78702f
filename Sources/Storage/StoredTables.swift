import Foundation

/// What each table of the store and of the identity vault holds, for the data flow the assurance
/// pack generates. The tables and their columns are read from the schema itself (the PostgreSQL
/// migrations, which mirror the embedded databases' tables), so a table added without saying what
/// it holds fails `StoredTables.all`'s test rather than going unlisted.
public enum StoredTables {
    public enum Kind: String, Sendable, CaseIterable {
        /// Names, NHS numbers, dates of birth, postcodes, raw input rows: the identity vault only.
        case identifiable
        /// Keyed by pseudonym, or a worklist's status and note for a pseudonym.
        case pseudonymised
        /// Users, sessions, the audit log, settings, run records: no care data.
        case operational
    }

    public struct Table: Sendable {
        /// `store` or `identity vault`.
        public var database: String
        public var name: String
        public var columns: [String]
        public var kind: Kind
        public var holds: String
    }

    /// Every table of both databases, in schema order, with the columns later migrations added.
    public static var all: [Table] {
        [PostgresMigrations.store, PostgresMigrations.vault].flatMap { migrations in
            var tables: [Table] = []
            for statement in migrations.all.flatMap(\.statements) {
                switch read(statement) {
                case .create(let name, let columns):
                    let said = described[name]
                    tables.append(
                        Table(
                            database: migrations.holds, name: name, columns: columns, kind: said?.kind ?? .identifiable,
                            holds: said?.holds ?? ""))
                case .addColumn(let name, let column):
                    if let i = tables.firstIndex(where: { $0.name == name }) { tables[i].columns.append(column) }
                case .index, .unread:
                    break
                }
            }
            return tables
        }
    }

    /// Tables the schema has that are not described here (none: a test holds it so).
    public static var undescribed: [String] { all.filter(\.holds.isEmpty).map(\.name) }

    /// Statements of the schema this reading does not understand (none: a test holds it so), so
    /// that a table or column cannot be added unseen.
    public static var unread: [String] {
        [PostgresMigrations.store, PostgresMigrations.vault].flatMap { $0.all.flatMap(\.statements) }.filter {
            if case .unread = read($0) { return true }
            return false
        }
    }

    static let described: [String: (kind: Kind, holds: String)] = [
        "run": (.operational, "each run: when, its input and output folders, status, people and rows counted"),
        "runResult": (
            .operational,
            "each run's reports: reconciliation, linkage (by group, suppressed), summary, data quality and gates; aggregates"
        ),
        "user": (.operational, "users: name, role, practice, password hash (scrypt), active"),
        "cohort": (.operational, "saved cohort definitions and who saved them: definitions, never members"),
        "worklistChange": (
            .pseudonymised, "a worklist status and the clinician's free-text note per pseudonym, who changed it and when"
        ),
        "worklistView": (.operational, "which run a user last saw each worklist of, to mark new entries"),
        "audit": (
            .pseudonymised,
            "the hash-chained audit log: who did what under which purpose, with what outcome; its details name cohorts, practices, reasons given and the pseudonyms re-identified, changed or judged"
        ),
        "auditSeal": (.operational, "signed seals of archived stretches of the audit log"),
        "setting": (.operational, "data sharing settings and other platform settings"),
        "session": (.operational, "live sessions by token digest (never the token), user, purpose and expiry"),
        "signInAttempt": (
            .operational, "sign-in attempts by user name and client address, for rate limiting, deleted once out of the window"
        ),
        "phm_owner": (.operational, "on PostgreSQL, the data directory the database serves"),
        "identity": (.identifiable, "each pseudonym's NHS number, names, date of birth, postcode, practice and GP patient ids"),
        "quarantinedRow": (.identifiable, "the raw text of rejected input rows, for the data's owner to correct"),
        "linkModel": (.operational, "the match-weight model's m and u probabilities (no person's values)"),
        "linkFrequency": (.identifiable, "how many people share each given name, family name and postcode"),
        "linkDecision": (
            .identifiable,
            "each care record identity's linkage decision: an unkeyed SHA-256 digest of its NHS number, names, date of birth, sex and postcode, beside the pseudonym it linked to (anyone with a person's details could find their pseudonym)"
        ),
        "reviewPair": (.identifiable, "records linkage could not decide beside the people they may be, identities shown"),
        "reviewDecision": (
            .identifiable, "linkage reviewers' judgements: the record's identity digest (as above), a pseudonym, who and when"
        ),
    ]

    enum Statement: Equatable {
        case create(String, [String])
        case addColumn(String, String)
        case index
        case unread
    }

    static func read(_ statement: String) -> Statement {
        let text = statement.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = text.split(whereSeparator: \.isWhitespace).map { $0.replacingOccurrences(of: "\"", with: "") }
        if let (name, columns) = parse(text) { return .create(name, columns) }
        if words.count >= 6, words[0] == "ALTER", words[1] == "TABLE", words[3] == "ADD", words[4] == "COLUMN" {
            return .addColumn(words[2], words[5])
        }
        if words.count >= 3, words[0] == "CREATE", words[1] == "INDEX" || (words[1] == "UNIQUE" && words[2] == "INDEX") {
            return .index
        }
        return .unread
    }

    /// The name and columns of a `CREATE TABLE` statement; nil for any other.
    static func parse(_ statement: String) -> (String, [String])? {
        let text = statement.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("CREATE TABLE "), !text.hasPrefix("CREATE TABLE IF"), let open = text.firstIndex(of: "("),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let name = text[text.index(text.startIndex, offsetBy: 13)..<open].trimmingCharacters(in: .whitespaces)
            .replacingOccurrences(of: "\"", with: "")
        var parts: [String] = [], depth = 0, current = ""
        for character in text[text.index(after: open)..<close] {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        let columns = parts.compactMap { part -> String? in
            let word = part.split(whereSeparator: \.isWhitespace).first.map { $0.replacingOccurrences(of: "\"", with: "") }
            guard let word, !["PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"].contains(word) else { return nil }
            return word
        }
        return (name, columns)
    }
}
