"""The spine of a run as one SQL pipeline on DuckDB, the yardstick `phm-bench --spine-only`
measures the platform's spine against: every contract CSV read, each row checked by the
contract's main rules (refused rows counted by file), NHS numbers checked, registrations grouped
into people with a keyed SHA-256 pseudonym each, care records linked by the platform's
deterministic rules in order (NHS number and birth; NHS number, family name and sex; then the
three demographic keys, linking only when one person has the key), each person's use and cost in
the 12 months before as-of; then the long-term condition count from the definitions' code lists
(a condition counts when a code from any list its rule names was ever recorded before as-of in
the GP record or a hospital diagnosis: simpler than the platform's rules, which also read
values, prescriptions and resolved codes).

    duckdb_spine.py DIR AS_OF DEFINITIONS THREADS

Prints one line of JSON: the counts each step produced, the seconds and peak memory (MB) at the
end of the spine (before the condition count) and at the end.
"""
import csv
import json
import os
import resource
import sys
import tempfile
import time

import duckdb
import yaml


def date(column):
    """A contract date (YYYY-MM-DD from 1890 to 2100), or NULL when it is not one."""
    return (f"(CASE WHEN length({column}) = 10 AND try_cast({column} AS DATE) BETWEEN DATE '1890-01-01' "
            f"AND DATE '2100-12-31' THEN try_cast({column} AS DATE) END)")


def decimal(column):
    return f"(CASE WHEN regexp_full_match({column}, '-?[0-9]*\\.?[0-9]*') THEN try_cast({column} AS DOUBLE) END)"


def nhs_valid(column):
    """Ten digits whose modulus 11 check digit is right (a remainder giving 10 is invalid)."""
    weighted = " + ".join(f"{10 - i} * (ascii(substr({column}, {i + 1}, 1)) - 48)" for i in range(9))
    check = f"(11 - ({weighted}) % 11) % 11"
    return (f"(regexp_full_match(coalesce({column}, ''), '[0-9]{{10}}') AND {check} <> 10 "
            f"AND {check} = ascii(substr({column}, 10, 1)) - 48)")


def name_key(column):
    return f"upper(regexp_replace(coalesce({column}, ''), '[^A-Za-z]', '', 'g'))"


def postcode_key(column):
    """The platform's postcode normal form: upper case, one space before the inward code."""
    squeezed = f"upper(regexp_replace(coalesce({column}, ''), '\\s', '', 'g'))"
    return (f"(CASE WHEN regexp_full_match({squeezed}, '[A-Z]{{1,2}}[0-9][A-Z0-9]?[0-9][A-Z]{{2}}') "
            f"THEN substr({squeezed}, 1, length({squeezed}) - 3) || ' ' || right({squeezed}, 3) ELSE '' END)")


def ltc_codes(definitions):
    """(system, code, match, condition) for every list an LTC condition's rule names."""
    folder = os.path.dirname(definitions)
    with open(definitions) as f:
        library = yaml.safe_load(f)

    def lists(rule):
        if isinstance(rule, list):
            return [name for r in rule for name in lists(r)]
        if isinstance(rule, dict):
            found = []
            for key, value in rule.items():
                if key in ("ever",):
                    found += value
                elif key == "condition":
                    continue
                elif isinstance(value, dict) and "lists" in value:
                    found += value["lists"]
                else:
                    found += lists(value)
            return found
        return []

    rows = []
    for condition in library["conditions"]:
        if not condition.get("ltc"):
            continue
        for name in set(lists(condition["rule"])):
            spec = library["codelists"][name]
            system = spec["system"].upper()
            codes = list(spec.get("codes", []))
            if "file" in spec:
                with open(os.path.join(folder, spec["file"])) as f:
                    codes += [row["code"] for row in csv.DictReader(f)]
            for code in codes:
                code = code.strip().replace(".", "").upper()
                if system in ("ICD10", "OPCS4", "BNF"):
                    parts = code.split("-")
                    if len(parts) == 2:
                        # A range such as I60-I69: its prefixes one by one.
                        head = os.path.commonprefix(parts)
                        low, high = parts[0][len(head):], parts[1][len(head):]
                        if low.isdigit() and high.isdigit() and len(low) == len(high):
                            for n in range(int(low), int(high) + 1):
                                rows.append((system, head + str(n).zfill(len(low)), "prefix", condition["id"]))
                        continue
                    rows.append((system, code, "prefix", condition["id"]))
                else:
                    rows.append((system, code, "exact", condition["id"]))
    return rows


