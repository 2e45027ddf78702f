import ArgumentParser
import Cohorts
import Foundation
import Governance
import PHMCore
import Service
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// The data directory a governed command or the server opens, and the care gaps it uses.
struct PlatformOptions: ParsableArguments {
    @OptionGroup var directory: DataDirectoryOptions

    @Option(
        name: .customLong("care-gaps"), help: "A care gaps file for worklists (default: the shipped set; see docs/cohorts.md).")
    var careGaps: String?

    @Option(
        help:
            "A PostgreSQL database for the store (postgresql://USER@HOST/DATABASE; password in $PGPASSWORD), in place of the data directory's phm.sqlite; also $PHM_STORE. Recorded in the data directory the first time, so later commands need not give it (see docs/architecture.md, The store on PostgreSQL)."
    )
    var store: String?

    @Option(
        help:
            "A PostgreSQL database for the identity vault (postgresql://USER@HOST/DATABASE; password in $PHM_VAULT_PGPASSWORD), in place of the data directory's vault/identity.sqlite; also $PHM_VAULT. A database of its own, apart from the store's, with its own user. Recorded in the data directory the first time (see docs/architecture.md, The store on PostgreSQL)."
    )
    var vault: String?

    var dataDirectory: String { directory.dataDirectory }
    var config: String? { directory.config }

    mutating func validate() throws { try resolve(SettingSources(file: config)) }

    /// Fills in what the command line left out from the environment and the configuration file.
    mutating func resolve(_ sources: SettingSources) throws {
        try directory.resolve(sources)
        careGaps = try sources.text("care-gaps", flag: careGaps)
        store = try sources.text("store", flag: store)
        vault = try sources.text("vault", flag: vault)
    }

    func platform() throws -> Platform {
        try directory.useKeyFiles()
        return try Console.reportingFailures {
            try Console.chooseStore(store, vault: vault, dataDirectory: dataDirectory)
            return try Platform(
                dataDirectory: URL(fileURLWithPath: dataDirectory), careGaps: careGaps.map { URL(fileURLWithPath: $0) })
        }
    }
}

/// Who is asking, and why: every governed command logs in as a user under a purpose.
struct SessionOptions: ParsableArguments {
    @OptionGroup var platform: PlatformOptions

    @Option(help: "Your user name (your password is read from $PHM_PASSWORD, or asked for).")
    var user: String

    @Option(help: "Why you are asking: planning, direct_care or administration.")
    var purpose: Purpose

    func session() throws -> Session {
        try platform.platform().login(
            user, password: Secrets.password("PHM_PASSWORD", prompt: "password for \(user): "), purpose: purpose)
    }
}

extension Purpose: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}
extension DataSource: ExpressibleByArgument {}
extension WorklistStatus: ExpressibleByArgument {}

enum Secrets {
    /// A password from an environment variable, or asked for without echo.
    static func password(_ variable: String, prompt: String) throws -> String {
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        guard let typed = getpass(prompt) else { throw CommandFailure(message: "no password given (set $\(variable))") }
        return String(cString: typed)
    }
}

/// A definition given on the command line: text, JSON, or `@FILE` holding either.
func readDefinition(_ argument: String) throws -> CohortDefinition {
    let source =
        argument.hasPrefix("@") ? try String(contentsOfFile: String(argument.dropFirst()), encoding: .utf8) : argument
    return try Console.reportingFailures { try Session.definition(source) }
}

