import Foundation
import Logging
import PHMCore
import PostgresNIO
import PostgresStore
import Storage
import Synthesis

/// A fresh temporary folder, removed by the caller's `defer` if wanted.
public func temporaryFolder(_ name: String = "phm-test") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes files (name to text) into a folder.
public func write(_ files: [String: String], to folder: URL) {
    for (name, text) in files {
        try! Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }
}

/// A minimal valid extract: two practices, three areas, three patients. Tests add rows to it.
public enum MinimalExtract {
    public static let practices = """
        practice_code,practice_name,pcn_code,pcn_name,locality_code,locality_name,organisation_code,organisation_name
        A00001,North Surgery,U00001,North PCN,L01,Northtown,QX9,Test ICB
        A00002,"South Surgery, Southtown",U00001,North PCN,L01,Northtown,QX9,Test ICB

        """
    public static let areas = """
        lsoa_code,imd_decile,imd_score,pm25
        E01000001,1,50.2,11.5
        E01000002,5,20.0,
        E01000003,10,3.1,7.0

        """
    public static let patientsHeader =
        "patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,lsoa_code,ethnic_category,practice_code,registered_from,registered_to,date_of_death,national_opt_out"
    public static let patients = """
        \(patientsHeader)
        P1,9434765919,Ada,Lovelace,1950-12-10,F,LS1 4AP,E01000001,A,A00001,2000-01-01,,,N
        P2,4010232137,Alan,Turing,1960-06-23,M,M13 9PL,E01000002,H,A00002,2010-05-01,,,Y
        P3,,Grace,Hopper,2010-12-09,F,,E01000003,,A00001,2010-12-09,,,N

        """

    /// Writes the three required files plus `extra` into a new folder.
    public static func folder(_ extra: [String: String] = [:]) -> URL {
        let folder = temporaryFolder("extract")
        var files = ["practices.csv": practices, "areas.csv": areas, "patients.csv": patients]
        for (k, v) in extra { files[k] = v }
        write(files, to: folder)
        return folder
    }
}

/// The default synthetic health system (100,000 people, seed 42), written once per test process.
public enum DefaultSynthetic {
    public static let people = 100_000
    public static let seed: UInt64 = 42
    public static let folder: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "phm-default-synthetic-\(people)-\(seed)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: folder)
        _ = try! SyntheticHealthSystem.write(SynthesisOptions(people: people, seed: seed), to: folder)
        return folder
    }()
}

/// Reads a CSV file written by the platform or the generator (no quoted newlines) into rows of fields.
public func readCSV(_ url: URL) -> [[String]] {
    let text = try! String(contentsOf: url, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: true).map { splitCSVLine(String($0)) }
}

public func splitCSVLine(_ line: String) -> [String] {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var chars = Array(line)
    var i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "\"" {
                if i + 1 < chars.count, chars[i + 1] == "\"" {
                    current.append("\"")
                    i += 1
                } else {
                    quoted = false
                }
            } else {
                current.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            fields.append(current)
            current = ""
        } else {
            current.append(c)
        }
        i += 1
    }
    fields.append(current)
    chars.removeAll()
    return fields
}

extension Population {
    /// Appends a hand-built person registered since 2000 at practice 0 unless told otherwise.
    public mutating func appendPerson(
        sex: Sex = .female, age: Int = 70, practice: Int32 = 0, area: Int32 = -1, registeredTo: Day = .max, death: Day = .max
    ) {
        pseudonym.append("p\(count)")
        self.sex.append(sex)
        self.age.append(Int16(age))
        birthMonth.append(Int32((asOf.year - age) * 12))
        self.practice.append(practice)
        self.area.append(area)
        ethnicGroup.append(.white)
        optedOut.append(false)
        registeredFrom.append(Day(iso: "2000-01-01")!)
        registeredSince.append(Day(iso: "2000-01-01")!)
        self.registeredTo.append(registeredTo)
        self.death.append(death)
    }
}

/// The throwaway PostgreSQL server `scripts/test` starts (`scripts/postgres`): its URL, in
/// `$PHM_TEST_POSTGRES`. Tests that need it are enabled only when it is set.
public enum PostgresTesting {
    public static let url = ProcessInfo.processInfo.environment["PHM_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }

    /// A schema of the test's own, so tests running side by side never meet.
    public static func schema(_ name: String) -> String {
        "test_\(name)_\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// A test's own query that failed, with PostgreSQL's message.
public struct TestQueryFailed: Error, CustomStringConvertible {
    public var description: String
}

/// Rows of a query whose one column is a JSON array of text (`array_to_json(ARRAY[...])::text`).
public func textRows(_ url: PostgresURL, _ sql: String) async throws -> [[String?]] {
    do {
        return try await url.withConnection(logger: Logger(label: "test")) { connection in
            var rows: [[String?]] = []
            let result = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
            for try await json in result.decode(String.self) {
                rows.append(try JSONDecoder().decode([String?].self, from: Data(json.utf8)))
            }
            return rows
        }
    } catch {
        throw TestQueryFailed(description: "\(sql.prefix(200)): \(url.describe(error))")
    }
}

public func execute(_ url: PostgresURL, _ sql: String) async throws {
    do {
        try await url.withConnection(logger: Logger(label: "test")) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test"))
        }
    } catch {
        throw TestQueryFailed(description: "\(sql.prefix(200)): \(url.describe(error))")
    }
}
