import Analysis
import Cohorts
import Foundation
import Outputs
import PHMCore
import Storage

/// A unit of the hierarchy as the published tables name it.
public struct PublishedUnit: Sendable, Equatable {
    public var level: Level
    public var code: String
    public var name: String
    public var parent: String?

    public init(level: Level, code: String, name: String, parent: String?) {
        self.level = level
        self.code = code
        self.name = name
        self.parent = parent
    }
}

/// A unit's registered population under planning (no opt-outs), suppressed: the people, a
/// five-year pyramid per sex and headline figures.
public struct UnitPopulation: Sendable {
    public var people: Int?
    /// Counts by `CohortProfile.pyramidBands`, female then male; nil where suppressed.
    public var female: [Int?]
    public var male: [Int?]
    public var meanAge: Double?
    public var aged65Plus: Double?
    public var multimorbid: Double?
    public var emergencyAdmissionsPer1000: Double?
    public var totalCost: Double?
    public var costPerHead: Double?
    public var highRisk: Double?
}

/// The planning outputs of the newest run, as it published them: the suppressed tables it wrote
/// for every unit at every level, its data-quality reports and model cards, and each unit's
/// population from the run's planning frame. Pages and the API show nothing else, so what a
/// browser shows is what the run published.
public final class Publication: Sendable {
    public let runId: Int64
    public let asOf: Day
    public let folder: URL
    public let multimorbidity: [UnitRow<MultimorbidityRow>]
    public let costConcentration: [UnitRow<CostConcentrationRow>]
    public let riskTiers: [UnitRow<RiskTierRow>]
    public let risingRisk: [UnitRow<RisingRiskRow>]
    public let segmentProfiles: [UnitRow<SegmentProfileRow>]
    public let inequalities: [UnitRow<InequalityRow>]
    public let variation: [UnitRow<VariationRow>]
    public let spc: [UnitRow<SPCRow>]
    public let units: [PublishedUnit]
    public let population: [String: UnitPopulation]
    public let run: RunSummary
    public let reconciliation: [FileReconciliation]
    public let linkage: [String: LinkageCounts]
    /// Linkage by the records' age band, deprivation quintile and ethnic group.
    public let linkageGroups: [LinkageReport.GroupCounts]
    /// The models that scored the run, one per outcome; none for a run that wrote no summaries.
    public let models: [ModelSummary]
    /// The projection's margins (everyone, and each age band, LTC band and quintile) for every
    /// unit, scenario and year, and how it was made; none for a run that projected nothing.
    public let projections: [UnitRow<ProjectionRow>]
    public let projection: ProjectionSummary?
    /// The data quality figures over the runs and the gates; none for a run that kept no history.
    public let quality: QualityHistory?
    /// People by risk tier in the previous run and this one; empty for a data directory's first run.
    public let tierTransitions: [UnitRow<TierTransitionRow>]

