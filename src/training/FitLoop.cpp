// Trainer::fit: the epoch loop over the method's objects (method/Objective.h: the total
// loss; method/AlignedSet.h: the pool rows aligned each epoch), with checkpoints, the
// divergence guard and epoch statistics. Every random draw comes from the trainer's
// generator, in a fixed order per step: source crops, target picks, target crops,
// negative picks, negative crops.
#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Log.h"
#include "common/Seconds.h"
#include "losses/Losses.h"
#include "method/AlignedSet.h"
#include "method/Objective.h"
#include "models/NetworkConstruction.h"
#include "training/Checkpoint.h"
#include "training/Distributed.h"
#include "training/Trainer.h"

namespace shiftad::training {
namespace {

using Clock = std::chrono::steady_clock;

/// The loss's objects; the discriminator's initial weights drawn from the trainer's
/// construction stream where it has one.
method::Objective buildObjective(const Config& cfg, models::FeatureExtractor& net,
                                 std::optional<torch::Generator>& stream) {
  std::optional<models::NetworkConstruction> building;
  if (stream)
    building.emplace(*stream);
  else
    building.emplace();
  return method::Objective::fromConfig(cfg, net, net.embeddingDim());
}

/// F's trainable parameters, then the alignment strategy's (Adam's order).
std::vector<torch::Tensor> trainableParameters(const torch::nn::Module& net, const method::Objective& objective) {
  auto params = net.parameters();
  for (const auto& p : objective.parameters()) params.push_back(p);
  std::vector<torch::Tensor> trainable;
  for (const auto& p : params)
    if (p.requires_grad()) trainable.push_back(p);
  SHIFTAD_CHECK(!trainable.empty(), "nothing to train: every parameter of F is frozen");
  return trainable;
}

/// A checkpoint's progress must fit the run it resumes: an epoch the run has, a position
/// within its source rows, a batch order of them, and an aligned set of pool rows. A
/// damaged file would otherwise skip epochs, report a summary of training that never
/// ran, or index out of range.
void checkProgressFits(const FitProgress& p, const std::string& checkpoint, int epochs, int64_t source_rows,
                       int64_t pool_rows) {
  const auto damaged = [&](const std::string& what) {
    SHIFTAD_THROW(
        "checkpoint '{}' does not fit this run: {}; damaged, or of another run: delete it to train from "
        "the start",
        checkpoint, what);
  };
  if (p.epoch > epochs + 1) damaged(fmt::format("epoch {} of a run of {}", p.epoch, epochs));
  if (p.next_row > source_rows) damaged(fmt::format("row {} of {} source rows", p.next_row, source_rows));
  if (p.order.defined() &&
      (p.order.numel() != source_rows || p.order.scalar_type() != torch::kLong ||
       (source_rows > 0 && (p.order.min().item<int64_t>() < 0 || p.order.max().item<int64_t>() >= source_rows))))
    damaged(fmt::format("a batch order of {} entries for {} source rows", p.order.numel(), source_rows));
  if (p.dominant.defined() && p.dominant.numel() > 0 &&
      (p.dominant.scalar_type() != torch::kLong || p.dominant.min().item<int64_t>() < 0 ||
       p.dominant.max().item<int64_t>() >= pool_rows))
    damaged(fmt::format("aligned pool rows outside the pool's {}", pool_rows));
}

FitProgress resumeFrom(const std::string& checkpoint, const CheckpointParts& parts) {
  FitProgress p = loadCheckpoint(checkpoint, parts);
  log::info("resuming from '{}' at epoch {}, step {}", checkpoint, p.epoch, p.steps + 1);
  return p;
}

/// One step's inputs for a single forward pass: source rows, then target rows, then
/// negatives (one forward: shared BatchNorm statistics).
struct StepInputs {
  torch::Tensor rows;
  int64_t source_rows = 0;
  int64_t target_rows = 0;
};

/// The share of a step's batch one data-parallel rank forwards: its slice of each part
/// (source, target, negatives), so that every rank keeps the parts' proportions.
struct Share {
  std::array<std::pair<int64_t, int64_t>, 3> ranges;  ///< [first, last) within each part

