#include "training/Trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "clustering/DominantSet.h"
#include "common/Error.h"
#include "common/Hash.h"
#include "config/Choices.h"
#include "data/ImageTensors.h"
#include "losses/Adversarial.h"
#include "losses/Losses.h"
#include "losses/Mmd.h"
#include "training/Checkpoint.h"

namespace shiftad::training {
namespace {

constexpr int64_t kEvalBatch = 256;  // the center pass (training-mode BatchNorm: its statistics depend on it)

/// Rows per no-grad forward pass: images in small batches (a 256-image batch of 224 px
/// MobileNetV2 activations takes ~5 GB and runs slower than 64, whose working set
/// stays in cache), trunk features in large ones.
int64_t inferenceBatch(const torch::Tensor& inputs) { return inputs.dim() == 2 ? 4096 : 64; }

bool isFeatures(const torch::Tensor& t) { return t.dim() == 2; }

/// What is left after a diverged step: the last checkpoint, if one was written.
std::string lastCheckpoint(const FitControl& control) {
  if (!control.checkpoint.empty() && std::filesystem::exists(control.checkpoint))
    return fmt::format("the last good checkpoint '{}' is kept", control.checkpoint);
  return "no checkpoint had been written yet";
}

}  // namespace

NamedTensors trainedTensors(const torch::nn::Module& net) {
  NamedTensors out;
  for (const auto& item : net.named_parameters(/*recurse=*/true))
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  for (const auto& item : net.named_buffers(/*recurse=*/true))
    if (item.value().is_floating_point()) out.emplace_back(item.key(), item.value());
  return out;
}

std::string firstNonFinite(const NamedTensors& tensors) {
  if (tensors.empty()) return "";
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> sums;
  sums.reserve(tensors.size());
  for (const auto& [name, t] : tensors) sums.push_back(t.sum(torch::kFloat64));
  if (std::isfinite(torch::stack(sums).sum().item<double>())) return "";
  for (size_t i = 0; i < tensors.size(); ++i)
    if (!torch::isfinite(tensors[i].second).all().item<bool>()) return tensors[i].first;
  return "";
}

/// The alignment term (paper Eq. 8-10 and its alternatives) and the state it needs.
struct Trainer::Alignment {
  explicit Alignment(const Config& cfg, int64_t dim) : cfg_(cfg) {
    if (cfg.align.method == AlignMethod::kAdversarial)
      discriminator = losses::DomainDiscriminator(dim, losses::DiscriminatorParams{cfg.align.disc_hidden});
  }

  /// `progress` in [0, 1]: share of training done (the gradient-reversal schedule).
  torch::Tensor operator()(const torch::Tensor& zs, const torch::Tensor& zt, const torch::Tensor& negatives,
                           double progress, const torch::Tensor& center) {
    const auto& m = cfg_.align.method;
    if (m == AlignMethod::kPrototype) return losses::deepSvddLoss(zt, center);
    if (m == AlignMethod::kInfoNce) return losses::infoNceLoss(zs, zt, cfg_.align.tau, negatives);
    if (m == AlignMethod::kMmd) return losses::mmdLoss(zs, zt, losses::MmdParams{});
    if (m == AlignMethod::kAdversarial)
      return losses::adversarialLoss(discriminator, zs, zt, losses::grlCoefficient(progress));
    SHIFTAD_THROW("align.method '{}' has no alignment loss; the trainer aligns only when aligns(cfg)", m);
  }

  std::vector<torch::Tensor> parameters() const {
    return discriminator ? discriminator->parameters() : std::vector<torch::Tensor>{};
  }

  const Config& cfg_;
  losses::DomainDiscriminator discriminator{nullptr};
};

torch::Tensor selectDominant(const torch::Tensor& features, const ClusterConfig& cfg, uint64_t seed) {
  const int64_t n = features.size(0);
  if (cfg.space == ClusterSpace::kNone || n == 0) return torch::arange(n, torch::kLong);
  clustering::DominantParams p;
  p.method = cfg.method;
  p.k = cfg.k;
  p.restarts = cfg.restarts;
  p.max_iter = cfg.max_iter;
  p.covariance = cfg.covariance;
  p.bandwidth = cfg.bandwidth;
  p.quantile = cfg.quantile;
  p.keep_fraction = cfg.keep_fraction;
  p.seed = seed;
  return clustering::dominantSet(features, p);
}

Trainer::Trainer(const Config& cfg, std::shared_ptr<models::FeatureExtractor> net)
    : cfg_(cfg), net_(std::move(net)), gen_(at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.train.seed))) {}

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

