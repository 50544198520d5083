// Trainer pieces with a closed-form answer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/FeatureExtractor.h"
#include "shiftad/Config.h"
#include "training/Trainer.h"

namespace {

/// Rows with known principal directions: Gaussian coordinates with standard deviations
/// 8, 4, 2, 1, 0.5, ... along the columns of a random orthonormal Q.
torch::Tensor rowsAlong(const torch::Tensor& q, int64_t n) {
  const int64_t d = q.size(0);
  auto scales = torch::pow(2.0, -torch::arange(d, torch::kDouble) + 3);
  return (torch::randn({n, d}, torch::kDouble) * scales).matmul(q.t());
}

}  // namespace

TEST(Trainer, PcaHeadInitIsARotationOntoThePrincipalDirections) {
  torch::manual_seed(0);
  shiftad::Config cfg;
  cfg.model.arch = "small_cnn";
  cfg.model.freeze = -1;
  cfg.model.head = "linear";
  cfg.model.head_init = "pca";
  cfg.model.trunk_l2 = false;
  cfg.align.method = "none";
  cfg.train.epochs = 0;
  auto probe = shiftad::models::makeFeatureExtractor(cfg.model);
  cfg.model.embedding_dim = probe->trunkDim();  // a square head: a rotation
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  const int64_t d = net->trunkDim();
  const auto q = std::get<0>(torch::linalg::qr(torch::randn({d, d}, torch::kDouble), "reduced"));
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::TrainingData data;
  data.source = rowsAlong(q, 4000).to(torch::kFloat);
  trainer.fit(data);
  torch::NoGradGuard ng;
  // head(I) = W^T: the columns are the head's rows.
  const auto w = net->head(torch::eye(d)).t().to(torch::kDouble);
  EXPECT_LT((w.matmul(w.t()) - torch::eye(d, torch::kDouble)).abs().max().item<double>(), 1e-5);  // orthonormal
  // The first rows are the directions of largest variance, in order (up to sign); the
  // sampling error of 4000 rows is far below these gaps (variance ratio 4).
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_GT(std::abs(w[i].dot(q.select(1, i)).item<double>()), 0.99) << "direction " << i;
  // The same data again (another variant of a benchmark) gives the same basis.
  auto net2 = shiftad::models::makeFeatureExtractor(cfg.model);
  shiftad::training::Trainer trainer2(cfg, net2);
  trainer2.fit(data);
  EXPECT_TRUE(torch::equal(net2->head(torch::eye(d)), net->head(torch::eye(d))));
}
