// Deep SVDD and InfoNCE against their formulas written out naively (loops, double).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "losses/Losses.h"
#include "support/MathTestUtil.h"

namespace lo = shiftad::losses;
using shiftad::test::expectError;

namespace {

using Matrix = std::vector<std::vector<double>>;

Matrix toMatrix(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kDouble).contiguous();
  Matrix m(c.size(0), std::vector<double>(c.size(1)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t k = 0; k < c.size(1); ++k) m[i][k] = c[i][k].item<double>();
  return m;
}

/// Paper Eq. 8-9 literally: z = [zs; zt], sim = cosine similarity,
/// l(i, j) = -log(exp(sim_ij / tau) / sum_{k != i} exp(sim_ik / tau)), mean over the 2n rows.
/// `negatives` are appended to z but are never an anchor i: they only add terms to
/// every denominator.
double naiveInfoNce(const Matrix& zs, const Matrix& zt, double tau, const Matrix& negatives = {}) {
  Matrix z = zs;
  z.insert(z.end(), zt.begin(), zt.end());
  const size_t m = z.size(), n = zs.size();
  z.insert(z.end(), negatives.begin(), negatives.end());
  auto cosine = [&](size_t a, size_t b) {
    double dot = 0, na = 0, nb = 0;
    for (size_t k = 0; k < z[a].size(); ++k) {
      dot += z[a][k] * z[b][k];
      na += z[a][k] * z[a][k];
      nb += z[b][k] * z[b][k];
    }
    return dot / std::sqrt(na * nb);
  };
  double total = 0;
  for (size_t i = 0; i < m; ++i) {
    const size_t j = i < n ? i + n : i - n;
    double denom = 0;
    for (size_t k = 0; k < z.size(); ++k)
      if (k != i) denom += std::exp(cosine(i, k) / tau);
    total += -std::log(std::exp(cosine(i, j) / tau) / denom);
  }
  return total / static_cast<double>(m);
}

/// A fixed, well-conditioned input: rows with distinct directions.
torch::Tensor fixedFeatures(int64_t n, int64_t d, double phase) {
  const auto i = torch::arange(n, torch::kDouble).unsqueeze(1);
  const auto k = torch::arange(d, torch::kDouble).unsqueeze(0);
  return torch::sin(0.9 * i + 1.7 * k + phase) + 0.3 * torch::cos(2.3 * i * k + phase);
}

/// Gradient of naiveInfoNce with respect to one input, by central differences.
torch::Tensor finiteDifferenceGrad(const Matrix& zs, const Matrix& zt, double tau, bool wrt_source) {
  const double h = 1e-6;
  const Matrix& base = wrt_source ? zs : zt;
  torch::Tensor g =
      torch::zeros({static_cast<int64_t>(base.size()), static_cast<int64_t>(base[0].size())}, torch::kDouble);
  for (size_t r = 0; r < base.size(); ++r) {
    for (size_t c = 0; c < base[r].size(); ++c) {
      Matrix plus = base, minus = base;
      plus[r][c] += h;
      minus[r][c] -= h;
      const double fp = wrt_source ? naiveInfoNce(plus, zt, tau) : naiveInfoNce(zs, plus, tau);
      const double fm = wrt_source ? naiveInfoNce(minus, zt, tau) : naiveInfoNce(zs, minus, tau);
      g[r][c] = (fp - fm) / (2 * h);
    }
  }
  return g;
}

}  // namespace

TEST(Losses, SvddCenterEpsRule) {
  // Column means: 0.01 (|.| < eps, >= 0 -> +eps), 0.3 (kept), 0 (-> +eps), -0.02 (-> -eps), -0.5 (kept).
  const torch::Tensor f = torch::tensor({{0.05, -0.2, 0.0, -0.05, -0.4},  //
                                         {-0.03, 0.8, 0.0, 0.01, -0.6}},
                                        torch::kDouble);
  const torch::Tensor c = lo::svddCenter(f, 0.1);
  const torch::Tensor expected = torch::tensor({0.1, 0.3, 0.1, -0.1, -0.5}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(c, expected, 0, 1e-15)) << c;
  EXPECT_TRUE(torch::allclose(lo::svddCenter(f, 0.0), f.mean(0), 0, 0));  // eps = 0: plain mean
}

