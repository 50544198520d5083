"""Compare label-free threshold rules on the runs of a `shiftad bench` folder.

Every run of a bench stores the scores its threshold is set from (RUN/calibration.json:
the source normals', the unlabeled pool's, the calibration normals') and, after eval,
its test scores with labels (RUN/test_scores.csv). This script sets the threshold by
each candidate rule from the stored scores (no label), and prints the mean F1 at it on
the test split beside the mean F1-max (the best threshold chosen with the labels), per
variant. Used on development directions only (docs/method.md, "The decision threshold").

    /usr/bin/python3 tools/threshold_candidates.py OUT [--variants align_all,source_only]
"""
import argparse
import csv
import json
import os

import numpy as np
from sklearn.metrics import f1_score, precision_recall_curve
from sklearn.mixture import GaussianMixture


def equal_density(m0, v0, m1, v1):
    f = lambda x: (-0.5 * np.log(v0) - (x - m0) ** 2 / (2 * v0)) - (-0.5 * np.log(v1) - (x - m1) ** 2 / (2 * v1))
    lo, hi = m0, m1
    if f(lo) * f(hi) > 0:
        return None
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if f(lo) * f(mid) <= 0 else (mid, hi)
    return 0.5 * (lo + hi)


def mixture_threshold(pool, fallback):
    x = np.log(np.maximum(np.asarray(pool), 1e-30)).reshape(-1, 1)
    gm = GaussianMixture(2, tol=1e-10, max_iter=2000, n_init=4, reg_covar=1e-12, random_state=0).fit(x)
    order = np.argsort(gm.means_.ravel())
    m, v = gm.means_.ravel()[order], gm.covariances_.ravel()[order]
    p = equal_density(m[0], v[0], m[1], v[1])
    if p is None:
        return fallback
    # As shiftad: a cut with fewer than two scores on a side cuts off images, not a population.
    above = int(np.sum(np.asarray(pool) > np.exp(p)))
    return fallback if min(above, len(pool) - above) < 2 else float(np.exp(p))


def batch_adaptive_threshold(normal_scores, scores, lam=0.5):
    """A threshold set on the images being scored, without their labels: their share of
    normals pi0 estimated from their p-values against the calibration normals
    (Storey's estimator at lambda), then the threshold that maximises the F1 this implies
    (expected false positives: pi0 * n * the normals' tail). Follows the anomaly share of
    the scored set, where the other rules carry the pool's. A candidate, not in shiftad."""
    normals = np.sort(np.asarray(normal_scores))
    tail = lambda t: 1 - np.searchsorted(normals, t, side="right") / len(normals)
    s = np.asarray(scores)
    p = tail(s) + 1 / len(normals)
    pi0 = min(1.0, float(np.mean(p > lam)) / (1 - lam))
    n, best, best_t = len(s), -1.0, np.inf
    for t in np.unique(s):
        flagged = float(np.sum(s > t))
        tp = max(flagged - pi0 * n * tail(t), 0.0)
        f1 = 2 * tp / max(flagged + (1 - pi0) * n, 1e-9)
        if f1 > best:
            best, best_t = f1, t
    return best_t


def rules(cal):
    normals, source, pool = cal["normal_scores"], cal["source_scores"], cal["pool_scores"]
    out = {}
    for q in (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99):
        out[f"normal_quantile {q}"] = float(np.quantile(normals, q))
    for q in (0.95, 1.0):
        out[f"source_quantile {q}"] = float(np.quantile(source, q))
    for q in (0.7, 0.8, 0.9, 0.95):
        out[f"pool_quantile {q}"] = float(np.quantile(pool, q))
    out["mixture"] = mixture_threshold(pool, out["normal_quantile 0.95"])
    # The pool less its calibration normals (a multiset difference of the same images'
    # scores): the rows an aligning run did not align, scored as F never trained on them.
    rest = list(pool)
    for x in normals:
        if x in rest:
            rest.remove(x)
    if len(rest) >= 4 and len(rest) < len(pool):
        out["mixture on the rest of the pool"] = mixture_threshold(rest, out["normal_quantile 0.95"])
    out["(every image anomalous)"] = -np.inf  # the baseline F1 that needs no threshold at all
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--variants", default="")
    a = ap.parse_args()
    keep = set(a.variants.split(",")) if a.variants else None
    f1s, fprs, f1_max = {}, {}, {}
    for r in csv.DictReader(open(os.path.join(a.bench, "results.csv"))):
        if keep and r["variant"] not in keep or r.get("setting"):
            continue
        run = os.path.join(a.bench, "runs", f"{r['source']}-{r['target']}", r["class"], f"seed{r['seed']}", r["variant"])
        cal = json.load(open(os.path.join(run, "calibration.json")))
        test = list(csv.DictReader(open(os.path.join(run, "test_scores.csv"))))
        y = np.array([int(t["label"]) for t in test])
        s = np.array([float(t["score"]) for t in test])
        p, rec, _ = precision_recall_curve(y, s)
        f1_max.setdefault(r["variant"], []).append(float(np.max(np.where(p + rec > 0, 2 * p * rec / np.maximum(p + rec, 1e-300), 0))))
        candidates = rules(cal)
        candidates["batch-adaptive (Storey pi0)"] = batch_adaptive_threshold(cal["normal_scores"], s)
        for name, t in candidates.items():
            called = s > t
            f1s.setdefault((r["variant"], name), []).append(f1_score(y, called.astype(int), zero_division=0))
            fprs.setdefault((r["variant"], name), []).append(float(np.mean(called[y == 0])))
    for v, fm in f1_max.items():
        print(f"{v}: {len(fm)} runs, mean F1-max {100 * np.mean(fm):.1f}")
        for (vv, name), f in f1s.items():
            if vv == v:
                print(f"  {name:24s} mean F1 {100 * np.mean(f):5.1f}  ratio {np.mean(f) / np.mean(fm):.3f}  "
                      f"mean FPR {100 * np.mean(fprs[(vv, name)]):5.1f}")


if __name__ == "__main__":
    main()