torch::Tensor Trainer::score(const torch::Tensor& inputs) {
  SHIFTAD_CHECK(center_.defined(), "score: the Deep SVDD center is not set (train or load a model first)");
  return losses::svddScore(embed(inputs), center_);
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
    feats.push_back(forward(evalView(source.slice(0, i, end))));
    i = end;
  }
  center_ = losses::svddCenter(torch::cat(feats), cfg_.train.svdd_eps);
}

namespace {

/// Principal directions of the rows of `x` (D x D, by decreasing variance, completed
/// to an orthonormal basis), memoised by content: a benchmark trains several variants
/// on the same source and pool, and the decomposition dominates a head-only run.
torch::Tensor principalBasis(const torch::Tensor& x) {
  static std::mutex mutex;
  static std::map<std::pair<uint64_t, std::vector<int64_t>>, torch::Tensor> memo;
  const auto xc = x.to(torch::kDouble).contiguous();
  // Every byte: exact content identity, not a sample.
  const uint64_t h = fnv1a(xc.data_ptr(), static_cast<size_t>(xc.numel()) * sizeof(double));
  const auto key = std::make_pair(h, xc.sizes().vec());
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = memo.find(key); it != memo.end()) return it->second;
  }
  const auto centered = xc - xc.mean(0, true);
  // Eigenvectors of the D x D scatter matrix: the right singular vectors of the
  // centered rows, and a complete basis even when there are fewer rows than D (about
  // 3x cheaper than a full SVD of the rows). eigh sorts ascending: flip.
  const auto evecs = std::get<1>(torch::linalg::eigh(centered.t().matmul(centered), "L"));
  const auto basis = evecs.flip({1}).t().contiguous().to(torch::kFloat);
  std::lock_guard<std::mutex> lock(mutex);
  if (memo.size() > 64) memo.clear();  // bounded: a bench touches a few sets at a time
  memo.emplace(key, basis);
  return basis;
}

}  // namespace

torch::Tensor Trainer::trunkRows(const torch::Tensor& inputs) {
  if (isFeatures(inputs)) return inputs;
  torch::NoGradGuard ng;
  net_->eval();
  std::vector<torch::Tensor> out;
  const int64_t batch = inferenceBatch(inputs);
  for (int64_t i = 0; i < inputs.size(0); i += batch)
    out.push_back(net_->trunk(evalView(inputs.slice(0, i, std::min(i + batch, inputs.size(0))))));
  return torch::cat(out);
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
  net_->initHeadRows(principalBasis(x));
}

torch::Tensor Trainer::dominantSet(const TrainingData& data, int epoch, const torch::Tensor& previous) {
  const auto seed = static_cast<uint64_t>(cfg_.train.seed);
  // Φ's space does not change during training: cluster it once. F's own space
  // moves, so it is re-clustered on the configured schedule.
  if (cfg_.cluster.space == ClusterSpace::kFrozen)
    return previous.defined() ? previous : selectDominant(data.pool_frozen, cfg_.cluster, seed);
  if (cfg_.cluster.space == ClusterSpace::kNone)
    return previous.defined() ? previous : torch::arange(data.pool.size(0), torch::kLong);
  const int every = cfg_.cluster.recluster_every;
  if (previous.defined() && (every == 0 || (epoch - 1) % every != 0)) return previous;
  return selectDominant(embed(data.pool), cfg_.cluster, seed + static_cast<uint64_t>(epoch));
}

