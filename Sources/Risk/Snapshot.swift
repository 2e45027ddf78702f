import Conditions
import Outputs
import PHMCore

/// Everyone registered on an index date, with their features from history before it and, where
/// the data covers the following 12 months, their outcomes.
public struct Snapshot: Sendable {
    public var index: Day
    /// Population indices of the people in the snapshot, in person order.
    public var people: [Int32]
    public var features: FeatureMatrix
    /// One label (0 or 1) per person and outcome; empty when the data does not cover the 12 months
    /// from `index`.
    public var outcomes: [Outcome: [UInt8]]

    public var hasOutcomes: Bool { !outcomes.isEmpty }

    /// The features every snapshot builds with a condition library, in column order, then
    /// `area_NAME` for each area indicator named.
    public static func features(for library: ConditionLibrary, areaIndicators: [String] = []) -> [Feature] {
        var f: [Feature] = [
            Feature("age", "age", .count),
            Feature("age_over_65", "years of age over 65", .count, explainedBy: "age"),
            Feature("age_over_80", "years of age over 80", .count, explainedBy: "age"),
            Feature("female", "female", .flag),
            Feature("imd_decile", "IMD decile of home area (1 = most deprived)", .count),
            Feature("core20", "lives in the most deprived 20% of areas", .flag),
            Feature("deprivation_unknown", "home area not known", .flag),
        ]
        for group in [EthnicGroup.mixed, .asian, .black, .other] {
            f.append(Feature("ethnic_\(group.label.lowercased())", "ethnic group \(group.label)", .flag))
        }
        f.append(Feature("ethnic_not_recorded", "ethnic group not recorded", .flag))
        f.append(Feature("registered_years", "years registered with the practice", .value))
        f.append(Feature("newly_registered", "registered with the practice in the last year", .flag))
        for c in library.ltcConditions {
            f.append(Feature("condition_" + library.conditions[c].id, library.conditions[c].name.lowercased(), .flag))
        }
        f.append(Feature("ltc_count", "long-term conditions", .count))
        for s in library.scores { f.append(Feature("score_" + s.id, s.name, .value)) }
        for months in [3, 6, 12] {
            f.append(Feature("emergency_admissions_\(months)m", "emergency admissions, last \(months) months", .count))
        }
        f += [
            Feature("emergency_bed_days_12m", "days in hospital after emergency admission, last 12 months", .count),
            Feature("days_since_emergency_admission", "days since the last emergency admission", .count),
        ]
        for months in [3, 6, 12] {
            f.append(Feature("ae_attendances_\(months)m", "A&E attendances, last \(months) months", .count))
        }
        f += [
            Feature("outpatient_attendances_3m", "outpatient attendances, last 3 months", .count),
            Feature("outpatient_attendances_12m", "outpatient attendances, last 12 months", .count),
            Feature("outpatient_missed_12m", "missed outpatient appointments, last 12 months", .count),
            Feature("elective_admissions_12m", "planned admissions, last 12 months", .count),
            Feature("community_contacts_12m", "community care contacts, last 12 months", .count),
            Feature("mental_health_contacts_12m", "mental health contacts, last 12 months", .count),
            Feature("social_care_contacts_12m", "social care contacts, last 12 months", .count),
            Feature("ambulance_12m", "ambulance incidents, last 12 months", .count),
            Feature("cost_3m", "health and care cost, last 3 months", .money),
            Feature("cost_12m", "health and care cost, last 12 months", .money),
            Feature("prescription_items_12m", "prescription items, last 12 months", .count),
            Feature("medicines_12m", "different medicines, last 12 months", .count),
            Feature("gp_record_entries_12m", "GP record entries, last 12 months", .count),
        ]
        for name in areaIndicators { f.append(Feature(Feature.areaPrefix + name, "\(name) of home area", .value)) }
        return f
    }

    /// The longest look-back the days-since feature reports; "none" reads as this many days.
    public static let noRecentAdmission: Float = 1096
    /// The share of people counted as high cost in a year.
    public static let highCostShare = 0.05

