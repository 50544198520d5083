#include "training/DivergenceGuard.h"

#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "common/Error.h"

namespace shiftad::training {

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

DivergenceGuard::DivergenceGuard(const Config& cfg, const torch::nn::Module& net, std::string checkpoint)
    : cfg_(cfg), guarded_(trainedTensors(net)), checkpoint_(std::move(checkpoint)) {}

/// What is left after a diverged step: the last checkpoint, if one was written.
std::string DivergenceGuard::lastCheckpoint() const {
  if (!checkpoint_.empty() && std::filesystem::exists(checkpoint_))
    return fmt::format("the last good checkpoint '{}' is kept", checkpoint_);
  return "no checkpoint had been written yet";
}

void DivergenceGuard::checkLoss(double loss, int epoch, int64_t step) const {
  if (std::isfinite(loss)) return;
  // Nothing was updated before the first step: the learning rate is not the cause.
  SHIFTAD_CHECK(epoch != 1 || step != 1,
                "the loss is {} at the first step, before any update: F's starting weights ({}) or the inputs give "
                "non-finite values; check the weights (a BatchNorm running_var below 0, a bad conversion) and "
                "data.mean and data.std (now [{}] and [{}])",
                loss, weightsSource(cfg_.model), fmt::join(cfg_.data.mean, ", "), fmt::join(cfg_.data.std, ", "));
  SHIFTAD_CHECK(std::isfinite(loss),
                "training diverged: the loss is {} at epoch {}, step {}; {}. Lower train.lr (now {}) or "
                "align.lambda (now {}), or check the input images for extreme values",
                loss, epoch, step, lastCheckpoint(), cfg_.train.lr, cfg_.align.lambda);
}

void DivergenceGuard::checkWeights(int epoch, int64_t step) const {
  // A finite loss is not enough: a degenerate input (data.std ~ 0) leaves the loss
  // constant while BatchNorm's statistics overflow, and the run would be saved
  // as a success that cannot score. Stop at the step, before any checkpoint holds it.
  const std::string broken = firstNonFinite(guarded_);
  SHIFTAD_CHECK(broken.empty(),
                "training diverged: F's tensor '{}' holds NaN or Inf after epoch {}, step {}; {}. Check "
                "data.mean and data.std (now [{}] and [{}]: inputs (x - mean) / std must stay moderate), or "
                "lower train.lr (now {}) or align.lambda (now {})",
                broken, epoch, step, lastCheckpoint(), fmt::join(cfg_.data.mean, ", "), fmt::join(cfg_.data.std, ", "),
                cfg_.train.lr, cfg_.align.lambda);
}

}  // namespace shiftad::training
