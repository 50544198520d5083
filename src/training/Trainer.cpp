#include "training/Trainer.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "config/Choices.h"
#include "data/ImageTensors.h"
#include "losses/Losses.h"
#include "method/Alignment.h"
#include "method/PrincipalBasis.h"
#include "models/InferenceBatch.h"
#include "training/Distributed.h"
#include "training/OpenMpThreads.h"

namespace shiftad::training {
namespace {

constexpr int64_t kEvalBatch = 256;  // the center pass (training-mode BatchNorm: its statistics depend on it)

/// Rows per no-grad forward pass: images in small batches (a 256-image batch of 224 px
/// MobileNetV2 activations takes ~5 GB and runs slower than 64, whose working set
/// stays in cache), trunk features in large ones.
int64_t inferenceBatch(const torch::Tensor& inputs) { return inputs.dim() == 2 ? 4096 : models::kInferenceImages; }

bool isFeatures(const torch::Tensor& t) { return t.dim() == 2; }

/// One image runs on the calling thread alone. At batch 1 a network's ~150 small
/// operators each wake and wait for a second OpenMP thread, which costs more than it
/// saves: MobileNetV2 at 224 px scored 68 images/s on 2 threads and 93 on 1 on the
/// 2-core machine (docs/performance.md, "Scoring speed against ONNX Runtime").
int threadsForRows(int64_t rows) { return rows == 1 ? 1 : 0; }

}  // namespace

Trainer::Trainer(const Config& cfg, std::shared_ptr<models::FeatureExtractor> net,
                 method::PrincipalBasisCache* pca_cache)
    : cfg_(cfg),
      net_(std::move(net)),
      gen_(at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.train.seed))),
      pca_cache_(pca_cache) {}

Trainer::~Trainer() = default;

torch::Tensor Trainer::forward(const torch::Tensor& inputs) {
  return isFeatures(inputs) ? net_->head(inputs) : net_->forward(inputs);
}

torch::Tensor Trainer::evalView(const torch::Tensor& inputs) {
  if (isFeatures(inputs)) return inputs.to(torch::kFloat);
  return data::normalize(data::centerCrop(inputs, cfg_.data.image_size), cfg_.data.mean, cfg_.data.std);
}

torch::Tensor Trainer::trainingView(const torch::Tensor& inputs) {
  if (isFeatures(inputs) || !cfg_.data.augment) return evalView(inputs);
  auto x = data::randomResizedCrop(inputs, cfg_.data.image_size, cfg_.data.crop_scale_min, cfg_.data.hflip, gen_);
  return data::normalize(x, cfg_.data.mean, cfg_.data.std);
}

torch::Tensor Trainer::embed(const torch::Tensor& inputs) {
  torch::NoGradGuard ng;
  net_->eval();
  std::vector<torch::Tensor> out;
  const int64_t batch = inferenceBatch(inputs);
  for (int64_t i = 0; i < inputs.size(0); i += batch)
    out.push_back(forward(evalView(inputs.slice(0, i, std::min(i + batch, inputs.size(0))))));
  if (out.empty()) return torch::empty({0, net_->embeddingDim()});
  return torch::cat(out);
}

torch::Tensor Trainer::embedAll(const torch::Tensor& inputs) {
  return gatherShards(group_.get(), inputs.size(0),
                      [&](int64_t first, int64_t last) { return embed(inputs.slice(0, first, last)); });
}

torch::Tensor Trainer::scoringEmbed(const torch::Tensor& inputs) {
  if (isFeatures(inputs)) return embed(inputs);
  // F's eval-only copy, made again whenever training or a checkpoint changed F.
  if (!inference_ || !inference_->upToDate(*net_)) inference_ = net_->inferenceNet();
  if (!inference_) return embed(inputs);
  net_->eval();  // the copy runs F's own head
  const ScopedOpenMpThreads threads(threadsForRows(inputs.size(0)));
  std::vector<torch::Tensor> out;
  const int64_t batch = inferenceBatch(inputs);
  for (int64_t i = 0; i < inputs.size(0); i += batch)
    out.push_back(inference_->forward(evalView(inputs.slice(0, i, std::min(i + batch, inputs.size(0))))));
  if (out.empty()) return torch::empty({0, net_->embeddingDim()});
  return torch::cat(out);
}

torch::Tensor Trainer::score(const torch::Tensor& inputs) {
  SHIFTAD_CHECK(center_.defined(), "score: the Deep SVDD center is not set (train or load a model first)");
  // Scores never enter autograd: inference mode drops version counting and views'
  // bookkeeping, which matters at batch 1.
  c10::InferenceMode inference;
  return losses::svddScore(scoringEmbed(inputs), center_);
}

