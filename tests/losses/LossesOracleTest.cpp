// InfoNCE (value and gradients) against a PyTorch reference (tests/oracle/math_infonce.py).
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "losses/Losses.h"
#include "support/TestSupport.h"

namespace {

/// Same formula as features() in math_infonce.py.
torch::Tensor fixedFeatures(int64_t n, int64_t d, double phase) {
  const auto i = torch::arange(n, torch::kDouble).unsqueeze(1);
  const auto k = torch::arange(d, torch::kDouble).unsqueeze(0);
  return torch::sin(0.9 * i + 1.7 * k + phase) + 0.3 * torch::cos(2.3 * i * k + phase);
}

torch::Tensor fromJson(const nlohmann::json& rows) {
  std::vector<torch::Tensor> out;
  for (const auto& r : rows) out.push_back(torch::tensor(r.get<std::vector<double>>(), torch::kDouble));
  return torch::stack(out);
}

}  // namespace

TEST(LossesOracle, InfoNceMatchesPyTorchReference) {
  const int64_t n = 5, d = 4;
  const nlohmann::json cases =
      nlohmann::json::parse(shiftad::test::runPython("math_infonce.py", "5 4 1.0 0.5 0.1 0.01"));
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    const double tau = c.at("tau").get<double>();
    SCOPED_TRACE(tau);
    const torch::Tensor zs = fixedFeatures(n, d, 0.0).requires_grad_(true);
    const torch::Tensor zt = fixedFeatures(n, d, 0.4).requires_grad_(true);
    const torch::Tensor loss = shiftad::losses::infoNceLoss(zs, zt, tau);
    loss.backward();
    const double expected = c.at("loss").get<double>();
    EXPECT_NEAR(loss.item<double>(), expected, 1e-12 * std::max(1.0, expected));
    EXPECT_TRUE(torch::allclose(zs.grad(), fromJson(c.at("grad_zs")), 1e-10, 1e-12)) << zs.grad();
    EXPECT_TRUE(torch::allclose(zt.grad(), fromJson(c.at("grad_zt")), 1e-10, 1e-12)) << zt.grad();
  }
}