TEST(Losses, SvddCenterIsAConstant) {
  const torch::Tensor f = torch::randn({4, 3}, torch::kDouble).requires_grad_(true);
  EXPECT_FALSE(lo::svddCenter(f, 0.1).requires_grad());
}

TEST(Losses, SvddScoreAndLossMatchFormula) {
  const torch::Tensor z = fixedFeatures(5, 4, 0.1).requires_grad_(true);
  const torch::Tensor c = torch::tensor({0.2, -0.1, 0.0, 0.5}, torch::kDouble);
  const Matrix zm = toMatrix(z), cm = {toMatrix(c.unsqueeze(0))[0]};
  const torch::Tensor score = lo::svddScore(z, c);
  double mean = 0;
  for (size_t i = 0; i < zm.size(); ++i) {
    double s = 0;
    for (size_t k = 0; k < zm[i].size(); ++k) s += (zm[i][k] - cm[0][k]) * (zm[i][k] - cm[0][k]);
    EXPECT_NEAR(score[i].item<double>(), s, 1e-14) << i;
    mean += s / static_cast<double>(zm.size());
  }
  const torch::Tensor loss = lo::deepSvddLoss(z, c);
  EXPECT_NEAR(loss.item<double>(), mean, 1e-14);
  // d/dz (1/n) sum ||z_i - c||^2 = 2 (z - c) / n.
  loss.backward();
  EXPECT_TRUE(torch::allclose(z.grad(), 2.0 * (z.detach() - c) / 5.0, 0, 1e-14));
}

TEST(Losses, InfoNceHandCase) {
  // zs = zt = [e1; e2] (each positive pair identical, the rest orthogonal), tau = 1:
  // every row sees exp(1) for its partner and exp(0) twice, so l = log(1 + 2/e).
  const torch::Tensor e = torch::eye(2, torch::kDouble);
  EXPECT_NEAR(lo::infoNceLoss(e, e, 1.0).item<double>(), std::log(1.0 + 2.0 / std::exp(1.0)), 1e-15);
  // n = 1: the partner is the only other row, l = -log 1 = 0.
  const torch::Tensor a = torch::tensor({{1.0, 2.0}}, torch::kDouble);
  const torch::Tensor b = torch::tensor({{-3.0, 0.5}}, torch::kDouble);
  EXPECT_NEAR(lo::infoNceLoss(a, b, 0.1).item<double>(), 0.0, 1e-15);
}

TEST(Losses, InfoNceMatchesNaiveFormula) {
  const torch::Tensor zs = fixedFeatures(6, 5, 0.0), zt = fixedFeatures(6, 5, 0.4);
  for (double tau : {1.0, 0.5, 0.1, 0.02}) {
    const double expected = naiveInfoNce(toMatrix(zs), toMatrix(zt), tau);
    EXPECT_NEAR(lo::infoNceLoss(zs, zt, tau).item<double>(), expected, 1e-12 * std::max(1.0, expected)) << tau;
    // float32 path: same value up to single precision.
    EXPECT_NEAR(lo::infoNceLoss(zs.to(torch::kFloat), zt.to(torch::kFloat), tau).item<double>(), expected,
                1e-5 * std::max(1.0, expected) / tau)
        << tau;
  }
}

TEST(Losses, InfoNceWithNegativesMatchesNaiveFormula) {
  const auto zs = fixedFeatures(4, 3, 0.0), zt = fixedFeatures(4, 3, 0.5), zn = fixedFeatures(3, 3, 1.3);
  for (double tau : {1.0, 0.2}) {
    const double expected = naiveInfoNce(toMatrix(zs), toMatrix(zt), tau, toMatrix(zn));
    EXPECT_NEAR(lo::infoNceLoss(zs, zt, tau, zn).item<double>(), expected, 1e-10) << "tau " << tau;
    // More negatives can only enlarge the denominators.
    EXPECT_GT(expected, naiveInfoNce(toMatrix(zs), toMatrix(zt), tau));
  }
}

TEST(Losses, InfoNceIsScaleInvariant) {
  const torch::Tensor zs = fixedFeatures(4, 3, 0.0), zt = fixedFeatures(4, 3, 0.7);
  EXPECT_NEAR(lo::infoNceLoss(3.0 * zs, 0.25 * zt, 0.2).item<double>(), lo::infoNceLoss(zs, zt, 0.2).item<double>(),
              1e-13);
}

