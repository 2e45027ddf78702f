"""Signs in to a running phm server with headless Chromium as each role, opens every page the
role's menu offers, builds and saves a cohort, opens it as a worklist and records a status, and
saves a screenshot of every page. Exits non-zero on the first failure.

Usage: browser_test.py BASE_URL USERS_FILE SCREENSHOT_FOLDER
USERS_FILE holds the `phm demo --serve` lines `  name / password  (role ...)`.
"""
import base64
import os
import re
import sys

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait
import selenium_axe_python

base, users_file, shots = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(shots, exist_ok=True)
passwords = dict(re.findall(r"^\s+(\w+) / (\S+)\s+\(", open(users_file).read(), re.M))
assert set(passwords) >= {"analyst", "clinician", "ig_lead", "admin", "linkage_reviewer"}, passwords

options = webdriver.ChromeOptions()
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900"]:
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
browser.set_page_load_timeout(60)
checked = []


def click(element):
    """Clicks a submit button and waits for the next page."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    next_page(old)


def next_page(old):
    """Waits until the old page's root is gone (Chromium reports that either as a stale element
    or as a node no longer in the document) and the new page has loaded."""
    def gone(_):
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(browser, 60).until(gone)
    WebDriverWait(browser, 60).until(lambda b: b.execute_script("return document.readyState") == "complete")


# Every text of every chart inside its chart, on screen: a label cut off at a chart's edge (a
# long segment name, a legend) is a failure, not a blemish.
CLIPPED_TEXT = """
const problems = [];
for (const svg of document.querySelectorAll('svg')) {
  const s = svg.getBoundingClientRect();
  if (s.width === 0) continue;
  for (const t of svg.querySelectorAll('text')) {
    if (!t.textContent.trim()) continue;
    const r = t.getBoundingClientRect();
    if (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1)
      problems.push(t.textContent.slice(0, 60));
  }
}
return problems;
"""

# Every table fits its page, and the page its window: nothing scrolls sideways (the page splits
# or turns wide tables).
WIDE_TABLES = """
const wide = [];
for (const box of document.querySelectorAll('.scroll'))
  if (box.scrollWidth > box.clientWidth + 1)
    wide.push((box.querySelector('caption') || box).textContent.slice(0, 60) + ': ' + box.scrollWidth + ' px in ' + box.clientWidth);
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1) wide.push('the page: ' + page.scrollWidth + ' px in ' + page.clientWidth);
return wide;
"""

WIDTHS = (1400, 1000)

# axe-core (the engine inside the selenium-axe-python package) checks every page at each tested
# width against the WCAG 2.0, 2.1 and 2.2 A and AA rules. Every violation is collected and the
# test fails at the end with all of them, grouped by rule.
AXE = open(os.path.join(os.path.dirname(selenium_axe_python.__file__), "axe-core", "axe.min.js")).read()
# Folded tables are opened first, so that axe-core checks what they hold too, and folded again.
# Results axe-core cannot decide alone ("incomplete": needs review) are counted by rule and
# reported, not failed.
AXE_RUN = """
const done = arguments[arguments.length - 1];
const folded = Array.from(document.querySelectorAll('details:not([open])'));
folded.forEach(d => d.open = true);
const report = v => ({rule: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.map(n => [n.target.join(' '), (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160)])});
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']},
                   resultTypes: ['violations', 'incomplete']})
  .then(r => { folded.forEach(d => d.open = false); done({violations: r.violations.map(report), incomplete: r.incomplete.map(report)}); },
        e => { folded.forEach(d => d.open = false); done({violations: [{rule: 'axe failed', impact: 'critical', help: String(e), nodes: []}], incomplete: []}); });
