import Analysis
import Cohorts
import Foundation
import Governance
import Hummingbird
import HummingbirdTesting
import Logging
import Outputs
import PHMCore
import Pipeline
import Service
import Storage
import Synthesis
import TestSupport
import Testing

@testable import Web

/// The web pages and their API over the default run's published outputs, on a copy of its data
/// directory with one user of each role.
@Suite struct DashboardTests {
    static let password = "a long enough password"

    final class Served: @unchecked Sendable {
        let folder = temporaryFolder("dashboards")
        let platform: Platform
        init() throws {
            _ = DefaultRun.result
            let source = DefaultRun.folder.appendingPathComponent("data")
            // The store writes ahead to a log: its -wal file holds commits not yet checkpointed.
            let store = try FileManager.default.contentsOfDirectory(atPath: source.path).filter { $0.hasPrefix("phm.sqlite") }
            for item in ["frames", "vault"] + store {
                try FileManager.default.copyItem(at: source.appendingPathComponent(item), to: folder.appendingPathComponent(item))
            }
            platform = try Platform(dataDirectory: folder, hasher: PasswordHasher(logN: 4))
            try platform.createFirstAdmin("adm", password: DashboardTests.password)
            let admin = try platform.login("adm", password: DashboardTests.password, purpose: .administration)
            let practice = DefaultRun.result.prepared.population.hierarchy.practices[0].code
            try admin.setUser("ana", role: .analyst, practiceCode: nil, password: DashboardTests.password)
            try admin.setUser("cli", role: .clinician, practiceCode: practice, password: DashboardTests.password)
            try admin.setUser("ig", role: .igLead, practiceCode: nil, password: DashboardTests.password)
        }
        deinit { try? FileManager.default.removeItem(at: folder) }
        var app: some ApplicationProtocol { WebApp.make(platform: platform, logger: quietLogger, watching: false) }
    }

    /// A server gets the newest run ready before anyone asks: every page's default view is built
    /// when it starts (and when a run is published), not by the first users to arrive.
    @Test func theNewestRunIsReadyBeforeAnyoneAsks() async throws {
        let served = try Served()
        let cache = PageCache()
        let readiness = WebApp.Readiness()
        let watcher = Task { await WebApp.watchRuns(served.platform, cache, readiness, quietLogger, every: .milliseconds(20)) }
        defer { watcher.cancel() }
        for _ in 0..<1_500 where !readiness.isReady { try await Task.sleep(for: .milliseconds(20)) }
        #expect(readiness.isReady && cache.count == Dashboard.allCases.count)
        // What a request for the default view then gets is the page built ahead.
        let publication = try served.platform.publication()
        let query = try WebApp.query(.overview, publication, unit: "", indicator: nil, measure: nil, cache)
        _ = cache.page(.overview, publication, query)
        #expect(cache.count == Dashboard.allCases.count)
    }

