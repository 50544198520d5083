// Trainer pieces with a closed-form answer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "data/ImageTensors.h"
#include "losses/Losses.h"
#include "models/FeatureExtractor.h"
#include "shiftad/Config.h"
#include "support/TestSupport.h"
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
  cfg.model.arch = shiftad::Arch::kSmallCnn;
  cfg.model.freeze = -1;
  cfg.model.head = shiftad::Head::kLinear;
  cfg.model.head_init = shiftad::HeadInit::kPca;
  cfg.model.trunk_l2 = false;
  cfg.align.method = shiftad::AlignMethod::kNone;
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

TEST(Trainer, PcaHeadInitOnImagesDiagonalisesTheInitialTrunkCovariance) {
  // A trainable trunk on images: the basis comes from one eval-mode pass of F's
  // initial trunk over the un-augmented source and pool.
  torch::manual_seed(1);
  shiftad::Config cfg;
  cfg.model.arch = shiftad::Arch::kSmallCnn;
  cfg.model.freeze = 0;
  cfg.model.head = shiftad::Head::kLinear;
  cfg.model.head_init = shiftad::HeadInit::kPca;
  cfg.model.trunk_l2 = false;
  cfg.data.image_size = 32;
  cfg.align.method = shiftad::AlignMethod::kNone;
  cfg.train.epochs = 0;
  auto probe = shiftad::models::makeFeatureExtractor(cfg.model);
  cfg.model.embedding_dim = probe->trunkDim();
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::TrainingData data;
  data.source = torch::randint(0, 256, {150, 3, 32, 32}, torch::kLong).to(torch::kUInt8);
  data.pool = torch::randint(0, 256, {90, 3, 32, 32}, torch::kLong).to(torch::kUInt8);
  // F's initial trunk, before fit (whose center pass updates BatchNorm's statistics).
  torch::Tensor f;
  {
    torch::NoGradGuard ng;
    net->eval();
    const auto images = torch::cat({data.source, data.pool}).to(torch::kFloat).div(255.0).sub(0.5).div(0.5);
    f = net->trunk(images).to(torch::kDouble);
  }
  trainer.fit(data);
  torch::NoGradGuard ng;
  const auto centered = f - f.mean(0, true);
  const auto cov = centered.t().matmul(centered);
  const int64_t d = net->trunkDim();
  const auto w = net->head(torch::eye(d)).t().to(torch::kDouble);  // rows: the head's directions
  const auto projected = w.matmul(cov).matmul(w.t());
  const auto diag = projected.diagonal();
  const double scale = diag.max().item<double>();
  EXPECT_LT((projected - torch::diag(diag)).abs().max().item<double>(), 1e-3 * scale);  // decorrelated
  EXPECT_TRUE(
      (diag.slice(0, 0, d - 1) >= diag.slice(0, 1) - 1e-6 * scale).all().item<bool>());  // by decreasing variance
  EXPECT_GT(diag[0].item<double>(), 2 * diag[d / 2].item<double>());  // not a trivial (isotropic) case
}