void Trainer::checkFitInputs(const TrainingData& data) const {
  const auto& source = data.source;
  const auto& pool = data.pool;
  SHIFTAD_CHECK(source.defined() && source.size(0) >= 2, "training needs at least 2 source images; got {}",
                source.defined() ? source.size(0) : 0);
  const bool align = aligns(cfg_);
  SHIFTAD_CHECK(!align || (pool.defined() && pool.size(0) >= 2),
                "alignment (align.method={}) needs at least 2 target pool images; got {}", cfg_.align.method,
                pool.defined() ? pool.size(0) : 0);
  SHIFTAD_CHECK(!align || cfg_.cluster.space != ClusterSpace::kFrozen ||
                    (data.pool_frozen.defined() && data.pool_frozen.size(0) == pool.size(0)),
                "cluster.space = frozen needs the frozen encoder's features of every pool image");
}

FitResult Trainer::fit(const TrainingData& data, const EpochCallback& on_epoch, const FitControl& control) {
  checkFitInputs(data);
  const auto& source = data.source;
  const auto& pool = data.pool;
  const bool align = aligns(cfg_);
  const bool resuming = control.resume && !control.checkpoint.empty() && std::filesystem::exists(control.checkpoint);
  const bool anchored = cfg_.train.anchor > 0.0;
  // A resumed anchored run re-derives its anchors: the PCA head is a deterministic
  // function of the data, and the checkpoint then overwrites the weights.
  if (cfg_.model.head_init == HeadInit::kPca && (!resuming || anchored)) initHeadPca(data);
  if (!resuming && !center_.defined()) initCenter(source);

  Alignment alignment(cfg_, net_->embeddingDim());
  auto params = net_->parameters();
  for (const auto& p : alignment.parameters()) params.push_back(p);
  std::vector<torch::Tensor> trainable;
  for (const auto& p : params)
    if (p.requires_grad()) trainable.push_back(p);
  SHIFTAD_CHECK(!trainable.empty(), "nothing to train: every parameter of F is frozen");
  // L2-SP anchors: F's trainable weights as training starts (the discriminator, a
  // fresh network, is not anchored).
  std::vector<torch::Tensor> anchored_weights, anchors;
  if (anchored)
    for (const auto& w : net_->parameters())
      if (w.requires_grad()) {
        anchored_weights.push_back(w);
        anchors.push_back(w.detach().clone());
      }
  torch::optim::Adam opt(trainable, torch::optim::AdamOptions(cfg_.train.lr).weight_decay(cfg_.train.weight_decay));

  const CheckpointParts parts{net_.get(), alignment.discriminator ? alignment.discriminator.get() : nullptr, &opt,
                              &center_, &gen_};
  FitProgress p;
  if (resuming) {
    p = loadCheckpoint(control.checkpoint, parts);
    spdlog::info("resuming from '{}' at epoch {}, step {}", control.checkpoint, p.epoch, p.steps + 1);
  }
  const auto checkpoint = [&] {
    if (!control.checkpoint.empty()) saveCheckpoint(control.checkpoint, parts, p);
  };

  const int epochs = cfg_.train.epochs;
  const int every = control.checkpoint_every;
  const int64_t n = source.size(0);
  const int64_t batch = std::min<int64_t>(cfg_.train.batch_size, n);
  const int64_t steps_per_epoch = std::max<int64_t>(1, (n - 2) / batch + 1);
  const double total_steps = static_cast<double>(steps_per_epoch) * std::max(epochs, 1);
  const NamedTensors guarded = trainedTensors(*net_);

  while (p.epoch <= epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!p.order.defined()) {  // the epoch starts (else it resumes mid-way)
      if (align) p.dominant = dominantSet(data, p.epoch, p.dominant);
      SHIFTAD_CHECK(!align || p.dominant.size(0) > 0, "the dominant set of the pool is empty");
      p.order = torch::randperm(n, gen_, torch::kLong);
    }
    net_->train();
    if (alignment.discriminator) alignment.discriminator->train();
    for (; p.next_row + 2 <= n; p.next_row += batch) {
      // Checked between steps, so a stop never leaves a half-done step behind.
      if (control.stop && control.stop->load()) {
        checkpoint();
        return FitResult::Stopped;
      }
      const auto idx = p.order.slice(0, p.next_row, std::min(p.next_row + batch, n));
      auto xs = trainingView(source.index_select(0, idx));
      torch::Tensor loss, svdd, align_term = torch::zeros({});
      if (align) {
        // Target batch of the same size, drawn from the dominant set (with
        // replacement when the set is smaller than the batch).
        const auto pick = torch::randint(p.dominant.size(0), {idx.size(0)}, gen_, torch::kLong);
        auto xt = trainingView(pool.index_select(0, p.dominant.index_select(0, pick)));
        torch::Tensor xn;
        if (data.negatives.defined() && data.negatives.size(0) > 0) {
          const auto neg = torch::randint(data.negatives.size(0), {idx.size(0)}, gen_, torch::kLong);
          xn = trainingView(data.negatives.index_select(0, neg));
        }
        auto z = forward(xn.defined() ? torch::cat({xs, xt, xn}) : torch::cat({xs, xt}));
        const int64_t bs = xs.size(0), bt = xt.size(0);
        auto zs = z.slice(0, 0, bs);
        auto zt = z.slice(0, bs, bs + bt);
        auto zn = xn.defined() ? z.slice(0, bs + bt) : torch::Tensor();
        // The dominant cluster is taken as target-normal: optionally it is also pulled
        // to c (cosine-only alignment leaves its feature norms free to grow).
        svdd = losses::deepSvddLoss(cfg_.align.svdd_on_target ? z.slice(0, 0, bs + bt) : zs, center_);
        align_term = alignment(zs, zt, zn, static_cast<double>(p.step_count) / total_steps, center_);
        loss = svdd + cfg_.align.lambda * align_term;
      } else {
        svdd = losses::deepSvddLoss(forward(xs), center_);
        loss = svdd;
      }
      if (anchored) loss = loss + cfg_.train.anchor * losses::anchorPenalty(anchored_weights, anchors);
      const double loss_value = loss.item<double>();
      // Before backward: a non-finite loss must not reach the weights or Adam's moments.
      SHIFTAD_CHECK(std::isfinite(loss_value),
                    "training diverged: the loss is {} at epoch {}, step {}; {}. Lower train.lr (now {}) or "
                    "align.lambda (now {}), or check the input images for extreme values",
                    loss_value, p.epoch, p.steps + 1, lastCheckpoint(control), cfg_.train.lr, cfg_.align.lambda);
      opt.zero_grad();
      loss.backward();
      opt.step();
      // A finite loss is not enough: a degenerate input (data.std ~ 0) leaves the loss
      // constant while BatchNorm's statistics overflow, and the run would be saved
      // as a success that cannot score. Stop at the step, before any checkpoint holds it.
      const std::string broken = firstNonFinite(guarded);
      SHIFTAD_CHECK(broken.empty(),
                    "training diverged: F's tensor '{}' holds NaN or Inf after epoch {}, step {}; {}. Check "
                    "data.mean and data.std (now [{}] and [{}]: inputs (x - mean) / std must stay moderate), or "
                    "lower train.lr (now {}) or align.lambda (now {})",
                    broken, p.epoch, p.steps + 1, lastCheckpoint(control), fmt::join(cfg_.data.mean, ", "),
                    fmt::join(cfg_.data.std, ", "), cfg_.train.lr, cfg_.align.lambda);
      p.sum_loss += loss_value;
      p.sum_svdd += svdd.item<double>();
      p.sum_align += align_term.item<double>();
      ++p.steps;
      ++p.step_count;
    }
    EpochStats st;
    st.epoch = p.epoch;
    st.loss = p.sum_loss / std::max(p.steps, 1);
    st.svdd_loss = p.sum_svdd / std::max(p.steps, 1);
    st.align_loss = p.sum_align / std::max(p.steps, 1);
    st.dominant_size = align ? p.dominant.size(0) : 0;
    st.dominant_share = align ? static_cast<double>(p.dominant.size(0)) / pool.size(0) : 0.0;
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_epoch) on_epoch(st, align ? p.dominant : torch::empty({0}, torch::kLong));
    // The next epoch starts from scratch: no order drawn, no step done.
    p.order = torch::Tensor();
    p.next_row = 0;
    p.sum_loss = p.sum_svdd = p.sum_align = 0;
    p.steps = 0;
    ++p.epoch;
    if (p.epoch > epochs || (every > 0 && st.epoch % every == 0)) checkpoint();
  }
  return FitResult::Completed;
}

}  // namespace shiftad::training
