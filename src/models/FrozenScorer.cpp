#include "models/FrozenScorer.h"

#include <torch/torch.h>

#include "common/Error.h"
#include "config/Choices.h"

namespace shiftad::models {

torch::Tensor FrozenScorer::score(const torch::Tensor& features) const {
  SHIFTAD_CHECK(reference.defined() && reference.size(0) > 0, "frozen scorer: no reference features");
  SHIFTAD_CHECK(features.dim() == 2 && features.size(1) == reference.size(1),
                "frozen scorer: features of width {} do not match the reference width {}",
                features.dim() == 2 ? features.size(1) : -1, reference.size(1));
  const auto x = features.to(torch::kFloat);
  const int64_t kk = std::min<int64_t>(k, reference.size(0));
  std::vector<torch::Tensor> out;
  // Chunked so that many test images against many references stay small in memory.
  for (int64_t i = 0; i < x.size(0); i += 4096) {
    const auto a = x.slice(0, i, std::min(i + 4096, x.size(0)));
    // Differences, not |a|^2 - 2ab + |b|^2: a matrix product's rounding follows the number
    // of rows (an image scored 0.262296796 among others, 0.262296766 alone), and the
    // expansion leaves ~6e-8 where an image equals a reference (a threshold of rounding).
    const auto d = torch::cdist(a, reference, 2.0, /*compute_mode=donot_use_mm_for_euclid_dist*/ 2).pow(2);
    out.push_back(std::get<0>(d.topk(kk, 1, /*largest=*/false)).mean(1));
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
