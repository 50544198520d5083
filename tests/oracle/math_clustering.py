"""Oracle for src/clustering Gmm and MeanShift: sklearn's GaussianMixture, MeanShift and
estimate_bandwidth on data generated here from fixed seeds.

Usage: math_clustering.py gmm|partition|bandwidth
Prints one JSON object:
  gmm:       {"x", "cases": [{"covariance", "weights_init", "means_init", "precisions_init",
              "max_iter", "tol", "reg_covar", "score", "n_iter", "converged", "weights", "means"}]}
  partition: {"x", "k", "gmm_labels", "meanshift_labels", "meanshift_centers", "bandwidth"}
  bandwidth: {"cases": [{"x", "bandwidths": {quantile: bandwidth}}]}, x rounded to float32
             values so that float32 and float64 inputs hold the same numbers.
"""
import json
import sys
import warnings

import numpy as np

# sklearn is imported inside each mode: its import is most of a run's time, and not every
# mode needs sklearn.mixture.


def blobs(rng, centers, sizes, stds):
    """Gaussian blobs around `centers`, `sizes[j]` points with std `stds[j]`, shuffled."""
    x = np.concatenate([c + s * rng.randn(n, len(c)) for c, n, s in zip(np.asarray(centers, float), sizes, stds)])
    return x[rng.permutation(len(x))]


def gmm_cases():
    from sklearn.mixture import GaussianMixture

    # Three overlapping blobs in 4-D: EM needs several iterations from the perturbed start.
    rng = np.random.RandomState(3)
    x = blobs(rng, [[0, 0, 0, 0], [3, 1, 0, 2], [-2, 3, 1, -1]], [120, 90, 60], [1.0, 1.3, 0.7])
    k, d = 3, x.shape[1]
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[0.5, 0.5, 0, 0], [2, 2, 0, 1], [-1, 2, 0, 0]], dtype=float)
    cases = []
    for covariance in ["diag", "full"]:
        if covariance == "diag":
            precisions = 1.0 / (0.5 + rng.rand(k, d))
        else:
            a = rng.randn(k, d, d) * 0.3
            precisions = np.linalg.inv(np.eye(d) + a @ a.transpose(0, 2, 1))
        params = dict(max_iter=100, tol=1e-3, reg_covar=1e-6)
        g = GaussianMixture(n_components=k, covariance_type=covariance, weights_init=weights, means_init=means,
                            precisions_init=precisions, random_state=0, **params)
        g.fit(x)
        cases.append(dict(covariance=covariance, weights_init=weights.tolist(), means_init=means.tolist(),
                          precisions_init=precisions.tolist(), score=float(g.score(x)), n_iter=int(g.n_iter_),
                          converged=bool(g.converged_), weights=g.weights_.tolist(), means=g.means_.tolist(),
                          **params))
    return {"x": x.tolist(), "cases": cases}


def partition():
    from sklearn.cluster import MeanShift, estimate_bandwidth
    from sklearn.mixture import GaussianMixture

    # Well separated blobs of unequal sizes in 6-D.
    rng = np.random.RandomState(11)
    x = blobs(rng, rng.uniform(-15, 15, size=(3, 6)), [150, 100, 50], [0.8, 0.8, 0.8])
    gmm_labels = GaussianMixture(n_components=3, covariance_type="diag", random_state=0).fit_predict(x)
    ms = MeanShift().fit(x)  # bandwidth estimated at quantile 0.3, every point a seed
    return {"x": x.tolist(), "k": 3, "gmm_labels": gmm_labels.tolist(), "meanshift_labels": ms.labels_.tolist(),
            "meanshift_centers": ms.cluster_centers_.tolist(), "bandwidth": float(estimate_bandwidth(x))}


def bandwidth():
    from sklearn.cluster import estimate_bandwidth

    rng = np.random.RandomState(5)
    data = [
        (rng.randn(200, 5), [0.3, 0.05, 1.0, 0.0]),
        (blobs(rng, rng.uniform(-10, 10, size=(4, 8)), [100, 80, 70, 50], [1.0, 1.0, 1.0, 1.0]), [0.3, 0.1]),
        (rng.rand(257, 16) + 1000.0, [0.3, 0.5]),  # far from the origin: cancellation in expanded distances
    ]
    cases = []
    for x, quantiles in data:
        x = x.astype(np.float32).astype(np.float64)
        bandwidths = {str(q): float(estimate_bandwidth(x, quantile=q)) for q in quantiles}
        cases.append({"x": x.tolist(), "bandwidths": bandwidths})
    return {"cases": cases}


def main():
    warnings.simplefilter("ignore")  # sklearn's FutureWarnings would not reach stdout, but keep stderr clean
    out = {"gmm": gmm_cases, "partition": partition, "bandwidth": bandwidth}[sys.argv[1]]()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
