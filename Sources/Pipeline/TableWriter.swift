import Analysis
import Conditions
import Foundation
import PHMCore
import Risk

/// Writes the seed's multimorbidity table and cost concentration for every unit at every level,
/// as CSV and JSON.
enum TableWriter {
    static let seedHeader =
        "ltc_count,patients,pct_patients,ae_attendances,outpatient_attendances,elective_admissions,emergency_admissions,total_apc_cost_gbp,emergency_admission_cost_gbp,unique_prescription_types,risk_persistent_high_cost,risk_emergency_admission_12m"

    struct UnitTables: Encodable {
        var level: String
        var code: String
        var name: String
        var multimorbidity: [[String: String]]
        var costConcentration: [String: [String: Double]]
    }

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

        func multimorbidityRow(_ rows: inout CSVRows, _ r: MultimorbidityTable.Row, cell: Int) {
            rows.field(r.band)
            guard let patients = table.published(cell) else {
                for _ in 0..<11 { rows.empty() }
                rows.end()
                return
            }
            rows.field(patients)
            rows.field(r.share, decimals: 4)
            for v in [r.ae, r.outpatient, r.elective, r.emergency] { rows.field(v, decimals: 3) }
            rows.field(r.apcCost, decimals: 2)
            rows.field(r.emergencyCost, decimals: 2)
            rows.field(r.prescriptionTypes, decimals: 2)
            for value in [r.riskPersistentHighCost, r.riskEmergencyAdmission] {
                if let value { rows.field(value, decimals: 4) } else { rows.empty() }
            }
            rows.end()
        }

        // multimorbidity.csv: the seed's layout exactly, for the whole organisation.
        var seed = CSVRows()
        seed.raw(seedHeader)
        for (k, r) in tables[0].0.rows.enumerated() { multimorbidityRow(&seed, r, cell: cells[0][k]) }
        try Data(seed.bytes).write(to: folder.appendingPathComponent("multimorbidity.csv"))

        var byUnit = CSVRows()
        byUnit.raw("level,unit_code,unit_name," + seedHeader)
        var concentration = CSVRows()
        concentration.raw(
            "level,unit_code,unit_name,scope,people,total_cost_gbp,top_0_5_pct_share,top_1_pct_share,top_5_pct_share,top_10_pct_share,top_20_pct_share,zero_cost_share,gini,"
                + (1...9).map { "lorenz_\($0 * 10)" }.joined(separator: ","))
        var json: [UnitTables] = []
        func prefix(_ rows: inout CSVRows, _ unit: PlanningUnit) {
            rows.field(unit.level.rawValue)
            rows.field(unit.code)
            rows.field(unit.name)
        }

        for (u, unit) in units.enumerated() {
            let (mm, secondary, all) = tables[u]
            for (k, r) in mm.rows.enumerated() {
                prefix(&byUnit, unit)
                multimorbidityRow(&byUnit, r, cell: cells[u][k])
            }
            // Cost shares describe the whole unit; its size is published as its total row is.
            let people = table.published(cells[u][9])
            for (scope, c) in [("secondary_care", secondary), ("all_settings", all)] {
                prefix(&concentration, unit)
                concentration.field(scope)
                if let people { concentration.field(people) } else { concentration.empty() }
                concentration.field(c.total, decimals: 2)
                for v in c.topShares { concentration.field(v, decimals: 4) }
                concentration.field(c.zeroShare, decimals: 4)
                concentration.field(c.gini, decimals: 4)
                for v in c.lorenz { concentration.field(v, decimals: 4) }
                concentration.end()
            }
            func concentrationJSON(_ c: CostConcentration) -> [String: Double] {
                var d: [String: Double] = ["total_cost_gbp": c.total, "zero_cost_share": c.zeroShare, "gini": c.gini]
                if let people { d["people"] = Double(people) }
                for (f, v) in zip(CostConcentration.topFractions, c.topShares) { d["top_\(f * 100)_pct_share"] = v }
                for (i, v) in c.lorenz.enumerated() { d["lorenz_\((i + 1) * 10)"] = v }
                return d
            }
            json.append(
                UnitTables(
                    level: unit.level.rawValue, code: unit.code, name: unit.name,
                    multimorbidity: mm.rows.enumerated().map { k, row in
                        guard let patients = table.published(cells[u][k]) else { return ["ltc_count": row.band] }
                        return [
                            "ltc_count": row.band, "patients": String(patients), "pct_patients": String(row.share),
                            "ae_attendances": String(row.ae),
                            "outpatient_attendances": String(row.outpatient), "elective_admissions": String(row.elective),
                            "emergency_admissions": String(row.emergency), "total_apc_cost_gbp": String(row.apcCost),
                            "emergency_admission_cost_gbp": String(row.emergencyCost),
                            "unique_prescription_types": String(row.prescriptionTypes),
                            "risk_persistent_high_cost": row.riskPersistentHighCost.map { String($0) } ?? "",
                            "risk_emergency_admission_12m": row.riskEmergencyAdmission.map { String($0) } ?? "",
                        ]
                    },
                    costConcentration: ["secondary_care": concentrationJSON(secondary), "all_settings": concentrationJSON(all)]))
        }
        try Data(byUnit.bytes).write(to: folder.appendingPathComponent("multimorbidity-by-unit.csv"))
        try Data(concentration.bytes).write(to: folder.appendingPathComponent("cost-concentration.csv"))
        try OutputWriter.writeJSON(json, to: folder.appendingPathComponent("tables.json"))
    }
}