TEST(Trainer, AnchoredDeepSvddConvergesToItsClosedFormSolution) {
  // A linear head W on fixed rows x_i, trained full-batch on
  //   mean_i ||W x_i - c||^2 + beta ||W - W0||^2,   c = W0 mean(x),
  // has its minimum where the gradient 2 (W S - c m^T) + 2 beta (W - W0) vanishes
  // (S = X^T X / n, m = mean(x)):  W* = (c m^T + beta W0) (S + beta I)^-1.
  torch::manual_seed(2);
  shiftad::Config cfg;
  cfg.model.arch = shiftad::Arch::kSmallCnn;
  cfg.model.width = 8;
  cfg.model.freeze = -1;
  cfg.model.head = shiftad::Head::kLinear;
  cfg.model.trunk_l2 = false;
  cfg.model.embedding_dim = 4;
  cfg.align.method = shiftad::AlignMethod::kNone;
  cfg.train.svdd_eps = 0.0;
  cfg.train.weight_decay = 0.0;
  // Adam at a constant rate wanders about the minimum once its gradients there are
  // rounding-sized (its second moment decays with them, and a step is again ~lr): at
  // 3e-3 the head at one epoch could be 2% of the distance moved off on AVX2/FMA BLAS
  // kernels (0.0005% at the epochs before and after), as far as the solution of half
  // beta. At 3e-4 the wander stays under 0.2% on AVX2 and SSE3 kernels alike.
  cfg.train.lr = 3e-4;
  cfg.train.epochs = 4000;
  cfg.train.anchor = 0.01;
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  const int64_t d = net->trunkDim(), n = 64;
  cfg.train.batch_size = n;  // one full-batch step per epoch
  const auto q = std::get<0>(torch::linalg::qr(torch::randn({d, d}, torch::kDouble), "reduced"));
  // Standard deviations from 1 to 0.01: variances on both sides of beta, so that the
  // solution neither keeps W0 nor collapses it.
  const auto x =
      ((torch::randn({n, d}, torch::kDouble) * torch::logspace(0, -2, d, 10.0, torch::kDouble)).matmul(q.t()) + 0.2)
          .to(torch::kFloat);
  torch::Tensor w0;
  {
    torch::NoGradGuard ng;
    w0 = net->head(torch::eye(d)).t().to(torch::kDouble).clone();  // head(I) = W^T
  }
  shiftad::training::Trainer trainer(cfg, net);
  shiftad::training::TrainingData data;
  data.source = x;
  trainer.fit(data);
  const auto xd = x.to(torch::kDouble);
  const auto m = xd.mean(0);
  const auto c = w0.matmul(m);
  const auto s = xd.t().matmul(xd) / static_cast<double>(n);
  const auto solution = [&](double beta) {
    return (torch::outer(c, m) + beta * w0).matmul(torch::linalg::inv(s + beta * torch::eye(d, torch::kDouble)));
  };
  const auto expected = solution(cfg.train.anchor);
  torch::NoGradGuard ng;
  const auto w = net->head(torch::eye(d)).t().to(torch::kDouble);
  const double moved = (expected - w0).norm().item<double>();
  ASSERT_GT(moved, 0.2 * w0.norm().item<double>());  // the penalty and the data disagree: not a trivial case
  const double tolerance = 2.5e-3 * moved;
  // Half or twice beta would fail: their solutions are 1.3% and 2.4% of the way off.
  for (const double wrong : {0.5, 2.0})
    ASSERT_GT((solution(wrong * cfg.train.anchor) - expected).norm().item<double>(), 4 * tolerance) << wrong;
  EXPECT_LT((w - expected).norm().item<double>(), tolerance);
}

TEST(Trainer, ScoresThroughTheFastCopyAsThePlainForwardOnImageNetWeights) {
  // score() runs F's eval-only copy (BatchNorm folded, channels-last); embed() runs F
  // itself. On the real MobileNetV2 and real photographs, the two give the same scores
  // up to float rounding, at batch 1 and in a batch, before and after F changes.
  const std::string shared = shiftad::test::sharedDir();
  const std::string weights = shared + "/weights/mobilenet_v2_imagenet.safetensors";
  if (shared.empty() || !std::filesystem::exists(weights))
    GTEST_SKIP() << "shared/weights/mobilenet_v2_imagenet.safetensors not found (no ../shared)";
  torch::manual_seed(3);
  shiftad::Config cfg;
  cfg.model.arch = shiftad::Arch::kMobileNetV2;
  cfg.model.weights = weights;
  cfg.model.embedding_dim = 64;
  cfg.data.image_size = 224;
  cfg.data.mean = cfg.data.std = {0.50196, 0.50196, 0.50196};
  auto net = shiftad::models::makeFeatureExtractor(cfg.model);
  shiftad::training::Trainer trainer(cfg, net);
  const auto images = shiftad::data::loadImages(
                          {shared + "/weights/samples/cat.bmp", shared + "/weights/samples/grace_hopper.bmp"}, 224, 1)
                          .images;
  trainer.setCenter(trainer.embed(images).mean(0) + 0.1);
  const auto plain = [&] { return shiftad::losses::svddScore(trainer.embed(images), trainer.center()); };
  const auto expectClose = [](const torch::Tensor& fast, const torch::Tensor& expected) {
    ASSERT_EQ(fast.sizes(), expected.sizes());
    EXPECT_LT(((fast - expected).abs() / expected.abs()).max().item<double>(), 1e-4) << fast << expected;
  };
  expectClose(trainer.score(images), plain());
  // One image is scored on the calling thread alone; the caller's thread count survives.
  const int threads = torch::get_num_threads();
  torch::set_num_threads(2);
  expectClose(trainer.score(images.slice(0, 1, 2)), plain().slice(0, 1, 2));
  EXPECT_EQ(torch::get_num_threads(), 2);
  torch::set_num_threads(threads);
  {
    torch::NoGradGuard ng;
    for (auto& p : net->parameters()) p.mul_(1.01);  // as a training step would: in place
  }
  expectClose(trainer.score(images), plain());
}
