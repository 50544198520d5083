// A LeNet-style CNN for small images, after Ruff et al. 2018 (Deep SVDD, CIFAR-10
// network): three conv stages, BatchNorm without affine parameters, LeakyReLU, max
// pooling, and a bias-free linear projection. Input side >= 8; a 4x4 adaptive pool
// before the projection makes it independent of the input size.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/FeatureExtractor.h"

namespace shiftad::models {

class SmallCnn : public FeatureExtractor {
 public:
  SmallCnn(int width, int embedding_dim, const HeadSpec& head = {});
  /// Three conv blocks, then a 4 x 4 adaptive average pool, flattened (64 * width).
  torch::Tensor trunk(torch::Tensor images) override;
  int64_t trunkDim() const override { return trunk_dim_; }
  std::vector<std::vector<std::string>> stages() const override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  int64_t trunk_dim_;
};

}  // namespace shiftad::models
