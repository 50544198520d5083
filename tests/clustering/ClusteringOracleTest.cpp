// Gaussian mixture, MeanShift and estimateBandwidth against sklearn
// (tests/oracle/math_clustering.py, one script run per test). Partitions are compared
// with the adjusted Rand index of MathTestUtil.h, itself checked against sklearn in
// AriOracleTest.cpp.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "clustering/Gmm.h"
#include "clustering/MeanShift.h"
#include "config/Choices.h"
#include "support/TestSupport.h"
#include "support/MathTestUtil.h"

namespace cl = shiftad::clustering;
using shiftad::test::adjustedRandIndex;

namespace {

/// A (nested) JSON array of numbers as a float64 tensor of the same shape.
torch::Tensor fromJson(const nlohmann::json& j) {
  if (!j.is_array()) return torch::tensor(j.get<double>(), torch::kDouble);
  std::vector<torch::Tensor> items;
  for (const auto& item : j) items.push_back(fromJson(item));
  return torch::stack(items);
}

std::vector<int64_t> labels(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

std::vector<int64_t> labels(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

nlohmann::json oracle(const std::string& mode) {
  return nlohmann::json::parse(shiftad::test::runPython("math_clustering.py", mode));
}

}  // namespace

TEST(ClusteringOracle, GmmLogLikelihoodMatchesSklearnFromSameInit) {
  const nlohmann::json out = oracle("gmm");
  const torch::Tensor x = fromJson(out.at("x"));
  ASSERT_EQ(out.at("cases").size(), 2u);
  for (const auto& c : out.at("cases")) {
    const std::string covariance = c.at("covariance").get<std::string>();
    SCOPED_TRACE(covariance);
    cl::GmmInit init;
    init.weights = fromJson(c.at("weights_init"));
    init.means = fromJson(c.at("means_init"));
    init.precisions = fromJson(c.at("precisions_init"));
    cl::GmmParams p;
    p.covariance = *shiftad::config::parseChoice<shiftad::Covariance>(covariance);  // sklearn's names are ours
    p.max_iter = c.at("max_iter").get<int>();
    p.tol = c.at("tol").get<double>();
    p.reg_covar = c.at("reg_covar").get<double>();
    const cl::GmmResult r = cl::gmmFrom(x, init, p);
    const double expected = c.at("score").get<double>();
    EXPECT_NEAR(r.mean_log_likelihood, expected, 1e-3 * std::abs(expected));
    // Same trajectory, not just the same end: iterations and parameters agree too.
    EXPECT_EQ(r.iterations, c.at("n_iter").get<int>());
    EXPECT_EQ(r.converged, c.at("converged").get<bool>());
    EXPECT_TRUE(torch::allclose(r.weights, fromJson(c.at("weights")), 1e-6, 1e-8)) << r.weights;
    EXPECT_TRUE(torch::allclose(r.means, fromJson(c.at("means")), 1e-6, 1e-8)) << r.means;
  }
}

TEST(ClusteringOracle, GmmAndMeanShiftPartitionLikeSklearn) {
  const nlohmann::json out = oracle("partition");
  const torch::Tensor x = fromJson(out.at("x"));
  cl::GmmParams gp;
  gp.k = out.at("k").get<int>();
  gp.restarts = 1;  // sklearn's n_init = 1, as the oracle
  const cl::GmmResult g = cl::gmm(x, gp);
  EXPECT_GE(adjustedRandIndex(labels(g.assignments), labels(out.at("gmm_labels"))), 0.99);

  const cl::MeanShiftResult m = cl::meanShift(x, {});
  EXPECT_NEAR(m.bandwidth, out.at("bandwidth").get<double>(), 1e-6 * m.bandwidth);
  const torch::Tensor expected_centers = fromJson(out.at("meanshift_centers"));
  ASSERT_EQ(m.centers.size(0), expected_centers.size(0));
  EXPECT_GE(adjustedRandIndex(labels(m.assignments), labels(out.at("meanshift_labels"))), 0.99);
  // Same modes in the same order (most populated first).
  EXPECT_TRUE(torch::allclose(m.centers, expected_centers, 0, 1e-3 * m.bandwidth)) << m.centers;
}

TEST(ClusteringOracle, EstimateBandwidthMatchesSklearn) {
  const nlohmann::json out = oracle("bandwidth");
  ASSERT_EQ(out.at("cases").size(), 3u);
  for (const auto& c : out.at("cases")) {
    // The values are float32 numbers: both working precisions see the same data.
    const torch::Tensor x = fromJson(c.at("x"));
    for (const auto& [quantile, bandwidth] : c.at("bandwidths").items()) {
      const double q = std::stod(quantile);
      const double expected = bandwidth.get<double>();
      SCOPED_TRACE(::testing::Message() << x.size(0) << " x " << x.size(1) << ", quantile " << q);
      EXPECT_NEAR(cl::estimateBandwidth(x, q), expected, 1e-6 * expected);
      EXPECT_NEAR(cl::estimateBandwidth(x.to(torch::kFloat), q), expected, 1e-6 * expected);
    }
  }
}
