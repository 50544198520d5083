#include "models/FrozenScorer.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "config/Choices.h"

namespace shiftad::models {

namespace {

/// Rows scored at a time (FrozenScorer::score): bounds the block x k x D differences.
constexpr int64_t kBlock = 16;

}  // namespace

torch::Tensor FrozenScorer::score(const torch::Tensor& features) const {
  SHIFTAD_CHECK(reference.defined() && reference.size(0) > 0, "frozen scorer: no reference features");
  SHIFTAD_CHECK(features.dim() == 2 && features.size(1) == reference.size(1),
                "frozen scorer: features of width {} do not match the reference width {}",
                features.dim() == 2 ? features.size(1) : -1, reference.size(1));
  // In double: a float |a|^2 - 2ab + |b|^2 over ~1000 dimensions errs by ~1e-7..1e-6,
  // which took the farther of two references ~5e-7 apart (and which one could follow a
  // row's place in the BLAS kernel's tiles, so an image's score its batch); in double
  // the error is ~1e-15. The distances are then taken from the differences (the
  // expansion leaves rounding where an image equals a reference, which a threshold
  // would measure), and rounded to float once.
  const auto x = features.to(torch::kDouble);
  const auto ref = reference.to(torch::kDouble);
  const int64_t kk = std::min<int64_t>(k, ref.size(0));
  const auto reference_norms = ref.pow(2).sum(1).unsqueeze(0);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); i += kBlock) {
    const auto a = x.slice(0, i, std::min(i + kBlock, x.size(0)));
    const auto expanded = a.pow(2).sum(1, true) - 2 * a.matmul(ref.t()) + reference_norms;
    const auto nearest = std::get<1>(expanded.topk(kk, 1, /*largest=*/false));
    const auto diff = a.unsqueeze(1) - ref.index_select(0, nearest.reshape({-1})).view({a.size(0), kk, -1});
    out.push_back(diff.pow(2).sum(2).mean(1));
  }
  return out.empty() ? torch::empty({0}) : torch::cat(out).to(torch::kFloat);
}

FrozenScorer makeFrozenScorer(ScoreMethod method, const torch::Tensor& source, const torch::Tensor& dominant,
                              int knn_k) {
  if (method == ScoreMethod::kFrozenMean) return {source.to(torch::kFloat).mean(0, true), 1};
  if (method == ScoreMethod::kFrozenKnn) return {source.to(torch::kFloat), knn_k};
  if (method == ScoreMethod::kFrozenDominant) {
    SHIFTAD_CHECK(dominant.defined() && dominant.size(0) > 0, "frozen_dominant: the dominant set is empty");
    return {dominant.to(torch::kFloat).mean(0, true), 1};
  }
  SHIFTAD_THROW("score.method '{}' is not a frozen scorer (those are frozen_*)", method);
}

}  // namespace shiftad::models
