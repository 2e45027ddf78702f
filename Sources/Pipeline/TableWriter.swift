import Analysis
import Conditions
import Foundation
import Outputs
import PHMCore
import Risk

/// Writes the seed's multimorbidity table and cost concentration for every unit at every level.
enum TableWriter {
    static func write(
        population: Population, units: [PlanningUnit], use: Utilisation, conditions: ConditionResults, risk: Stratification,
        suppress: Bool, to folder: URL
    ) throws {
        let ltc = conditions.ltcCount
        let risks = (
            persistentHighCost: risk.scores[.persistentHighCost]?.risk, emergencyAdmission: risk.scores[.emergencyAdmission]?.risk
        )
        // Under suppression every figure beside the counts is no more exact than they are: shares
        // of published counts, means of values held within their measure's range and rounded by
        // its spread over the published people, cost totals and shares rounded by what one
        // person can move them (`Suppression`, `Spread`).
        let everyone = units.filter { $0.parent == nil }.flatMap(\.people)
        let costCaps = (
            apc: Spread.range(everyone) { use.apcCost[$0] }, emergency: Spread.range(everyone) { use.emergencyCost[$0] }
        )
        let costSpreads = (secondary: Spread.of(everyone, use.secondaryCost), all: Spread.of(everyone, use.totalCost))
        let tables = Parallel.map(units.count) { u -> (MultimorbidityTable, CostConcentration, CostConcentration) in
            let people = units[u].people
            return (
                MultimorbidityTable(people: people, ltc: ltc, use: use, risk: risks, costCaps: suppress ? costCaps : nil),
                CostConcentration(costs: people.map { use.secondaryCost($0) }),
                CostConcentration(costs: people.map { use.totalCost($0) })
            )
        }
        // Patients per band: the bands add up to the total row, and children to their parent.
        var table = Suppression(enabled: suppress)
        let cells = tables.map { t in t.0.rows.map { table.add($0.patients) } }
        for c in cells { table.relate(total: c[9], parts: Array(c[0..<9])) }
        for band in 0..<10 { table.relateToParents(units) { cells[$0][band] } }
        table.protect()
        // Units whose cost totals would give a hidden unit's by subtraction: the hidden, their
        // parents and siblings.
        var family = Set<Int>()
        for u in units.indices where table.published(cells[u][9]) == nil {
            family.insert(u)
            if let parent = units[u].parent {
                family.insert(parent)
                family.formUnion(units.indices.filter { units[$0].parent == parent })
            }
        }

        func multimorbidityRow(_ r: MultimorbidityTable.Row, cell: Int, total: Int) -> MultimorbidityRow {
            var row = MultimorbidityRow(ltcCount: r.band)
            guard let patients = table.published(cell) else { return row }
            row.patients = patients
            row.pctPatients = Fixed(table.enabled ? table.share(patients, of: table.published(total)) : r.share, places: 4)
            // Attendances, admissions and prescription types are counts, over the published people.
            func perPatient(_ mean: Double) -> Fixed? {
                guard table.enabled else { return Fixed(mean, places: 3) }
                return Fixed(
                    patients == 0 ? 0 : table.share(table.count(Int((mean * Double(r.patients)).rounded())), of: patients),
                    places: 3)
            }
            (row.aeAttendances, row.outpatientAttendances) = (perPatient(r.ae), perPatient(r.outpatient))
            (row.electiveAdmissions, row.emergencyAdmissions) = (perPatient(r.elective), perPatient(r.emergency))
            row.uniquePrescriptionTypes = Fixed(perPatient(r.prescriptionTypes)?.value, places: 2)
            func mean(_ value: Double, _ spread: Double) -> Fixed? {
                Fixed(patients == 0 ? 0 : table.mean(value, people: patients, spread: spread), places: 2)
            }
            row.totalApcCostGbp = mean(r.apcCost, costCaps.apc.width)
            row.emergencyAdmissionCostGbp = mean(r.emergencyCost, costCaps.emergency.width)
            // A risk's mean is over the people scored: all of them unless a model scores no one,
            // when the count of those scored is published as counts are.
            func risk(_ mean: Double?, scored: Int) -> Fixed? {
                let people = scored == r.patients ? patients : table.count(scored)
                return Fixed(mean.flatMap { table.mean($0, people: people, spread: Spread.risk) }, places: 4)
            }
            row.riskPersistentHighCost = risk(r.riskPersistentHighCost, scored: r.scored.persistentHighCost)
            row.riskEmergencyAdmission12m = risk(r.riskEmergencyAdmission, scored: r.scored.emergencyAdmission)
            return row
        }
        func concentrationRow(_ scope: String, _ c: CostConcentration, unit u: Int, people: Int?, spread: Double)
            -> CostConcentrationRow
        {
            var row = CostConcentrationRow(scope: scope)
            row.people = people
            guard table.enabled else {
                row.totalCostGbp = Fixed(c.total, places: 2)
                row.topShares = c.topShares.map { Fixed($0, places: 4) }
                row.zeroCostShare = Fixed(c.zeroShare, places: 4)
                row.gini = Fixed(c.gini, places: 4)
                row.lorenz = c.lorenz.map { Fixed($0, places: 4) }
                return row
            }
            guard let people, people > 0, !family.contains(u), let total = table.figure(c.total, step: spread) else { return row }
            row.totalCostGbp = Fixed(total, places: 2)
            // One person's cost, within the spread, moves a share of the total by at most spread
            // over the total, and the Gini coefficient by twice that. A top share of fewer than
            // 10 people (as few as the published count allows) is left out: it would be a sum of
            // a few people's costs.
            let step = spread / max(total, spread)
            row.topShares = zip(CostConcentration.topFractions, c.topShares).map { f, share in
                let few = (Double(people - Suppression.roundTo / 2) * f).rounded() < Double(Suppression.smallestPerturbed)
                return Fixed(few ? nil : table.figure(share, step: step), places: 4)
            }
            row.zeroCostShare = Fixed(table.share(table.count(c.zeroPeople), of: people), places: 4)
            row.gini = Fixed(table.figure(c.gini, step: 2 * step), places: 4)
            row.lorenz = c.lorenz.map { Fixed(table.figure($0, step: step), places: 4) }
            return row
        }

        // multimorbidity.csv: the seed's layout exactly, for the whole organisation.
        try Published.multimorbidity.write(
            tables[0].0.rows.enumerated().map { k, r in multimorbidityRow(r, cell: cells[0][k], total: cells[0][9]) }, to: folder)
        var byUnit: [UnitRow<MultimorbidityRow>] = [], concentration: [UnitRow<CostConcentrationRow>] = []
        for (u, unit) in units.enumerated() {
            let (mm, secondary, all) = tables[u]
            let columns = unit.columns(units)
            byUnit += mm.rows.enumerated().map { k, r in
                UnitRow(columns, multimorbidityRow(r, cell: cells[u][k], total: cells[u][9]))
            }
            // Cost shares describe the whole unit; its size is published as its total row is.
            let people = table.published(cells[u][9])
            concentration += [
                concentrationRow("secondary_care", secondary, unit: u, people: people, spread: costSpreads.secondary),
                concentrationRow("all_settings", all, unit: u, people: people, spread: costSpreads.all),
            ].map { UnitRow(columns, $0) }
        }
        try Published.multimorbidityByUnit.write(byUnit, to: folder)
        try Published.costConcentration.write(concentration, to: folder)
    }
}

extension PlanningUnit {
    /// The unit's columns in the published tables.
    func columns(_ units: [PlanningUnit]) -> UnitColumns {
        UnitColumns(level: level.rawValue, unitCode: code, unitName: name, parentCode: parent.map { units[$0].code })
    }
}