def main():
    folder, as_of, definitions, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    start = time.time()
    db = duckdb.connect()
    db.execute(f"SET threads = {threads}")
    db.execute("SET preserve_insertion_order = false")
    counts = {}

    def accept(name, select, where, key=None):
        """One read of NAME.csv, every row typed by SELECT and judged by WHERE; the accepted rows
        (the first in the file of a repeated KEY among them) are NAME."""
        path = os.path.join(folder, name + ".csv")
        db.execute(
            f"CREATE TABLE all_{name} AS SELECT {select}, coalesce({where}, false) AS ok "
            f"FROM read_csv('{path}', header = true, all_varchar = true, quote = '\"', escape = '\"', "
            f"ignore_errors = true, store_rejects = true, rejects_table = 'rejects_{name}', rejects_scan = 'scan_{name}')")
        read = db.execute(f"SELECT count(*) FROM all_{name}").fetchone()[0]
        if key:
            # Any one of a repeated key's rows, not the file's first as the platform keeps: the
            # order of the file is not kept, which lets DuckDB read in parallel.
            db.execute(f"CREATE TABLE {name} AS SELECT * EXCLUDE (ok) FROM all_{name} WHERE ok "
                       f"QUALIFY row_number() OVER (PARTITION BY {key}) = 1")
            db.execute(f"DROP TABLE all_{name}")
            kept = db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        else:
            # Kept as one table: later steps read its accepted rows through a view.
            db.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (ok) FROM all_{name} WHERE ok")
            kept = db.execute(f"SELECT count(*) FILTER (ok) FROM all_{name}").fetchone()[0]
        total = read + db.execute(f"SELECT count(*) FROM rejects_{name}").fetchone()[0]
        counts[name] = {"rows": total, "accepted": kept, "refused": total - kept}

    org = "regexp_full_match({0}, '[A-Z0-9]{{3,10}}')"
    accept("practices", "practice_code", org.format("practice_code") + " AND practice_name <> ''", "practice_code")
    accept("areas", "lsoa_code, try_cast(imd_decile AS INTEGER) AS imd_decile",
           "regexp_full_match(lsoa_code, '[A-Z][0-9]{8}') AND try_cast(imd_decile AS INTEGER) BETWEEN 1 AND 10", "lsoa_code")
    identifier = "regexp_full_match({0}, '[!-~]{{1,64}}')"
    accept(
        "patients",
        f"patient_id, CASE WHEN {nhs_valid('nhs_number')} THEN nhs_number END AS nhs, {date('date_of_birth')} AS dob, sex, "
        f"{name_key('family_name')} AS family, {name_key('given_name')} AS given, {postcode_key('postcode')} AS postcode, "
        f"practice_code, {date('registered_from')} AS registered_from, {date('registered_to')} AS registered_to, "
        f"national_opt_out = 'Y' AS opted_out",
        f"{identifier.format('patient_id')} AND {date('date_of_birth')} IS NOT NULL AND sex IN ('M', 'F', 'I', 'U') "
        f"AND practice_code IN (SELECT practice_code FROM practices) "
        f"AND (lsoa_code IS NULL OR lsoa_code IN (SELECT lsoa_code FROM areas)) "
        f"AND (ethnic_category IS NULL OR regexp_full_match(ethnic_category, '[A-SZ]')) "
        f"AND {date('registered_from')} >= {date('date_of_birth')} "
        f"AND (registered_to IS NULL OR {date('registered_to')} >= {date('registered_from')}) "
        f"AND (date_of_death IS NULL OR {date('date_of_death')} >= {date('date_of_birth')}) "
        f"AND national_opt_out IN ('Y', 'N')",
        "patient_id")
    codes = {"SNOMED": "[0-9]{6,18}", "ICD10": "[A-Z][0-9][0-9A-Z.]{0,5}", "BNF": "[0-9A-Z]{2,15}", "DMD": "[0-9]{6,18}"}
    code_ok = " OR ".join(f"(code_system = '{s}' AND regexp_full_match(code, '{p}'))" for s, p in codes.items())
    accept("gp_events",
           f"patient_id, {date('event_date')} AS day, code_system, replace(code, '.', '') AS code",
           f"patient_id IN (SELECT patient_id FROM patients) AND {date('event_date')} IS NOT NULL AND ({code_ok}) "
           f"AND (value IS NULL OR {decimal('value')} IS NOT NULL)")
    accept("prescriptions",
           f"patient_id, {date('issue_date')} AS day, code_system, code, {decimal('cost')} AS cost",
           f"patient_id IN (SELECT patient_id FROM patients) AND {date('issue_date')} IS NOT NULL AND ({code_ok}) "
           f"AND (cost IS NULL OR {decimal('cost')} >= 0) AND (quantity IS NULL OR {decimal('quantity')} >= 0)")
    identity = (f"record_id, CASE WHEN {nhs_valid('nhs_number')} THEN nhs_number END AS nhs, "
                f"{date('date_of_birth')} AS dob, CASE WHEN sex IN ('M', 'F', 'I', 'U') THEN sex END AS sex, "
                f"{name_key('family_name')} AS family, {name_key('given_name')} AS given, {postcode_key('postcode')} AS postcode")
    care_ok = f"{identifier.format('record_id')} AND {decimal('cost')} >= 0"
    accept("inpatient_spells",
           f"{identity}, CASE WHEN admission_method LIKE '2%' THEN 'emergency' ELSE 'elective' END AS kind, "
           f"{date('admission_date')} AS day, {decimal('cost')} AS cost, replace(primary_diagnosis, '.', '') AS diagnosis",
           f"{care_ok} AND {org.format('provider_code')} AND {date('admission_date')} IS NOT NULL "
           f"AND (discharge_date IS NULL OR {date('discharge_date')} >= {date('admission_date')}) "
           f"AND regexp_full_match(admission_method, '[0-9][0-9A-Z]') AND primary_diagnosis IS NOT NULL", "record_id")
    accept("ae_attendances",
           f"{identity}, 'ae' AS kind, {date('arrival_date')} AS day, {decimal('cost')} AS cost, NULL AS diagnosis",
           f"{care_ok} AND {org.format('provider_code')} AND {date('arrival_date')} IS NOT NULL", "record_id")
    accept("outpatient_appointments",
           f"{identity}, CASE WHEN attended = 'Y' THEN 'outpatient' ELSE 'did_not_attend' END AS kind, "
           f"{date('appointment_date')} AS day, {decimal('cost')} AS cost, NULL AS diagnosis",
           f"{care_ok} AND {org.format('provider_code')} AND {date('appointment_date')} IS NOT NULL "
           f"AND attended IN ('Y', 'N') AND (treatment_function_code IS NULL OR regexp_full_match(treatment_function_code, '[0-9]{{3}}'))",
           "record_id")
    accept("care_contacts",
           f"{identity}, setting AS kind, {date('start_date')} AS day, {decimal('cost')} AS cost, NULL AS diagnosis",
           f"{care_ok} AND setting IN ('community', 'mental_health', 'social_care', 'ambulance', 'other') "
           f"AND {date('start_date')} IS NOT NULL AND (end_date IS NULL OR {date('end_date')} >= {date('start_date')})",
           "record_id")

    # People: registrations grouped by valid NHS number (one without is a person of its own); each
    # described by the registration current at as-of, else the latest.
    db.execute("""
        CREATE TABLE registrations AS
        SELECT *, coalesce(nhs, 'R' || patient_id) AS person FROM patients""")
    secret = os.urandom(32).hex()
    db.execute(f"""
        CREATE TABLE people AS
        SELECT person, sha256('{secret}' || person) AS pseudonym, arg_max(dob, (registered_from <= DATE '{as_of}' AND DATE '{as_of}' < coalesce(registered_to, DATE '9999-12-31'), registered_from)) AS dob,
               arg_max(sex, (registered_from <= DATE '{as_of}' AND DATE '{as_of}' < coalesce(registered_to, DATE '9999-12-31'), registered_from)) AS sex,
               arg_max(family, (registered_from <= DATE '{as_of}' AND DATE '{as_of}' < coalesce(registered_to, DATE '9999-12-31'), registered_from)) AS family,
               bool_or(registered_from <= DATE '{as_of}' AND DATE '{as_of}' < coalesce(registered_to, DATE '9999-12-31')) AS registered
        FROM registrations GROUP BY person""")
    counts["people"] = db.execute("SELECT count(*) FROM people").fetchone()[0]

    # Demographic keys over every registration: a key names a person only when it names one.
    def keys(name, expression, where):
        db.execute(f"""
            CREATE TABLE {name} AS SELECT {expression} AS key, min(person) AS person
            FROM registrations WHERE {where} GROUP BY key HAVING count(DISTINCT person) = 1""")

    keys("full_keys", "(dob, sex, family, postcode)", "family <> '' AND postcode <> ''")
    keys("initial_keys", "(dob, sex, postcode, left(given, 1))", "postcode <> '' AND given <> ''")
    keys("names_keys", "(dob, sex, family, given)", "family <> '' AND given <> ''")
    db.execute("""
        CREATE TABLE care AS
        SELECT * FROM inpatient_spells UNION ALL SELECT * FROM ae_attendances
        UNION ALL SELECT * FROM outpatient_appointments UNION ALL SELECT * FROM care_contacts""")
    db.execute("""
        CREATE TABLE linked AS
        SELECT c.kind, c.day, c.cost, c.diagnosis,
               CASE WHEN p.person IS NOT NULL AND c.dob = p.dob THEN p.person
                    WHEN p.person IS NOT NULL AND c.family <> '' AND c.family = p.family AND c.sex = p.sex THEN p.person
                    WHEN c.dob IS NULL OR c.sex IS NULL THEN NULL
                    ELSE coalesce(f.person, i.person, n.person) END AS person,
               CASE WHEN p.person IS NOT NULL AND c.dob = p.dob THEN 'nhs_number+date_of_birth'
                    WHEN p.person IS NOT NULL AND c.family <> '' AND c.family = p.family AND c.sex = p.sex THEN 'nhs_number+family_name+sex'
                    WHEN c.dob IS NULL OR c.sex IS NULL THEN 'unlinked'
                    WHEN f.person IS NOT NULL THEN 'date_of_birth+sex+family_name+postcode'
                    WHEN i.person IS NOT NULL THEN 'date_of_birth+sex+postcode+given_initial'
                    WHEN n.person IS NOT NULL THEN 'date_of_birth+sex+family_name+given_name'
                    ELSE 'unlinked' END AS rule
        FROM care c
        LEFT JOIN people p ON p.person = c.nhs
        LEFT JOIN full_keys f ON c.family <> '' AND c.postcode <> '' AND f.key = (c.dob, c.sex, c.family, c.postcode)
        LEFT JOIN initial_keys i ON c.postcode <> '' AND c.given <> '' AND i.key = (c.dob, c.sex, c.postcode, left(c.given, 1))
        LEFT JOIN names_keys n ON c.family <> '' AND c.given <> '' AND n.key = (c.dob, c.sex, c.family, c.given)""")
    counts["linkage"] = dict(db.execute("SELECT rule, count(*) FROM linked GROUP BY rule ORDER BY rule").fetchall())

    # Use and cost in the 12 months before as-of, per person registered at as-of.
    window = f"day >= DATE '{as_of}' - INTERVAL 12 MONTH AND day < DATE '{as_of}'"
    db.execute(f"""
        CREATE TABLE utilisation AS
        SELECT person, count(*) FILTER (kind = 'emergency') AS emergency_admissions,
               count(*) FILTER (kind = 'ae') AS ae_attendances, count(*) FILTER (kind = 'outpatient') AS outpatient,
               count(DISTINCT code) FILTER (kind = 'prescription') AS prescription_types,
               sum(cost) FILTER (kind = 'emergency') AS emergency_cost, sum(cost) AS cost
        FROM (SELECT person, kind, cost, NULL AS code FROM linked WHERE person IS NOT NULL AND {window}
              UNION ALL
              SELECT r.person, 'prescription', coalesce(x.cost, 0), x.code FROM prescriptions x JOIN registrations r USING (patient_id)
              WHERE {window.replace('day', 'x.day')})
        GROUP BY person""")
    use = db.execute("""
        SELECT count(*), sum(emergency_admissions), sum(ae_attendances), sum(outpatient), sum(prescription_types),
               round(sum(cost))
        FROM utilisation JOIN people USING (person) WHERE registered""").fetchone()
    counts["utilisation"] = dict(
        zip(["people", "emergency_admissions", "ae_attendances", "outpatient", "prescription_types", "cost"], use))
    spine_seconds = time.time() - start
    spine_peak = peak_mb()

    # Long-term conditions: codes from the GP record and hospital diagnoses before as-of.
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="") as table:
        csv.writer(table).writerows([("system", "code", "match", "condition")] + ltc_codes(definitions))
        table.flush()
        db.execute(f"CREATE TABLE ltc_codes AS SELECT * FROM read_csv('{table.name}', header = true, all_varchar = true)")
    db.execute(f"""
        CREATE TABLE coded AS
        SELECT r.person, g.code_system AS system, g.code FROM gp_events g JOIN registrations r USING (patient_id)
        WHERE g.day < DATE '{as_of}'
        UNION ALL
        SELECT person, 'ICD10', diagnosis FROM linked WHERE person IS NOT NULL AND diagnosis IS NOT NULL AND day < DATE '{as_of}'""")
    db.execute(f"""
        CREATE TABLE ltc AS
        SELECT person, count(DISTINCT condition) AS ltc_count FROM (
            SELECT c.person, l.condition FROM coded c JOIN ltc_codes l ON l.match = 'exact' AND l.system = c.system AND l.code = c.code
            UNION ALL
            SELECT c.person, l.condition
            FROM (SELECT DISTINCT person, system, code FROM coded WHERE system = 'ICD10') c
            CROSS JOIN (SELECT range AS n FROM range(3, 7)) lengths
            JOIN ltc_codes l ON l.match = 'prefix' AND l.system = c.system AND l.code = left(c.code, lengths.n::INTEGER))
        GROUP BY person""")
    ltc = db.execute("""
        SELECT count(*), coalesce(sum(ltc_count), 0), count(*) FILTER (ltc_count >= 2)
        FROM ltc JOIN people USING (person) WHERE registered""").fetchone()
    counts["ltc"] = dict(zip(["people_with_any", "conditions", "people_with_two_or_more"], ltc))

    print(json.dumps({"counts": counts, "spine_seconds": spine_seconds, "spine_peak_mb": spine_peak,
                      "seconds": time.time() - start, "peak_mb": peak_mb()}))


def peak_mb():
    """The process's peak resident memory in megabytes (getrusage gives kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


if __name__ == "__main__":
    main()