  Share(const std::array<int64_t, 3>& parts, int rank, int world) {
    for (size_t i = 0; i < parts.size(); ++i) ranges[i] = shardRange(parts[i], rank, world);
  }
  int64_t rows() const {
    int64_t n = 0;
    for (const auto& [a, b] : ranges) n += b - a;
    return n;
  }
};

/// A step's batch split into its parts' row counts.
std::array<int64_t, 3> partsOf(const StepInputs& in) {
  return {in.source_rows, in.target_rows, in.rows.size(0) - in.source_rows - in.target_rows};
}

/// Whether `net`, training, normalises by batch statistics (a BatchNorm layer in training
/// mode; the stages model.freeze keeps frozen hold theirs).
bool normalisesByTheBatch(torch::nn::Module& net) {
  net.train();
  for (const auto& m : net.modules(/*include_self=*/false))
    if (m->is_training() && (m->as<torch::nn::BatchNorm1dImpl>() || m->as<torch::nn::BatchNorm2dImpl>())) return true;
  return false;
}

/// Source rows per rank below which a data-parallel run's BatchNorm statistics are
/// those of too few rows to stand for the batch's (docs/scale.md: a small CNN fine-tuned
/// at 5-6 rows a rank fell from AUROC 0.98 to 0.57; at 21 it agreed with one process).
constexpr int64_t kFewRowsPerRank = 16;

/// Gradients of `params` summed over the ranks (a parameter a rank's part of the graph
/// did not reach contributes zeros).
void sumGradients(ProcessGroup& group, const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (auto p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  group.allReduceSum(grads);
}

}  // namespace

class Trainer::FitLoop {
 public:
  FitLoop(Trainer& trainer, const TrainingData& data, const FitControl& control, bool resuming);
  FitResult run(const EpochCallback& on_epoch);

 private:
  void startEpoch();
  StepInputs drawBatch(const torch::Tensor& source_rows);
  method::BatchFeatures features(const StepInputs& inputs);
  torch::Tensor sharedForward(const StepInputs& inputs);
  bool stopRequested();
  void step();
  void endEpoch(Clock::time_point start, const EpochCallback& on_epoch);
  void checkpoint();