"""
violations = {}
needs_review = {}
axe_views = []

# Every chart has a title and a description read out in its place, and its figure links to the
# table that holds its figures.
UNDESCRIBED_CHARTS = """
const problems = [];
for (const svg of document.querySelectorAll('svg.chart')) {
  const named = (svg.getAttribute('aria-labelledby') || '').split(' ').map(id => document.getElementById(id));
  const title = svg.querySelector(':scope > title'), desc = svg.querySelector(':scope > desc');
  if (svg.getAttribute('role') !== 'img' || !title || !desc || !title.textContent.trim() || !desc.textContent.trim()
      || !named.includes(title) || !named.includes(desc)) { problems.push('no title or description'); continue; }
  const figure = svg.closest('figure');
  const link = figure && figure.querySelector('figcaption a[href^="#"]');
  const target = link && document.getElementById(link.getAttribute('href').slice(1));
  if (!target || !(target.matches('table') || target.querySelector('table')))
    problems.push(title.textContent + ': no link to its table');
}
return problems;
"""


def accessible(name, width):
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(AXE)
    result = browser.execute_async_script(AXE_RUN)
    axe_views.append(f"{name} at {width} px")
    for v in result["incomplete"]:
        needs_review[v["rule"]] = needs_review.get(v["rule"], 0) + len(v["nodes"])
    for v in result["violations"]:
        entry = violations.setdefault(v["rule"], {"impact": v["impact"], "help": v["help"], "pages": [], "nodes": {}})
        entry["pages"].append(f"{name} at {width} px")
        for target, summary in v["nodes"]:
            entry["nodes"].setdefault(target, f"{name} at {width} px: {summary}")


def shot(name):
    """The whole page at each tested width, not just the window (the window grows to the page's
    height first), after checking that no chart's text is cut off."""
    for width in WIDTHS:
        browser.set_window_size(width, 900)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(900, height), 12000))
        clipped = browser.execute_script(CLIPPED_TEXT)
        assert not clipped, f"{name} at {width} px: chart text cut off: {clipped[:5]}"
        wide = browser.execute_script(WIDE_TABLES)
        assert not wide, f"{name} at {width} px: tables scroll sideways: {wide[:5]}"
        accessible(name, width)
        undescribed = browser.execute_script(UNDESCRIBED_CHARTS)
        assert not undescribed, f"{name}: charts without a text alternative: {undescribed[:5]}"
        browser.save_screenshot(os.path.join(shots, f"{name}-{width}.png"))
    browser.set_window_size(1366, 900)


# Printed (A4 landscape, the print stylesheet's page, 12 mm margins: 1,032 px at 96 px to the
# inch), a page is a pack: no header, forms or download links, every chart whole and inside the
# paper, nothing wider than the paper.
PRINTED = """
const problems = [];
const shown = (e) => getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0;
for (const e of document.querySelectorAll('header, form, .downloads')) if (shown(e)) problems.push('shows ' + e.tagName);
const width = document.documentElement.clientWidth;
for (const e of document.querySelectorAll('figure, table'))
  if (shown(e) && e.getBoundingClientRect().right > width + 1) problems.push('wider than the paper: ' + (e.querySelector('caption, title') || e).textContent.slice(0, 50));
return problems;
"""


def printed(name):
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        browser.set_window_size(1032, 900)
        problems = browser.execute_script(PRINTED) + browser.execute_script(CLIPPED_TEXT)
        assert not problems, f"{name} printed: {problems[:5]}"
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.set_window_size(1366, 900)
    options = PrintOptions()
    options.orientation = "landscape"
    pdf = base64.b64decode(browser.print_page(options))
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pdf.startswith(b"%PDF") and pages >= 1, f"{name}: no printable PDF ({len(pdf)} bytes)"
    with open(os.path.join(shots, f"{name}.pdf"), "wb") as out:
        out.write(pdf)


def page_ok(what):
    """The page rendered a heading and no error, and nothing on it came from elsewhere."""
    h1 = browser.find_elements(By.TAG_NAME, "h1")
    assert h1, f"{what}: no heading at {browser.current_url}: {browser.page_source[:300]}"
    alerts = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "[role=alert]")]
    assert not alerts, f"{what}: {alerts}"
    for element in browser.find_elements(By.CSS_SELECTOR, "[src], link[href]"):
        url = element.get_attribute("src") or element.get_attribute("href")
        assert url.startswith(base), f"{what}: loads {url} from elsewhere"
    checked.append(what)
    return h1[0].text


