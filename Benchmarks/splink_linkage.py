"""Links the care records of a synthetic health system to its GP registrations with Splink
(Fellegi-Sunter on DuckDB), as the reference `phm-bench --linkage-only` compares the platform's
linkage with: the records' names and postcodes normalised as the platform normalises them, the
same fields and comparable levels, u from random pairs, m by EM on three blocking rules, and a
record linked to its most likely registration when that is at least 0.99 likely.

    splink_linkage.py DIR

Prints one line of JSON: records, linked, correct, precision, recall, f1, seconds, peak_mb.
With PHM_SPLINK_MEMORY_LIMIT (DuckDB's form, say 10GB) DuckDB keeps to that much memory and
spills the rest to a temporary folder.
"""
import json
import os
import re
import resource
import sys
import tempfile
import time

import duckdb

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

IDENTITY = ["nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode"]
CARE = ["inpatient_spells.csv", "ae_attendances.csv", "outpatient_appointments.csv", "care_contacts.csv"]
NHS = re.compile(r"^\d{10}$")


def nhs_valid(text):
    if not NHS.match(text):
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(text[:9]))
    check = 11 - total % 11
    return (0 if check == 11 else check) == int(text[9]) and check != 10


def normalised(frame):
    out = frame.copy()
    for name in ["given_name", "family_name"]:
        out[name] = out[name].str.upper().str.replace(r"[^A-Z]", "", regex=True)
    out["postcode"] = out["postcode"].str.upper().str.replace(" ", "", regex=False)
    out["nhs_number"] = out["nhs_number"].where(out["nhs_number"].map(nhs_valid), "")
    out["sex"] = out["sex"].where(out["sex"].isin(["M", "F", "I"]), "")
    out["date_of_birth"] = out["date_of_birth"].where(
        pd.to_datetime(out["date_of_birth"], format="%Y-%m-%d", errors="coerce").notna(), ""
    )
    return out.replace("", None)


def main(folder):
    start = time.time()
    spine = pd.read_csv(f"{folder}/patients.csv", dtype=str, keep_default_na=False, usecols=["patient_id"] + IDENTITY)
    spine = normalised(spine.rename(columns={"patient_id": "unique_id"}))
    # The injected malformed rows, which the platform quarantines, are no one's: left out on
    # both sides.
    person_of_patient = dict(
        pd.read_csv(f"{folder}/ground-truth/registrations.csv", dtype=str)[["patient_id", "person"]].itertuples(index=False)
    )
    spine = spine[spine["unique_id"].isin(person_of_patient)]
    records = pd.concat(
        pd.read_csv(f"{folder}/{f}", dtype=str, keep_default_na=False, usecols=["record_id"] + IDENTITY) for f in CARE
    )
    records = normalised(records.rename(columns={"record_id": "unique_id"}))
    truth = dict(pd.read_csv(f"{folder}/ground-truth/care_records.csv", dtype=str)[["record_id", "person"]].itertuples(index=False))
    records = records[records["unique_id"].isin(truth)]

    limit = os.environ.get("PHM_SPLINK_MEMORY_LIMIT")
    config = {"memory_limit": limit, "temp_directory": tempfile.mkdtemp(prefix="splink-")} if limit else {}
    db = DuckDBAPI(duckdb.connect(config=config))
    year = "substr(date_of_birth, 1, 4)"
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.ExactMatch("nhs_number"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True),
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.PostcodeComparison("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("nhs_number"),
            block_on("date_of_birth"),
            block_on("postcode", year),
            block_on("family_name", year),
            block_on("given_name", year),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(
        [db.register(spine, dataset_display_name="spine"), db.register(records, dataset_display_name="records")],
        settings,
        log_level=None,
    )
    linker.training.estimate_probability_two_random_records_match([block_on("nhs_number", "date_of_birth")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    for rule in [block_on("date_of_birth"), block_on("family_name", "given_name"), block_on("postcode", "family_name")]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pairs = linker.inference.predict(threshold_match_probability=0.99).as_pandas_dataframe()
    seconds = time.time() - start

    # The most likely registration of each record.
    left_is_spine = pairs["source_dataset_l"] == "spine"
    pairs["record"] = pairs["unique_id_r"].where(left_is_spine, pairs["unique_id_l"])
    pairs["registration"] = pairs["unique_id_l"].where(left_is_spine, pairs["unique_id_r"])
    best = pairs.sort_values("match_probability", ascending=False).drop_duplicates("record")

    linked = len(best)
    correct = sum(person_of_patient.get(reg) == truth.get(rec) for rec, reg in zip(best["record"], best["registration"]))
    total = len(records)
    precision = correct / linked if linked else 1.0
    recall = correct / total if total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # kibibytes to megabytes
    print(json.dumps(dict(records=total, linked=linked, correct=correct, precision=precision, recall=recall, f1=f1,
                          seconds=round(seconds, 2), peak_mb=round(peak))))


if __name__ == "__main__":
    main(sys.argv[1])