    /// Builds the snapshot in one pass over each person's events, people split across cores.
    ///
    /// - Parameters:
    ///   - conditions: the condition results evaluated at `index`.
    ///   - dataEnd: the day after the last activity the extract holds; outcomes are computed
    ///     when it is at least 11 months after `index`.
    /// - Complexity: O(events of the people registered on `index`).
    public init(
        population: Population, conditions: ConditionResults, library: ConditionLibrary, index: Day, dataEnd: Day,
        areaFeatures: Bool = false, workers: Int
    ) {
        precondition(conditions.asOf == index, "conditions must be evaluated at the snapshot's index date")
        self.index = index
        let people = (0..<population.count).filter { p in
            population.isRegistered(p, on: index) && population.age(of: p, on: index) >= 0
        }.map { Int32($0) }
        self.people = people
        let areas = population.areas
        let features = Snapshot.features(for: library, areaIndicators: areaFeatures ? areas.indicatorNames : [])
        // An area indicator's value where the area has one; else (no value, or no known area)
        // the mean over the areas that have one, so no value stands out.
        let areaColumns: [(column: Int, values: [Float], fill: Float)] =
            areaFeatures
            ? areas.indicators.enumerated().map { k, values in
                let known = values.filter { !$0.isNaN }
                let fill = known.isEmpty ? 0 : known.reduce(0, +) / Float(known.count)
                return (features.count - areas.indicators.count + k, values, fill)
            } : []
        var matrix = FeatureMatrix(features: features, rows: people.count)
        let followUp = dataEnd >= index.adding(months: 11)
        var emergencyAfter = [UInt8](repeating: 0, count: people.count)
        var costBefore = [Double](repeating: 0, count: people.count)
        var costAfter = [Double](repeating: 0, count: people.count)

        let ltc = library.ltcConditions
        let column = Dictionary(uniqueKeysWithValues: features.enumerated().map { ($1.id, $0) })
        let ltcColumns = ltc.map { column["condition_" + library.conditions[$0].id]! }
        let starts = (m3: index.adding(months: -3), m6: index.adding(months: -6), m12: index.adding(months: -12))
        let followUpEnd = index.adding(months: 12)
        // Columns found by name once, not once per person.
        let c = { (id: String) in column[id]! }
        let (ageColumn, over65Column, over80Column, femaleColumn) = (c("age"), c("age_over_65"), c("age_over_80"), c("female"))
        let (decileColumn, core20Column, unknownColumn) = (c("imd_decile"), c("core20"), c("deprivation_unknown"))
        let ethnicColumns = (c("ethnic_mixed"), c("ethnic_asian"), c("ethnic_black"), c("ethnic_other"), c("ethnic_not_recorded"))
        let (registeredColumn, newlyColumn, ltcCountColumn) = (c("registered_years"), c("newly_registered"), c("ltc_count"))
        let scoreColumns = library.scores.map { c("score_" + $0.id) }
        // In the order of `counts` below.
        let countColumns = [
            "emergency_admissions_12m", "emergency_admissions_6m", "emergency_admissions_3m", "emergency_bed_days_12m",
            "ae_attendances_12m", "ae_attendances_6m", "ae_attendances_3m", "outpatient_attendances_12m",
            "outpatient_attendances_3m", "outpatient_missed_12m", "elective_admissions_12m", "community_contacts_12m",
            "mental_health_contacts_12m", "social_care_contacts_12m", "ambulance_12m",
        ].map(c)
        let (sinceColumn, itemsColumn, medicinesColumn) = (
            c("days_since_emergency_admission"), c("prescription_items_12m"), c("medicines_12m")
        )
        let (cost3Column, cost12Column, entriesColumn) = (c("cost_3m"), c("cost_12m"), c("gp_record_entries_12m"))
        let parts = Parallel.ranges(people.count, parts: workers * 4)
        let rows = people.count
        matrix.values.withUnsafeMutableBufferPointer { valuesBuffer in
            let values = Unchecked(valuesBuffer.baseAddress!)
            let emergency = Unchecked(emergencyAfter.withUnsafeMutableBufferPointer { $0.baseAddress! })
            let before = Unchecked(costBefore.withUnsafeMutableBufferPointer { $0.baseAddress! })
            let after = Unchecked(costAfter.withUnsafeMutableBufferPointer { $0.baseAddress! })
            _ = Parallel.map(parts.count) { k -> Int in
                @inline(__always) func set(_ column: Int, _ i: Int, _ v: Float) { values.value[column * rows + i] = v }
                var medicines: [Int32] = []
                var counts = [Float](repeating: 0, count: countColumns.count)
                for i in parts[k] {
                    let p = Int(people[i])
                    let age = Float(population.age(of: p, on: index))
                    set(ageColumn, i, age)
                    set(over65Column, i, max(0, age - 65))
                    set(over80Column, i, max(0, age - 80))
                    set(femaleColumn, i, population.sex[p] == .female ? 1 : 0)
                    let area = Int(population.area[p])
                    let decile = area >= 0 ? Int(population.areas.imdDecile[area]) : 0
                    set(decileColumn, i, decile > 0 ? Float(decile) : 5.5)
                    set(core20Column, i, decile == 1 || decile == 2 ? 1 : 0)
                    for a in areaColumns {
                        let v = area >= 0 && area < a.values.count ? a.values[area] : .nan
                        values.value[a.column * rows + i] = v.isNaN ? a.fill : v
                    }
                    set(unknownColumn, i, decile == 0 ? 1 : 0)
                    switch population.ethnicGroup[p] {
                    case .white: break
                    case .mixed: set(ethnicColumns.0, i, 1)
                    case .asian: set(ethnicColumns.1, i, 1)
                    case .black: set(ethnicColumns.2, i, 1)
                    case .other: set(ethnicColumns.3, i, 1)
                    case .notStated, .unknown: set(ethnicColumns.4, i, 1)
                    }
                    let registeredDays = population.registeredFrom[p].days(to: index)
                    set(registeredColumn, i, min(30, Float(registeredDays) / 365.25))
                    set(newlyColumn, i, registeredDays < 365 ? 1 : 0)
                    for (n, c) in ltc.enumerated() where conditions.has(p, c) { values.value[ltcColumns[n] * rows + i] = 1 }
                    set(ltcCountColumn, i, Float(conditions.ltcCount[p]))
                    for (s, column) in scoreColumns.enumerated() { set(column, i, Float(conditions.scores[s][p])) }

                    // Activity: counts by kind and window, bed days, cost; and the outcomes after.
                    for n in counts.indices { counts[n] = 0 }
                    var lastEmergency = Day(rawValue: Int32.min)
                    var cost3 = 0.0, cost12 = 0.0, followUpCost = 0.0
                    var emergencyFollowing: UInt8 = 0
                    let activity = population.activity
                    for row in activity.byPerson.rows(of: p) {
                        let day = activity.day[row]
                        let kind = activity.kind[row]
                        let cost = Double(activity.cost[row])
                        if day >= index {
                            guard day < followUpEnd else { break }
                            followUpCost += cost
                            if kind == .emergencyAdmission { emergencyFollowing = 1 }
                            continue
                        }
                        if kind == .emergencyAdmission { lastEmergency = day }
                        guard day >= starts.m12 else { continue }
                        cost12 += cost
                        if day >= starts.m3 { cost3 += cost }
                        switch kind {
                        case .emergencyAdmission:
                            counts[0] += 1
                            if day >= starts.m6 { counts[1] += 1 }
                            if day >= starts.m3 { counts[2] += 1 }
                            let end = min(activity.endDay[row], index)
                            counts[3] += Float(max(0, day.days(to: end)))
                        case .aeAttendance:
                            counts[4] += 1
                            if day >= starts.m6 { counts[5] += 1 }
                            if day >= starts.m3 { counts[6] += 1 }
                        case .outpatientAttended:
                            counts[7] += 1
                            if day >= starts.m3 { counts[8] += 1 }
                        case .outpatientDidNotAttend: counts[9] += 1
                        case .electiveAdmission: counts[10] += 1
                        case .community: counts[11] += 1
                        case .mentalHealth: counts[12] += 1
                        case .socialCare: counts[13] += 1
                        case .ambulance: counts[14] += 1
                        default: break
                        }
                    }
                    for (n, column) in countColumns.enumerated() { set(column, i, counts[n]) }
                    set(
                        sinceColumn, i,
                        lastEmergency.rawValue == Int32.min
                            ? Snapshot.noRecentAdmission : min(Snapshot.noRecentAdmission, Float(lastEmergency.days(to: index))))

                    var items: Float = 0
                    medicines.removeAll(keepingCapacity: true)
                    let rx = population.prescriptions
                    for row in rx.byPerson.rows(of: p) {
                        let day = rx.day[row]
                        let cost = Double(rx.cost[row])
                        if day >= index {
                            guard day < followUpEnd else { break }
                            followUpCost += cost
                            continue
                        }
                        guard day >= starts.m12 else { continue }
                        cost12 += cost
                        if day >= starts.m3 { cost3 += cost }
                        items += 1
                        medicines.append(rx.code[row])
                    }
                    medicines.sort()
                    var distinct = 0
                    for (n, code) in medicines.enumerated() where n == 0 || medicines[n - 1] != code { distinct += 1 }
                    set(itemsColumn, i, items)
                    set(medicinesColumn, i, Float(distinct))
                    set(cost3Column, i, Float(cost3))
                    set(cost12Column, i, Float(cost12))

                    var entries: Float = 0
                    let clinical = population.clinical
                    for row in clinical.byPerson.rows(of: p) {
                        let day = clinical.day[row]
                        guard day < index else { break }
                        if day >= starts.m12 { entries += 1 }
                    }
                    set(entriesColumn, i, entries)

                    emergency.value[i] = emergencyFollowing
                    before.value[i] = cost12
                    after.value[i] = followUpCost
                }
                return 0
            }
        }
        self.features = matrix
        if followUp {
            let highBefore = Snapshot.topShare(costBefore, share: Snapshot.highCostShare)
            let highAfter = Snapshot.topShare(costAfter, share: Snapshot.highCostShare)
            outcomes = [
                .emergencyAdmission: emergencyAfter,
                .persistentHighCost: zip(highBefore, highAfter).map { $0 && $1 ? 1 : 0 },
            ]
        } else {
            outcomes = [:]
        }
    }

