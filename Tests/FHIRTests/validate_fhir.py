"""Validates FHIR R4 resources with two independent implementations, each generated from the R4
(4.0.1) StructureDefinitions: fhir.resources 6.4.0 (Python models on pydantic: element names,
types, required elements, primitive formats) and fhirkit-rs 0.1.0 (Rust: the same, with choice
types, code values and every problem reported with its path). A resource passes when neither
reports an error (fhirkit's warnings are advisory).

    validate_fhir.py FILE...   each file NDJSON (one resource per line) or one JSON resource

Prints one line per invalid resource and exits 1 if there is any; otherwise prints the number of
resources checked by type and exits 0.
"""
import json
import sys
from collections import Counter

import fhir.resources
import fhirkit
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
assert fhirkit.FHIR_VERSION == "4.0.1", fhirkit.FHIR_VERSION


def resources(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".ndjson"):
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                yield number, json.loads(line)
    else:
        yield 1, json.loads(text)


def main(paths):
    checked, failures = Counter(), 0
    for path in paths:
        for line, resource in resources(path):
            kind = resource.get("resourceType", "?")
            problems = [f"fhirkit: {issue}" for issue in fhirkit.validate(resource) if issue.severity == "error"]
            try:
                construct_fhir_element(kind, resource)
            except Exception as error:  # pydantic's ValidationError, or an unknown type
                problems.append(f"fhir.resources: {error}")
            if problems:
                failures += 1
                if failures <= 20:
                    print(f"{path}:{line}: {kind}: {' / '.join(problems)}".replace("\n", " | "))
            else:
                checked[kind] += 1
    print(" ".join(f"{k}={v}" for k, v in sorted(checked.items())))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
