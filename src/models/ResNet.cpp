#include "models/ResNet.h"

#include <torch/nn/functional.h>


namespace shiftad::models {
namespace {
namespace F = torch::nn::functional;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

torch::nn::Sequential stage(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Sequential(BasicBlock(in, out, stride), BasicBlock(out, out, 1));
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

BasicBlockImpl::BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
  conv1 = register_module("conv1", conv(in, out, 3, stride, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (stride != 1 || in != out)
    downsample = register_module("downsample", torch::nn::Sequential(conv(in, out, 1, stride, 0), torch::nn::BatchNorm2d(out)));
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto identity = downsample ? downsample->forward(x) : x;
  auto y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  return torch::relu(y + identity);
}

ResNet18::ResNet18(int embedding_dim) : embedding_dim_(embedding_dim) {
  conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
  layer1 = register_module("layer1", stage(64, 64, 1));
  layer2 = register_module("layer2", stage(64, 128, 2));
  layer3 = register_module("layer3", stage(128, 256, 2));
  layer4 = register_module("layer4", stage(256, 512, 2));
  head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(512, embedding_dim).bias(false)));
  initResNet(*this);
}

torch::Tensor ResNet18::trunk(torch::Tensor x) {
  x = torch::relu(bn1(conv1(x)));
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({1, 1})).flatten(1);
}

torch::Tensor ResNet18::forward(torch::Tensor x) { return head(trunk(x)); }

}  // namespace shiftad::models
