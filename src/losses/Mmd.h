// Maximum mean discrepancy between source and target features: a kernel two-sample
// distance used as a distribution-level alignment loss (DAN, Long et al. 2015).
#pragma once

#include <torch/types.h>

namespace shiftad::losses {

/// Multi-kernel Gaussian MMD settings, with their defaults.
///
/// Kernels: k_j(x, y) = exp(-||x - y||^2 / (2 sigma_j^2)) with
///   sigma_j^2 = median * mult^j,   j = -(n_kernels / 2), ..., n_kernels - 1 - n_kernels / 2
/// (integer division): for odd n_kernels the family is symmetric around the median,
/// j = -2..2 for the default 5; for even n_kernels it has one more kernel below the
/// median than above, as in DAN's reference code. `median` is the (lower) median of
/// the squared distances between distinct rows of the pooled sample [xs; xt].
struct MmdParams {
  int n_kernels = 5;      ///< Gaussian kernels in the family (>= 1); their values are summed
  double mult = 2.0;      ///< ratio between consecutive bandwidths sigma_j^2 (> 0)
  bool unbiased = false;  ///< false: biased V-statistic; true: unbiased U-statistic
};

/// Squared MMD between the rows of xs (n_s x d) and xt (n_t x d), same d and dtype,
/// n_s and n_t may differ. With K the summed kernel:
///   biased   (V-statistic): mean K(xs, xs) + mean K(xt, xt) - 2 mean K(xs, xt), all
///            pairs including i = j; >= 0, and 0 for identical samples;
///   unbiased (U-statistic): the same with the i = j terms left out of the two
///            within-domain means; can be slightly negative, needs n_s, n_t >= 2.
/// The bandwidths are computed from detached distances: no gradient flows through
/// the choice of bandwidth, only through the kernel values.
torch::Tensor mmdLoss(const torch::Tensor& xs, const torch::Tensor& xt, const MmdParams& params = {});

}  // namespace shiftad::losses
