import Analysis
import Conditions
import Foundation
import PHMCore
import Risk

/// Writes the planning tables for every unit at every level, as CSV and JSON.
enum TableWriter {
    static let seedHeader =
        "ltc_count,patients,pct_patients,ae_attendances,outpatient_attendances,elective_admissions,emergency_admissions,total_apc_cost_gbp,emergency_admission_cost_gbp,unique_prescription_types,risk_persistent_high_cost,risk_emergency_admission_12m"

    struct UnitTables: Encodable {
        var level: String
        var code: String
        var name: String
        var multimorbidity: [[String: String]]
        var costConcentration: [String: [String: Double]]
        var segments: [[String: String]]
        var prevalence: [[String: String]]
    }

    static func write(
        population: Population, use: Utilisation, conditions: ConditionResults, library: ConditionLibrary,
        risk: Stratification, to folder: URL, workers: Int
    ) throws {
        let units = population.units()
        let ltc = conditions.ltcCount
        let risks = (
            persistentHighCost: risk.scores[.persistentHighCost]?.risk, emergencyAdmission: risk.scores[.emergencyAdmission]?.risk
        )
        let tables = Parallel.map(units.count) {
            u -> (MultimorbidityTable, CostConcentration, CostConcentration, SegmentTable, PrevalenceTable) in
            let people = units[u].people
            return (
                MultimorbidityTable(people: people, ltc: ltc, use: use, risk: risks),
                CostConcentration(costs: people.map { use.secondaryCost($0) }),
                CostConcentration(costs: people.map { use.totalCost($0) }),
                SegmentTable(people: people, population: population, ltc: ltc, use: use),
                PrevalenceTable(people: people, population: population, conditions: conditions, library: library)
            )
        }

        func prefix(_ rows: inout CSVRows, _ unit: PlanningUnit) {
            rows.field(unit.level.rawValue)
            rows.field(unit.code)
            rows.field(unit.name)
        }
        func multimorbidityRow(_ rows: inout CSVRows, _ r: MultimorbidityTable.Row) {
            rows.field(r.band)
            rows.field(r.patients)
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
        for r in tables[0].0.rows { multimorbidityRow(&seed, r) }
        try Data(seed.bytes).write(to: folder.appendingPathComponent("multimorbidity.csv"))

        var byUnit = CSVRows()
        byUnit.raw("level,unit_code,unit_name," + seedHeader)
        var concentration = CSVRows()
        concentration.raw(
            "level,unit_code,unit_name,scope,people,total_cost_gbp,top_0_5_pct_share,top_1_pct_share,top_5_pct_share,top_10_pct_share,top_20_pct_share,zero_cost_share,gini,"
                + (1...9).map { "lorenz_\($0 * 10)" }.joined(separator: ","))
        var segments = CSVRows()
        segments.raw(
            "level,unit_code,unit_name,segment,people,pct_population,emergency_admissions_per_1000,mean_emergency_cost_gbp,mean_total_cost_gbp"
        )
        var prevalence = CSVRows()
        prevalence.raw("level,unit_code,unit_name,condition,breakdown,group,people,count,crude_prevalence_pct")
        var json: [UnitTables] = []

        for (u, unit) in units.enumerated() {
            let (mm, secondary, all, seg, prev) = tables[u]
            for r in mm.rows {
                prefix(&byUnit, unit)
                multimorbidityRow(&byUnit, r)
            }
            for (scope, c) in [("secondary_care", secondary), ("all_settings", all)] {
                prefix(&concentration, unit)
                concentration.field(scope)
                concentration.field(c.people)
                concentration.field(c.total, decimals: 2)
                for v in c.topShares { concentration.field(v, decimals: 4) }
                concentration.field(c.zeroShare, decimals: 4)
                concentration.field(c.gini, decimals: 4)
                for v in c.lorenz { concentration.field(v, decimals: 4) }
                concentration.end()
            }
            for cell in seg.cells {
                prefix(&segments, unit)
                segments.field(cell.segment)
                segments.field(cell.people)
                segments.field(100 * cell.share, decimals: 2)
                segments.field(cell.emergencyAdmissionsPer1000, decimals: 1)
                segments.field(cell.meanEmergencyCost, decimals: 2)
                segments.field(cell.meanTotalCost, decimals: 2)
                segments.end()
            }
            for r in prev.rows {
                prefix(&prevalence, unit)
                prevalence.field(r.condition)
                prevalence.field(r.breakdown)
                prevalence.field(r.group)
                prevalence.field(r.people)
                prevalence.field(r.count)
                prevalence.field(100 * r.prevalence, decimals: 3)
                prevalence.end()
            }
            func concentrationJSON(_ c: CostConcentration) -> [String: Double] {
                var d: [String: Double] = [
                    "people": Double(c.people), "total_cost_gbp": c.total, "zero_cost_share": c.zeroShare, "gini": c.gini,
                ]
                for (f, v) in zip(CostConcentration.topFractions, c.topShares) { d["top_\(f * 100)_pct_share"] = v }
                for (i, v) in c.lorenz.enumerated() { d["lorenz_\((i + 1) * 10)"] = v }
                return d
            }
            json.append(
                UnitTables(
                    level: unit.level.rawValue, code: unit.code, name: unit.name,
                    multimorbidity: mm.rows.map {
                        [
                            "ltc_count": $0.band, "patients": String($0.patients), "pct_patients": String($0.share),
                            "ae_attendances": String($0.ae),
                            "outpatient_attendances": String($0.outpatient), "elective_admissions": String($0.elective),
                            "emergency_admissions": String($0.emergency), "total_apc_cost_gbp": String($0.apcCost),
                            "emergency_admission_cost_gbp": String($0.emergencyCost),
                            "unique_prescription_types": String($0.prescriptionTypes),
                            "risk_persistent_high_cost": $0.riskPersistentHighCost.map { String($0) } ?? "",
                            "risk_emergency_admission_12m": $0.riskEmergencyAdmission.map { String($0) } ?? "",
                        ]
                    },
                    costConcentration: ["secondary_care": concentrationJSON(secondary), "all_settings": concentrationJSON(all)],
                    segments: seg.cells.map {
                        [
                            "segment": $0.segment, "people": String($0.people), "pct_population": String(100 * $0.share),
                            "emergency_admissions_per_1000": String($0.emergencyAdmissionsPer1000),
                            "mean_emergency_cost_gbp": String($0.meanEmergencyCost),
                            "mean_total_cost_gbp": String($0.meanTotalCost),
                        ]
                    },
                    prevalence: prev.rows.map {
                        [
                            "condition": $0.condition, "breakdown": $0.breakdown, "group": $0.group, "people": String($0.people),
                            "count": String($0.count), "crude_prevalence_pct": String(100 * $0.prevalence),
                        ]
                    }))
        }
        try Data(byUnit.bytes).write(to: folder.appendingPathComponent("multimorbidity-by-unit.csv"))
        try Data(concentration.bytes).write(to: folder.appendingPathComponent("cost-concentration.csv"))
        try Data(segments.bytes).write(to: folder.appendingPathComponent("segments.csv"))
        try Data(prevalence.bytes).write(to: folder.appendingPathComponent("prevalence.csv"))
        try OutputWriter.writeJSON(json, to: folder.appendingPathComponent("tables.json"))
    }
}
