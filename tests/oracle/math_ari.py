"""Oracle for the adjusted Rand index used by the k-means tests (sklearn's
adjusted_rand_score), on labelings generated here from a fixed seed.

Prints a JSON list of {"a": [...], "b": [...], "ari": float}.
"""
import json

import numpy as np
from sklearn.metrics import adjusted_rand_score


def main():
    rng = np.random.RandomState(7)
    out = []
    for n, ka, kb, noise in [(30, 3, 3, 0.0), (50, 4, 3, 0.2), (200, 8, 8, 0.5), (100, 2, 5, 1.0), (40, 1, 3, 1.0)]:
        a = rng.randint(ka, size=n)
        # b: a renamed, then a fraction `noise` of items moved to random clusters.
        b = (a + 1) % max(kb, 1) if kb == ka else a % kb
        moved = rng.rand(n) < noise
        b = np.where(moved, rng.randint(kb, size=n), b)
        out.append({"a": a.tolist(), "b": b.tolist(), "ari": float(adjusted_rand_score(a, b))})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