    /// A page's charts that lack a text alternative: each chart must be an image named by its
    /// title and description, in a figure whose caption links to the one element on the page with
    /// that id, which is a table or holds one.
    static func chartsWithoutTheirTable(_ html: String) -> [String] {
        var problems: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<figure"), let end = rest[start.upperBound...].range(of: "</figure>") {
            let figure = rest[start.upperBound..<end.lowerBound]
            rest = rest[end.upperBound...]
            let title =
                figure.range(of: "<title id=\"").map {
                    String(figure[$0.upperBound...].drop { $0 != ">" }.dropFirst().prefix { $0 != "<" })
                } ?? "a chart"
            guard figure.contains("<svg") else { continue }
            guard figure.contains("role=\"img\" aria-labelledby="), figure.contains("<desc id=") else {
                problems.append("\(title): not an image with a title and a description")
                continue
            }
            guard let caption = figure.range(of: "<figcaption"), let href = figure[caption.upperBound...].range(of: "href=\"#")
            else {
                problems.append("\(title): no link to its table")
                continue
            }
            let id = String(figure[href.upperBound...].prefix { $0 != "\"" })
            let places = html.components(separatedBy: "id=\"\(id)\"")
            guard places.count == 2 else {
                problems.append("\(title): \(places.count - 1) elements with the id \(id)")
                continue
            }
            // The element the id is on, and what it holds up to its end.
            let tag = places[0].components(separatedBy: "<").last?.prefix { $0.isLetter } ?? ""
            let inside = places[1].components(separatedBy: "</\(tag)>").first ?? ""
            guard tag == "table" || inside.contains("<table") else {
                problems.append("\(title): links to \(id), a \(tag) without a table")
                continue
            }
        }
        return problems
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func token(_ client: some TestClientProtocol, _ user: String, _ purpose: String) async throws -> HTTPFields {
        let response = try await client.execute(
            uri: "/api/sessions", method: .post,
            body: ByteBuffer(string: #"{"user": "\#(user)", "password": "\#(password)", "purpose": "\#(purpose)"}"#))
        let token = try #require(try json(response)["token"] as? String)
        return [.authorization: "Bearer " + token]
    }

    /// A browser's cookie, through the sign-in form.
    static func cookie(_ client: some TestClientProtocol, _ user: String, _ purpose: String) async throws -> HTTPFields {
        let login = try await client.execute(uri: "/login", method: .get)
        let text = String(buffer: login.body)
        let marker = try #require(text.range(of: "name=\"csrf\" value=\""))
        let csrf = String(text[marker.upperBound...].prefix { $0 != "\"" })
        let pre = try #require(login.headers[values: .setCookie].first { $0.hasPrefix(WebSessions.loginCookie) })
        let signed = try await client.execute(
            uri: "/login", method: .post,
            headers: [.contentType: "application/x-www-form-urlencoded", .cookie: String(pre.prefix { $0 != ";" })],
            body: ByteBuffer(
                string:
                    "user=\(user)&password=\(password.replacingOccurrences(of: " ", with: "+"))&purpose=\(purpose)&csrf=\(csrf)"))
        let session = try #require(signed.headers[values: .setCookie].first { $0.hasPrefix(WebSessions.cookie + "=") })
        return [.cookie: String(session.prefix { $0 != ";" })]
    }

    @Test func everyPageForEveryUnitLevelShowsThePublishedFigures() async throws {
        let served = try Served()
        let output = DefaultRun.output
        let units = try served.platform.publication().units
        let frame = try served.platform.frame(for: .planning)
        let pseudonyms = frame.pseudonym.prefix(300)
        try await served.app.test(.router) { client in
            let analyst = try await Self.cookie(client, "ana", "planning")
            let bearer = try await Self.token(client, "ana", "planning")
            // One unit of each level: the organisation and a first locality, PCN and practice.
            let sample = Level.allCases.compactMap { level in units.first { $0.level == level } }
            #expect(sample.count == 4)
            var charts = 0
            for dashboard in Dashboard.allCases {
                for unit in sample {
                    let page = try await client.execute(
                        uri: "\(dashboard.path)?unit=\(unit.code)", method: .get, headers: analyst)
                    let html = String(buffer: page.body)
                    #expect(page.status == .ok, "\(dashboard) \(unit.code): \(html.prefix(300))")
                    #expect(
                        html.contains("<svg") && html.contains("Download the table (CSV)")
                            && html.contains("aria-current=\"page\""))
                    // Every page names the run it shows and the date its figures are as of.
                    #expect(html.contains("Run \(frame.runId), as of \(frame.asOf)."))
                    #expect(!pseudonyms.contains { html.contains($0) })
                    #expect(
                        Self.chartsWithoutTheirTable(html).isEmpty,
                        "\(dashboard) \(unit.code): \(Self.chartsWithoutTheirTable(html))")
                    let api = try await client.execute(
                        uri: "/api/pages/\(dashboard.rawValue)?unit=\(unit.code)", method: .get, headers: bearer)
                    let object = try Self.json(api)
                    #expect((object["unit"] as? [String: Any])?["code"] as? String == unit.code)
                    #expect((object["path"] as? [Any])?.count == Level.allCases.firstIndex(of: unit.level)! + 1)
                    let panels = try #require(object["panels"] as? [[String: Any]])
                    #expect(!panels.isEmpty)
                    // Every panel's CSV holds the same table as the API.
                    for panel in panels {
                        let id = try #require(panel["id"] as? String)
                        let csv = try await client.execute(
                            uri: "/api/pages/\(dashboard.rawValue)/\(id)/csv?unit=\(unit.code)", method: .get, headers: bearer)
                        let records = CSVRows.parse(Array(csv.body.readableBytesView))
                        #expect(csv.status == .ok && records.first == panel["columns"] as? [String])
                        #expect(records.count - 1 == (panel["rows"] as? [Any])?.count)
                        // Its chart, where it has one, as a standalone SVG file.
                        let svg = try await client.execute(
                            uri: "/api/pages/\(dashboard.rawValue)/\(id)/svg?unit=\(unit.code)", method: .get, headers: bearer)
                        let text = String(buffer: svg.body)
                        #expect(
                            (svg.status == .ok && text.hasPrefix("<svg") && text.hasSuffix("</svg>")
                                && svg.headers[.contentType] == "image/svg+xml; charset=utf-8") || svg.status == .notFound,
                            "\(id)")
                        charts += svg.status == .ok ? 1 : 0
                    }
                }
            }

            // The seed table for the organisation is the run's multimorbidity.csv, row for row.
            let organisation = sample[0].code
            let mm = try Self.json(
                try await client.execute(uri: "/api/pages/multimorbidity?unit=\(organisation)", method: .get, headers: bearer))
            let seedPanel = try #require((mm["panels"] as? [[String: Any]])?.first { $0["id"] as? String == "ltc-count" })
            let seedFile = readCSV(output.appendingPathComponent("multimorbidity.csv"))
            // The seed's columns, then the note the unit's rows carry.
            #expect(seedPanel["columns"] as? [String] == seedFile[0] + ["note"])
            let seedRows = try #require(seedPanel["rows"] as? [[Any]])
            #expect(seedRows.map { $0.map { "\($0)" } }.map { $0[0] } == seedFile.dropFirst().map { $0[0] })
            #expect(seedRows.count == seedFile.count - 1)

            // The overview's headline, counted from the frame, agrees with the run's own figures:
            // people with its summary, emergency admissions per 1,000 with inequalities.csv.
            for unit in sample {
                let overview = try Self.json(
                    try await client.execute(uri: "/api/pages/overview?unit=\(unit.code)", method: .get, headers: bearer))
                let panels = try #require(overview["panels"] as? [[String: Any]])
                let headline = try #require(panels.first { $0["id"] as? String == "headline" }?["rows"] as? [[Any]])
                let people = try #require(headline[0][1] as? Double)
                let inequalities = readCSV(output.appendingPathComponent("inequalities.csv"))
                let all = try #require(
                    inequalities.first { $0[1] == unit.code && $0[4] == "emergency_admissions" && $0[7] == "all" })
                #expect(people == Double(all[9]), "\(unit.code): headline people against inequalities.csv")
                let rate = try #require(headline[4][1] as? Double)
                #expect(abs(rate - Double(all[11])!) < 0.051, "\(unit.code): \(rate) against \(all[11])")
                if unit.level == .organisation {
                    #expect(people == Double(Suppression.rounded(DefaultRun.result.summary.planningPeople)))
                }
                // Nothing gives the exact population back: the total cost is the cost per head
                // times the published people, and the 65+ share is of published counts.
                if let total = headline[5][1] as? Double, let perHead = headline[6][1] as? Double, perHead > 0 {
                    #expect(abs(total / perHead - people) < 0.01 * max(1, people / 1_000), "\(unit.code): \(total) / \(perHead)")
                }
                if let share = headline[2][1] as? Double {
                    // Shown to 2 decimals: within that rounding of a published (multiple of 5) count.
                    let aged65 = share * people / 100, slack = people * 0.005 / 100 + 0.01
                    #expect(abs(aged65 - 5 * (aged65 / 5).rounded()) <= slack, "\(unit.code): \(aged65)")
                }
                // The pyramid is suppressed: each shown count is 0, or 10 or more and a multiple of 5.
                let pyramid = try #require(panels.first { $0["id"] as? String == "pyramid" }?["rows"] as? [[Any]])
                for row in pyramid {
                    for cell in row.dropFirst() {
                        if let n = cell as? Double { #expect(n == 0 || (n >= 10 && n.truncatingRemainder(dividingBy: 5) == 0)) }
                    }
                }
            }

            #expect(charts > 4 * Dashboard.allCases.count)

            // Funnel: where variation lives, every practice of the organisation.
            let variation = try Self.json(
                try await client.execute(
                    uri: "/api/pages/variation?unit=\(organisation)&indicator=depression", method: .get, headers: bearer))
            let funnel = try #require((variation["panels"] as? [[String: Any]])?.first { $0["id"] as? String == "funnel" })
            #expect((funnel["rows"] as? [Any])?.count == units.filter { $0.level == .practice }.count)

            // Projections: the fan's table is projections.csv's organisation margin, every scenario
            // and year; a practice is shown its PCN's projection; measures are the file's.
            let projections = try Published.projections.read(from: output)
            func fan(_ unit: String, _ measure: String) async throws -> [[String]] {
                let page = try Self.json(
                    try await client.execute(
                        uri: "/api/pages/projections?unit=\(unit)&measure=\(measure)", method: .get, headers: bearer))
                let panel = try #require((page["panels"] as? [[String: Any]])?.first { $0["id"] as? String == "fan" })
                let rows = try #require(panel["rows"] as? [[Any]])
                return rows.map { $0.map { "\($0)".replacingOccurrences(of: ".0", with: "") } }
            }
            let published = projections.filter {
                $0.unit.unitCode == organisation && $0.row.ageBand == "all" && $0.row.ltcBand == "all"
                    && $0.row.imdQuintile == "all"
            }.map(\.row)
            let shown = try await fan(organisation, "cost_gbp")
            #expect(shown.count == published.count && shown.count == 21 * 3)
            for row in published {
                #expect(
                    shown.contains {
                        $0[0] == row.scenario && $0[1] == String(row.date.prefix(4)) && $0[3] == row.costGbp.map(String.init)
                            && $0[4] == row.costGbpLower95.map(String.init)
                    }, "\(row.scenario) \(row.yearsAhead)")
            }
            let practice = sample[3]
            #expect(try await fan(practice.code, "people") == fan(try #require(practice.parent), "people"))
            let badMeasure = try await client.execute(uri: "/projections?measure=deaths", method: .get, headers: analyst)
            #expect(badMeasure.status == .badRequest)

