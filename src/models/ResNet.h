// ResNet-18 with torchvision's module layout and parameter names (conv1, bn1,
// layer1.0.conv1, layer1.0.downsample.0, ...), so torchvision state dicts map onto
// it by name. As F, torchvision's classifier `fc` is replaced by a bias-free
// projection `head` (512 -> embedding_dim), as Deep SVDD requires.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/FeatureExtractor.h"

namespace shiftad::models {

/// torchvision's BasicBlock: two 3x3 convolutions with a residual connection.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet18 : public FeatureExtractor {
 public:
  explicit ResNet18(int embedding_dim);
  /// Pooled 512-d trunk features (before the head).
  torch::Tensor trunk(torch::Tensor images);
  torch::Tensor forward(torch::Tensor images) override;
  int64_t embeddingDim() const override { return embedding_dim_; }

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear head{nullptr};
  int64_t embedding_dim_;
};

}  // namespace shiftad::models