    /// Reads the outputs a run wrote to `folder`; `frame` is the same run's planning frame.
    public init(folder: URL, frame: PersonFrame) throws {
        self.folder = folder
        runId = frame.runId
        asOf = frame.asOf
        do { run = try Published.run.read(from: folder) } catch {
            throw AccessError.invalid("run \(frame.runId)'s output \(error) (in \(folder.path))")
        }
        // Exact counts are for direct analysis of the output folder; no page or API serves them.
        // Checked first: the tables are not read only to be refused.
        guard run.suppressed == true else { throw AccessError.unsuppressedRun(frame.runId, recorded: run.suppressed != nil) }
        do {
            multimorbidity = try Published.multimorbidityByUnit.read(from: folder)
            costConcentration = try Published.costConcentration.read(from: folder)
            riskTiers = try Published.riskTiers.read(from: folder)
            risingRisk = try Published.risingRisk.read(from: folder)
            segmentProfiles = try Published.segmentProfiles.read(from: folder)
            inequalities = try Published.inequalities.read(from: folder)
            variation = try Published.variation.read(from: folder)
            spc = try Published.spc.read(from: folder)
            reconciliation = try Published.reconciliation.read(from: folder).files
            let linkageReport = try Published.linkage.read(from: folder)
            linkage = linkageReport.bySource
            linkageGroups = linkageReport.byGroup ?? []
            let summaries = folder.appendingPathComponent(Published.models.file)
            models = FileManager.default.fileExists(atPath: summaries.path) ? try Published.models.read(from: folder) : []
            let projected = FileManager.default.fileExists(
                atPath: folder.appendingPathComponent(Published.projection.file).path)
            projection = projected ? try Published.projection.read(from: folder) : nil
            // The cells are for analysts' tools; pages draw the margins.
            func exists(_ file: String) -> Bool {
                FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path)
            }
            quality = exists(Published.quality.file) ? try Published.quality.read(from: folder) : nil
            tierTransitions = exists(Published.tierTransitions.file) ? try Published.tierTransitions.read(from: folder) : []
            projections =
                projected
                ? try Published.projections.read(from: folder).filter {
                    $0.row.ageBand == "all" || $0.row.ltcBand == "all" || $0.row.imdQuintile == "all"
                } : []
        } catch {
            throw AccessError.invalid("run \(frame.runId)'s output \(error) (in \(folder.path))")
        }
        units = Self.units(frame.hierarchy)
        population = Self.population(frame, units: units)
    }

    public func unit(_ code: String) -> PublishedUnit? { units.first { $0.code == code } }

    public func children(of code: String) -> [PublishedUnit] { units.filter { $0.parent == code } }

    /// The unit and those above it, organisation first.
    public func path(to code: String) -> [PublishedUnit] {
        var path: [PublishedUnit] = []
        var next = unit(code)
        while let unit = next {
            path.insert(unit, at: 0)
            next = unit.parent.flatMap(self.unit)
        }
        return path
    }

    /// Every unit, organisation first, with the parent rule of the planning tables: a PCN sits in
    /// the locality of its first practice.
    static func units(_ h: Hierarchy) -> [PublishedUnit] {
        func parentOf(_ list: [Hierarchy.Unit], _ of: (Int) -> Int, _ parent: (Int) -> String?) -> [String?] {
            list.indices.map { u in h.practices.indices.first { of($0) == u }.flatMap(parent) }
        }
        let organisation = { (q: Int) in h.organisations[Int(h.practiceOrganisation[q])].code }
        let locality = { (q: Int) in h.localities[Int(h.practiceLocality[q])].code }
        let pcn = { (q: Int) in h.pcns[Int(h.practicePCN[q])].code }
        var units = h.organisations.map { PublishedUnit(level: .organisation, code: $0.code, name: $0.name, parent: nil) }
        for (level, list, of, parent) in [
            (Level.locality, h.localities, { Int(h.practiceLocality[$0]) }, organisation),
            (.pcn, h.pcns, { Int(h.practicePCN[$0]) }, locality), (.practice, h.practices, { $0 }, pcn),
        ] as [(Level, [Hierarchy.Unit], (Int) -> Int, (Int) -> String)] {
            let parents = parentOf(list, of, parent)
            units += list.indices.map {
                PublishedUnit(level: level, code: list[$0].code, name: list[$0].name, parent: parents[$0])
            }
        }
        return units
    }

    /// Funnel limits of a count's ratio at each expected count (Poisson, with the overdispersion
    /// `tau2` the run estimated), for drawing smooth limits under a unit's peers.
    public static func countLimits(expected: [Double], tau2: Double) -> [FunnelLimits] {
        var plot = FunnelPlot(kind: .poisson, points: expected.map { .init(observed: $0, expected: $0) }, overdispersion: false)
        plot.tau2 = tau2
        return expected.indices.map { i in
            let l = plot.limits(i)
            return FunnelLimits(
                expected: expected[i], lower95: l.lower95, upper95: l.upper95, lower998: l.lower998, upper998: l.upper998)
        }
    }

    public struct FunnelLimits: Sendable {
        public var expected: Double
        public var lower95: Double, upper95: Double, lower998: Double, upper998: Double
    }

    /// `x` held within a measure's cap.
    static func held(_ x: Double, _ cap: ClosedRange<Double>?) -> Double {
        cap.map { min(max(x, $0.lowerBound), $0.upperBound) } ?? x
    }

    /// Each unit's planning population in one pass over the frame, suppressed as the run's
    /// tables are: counts of 1 to 7 hidden, others rounded to 5, the pyramid's bands related to
    /// each sex's total and every unit's total to its parent's. Shares and rates are of published
    /// counts over published people, and means go through `Suppression.mean` with the unit's cell
    /// key, so no figure is more exact than the counts: a total divided by a mean, or a share times
    /// the people, gives back nothing the table does not show.
    static func population(_ frame: PersonFrame, units: [PublishedUnit]) -> [String: UnitPopulation] {
        let h = frame.hierarchy
        let index = Dictionary(uniqueKeysWithValues: units.enumerated().map { ($1.code, $0) })
        let bands = CohortProfile.pyramidBands.count
        struct Sums {
            var people = 0, aged65 = 0, multimorbid = 0, scored = 0, high = 0, admissions = 0
            var female: [Int], male: [Int]
            var age = 0.0, cost = 0.0
            var key: UInt8 = 0
        }
        var sums = units.map { _ in Sums(female: Array(repeating: 0, count: bands), male: Array(repeating: 0, count: bands)) }
        let admissions = frame.use[.emergencyAdmissions], cost = frame.use[.cost]
        let risk = frame.risks.first { $0.outcome == Outcome.emergencyAdmission.rawValue }
        // Each practice's units, organisation to practice, looked up once rather than per person.
        let paths = h.practices.indices.map { q in
            [
                h.organisations[Int(h.practiceOrganisation[q])].code, h.localities[Int(h.practiceLocality[q])].code,
                h.pcns[Int(h.practicePCN[q])].code, h.practices[q].code,
            ].compactMap { index[$0] }
        }
        let caps = frame.measureCaps
        let keys = frame.recordKeys.count == frame.count ? frame.recordKeys : [UInt8](repeating: 0, count: frame.count)
        for row in 0..<frame.count where !frame.optedOut[row] {
            let age = Int(frame.age[row]), band = min(age / 5, bands - 1)
            for u in paths[Int(frame.practice[row])] {
                sums[u].people += 1
                sums[u].key &+= keys[row]
                sums[u].age += Self.held(Double(age), caps["age"])
                if age >= 65 { sums[u].aged65 += 1 }
                if frame.ltcCount[row] >= 2 { sums[u].multimorbid += 1 }
                sums[u].admissions += Int(admissions?[row] ?? 0)
                sums[u].cost += Self.held(Double(cost?[row] ?? 0), caps[UseMeasure.cost.rawValue + "_12m"])
                switch frame.sex[row] {
                case .female: sums[u].female[band] += 1
                case .male: sums[u].male[band] += 1
                default: break
                }
                if let risk, risk.tier[row] >= 0 {
                    sums[u].scored += 1
                    if risk.tier[row] >= 2 { sums[u].high += 1 }
                }
            }
        }
        var table = Suppression(enabled: true)
        let people = sums.map { table.add($0.people) }
        let aged65 = sums.map { table.add($0.aged65) }, multimorbid = sums.map { table.add($0.multimorbid) }
        let events = sums.map { table.add($0.admissions) }
        let scored = sums.map { table.add($0.scored) }, high = sums.map { table.add($0.high) }
        let female = sums.map { $0.female.map { table.add($0) } }, male = sums.map { $0.male.map { table.add($0) } }
        let femaleTotal = sums.map { table.add($0.female.reduce(0, +)) }, maleTotal = sums.map { table.add($0.male.reduce(0, +)) }
        for u in units.indices {
            table.relate(total: femaleTotal[u], parts: female[u])
            table.relate(total: maleTotal[u], parts: male[u])
        }
        for (u, unit) in units.enumerated() where unit.level != .practice {
            // A PCN spanning localities sits in one, so its locality's total is no sum of parts.
            let children = units.indices.filter { units[$0].parent == unit.code }
            if children.reduce(0, { $0 + sums[$1].people }) == sums[u].people {
                for cells in [people, aged65, multimorbid, events, scored, high] {
                    table.relate(total: cells[u], parts: children.map { cells[$0] })
                }
            }
        }
        table.protect()
        var result: [String: UnitPopulation] = [:]
        for (u, unit) in units.enumerated() {
            let s = sums[u], shown = table.published(people[u])
            func share(_ cell: Int, of whole: Int?, per scale: Double = 100) -> Double? {
                guard let whole, whole > 0, let part = table.published(cell) else { return nil }
                return scale * Double(part) / Double(whole)
            }
            func mean(_ sum: Double, _ measure: String, _ index: Int) -> Double? {
                guard let shown, s.people > 0, let cap = caps[measure] else { return nil }
                return Suppression.mean(
                    sum / Double(s.people), people: shown, spread: cap.upperBound - cap.lowerBound,
                    key: Suppression.key(s.key, index))
            }
            let costPerHead = mean(s.cost, UseMeasure.cost.rawValue + "_12m", 1)
            result[unit.code] = UnitPopulation(
                people: shown, female: female[u].map { table.published($0) }, male: male[u].map { table.published($0) },
                meanAge: mean(s.age, "age", 0), aged65Plus: share(aged65[u], of: shown),
                multimorbid: share(multimorbid[u], of: shown),
                emergencyAdmissionsPer1000: share(events[u], of: shown, per: 1000),
                totalCost: costPerHead.flatMap { c in shown.map { c * Double($0) } }, costPerHead: costPerHead,
                highRisk: share(high[u], of: table.published(scored[u])))
        }
        return result
    }
}
