#include "losses/Losses.h"

#include <limits>

#include <torch/torch.h>

#include "common/Error.h"
#include "losses/Checks.h"

namespace shiftad::losses {
namespace F = torch::nn::functional;

namespace {

using detail::checkFeatures;

void checkCenter(const char* fn, const torch::Tensor& z, const torch::Tensor& c) {
  checkFeatures(fn, "z", z);
  SHIFTAD_CHECK(c.defined() && c.dim() == 1 && c.size(0) == z.size(1),
                "{}: center must be a vector of {} values (one per feature), got shape {}", fn, z.size(1),
                c.defined() ? c10::str(c.sizes()) : std::string("undefined"));
}

}  // namespace

torch::Tensor svddCenter(const torch::Tensor& features, double eps) {
  checkFeatures("svddCenter", "features", features);
  SHIFTAD_CHECK(eps >= 0.0, "svddCenter: eps must be >= 0, got {}", eps);
  // The center is a constant of the objective (fixed once from the initial network):
  // no gradient flows into it.
  const torch::Tensor c = features.detach().mean(0);
  const torch::Tensor pushed = torch::where(c >= 0, torch::full_like(c, eps), torch::full_like(c, -eps));
  return torch::where(c.abs() < eps, pushed, c);
}

torch::Tensor svddScore(const torch::Tensor& z, const torch::Tensor& c) {
  checkCenter("svddScore", z, c);
  return (z - c).pow(2).sum(1);
}

torch::Tensor deepSvddLoss(const torch::Tensor& z, const torch::Tensor& c) {
  checkCenter("deepSvddLoss", z, c);
  return svddScore(z, c).mean();
}

torch::Tensor anchorPenalty(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& anchors) {
  SHIFTAD_CHECK(weights.size() == anchors.size(), "anchorPenalty: {} weight tensors but {} anchors", weights.size(),
                anchors.size());
  auto total = torch::zeros({});
  for (size_t i = 0; i < weights.size(); ++i) {
    SHIFTAD_CHECK(weights[i].sizes() == anchors[i].sizes(), "anchorPenalty: weight {} is {} but its anchor is {}", i,
                  c10::str(weights[i].sizes()), c10::str(anchors[i].sizes()));
    total = total + (weights[i] - anchors[i]).pow(2).sum();
  }
  return total;
}

torch::Tensor infoNceLoss(const torch::Tensor& zs, const torch::Tensor& zt, double tau,
                          const torch::Tensor& negatives) {
  checkFeatures("infoNceLoss", "zs", zs);
  checkFeatures("infoNceLoss", "zt", zt);
  SHIFTAD_CHECK(zs.sizes() == zt.sizes(), "infoNceLoss: zs is {} but zt is {}; rows must pair up one to one",
                c10::str(zs.sizes()), c10::str(zt.sizes()));
  SHIFTAD_CHECK(tau > 0.0, "infoNceLoss: temperature tau must be > 0, got {}", tau);
  const int64_t n = zs.size(0);
  const torch::Tensor z = F::normalize(torch::cat({zs, zt}), F::NormalizeFuncOptions().dim(1));
  // Self-similarity is excluded from the denominator (k != i): -inf logits vanish under
  // the max-shifted log-softmax of cross_entropy, which keeps small tau stable.
  const torch::Tensor self = torch::eye(2 * n, z.options().dtype(torch::kBool));
  torch::Tensor logits = z.matmul(z.t()).div(tau).masked_fill(self, -std::numeric_limits<double>::infinity());
  if (negatives.defined() && negatives.size(0) > 0) {
    checkFeatures("infoNceLoss", "negatives", negatives);
    SHIFTAD_CHECK(negatives.size(1) == zs.size(1), "infoNceLoss: negatives have {} columns, zs {}", negatives.size(1),
                  zs.size(1));
    // Extra columns: only ever in the denominator (no row takes them as its positive).
    const auto zn = F::normalize(negatives, F::NormalizeFuncOptions().dim(1));
    logits = torch::cat({logits, z.matmul(zn.t()).div(tau)}, 1);
  }
  // Row i's positive is its partner in the other half: i + n for sources, i - n for targets.
  const torch::Tensor partner = torch::arange(2 * n, z.options().dtype(torch::kLong)).add(n).remainder(2 * n);
  return F::cross_entropy(logits, partner);
}

}  // namespace shiftad::losses
