import Conditions
import Foundation
import Outputs
import PHMCore

/// The scenarios file (`--scenarios FILE`, [projections.md](../../docs/projections.md)): an
/// optional official population projection for the baseline to follow, and the scenarios to
/// compare with it, checked against the condition library before the run starts.
///
/// ```yaml
/// population:                 # optional; files are read from the scenarios file's folder
///   file: snpp-2018-persons.csv
///   areas: [E06000022]        # optional: every area in the file when left out
/// scenarios:
///   - id: diabetes_prevention
///     name: Diabetes onset 10% lower
///     incidence: {diabetes: -10}          # percent change in yearly onsets
///   - id: admission_avoidance
///     activity:
///       - {measure: emergency_admissions, change: -10, age_band: 80+}
///   - id: high_migration
///     population: {file: snpp-2018-high-migration.csv}
/// ```
public struct ScenarioFile: Sendable {
    public struct Entry: Sendable {
        public var id: String
        public var name: String
        public var incidence: [(condition: String, index: Int, change: Double)]
        public var activity: [ActivityChange]
        public var population: PopulationProjectionFile?
    }

    public var file: String
    public var population: PopulationProjectionFile?
    public var scenarios: [Entry]

    /// The most scenarios a file may hold: each is projected as the baseline is.
    public static let maximumScenarios = 8
    public static let maximumBytes = 1 << 20

    /// The scenarios `phm demo` compares with its baseline, and the example in the docs.
    public static let example = """
        # Scenarios compared with the baseline in projections.csv (docs/projections.md).
        scenarios:
          - id: diabetes_prevention
            name: Diabetes onset 10% lower
            incidence: {diabetes: -10}
          - id: admission_avoidance
            name: Emergency admissions 10% lower at 80 and over
            activity:
              - {measure: emergency_admissions, change: -10, age_band: 80+}

        """

    /// The conditions whose onsets the history must track.
    public var tracked: [Int] { Array(Set(scenarios.flatMap { $0.incidence.map(\.index) })).sorted() }

    public init(file: String, population: PopulationProjectionFile?, scenarios: [Entry]) {
        self.file = file
        self.population = population
        self.scenarios = scenarios
    }

    /// Reads and checks a scenarios file against the condition library's ids; `changesState`
    /// says whether each condition counts in the projection's states (a long-term condition, or
    /// weighted in the major illness score).
    public static func read(_ url: URL, conditions: [String], changesState: [Bool]) throws(DefinitionError) -> ScenarioFile {
        let name = url.lastPathComponent
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int else {
            throw DefinitionError(file: name, message: "cannot be read")
        }
        guard size <= maximumBytes else { throw DefinitionError(file: name, message: "is larger than \(maximumBytes / 1024) KB") }
        guard let data = try? Data(contentsOf: url) else { throw DefinitionError(file: name, message: "cannot be read") }
        return try parse(
            data, name: name, folder: url.deletingLastPathComponent(), conditions: conditions, changesState: changesState)
    }

