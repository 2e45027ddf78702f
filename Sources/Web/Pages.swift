import Cohorts
import Evaluation
import Foundation
import Governance
import Outputs
import PHMCore
import Service
import Storage

/// Server-rendered pages: semantic HTML, one stylesheet, and scripts only to save a click (the
/// cohort page's live count): every page works without them.
enum Pages {
    static func escape(_ s: String) -> String {
        // By byte, not by Character: the five characters escaped are ASCII, and most text has none.
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        for byte in s.utf8 {
            switch byte {
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x22: out.append(contentsOf: "&quot;".utf8)
            case 0x27: out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The pages a session may open, in menu order.
    static func menu(_ session: Session) -> [(title: String, path: String)] {
        let can = { (action: Action) in AccessPolicy.allows(session.user.role, action, for: session.purpose) }
        var items: [(String, String)] = []
        if can(.viewAggregates) {
            items += Dashboard.allCases.map { ($0 == .overview ? "Overview" : $0.title, $0.path) }
        }
        if can(.queryCohort) { items.append(("Cohorts", "/cohorts")) }
        if can(.viewWorklist) { items.append(("Worklists", "/worklists")) }
        if can(.evaluate) { items.append(("Evaluations", "/evaluations")) }
        if can(.viewAudit) { items.append(("Audit", "/audit")) }
        if can(.reviewLinkage) { items.append(("Linkage review", "/linkage-review")) }
        return items
    }

    static func page(_ title: String, _ body: String, signedIn entry: WebSessions.Entry? = nil) -> String {
        var header = "<header><p class=\"brand\">phm</p>"
        if let entry {
            let links = menu(entry.session).map { "<a href=\"\($0.path)\">\(escape($0.title))</a>" }.joined(separator: " ")
            header += """
                <nav aria-label="Main">\(links)</nav>
                <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(entry.csrf)">
                <span>\(escape(entry.session.user.name)) (\(escape(entry.session.user.role.rawValue)), \(escape(entry.session.purpose.rawValue)))</span>
                <button type="submit">Sign out</button></form>
                """
        }
        header += "</header>"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) - phm</title><link rel="stylesheet" href="/app.css"><link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
            <body><a class="skip" href="#main">Skip to content</a>\(header)<main id="main"><h1>\(escape(title))</h1>\(body)</main></body></html>
            """
    }

    // MARK: dashboards

    /// A dashboard's body: where in the hierarchy, the page's choices, then each panel's chart,
    /// table and CSV download. The same for every user, so it is cached (`PageCache`).
    static func dashboard(_ dashboard: Dashboard, _ p: Publication, _ q: PageQuery, panels: [Panel]) -> String {
        func link(_ unit: PublishedUnit) -> String {
            "\(dashboard.path)?\(query(unit: unit.code, q, dashboard))"
        }
        let path = p.path(to: q.unit.code)
        var body = "<nav aria-label=\"Hierarchy\" class=\"crumbs\"><ol>"
        for (i, unit) in path.enumerated() {
            let text = "\(escape(unit.name)) <small>(\(unit.level.rawValue) \(escape(unit.code)))</small>"
            body +=
                i == path.count - 1
                ? "<li aria-current=\"page\">\(text)</li>" : "<li><a href=\"\(escape(link(unit)))\">\(text)</a></li>"
        }
        body += "</ol></nav>"
        let children = p.children(of: q.unit.code)
        body += "<form method=\"get\" action=\"\(dashboard.path)\" class=\"choices\">"
        if !children.isEmpty {
            let options = children.map { "<option value=\"\(escape($0.code))\">\(escape($0.name))</option>" }.joined()
            body += "<label for=\"unit\">Drill down to</label> <select id=\"unit\" name=\"unit\">\(options)</select> "
        } else {
            body += "<input type=\"hidden\" name=\"unit\" value=\"\(escape(q.unit.code))\">"
        }
        func select(_ name: String, _ label: String, _ options: [String], _ chosen: String) -> String {
            guard !options.isEmpty else { return "" }
            let list = options.map {
                "<option value=\"\(escape($0))\"\($0 == chosen ? " selected" : "")>\(escape(dashboard.choiceLabel($0)))</option>"
            }.joined()
            return "<label for=\"\(name)\">\(label)</label> <select id=\"\(name)\" name=\"\(name)\">\(list)</select> "
        }
        body += select("indicator", "Indicator", dashboard.indicators(p), q.indicator)
        body += select(
            "measure", dashboard == .variation ? "SPC measure" : dashboard == .quality ? "Figure over runs" : "Measure",
            dashboard.measures(p), q.measure)
        body += "<button type=\"submit\">Show</button></form>"
        body +=
            "<p class=\"meta\">Run \(p.runId), as of \(p.asOf). Planning figures: people with a National Data Opt-out are left out, counts of 1 to 7 suppressed (shown *) and others rounded to 5.</p>"
        for panel in panels {
            let csv = "/api/pages/\(dashboard.rawValue)/\(panel.id)/csv?\(query(unit: q.unit.code, q, dashboard))"
            body += "<section aria-labelledby=\"\(panel.id)\"><h2 id=\"\(panel.id)\">\(escape(panel.title))</h2>"
            if !panel.note.isEmpty { body += "<p>\(escape(panel.note))</p>" }
            body += "<div class=\"panel\">"
            // A chart's figures are in the table beside it: the figure says so and links to it, for
            // those who cannot see the chart.
            let tableId = "\(panel.id)-table", folded = panel.table.rows.count > 25 && panel.chart != nil
            if let chart = panel.chart {
                let description =
                    (panel.note.isEmpty ? panel.title : panel.note) + " The figures are in the table beside the chart."
                body +=
                    "<figure>\(chart.svg(title: panel.title, description: description))<figcaption class=\"meta\"><a href=\"#\(tableId)\">The chart's figures as a table</a></figcaption></figure>"
            }
            let table = self.table(panel.table, caption: panel.title, id: folded ? nil : tableId)
            body +=
                folded
                ? "<details id=\"\(tableId)\"><summary>Table (\(number(panel.table.rows.count)) rows)</summary>\(table)</details>"
                : table
            let svg = "/api/pages/\(dashboard.rawValue)/\(panel.id)/svg?\(query(unit: q.unit.code, q, dashboard))"
            body +=
                "</div><p class=\"downloads\"><a href=\"\(escape(csv))\" download>Download the table (CSV)</a>"
                + (panel.chart == nil ? "" : " <a href=\"\(escape(svg))\" download>Download the chart (SVG)</a>")
                + "</p></section>"
        }
        // Adds a PNG download beside each chart's SVG, where scripts run.
        return body + "<script src=\"/app.js\" defer></script>"
    }

    static func query(unit: String, _ q: PageQuery, _ dashboard: Dashboard) -> String {
        var items = ["unit=" + (unit.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")]
        if dashboard == .inequalities || dashboard == .variation { items.append("indicator=" + q.indicator) }
        if dashboard == .variation || dashboard == .projections || dashboard == .quality {
            items.append("measure=" + (q.measure.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        }
        return items.joined(separator: "&")
    }

    /// The seed table's columns, whose names are the seed's: means per person, a share as a fraction.
    static let seedHeadings = [
        "ltc_count": "Long-term conditions", "patients": "Patients", "pct_patients": "Share of patients",
        "ae_attendances": "A&E attendances per person", "outpatient_attendances": "Outpatient attendances per person",
        "elective_admissions": "Elective admissions per person", "emergency_admissions": "Emergency admissions per person",
        "total_apc_cost_gbp": "Admitted care cost per person (GBP)",
        "emergency_admission_cost_gbp": "Emergency admission cost per person (GBP)",
        "unique_prescription_types": "Different medicines per person",
        "risk_persistent_high_cost": "Mean risk of persistent high cost",
        "risk_emergency_admission_12m": "Mean risk of emergency admission",
    ]

    /// A column's name in words: `mean_cost_gbp` is "Mean cost per person (GBP)",
    /// `pct_aged_65_plus` "Aged 65 plus (%)", `ratio_lower_95` "Ratio lower 95%".
    static func heading(_ column: String) -> String {
        if let seed = seedHeadings[column] { return seed }
        var words = column.split(separator: "_").map(String.init)
        // Shares of cost: `top_0_5_pct_share` and `lorenz_20`.
        if words.first == "lorenz", words.count == 2 { return "Cost share of the cheapest \(words[1])%" }
        if words.first == "top", words.suffix(2) == ["pct", "share"] {
            return "Cost share of the top \(words.dropFirst().dropLast(2).joined(separator: "."))%"
        }
        var suffix = ""
        if words.last == "gbp" {
            words.removeLast()
            suffix = " (GBP)"
        }
        if words.first == "pct", words.count > 1 {
            words.removeFirst()
            suffix = " (%)"
        } else if words.last == "pct", words.count > 1 {
            words.removeLast()
            suffix = " (%)"
        }
        if words.count > 2, words.suffix(2) == ["per", "1000"] { words[words.count - 1] = "1,000" }
        if words.first == "mean", suffix == " (GBP)" { words.append(contentsOf: ["per", "person"]) }
        let named = ["ae": "A&E", "ltc": "LTC", "imd": "IMD", "gp": "GP", "apc": "admitted care", "95": "95%", "998": "99.8%"]
        let text = words.map { named[$0] ?? $0 }.joined(separator: " ") + suffix
        return text.prefix(1).uppercased() + text.dropFirst()
    }

    /// A published table for people: headers in words, numbers formatted, and each empty cell
    /// marked as suppressed (`*`, on a row whose note says so), not available (`..`) or not
    /// applicable (`-`). So that it reads without scrolling sideways, a column holding one value
    /// on every row is said once under the caption, and a table of one to three rows with many
    /// columns is turned on its side, a row per column. The CSV download keeps every column.
    static func table(_ t: PanelTable, caption: String, id: String? = nil) -> String {
        let formats = t.columns.map { t.formats[$0] ?? Format.of(column: $0) }
        let rowFormat = t.column("format"), note = t.column(RowNote.column)
        // Decimals and money keep one number of places down a column, enough for its smallest
        // value, so 0.500 and 1.20 do not stand one above the other. A table whose rows say their
        // own format holds a different quantity on each row: each keeps its own places.
        // Rows of different measures (a rate beside its RII) keep places of their own.
        let measure = t.column("measure")
        let places = t.columns.indices.map { c -> [String: Int] in
            guard formats[c] == .decimal || formats[c] == .money, rowFormat == nil else { return [:] }
            let groups = Dictionary(grouping: t.rows.filter { $0.count > c }) { row in
                measure.map { $0 < row.count ? row[$0] : "" } ?? ""
            }
            return groups.mapValues { rows in
                let smallest = rows.compactMap { Double($0[c]).map(abs) }.filter { $0 > 0 }.min() ?? 0
                if formats[c] == .money { return smallest >= 100 ? 0 : 2 }
                return smallest >= 100 ? 0 : smallest >= 10 ? 1 : smallest >= 1 ? 2 : 3
            }
        }
        let cells = t.rows.enumerated().map { r, row in
            let suppressed = note.map { $0 < row.count && row[$0] == RowNote.suppressed } ?? false
            return row.enumerated().map { c, field -> Cell in
                // A headline table says each value's format in its own column.
                let format =
                    c == t.column("value") && rowFormat.map({ $0 < row.count }) == true
                    ? Format(rawValue: row[rowFormat!]) ?? .decimal : formats[c]
                let applies = r >= t.notApplicable.count || c >= t.notApplicable[r].count || !t.notApplicable[r][c]
                if field.isEmpty && !applies { return .empty(.notApplicable) }
                if format == .text { return .text(escape(field)) }
                if field.isEmpty { return .empty(note == nil ? .unknown : suppressed ? .suppressed : .notAvailable) }
                let fixed = format == formats[c] ? places[c][measure.map { $0 < row.count ? row[$0] : "" } ?? ""] : nil
                return .number(escape(fixed.map { format.show(field: field, places: $0) } ?? format.show(field: field)))
            }
        }
        let width = t.columns.count
        var shown = t.columns.indices.filter { $0 != rowFormat && $0 != note }
        // Said once under the caption: a column with one value on every row, and one empty on
        // every row.
        var constant: [Int] = [], blank: [Int] = []
        if t.rows.count > 1, t.rows.allSatisfy({ $0.count == width }) {
            constant = shown.filter { c in
                let first = t.rows[0][c]
                return !first.isEmpty && t.rows.allSatisfy { $0[c] == first }
            }
            blank = shown.filter { c in t.rows.allSatisfy { $0[c].isEmpty } }
            shown.removeAll { constant.contains($0) || blank.contains($0) }
        }
        var out = "<div class=\"scroll\"\(id.map { " id=\"\($0)\"" } ?? "")><table><caption>\(escape(caption))"
        if !constant.isEmpty {
            let said = constant.map { "\(escape(heading(t.columns[$0]))): \(cells[0][$0].html)" }
            out += "<span class=\"meta\">On every row: \(said.joined(separator: "; "))</span>"
        }
        if !blank.isEmpty {
            let said = blank.map { c in
                let reasons = Set(cells.map { $0[c].reason })
                let reason = reasons.count == 1 ? reasons.first ?? "" : ""
                return escape(heading(t.columns[c])) + (reason.isEmpty ? "" : " (\(reason))")
            }
            out += "<span class=\"meta\">Empty on every row: \(said.joined(separator: "; "))</span>"
        }
        out += "</caption>"
        func cell(_ r: Int, _ c: Int) -> String {
            guard c < cells[r].count else { return "<td></td>" }
            if case .text(let html) = cells[r][c] { return "<td>\(html)</td>" }
            return "<td class=\"n\">\(cells[r][c].html)</td>"
        }
        if (1...3).contains(t.rows.count), shown.count > 8, let label = shown.first {
            // On its side: the first column names the rows, which become the columns.
            out += "<thead><tr><th scope=\"col\">\(escape(heading(t.columns[label])))</th>"
            for r in t.rows.indices { out += "<th scope=\"col\">\(label < cells[r].count ? cells[r][label].html : "")</th>" }
            out += "</tr></thead><tbody>"
            for c in shown.dropFirst() {
                out += "<tr><th scope=\"row\">\(escape(heading(t.columns[c])))</th>"
                for r in t.rows.indices { out += cell(r, c) }
                out += "</tr>"
            }
            return out + "</tbody></table></div>"
        }
        // Many columns are split into parts of at most seven figures, each part repeating the
        // columns that name the rows.
        let labels = Array(shown.prefix { formats[$0] == .text })
        let figures = Array(shown.dropFirst(labels.count))
        let parts = figures.count > 8 ? (figures.count + 6) / 7 : 1
        let size = (figures.count + parts - 1) / max(parts, 1)
        for part in 0..<parts {
            let columns = labels + figures.dropFirst(part * size).prefix(size)
            if part > 0 { out += "<div class=\"scroll\"><table><caption>\(escape(caption)) (continued)</caption>" }
            out += "<thead><tr>"
            for c in columns { out += "<th scope=\"col\">\(escape(heading(t.columns[c])))</th>" }
            out += "</tr></thead><tbody>"
            for r in t.rows.indices {
                out += "<tr>"
                for c in columns { out += cell(r, c) }
                out += "</tr>"
            }
            out += "</tbody></table></div>"
        }
        return out
    }

    /// A cell of a table for people.
    enum Cell {
        enum Empty: String {
            case suppressed = "suppressed: a small count", notAvailable = "not available", notApplicable = "does not apply"
            /// In a table without a note.
            case unknown = "suppressed or not available"
        }
        case text(String), number(String), empty(Empty)

        var html: String {
            switch self {
            case .text(let html), .number(let html): html
            case .empty(.suppressed): "<abbr title=\"\(Empty.suppressed.rawValue)\">*</abbr>"
            case .empty(.unknown): "<abbr title=\"\(Empty.unknown.rawValue)\">*</abbr>"
            case .empty(.notAvailable): "<abbr title=\"\(Empty.notAvailable.rawValue)\">..</abbr>"
            case .empty(.notApplicable): "<abbr title=\"\(Empty.notApplicable.rawValue)\">-</abbr>"
            }
        }

        var reason: String {
            if case .empty(let why) = self { return why.rawValue }
            return ""
        }
    }

    static func login(csrf: String, message: String?) -> String {
        let options = Purpose.allCases.map {
            "<option value=\"\($0.rawValue)\">\(Dashboard.label($0.rawValue))</option>"
        }
        .joined()
        return page(
            "Sign in",
            (message.map { "<p role=\"alert\" class=\"error\">\(escape($0))</p>" } ?? "") + """
                <form method="post" action="/login">
                <input type="hidden" name="csrf" value="\(csrf)">
                <p><label for="user">User name</label> <input id="user" name="user" autocomplete="username" required></p>
                <p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
                <p><label for="purpose">Purpose</label> <select id="purpose" name="purpose">\(options)</select></p>
                <p><button type="submit">Sign in</button></p>
                </form>
                """)
    }

    static func cohort(
        _ entry: WebSessions.Entry, definition: String, result: CohortResult?, error: String?, saved: CohortRecord? = nil,
        vocabulary: Composer.Vocabulary = .init()
    ) -> String {
        var body = """
            <form method="post" action="/cohorts">
            <input type="hidden" name="csrf" value="\(entry.csrf)">
            <p><label for="definition">Definition</label></p>
            <div class="suggest"><textarea id="definition" name="definition" rows="4" cols="80" aria-describedby="definition-help" \
            aria-autocomplete="list" aria-controls="definition-suggestions">\(escape(definition))</textarea>
            <ul id="definition-suggestions" role="listbox" aria-label="Suggestions" hidden></ul></div>
            <p id="definition-help" class="meta" hidden>Suggestions appear as you type; Up and Down choose, Enter takes one, Escape closes them.</p>
            <span id="definition-status" class="hidden" role="status" aria-live="polite"></span>
            <datalist id="definition-words">\(vocabulary.words.map { "<option value=\"\(escape($0.shown))\" data-text=\"\(escape($0.text))\">" }.joined())</datalist>
            \(Composer.reference(vocabulary))
            <p><output id="live-count" for="definition" aria-live="polite"></output></p>
            <p><button type="submit">Count and profile</button>
            <label for="name">Save as</label> <input id="name" name="name">
            <button type="submit" formaction="/cohorts/save">Save</button></p>
            <fieldset><legend>Add a criterion</legend>
            \(Composer.form(vocabulary))
            <button type="submit" name="compose" value="1" formnovalidate>Add and count</button></fieldset>
            </form>
            """
        if let saved { body += "<p role=\"status\">Saved \(escape(saved.name)) version \(saved.version).</p>" }
        if let error { body += "<p role=\"alert\" class=\"error\">\(escape(error))</p>" }
        if let result {
            let p = result.published()
            func shown(_ n: Int?) -> String { n.map(number) ?? "<abbr title=\"suppressed: 1 to 7 people\">*</abbr>" }
            body += "<h2>\(shown(p.size)) of \(shown(p.populationSize)) people</h2>"
            if result.suppressed {
                body +=
                    "<p>Counts of 1 to 7 are suppressed; others are rounded to 5, up or down by a key fixed for each set of people, so asking again gives the same answer and two cohorts differing by one person cannot be told apart by it.</p>"
            }
            // The cohort's age and sex, drawn from the same published counts as the table.
            func band(_ sex: String) -> [Double?] {
                p.groups.filter { $0.group.breakdown == "age_" + sex }.map { $0.cohort.map(Double.init) }
            }
            let pyramid = Chart.pyramid(
                .init(
                    labels: CohortProfile.pyramidBands, left: band("female"), right: band("male"), leftName: "Female",
                    rightName: "Male"))
            body +=
                "<figure>\(pyramid.svg(title: "The cohort by age and sex", description: "Five-year age bands, female on the left and male on the right; the counts are in the tables below."))<figcaption class=\"meta\">The chart's figures as tables: <a href=\"#groups-age_female\">female by age</a>, <a href=\"#groups-age_male\">male by age</a></figcaption></figure>"
            // The cohort beside the population, a table per breakdown with each group's share of
            // both (from the published counts); long breakdowns fold away.
            func share(_ n: Int?, of total: Int?) -> String {
                guard let n, let total, total > 0 else { return "" }
                return Format.percent.show(100 * Double(n) / Double(total))
            }
            var breakdowns: [(name: String, groups: [PublishedProfile.Group])] = []
            for g in p.groups {
                if breakdowns.last?.name == g.group.breakdown {
                    breakdowns[breakdowns.count - 1].groups.append(g)
                } else {
                    breakdowns.append((g.group.breakdown, [g]))
                }
            }
            body += "<h2>The cohort beside the population</h2><div class=\"profile\">"
            // Short breakdowns side by side first, then the long ones folded, one under another.
            let short = breakdowns.filter { $0.groups.count <= 12 }, long = breakdowns.filter { $0.groups.count > 12 }
            for (k, (name, groups)) in (short + long).enumerated() {
                if k == short.count { body += "</div><div>" }
                let title = Dashboard.title(name)
                let id = "groups-" + escape(name)
                var table =
                    "<table\(groups.count > 12 ? "" : " id=\"\(id)\"")><caption>\(escape(title))</caption><thead><tr><th scope=\"col\">Group</th><th scope=\"col\">Cohort</th><th scope=\"col\">Cohort (%)</th><th scope=\"col\">Population</th><th scope=\"col\">Population (%)</th></tr></thead><tbody>"
                for g in groups {
                    table +=
                        "<tr><td>\(escape(Dashboard.label(g.group.group)))</td><td class=\"n\">\(shown(g.cohort))</td><td class=\"n\">\(share(g.cohort, of: p.size))</td><td class=\"n\">\(shown(g.population))</td><td class=\"n\">\(share(g.population, of: p.populationSize))</td></tr>"
                }
                table += "</tbody></table>"
                body +=
                    groups.count > 12
                    ? "<details id=\"\(id)\"><summary>\(escape(title)) (\(groups.count) groups)</summary>\(table)</details>"
                    : table
            }
            body += "</div>"
        }
        // Counts as the definition is typed, where scripts run.
        body += "<script src=\"/app.js\" defer></script>"
        return page("Cohort", body, signedIn: entry)
    }

    static func worklists(_ entry: WebSessions.Entry, cohorts: [CohortRecord]) -> String {
        let options = cohorts.map { "<option value=\"\(escape($0.name))\">\(escape($0.name)): \(escape($0.text))</option>" }
            .joined()
        return page(
            "Worklists",
            """
            <p>Open a saved cohort as your practice's worklist. The people on it are re-identified for
            their direct care; the reason you give is written to the audit log.</p>
            <form method="post" action="/worklists/open">
            <input type="hidden" name="csrf" value="\(entry.csrf)">
            <p><label for="cohort">Cohort</label> <select id="cohort" name="cohort">\(options)</select></p>
            <p><label for="reason">Reason</label> <input id="reason" name="reason" required size="60"></p>
            <p><button type="submit">Open worklist</button></p>
            </form>
            """, signedIn: entry)
    }

    /// The evaluation page: the definition, then (once run) diagnostics before effects.
    static func evaluation(_ entry: WebSessions.Entry, definition: String, result: EvaluationResult?, error: String?)
        -> String
    {
        var body = """
            <p>Did an intervention work? The people exposed (given a worklist status in a period, or
            registered in a place from a start date) are compared with matched people who were not,
            before and after. See the definition's form in the documentation (<code>docs/evaluation.md</code>);
            a list of people is evaluated with <code>phm evaluate</code>.</p>
            <form method="post" action="/evaluations">
            <input type="hidden" name="csrf" value="\(entry.csrf)">
            <p><label for="definition">Definition</label></p>
            <textarea id="definition" name="definition" rows="12" cols="96" maxlength="\(Session.maximumEvaluationDefinition)" \
            spellcheck="false">\(escape(definition))</textarea>
            <p><button type="submit">Evaluate</button></p>
            </form>
            """
        if let error { body += "<p role=\"alert\" class=\"error\">\(escape(error))</p>" }
        guard let r = result else { return page("Evaluations", body, signedIn: entry) }
        func rate(_ v: Double?) -> String { v.map { Format.grouped($0, decimals: abs($0) >= 100 ? 0 : 2) } ?? "" }
        func people(_ n: Int?) -> String { n.map(number) ?? "<abbr title=\"withheld: a small number\">*</abbr>" }
        func percent(_ i: EvaluationResult.Interval) -> String { escape(i.describe(percent: true)) }
        func signed(_ i: EvaluationResult.Interval) -> String { escape(i.describe(percent: false)) }
        func capitalised(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }
        body += "<h2>\(escape(r.name))</h2>"
        body +=
            "<p class=\"meta\">Run \(r.runId), data to \(escape(r.asOf)). Pre window \(r.options.preMonths) months, post window \(r.options.postMonths) months; the month each person started is in neither. \(escape(EvaluationResult.intervalMethod)).</p>"
        if r.planning {
            body +=
                "<p>Published for planning: counts of people are perturbed (1 to 7 withheld, others rounded to 5 at random), means, rates and effects are rounded at random to a step at least what one person or matched set can change them by, and each matched set's use in a window is capped at the 99th centile of the sets'.</p>"
        }
        // The headline only when balance holds; otherwise the effects are shown, flagged, below the diagnostics.
        let primary = r.effects.filter { !$0.negativeControl }
        if r.withheld {
            body +=
                "<p class=\"warning\"><strong>Balance failed: the effects are withheld from any headline.</strong> The exposed and their matched controls still differ on covariates marked in the balance table, so a difference in outcomes may reflect who they were rather than what was done.</p>"
        } else if let first = primary.first {
            body +=
                "<p class=\"headline\">\(escape(capitalised(first.description))): \(percent(first.relative)) against matched controls; the exposed people's own before-and-after change was \(percent(first.naiveRelative)) (naive: regression to the mean alone makes it fall).</p>"
        }
        if !r.warnings.isEmpty {
            body += "<ul class=\"warnings\">" + r.warnings.map { "<li>Warning: \(escape($0))</li>" }.joined() + "</ul>"
        }
        body +=
            "<h2>People at each step</h2><table><caption>People at each step</caption><thead><tr><th scope=\"col\">Step</th><th scope=\"col\">People</th></tr></thead><tbody>"
        for s in r.steps { body += "<tr><th scope=\"row\">\(escape(s.step))</th><td class=\"n\">\(people(s.people))</td></tr>" }
        body +=
            "</tbody></table><p class=\"meta\">Index months: "
            + r.indexMonths.map { "\(escape(String($0.month.prefix(7)))) (\(people($0.treated)))" }.joined(separator: ", ")
            + ".</p>"

        body += "<h2>Effects\(r.withheld ? " (withheld from the headline)" : "")</h2>"
        body +=
            "<table id=\"effects\"><caption>Rates per person-year; relative effects are ratios of rate ratios minus 1, absolute effects differences in differences</caption><thead><tr><th scope=\"col\">Outcome</th><th scope=\"col\">Exposed pre</th><th scope=\"col\">Exposed post</th><th scope=\"col\">Controls pre</th><th scope=\"col\">Controls post</th><th scope=\"col\">Relative effect</th><th scope=\"col\">Absolute effect</th><th scope=\"col\">Naive change</th></tr></thead><tbody>"
        for e in r.effects {
            let label = capitalised(e.negativeControl ? "\(e.description) (negative control)" : e.description)
            body +=
                "<tr><th scope=\"row\">\(escape(label))</th><td class=\"n\">\(rate(e.treatedPre))</td><td class=\"n\">\(rate(e.treatedPost))</td><td class=\"n\">\(rate(e.controlsPre))</td><td class=\"n\">\(rate(e.controlsPost))</td><td>\(percent(e.relative))</td><td>\(signed(e.absolute))</td><td>\(percent(e.naiveRelative))</td></tr>"
        }
        body += "</tbody></table>"

        // The event study: monthly differences with their intervals; pre-index months should sit near 0.
        for e in primary {
            let months = r.eventStudy.filter { $0.outcome == e.outcome }
            let shown = months.filter { $0.difference.estimate != nil }
            guard !shown.isEmpty else { continue }
            let banded = shown.filter { $0.difference.low != nil && $0.difference.high != nil }
            var series: [Chart.Plot.Series] = []
            if !banded.isEmpty {
                series.append(
                    .init(
                        name: "95% interval", points: banded.map { (Double($0.month), $0.difference.high!) }, style: .band,
                        colour: 5, lower: banded.map { $0.difference.low! }))
            }
            series.append(
                .init(
                    name: "exposed minus controls", points: shown.map { (Double($0.month), $0.difference.estimate!) },
                    style: .line, colour: 0))
            let first = Double(months.first?.month ?? -1), last = Double(months.last?.month ?? 1)
            series.append(.init(name: "no difference", points: [(first, 0), (last, 0)], style: .dotted, colour: 6))
            let chart = Chart.plot(
                .init(
                    x: .init(title: "Months from the index month", range: first...last, format: .decimal),
                    y: .init(title: "Difference in rate per person-year", format: .decimal), series: series))
            let id = "event-\(escape(e.outcome))"
            body +=
                "<h3>\(escape(capitalised(e.description))): event study</h3><figure>\(chart.svg(title: "\(capitalised(e.description)): exposed minus controls by month", description: "Monthly difference in rate per person-year from the index month, with 95% intervals; before the index month it should be near 0 (parallel trends). The numbers are in the table that follows."))<figcaption>\(escape(capitalised(e.description))): exposed minus controls by month from the index month. <a href=\"#\(id)\">The chart's figures as a table</a></figcaption></figure>"
            body +=
                "<details id=\"\(id)\"><summary>The event study as a table</summary><table><caption>\(escape(capitalised(e.description))) by month from the index month</caption><thead><tr><th scope=\"col\">Month</th><th scope=\"col\">Difference (95% interval)</th></tr></thead><tbody>"
            for m in months { body += "<tr><td class=\"n\">\(m.month)</td><td>\(signed(m.difference))</td></tr>" }
            body += "</tbody></table></details>"
        }

        // The place against its synthetic control, where the scheme is a place.
        if let note = r.syntheticControlNote { body += "<h2>Synthetic control</h2><p>\(escape(capitalised(note))).</p>" }
        if !r.syntheticControl.isEmpty {
            body +=
                "<h2>Synthetic control</h2><p>The place against a weighted average of practices outside it that tracks it before the start (Abadie, Diamond and Hainmueller 2010). The p-value ranks the place's mean gap after the start, over its gap before, among placebos: each donor practice treated as the place.</p>"
        }
        for c in r.syntheticControl {
            let weights = c.weights.prefix(5).map { "\($0.practice) \(Format.grouped($0.weight, decimals: 2))" }
                .joined(separator: ", ")
            let shownWeights = c.weights.isEmpty ? "withheld for planning" : weights
            let relative = c.relative.map { " (" + String(format: "%+.1f%%", 100 * $0) + ")" } ?? ""
            body += "<h3>\(escape(capitalised(c.description))): the place and its synthetic control</h3>"
            body +=
                "<p>After the start, the place differed from its synthetic control by \(Format.grouped(c.effect, decimals: 3)) a person-year\(relative), placebo p = \(Format.grouped(c.pValue, decimals: 3)); before it, the root mean squared gap was \(Format.grouped(c.preRMSPE, decimals: 3)). \(c.donors) donor practices; the largest weights: \(escape(shownWeights)).</p>"
            let id = "synthetic-\(escape(c.outcome))"
            let first = Double(c.months.first?.month ?? -1), last = Double(c.months.last?.month ?? 1)
            let chart = Chart.plot(
                .init(
                    x: .init(title: "Months from the start", range: first...last, format: .decimal),
                    y: .init(title: "Rate per person-year", format: .decimal),
                    series: [
                        .init(name: "the place", points: c.months.map { (Double($0.month), $0.place) }, style: .line, colour: 0),
                        .init(
                            name: "synthetic control", points: c.months.map { (Double($0.month), $0.synthetic) }, style: .dashed,
                            colour: 1),
                    ]))
            let title = "\(capitalised(c.description)): the place and its synthetic control"
            body +=
                "<figure>\(chart.svg(title: title, description: "Monthly rate per person-year of the place and of its synthetic control, from the pre window to the end of the post window; the numbers are in the table that follows."))<figcaption>\(escape(title)), by month. <a href=\"#\(id)\">The chart's figures as a table</a></figcaption></figure>"
            body +=
                "<details id=\"\(id)\"><summary>The place and its synthetic control as a table</summary><table><caption>\(escape(capitalised(c.description))) by month from the start</caption><thead><tr><th scope=\"col\">Month</th><th scope=\"col\">The place</th><th scope=\"col\">Synthetic control</th></tr></thead><tbody>"
            for m in c.months {
                body +=
                    "<tr><th scope=\"row\" class=\"n\">\(m.month)</th><td class=\"n\">\(rate(m.place))</td><td class=\"n\">\(rate(m.synthetic))</td></tr>"
            }
            body += "</tbody></table></details>"
        }

        // Overlap of the preference scores.
        let bins = r.overlap.treated.count
        let mids = (0..<bins).map { (Double($0) + 0.5) / Double(bins) }
        let overlap = Chart.plot(
            .init(
                x: .init(title: "Preference score", range: 0...1, format: .decimal),
                y: .init(title: "Share of the group (%)", format: .decimal),
                series: [
                    .init(name: "exposed", points: zip(mids, r.overlap.treated).map { ($0, 100 * $1) }, style: .line, colour: 0),
                    .init(
                        name: "not exposed", points: zip(mids, r.overlap.controls).map { ($0, 100 * $1) }, style: .dashed,
                        colour: 1),
                ]))
        body +=
            "<h2>Overlap</h2><p>Preference scores (the propensity score with the share exposed removed; Walker et al. 2013). In equipoise (0.3 to 0.7): \(Format.share.show(r.overlap.equipoiseTreated)) of the exposed, \(Format.share.show(r.overlap.equipoiseControls)) of the unexposed sample.</p>"
        body +=
            "<figure>\(overlap.svg(title: "Preference scores of the exposed and the unexposed", description: "The share of each group in each twentieth of the preference score; the numbers are in the table that follows."))<figcaption>Preference scores of the exposed and the unexposed. <a href=\"#overlap-table\">The chart's figures as a table</a></figcaption></figure>"
        body +=
            "<details id=\"overlap-table\"><summary>The overlap as a table</summary><table><caption>Share of each group by preference score</caption><thead><tr><th scope=\"col\">Preference score</th><th scope=\"col\">Exposed</th><th scope=\"col\">Not exposed</th></tr></thead><tbody>"
        for i in 0..<bins {
            body +=
                "<tr><td>\(Format.grouped(Double(i) / Double(bins), decimals: 2)) to \(Format.grouped(Double(i + 1) / Double(bins), decimals: 2))</td><td class=\"n\">\(Format.share.show(r.overlap.treated[i]))</td><td class=\"n\">\(Format.share.show(r.overlap.controls[i]))</td></tr>"
        }
        body += "</tbody></table></details>"

        body +=
            "<h2>Balance</h2><p>Standardised mean differences before and after matching, both over the spread before matching. A covariate fails at \(Format.grouped(r.balanceLimit, decimals: 2)) or more.</p>"
        body +=
            "<table id=\"balance\"><caption>Covariates of the exposed and the unexposed, before and after matching</caption><thead><tr><th scope=\"col\">Covariate</th><th scope=\"col\">Exposed before</th><th scope=\"col\">Unexposed before</th><th scope=\"col\">SMD before</th><th scope=\"col\">Exposed after</th><th scope=\"col\">Controls after</th><th scope=\"col\">SMD after</th></tr></thead><tbody>"
        for b in r.balance {
            func mean(_ v: Double) -> String { Format.grouped(v, decimals: 2) }
            body +=
                "<tr><th scope=\"row\">\(escape(b.description))</th><td class=\"n\">\(mean(b.treatedBefore))</td><td class=\"n\">\(mean(b.controlsBefore))</td><td class=\"n\">\(mean(b.smdBefore))</td><td class=\"n\">\(mean(b.treatedAfter))</td><td class=\"n\">\(mean(b.controlsAfter))</td><td class=\"n\">\(mean(b.smdAfter))\(b.fails ? " <strong>fails</strong>" : "")</td></tr>"
        }
        body += "</tbody></table>"
        return page("Evaluations", body, signedIn: entry)
    }

    /// People per worklist page: only those shown are re-identified.
    static let worklistPage = 50
    /// The most the API re-identifies in one call.
    static let worklistMaximum = 100

    static func worklist(_ entry: WebSessions.Entry, _ list: PracticeWorklist, reason: String) -> String {
        let gapNames = Dictionary(uniqueKeysWithValues: list.gaps.map { ($0.id, $0.name) })
        var body = """
            <p>\(list.entries.isEmpty ? "None" : "\(number(list.offset + 1)) to \(number(list.offset + list.entries.count))") of \(number(list.total)) people at \(escape(list.practiceCode)) in \(escape(list.cohort.name)) (version \(list.cohort.version)), \(list.rankedBy.map { "highest risk first, ranked by \(escape($0))" } ?? "in pseudonym order: no risk model ranks this list").</p>
            \(list.since.map { "<p role=\"status\">Since you last looked (run \($0.runId), as of \($0.asOf)): \(number($0.entered.count)) entered the list (marked new) and \(number($0.left)) left it.</p>" } ?? "")
            <table><caption>Worklist</caption><thead><tr><th scope="col">Rank</th><th scope="col">Name</th><th scope="col">NHS number</th><th scope="col">Born</th><th scope="col">Age</th><th scope="col">Risk</th><th scope="col">Why</th><th scope="col">Care gaps</th><th scope="col">Status</th></tr></thead><tbody>
            """
        for e in list.entries {
            let who = e.identity.map { "\($0.givenName) \($0.familyName)" } ?? "not in the vault"
            let risk = e.entry.risk.map { String(format: "%.0f%%", 100 * $0) } ?? ""
            let statuses = WorklistStatus.allCases.map {
                "<option value=\"\($0.rawValue)\"\($0 == e.status ? " selected" : "")>\(Dashboard.label($0.rawValue))</option>"
            }.joined()
            body += """
                <tr><td class="n">\(e.entry.rank)</td><td>\(escape(who))\(e.isNew ? " <strong>new</strong>" : "")</td><td>\(escape(e.identity?.nhsNumber ?? ""))</td>
                <td>\(escape(e.identity?.dateOfBirth ?? ""))</td><td class="n">\(e.entry.age)</td>
                <td class="n">\(risk) \(escape(e.entry.tier.map(Dashboard.label) ?? ""))\(e.entry.rising ? " rising" : "")</td>
                <td>\(escape(e.entry.reasons.joined(separator: "; ")))</td>
                <td>\(escape(e.entry.gaps.map { gapNames[$0] ?? $0 }.joined(separator: "; ")))</td>
                <td><form method="post" action="/worklists/open">
                <input type="hidden" name="csrf" value="\(entry.csrf)"><input type="hidden" name="cohort" value="\(escape(list.cohort.name))"><input type="hidden" name="version" value="\(list.cohort.version)">
                <input type="hidden" name="reason" value="\(escape(reason))"><input type="hidden" name="offset" value="\(list.offset)">
                <input type="hidden" name="pseudonym" value="\(e.entry.pseudonym)">
                <label class="hidden" for="s\(e.entry.rank)">Status</label><select id="s\(e.entry.rank)" name="status">\(statuses)</select>
                <input name="note" aria-label="Note" value="\(escape(e.latest?.note ?? ""))"> <button type="submit" aria-label="Save the status of rank \(e.entry.rank)">Save</button></form></td></tr>
                """
        }
        body += "</tbody></table>"
        if !list.uncheckedGaps.isEmpty {
            let items = list.uncheckedGaps.map { "<li>\(escape(gapNames[$0.id] ?? $0.id)): \(escape($0.reason))</li>" }
            body += "<p role=\"status\">Care gaps not checked in this run:</p><ul>\(items.joined())</ul>"
        }
        // Earlier and later pages: forms, so the reason travels in the body and is audited again.
        var pages: [(String, Int)] = []
        if list.offset > 0 { pages.append(("Previous \(worklistPage)", max(0, list.offset - worklistPage))) }
        if list.offset + list.entries.count < list.total { pages.append(("Next \(worklistPage)", list.offset + worklistPage)) }
        for (label, offset) in pages {
            body += """
                <form method="post" action="/worklists/open" class="pager"><input type="hidden" name="csrf" value="\(entry.csrf)">
                <input type="hidden" name="cohort" value="\(escape(list.cohort.name))"><input type="hidden" name="reason" value="\(escape(reason))"><input type="hidden" name="version" value="\(list.cohort.version)">
                <input type="hidden" name="offset" value="\(offset)"><button type="submit">\(label)</button></form>
                """
        }
        return page("Worklist", body, signedIn: entry)
    }

    static func audit(_ entry: WebSessions.Entry, _ check: AuditCheck, entries: [AuditEntry]) -> String {
        var body = "<p role=\"status\">\(escape(check.verification.description))</p>"
        let when = AuditEntry.timestamp(check.wholeLogCheckedAt).prefix(19).replacingOccurrences(of: "T", with: " ")
        body +=
            check.whole
            ? "<p class=\"meta\">Checked from the first entry just now.</p>"
            : "<p class=\"meta\">The whole log was checked from its first entry at \(when) UTC; this view checked the \(check.checked == 1 ? "1 entry" : "\(number(check.checked)) entries") written since, after finding the last entry of that check unchanged.</p>"
        body += """
            <form method="post" action="/audit/verify"><input type="hidden" name="csrf" value="\(entry.csrf)">
            <button type="submit">Check the whole log now</button></form>
            """
        body +=
            "<table><caption>The latest entries</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">User</th><th scope=\"col\">Purpose</th><th scope=\"col\">Action</th><th scope=\"col\">Outcome</th><th scope=\"col\">Detail</th></tr></thead><tbody>"
        for e in entries.reversed() {
            body +=
                "<tr><td class=\"n\">\(e.sequence)</td><td>\(escape(e.at))</td><td>\(escape(e.user))</td><td>\(escape(e.purpose))</td><td>\(escape(e.action))</td><td>\(escape(e.outcome))</td><td><code>\(escape(String(e.detail.prefix(200))))</code></td></tr>"
        }
        body += "</tbody></table>"
        return page("Audit log", body, signedIn: entry)
    }

    // MARK: linkage review

    /// The review queue's size, and a button to show its first pairs (a POST: showing them
    /// re-identifies, so it is never a link).
    static func linkageReviewQueue(_ entry: WebSessions.Entry, total: Int, run: Int64?) -> String {
        var body =
            "<p>\(total == 0 ? "No" : number(total)) care \(total == 1 ? "record identity" : "record identities") of \(run.map { "run \($0)" } ?? "the latest run") the match weights could not decide, likeliest first. Each is shown beside the people it may be; judge whether it is one of them. Each run applies the judgements: a record judged the same as one person links to them, and a person judged different is no longer proposed.</p>"
        if total > 0 {
            body += """
                <form method="post" action="/linkage-review/open"><input type="hidden" name="csrf" value="\(entry.csrf)">
                <input type="hidden" name="offset" value="0"><button type="submit">Show the first \(min(total, Session.reviewPageLimit))</button></form>
                """
        }
        return page("Linkage review", body, signedIn: entry)
    }

    static func linkageReview(_ entry: WebSessions.Entry, _ review: LinkageReviewPage, message: String? = nil) -> String {
        let fields: [(String, KeyPath<ReviewPair.Side, String>, Int)] = [
            ("Given name", \.givenName, 2), ("Family name", \.familyName, 3), ("Date of birth", \.dateOfBirth, 1),
            ("Sex", \.sex, 5), ("Postcode", \.postcode, 4),
        ]
        var body = message.map { "<p class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? ""
        body +=
            "<p>\(review.pairs.isEmpty ? "None" : "\(number(review.offset + 1)) to \(number(review.offset + review.pairs.count))") of \(number(review.total)) undecided record identities. Names and postcodes are shown as linkage compares them; beside each value of a candidate, how it agrees with the record.</p>"
        for pair in review.pairs {
            let judged = review.judgements[pair.id] ?? [:]
            var head = "<th scope=\"col\">Field</th><th scope=\"col\">Record</th>"
            for (i, c) in pair.candidates.enumerated() {
                head += "<th scope=\"col\">Person \(i + 1): \(String(format: "%.1f%%", 100 * c.probability)) likely</th>"
            }
            func cell(_ value: String, _ level: String?) -> String {
                "<td>\(value.isEmpty ? "<span class=\"meta\">missing</span>" : escape(value))\(level.map { " <span class=\"meta\">(\(escape($0)))</span>" } ?? "")</td>"
            }
            var rows = "<tr><th scope=\"row\">Record id</th><td>\(escape(pair.recordId))</td>"
            rows += String(repeating: "<td></td>", count: pair.candidates.count) + "</tr>"
            rows += "<tr><th scope=\"row\">NHS number</th>" + cell(pair.record.nhsNumber ?? "", nil)
            for c in pair.candidates { rows += cell(c.registration.nhsNumber ?? "", c.levels.first) }
            rows += "</tr>"
            for (label, path, field) in fields {
                rows += "<tr><th scope=\"row\">\(label)</th>" + cell(pair.record[keyPath: path], nil)
                for c in pair.candidates {
                    rows += cell(c.registration[keyPath: path], c.levels.indices.contains(field) ? c.levels[field] : nil)
                }
                rows += "</tr>"
            }
            rows += "<tr><th scope=\"row\">Practice</th><td></td>"
            for c in pair.candidates { rows += "<td>\(escape(c.practiceCode))</td>" }
            rows += "</tr><tr><th scope=\"row\">Judgement</th><td></td>"
            for (i, c) in pair.candidates.enumerated() {
                let earlier =
                    judged[c.person].map {
                        "<p>Judged \($0.same ? "the same person" : "a different person") by \(escape($0.reviewer)), \(escape(String(AuditEntry.timestamp($0.decidedAt).prefix(10))))</p>"
                    } ?? ""
                rows += """
                    <td>\(earlier)<form method="post" action="/linkage-review/judge"><input type="hidden" name="csrf" value="\(entry.csrf)">
                    <input type="hidden" name="run" value="\(pair.runId)"><input type="hidden" name="pair" value="\(pair.id)">
                    <input type="hidden" name="candidate" value="\(i)"><input type="hidden" name="offset" value="\(review.offset)">
                    <button type="submit" name="judgement" value="same" aria-label="Pair \(pair.id), person \(i + 1): the same person">Same person</button>
                    <button type="submit" name="judgement" value="different" aria-label="Pair \(pair.id), person \(i + 1): a different person">Different</button></form></td>
                    """
            }
            rows += "</tr>"
            body += """
                <section aria-labelledby="pair-\(pair.id)"><h2 id="pair-\(pair.id)">Pair \(pair.id): \(pair.records == 1 ? "1 record" : "\(number(pair.records)) records")\(pair.linkedByNHSNumber ? ", linked by NHS number though the other details disagree: judge whether the link stands" : "")</h2>
                <div class="scroll"><table><caption>The record beside the people it may be</caption><thead><tr>\(head)</tr></thead><tbody>\(rows)</tbody></table></div></section>
                """
        }
        var pages: [(String, Int)] = []
        let size = Session.reviewPageLimit
        if review.offset > 0 { pages.append(("Previous \(size)", max(0, review.offset - size))) }
        if review.offset + review.pairs.count < review.total { pages.append(("Next \(size)", review.offset + size)) }
        for (label, offset) in pages {
            body += """
                <form method="post" action="/linkage-review/open" class="pager"><input type="hidden" name="csrf" value="\(entry.csrf)">
                <input type="hidden" name="offset" value="\(offset)"><button type="submit">\(label)</button></form>
                """
        }
        return page("Linkage review", body, signedIn: entry)
    }

    static let forbidden = page("Forbidden", "<p>Your form expired or did not come from this site. Go back and try again.</p>")

    static func number(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.locale = Locale(identifier: "en_GB")
        return formatter.string(from: NSNumber(value: n)) ?? String(n)
    }

    static let stylesheet = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; }
        header { display: flex; gap: 1.5rem; align-items: center; padding: 0.5rem 1.5rem; background: #003087; color: #fff; }
        header a { color: #fff; } header form { margin-left: auto; }
        main { padding: 1rem 1.5rem; max-width: 80rem; }
        nav[aria-label="Main"] { display: flex; flex-wrap: wrap; column-gap: 0.8rem; }
        nav[aria-label="Main"] a { display: inline-block; padding: 0.3rem 0; }
        .skip { position: absolute; left: -10000px; } .skip:focus { left: 0.5rem; top: 0.5rem; background: #fff; color: #000; padding: 0.3rem; }
        .crumbs ol { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem; }
        .crumbs li + li::before { content: "\\203A"; margin-right: 0.4rem; }
        .choices { margin: 0.5rem 0 1rem; } .meta { color: #4c4c4c; font-size: 0.9rem; }
        section { margin: 1.5rem 0 2rem; border-top: 1px solid #ddd; }
        .panel { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
        figure { margin: 0; flex: 1 1 36rem; max-width: 44rem; } svg.chart { width: 100%; height: auto; font-family: system-ui, sans-serif; }
        .scroll { overflow-x: auto; max-width: 100%; } details { flex: 1 1 24rem; }
        caption { text-align: left; font-weight: bold; padding: 0.3rem 0; } caption .meta { display: block; font-weight: normal; }
        table { border-collapse: collapse; font-size: 0.9rem; }
        td, th { padding: 0.2rem 0.45rem; border-bottom: 1px solid #ccc; text-align: left; }
        thead th { vertical-align: bottom; max-width: 7.5rem; } tbody th { font-weight: normal; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; } td code, td:not(.n) { overflow-wrap: anywhere; }
        .error { color: #8a1538; font-weight: bold; }
        .warning { border-left: 4px solid #8a1538; padding-left: 0.6rem; } .headline { font-size: 1.15rem; font-weight: bold; }
        .profile { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; align-items: flex-start; }
        .suggest { position: relative; display: inline-block; }
        .suggest ul { position: absolute; z-index: 1; left: 0; margin: 0; padding: 0; list-style: none; background: #fff;
            border: 1px solid #888; min-width: 16rem; max-height: 14rem; overflow-y: auto; }
        .suggest li { padding: 0.2rem 0.5rem; cursor: pointer; } .suggest li[aria-selected=true] { background: #003087; color: #fff; }
        :focus { outline: 3px solid #ffeb3b; box-shadow: 0 0 0 5px #1b1b1b; }
        button, select, input { min-height: 1.6rem; } summary { padding: 0.2rem 0; cursor: pointer; }
        .hidden { position: absolute; left: -10000px; }
        @page { size: A4 landscape; margin: 12mm; }
        @media print {
            body { font-size: 10pt; } header, .skip, form, .downloads { display: none; }
            main { max-width: none; padding: 0; } section { border-top: none; break-inside: avoid-page; }
            figure { break-inside: avoid; max-width: 100%; } .scroll { overflow: visible; }
            a { color: inherit; text-decoration: none; } table { font-size: 9pt; }
        }
        """

    /// The site's icon: a rising line on the header's blue.
    static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#003087"/>\
        <path d="M6 24 L12 15 L18 19 L26 8" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>
        """
}