extension PHMCommand {
    struct Users: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage users and roles (administrators), or create the first administrator.",
            subcommands: [Initialise.self, List.self, Set.self])

        struct Initialise: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "init", abstract: "Create the first administrator of a data directory with no users.")
            @OptionGroup var platform: PlatformOptions
            @Option(help: "The administrator's user name.") var name: String
            func run() throws {
                let opened = try platform.platform()
                try Console.reportingFailures {
                    try opened.createFirstAdmin(
                        name, password: try Secrets.password("PHM_NEW_PASSWORD", prompt: "new password for \(name): "))
                }
                print("created administrator \(name)")
            }
        }

        struct List: ParsableCommand {
            @OptionGroup var session: SessionOptions
            func run() throws {
                let users = try Console.reportingFailures { try session.session().users() }
                print("name,role,practice,active")
                for u in users { print("\(u.name),\(u.role.rawValue),\(u.practiceCode ?? ""),\(u.active)") }
            }
        }

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a user, or change one's role, practice, password or whether active.")
            @OptionGroup var session: SessionOptions
            @Option(help: "The user to add or change.") var name: String
            @Option(help: "analyst, clinician, ig_lead, admin or linkage_reviewer.") var role: Role
            @Option(help: "A clinician's practice (ODS code).") var practice: String?
            @Flag(help: "Set a new password (read from $PHM_NEW_PASSWORD, or asked for); needed for a new user.")
            var password = false
            @Flag(inversion: .prefixedNo, help: "Whether the user may log in.") var active = true
            func run() throws {
                try Console.reportingFailures {
                    let s = try session.session()
                    let secret = password ? try Secrets.password("PHM_NEW_PASSWORD", prompt: "new password for \(name): ") : nil
                    try s.setUser(name, role: role, practiceCode: practice, password: secret, active: active)
                }
                print("saved user \(name) (\(role.rawValue))")
            }
        }
    }

    struct Cohort: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define, count, profile and save cohorts over the latest run (see docs/cohorts.md).",
            subcommands: [Check.self, Profile.self, Save.self, List.self, Show.self, Members.self])

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check a definition against the latest run's names, and print its canonical forms.")
            @OptionGroup var directory: DataDirectoryOptions
            @Argument(help: "The definition, as text or JSON, or @FILE.") var definition: String
            mutating func validate() throws { try directory.resolve(SettingSources(file: directory.config)) }
            func run() throws {
                let d = try readDefinition(definition)
                let frame = try Console.reportingFailures {
                    try FrameFile.latest(dataDirectory: URL(fileURLWithPath: directory.dataDirectory))
                }
                _ = try Console.reportingFailures { try CohortQuery(d, frame: frame) }
                print(CohortText.format(d.expression))
                print(String(decoding: CohortJSON.encode(d.expression), as: UTF8.self))
            }
        }

        struct Profile: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Count a cohort and compare it with the population, within your purpose's scope.")
            @OptionGroup var session: SessionOptions
            @Argument(help: "The definition, as text or JSON, or @FILE.") var definition: String
            @Option(help: "Also write the profile as CSV to this file.") var csv: String?
            func run() throws {
                let d = try readDefinition(definition)
                let result = try Console.reportingFailures { try session.session().query(d) }
                let p = result.published()
                func shown(_ n: Int?) -> String { n.map(Console.number) ?? "suppressed" }
                print(
                    "\(shown(p.size)) of \(shown(p.populationSize)) people (run \(result.runId), as of \(result.asOf))"
                        + (result.suppressed
                            ? "; counts of 1-7 suppressed and others rounded to 5 by cell key; means of values capped at the population's 99.9th centile"
                            : ""))
                print(String(format: "evaluated in %.1f ms", result.seconds * 1000))
                var rows = CSVRows()
                rows.raw("breakdown,group,cohort,population,pct_cohort,pct_population")
                func count(_ n: Int?) { if let n { rows.field(n) } else { rows.empty() } }
                func percent(_ n: Int?, _ total: Int?) {
                    guard let n, let total, total > 0 else { return rows.empty() }
                    rows.field(100 * Double(n) / Double(total), decimals: 1)
                }
                for g in p.groups {
                    rows.field(g.group.breakdown)
                    rows.field(g.group.group)
                    count(g.cohort)
                    count(g.population)
                    percent(g.cohort, p.size)
                    percent(g.population, p.populationSize)
                    rows.end()
                }
                for m in p.measures {
                    let name = m.measure.padding(toLength: 32, withPad: " ", startingAt: 0)
                    print(name + String(format: " cohort %12.3f   population %12.3f", m.cohort, m.population))
                }
                if let csv { try write(rows, to: csv) }
            }
        }

        struct Save: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Save a new version of a named cohort.")
            @OptionGroup var session: SessionOptions
            @Argument(help: "The cohort's name.") var name: String
            @Argument(help: "The definition, as text or JSON, or @FILE.") var definition: String
            @Option(help: "What the cohort is for.") var description = ""
            func run() throws {
                let d = try readDefinition(definition)
                let saved = try Console.reportingFailures { try session.session().saveCohort(name, d, description: description) }
                print("saved \(saved.name) version \(saved.version): \(saved.text)")
            }
        }

        struct List: ParsableCommand {
            @OptionGroup var session: SessionOptions
            func run() throws {
                for c in try Console.reportingFailures({ try session.session().cohorts() }) {
                    print("\(c.name) v\(c.version) (\(c.savedBy)): \(c.text)")
                }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every version of a saved cohort.")
            @OptionGroup var session: SessionOptions
            @Argument var name: String
            func run() throws {
                for c in try Console.reportingFailures({ try session.session().cohortVersions(name) }) {
                    print("v\(c.version) saved by \(c.savedBy) at \(c.savedAt): \(c.text)")
                }
            }
        }

        struct Members: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a cohort's members by pseudonym (planning; audited as an export).")
            @OptionGroup var session: SessionOptions
            @Argument(help: "The definition, as text or JSON, or @FILE.") var definition: String
            @Option(help: "The file to write.") var out: String
            @Option(help: "csv, one pseudonym a line, or fhir, a FHIR R4 Group of the pseudonyms.") var format: DataFormat = .csv
            func run() throws {
                let d = try readDefinition(definition)
                let members = try Console.reportingFailures { try session.session().members(d) }
                if format == .fhir {
                    return try Data((d.fhirGroup(of: members) + "\n").utf8).write(to: URL(fileURLWithPath: out))
                }
                var rows = CSVRows()
                rows.raw("pseudonym")
                for pseudonym in members { rows.raw(pseudonym) }
                try write(rows, to: out)
            }
        }
    }

    struct Worklist: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A saved cohort as your practice's worklist, re-identified for direct care.",
            subcommands: [Show.self, Status.self])

        struct Show: ParsableCommand {
            @OptionGroup var session: SessionOptions
            @Argument(help: "The saved cohort.") var cohort: String
            @Option(help: "Why you are re-identifying these patients (written to the audit log).") var reason: String
            @Option(help: "Write the worklist as CSV to this file instead of showing its first 20 rows.") var csv: String?
            @Option(
                help:
                    "Write the worklist as a FHIR R4 Group to this file (members by NHS number, in rank order), for a clinical system to load."
            )
            var fhir: String?
            func run() throws {
                let format = fhir != nil ? "fhir" : (csv != nil ? "csv" : "list")
                let list = try Console.reportingFailures {
                    try session.session().worklist(cohort, reason: reason, format: format)
                }
                if let fhir {
                    try Data((list.fhirGroup + "\n").utf8).write(to: URL(fileURLWithPath: fhir))
                    print("\(list.entries.count) people at \(list.practiceCode) written to \(fhir) as a FHIR Group")
                    if csv == nil { return }
                }
                print("\(list.entries.count) people at \(list.practiceCode), ranked by \(list.outcome ?? "pseudonym")")
                for gap in list.uncheckedGaps { print("care gap '\(gap.id)' not checked: \(gap.reason)") }
                if let since = list.since {
                    print(
                        "since you last looked (run \(since.runId), as of \(since.asOf)): \(since.entered.count) entered (new: Y), \(since.left) left"
                    )
                }
                var rows = CSVRows()
                rows.raw(
                    "rank,nhs_number,name,date_of_birth,pseudonym,age,sex,risk,tier,rising,reasons,care_gaps,status,note,changed_by,new"
                )
                for e in list.entries {
                    rows.field(e.entry.rank)
                    rows.field(e.identity?.nhsNumber ?? "")
                    rows.field(e.identity.map { "\($0.givenName) \($0.familyName)" } ?? "")
                    rows.field(e.identity?.dateOfBirth ?? "")
                    rows.field(e.entry.pseudonym)
                    rows.field(e.entry.age)
                    rows.field(e.entry.sex)
                    if let risk = e.entry.risk { rows.field(risk, decimals: 3) } else { rows.empty() }
                    rows.field(e.entry.tier ?? "")
                    rows.field(e.entry.rising ? "Y" : "N")
                    rows.field(e.entry.reasons.joined(separator: "; "))
                    rows.field(e.entry.gaps.joined(separator: "; "))
                    rows.field(e.status.rawValue)
                    rows.field(e.latest?.note ?? "")
                    rows.field(e.latest?.changedBy ?? "")
                    rows.field(e.isNew ? "Y" : "N")
                    rows.end()
                }
                // Identities go where they were asked for: to the file, or else to the terminal.
                if let csv { return try write(rows, to: csv) }
                let lines = String(decoding: rows.bytes, as: UTF8.self).split(separator: "\n")
                for line in lines.prefix(21) { print(line) }
                if lines.count > 21 { print("... \(lines.count - 21) more") }
            }
        }

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Record a person's status on a worklist.")
            @OptionGroup var session: SessionOptions
            @Argument(help: "The saved cohort.") var cohort: String
            @Argument(help: "The person's pseudonym (as the worklist shows).") var pseudonym: String
            @Argument(help: "to_contact, contacted, enrolled, declined or not_appropriate.") var status: WorklistStatus
            @Option(help: "A note.") var note = ""
            func run() throws {
                try Console.reportingFailures {
                    try session.session().setStatus(cohort: cohort, pseudonym: pseudonym, status: status, note: note)
                }
                print("recorded \(status.rawValue)")
            }
        }
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read, verify and archive the hash-chained audit log.",
            subcommands: [List.self, Verify.self, Archive.self])

        struct List: ParsableCommand {
            @OptionGroup var session: SessionOptions
            @Option(help: "Show only the last N entries.") var last: Int?
            func run() throws {
                let entries = try Console.reportingFailures { try session.session().auditLog() }
                for e in entries.suffix(last ?? entries.count) {
                    print("\(e.sequence) \(e.at) \(e.user) \(e.role) \(e.purpose) \(e.action) \(e.outcome) \(e.detail)")
                }
            }
        }

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every entry's hash and chain; exit 1 at the first entry that does not fit.")
            @OptionGroup var session: SessionOptions
            @Option(help: "A head hash recorded earlier: check that entry is still in the log (detects truncation).")
            var head: String?
            func run() throws {
                let s = try Console.reportingFailures { try session.session() }
                let result = try Console.reportingFailures { try s.verifyAudit() }
                print(result.description)
                guard case .intact = result else { throw ExitCode(1) }
                var archived: [Data] = []
                for file in archives {
                    let data = try Console.reportingFailures { try Data(contentsOf: URL(fileURLWithPath: file)) }
                    let result = try Console.reportingFailures {
                        try s.verifyAuditArchive(data, named: URL(fileURLWithPath: file).lastPathComponent)
                    }
                    print("\(file): \(result.description)")
                    guard case .intact = result else { throw ExitCode(1) }
                    archived.append(data)
                }
                if let head {
                    let entries = try Console.reportingFailures { try s.auditLog() }
                    let sealed = try Console.reportingFailures { try s.auditSeals() }
                    // A head may since have been archived: found in a sealed archive given here.
                    guard
                        entries.contains(where: { $0.hash == head }) || sealed.contains(where: { $0.head == head })
                            || archived.contains(where: { AuditArchive.holds($0, hash: head) })
                    else {
                        print(
                            "the recorded head \(head) is not in the log\(sealed.isEmpty ? "" : ", its seals or the archives given (--archive)"): entries were removed from its end"
                        )
                        throw ExitCode(1)
                    }
                    print("the recorded head is held: nothing after it was removed")
                }
            }
            @Option(
                name: .customLong("archive"), help: "An archive file written by `phm audit archive`: check it against its seal.")
            var archives: [String] = []
        }

        struct Archive: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract:
                    "Move the entries up to a sequence number into an archive file and seal them (information governance leads and administrators)."
            )
            @OptionGroup var session: SessionOptions
            @Option(help: "The last entry to archive.") var through: Int
            @Option(help: "The folder for archive files.") var out: String
            func run() throws {
                let s = try Console.reportingFailures { try session.session() }
                let seal = try Console.reportingFailures { try s.archiveAudit(through: through, to: URL(fileURLWithPath: out)) }
                print(
                    "archived entries to \(seal.through) in \(out)/\(seal.archive) (SHA-256 \(seal.archiveSHA256)); the log now starts after head \(seal.head)"
                )
            }
        }
    }

    struct Sharing: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which data sources may be used for which purpose (information governance leads).",
            subcommands: [Show.self, Set.self])

        struct Show: ParsableCommand {
            @OptionGroup var session: SessionOptions
            func run() throws {
                let settings = try Console.reportingFailures { try session.session().sharing() }
                print("source,planning,direct_care")
                for source in DataSource.allCases {
                    print(
                        "\(source.rawValue),\(settings.allows(source, for: .planning)),\(settings.allows(source, for: .directCare))"
                    )
                }
            }
        }

        struct Set: ParsableCommand {
            @OptionGroup var session: SessionOptions
            @Argument(help: "gp, acute, community, mental_health or social_care.") var source: DataSource
            @Argument(help: "planning or direct_care.") var use: Purpose
            @Argument(help: "allow or deny.") var decision: String
            func run() throws {
                guard decision == "allow" || decision == "deny" else { throw ValidationError("decision: allow or deny") }
                try Console.reportingFailures { try session.session().setSharing(source, use, allowed: decision == "allow") }
                print(
                    "\(source.rawValue) \(decision == "allow" ? "allowed" : "not allowed") for \(use.rawValue) from the next run")
            }
        }
    }
}

/// Writes CSV rows to a file and says so.
func write(_ rows: CSVRows, to path: String) throws {
    try Data(rows.bytes).write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
}
