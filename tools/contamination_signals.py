"""What a bench folder's runs say, without labels, about their pool's contamination.

For issue 17 (a default that needs no contamination setting): a label-free default
could switch or weigh by an estimate of the pool's anomaly share, if one can be read
from what training has. This script prints, per sweep level, direction and variant,
the mean over classes and seeds of two such signals next to the true contamination:

- above: the share of the unlabeled pool scored above the run's label-free threshold
  (RUN/calibration.json: pool_scores, threshold; F's view after training);
- dominant: the share of the pool in the dominant cluster and, as a diagnostic that
  reads labels, its purity (last line of RUN/metrics.jsonl; clustering variants only);
- one population: whether the BIC prefers one Gaussian to two on the logarithms of those
  pool scores (scikit-learn's GaussianMixture), i.e. whether F's view of the pool after
  training shows a separate anomalous mode; the table gives the share of runs where it
  does not.

    /usr/bin/python3 tools/contamination_signals.py OUT

OUT: a `shiftad bench` folder run with `--sweep data.contamination=...`. Development
directions only (docs/method.md, "Toward one label-free default").
"""
import argparse
import collections
import glob
import json
import os
import statistics


def sweep_key(out, run_dir):
    """(contamination, direction, variant) of a run at OUT/runs/data.contamination=X/
    DIRECTION/CLASS/SEED/VARIANT, or None for a run outside such a sweep."""
    parts = os.path.relpath(run_dir, out).split(os.sep)
    if len(parts) != 6 or not parts[1].startswith("data.contamination="):
        return None
    return float(parts[1].split("=", 1)[1]), parts[2], parts[5]


def one_population(scores):
    """Whether the BIC prefers one Gaussian to two on the scores' logarithms."""
    import numpy as np
    from sklearn.mixture import GaussianMixture

    x = np.log(np.maximum(np.asarray(scores, dtype=float), 1e-12)).reshape(-1, 1)
    if len(x) < 4:
        return True
    bic = [GaussianMixture(k, n_init=3, random_state=0).fit(x).bic(x) for k in (1, 2)]
    return bic[0] <= bic[1]


def signals(run_dir):
    """The signals of one run that has a calibration.json."""
    out = {}
    c = json.load(open(os.path.join(run_dir, "calibration.json")))
    pool = c.get("pool_scores") or []
    if pool:
        out["above"] = sum(s > c["threshold"] for s in pool) / len(pool)
        out["one"] = float(one_population(pool))
    met = os.path.join(run_dir, "metrics.jsonl")
    if os.path.exists(met):
        lines = [json.loads(l) for l in open(met) if l.startswith("{")]
        if lines and "dominant_share" in lines[-1] and "dominant_purity_diagnostic" in lines[-1]:
            out["dominant"] = lines[-1]["dominant_share"]
            out["purity"] = lines[-1]["dominant_purity_diagnostic"]
    return out


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("out")
    args = a.parse_args()
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    for cal in glob.glob(os.path.join(args.out, "runs", "**", "calibration.json"), recursive=True):
        run = os.path.dirname(cal)
        key = sweep_key(args.out, run)
        if key is None:
            continue
        for k, v in signals(run).items():
            rows[key][k].append(v)
    if not rows:
        raise SystemExit(f"{args.out}: no runs of a data.contamination sweep with calibration.json under runs/")
    print("| contamination | direction | variant | runs | above threshold | one population (BIC) | dominant share "
          "| purity (reads labels) |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda v: f"{statistics.mean(v):.2f} ± {statistics.pstdev(v):.2f}" if v else ""
    for (level, direction, variant), s in sorted(rows.items()):
        one = f"{statistics.mean(s['one']):.2f}" if s["one"] else ""
        print(f"| {level:g} | {direction} | {variant} | {len(s['above'])} | {fmt(s['above'])} | {one} | "
              f"{fmt(s['dominant'])} | {fmt(s['purity'])} |")


if __name__ == "__main__":
    main()
