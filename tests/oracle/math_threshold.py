"""Oracle for src/method/DecisionThreshold: numpy's quantile and sklearn's two-component
Gaussian mixture on the line, with the equal-density point of its components solved here.

Prints a JSON list of cases for tests/method/DecisionThresholdTest.cpp. Each case holds
values drawn from two Gaussians (fixed seeds), numpy.quantile at a few q, and sklearn's
GaussianMixture fit (tight tolerance, many inits, so that it reaches the maximum), and the
BIC gain of that fit over one Gaussian.
"""
import json

import numpy as np
from sklearn.mixture import GaussianMixture


def equal_density(m0, v0, m1, v1):
    """Root in [m0, m1] of log N(x; m0, v0) = log N(x; m1, v1), by bisection."""
    f = lambda x: (-0.5 * np.log(v0) - (x - m0) ** 2 / (2 * v0)) - (-0.5 * np.log(v1) - (x - m1) ** 2 / (2 * v1))
    lo, hi = m0, m1
    if f(lo) * f(hi) > 0:
        return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def main():
    rng = np.random.RandomState(20261202)
    out = []
    for name, n0, m0, s0, n1, m1, s1 in [
        ("separated", 300, 0.0, 1.0, 60, 5.0, 1.5),
        ("overlapping", 400, 1.0, 0.8, 100, 3.0, 1.0),
        ("narrow_anomalies", 200, -2.0, 1.2, 40, 2.0, 0.4),
    ]:
        x = np.concatenate([rng.randn(n0) * s0 + m0, rng.randn(n1) * s1 + m1])
        gm = GaussianMixture(2, covariance_type="full", tol=1e-12, max_iter=2000, n_init=4,
                             reg_covar=0.0, random_state=0).fit(x.reshape(-1, 1))
        order = np.argsort(gm.means_.ravel())
        means = gm.means_.ravel()[order]
        variances = gm.covariances_.ravel()[order]
        weights = gm.weights_[order]
        one = GaussianMixture(1, covariance_type="full", reg_covar=0.0).fit(x.reshape(-1, 1))
        qs = [0.5, 0.9, 0.95, 0.99]
        out.append({
            "name": name,
            "values": [float(v) for v in x],
            "quantiles": [[q, float(np.quantile(x, q))] for q in qs],
            "weights": [float(w) for w in weights],
            "means": [float(m) for m in means],
            "variances": [float(v) for v in variances],
            "equal_density": equal_density(means[0], variances[0], means[1], variances[1]),
            # BIC of one Gaussian minus BIC of the mixture (sklearn counts 2 and 5 parameters).
            "bic_gain": float(one.bic(x.reshape(-1, 1)) - gm.bic(x.reshape(-1, 1))),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
