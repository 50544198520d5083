"""Oracle for src/evaluation/Metrics and Decision: sklearn's AUROC, average precision, ROC
curve, and precision/recall/F1/FPR at thresholds and the best F1 over thresholds.

Prints a JSON list of cases, each with its inputs (generated here from fixed seeds, with
deliberate ties) and sklearn's answers, for tests/evaluation/MetricsOracleTest.cpp.
Floats are written with repr() precision, so they round-trip exactly.
"""
import json

import numpy as np
from sklearn.metrics import (average_precision_score, confusion_matrix, precision_recall_curve,
                             precision_recall_fscore_support, roc_auc_score, roc_curve)


def make_cases():
    rng = np.random.RandomState(20240607)
    cases = []
    # (name, n, anomaly fraction, decimals): rounding to few decimals creates ties.
    for name, n, frac, decimals in [
        ("small_ties", 12, 0.4, 0),
        ("medium_ties", 57, 0.3, 1),
        ("one_anomaly", 40, 0.0, 1),
        ("one_normal", 40, 1.0, 1),
        ("heavy_ties", 300, 0.2, 0),
        ("large_few_ties", 2000, 0.1, 3),
    ]:
        labels = (rng.rand(n) < frac).astype(int)
        if frac == 0.0:
            labels[rng.randint(n)] = 1
        if frac == 1.0:
            labels[rng.randint(n)] = 0
        # Anomalies score higher on average, with overlap so the metrics are not trivial.
        scores = np.round(rng.randn(n) * 2.0 + labels * 1.5, decimals)
        cases.append((name, scores, labels))
    return cases


def decisions(scores, labels):
    """At three thresholds (a low, the median and a high score; the median is often tied),
    sklearn's metrics of calling score > t anomalous, and F1-max from the PR curve."""
    out = []
    for t in [float(np.quantile(scores, 0.1)), float(np.median(scores)), float(np.quantile(scores, 0.9))]:
        pred = (scores > t).astype(int)
        p, r, f, _ = precision_recall_fscore_support(labels, pred, average="binary", zero_division=0)
        tn, fp, fn, tp = confusion_matrix(labels, pred, labels=[0, 1]).ravel()
        out.append({"threshold": t, "precision": float(p), "recall": float(r), "f1": float(f),
                    "fpr": float(fp / (fp + tn)) if fp + tn else 0.0})
    prec, rec, _ = precision_recall_curve(labels, scores)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0.0)
    return out, float(f1.max())


def delong_se(scores, labels):
    """DeLong's standard error of the AUROC, from the full pair matrix (not from ranks, as
    the C++ does): psi[i, j] = 1 if anomaly i outscores normal j, 1/2 on a tie; NaN with
    fewer than two of either class (JSON null)."""
    a, n = scores[labels == 1], scores[labels == 0]
    if len(a) < 2 or len(n) < 2:
        return None
    psi = (a[:, None] > n[None, :]) + 0.5 * (a[:, None] == n[None, :])
    return float(np.sqrt(psi.mean(1).var(ddof=1) / len(a) + psi.mean(0).var(ddof=1) / len(n)))


def main():
    out = []
    for name, scores, labels in make_cases():
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
        at, f1_max = decisions(scores, labels)
        out.append({
            "name": name,
            "scores": [float(s) for s in scores],
            "labels": [int(v) for v in labels],
            "auroc": float(roc_auc_score(labels, scores)),
            "ap": float(average_precision_score(labels, scores)),
            "delong_se": delong_se(scores, labels),
            "fpr": [float(v) for v in fpr],
            "tpr": [float(v) for v in tpr],
            "decisions": at,
            "f1_max": f1_max,
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
