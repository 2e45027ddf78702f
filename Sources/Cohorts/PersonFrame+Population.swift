import Conditions
import PHMCore

extension PersonFrame {
    /// The frame of `rows` (people of the population, in order) with everything known before
    /// risk: who they are, where, their conditions, code-list history, scores, and use and cost
    /// of care in the 12 months before as-of. Risk columns and segments are added by the run.
    public init(
        runId: Int64, population: Population, rows: [Int], library: ConditionLibrary, conditions results: ConditionResults,
        use: Utilisation
    ) {
        self.init(runId: runId, asOf: population.asOf, hierarchy: population.hierarchy, areaCodes: population.areas.codes)
        pseudonym = rows.map { population.pseudonym[$0] }
        age = rows.map { population.age[$0] }
        sex = rows.map { population.sex[$0] }
        ethnicGroup = rows.map { population.ethnicGroup[$0] }
        practice = rows.map { population.practice[$0] }
        area = rows.map { population.area[$0] }
        areaIndicatorNames = population.areas.indicatorNames
        areaIndicators = population.areas.indicators
        imdDecile = rows.map { population.area[$0] >= 0 ? population.areas.imdDecile[Int(population.area[$0])] : 0 }
        optedOut = rows.map { population.optedOut[$0] }
        ltcCount = rows.map { results.ltcCount[$0] }

        conditionIds = library.conditions.map(\.id)
        conditionNames = library.conditions.map(\.name)
        conditions = [PersonFrame.Postings](repeating: .init(), count: library.conditions.count)
        listIds = library.lists.map(\.name)
        lists = [PersonFrame.ListPostings](repeating: .init(), count: library.lists.count)
        let history = results.lists
        for (row, p) in rows.enumerated() {
            for i in results.flaggedRows(of: p) {
                let c = Int(results.firstCondition[i])
                conditions[c].rows.append(Int32(row))
                conditions[c].day.append(results.firstDay[i])
            }
            for i in history.rows(of: p) {
                let l = Int(history.list[i])
                lists[l].rows.append(Int32(row))
                lists[l].lastRecorded.append(history.lastRecorded[i])
                lists[l].latestValue.append(history.latestValue[i])
                lists[l].latestValueDay.append(history.latestValueDay[i])
            }
        }
        scoreIds = library.scores.map(\.id)
        scores = results.scores.map { column in rows.map { column[$0] } }

        self.use[.aeAttendances] = rows.map { Float(use.aeAttendances[$0]) }
        self.use[.outpatientAttendances] = rows.map { Float(use.outpatientAttendances[$0]) }
        self.use[.electiveAdmissions] = rows.map { Float(use.electiveAdmissions[$0]) }
        self.use[.emergencyAdmissions] = rows.map { Float(use.emergencyAdmissions[$0]) }
        self.use[.prescriptionTypes] = rows.map { Float(use.prescriptionTypes[$0]) }
        self.use[.cost] = rows.map { Float(use.totalCost($0)) }
        self.use[.emergencyCost] = rows.map { Float(use.emergencyCost[$0]) }
        // Only the settings the data has contacts in: a criterion on another one says so.
        for (k, measure) in UseMeasure.careContacts.enumerated()
        where rows.contains(where: { use.careContacts[k][$0] > 0 && !population.optedOut[$0] }) {
            let contacts = use.careContacts[k]
            self.use[measure] = rows.map { Float(contacts[$0]) }
        }
    }
}