  Trainer& t_;
  const TrainingData& data_;
  const FitControl& control_;
  const int64_t n_;           ///< source rows
  const int64_t batch_;       ///< source rows per step
  const double total_steps_;  ///< steps over the whole run (the progress of the alignment schedule)
  method::Objective objective_;
  ProcessGroup* const group_;  ///< data-parallel ranks; null: alone
  bool split_step_ = false;    ///< this step's batch is shared out over the ranks
  torch::optim::Adam opt_;
  const CheckpointParts parts_;
  FitProgress p_;
  const method::AlignedSet aligned_;
  const DivergenceGuard guard_;
  const Clock::time_point started_ = Clock::now();  ///< this segment of the run (a resume starts one)
  const double seconds_before_ = p_.seconds;        ///< the segments before it (the checkpoint's)
};

Trainer::FitLoop::FitLoop(Trainer& trainer, const TrainingData& data, const FitControl& control, bool resuming)
    : t_(trainer),
      data_(data),
      control_(control),
      n_(data.source.size(0)),
      batch_(std::min<int64_t>(trainer.cfg_.train.batch_size, n_)),
      total_steps_(static_cast<double>(std::max<int64_t>(1, (n_ - 2) / batch_ + 1)) *
                   std::max(trainer.cfg_.train.epochs, 1)),
      objective_(buildObjective(trainer.cfg_, *trainer.net_, trainer.construction_stream_)),
      group_(trainer.group_ && trainer.group_->size() > 1 ? trainer.group_.get() : nullptr),
      opt_(trainableParameters(*trainer.net_, objective_),
           torch::optim::AdamOptions(trainer.cfg_.train.lr).weight_decay(trainer.cfg_.train.weight_decay)),
      parts_{trainer.net_.get(),
             objective_.module(),
             &opt_,
             &trainer.center_,
             &trainer.gen_,
             dumpConfig(trainer.cfg_),
             fmt::format("threads {}, ranks {}", torch::get_num_threads(), group_ ? group_->size() : 1)},
      p_(resuming ? resumeFrom(control.checkpoint, parts_) : FitProgress{}),
      aligned_(
          trainer.cfg_.cluster, static_cast<uint64_t>(trainer.cfg_.train.seed),
          data.pool.defined() ? data.pool.size(0) : 0, data.pool_frozen, [this] { return t_.embedAll(data_.pool); },
          [this] { return losses::svddScore(t_.embedAll(data_.pool), t_.center_); }),
      guard_(trainer.cfg_, *trainer.net_, control.checkpoint) {
  if (resuming)
    checkProgressFits(p_, control.checkpoint, trainer.cfg_.train.epochs, n_,
                      data.pool.defined() ? data.pool.size(0) : 0);
  if (group_ && group_->rank() == 0 && batch_ / group_->size() < kFewRowsPerRank && normalisesByTheBatch(*t_.net_))
    log::warn(
        "F's BatchNorm layers normalise each rank's share of a batch, {} source rows of {} here, not the whole "
        "batch: with so few rows the run can end far from one process's (docs/scale.md); give train.batch_size "
        "{} or more, or fewer ranks",
        batch_ / group_->size(), batch_, kFewRowsPerRank * group_->size());
}

FitResult Trainer::FitLoop::run(const EpochCallback& on_epoch) {
  while (p_.epoch <= t_.cfg_.train.epochs) {
    const auto start = Clock::now();
    if (!p_.order.defined()) startEpoch();  // else the epoch resumes mid-way
    t_.net_->train();
    objective_.train();
    for (; p_.next_row + 2 <= n_; p_.next_row += batch_) {
      // Checked between steps, so a stop never leaves a half-done step behind.
      if (stopRequested()) {
        checkpoint();
        return FitResult::Stopped;
      }
      step();
    }
    endEpoch(start, on_epoch);
  }
  return FitResult::Completed;
}

void Trainer::FitLoop::startEpoch() {
  const bool align = objective_.aligning();
  if (align) p_.dominant = aligned_.forEpoch(p_.epoch, p_.dominant);
  SHIFTAD_CHECK(!align || p_.dominant.size(0) > 0, "the dominant set of the pool is empty");
  p_.order = torch::randperm(n_, t_.gen_, torch::kLong);
}

StepInputs Trainer::FitLoop::drawBatch(const torch::Tensor& source_rows) {
  auto xs = t_.trainingView(data_.source.index_select(0, source_rows));
  if (!objective_.aligning()) return {xs, xs.size(0), 0};
  // Target batch of the same size, drawn from the aligned set (with replacement when
  // the set is smaller than the batch); positives pair source row i with target row i.
  const auto pick = torch::randint(p_.dominant.size(0), {source_rows.size(0)}, t_.gen_, torch::kLong);
  auto xt = t_.trainingView(data_.pool.index_select(0, p_.dominant.index_select(0, pick)));
  torch::Tensor xn;
  if (data_.negatives.defined() && data_.negatives.size(0) > 0) {
    const auto neg = torch::randint(data_.negatives.size(0), {source_rows.size(0)}, t_.gen_, torch::kLong);
    xn = t_.trainingView(data_.negatives.index_select(0, neg));
  }
  return {xn.defined() ? torch::cat({xs, xt, xn}) : torch::cat({xs, xt}), xs.size(0), xt.size(0)};
}

bool Trainer::FitLoop::stopRequested() {
  const bool here = control_.stop && control_.stop->load();
  // Every rank stops at the same step, or the others would wait for it forever.
  return group_ ? group_->any(here) : here;
}

torch::Tensor Trainer::FitLoop::sharedForward(const StepInputs& inputs) {
  const int world = group_->size();
  const auto parts = partsOf(inputs);
  // Too few rows to give every rank two (training-mode BatchNorm needs two): rank 0
  // computes the step alone; the others add zero gradients.
  split_step_ = parts[0] >= 2 * world;
  if (!split_step_) return t_.forward(inputs.rows);
  // This rank's slices of [source; target; negatives], forwarded together (the parts
  // share BatchNorm statistics as in one process), then every rank's outputs gathered
  // back into the batch's order, this rank's rows keeping their autograd graph.
  const Share mine(parts, group_->rank(), world);
  std::vector<torch::Tensor> local;
  int64_t offset = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    local.push_back(inputs.rows.slice(0, offset + mine.ranges[i].first, offset + mine.ranges[i].second));
    offset += parts[i];
  }
  const auto z_local = t_.forward(torch::cat(local));
  const auto gathered = group_->allGatherRows(z_local.detach());
  std::array<std::vector<torch::Tensor>, 3> by_part;
  int64_t at = 0;
  for (int r = 0; r < world; ++r) {
    const Share theirs(parts, r, world);
    const auto& rows = r == group_->rank() ? z_local : gathered;
    const int64_t base = r == group_->rank() ? 0 : at;
    int64_t within = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      const int64_t n = theirs.ranges[i].second - theirs.ranges[i].first;
      by_part[i].push_back(rows.slice(0, base + within, base + within + n));
      within += n;
    }
    at += theirs.rows();
  }
  std::vector<torch::Tensor> ordered;
  for (auto& part : by_part)
    for (auto& rows : part) ordered.push_back(rows);
  return torch::cat(ordered);
}