            // Panel files: a panel without a chart, an unknown panel, an unknown page and a huge
            // panel name are refused, and the server goes on answering.
            for uri in [
                "/api/pages/overview/headline/svg", "/api/pages/risk/nope/svg", "/api/pages/nope/headline/svg",
                "/api/pages/risk/\(String(repeating: "%28", count: 20_000))/svg", "/api/pages/risk/x/svg?unit=%00",
            ] {
                let refused = try await client.execute(uri: uri, method: .get, headers: bearer)
                #expect((400..<500).contains(refused.status.code), "\(uri.prefix(60)): \(refused.status)")
            }
            let headline = try await client.execute(uri: "/api/pages/overview/headline/svg", method: .get, headers: bearer)
            #expect(String(buffer: headline.body).contains("has no panel 'headline' with a chart"))

            // Unknown units and indicators are refused with the rule, not a crash.
            let badUnit = try await client.execute(uri: "/api/pages/risk?unit=NOPE", method: .get, headers: bearer)
            #expect(badUnit.status == .badRequest && String(buffer: badUnit.body).contains("no unit has the code 'NOPE'"))
            let badIndicator = try await client.execute(uri: "/inequalities?indicator=nothing", method: .get, headers: analyst)
            #expect(badIndicator.status == .badRequest)
            let badPage = try await client.execute(uri: "/api/pages/everything", method: .get, headers: bearer)
            #expect(badPage.status == .badRequest)
        }
        // Page views are audited with their page and unit.
        let log = try served.platform.login("ig", password: Self.password, purpose: .administration).auditLog()
        #expect(
            log.contains { $0.action == "view_aggregates" && $0.user == "ana" && $0.detail.contains("\"page\":\"variation\"") })
    }

    /// The wider determinants page: the outcomes across each area indicator's quintiles, the
    /// people with each social factor against the rest, and per practice the people at high
    /// risk with a recorded social need, all from the published inequalities rows.
    @Test func widerDeterminantsPageFollowsThePublishedRows() throws {
        let served = try Served()
        let publication = try served.platform.publication()
        let board = try #require(publication.units.first { $0.level == .organisation })
        let panels = Dashboard.determinants(
            publication, PageQuery(unit: board, indicator: Dashboard.defaultIndicator, measure: ""))
        let ids = Set(panels.map(\.id))
        for area in ["pm25", "green_space_access_pct", "overcrowded_households_pct"] {
            for outcome in Dashboard.determinantOutcomes {
                #expect(ids.contains("area-\(area)-\(outcome)"), "\(area) \(outcome)")
            }
        }
        // The air quality panel: five quintiles, age-standardised as published.
        let air = try #require(panels.first { $0.id == "area-pm25-emergency_admissions" })
        guard case .bars(let bars) = air.chart else { Issue.record("no bars"); return }
        #expect(bars.labels == ["1", "2", "3", "4", "5"])
        let published = publication.inequalities.filter {
            $0.unit.unitCode == board.code && $0.row.indicator == "emergency_admissions"
                && $0.row.breakdown == "area_pm25_quintile" && $0.row.group != "unknown"
        }
        #expect(bars.values == published.map { $0.row.ageStandardised?.value })
        #expect(air.note.contains("Slope index of inequality"))
        // Social factors: isolation's ratio is the generator's effect, carers' near none.
        let social = try #require(panels.first { $0.id == "social-emergency_admissions" })
        guard case .bars(let ratios) = social.chart else { Issue.record("no bars"); return }
        func ratio(_ label: String) throws -> Double {
            let i = try #require(ratios.labels.firstIndex(of: label))
            return try #require(ratios.values[i])
        }
        let isolated = try ratio("socially isolated"), carer = try ratio("carer")
        #expect(isolated > 1.3 && isolated < 1.9 && carer > 0.75 && carer < 1.25, "\(isolated) \(carer)")
        // Per practice: every practice of the board, with no more people at high risk and in
        // need than in need, or at high risk.
        let practices = try #require(panels.first { $0.id == "high-risk-social-need" }).table
        #expect(practices.rows.count == publication.units.filter { $0.level == .practice }.count)
        let need = Dashboard.numbers(practices, "social_need"), both = Dashboard.numbers(practices, "high_risk_with_social_need")
        let high = Dashboard.numbers(practices, "high_risk")
        #expect(both.compactMap { $0 }.reduce(0, +) > 0)
        for i in practices.rows.indices {
            if let b = both[i], let n = need[i], let h = high[i] { #expect(b <= n && b <= h, "\(practices.rows[i])") }
        }
    }

    @Test func rolesSeeOnlyWhatTheirPurposeAllows() async throws {
        let served = try Served()
        try await served.app.test(.router) { client in
            // A clinician under direct care sees the published pages and their worklists.
            let clinician = try await Self.cookie(client, "cli", "direct_care")
            for path in ["/overview", "/risk", "/worklists", "/cohorts"] {
                #expect(try await client.execute(uri: path, method: .get, headers: clinician).status == .ok, "\(path)")
            }
            #expect(try await client.execute(uri: "/audit", method: .get, headers: clinician).status == .forbidden)
            // The IG lead and administrator work under administration: no patient data at all.
            for user in ["ig", "adm"] {
                let session = try await Self.cookie(client, user, "administration")
                for dashboard in Dashboard.allCases {
                    let page = try await client.execute(uri: dashboard.path, method: .get, headers: session)
                    #expect(page.status == .forbidden, "\(user) \(dashboard)")
                }
                let home = try await client.execute(uri: "/", method: .get, headers: session)
                #expect(home.headers[.location] == "/audit")
                let api = try await Self.token(client, user, "administration")
                #expect(try await client.execute(uri: "/api/pages/overview", method: .get, headers: api).status == .forbidden)
                #expect(try await client.execute(uri: "/api/units", method: .get, headers: api).status == .forbidden)
                #expect(try await client.execute(uri: "/api/audit?limit=3", method: .get, headers: api).status == .ok)
            }
            // The menu offers what the role may open and nothing else.
            let analyst = try await Self.cookie(client, "ana", "planning")
            let page = String(buffer: try await client.execute(uri: "/overview", method: .get, headers: analyst).body)
            #expect(
                page.contains("href=\"/cohorts\"") && !page.contains("href=\"/worklists\"") && !page.contains("href=\"/audit\""))
        }
    }

    /// A run published with exact counts (`--no-suppress`) is for direct analysis of its output
    /// folder: no page or API serves its outputs, and the refusal says why and what to do.
    @Test func aRunWithExactCountsIsNotServed() async throws {
        let folder = temporaryFolder("unsuppressed")
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in"), data = folder.appendingPathComponent("data")
        let output = folder.appendingPathComponent("out")
        _ = try SyntheticHealthSystem.write(SynthesisOptions(people: 800, seed: 3), to: input)
        var options = RunOptions(
            input: input, asOf: SyntheticHealthSystem.defaultAsOf, output: output, dataDirectory: data,
            keyFile: DefaultRun.keyFile, suppress: false)
        options.projection.years = 0
        let run = try PipelineRun.execute(options).summary
        let written = try Published.run.read(from: output)
        #expect(run.suppressed == false && written.suppressed == false)
        // Its tables hold the exact figures: the organisation's total cost and its people's mean
        // A&E attendances by number of long-term conditions, from persons.csv.
        let persons = readCSV(output.appendingPathComponent("persons.csv"))
        func column(_ name: String) throws -> [Double] {
            let c = try #require(persons[0].firstIndex(of: name))
            return persons.dropFirst().map { Double($0[c])! }
        }
        let (costs, ae, ltc) = (try column("cost_12m"), try column("ae_attendances_12m"), try column("ltc_count"))
        let concentration = try #require(
            try Published.costConcentration.read(from: output).first {
                $0.unit.level == "organisation" && $0.row.scope == "all_settings"
            })
        #expect(abs((concentration.row.totalCostGbp?.value ?? 0) - costs.reduce(0, +)) < 0.01)
        for row in try Published.multimorbidity.read(from: output) where row.ltcCount != "total" {
            let band = ltc.indices.filter { (row.ltcCount == "8+" && ltc[$0] >= 8) || Double(row.ltcCount) == ltc[$0] }
            #expect(row.patients == band.count)
            if !band.isEmpty {
                let mean = band.map { ae[$0] }.reduce(0, +) / Double(band.count)
                #expect(abs((row.aeAttendances?.value ?? -1) - mean) < 0.0005, "band \(row.ltcCount)")
            }
        }

        let platform = try Platform(dataDirectory: data, hasher: PasswordHasher(logN: 4))
        #expect(throws: AccessError.unsuppressedRun(run.runId, recorded: true)) { try platform.publication() }
        try platform.createFirstAdmin("adm", password: Self.password)
        let admin = try platform.login("adm", password: Self.password, purpose: .administration)
        try admin.setUser("ana", role: .analyst, practiceCode: nil, password: Self.password)
        try await WebApp.make(platform: platform, logger: quietLogger, watching: false).test(.router) { client in
            let api = try await Self.token(client, "ana", "planning")
            let answer = try await client.execute(uri: "/api/pages/overview", method: .get, headers: api)
            #expect(answer.status == .serviceUnavailable)
            #expect((try Self.json(answer)["error"] as? String)?.contains("--no-suppress") == true)
            #expect(try await client.execute(uri: "/api/units", method: .get, headers: api).status == .serviceUnavailable)
            let page = try await client.execute(
                uri: "/overview", method: .get, headers: try await Self.cookie(client, "ana", "planning"))
            #expect(page.status == .serviceUnavailable && String(buffer: page.body).contains("--no-suppress"))
        }

        // A run written before runs recorded it says nothing either way: not served either.
        let file = output.appendingPathComponent(Published.run.file)
        var summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        #expect(summary.removeValue(forKey: "suppressed") != nil)
        try JSONSerialization.data(withJSONObject: summary).write(to: file)
        #expect(throws: AccessError.unsuppressedRun(run.runId, recorded: false)) { try platform.publication() }
    }

}
