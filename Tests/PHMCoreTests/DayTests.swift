import PHMCore
import Testing

@Suite struct DayTests {
    @Test func parsesAndFormatsISODates() {
        #expect(Day(iso: "1970-01-01")?.rawValue == 0)
        #expect(Day(iso: "2000-02-29")?.description == "2000-02-29")
        #expect(Day(iso: "2024-12-31")?.rawValue == 20_088)
        #expect(Day(iso: "1899-12-31")?.description == "1899-12-31")
    }

    @Test(arguments: [
        "2023-02-29", "1900-02-29", "2023-13-01", "2023-00-10", "2023-04-31", "2023-4-01", "20230401", "2023-04-01x", "",
    ])
    func rejectsInvalidDates(_ text: String) {
        #expect(Day(iso: text) == nil)
    }

    @Test func roundTripsEveryDayOverTwoCenturies() {
        var day = Day(iso: "1890-01-01")!
        let end = Day(iso: "2100-12-31")!
        var previous: (Int, Int, Int)?
        while day <= end {
            let civil = day.civil
            #expect(Day(year: civil.year, month: civil.month, day: civil.day) == day)
            if let p = previous { #expect(p < civil) }
            previous = civil
            day = day.adding(days: 1)
        }
    }

    @Test func addsMonthsClampingToMonthEnd() {
        #expect(Day(iso: "2024-01-31")!.adding(months: 1).description == "2024-02-29")
        #expect(Day(iso: "2025-04-01")!.adding(months: -12).description == "2024-04-01")
        #expect(Day(iso: "2025-03-31")!.adding(months: -25).description == "2023-02-28")
    }

    @Test func computesCompletedYearsOfAge() {
        let birth = Day(iso: "2000-02-29")!
        #expect(birth.age(on: Day(iso: "2001-02-28")!) == 0)
        #expect(birth.age(on: Day(iso: "2001-03-01")!) == 1)
        #expect(Day(iso: "1950-06-15")!.age(on: Day(iso: "2025-06-14")!) == 74)
        #expect(Day(iso: "1950-06-15")!.age(on: Day(iso: "2025-06-15")!) == 75)
    }

    @Test func windowsExcludeTheAsOfDay() {
        let asOf = Day(iso: "2025-04-01")!
        let window = DayWindow.months(12, before: asOf)
        #expect(window.contains(Day(iso: "2024-04-01")!))
        #expect(window.contains(Day(iso: "2025-03-31")!))
        #expect(!window.contains(asOf))
        #expect(!window.contains(Day(iso: "2024-03-31")!))
    }

    @Test func ageBandsFollowTheSeedSegmentation() {
        #expect(
            [0, 17, 18, 44, 45, 64, 65, 79, 80, 104].map { AgeBand(age: $0).letter } == [
                "A", "A", "B", "B", "C", "C", "D", "D", "E", "E",
            ])
    }
}