method::BatchFeatures Trainer::FitLoop::features(const StepInputs& inputs) {
  const auto z = group_ ? sharedForward(inputs) : t_.forward(inputs.rows);
  if (objective_.aligning()) return method::splitBatch(z, inputs.source_rows, inputs.target_rows);
  method::BatchFeatures f;
  f.source = z;
  return f;
}

void Trainer::FitLoop::step() {
  const auto rows = p_.order.slice(0, p_.next_row, std::min(p_.next_row + batch_, n_));
  const auto z = features(drawBatch(rows));
  const auto terms = objective_.loss(z, t_.center_, static_cast<double>(p_.step_count) / total_steps_);
  const double loss = terms.total.item<double>();
  guard_.checkLoss(loss, p_.epoch, p_.steps + 1);
  opt_.zero_grad();
  if (!group_) {
    terms.total.backward();
  } else {
    // Every rank holds the whole batch's loss; each back-propagates it into its own rows.
    // Terms of the weights alone (the L2-SP anchor) are counted once, by rank 0, and so
    // is the alignment's own module (the adversarial discriminator): it sees the whole
    // gathered batch on every rank, so each rank holds its whole gradient.
    if (group_->rank() == 0) {
      terms.total.backward();
    } else if (split_step_) {
      terms.data.backward();
      for (auto& p : objective_.parameters())
        if (p.grad().defined()) p.mutable_grad().zero_();
    }
    sumGradients(*group_, opt_.param_groups().front().params());
  }
  opt_.step();
  guard_.checkWeights(p_.epoch, p_.steps + 1);
  p_.sum_loss += loss;
  p_.sum_svdd += terms.svdd.item<double>();
  p_.sum_align += terms.align.item<double>();
  ++p_.steps;
  ++p_.step_count;
}

void Trainer::FitLoop::endEpoch(Clock::time_point start, const EpochCallback& on_epoch) {
  const bool align = objective_.aligning();
  EpochStats st;
  st.epoch = p_.epoch;
  st.loss = p_.sum_loss / std::max(p_.steps, 1);
  st.svdd_loss = p_.sum_svdd / std::max(p_.steps, 1);
  st.align_loss = p_.sum_align / std::max(p_.steps, 1);
  st.dominant_size = align ? p_.dominant.size(0) : 0;
  st.dominant_share = align ? static_cast<double>(p_.dominant.size(0)) / data_.pool.size(0) : 0.0;
  st.seconds = secondsSince(start);
  if (on_epoch) on_epoch(st, align ? p_.dominant : torch::empty({0}, torch::kLong));
  // The next epoch starts from scratch: no order drawn, no step done.
  p_.order = torch::Tensor();
  p_.next_row = 0;
  p_.sum_loss = p_.sum_svdd = p_.sum_align = 0;
  p_.steps = 0;
  ++p_.epoch;
  const int every = control_.checkpoint_every;
  if (p_.epoch > t_.cfg_.train.epochs || (every > 0 && st.epoch % every == 0)) checkpoint();
}

void Trainer::FitLoop::checkpoint() {
  p_.seconds = seconds_before_ + secondsSince(started_);
  if (!control_.checkpoint.empty() && control_.write_checkpoints) saveCheckpoint(control_.checkpoint, parts_, p_);
}

FitResult Trainer::fit(const TrainingData& data, const EpochCallback& on_epoch, const FitControl& control) {
  checkFitInputs(data);
  const bool resuming = control.resume && !control.checkpoint.empty() && std::filesystem::exists(control.checkpoint);
  prepareStart(data, resuming);
  FitLoop loop(*this, data, control, resuming);
  return loop.run(on_epoch);
}

}  // namespace shiftad::training