def sign_in(user, purpose):
    browser.delete_all_cookies()
    browser.get(base + "/login")
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(passwords[user])
    Select(browser.find_element(By.ID, "purpose")).select_by_value(purpose)
    click(browser.find_element(By.CSS_SELECTOR, "form[action='/login'] button"))
    assert "/login" not in browser.current_url, f"{user} could not sign in: {browser.page_source[:400]}"


def every_page(prefix):
    links = [(a.text, a.get_attribute("href")) for a in browser.find_elements(By.CSS_SELECTOR, "nav[aria-label=Main] a")]
    assert links, f"{prefix}: no menu"
    for text, href in links:
        browser.get(href)
        page_ok(f"{prefix} {text}")
        shot(f"{prefix}-{text.lower().replace(' ', '-')}")
        if prefix == "analyst":
            printed(f"{prefix}-{text.lower().replace(' ', '-')}")
    return [text for text, _ in links]


# An analyst: every dashboard, a drill-down to a practice, then a cohort counted and saved.
sign_in("analyst", "planning")
menu = every_page("analyst")
assert "Worklists" not in menu and "Audit" not in menu, menu
browser.get(base + "/overview")
# Each chart downloads as PNG too, drawn by the page's script from its own SVG.
buttons = [b for b in browser.find_elements(By.TAG_NAME, "button") if b.text == "Download the chart (PNG)"]
assert buttons, "no PNG download on the overview"
drawn = browser.execute_async_script(
    "const done = arguments[arguments.length - 1];"
    "window.phmChartPNG(document.querySelector('figure svg')).then(u => done(u), e => done('error ' + e));")
assert drawn.startswith("data:image/png;base64,") and len(drawn) > 2000, f"PNG export: {drawn[:80]}"
for level in range(3):
    Select(browser.find_element(By.ID, "unit")).select_by_index(0)
    click(browser.find_element(By.CSS_SELECTOR, "form.choices button"))
    page_ok(f"analyst drill-down {level + 1}")
assert "practice" in browser.find_element(By.CSS_SELECTOR, "[aria-current=page]").text
shot("analyst-overview-practice")
browser.get(base + "/inequalities")
Select(browser.find_element(By.ID, "indicator")).select_by_value("depression")
click(browser.find_element(By.CSS_SELECTOR, "form.choices button"))
page_ok("analyst inequalities depression")
assert "depression" in browser.find_element(By.TAG_NAME, "h2").text.lower()
shot("analyst-inequalities-depression")
browser.get(base + "/cohorts")
# Composed a criterion at a time, counted after each.
for kind, op, value in [("condition", ">=", "depression"), ("age", ">=", "40")]:
    Select(browser.find_element(By.ID, "add_kind")).select_by_value(kind)
    Select(browser.find_element(By.ID, "add_op")).select_by_value(op)
    browser.find_element(By.ID, "add_value").send_keys(value)
    click(browser.find_element(By.CSS_SELECTOR, "button[name=compose]"))
    page_ok(f"analyst cohort with {kind}")
    assert re.search(r"[\d,*]+ of [\d,]+ people", browser.page_source), "no cohort size"
