#include "models/FrozenScorer.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "config/Choices.h"

namespace shiftad::models {

namespace {

/// Rows scored at a time (FrozenScorer::score).
constexpr int64_t kBlock = 16;

}  // namespace

torch::Tensor FrozenScorer::score(const torch::Tensor& features) const {
  SHIFTAD_CHECK(reference.defined() && reference.size(0) > 0, "frozen scorer: no reference features");
  SHIFTAD_CHECK(features.dim() == 2 && features.size(1) == reference.size(1),
                "frozen scorer: features of width {} do not match the reference width {}",
                features.dim() == 2 ? features.size(1) : -1, reference.size(1));
  const auto x = features.to(torch::kFloat);
  const int64_t kk = std::min<int64_t>(k, reference.size(0));
  const auto reference_norms = reference.pow(2).sum(1).unsqueeze(0);
  std::vector<torch::Tensor> out;
  // The nearest references are found by |a|^2 - 2ab + |b|^2 in blocks of 16 rows, the last
  // one padded (a matrix product's rounding follows its row count: an image scored
  // 0.262296796 among 120, 0.262296766 alone), then their distances are taken from the
  // differences (the expansion left ~6e-8 where an image equals a reference, which a
  // threshold then measured).
  for (int64_t i = 0; i < x.size(0); i += kBlock) {
    auto a = x.slice(0, i, std::min(i + kBlock, x.size(0)));
    const int64_t rows = a.size(0);
    if (rows < kBlock) a = torch::cat({a, torch::zeros({kBlock - rows, x.size(1)}, a.options())});
    const auto expanded = a.pow(2).sum(1, true) - 2 * a.matmul(reference.t()) + reference_norms;
    const auto nearest = std::get<1>(expanded.topk(kk, 1, /*largest=*/false)).slice(0, 0, rows);
    const auto diff =
        a.slice(0, 0, rows).unsqueeze(1) - reference.index_select(0, nearest.reshape({-1})).view({rows, kk, -1});
    out.push_back(diff.pow(2).sum(2).mean(1));
  }
  return out.empty() ? torch::empty({0}) : torch::cat(out);
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
