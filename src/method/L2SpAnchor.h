// The L2-SP anchor of the total loss (beyond the paper; docs/method.md, train.anchor):
// a pull of F's trainable weights toward the values they had when training started
// (where weight decay pulls them toward 0), Li et al. 2018.
#pragma once

#include <vector>

#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace shiftad::method {

class L2SpAnchor {
 public:
  /// Anchors = copies of `net`'s parameters that require a gradient, as they are now.
  explicit L2SpAnchor(const torch::nn::Module& net);

  /// Σ_i ||θ_i − θ0_i||² over those parameters (their current values θ).
  torch::Tensor penalty() const;

 private:
  std::vector<torch::Tensor> weights_;  ///< the live parameters θ
  std::vector<torch::Tensor> anchors_;  ///< θ0, detached copies
};

}  // namespace shiftad::method