assert browser.find_element(By.ID, "definition").get_attribute("value") == "condition depression and age >= 40"
# Typed, the count follows the text (the cohort page's script), and equals the page's own count.
box = browser.find_element(By.ID, "definition")
box.send_keys(" and sex = female")
WebDriverWait(browser, 30).until(lambda b: "people" in b.find_element(By.ID, "live-count").text)
live = browser.find_element(By.ID, "live-count").text
box.send_keys(" and nonsense")
WebDriverWait(browser, 30).until(lambda b: "nonsense" in b.find_element(By.ID, "live-count").text)
box.send_keys(Keys.BACKSPACE * len(" and nonsense"))
WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "live-count").text == live)
# Suggestions while typing: the word being typed is completed from the run's names, a name with
# spaces in quotes, chosen with the arrow keys and taken with Enter.
typed = box.get_attribute("value")
suggestions = browser.find_element(By.ID, "definition-suggestions")
box.send_keys(" and condition obes")
WebDriverWait(browser, 10).until(lambda b: suggestions.is_displayed())
offered = [li.text for li in suggestions.find_elements(By.TAG_NAME, "li")]
assert "obesity" in offered, offered
assert "suggestions" in browser.find_element(By.ID, "definition-status").get_attribute("textContent")
for _ in range(offered.index("obesity") + 1):
    box.send_keys(Keys.ARROW_DOWN)
box.send_keys(Keys.ENTER)
assert box.get_attribute("value") == typed + " and condition obesity", box.get_attribute("value")
assert not suggestions.is_displayed()
names = browser.execute_script("return Array.from(document.getElementById('definition-words').options, o => o.value)")
place = next(n for n in names if " " in n and n[0].isupper())
box.send_keys(' and locality = "' + place[:4])
WebDriverWait(browser, 10).until(lambda b: suggestions.is_displayed())
offered = [li.text for li in suggestions.find_elements(By.TAG_NAME, "li")]
for _ in range(offered.index(place) + 1):
    box.send_keys(Keys.ARROW_DOWN)
box.send_keys(Keys.ENTER)
assert box.get_attribute("value") == typed + ' and condition obesity and locality = "' + place + '"', box.get_attribute("value")
shot("analyst-cohort-suggested")
box.clear()
box.send_keys(typed)
WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "live-count").text == live)
click(browser.find_element(By.CSS_SELECTOR, "form[action='/cohorts'] button[type=submit]"))
page_ok("analyst cohort typed and counted")
heading = browser.find_element(By.TAG_NAME, "h2").text
assert heading == live, (live, heading)
shot("analyst-cohort-live-count")
box = browser.find_element(By.ID, "definition")
box.clear()
box.send_keys("condition depression and age >= 40")
click(browser.find_element(By.CSS_SELECTOR, "form[action='/cohorts'] button[type=submit]"))
page_ok("analyst cohort profile")
shot("analyst-cohort-profile")
browser.find_element(By.ID, "name").send_keys("depression_40plus")
click(browser.find_element(By.CSS_SELECTOR, "button[formaction='/cohorts/save']"))
assert re.search(r"Saved depression_40plus version \d+", browser.page_source)
shot("analyst-cohort-saved")

# The analyst evaluates the place-based scheme the evaluation page starts from, as it is.
browser.get(base + "/evaluations")
click(browser.find_element(By.CSS_SELECTOR, "form[action='/evaluations'] button[type=submit]"))
page_ok("analyst evaluation")
assert browser.find_elements(By.ID, "balance") and browser.find_elements(By.ID, "effects"), browser.page_source[:2000]
assert "Published for planning" in browser.page_source
shot("analyst-evaluation")

# A clinician under direct care: a cohort saved, opened as the practice's worklist, a status set.
sign_in("clinician", "direct_care")
menu = every_page("clinician")
assert "Worklists" in menu and "Audit" not in menu, menu
browser.get(base + "/cohorts")
browser.find_element(By.ID, "definition").send_keys("age >= 75")
browser.find_element(By.ID, "name").send_keys("over75")
click(browser.find_element(By.CSS_SELECTOR, "button[formaction='/cohorts/save']"))
assert re.search(r"Saved over75 version \d+", browser.page_source)
browser.get(base + "/worklists")
Select(browser.find_element(By.ID, "cohort")).select_by_value("over75")
browser.find_element(By.ID, "reason").send_keys("annual frailty review")
click(browser.find_element(By.CSS_SELECTOR, "form[action='/worklists/open'] button"))
page_ok("clinician worklist")
shot("clinician-worklist")
# What a worklist shows (names, NHS numbers) must never reach the server's log.
shown = [c.text.strip().removesuffix(" new") for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
         for c in r.find_elements(By.TAG_NAME, "td")[1:3] if len(c.text.strip()) >= 8]
