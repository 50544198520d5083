#!/usr/bin/env python3
"""The decision at the label-free threshold, per direction and variant, from the rows
of one or more bench results.csv files: runs, mean F1, mean F1-max, their ratio, mean
false-positive rate and mean recall (anomalies positive). Rows without the decision
columns (files written before thresholds existed) are left out.

    /usr/bin/python3 tools/decision_summary.py docs/results/pacs/results.csv --variants default,align_all
"""
import argparse
import csv
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="+", help="bench results.csv files")
    ap.add_argument("--variants", default="", help="comma-separated variants (default: all)")
    args = ap.parse_args()
    keep = set(v for v in args.variants.split(",") if v)
    groups = defaultdict(list)
    for path in args.results:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if keep and row["variant"] not in keep:
                    continue
                if not row.get("f1") or not row.get("fpr"):
                    continue
                key = (row["source"] + " -> " + row["target"], row.get("setting", ""), row["variant"])
                groups[key].append(row)
    print("direction\tsetting\tvariant\truns\tF1\tF1-max\tratio\tFPR\trecall")
    for (direction, setting, variant), rows in sorted(groups.items()):
        mean = lambda k: sum(float(r[k]) for r in rows) / len(rows)
        f1, f1_max = mean("f1"), mean("f1_max")
        print(f"{direction}\t{setting}\t{variant}\t{len(rows)}\t{100 * f1:.1f}\t{100 * f1_max:.1f}\t"
              f"{f1 / f1_max:.3f}\t{100 * mean('fpr'):.1f}\t{100 * mean('recall'):.1f}")


if __name__ == "__main__":
    main()
