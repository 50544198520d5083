// Principal directions (PCA head initialisation) and their cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "method/PrincipalBasis.h"

namespace me = shiftad::method;

TEST(PrincipalBasis, RowsAreTheDirectionsByDecreasingVariance) {
  // Variance 9 along (1, 1)/√2, 1 along (1, −1)/√2, none along z.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const torch::Tensor u = torch::randn({500}, gen, torch::kDouble);
  const torch::Tensor v = torch::randn({500}, gen, torch::kDouble);
  const double s = 1.0 / std::sqrt(2.0);
  const torch::Tensor x = torch::stack({(3 * u + v) * s, (3 * u - v) * s, torch::zeros({500}, torch::kDouble)}, 1);
  const torch::Tensor basis = me::principalBasis(x);
  ASSERT_EQ(basis.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(basis.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(basis.matmul(basis.t()), torch::eye(3), 1e-5, 1e-5));  // orthonormal
  EXPECT_NEAR(std::abs(basis[0].dot(torch::tensor({s, s, 0.0}, torch::kFloat)).item<double>()), 1.0, 1e-3);
  EXPECT_NEAR(std::abs(basis[1].dot(torch::tensor({s, -s, 0.0}, torch::kFloat)).item<double>()), 1.0, 1e-3);
  EXPECT_NEAR(std::abs(basis[2][2].item<double>()), 1.0, 1e-6);
}

TEST(PrincipalBasis, CacheReturnsTheDirectResultAndRemembersIt) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const torch::Tensor x = torch::randn({20, 4}, gen);
  me::PrincipalBasisCache cache;
  const torch::Tensor first = me::principalBasis(x, &cache);
  EXPECT_TRUE(torch::equal(first, me::principalBasis(x, nullptr)));
  EXPECT_TRUE(me::principalBasis(x.clone(), &cache).is_same(first));  // same content: the memo
  const torch::Tensor other = x.clone();
  other[3][1] += 1.0f;
  EXPECT_FALSE(me::principalBasis(other, &cache).is_same(first));  // one value changed: computed anew
}
