import Analysis
import Conditions
import Foundation
import Outputs
import PHMCore
import Risk

/// Writes the seed's multimorbidity table and cost concentration for every unit at every level,
/// as CSV and JSON.
enum TableWriter {
    static func write(
        population: Population, units: [PlanningUnit], use: Utilisation, conditions: ConditionResults, risk: Stratification,
        suppress: Bool, to folder: URL
    ) throws {
        let ltc = conditions.ltcCount
        let risks = (
            persistentHighCost: risk.scores[.persistentHighCost]?.risk, emergencyAdmission: risk.scores[.emergencyAdmission]?.risk
        )
        let tables = Parallel.map(units.count) { u -> (MultimorbidityTable, CostConcentration, CostConcentration) in
            let people = units[u].people
            return (
                MultimorbidityTable(people: people, ltc: ltc, use: use, risk: risks),
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

        func multimorbidityRow(_ r: MultimorbidityTable.Row, cell: Int) -> MultimorbidityRow {
            var row = MultimorbidityRow(ltcCount: r.band)
            guard let patients = table.published(cell) else { return row }
            row.patients = patients
            row.pctPatients = Fixed(r.share, places: 4)
            row.aeAttendances = Fixed(r.ae, places: 3)
            row.outpatientAttendances = Fixed(r.outpatient, places: 3)
            row.electiveAdmissions = Fixed(r.elective, places: 3)
            row.emergencyAdmissions = Fixed(r.emergency, places: 3)
            row.totalApcCostGbp = Fixed(r.apcCost, places: 2)
            row.emergencyAdmissionCostGbp = Fixed(r.emergencyCost, places: 2)
            row.uniquePrescriptionTypes = Fixed(r.prescriptionTypes, places: 2)
            row.riskPersistentHighCost = Fixed(r.riskPersistentHighCost, places: 4)
            row.riskEmergencyAdmission12m = Fixed(r.riskEmergencyAdmission, places: 4)
            return row
        }
        func concentrationRow(_ scope: String, _ c: CostConcentration, people: Int?) -> CostConcentrationRow {
            var row = CostConcentrationRow(scope: scope)
            row.people = people
            row.totalCostGbp = Fixed(c.total, places: 2)
            row.topShares = c.topShares.map { Fixed($0, places: 4) }
            row.zeroCostShare = Fixed(c.zeroShare, places: 4)
            row.gini = Fixed(c.gini, places: 4)
            row.lorenz = c.lorenz.map { Fixed($0, places: 4) }
            return row
        }

        // multimorbidity.csv: the seed's layout exactly, for the whole organisation.
        try Published.multimorbidity.write(
            tables[0].0.rows.enumerated().map { k, r in multimorbidityRow(r, cell: cells[0][k]) }, to: folder)
        var byUnit: [UnitRow<MultimorbidityRow>] = [], concentration: [UnitRow<CostConcentrationRow>] = []
        var json: [UnitTables] = []
        for (u, unit) in units.enumerated() {
            let (mm, secondary, all) = tables[u]
            let columns = unit.columns(units)
            byUnit += mm.rows.enumerated().map { k, r in UnitRow(columns, multimorbidityRow(r, cell: cells[u][k])) }
            // Cost shares describe the whole unit; its size is published as its total row is.
            let people = table.published(cells[u][9])
            let scopes = [
                concentrationRow("secondary_care", secondary, people: people),
                concentrationRow("all_settings", all, people: people),
            ]
            concentration += scopes.map { UnitRow(columns, $0) }
            // The JSON mirror: full precision, keyed by the CSV columns.
            func concentrationJSON(_ c: CostConcentration) -> [String: Double] {
                let names = Array(CostConcentrationRow.columns.dropFirst(2))
                let values = [c.total] + c.topShares + [c.zeroShare, c.gini] + c.lorenz
                var d = Dictionary(uniqueKeysWithValues: zip(names, values))
                if let people { d[CostConcentrationRow.CodingKeys.people.rawValue] = Double(people) }
                return d
            }
            json.append(
                UnitTables(
                    level: unit.level.rawValue, code: unit.code, name: unit.name,
                    multimorbidity: mm.rows.enumerated().map { k, row in
                        guard let patients = table.published(cells[u][k]) else {
                            return [MultimorbidityRow.CodingKeys.ltcCount.rawValue: row.band]
                        }
                        let values = [
                            row.band, String(patients), String(row.share), String(row.ae), String(row.outpatient),
                            String(row.elective), String(row.emergency), String(row.apcCost), String(row.emergencyCost),
                            String(row.prescriptionTypes), row.riskPersistentHighCost.map { String($0) } ?? "",
                            row.riskEmergencyAdmission.map { String($0) } ?? "",
                        ]
                        return Dictionary(uniqueKeysWithValues: zip(MultimorbidityRow.columns, values))
                    },
                    costConcentration: ["secondary_care": concentrationJSON(secondary), "all_settings": concentrationJSON(all)]))
        }
        try Published.multimorbidityByUnit.write(byUnit, to: folder)
        try Published.costConcentration.write(concentration, to: folder)
        try Published.tables.write(json, to: folder)
    }
}

extension PlanningUnit {
    /// The unit's columns in the published tables.
    func columns(_ units: [PlanningUnit]) -> UnitColumns {
        UnitColumns(level: level.rawValue, unitCode: code, unitName: name, parentCode: parent.map { units[$0].code })
    }
}