    /// Each person's group in the breakdowns a model card reports: sex, age band at the index
    /// date, deprivation quintile and ethnic group.
    public func breakdowns(_ population: Population) -> [(name: String, labels: [String])] {
        let age = features.column("age")!
        return [
            ("sex", people.map { population.sex[Int($0)].code }),
            ("age_band", (0..<people.count).map { AgeBand(age: Int(features[$0, age])).label }),
            (
                "imd_quintile",
                people.map { p in
                    let area = Int(population.area[Int(p)])
                    let decile = area >= 0 ? Int(population.areas.imdDecile[area]) : 0
                    return decile > 0 ? String((decile + 1) / 2) : "unknown"
                }
            ),
            ("ethnic_group", people.map { population.ethnicGroup[Int($0)].label }),
        ]
    }

    /// Whether each value is in the top `share` of values: at or above the value ranked
    /// `ceil(share x n)` from the top, and above zero. Ties at the threshold all count.
    public static func topShare(_ values: [Double], share: Double) -> [Bool] {
        guard !values.isEmpty else { return [] }
        let k = max(1, Int((share * Double(values.count)).rounded(.up)))
        var sorted = values
        sorted.sort(by: >)
        let threshold = sorted[k - 1]
        return values.map { $0 > 0 && $0 >= threshold }
    }

    /// The day after the last activity record or prescription in the population.
    public static func dataEnd(of population: Population) -> Day {
        let last = max(population.activity.day.max() ?? population.asOf, population.prescriptions.day.max() ?? population.asOf)
        return last.adding(days: 1)
    }
}
