import Foundation
import PortalCore
import Testing

@Suite("Backup time of day")
struct BackupTimeTests {
    static var saoPaulo: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/Sao_Paulo") ?? .gmt
        return calendar
    }

    @Test("HH:MM only", arguments: ["02:30", "00:00", "23:59"])
    func valid(_ text: String) {
        #expect(BackupTime(text) != nil)
    }

    @Test("anything else is refused", arguments: ["2:30", "24:00", "12:60", "0230", "", "aa:bb", "12:30:00"])
    func invalid(_ text: String) {
        #expect(BackupTime(text) == nil)
    }

    @Test("the next run is later today, or tomorrow once the time has passed, in local time")
    func nextRun() throws {
        let time = try #require(BackupTime("02:30"))
        let calendar = Self.saoPaulo
        let morning = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 25, hour: 1, minute: 0)))
        let expectedToday = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 25, hour: 2, minute: 30)))
        #expect(time.next(after: morning, calendar: calendar) == expectedToday)
        let noon = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 25, hour: 12)))
        let expectedTomorrow = try #require(calendar.date(from: DateComponents(year: 2026, month: 11, day: 26, hour: 2, minute: 30)))
        #expect(time.next(after: noon, calendar: calendar) == expectedTomorrow)
        #expect(time.next(after: expectedToday, calendar: calendar) == expectedTomorrow)
    }
}
