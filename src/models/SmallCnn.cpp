#include "models/SmallCnn.h"

#include <torch/nn/functional.h>

namespace shiftad::models {
namespace {
namespace F = torch::nn::functional;

torch::nn::Conv2d conv5x5(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 5).padding(2).bias(false));
}
torch::nn::BatchNorm2d bnNoAffine(int channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-4).affine(false));
}
}  // namespace

SmallCnn::SmallCnn(int width, int embedding_dim, const HeadSpec& head) : trunk_dim_(4 * width * 16) {
  conv1_ = register_module("conv1", conv5x5(3, width));
  bn1_ = register_module("bn1", bnNoAffine(width));
  conv2_ = register_module("conv2", conv5x5(width, 2 * width));
  bn2_ = register_module("bn2", bnNoAffine(2 * width));
  conv3_ = register_module("conv3", conv5x5(2 * width, 4 * width));
  bn3_ = register_module("bn3", bnNoAffine(4 * width));
  buildHead(trunk_dim_, embedding_dim, head);
}

std::vector<std::vector<std::string>> SmallCnn::stages() const {
  return {{"conv1", "bn1"}, {"conv2", "bn2"}, {"conv3", "bn3"}};
}

torch::Tensor SmallCnn::trunk(torch::Tensor x) {
  const auto lrelu = F::LeakyReLUFuncOptions().negative_slope(0.1);
  x = F::max_pool2d(F::leaky_relu(bn1_(conv1_(x)), lrelu), F::MaxPool2dFuncOptions(2));
  x = F::max_pool2d(F::leaky_relu(bn2_(conv2_(x)), lrelu), F::MaxPool2dFuncOptions(2));
  x = F::leaky_relu(bn3_(conv3_(x)), lrelu);
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({4, 4}));
  return x.flatten(1);
}

}  // namespace shiftad::models
