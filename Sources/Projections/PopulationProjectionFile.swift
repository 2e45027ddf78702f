import Foundation
import PHMCore

/// An official population projection in the ONS subnational layout (2018-based: `AREA_CODE`,
/// `AREA_NAME`, `COMPONENT`, `SEX`, `AGE_GROUP`, then one column per year), summed over the
/// areas asked for (every area in the file when none are named) into the projection's age bands
/// by sex.
///
/// Rows whose `COMPONENT` is not `Population` (births, deaths, migration in the components
/// files) and `All ages` totals are not people by age, and are counted as passed over. `SEX` is
/// `female` or `male` (`females`, `males`, `f`, `m`, `2`, `1` are read too), or `persons` in a
/// file without sexes; `AGE_GROUP` a single year `0` to `89`, or `90 and over` (`90+`). The
/// Welsh Government's local authority projections have the same content and read once laid out
/// this way.
public struct PopulationProjectionFile: Sendable {
    public var file: String
    /// `totals[year][age * 3 + sex]`, sex 0 female, 1 male, 2 persons (both).
    public var totals: [Int: [Double]]
    public var areas: [String]
    /// Rows read, and rows passed over (other components, `All ages`, areas not asked for).
    public var rows: Int
    public var passedOver: Int

    public static let maximumBytes = 256 << 20

    public static func read(_ url: URL, areas wanted: Set<String>? = nil) throws(ScenarioError) -> PopulationProjectionFile {
        let name = url.lastPathComponent
        func fail(_ line: Int, _ field: String?, _ message: String) -> ScenarioError {
            ScenarioError(file: name, message: "line \(line)\(field.map { ", \($0)" } ?? ""): \(message)")
        }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int,
            let data = try? Data(contentsOf: url)
        else { throw ScenarioError(file: name, message: "cannot be read") }
        guard size <= maximumBytes else {
            throw ScenarioError(file: name, message: "is larger than \(maximumBytes >> 20) MB")
        }
        var records = CSVRows.parse(data)
        guard !records.isEmpty else { throw fail(1, nil, "the file is empty") }
        let header = records.removeFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        let named = ["AREA_CODE", "AREA_NAME", "COMPONENT", "SEX", "AGE_GROUP"]
        var column: [String: Int] = [:]
        var years: [(column: Int, year: Int)] = []
        for (i, h) in header.enumerated() {
            if named.contains(h.uppercased()) {
                guard column.updateValue(i, forKey: h.uppercased()) == nil else { throw fail(1, h, "the column is named twice") }
            } else if h.count == 4, let year = Int(h), (1900...2200).contains(year) {
                guard !years.contains(where: { $0.year == year }) else { throw fail(1, h, "the year is named twice") }
                years.append((i, year))
            } else {
                throw fail(1, h, "the column is neither one of \(named.joined(separator: ", ")) nor a year")
            }
        }
        if let missing = named.first(where: { column[$0] == nil }) { throw fail(1, missing, "the column is missing") }
        guard !years.isEmpty else { throw fail(1, nil, "no column is a year") }
        let ages = ProjectionSpace.ages
        var totals = [Int: [Double]](uniqueKeysWithValues: years.map { ($0.year, [Double](repeating: 0, count: ages * 3)) })
        var seen = Set<String>(), areas = Set<String>()
        var hasSexes = false, hasPersons = false
        var read = 0, passed = 0
        for (k, record) in records.enumerated() {
            let line = k + 2
            guard record.count == header.count else {
                throw fail(line, nil, "it has \(record.count) fields, not \(header.count)")
            }
            func field(_ name: String) -> String { record[column[name]!].trimmingCharacters(in: .whitespaces) }
            let area = field("AREA_CODE"), ageText = field("AGE_GROUP").lowercased()
            guard field("COMPONENT").lowercased() == "population", ageText != "all ages",
                wanted.map({ $0.contains(area) }) ?? true
            else {
                passed += 1
                continue
            }
            let sex: Int
            switch field("SEX").lowercased() {
            case "female", "females", "f", "2": sex = 0
            case "male", "males", "m", "1": sex = 1
            case "persons", "person", "all", "all persons": sex = 2
            default: throw fail(line, "SEX", "'\(field("SEX").prefix(40))' is not female, male or persons")
            }
            let age: Int
            if ageText == "90 and over" || ageText == "90+" {
                age = 90
            } else if let a = Int(ageText), (0...89).contains(a) {
                age = a
            } else {
                throw fail(line, "AGE_GROUP", "'\(ageText.prefix(40))' is not a single year 0 to 89 or '90 and over'")
            }
            guard seen.insert("\(area)\u{1F}\(sex)\u{1F}\(age)").inserted else {
                throw fail(line, nil, "the area, sex and age group were given before")
            }
            if sex == 2 { hasPersons = true } else { hasSexes = true }
            areas.insert(area)
            read += 1
            let band = ProjectionSpace.ageBand(age)
            for (c, year) in years {
                guard let value = Double(record[c].trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0,
                    value < 1e10
                else { throw fail(line, String(year), "'\(record[c].prefix(40))' is not a number of people") }
                totals[year]![band * 3 + sex] += value
            }
        }
        guard read > 0 else {
            throw ScenarioError(
                file: name,
                message: wanted == nil
                    ? "no rows of the Population component by single year of age" : "no rows for the areas asked for")
        }
        guard !(hasSexes && hasPersons) else {
            throw ScenarioError(file: name, message: "has rows by sex and rows for persons: give one or the other")
        }
        // Persons from the sexes, or the sexes following persons.
        for year in totals.keys {
            for band in 0..<ages {
                if hasSexes {
                    totals[year]![band * 3 + 2] = totals[year]![band * 3] + totals[year]![band * 3 + 1]
                } else {
                    totals[year]![band * 3] = totals[year]![band * 3 + 2]
                    totals[year]![band * 3 + 1] = totals[year]![band * 3 + 2]
                }
            }
        }
        return PopulationProjectionFile(file: name, totals: totals, areas: areas.sorted(), rows: read, passedOver: passed)
    }

    /// Growth by year, age band and sex against `base`, for `years` years from it. Sex unknown
    /// follows persons; a band the file has nobody in at `base` keeps its size.
    public func constraint(from base: Int, years: Int) throws(ScenarioError) -> PopulationConstraint {
        let covered = totals.keys.sorted()
        guard let start = totals[base], (0...years).allSatisfy({ totals[base + $0] != nil })
        else {
            throw ScenarioError(
                file: file,
                message:
                    "covers the years \(covered.first ?? 0) to \(covered.last ?? 0) (\(totals.count) of them); the projection needs every year from \(base) to \(base + years)"
            )
        }
        let ages = ProjectionSpace.ages, sexes = ProjectionSpace.sexes
        var growth = [Double](repeating: 1, count: (years + 1) * ages * sexes)
        for y in 0...years {
            let year = totals[base + y]!
            for a in 0..<ages {
                for s in 0..<sexes where start[a * 3 + s] > 0 {
                    growth[(y * ages + a) * sexes + s] = year[a * 3 + s] / start[a * 3 + s]
                }
            }
        }
        return PopulationConstraint(file: file, growth: growth, years: years)
    }
}
