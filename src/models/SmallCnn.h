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
  SmallCnn(int width, int embedding_dim);
  torch::Tensor forward(torch::Tensor images) override;
  int64_t embeddingDim() const override { return embedding_dim_; }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Linear head_{nullptr};
  int64_t embedding_dim_;
};

}  // namespace shiftad::models