    /// The file's bytes read as `read` reads them; population files it names are read from
    /// `folder`.
    public static func parse(_ data: Data, name: String, folder: URL, conditions: [String], changesState: [Bool])
        throws(DefinitionError) -> ScenarioFile
    {
        func fail(_ message: String) -> DefinitionError { DefinitionError(file: name, message: message) }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("is not UTF-8 text") }
        let raw: Raw
        do { raw = try YAMLInput.decode(Raw.self, from: text) } catch { throw fail("\(error)") }
        func population(_ p: Raw.Population?, _ place: String) throws(DefinitionError) -> PopulationProjectionFile? {
            guard let p else { return nil }
            guard !p.file.isEmpty, !p.file.contains("\0") else { throw fail("\(place): population needs a file") }
            let path = p.file.hasPrefix("/") ? URL(fileURLWithPath: p.file) : folder.appendingPathComponent(p.file)
            return try PopulationProjectionFile.read(path, areas: p.areas.map(Set.init))
        }
        let baseline = try population(raw.population, "the baseline")
        guard raw.scenarios.count <= maximumScenarios else {
            throw fail("has \(raw.scenarios.count) scenarios; at most \(maximumScenarios) are projected")
        }
        var seen: Set<String> = [Scenario.baselineId]
        var entries: [Entry] = []
        for (n, s) in raw.scenarios.enumerated() {
            let place = "scenario \(n + 1)"
            guard s.id.utf8.count <= 40, let first = s.id.unicodeScalars.first, ("a"..."z").contains(first),
                s.id.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            else {
                throw fail("\(place): the id must be 1 to 40 lower-case letters, digits or _, starting with a letter")
            }
            guard seen.insert(s.id).inserted else {
                throw fail("\(place): the id '\(s.id)' is used twice (or is the baseline's)")
            }
            let title = s.name ?? s.id
            guard title.count <= 100, !title.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else { throw fail("\(place) (\(s.id)): the name must be at most 100 characters, on one line") }
            var incidence: [(String, Int, Double)] = []
            for (condition, change) in (s.incidence ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let index = conditions.firstIndex(of: condition) else {
                    throw fail("\(place) (\(s.id)): incidence names '\(condition)', which the condition library does not have")
                }
                guard index < changesState.count, changesState[index] else {
                    throw fail(
                        "\(place) (\(s.id)): '\(condition)' is neither a long-term condition nor in the major illness score, so its onsets change no one's state"
                    )
                }
                guard change.isFinite, (-100...200).contains(change) else {
                    throw fail("\(place) (\(s.id)): the incidence change of '\(condition)' must be -100 to 200 (percent)")
                }
                incidence.append((condition, index, change / 100))
            }
            var activity: [ActivityChange] = []
            for (k, a) in (s.activity ?? []).enumerated() {
                let where_ = "\(place) (\(s.id)), activity \(k + 1)"
                guard let measure = Projection.Measure.activity.first(where: { $0.column == a.measure }) else {
                    throw fail(
                        "\(where_): the measure must be one of \(Projection.Measure.activity.map(\.column).joined(separator: ", "))"
                    )
                }
                guard a.change.isFinite, (-100...500).contains(a.change) else {
                    throw fail("\(where_): the change must be -100 to 500 (percent)")
                }
                let age = try a.ageBand.map { label throws(DefinitionError) in
                    guard let band = AgeBand.allCases.first(where: { $0.label == label }) else {
                        throw fail("\(where_): age_band must be one of \(AgeBand.allCases.map(\.label).joined(separator: ", "))")
                    }
                    return band
                }
                let ltc = try a.ltcBand.map { label throws(DefinitionError) in
                    guard let band = LTCBand.allCases.first(where: { $0.label == label }) else {
                        throw fail("\(where_): ltc_band must be one of \(LTCBand.allCases.map(\.label).joined(separator: ", "))")
                    }
                    return band
                }
                activity.append(.init(measure: measure, change: a.change / 100, ageBand: age, ltcBand: ltc))
            }
            let own = try population(s.population, "\(place) (\(s.id))")
            guard !incidence.isEmpty || !activity.isEmpty || own != nil else {
                throw fail("\(place) (\(s.id)): changes nothing: give incidence, activity or population")
            }
            entries.append(
                Entry(id: s.id, name: title, incidence: incidence, activity: activity, population: own ?? baseline))
        }
        return ScenarioFile(file: name, population: baseline, scenarios: entries)
    }

    /// Checks that each population file covers the years projected and grows as a population
    /// can, before any data is read.
    public func check(asOf: Day, years: Int) throws(DefinitionError) {
        for file in [population] + scenarios.map(\.population) {
            _ = try file?.constraint(from: asOf.year, years: years)
        }
    }

    /// The baseline and each scenario, for a history observed with `tracked` conditions and a
    /// projection from as-of for `years` years.
    public func scenarios(history: History, rates: Projection.Rates, asOf: Day, years: Int) throws(DefinitionError)
        -> [Scenario]
    {
        func constraint(_ p: PopulationProjectionFile?) throws(DefinitionError) -> PopulationConstraint? {
            try p.map { p throws(DefinitionError) in try p.constraint(from: asOf.year, years: years) }
        }
        var baseline = Scenario(id: Scenario.baselineId, name: "Baseline")
        baseline.population = try constraint(population)
        return [baseline]
            + (try scenarios.map { entry throws(DefinitionError) in
                var s = Scenario(id: entry.id, name: entry.name)
                s.incidence = entry.incidence.map {
                    IncidenceChange(condition: $0.condition, index: $0.index, change: $0.change, history: history)
                }
                s.activity = entry.activity
                s.population = try constraint(entry.population)
                return s
            })
    }

    /// The file as written, before its names are checked.
    struct Raw: Decodable {
        struct Population: Decodable {
            var file: String
            var areas: [String]?
            enum CodingKeys: String, CodingKey, CaseIterable { case file, areas }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                file = try c.decode(String.self, forKey: .file)
                areas = try c.decodeIfPresent([String].self, forKey: .areas)
            }
        }
        struct Activity: Decodable {
            var measure: String
            var change: Double
            var ageBand: String?
            var ltcBand: String?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case measure, change, ageBand = "age_band", ltcBand = "ltc_band"
            }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                measure = try c.decode(String.self, forKey: .measure)
                change = try c.decode(Double.self, forKey: .change)
                ageBand = try c.decodeIfPresent(String.self, forKey: .ageBand)
                ltcBand = try c.decodeIfPresent(String.self, forKey: .ltcBand)
            }
        }
        struct Entry: Decodable {
            var id: String
            var name: String?
            var incidence: [String: Double]?
            var activity: [Activity]?
            var population: Population?
            enum CodingKeys: String, CodingKey, CaseIterable { case id, name, incidence, activity, population }
            init(from decoder: any Decoder) throws {
                try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
                let c = try decoder.container(keyedBy: CodingKeys.self)
                id = try c.decode(String.self, forKey: .id)
                name = try c.decodeIfPresent(String.self, forKey: .name)
                incidence = try c.decodeIfPresent([String: Double].self, forKey: .incidence)
                activity = try c.decodeIfPresent([Activity].self, forKey: .activity)
                population = try c.decodeIfPresent(Population.self, forKey: .population)
            }
        }
        var population: Population?
        var scenarios: [Entry]
        enum CodingKeys: String, CodingKey, CaseIterable { case population, scenarios }
        init(from decoder: any Decoder) throws {
            try YAMLInput.refuseUnknown(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            population = try c.decodeIfPresent(Population.self, forKey: .population)
            scenarios = try c.decodeIfPresent([Entry].self, forKey: .scenarios) ?? []
        }
    }
}
