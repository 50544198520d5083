// Multi-kernel Gaussian MMD^2: hand-computed cases and the properties a distribution
// distance must have (zero for identical samples, growing with a shift).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "losses/Mmd.h"
#include "support/MathTestUtil.h"

namespace lo = shiftad::losses;
using shiftad::test::expectError;

namespace {

torch::Tensor gaussian(int64_t n, int64_t d, uint64_t seed, torch::ScalarType dtype = torch::kFloat) {
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({n, d}, gen, dtype);
}

lo::MmdParams params(int n_kernels, double mult, bool unbiased) {
  lo::MmdParams p;
  p.n_kernels = n_kernels;
  p.mult = mult;
  p.unbiased = unbiased;
  return p;
}

}  // namespace

TEST(Mmd, HandComputedOneDimensionalCase) {
  // xs = {0}, xt = {1}: the only distinct pair has d^2 = 1, so median = 1 and
  // sigma_j^2 = 2^j. Biased MMD^2 = k(0,0) + k(1,1) - 2 k(0,1) = 2 (n - sum_j exp(-1 / (2 * 2^j))).
  const torch::Tensor xs = torch::tensor({{0.0}}, torch::kDouble), xt = torch::tensor({{1.0}}, torch::kDouble);
  EXPECT_NEAR(lo::mmdLoss(xs, xt, params(1, 2.0, false)).item<double>(), 2.0 - 2.0 * std::exp(-0.5), 1e-15);
  double cross = 0;
  for (int j = -1; j <= 1; ++j) cross += std::exp(-1.0 / (2.0 * std::pow(2.0, j)));
  EXPECT_NEAR(lo::mmdLoss(xs, xt, params(3, 2.0, false)).item<double>(), 2.0 * (3.0 - cross), 1e-15);
  // Even count: j = -2..1 (one more kernel below the median than above).
  cross = 0;
  for (int j = -2; j <= 1; ++j) cross += std::exp(-1.0 / (2.0 * std::pow(3.0, j)));
  EXPECT_NEAR(lo::mmdLoss(xs, xt, params(4, 3.0, false)).item<double>(), 2.0 * (4.0 - cross), 1e-15);
}

TEST(Mmd, ZeroForIdenticalSamples) {
  const torch::Tensor x = gaussian(32, 8, 1);
  EXPECT_NEAR(lo::mmdLoss(x, x).item<double>(), 0.0, 1e-6);
  // Row order does not matter: MMD compares distributions, not pairs.
  const torch::Tensor shuffled = x.flip({0});
  EXPECT_NEAR(lo::mmdLoss(x, shuffled).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(lo::mmdLoss(x.to(torch::kDouble), x.to(torch::kDouble)).item<double>(), 0.0, 1e-12);
  // All rows equal (median distance 0): still finite and zero.
  const torch::Tensor same = torch::ones({4, 3});
  EXPECT_NEAR(lo::mmdLoss(same, same).item<double>(), 0.0, 1e-6);
}

TEST(Mmd, GrowsMonotonicallyWithMeanShift) {
  const torch::Tensor xs = gaussian(64, 8, 2), noise = gaussian(64, 8, 3);
  for (bool unbiased : {false, true}) {
    SCOPED_TRACE(unbiased ? "unbiased" : "biased");
    double previous = -1.0;
    for (double shift : {0.0, 0.5, 1.0, 2.0}) {
      const double value = lo::mmdLoss(xs, noise + shift, params(5, 2.0, unbiased)).item<double>();
      EXPECT_GT(value, previous) << "shift " << shift;
      previous = value;
    }
  }
  // Two samples of one distribution: small but (biased) positive; a 2-sigma shift: large.
  const double same = lo::mmdLoss(xs, noise).item<double>(), far = lo::mmdLoss(xs, noise + 2.0).item<double>();
  EXPECT_GT(same, 0.0);
  EXPECT_GT(far, 10.0 * same);
}

TEST(Mmd, GradientFlowsToFeaturesNotBandwidth) {
  // With the bandwidth detached, the gradient equals that of the same kernels with the
  // median plugged in as a constant; d/dx of a moving median would add a term.
  const torch::Tensor xs = gaussian(5, 3, 4, torch::kDouble).requires_grad_(true);
  const torch::Tensor xt = (gaussian(4, 3, 5, torch::kDouble) + 0.5).requires_grad_(true);
  lo::mmdLoss(xs, xt, params(1, 2.0, false)).backward();

  const torch::Tensor z = torch::cat({xs, xt});
  const torch::Tensor d2 = (z.unsqueeze(1) - z.unsqueeze(0)).pow(2).sum(-1);
  const torch::Tensor iu = torch::triu_indices(9, 9, 1);
  const double median = d2.detach().index({iu[0], iu[1]}).median().item<double>();
  const torch::Tensor k = torch::exp(-d2 / (2.0 * median));
  const torch::Tensor ref = k.slice(0, 0, 5).slice(1, 0, 5).mean() + k.slice(0, 5).slice(1, 5).mean() -
                            2.0 * k.slice(0, 0, 5).slice(1, 5).mean();
  const auto grads = torch::autograd::grad({ref}, {xs, xt});
  EXPECT_TRUE(torch::allclose(xs.grad(), grads[0], 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(xt.grad(), grads[1], 1e-10, 1e-12));
}

TEST(Mmd, Errors) {
  const torch::Tensor x = torch::zeros({3, 4});
  expectError(
      [&] {
        lo::mmdLoss(x, torch::zeros({3, 5}));
      },
      "mmdLoss: xs has 4 columns but xt has 5; both domains need the same features");
  expectError([&] { lo::mmdLoss(x, torch::zeros({3, 4}, torch::kDouble)); }, "mmdLoss: xs is Float but xt is Double");
  expectError([&] { lo::mmdLoss(torch::zeros({0, 4}), x); }, "mmdLoss: xs has no rows");
  expectError([&] { lo::mmdLoss(x, torch::zeros({4})); }, "mmdLoss: xt must be an n x d matrix, got 1 dimensions");
  expectError([&] { lo::mmdLoss(x, x, params(0, 2.0, false)); }, "mmdLoss: n_kernels must be >= 1, got 0");
  expectError([&] { lo::mmdLoss(x, x, params(5, 0.0, false)); }, "mmdLoss: bandwidth multiplier mult must be > 0");
  expectError(
      [&] {
        lo::mmdLoss(x, torch::zeros({1, 4}), params(5, 2.0, true));
      },
      "mmdLoss: the unbiased estimate needs at least 2 rows per domain, got 3 source and 1 target rows");
}
