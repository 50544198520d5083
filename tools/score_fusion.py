"""AUROC of a rank average of two variants' test scores, per sweep level and direction.

For issue 17 ("agreement between Φ and F"): whether mixing a trained variant's scores
with another variant's (a frozen baseline, or a second trained variant) ranks the target
test split better than either alone. Each run's scores are turned into ranks in [0, 1]
(ties share their mean rank) and mixed as (1 - w) * rank_A + w * rank_B; w = 0 is A
alone, w = 1 is B alone. Runs are paired by sweep level, direction, class and seed, and
their test rows must be the same images in the same order (RUN/test_scores.csv, written
by every bench run). AUROC is scikit-learn's, anomalies (label 1) positive.

    /usr/bin/python3 tools/score_fusion.py --a OUT[,OUT...] --variant-a default \\
        --b OUT2 --variant-b frozen_dominant --weights 0,0.25,0.5,1

OUT: `shiftad bench` folders run with `--sweep data.contamination=...` (a shard's or a
merge's folder; their runs/ trees are read). Development directions only
(docs/method.md, "The default").
"""
import argparse
import collections
import csv
import glob
import os
import statistics


def read_scores(path):
    """(labels, scores, paths) of a test_scores.csv (RFC 4180: a path with a comma or a
    line break is quoted)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [int(r["label"]) for r in rows], [float(r["score"]) for r in rows], [r["path"] for r in rows]


def ranks(values):
    """Ranks in (0, 1], ties sharing their mean rank (scipy's rankdata / n)."""
    from scipy.stats import rankdata

    return rankdata(values) / len(values)


def runs_of(out, variant):
    """{(level, direction, class, seed): test_scores.csv} of OUT's runs of `variant`."""
    found = {}
    for p in glob.glob(os.path.join(out, "runs", "*", "*", "*", "*", variant, "test_scores.csv")):
        level, direction, cls, seed = os.path.relpath(p, os.path.join(out, "runs")).split(os.sep)[:4]
        found[(level, direction, cls, seed)] = p
    return found


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--a", required=True, help="bench folders of variant A, comma-separated")
    a.add_argument("--variant-a", required=True)
    a.add_argument("--b", required=True, help="bench folders of variant B, comma-separated")
    a.add_argument("--variant-b", required=True)
    a.add_argument("--weights", default="0,0.25,0.5,1", help="weights w of B, comma-separated")
    args = a.parse_args()
    from sklearn.metrics import roc_auc_score

    weights = [float(w) for w in args.weights.split(",")]
    runs_a, runs_b = {}, {}
    for out in args.a.split(","):
        runs_a.update(runs_of(out, args.variant_a))
    for out in args.b.split(","):
        runs_b.update(runs_of(out, args.variant_b))
    cells = collections.defaultdict(list)
    for key in sorted(set(runs_a) & set(runs_b)):
        la, sa, pa = read_scores(runs_a[key])
        lb, sb, pb = read_scores(runs_b[key])
        if pa != pb or la != lb:
            raise SystemExit(f"{runs_a[key]} and {runs_b[key]}: not the same test images")
        ra, rb = ranks(sa), ranks(sb)
        cells[key[:2]].append([roc_auc_score(la, (1 - w) * ra + w * rb) for w in weights])
    if not cells:
        raise SystemExit("no run of both variants at the same level, direction, class and seed")
    print(f"| level | direction | runs | " + " | ".join(f"w = {w:g}" for w in weights) + " |")
    print("|---|---|---|" + "---|" * len(weights))
    for (level, direction), rows in sorted(cells.items()):
        means = [100 * statistics.mean(col) for col in zip(*rows)]
        print(f"| {level.split('=')[-1]} | {direction} | {len(rows)} | " + " | ".join(f"{m:.1f}" for m in means) + " |")


if __name__ == "__main__":
    main()
