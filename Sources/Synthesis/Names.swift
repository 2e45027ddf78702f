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
}