assert len(shown) >= 6, shown
row = browser.find_element(By.CSS_SELECTOR, "tbody tr")
Select(row.find_element(By.TAG_NAME, "select")).select_by_value("contacted")
note = row.find_element(By.NAME, "note")
note.clear()
note.send_keys("left a message")
click(row.find_element(By.TAG_NAME, "button"))
page_ok("clinician worklist after status")
row = browser.find_element(By.CSS_SELECTOR, "tbody tr")
assert Select(row.find_element(By.TAG_NAME, "select")).first_selected_option.get_attribute("value") == "contacted"
assert row.find_element(By.NAME, "note").get_attribute("value") == "left a message"
shot("clinician-worklist-status")

# The IG lead and the administrator: the audit log, intact, with the re-identification in it.
for user in ["ig_lead", "admin"]:
    sign_in(user, "administration")
    menu = every_page(user)
    assert menu == ["Audit"], menu
    assert "intact" in browser.page_source and "view_worklist" in browser.page_source
    # Worklist notes are for the practice, not the log.
    assert "left a message" not in browser.page_source
    # Checking the whole log again on demand.
    click(browser.find_element(By.XPATH, "//button[normalize-space()='Check the whole log now']"))
    page_ok(f"{user} whole audit check")
    assert "intact" in browser.page_source and "Checked from the first entry just now." in browser.page_source
    shot(f"{user}-audit-whole-check")

