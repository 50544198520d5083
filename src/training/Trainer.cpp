#include "training/Trainer.h"

#include <chrono>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "clustering/KMeans.h"
#include "common/Error.h"
#include "data/ImageTensors.h"
#include "losses/Losses.h"

namespace shiftad::training {
namespace {

constexpr int64_t kEvalBatch = 256;

bool aligning(const Config& cfg) { return cfg.align.method != "none" && cfg.align.lambda > 0.0; }

}  // namespace

torch::Tensor selectDominant(const torch::Tensor& features, const ClusterConfig& cfg, uint64_t seed) {
  const int64_t n = features.size(0);
  if (cfg.space == "none" || n == 0) return torch::arange(n, torch::kLong);
  clustering::KMeansParams p;
  p.k = cfg.k;
  p.restarts = cfg.restarts;
  p.max_iter = cfg.max_iter;
  p.seed = seed;
  const auto result = clustering::kmeans(features, p);
  return clustering::clusterMembers(result, result.dominant);
}

Trainer::Trainer(const Config& cfg, std::shared_ptr<models::FeatureExtractor> net)
    : cfg_(cfg), net_(std::move(net)), gen_(at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.train.seed))) {}

torch::Tensor Trainer::evalView(const torch::Tensor& images) {
  return data::normalize(data::centerCrop(images, cfg_.data.image_size), cfg_.data.mean, cfg_.data.std);
}

torch::Tensor Trainer::trainingView(const torch::Tensor& images) {
  if (!cfg_.data.augment) return evalView(images);
  auto x = data::randomResizedCrop(images, cfg_.data.image_size, cfg_.data.crop_scale_min, cfg_.data.hflip, gen_);
  return data::normalize(x, cfg_.data.mean, cfg_.data.std);
}

torch::Tensor Trainer::embed(const torch::Tensor& images) {
  torch::NoGradGuard ng;
  net_->eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < images.size(0); i += kEvalBatch)
    out.push_back(net_->forward(evalView(images.slice(0, i, std::min(i + kEvalBatch, images.size(0))))));
  if (out.empty()) return torch::empty({0, net_->embeddingDim()});
  return torch::cat(out);
}

torch::Tensor Trainer::score(const torch::Tensor& images) {
  SHIFTAD_CHECK(center_.defined(), "score: the Deep SVDD center is not set (train or load a model first)");
  return losses::svddScore(embed(images), center_);
}

void Trainer::initCenter(const torch::Tensor& source) {
  // As in Ruff et al.: one forward pass over the source in training mode (batch
  // statistics, the mode the loss is minimised in), without gradients.
  const int64_t n = source.size(0);
  SHIFTAD_CHECK(n >= 2, "the Deep SVDD center needs at least 2 source images; got {}", n);
  torch::NoGradGuard ng;
  net_->train();
  std::vector<torch::Tensor> feats;
  for (int64_t i = 0; i < n;) {
    // Training-mode BatchNorm needs 2+ rows: a last remainder of one joins its batch.
    int64_t end = std::min(i + kEvalBatch, n);
    if (n - end == 1) end = n;
    feats.push_back(net_->forward(evalView(source.slice(0, i, end))));
    i = end;
  }
  center_ = losses::svddCenter(torch::cat(feats), cfg_.train.svdd_eps);
}

void Trainer::fit(const torch::Tensor& source, const torch::Tensor& pool, const EpochCallback& on_epoch,
                  const torch::Tensor& frozen_pool_features) {
  SHIFTAD_CHECK(source.size(0) >= 2, "training needs at least 2 source images; got {}", source.size(0));
  const bool align = aligning(cfg_);
  SHIFTAD_CHECK(!align || pool.size(0) >= 2,
                "alignment (align.method={}) needs at least 2 target pool images; got {}", cfg_.align.method,
                pool.size(0));
  const bool frozen = cfg_.cluster.space == "frozen";
  SHIFTAD_CHECK(!align || !frozen || (frozen_pool_features.defined() && frozen_pool_features.size(0) == pool.size(0)),
                "cluster.space = frozen needs the frozen encoder's features of every pool image");
  if (!center_.defined()) initCenter(source);

  torch::optim::Adam opt(net_->parameters(),
                         torch::optim::AdamOptions(cfg_.train.lr).weight_decay(cfg_.train.weight_decay));
  const int64_t n = source.size(0);
  const int64_t batch = std::min<int64_t>(cfg_.train.batch_size, n);
  torch::Tensor dominant;

  for (int epoch = 1; epoch <= cfg_.train.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const int every = cfg_.cluster.recluster_every;
    // Φ's space does not change during training: cluster it once. F's own space
    // moves, so it is re-clustered on the configured schedule.
    if (align && frozen && !dominant.defined())
      dominant = selectDominant(frozen_pool_features, cfg_.cluster, static_cast<uint64_t>(cfg_.train.seed));
    else if (align && !frozen && (!dominant.defined() || (every > 0 && (epoch - 1) % every == 0)))
      dominant = selectDominant(embed(pool), cfg_.cluster, static_cast<uint64_t>(cfg_.train.seed) + epoch);

    net_->train();
    const auto order = torch::randperm(n, gen_, torch::kLong);
    double sum_loss = 0, sum_svdd = 0, sum_align = 0;
    int steps = 0;
    for (int64_t start = 0; start + 2 <= n; start += batch) {
      const auto idx = order.slice(0, start, std::min(start + batch, n));
      auto xs = trainingView(source.index_select(0, idx));
      torch::Tensor loss, svdd, align_term = torch::zeros({});
      if (align) {
        // Target batch of the same size, drawn from the dominant set (with
        // replacement when the set is smaller than the batch).
        const auto pick = torch::randint(dominant.size(0), {idx.size(0)}, gen_, torch::kLong);
        auto xt = trainingView(pool.index_select(0, dominant.index_select(0, pick)));
        auto z = net_->forward(torch::cat({xs, xt}));
        auto zs = z.slice(0, 0, xs.size(0));
        auto zt = z.slice(0, xs.size(0));
        // The dominant cluster is taken as target-normal: optionally it is also pulled
        // to c (cosine-only alignment leaves its feature norms free to grow).
        svdd = losses::deepSvddLoss(cfg_.align.svdd_on_target ? z : zs, center_);
        align_term = losses::infoNceLoss(zs, zt, cfg_.align.tau);
        loss = svdd + cfg_.align.lambda * align_term;
      } else {
        svdd = losses::deepSvddLoss(net_->forward(xs), center_);
        loss = svdd;
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      sum_loss += loss.item<double>();
      sum_svdd += svdd.item<double>();
      sum_align += align_term.item<double>();
      ++steps;
    }
    EpochStats st;
    st.epoch = epoch;
    st.loss = sum_loss / std::max(steps, 1);
    st.svdd_loss = sum_svdd / std::max(steps, 1);
    st.align_loss = sum_align / std::max(steps, 1);
    st.dominant_size = align ? dominant.size(0) : 0;
    st.dominant_share = align ? static_cast<double>(dominant.size(0)) / pool.size(0) : 0.0;
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    SHIFTAD_CHECK(std::isfinite(st.loss), "training diverged: loss is {} at epoch {}; lower train.lr or align.lambda",
                  st.loss, epoch);
    if (on_epoch) on_epoch(st, align ? dominant : torch::empty({0}, torch::kLong));
  }
}

}  // namespace shiftad::training
