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
                <nav aria-label="Main"><a href="/">Overview</a> <a href="/cohorts">Cohorts</a></nav>
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

    static func cohort(_ entry: WebSessions.Entry, definition: String, result: CohortResult?, error: String?) -> String {
        var body = """
            <form method="post" action="/cohorts">
            <input type="hidden" name="csrf" value="\(entry.csrf)">
            <p><label for="definition">Definition</label></p>
            <p><textarea id="definition" name="definition" rows="4" cols="80" required>\(escape(definition))</textarea></p>
            <p><button type="submit">Count and profile</button></p>
            </form>
            """
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
        """
}
