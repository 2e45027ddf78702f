import Cohorts
import Foundation
import Governance
import PHMCore
import Service
import Storage

/// Server-rendered pages: semantic HTML, one stylesheet, no scripts.
enum Pages {
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func page(_ title: String, _ body: String, signedIn entry: WebSessions.Entry? = nil) -> String {
        var header = "<header><p class=\"brand\">phm</p>"
        if let entry {
            header += """
                <nav aria-label="Main"><a href="/">Overview</a> <a href="/cohorts">Cohorts</a> <a href="/worklists">Worklists</a> <a href="/audit">Audit</a></nav>
                <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(entry.csrf)">
                <span>\(escape(entry.session.user.name)) (\(escape(entry.session.user.role.rawValue)), \(escape(entry.session.purpose.rawValue)))</span>
                <button type="submit">Sign out</button></form>
                """
        }
        header += "</header>"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) - phm</title><link rel="stylesheet" href="/app.css"></head>
            <body>\(header)<main><h1>\(escape(title))</h1>\(body)</main></body></html>
            """
    }

    static func login(csrf: String, message: String?) -> String {
        let options = Purpose.allCases.map {
            "<option value=\"\($0.rawValue)\">\($0.rawValue.replacingOccurrences(of: "_", with: " "))</option>"
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

    static func overview(_ entry: WebSessions.Entry, frame: PersonFrame, people: Int) -> String {
        let scope =
            entry.session.purpose == .directCare
            ? "your practice's registered patients" : "people registered without a National Data Opt-out"
        return page(
            "Overview",
            """
            <p>Run \(frame.runId), as of \(frame.asOf), \(number(frame.hierarchy.practices.count)) practices. You see \(scope): \(number(people)) people.</p>
            <p><a href="/cohorts">Build a cohort</a></p>
            """, signedIn: entry)
    }

    static func cohort(
        _ entry: WebSessions.Entry, definition: String, result: CohortResult?, error: String?, saved: CohortRecord? = nil
    ) -> String {
        var body = """
            <form method="post" action="/cohorts">
            <input type="hidden" name="csrf" value="\(entry.csrf)">
            <p><label for="definition">Definition</label></p>
            <p><textarea id="definition" name="definition" rows="4" cols="80" required>\(escape(definition))</textarea></p>
            <p><button type="submit">Count and profile</button>
            <label for="name">Save as</label> <input id="name" name="name">
            <button type="submit" formaction="/cohorts/save">Save</button></p>
            </form>
            """
        if let saved { body += "<p role=\"status\">Saved \(escape(saved.name)) version \(saved.version).</p>" }
        if let error { body += "<p role=\"alert\" class=\"error\">\(escape(error))</p>" }
        if let result {
            let p = result.published()
            func shown(_ n: Int?) -> String { n.map(number) ?? "<abbr title=\"suppressed: 1 to 7 people\">*</abbr>" }
            body += "<h2>\(shown(p.size)) of \(shown(p.populationSize)) people</h2>"
            if result.suppressed { body += "<p>Counts of 1 to 7 are suppressed and others rounded to 5.</p>" }
            body +=
                "<table><caption>Cohort beside the population</caption><thead><tr><th scope=\"col\">Breakdown</th><th scope=\"col\">Group</th><th scope=\"col\">Cohort</th><th scope=\"col\">Population</th></tr></thead><tbody>"
            for g in p.groups {
                body +=
                    "<tr><td>\(escape(g.group.breakdown))</td><td>\(escape(g.group.group))</td><td class=\"n\">\(shown(g.cohort))</td><td class=\"n\">\(shown(g.population))</td></tr>"
            }
            body += "</tbody></table>"
        }
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

    static func worklist(_ entry: WebSessions.Entry, _ list: PracticeWorklist, reason: String) -> String {
        let gapNames = Dictionary(uniqueKeysWithValues: list.gaps.map { ($0.id, $0.name) })
        var body = """
            <p>\(number(list.entries.count)) people at \(escape(list.practiceCode)) in \(escape(list.cohort.name)) (version \(list.cohort.version)), highest risk first.</p>
            <table><caption>Worklist</caption><thead><tr><th scope="col">Rank</th><th scope="col">Name</th><th scope="col">NHS number</th><th scope="col">Born</th><th scope="col">Age</th><th scope="col">Risk</th><th scope="col">Why</th><th scope="col">Care gaps</th><th scope="col">Status</th></tr></thead><tbody>
            """
        for e in list.entries {
            let who = e.identity.map { "\($0.givenName) \($0.familyName)" } ?? "not in the vault"
            let risk = e.entry.risk.map { String(format: "%.0f%%", 100 * $0) } ?? ""
            let statuses = WorklistStatus.allCases.map {
                "<option value=\"\($0.rawValue)\"\($0 == e.status ? " selected" : "")>\($0.rawValue.replacingOccurrences(of: "_", with: " "))</option>"
            }.joined()
            body += """
                <tr><td class="n">\(e.entry.rank)</td><td>\(escape(who))</td><td>\(escape(e.identity?.nhsNumber ?? ""))</td>
                <td>\(escape(e.identity?.dateOfBirth ?? ""))</td><td class="n">\(e.entry.age)</td>
                <td class="n">\(risk) \(escape(e.entry.tier?.replacingOccurrences(of: "_", with: " ") ?? ""))\(e.entry.rising ? " rising" : "")</td>
                <td>\(escape(e.entry.reasons.joined(separator: "; ")))</td>
                <td>\(escape(e.entry.gaps.map { gapNames[$0] ?? $0 }.joined(separator: "; ")))</td>
                <td><form method="post" action="/worklists/open">
                <input type="hidden" name="csrf" value="\(entry.csrf)"><input type="hidden" name="cohort" value="\(escape(list.cohort.name))">
                <input type="hidden" name="reason" value="\(escape(reason))"><input type="hidden" name="pseudonym" value="\(e.entry.pseudonym)">
                <label class="hidden" for="s\(e.entry.rank)">Status</label><select id="s\(e.entry.rank)" name="status">\(statuses)</select>
                <input name="note" aria-label="Note" value="\(escape(e.latest?.note ?? ""))"> <button type="submit">Save</button></form></td></tr>
                """
        }
        body += "</tbody></table>"
        return page("Worklist", body, signedIn: entry)
    }

    static func audit(_ entry: WebSessions.Entry, verification: AuditVerification, entries: ArraySlice<AuditEntry>) -> String {
        var body = "<p role=\"status\">\(escape(verification.description))</p>"
        body +=
            "<table><caption>The latest entries</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">User</th><th scope=\"col\">Purpose</th><th scope=\"col\">Action</th><th scope=\"col\">Outcome</th><th scope=\"col\">Detail</th></tr></thead><tbody>"
        for e in entries.reversed() {
            body +=
                "<tr><td class=\"n\">\(e.sequence)</td><td>\(escape(e.at))</td><td>\(escape(e.user))</td><td>\(escape(e.purpose))</td><td>\(escape(e.action))</td><td>\(escape(e.outcome))</td><td><code>\(escape(String(e.detail.prefix(200))))</code></td></tr>"
        }
        body += "</tbody></table>"
        return page("Audit log", body, signedIn: entry)
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
        main { padding: 1rem 1.5rem; max-width: 72rem; }
        table { border-collapse: collapse; } td, th { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ccc; text-align: left; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        .error { color: #8a1538; font-weight: bold; }
        :focus { outline: 3px solid #ffb81c; }
        .hidden { position: absolute; left: -10000px; }
        """
}
