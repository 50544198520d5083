// An eval-only copy of F for scoring: the same function as F in eval mode, computed
// faster. BatchNorm is folded into the convolution before it (eval-mode BatchNorm is
// an affine map per channel: w' = w * gamma / sqrt(var + eps), b' = beta - mean *
// gamma / sqrt(var + eps)), activations run in channels-last memory format (oneDNN's
// convolutions then read and write them without reordering), ReLU6 and residual sums
// run in place. Training never sees it: it is a copy, and it is rebuilt whenever F's
// weights change (see upToDate).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

namespace shiftad::models {

class FeatureExtractor;

/// A convolution with its BatchNorm folded in (weights channels-last), then ReLU6 or
/// nothing. `tf_pad`: the TensorFlow 'SAME' pad of a strided convolution, taken per
/// input size (the convolution itself pads nothing then).
struct FoldedConv {
  torch::Tensor weight, bias;
  int64_t stride = 1, padding = 0, groups = 1;
  bool tf_pad = false;
  bool relu6 = false;

  torch::Tensor forward(torch::Tensor x) const;
};

/// Fold eval-mode BatchNorm (gamma, beta, running mean and variance, eps) into a
/// bias-free convolution's weight (out x in/groups x k x k).
FoldedConv foldBatchNorm(const torch::Tensor& conv_weight, const torch::Tensor& gamma, const torch::Tensor& beta,
                         const torch::Tensor& mean, const torch::Tensor& var, double eps);

class InferenceNet {
 public:
  virtual ~InferenceNet() = default;
  /// F(x) of normalized images N x 3 x S x S, as F's eval-mode forward gives it up to
  /// float rounding. Call under torch::NoGradGuard or c10::InferenceMode.
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  /// False once any parameter or buffer of `net` was replaced or changed in place
  /// since this copy was made from it (a training step, a loaded checkpoint).
  bool upToDate(const FeatureExtractor& net) const;

 protected:
  /// Remember the identity and version of every tensor of `net` (constructors call it).
  void recordSource(const FeatureExtractor& net);

 private:
  std::vector<std::pair<const void*, int64_t>> source_;
};

}  // namespace shiftad::models
