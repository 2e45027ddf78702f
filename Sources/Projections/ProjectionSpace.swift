import PHMCore

/// The cells a projection moves people between: age band x sex x deprivation quintile x
/// multimorbidity state. A state is the long-term condition count (0 to 8, and 9 or more) and
/// whether the person has major illness (a Cambridge Multimorbidity Score above 1.5, as the
/// Health Foundation's *Health in 2040* defines it).
public enum ProjectionSpace {
    /// Lower edges of the age bands transitions are estimated for: five years wide, except where
    /// the seed's bands (0-17, 18-44, 45-64, 65-79, 80+) need an edge, so every output band is a
    /// sum of them. The last is open.
    public static let ageEdges = [0, 5, 10, 15, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90]
    public static let ages = ageEdges.count
    /// Female, male, and indeterminate or unknown.
    public static let sexes = 3
    /// Unknown, then IMD quintiles 1 (most deprived) to 5.
    public static let quintiles = 6
    /// Long-term condition counts 0 to 8, and 9 or more.
    public static let ltcStates = 10
    public static let states = ltcStates * 2
    public static let cells = ages * sexes * quintiles * states

    /// What can happen to a person in a year: their count rises by 0, 1 or 2 or more, with or
    /// without major illness beginning (outcomes 0 to 5); they die; or they leave the registered
    /// population alive.
    public static let outcomes = 8
    public static let death = 6, exit = 7

    @inline(__always)
    public static func cell(age: Int, sex: Int, quintile: Int, state: Int) -> Int {
        ((age * sexes + sex) * quintiles + quintile) * states + state
    }

    /// The parts of a cell index.
    @inline(__always)
    public static func parts(_ cell: Int) -> (age: Int, sex: Int, quintile: Int, state: Int) {
        let state = cell % states, rest = cell / states
        return (rest / (sexes * quintiles), rest / quintiles % sexes, rest % quintiles, state)
    }

    /// A person's cell on a day.
    public static func cell(of person: Int, in population: Population, states: some StateHistory, on day: Day) -> Int {
        let area = population.area[person]
        let decile = area >= 0 ? population.areas.imdDecile[Int(area)] : nil
        return cell(
            age: ageBand(max(0, population.age(of: person, on: day))), sex: sex(population.sex[person]),
            quintile: quintile(decile: decile), state: states.state(person, on: day))
    }

    /// Whether a person is in the health system's registered population on a day: registered
    /// since their first registration in the data, and alive.
    public static func present(_ person: Int, in population: Population, on day: Day) -> Bool {
        population.since(person) <= day && day < population.registeredTo[person] && day < population.death[person]
    }

    public static func ageBand(_ age: Int) -> Int {
        var band = 0
        while band + 1 < ageEdges.count && age >= ageEdges[band + 1] { band += 1 }
        return band
    }

    public static func sex(_ sex: Sex) -> Int {
        switch sex {
        case .female: 0
        case .male: 1
        default: 2
        }
    }

    public static func quintile(decile: UInt8?) -> Int {
        guard let decile, (1...10).contains(decile) else { return 0 }
        return (Int(decile) + 1) / 2
    }

    @inline(__always)
    public static func state(ltc: Int, major: Bool) -> Int { min(ltc, ltcStates - 1) * 2 + (major ? 1 : 0) }

    /// The state a person reaches from `state` through a non-fatal outcome (0 to 5).
    @inline(__always)
    public static func next(_ state: Int, _ outcome: Int) -> Int {
        let ltc = min(state / 2 + outcome % 3, ltcStates - 1)
        return ltc * 2 + (state % 2 == 1 || outcome >= 3 ? 1 : 0)
    }

    /// The outcome that took a person from one state to another.
    public static func outcome(from: Int, to: Int) -> Int {
        let rise = min(2, max(0, to / 2 - from / 2))
        let began = from % 2 == 0 && to % 2 == 1
        return rise + (began ? 3 : 0)
    }

    /// The seed's age band (0-17, 18-44, 45-64, 65-79, 80+) of a transition age band.
    static let seedAgeBand: [Int] = ageEdges.map { Int(AgeBand(age: $0).rawValue) }

    /// The seed's LTC band (0, 1, 2-4, 5-7, 8+) of a state.
    static func ltcBand(_ state: Int) -> Int {
        Int(LTCBand.allCases.first { $0.counts.contains(state / 2) }?.rawValue ?? 0)
    }
}
