#include "models/ResNet.h"

#include <torch/nn/functional.h>

namespace shiftad::models {
namespace {
namespace F = torch::nn::functional;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

torch::nn::Sequential downsampleIfNeeded(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return torch::nn::Sequential(conv(in, out, 1, stride, 0), torch::nn::BatchNorm2d(out));
}

/// torchvision's _make_layer: the first block strides and changes width, the rest
/// keep it. `in` is updated to the stage's output channels.
template <typename Block>
torch::nn::Sequential stage(int64_t& in, int64_t planes, int64_t blocks, int64_t stride) {
  torch::nn::Sequential s;
  s->push_back(Block(in, planes, stride));
  in = planes * Block::Impl::kExpansion;
  for (int64_t i = 1; i < blocks; ++i) s->push_back(Block(in, planes, 1));
  return s;
}

/// torchvision's initialisation: Kaiming-normal (fan_out) convolutions, BN weight 1 bias 0.
void initResNet(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& p : m.named_parameters(true)) {
    const auto& name = p.key();
    auto& t = p.value();
    if (t.dim() == 4) {
      torch::nn::init::kaiming_normal_(t, 0.0, torch::kFanOut, torch::kReLU);
    } else if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos) {
      if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0)
        t.fill_(1.0);
      else
        t.zero_();
    }
  }
}
}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv(in, planes, 3, stride, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  if (auto ds = downsampleIfNeeded(in, planes * kExpansion, stride)) downsample = register_module("downsample", ds);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto identity = downsample ? downsample->forward(x) : x;
  auto y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  return torch::relu(y + identity);
}

BottleneckImpl::BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv(in, planes, 1, 1, 0));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, planes * kExpansion, 1, 1, 0));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion));
  if (auto ds = downsampleIfNeeded(in, planes * kExpansion, stride)) downsample = register_module("downsample", ds);
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
  auto identity = downsample ? downsample->forward(x) : x;
  auto y = torch::relu(bn1(conv1(x)));
  y = torch::relu(bn2(conv2(y)));
  y = bn3(conv3(y));
  return torch::relu(y + identity);
}

ResNet::ResNet(ResNetBlock block, std::array<int64_t, 4> blocks, int embedding_dim, const HeadSpec& head) {
  conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
  int64_t in = 64;
  const std::array<int64_t, 4> planes{64, 128, 256, 512};
  torch::nn::Sequential* layers[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int i = 0; i < 4; ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    auto s = block == ResNetBlock::Basic ? stage<BasicBlock>(in, planes[i], blocks[i], stride)
                                         : stage<Bottleneck>(in, planes[i], blocks[i], stride);
    *layers[i] = register_module("layer" + std::to_string(i + 1), s);
  }
  trunk_dim_ = in;
  buildHead(trunk_dim_, embedding_dim, head);
  initResNet(*this);
}

torch::Tensor ResNet::trunk(torch::Tensor x) {
  // Channels-last activations, as MobileNetV2::trunk (oneDNN's NHWC convolutions).
  x = torch::relu(bn1(conv1(x.contiguous(torch::MemoryFormat::ChannelsLast))));
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({1, 1})).flatten(1);
}

std::vector<std::vector<std::string>> ResNet::stages() const {
  return {{"conv1", "bn1"}, {"layer1"}, {"layer2"}, {"layer3"}, {"layer4"}};
}

}  // namespace shiftad::models