void Trainer::initCenter(const torch::Tensor& source) {
  // One forward pass over the source in training mode (batch statistics, the mode the
  // loss is minimised in), without gradients; Ruff et al.'s code uses eval mode. The
  // pass also moves BatchNorm's running statistics toward the source's (docs/method.md).
  // Data-parallel ranks each make the whole pass: its batches, hence their statistics,
  // are then those of a 1-process run.
  const int64_t n = source.size(0);
  SHIFTAD_CHECK(n >= 2, "the Deep SVDD center needs at least 2 source images; got {}", n);
  torch::NoGradGuard ng;
  net_->train();
  std::vector<torch::Tensor> feats;
  for (int64_t i = 0; i < n;) {
    // Training-mode BatchNorm needs 2+ rows: a last remainder of one joins its batch.
    int64_t end = std::min(i + kEvalBatch, n);
    if (n - end == 1) end = n;
    feats.push_back(forward(evalView(source.slice(0, i, end))));
    i = end;
  }
  center_ = losses::svddCenter(torch::cat(feats), cfg_.train.svdd_eps);
}

torch::Tensor Trainer::trunkRows(const torch::Tensor& inputs) {
  if (isFeatures(inputs)) return inputs;
  torch::NoGradGuard ng;
  net_->eval();
  // Each rank passes its share of the rows (eval mode: a row's features do not depend
  // on the others).
  return gatherShards(group_.get(), inputs.size(0), [&](int64_t first, int64_t last) {
    std::vector<torch::Tensor> out;
    const int64_t batch = inferenceBatch(inputs);
    for (int64_t i = first; i < last; i += batch)
      out.push_back(net_->trunk(evalView(inputs.slice(0, i, std::min(i + batch, last)))));
    return out.empty() ? torch::empty({0, net_->trunkDim()}) : torch::cat(out);
  });
}

void Trainer::initHeadPca(const TrainingData& data) {
  // Unlabeled data only: the source normals and the whole pool, through F's initial
  // trunk (cached features when the trunk is frozen, else one eval-mode pass).
  auto x = trunkRows(data.source);
  if (data.pool.defined() && data.pool.size(0) > 0) x = torch::cat({x, trunkRows(data.pool)});
  x = x.to(torch::kDouble);
  if (cfg_.model.trunk_l2)
    x = torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
  // Principal directions by decreasing variance: with embedding_dim = trunk dim the
  // head starts as a rotation (every distance preserved); smaller heads keep the top
  // directions.
  net_->initHeadRows(method::principalBasis(x, pca_cache_));
}

void Trainer::checkFitInputs(const TrainingData& data) const {
  const auto& source = data.source;
  const auto& pool = data.pool;
  SHIFTAD_CHECK(source.defined() && source.size(0) >= 2, "training needs at least 2 source images; got {}",
                source.defined() ? source.size(0) : 0);
  const bool align = aligns(cfg_);
  SHIFTAD_CHECK(!align || (pool.defined() && pool.size(0) >= 2),
                "alignment (align.method={}) needs at least 2 target pool images; got {} (raise data.pool_fraction "
                "or add target images)",
                cfg_.align.method, pool.defined() ? pool.size(0) : 0);
  SHIFTAD_CHECK(!align || cfg_.cluster.space != ClusterSpace::kFrozen ||
                    (data.pool_frozen.defined() && data.pool_frozen.size(0) == pool.size(0)),
                "cluster.space = frozen needs the frozen encoder's features of every pool image");
  SHIFTAD_CHECK(!data.pool_frozen.defined() || (pool.defined() && data.pool_frozen.size(0) == pool.size(0)),
                "the frozen encoder's features cover {} pool images, the pool holds {}", data.pool_frozen.size(0),
                pool.defined() ? pool.size(0) : 0);
}

void Trainer::prepareStart(const TrainingData& data, bool resuming) {
  // A resumed anchored run re-derives its anchors: the PCA head is a deterministic
  // function of the data, and the checkpoint then overwrites the weights.
  if (cfg_.model.head_init == HeadInit::kPca && (!resuming || cfg_.train.anchor > 0.0)) initHeadPca(data);
  if (!resuming && !center_.defined()) initCenter(data.source);
  if (!resuming) checkFiniteStart(data.source);
}

void Trainer::checkFiniteStart(const torch::Tensor& source) {
  // Broken weights (a BatchNorm running_var below 0) failed later as a mixture's or the
  // learning rate's problem, or trained a model that scores NaN.
  const auto z = embed(source.slice(0, 0, std::min<int64_t>(source.size(0), kEvalBatch)));
  SHIFTAD_CHECK(torch::isfinite(z).all().item<bool>() && torch::isfinite(center_).all().item<bool>(),
                "F's starting weights ({}) give NaN or Inf features, before any update: they are broken (a "
                "BatchNorm running_var below 0, a bad conversion); check the file, or convert it again "
                "(docs/models.md)",
                weightsSource(cfg_.model));
}

}  // namespace shiftad::training
