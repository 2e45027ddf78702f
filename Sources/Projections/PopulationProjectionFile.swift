import Conditions
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
    /// Whether the file gives the sexes (otherwise persons, which both sexes follow).
    public var bySex = true

    public static let maximumBytes = 64 << 20

    public static func read(_ url: URL, areas wanted: Set<String>? = nil) throws(DefinitionError) -> PopulationProjectionFile {
        let name = url.lastPathComponent
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int else {
            throw DefinitionError(file: name, message: "cannot be read")
        }
        guard size <= maximumBytes else {
            throw DefinitionError(file: name, message: "is larger than \(maximumBytes >> 20) MB")
        }
        guard let data = try? Data(contentsOf: url) else { throw DefinitionError(file: name, message: "cannot be read") }
        return try parse(data, name: name, areas: wanted)
    }

    /// The file's bytes read as `read` reads them; `name` is the file's name for messages.
    public static func parse(_ data: Data, name: String, areas wanted: Set<String>? = nil) throws(DefinitionError)
        -> PopulationProjectionFile
    {
        func fail(_ line: Int, _ field: String?, _ message: String) -> DefinitionError {
            DefinitionError(file: name, message: "line \(line)\(field.map { ", \($0)" } ?? ""): \(message)")
        }
        // A spreadsheet's byte order mark, and blank lines, are not records.
        let bytes = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]
        var records = CSVRows.parse(bytes).filter { $0 != [""] }
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
        var seen = Set<String>(), areas = Set<String>(), agesOf = [String: Set<Int>]()
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
            agesOf["\(area) \(["female", "male", "persons"][sex])", default: []].insert(age)
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
            throw DefinitionError(
                file: name,
                message: wanted == nil
                    ? "no rows of the Population component by single year of age" : "no rows for the areas asked for")
        }
        guard !(hasSexes && hasPersons) else {
            throw DefinitionError(file: name, message: "has rows by sex and rows for persons: give one or the other")
        }
        // Every area has every age, for both sexes (or persons): a total of part of the ages
        // would give the growth of part of the population.
        for area in areas.sorted() {
            for sex in hasSexes ? ["female", "male"] : ["persons"] {
                let missing = Set(0...90).subtracting(agesOf["\(area) \(sex)"] ?? [])
                guard missing.isEmpty else {
                    throw DefinitionError(
                        file: name,
                        message:
                            "area \(area.prefix(20)), \(sex): no row for age \(missing.sorted().prefix(3).map { $0 == 90 ? "90 and over" : String($0) }.joined(separator: ", "))\(missing.count > 3 ? " and \(missing.count - 3) more" : ""): every single year 0 to 89 and 90 and over is needed"
                    )
                }
            }
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
        return PopulationProjectionFile(
            file: name, totals: totals, areas: areas.sorted(), rows: read, passedOver: passed, bySex: hasSexes)
    }

    /// The widest growth of an age band and sex from the year of as-of, and from one year to the
    /// next, that a population projection can give: beyond them the file is not one (and would
    /// magnify the counts it is applied to).
    public static let growthLimits = (total: 0.25...4.0, yearly: 0.7...1.5)

    /// Growth by year, age band and sex against `base`, for `years` years from it. Sex unknown
    /// follows persons; a band the file has nobody in at `base` keeps its size.
    public func constraint(from base: Int, years: Int) throws(DefinitionError) -> PopulationConstraint {
        let covered = totals.keys.sorted()
        guard let start = totals[base], (0...years).allSatisfy({ totals[base + $0] != nil })
        else {
            throw DefinitionError(
                file: file,
                message:
                    "covers the years \(covered.first ?? 0) to \(covered.last ?? 0) (\(totals.count) of them); the projection needs every year from \(base) to \(base + years)"
            )
        }
        let ages = ProjectionSpace.ages, sexes = ProjectionSpace.sexes
        var growth = [Double](repeating: 1, count: (years + 1) * ages * sexes)
        let sexNames = ["female", "male", "persons"]
        for y in 0...years {
            let year = totals[base + y]!, before = totals[base + max(0, y - 1)]!
            for a in 0..<ages {
                for s in 0..<sexes where start[a * 3 + s] >= 1 {
                    let g = year[a * 3 + s] / start[a * 3 + s]
                    let step = before[a * 3 + s] > 0 ? year[a * 3 + s] / before[a * 3 + s] : .infinity
                    guard Self.growthLimits.total.contains(g), Self.growthLimits.yearly.contains(step) else {
                        throw DefinitionError(
                            file: file,
                            message:
                                "\(bySex ? sexNames[s] : "persons") aged \(ProjectionSpace.ageEdges[a])\(a + 1 < ages ? "-\(ProjectionSpace.ageEdges[a + 1] - 1)" : "+") change by a factor of \(String(format: "%.3g", g)) from \(base) to \(base + y) (\(String(format: "%.3g", step)) in the last year): a population projection changes an age band by 0.25 to 4 times, and by 0.7 to 1.5 times in a year"
                        )
                    }
                    growth[(y * ages + a) * sexes + s] = g
                }
            }
        }
        return PopulationConstraint(file: file, growth: growth, years: years)
    }
}
