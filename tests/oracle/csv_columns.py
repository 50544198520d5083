"""Oracle: the columns of a CSV file as Python's csv module (RFC 4180) reads them.

    csv_columns.py FILE

Prints one JSON object: {column name: [values in file order]}.
"""
import csv
import json
import sys

with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
print(json.dumps({k: [r[k] for r in rows] for k in (rows[0].keys() if rows else [])}))
