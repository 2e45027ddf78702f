"""Validates FHIR R4 resources with an independent implementation: fhir.resources 6.4.0, whose
models are generated from the R4 (4.0.1) StructureDefinitions (element names, types, required
elements, primitive formats).

    validate_fhir.py FILE...   each file NDJSON (one resource per line) or one JSON resource

Prints one line per invalid resource and exits 1 if there is any; otherwise prints the number of
resources checked by type and exits 0.
"""
import json
import sys
from collections import Counter

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__


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
            try:
                construct_fhir_element(kind, resource)
                checked[kind] += 1
            except Exception as error:  # pydantic's ValidationError, or an unknown type
                failures += 1
                if failures <= 20:
                    print(f"{path}:{line}: {kind}: {error}".replace("\n", " | "))
    print(" ".join(f"{k}={v}" for k, v in sorted(checked.items())))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
