// ResNets with torchvision's module layout and parameter names (conv1, bn1,
// layer1.0.conv1, layer1.0.downsample.0, ...), so torchvision state dicts map onto
// them by name. One class covers ResNet-18 (BasicBlock, 2-2-2-2) and ResNet-50
// (Bottleneck, 3-4-6-3). As F, torchvision's classifier `fc` is replaced by a
// bias-free projection `head` (trunk features -> embedding_dim), as Deep SVDD requires.
#pragma once

#include <array>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "models/FeatureExtractor.h"

namespace shiftad::models {

/// torchvision's BasicBlock: two 3x3 convolutions with a residual connection.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

/// torchvision's Bottleneck (v1.5: the stride sits on the 3x3 conv2, not on conv1):
/// 1x1 reduce -> 3x3 -> 1x1 expand (x4), with a residual connection.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

enum class ResNetBlock { Basic, Bottleneck };

class ResNet : public FeatureExtractor {
 public:
  /// `blocks`: number of blocks of layer1..layer4.
  ResNet(ResNetBlock block, std::array<int64_t, 4> blocks, int embedding_dim, const HeadSpec& head = {});
  /// Pooled trunk features (before the head): 512-d (Basic) or 2048-d (Bottleneck).
  torch::Tensor trunk(torch::Tensor images) override;
  int64_t trunkDim() const override { return trunk_dim_; }
  /// Stem (conv1, bn1), layer1, ..., layer4.
  std::vector<std::vector<std::string>> stages() const override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  int64_t trunk_dim_;
};

class ResNet18 : public ResNet {
 public:
  explicit ResNet18(int embedding_dim, const HeadSpec& head = {})
      : ResNet(ResNetBlock::Basic, {2, 2, 2, 2}, embedding_dim, head) {}
};

class ResNet50 : public ResNet {
 public:
  explicit ResNet50(int embedding_dim, const HeadSpec& head = {})
      : ResNet(ResNetBlock::Bottleneck, {3, 4, 6, 3}, embedding_dim, head) {}
};

}  // namespace shiftad::models