TEST(Losses, InfoNceGradientMatchesFiniteDifferences) {
  const torch::Tensor zs = fixedFeatures(4, 3, 0.0).requires_grad_(true);
  const torch::Tensor zt = fixedFeatures(4, 3, 0.5).requires_grad_(true);
  const double tau = 0.3;
  lo::infoNceLoss(zs, zt, tau).backward();
  const Matrix ms = toMatrix(zs), mt = toMatrix(zt);
  EXPECT_TRUE(torch::allclose(zs.grad(), finiteDifferenceGrad(ms, mt, tau, true), 1e-6, 1e-7)) << zs.grad();
  EXPECT_TRUE(torch::allclose(zt.grad(), finiteDifferenceGrad(ms, mt, tau, false), 1e-6, 1e-7)) << zt.grad();
}

TEST(Losses, InfoNceStableForSmallTau) {
  // sim / tau reaches 1e4: exp overflows in double, let alone float; the loss must not.
  const torch::Tensor zs = fixedFeatures(8, 16, 0.0).to(torch::kFloat).requires_grad_(true);
  const torch::Tensor zt = fixedFeatures(8, 16, 0.2).to(torch::kFloat).requires_grad_(true);
  const torch::Tensor loss = lo::infoNceLoss(zs, zt, 1e-4);
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  EXPECT_TRUE(torch::isfinite(zs.grad()).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(zt.grad()).all().item<bool>());
  // Same value as the double computation, relative to the logits' scale.
  const double ref =
      lo::infoNceLoss(zs.detach().to(torch::kDouble), zt.detach().to(torch::kDouble), 1e-4).item<double>();
  EXPECT_NEAR(loss.item<double>(), ref, 1e-6 * 1e4);
}

TEST(Losses, AnchorPenaltyIsTheSquaredDistanceToTheAnchorsWithItsGradient) {
  // Hand-checked: (1-0)^2 + (2-0)^2 + (3-1)^2 = 9; d/dw = 2 (w - anchor).
  auto w1 = torch::tensor({1.0, 2.0}, torch::kDouble).requires_grad_();
  auto w2 = torch::tensor({{3.0}}, torch::kDouble).requires_grad_();
  const auto loss =
      lo::anchorPenalty({w1, w2}, {torch::zeros({2}, torch::kDouble), torch::ones({1, 1}, torch::kDouble)});
  EXPECT_DOUBLE_EQ(loss.item<double>(), 9.0);
  loss.backward();
  EXPECT_TRUE(torch::equal(w1.grad(), torch::tensor({2.0, 4.0}, torch::kDouble)));
  EXPECT_DOUBLE_EQ(w2.grad().item<double>(), 4.0);
  expectError([&] { lo::anchorPenalty({w1}, {}); }, "anchorPenalty: 1 weight tensors but 0 anchors");
  expectError([&] { lo::anchorPenalty({w1}, {torch::zeros({3})}); },
              "anchorPenalty: weight 0 is [2] but its anchor is [3]");
}

TEST(Losses, Errors) {
  const torch::Tensor z = torch::zeros({3, 4});
  expectError([&] { lo::infoNceLoss(z, torch::zeros({2, 4}), 0.1); }, "infoNceLoss: zs is [3, 4] but zt is [2, 4]");
  expectError([&] { lo::infoNceLoss(z, z, 0.0); }, "infoNceLoss: temperature tau must be > 0, got 0");
  expectError([&] { lo::infoNceLoss(torch::zeros({0, 4}), torch::zeros({0, 4}), 0.1); }, "infoNceLoss: zs has no rows");
  expectError([&] { lo::svddScore(z, torch::zeros({3})); },
              "svddScore: center must be a vector of 4 values (one per feature), got shape [3]");
  expectError([&] { lo::deepSvddLoss(torch::zeros({4}), torch::zeros({4})); },
              "deepSvddLoss: z must be an n x d matrix, got 1 dimensions");
  expectError([&] { lo::svddCenter(torch::zeros({0, 4}), 0.1); }, "svddCenter: features has no rows");
}
