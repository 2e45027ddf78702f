/// Given and family names for synthetic people, drawn with a Zipf-like weighting.
enum Names {
    static let female = [
        "Olivia", "Amelia", "Isla", "Ava", "Mia", "Sophia", "Grace", "Lily", "Freya", "Emily", "Ella", "Poppy",
        "Charlotte", "Evie", "Isabella", "Sophie", "Daisy", "Alice", "Sarah", "Emma", "Jessica", "Hannah", "Laura",
        "Rebecca", "Susan", "Margaret", "Patricia", "Linda", "Elizabeth", "Jean", "Mary", "Janet", "Priya", "Aisha",
        "Fatima", "Zoë", "Amara", "Chloe", "Megan", "Siân",
    ]
    static let male = [
        "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar", "Charlie", "Jacob",
        "Thomas", "James", "William", "Daniel", "David", "Michael", "John", "Robert", "Peter", "Paul", "Mark",
        "Richard", "Stephen", "Andrew", "Christopher", "Ian", "Brian", "Kevin", "Gary", "Raj", "Ahmed", "Tomasz",
        "José", "Kwame", "Liam", "Ryan", "Dylan", "Rhys", "Owen",
    ]
    static let family = [
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
        "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris",
        "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore",
        "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson",
        "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
        "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall",
        "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman", "Powell",
        "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer",
        "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens",
        "Jenkins", "O'Brien", "Smith-Jones", "Nowak", "Okafor", "Nguyen", "Kowalski", "Ahmed", "Rahman",
    ]

    static let femaleWeights = cumulative(female.indices.map { 1 / Double($0 + 3) })
    static let maleWeights = cumulative(male.indices.map { 1 / Double($0 + 3) })
    static let familyWeights = cumulative(family.indices.map { 1 / Double($0 + 5) })

    /// A long tail of rarer names made of parts, drawn for `tailShare` of people: a system of a
    /// million people must not share a hundred surnames, or every demographic key would be
    /// shared and linkage look harder than it is.
    static let familyTail: [String] = {
        let first = [
            "Ash", "Black", "Brad", "Brook", "Bur", "Cald", "Carl", "Chad", "Clif", "Cole", "Craw", "Dal", "Dun", "East",
            "Elm", "Fair", "Farn", "Gar", "Glad", "Good", "Gran", "Green", "Hal", "Hart", "Hay", "Hol", "Kings", "Lang",
            "Lind", "Mar", "Mel", "Mid", "Mor", "New", "North", "Oak", "Pen", "Ran", "Red", "Ros", "Sand", "Shel",
            "South", "Stan", "Stock", "Sut", "Thorn", "Town", "Wal", "War", "West", "Whit", "Wind", "Wy", "Ade", "Oko",
            "Bala", "Chand", "Dass", "Kapo", "Mehr", "Sidd", "Kowal", "Nowa", "Zielin", "Oye", "Nwa", "Haq",
        ]
        let second = [
            "ley", "ton", "ford", "well", "wood", "by", "ham", "field", "worth", "stone", "dale", "bridge", "wick",
            "more", "son", "er", "ridge", "combe", "hurst", "land", "burn", "lock", "ingham", "shaw", "croft", "gate",
            "holm", "mere", "stead", "ola", "kumar", "ski", "ani", "eke", "chi", "wal",
        ]
        return first.flatMap { a in second.map { a + $0 } }
    }()
    static let givenTail: [String] = {
        let first = [
            "Al", "Ar", "Be", "Ca", "Da", "El", "Fa", "Ha", "Is", "Ja", "Ka", "La", "Ma", "Na", "Ra", "Sa", "Ta", "Ya",
            "Za", "Ro", "Le", "Mi", "No", "Ti", "Ade", "Chi", "Ife", "Oli", "Ami", "Ros",
        ]
        let second = [
            "na", "ra", "lia", "ya", "ni", "den", "ron", "ton", "mir", "sha", "ley", "rin", "bel", "dan", "vin", "lo",
            "ke", "mi", "tte", "xa",
        ]
        return first.flatMap { a in second.map { a + $0 } }
    }()
    static let tailShare = (given: 0.4, family: 0.6)
}