# The linkage reviewer: the queue of undecided records (messy demo identities leave some), a
# page of pairs side by side, and a judgement recorded.
sign_in("linkage_reviewer", "administration")
menu = every_page("linkage_reviewer")
assert menu == ["Linkage review"], menu
click(browser.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Show the first')]"))
page_ok("linkage review pairs")
shot("linkage-review-pairs")
assert "Pair 1:" in browser.page_source, "no pairs to review"
click(browser.find_element(By.XPATH, "//button[normalize-space()='Different']"))
page_ok("linkage review judged")
assert "Judged a different person by linkage_reviewer" in browser.page_source

# The IG lead under planning sees the dashboards, not cohorts.
sign_in("ig_lead", "planning")
menu = every_page("ig_lead-planning")
assert "Cohorts" not in menu and "Overview" in menu, menu

# Everything by keyboard alone, with the focus always visible: sign in, build a cohort a
# criterion at a time and save it, open it as a worklist and record a status.
FOCUSED = """
const e = document.activeElement;
if (!e || e === document.body) return null;
const s = getComputedStyle(e), r = e.getBoundingClientRect();
return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name') || '', value: e.value === undefined ? '' : String(e.value),
        label: (e.getAttribute('aria-label') || e.innerText || '').trim().slice(0, 60), formaction: e.getAttribute('formaction') || '',
        ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none',
        seen: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth};
"""


def press(*keys):
    ActionChains(browser).send_keys(*keys).perform()


def tab_to(what, matches, limit=200):
    """Presses Tab until the focus is on the element wanted, checking at every stop that the
    focused element shows a focus ring and is on screen."""
    focused = browser.execute_script(FOCUSED)
    if focused is not None and matches(focused):
        return focused
    for _ in range(limit):
        press(Keys.TAB)
        focused = browser.execute_script(FOCUSED)
        if focused is None:
            continue
        assert focused["ring"] and focused["seen"], f"keyboard, {what}: the focus on {focused} cannot be seen"
        if matches(focused):
            return focused
    raise AssertionError(f"keyboard: {what} not reached in {limit} presses of Tab")


def choose(what, value):
    """Picks an option of the focused list with the arrow keys, down from where it stands and
    then up."""
    assert browser.execute_script("return document.activeElement.tagName") == "SELECT", f"keyboard: {what} is not a list"
    for key in (Keys.ARROW_DOWN, Keys.ARROW_UP):
        for _ in range(100):
            if browser.execute_script("return document.activeElement.value") == value:
                return
            press(key)
    raise AssertionError(f"keyboard: {value} not reached in {what}")


def activate(what, matches):
    """Tabs to a button and presses Enter, waiting for the page it leads to."""
    tab_to(what, matches)
    old = browser.find_element(By.TAG_NAME, "html")
    press(Keys.ENTER)
    next_page(old)


browser.delete_all_cookies()
browser.get(base + "/login")
page_ok("sign-in")
shot("sign-in")
skip = tab_to("the skip link", lambda f: f["tag"] == "a")
assert skip["label"] == "Skip to content", skip
tab_to("user name", lambda f: f["id"] == "user")
press("clinician")
tab_to("password", lambda f: f["id"] == "password")
press(passwords["clinician"])
tab_to("purpose", lambda f: f["id"] == "purpose")
choose("purpose", "direct_care")
activate("sign in", lambda f: f["tag"] == "button" and f["label"] == "Sign in")
assert "/login" not in browser.current_url, "keyboard: could not sign in"
page_ok("keyboard signed in")
browser.get(base + "/cohorts")
for kind, op, value in [("age", ">=", "60"), ("ltc_count", ">=", "1")]:
    tab_to("the criterion's kind", lambda f: f["id"] == "add_kind")
    choose("kind", kind)
    tab_to("the criterion's operator", lambda f: f["id"] == "add_op")
    choose("operator", op)
    tab_to("the criterion's value", lambda f: f["id"] == "add_value")
    press(value)
    activate("add the criterion", lambda f: f["tag"] == "button" and f["name"] == "compose")
    page_ok(f"keyboard cohort with {kind}")
assert browser.find_element(By.ID, "definition").get_attribute("value") == "age >= 60 and ltc_count >= 1"
tab_to("the cohort's name", lambda f: f["id"] == "name")
press("keyboard_60_ltc")
activate("save the cohort", lambda f: f["formaction"] == "/cohorts/save")
assert re.search(r"Saved keyboard_60_ltc version \d+", browser.page_source), "keyboard: cohort not saved"
browser.get(base + "/worklists")
tab_to("the worklist's cohort", lambda f: f["id"] == "cohort")
choose("cohort", "keyboard_60_ltc")
tab_to("the reason", lambda f: f["id"] == "reason")
press("medication review")
activate("open the worklist", lambda f: f["tag"] == "button" and "Open" in f["label"])
page_ok("keyboard worklist")
tab_to("the first status", lambda f: f["tag"] == "select" and f["name"] == "status")
choose("status", "declined")
tab_to("the first note", lambda f: f["name"] == "note")
press("by phone")
activate("save the status", lambda f: f["tag"] == "button" and f["label"].startswith("Save the status"))
page_ok("keyboard worklist after status")
row = browser.find_element(By.CSS_SELECTOR, "tbody tr")
assert Select(row.find_element(By.TAG_NAME, "select")).first_selected_option.get_attribute("value") == "declined"
assert row.find_element(By.NAME, "note").get_attribute("value") == "by phone"
shot("keyboard-worklist-status")

browser.quit()
log = open(users_file).read()
leaked = [v for v in shown if v in log]
assert not leaked, f"the server's log holds what a worklist showed: {len(leaked)} values"
for rule, entry in sorted(violations.items()):
    print(f"accessibility: {rule} ({entry['impact']}): {entry['help']}: {len(entry['pages'])} page views", file=sys.stderr)
    for target, where in list(entry["nodes"].items())[:30]:
        print(f"    {target}, first on {where}", file=sys.stderr)
assert not violations, f"{len(violations)} accessibility rules violated"
print(f"browser test: {len(checked)} pages checked, {len(axe_views)} page views checked by axe-core with no violation"
      f" ({sum(needs_review.values())} results for review: {dict(sorted(needs_review.items()))}), screenshots in {shots}")
