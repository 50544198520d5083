#include "models/InferenceNet.h"

#include <torch/torch.h>

#include "models/FeatureExtractor.h"
#include "models/MobileNetV2.h"

namespace shiftad::models {
namespace {

std::vector<std::pair<const void*, int64_t>> identities(const FeatureExtractor& net) {
  std::vector<std::pair<const void*, int64_t>> out;
  for (const auto& t : net.parameters(true)) out.emplace_back(t.unsafeGetTensorImpl(), t._version());
  for (const auto& t : net.buffers(true)) out.emplace_back(t.unsafeGetTensorImpl(), t._version());
  return out;
}

}  // namespace

torch::Tensor FoldedConv::forward(torch::Tensor x) const {
  if (tf_pad) {
    const int64_t k = weight.size(2);
    const auto [top, bottom] = tfSamePad(x.size(2), k, stride);
    const auto [left, right] = tfSamePad(x.size(3), k, stride);
    x = torch::constant_pad_nd(x, {left, right, top, bottom}).contiguous(torch::MemoryFormat::ChannelsLast);
  }
  auto y = torch::conv2d(x, weight, bias, stride, padding, /*dilation=*/1, groups);
  return relu6 ? y.clamp_(0.0, 6.0) : y;
}

FoldedConv foldBatchNorm(const torch::Tensor& conv_weight, const torch::Tensor& gamma, const torch::Tensor& beta,
                         const torch::Tensor& mean, const torch::Tensor& var, double eps) {
  torch::NoGradGuard ng;
  // In double, so that folding adds no rounding of its own beyond the final float cast.
  const auto scale = gamma.to(torch::kDouble) / (var.to(torch::kDouble) + eps).sqrt();
  FoldedConv f;
  f.weight = (conv_weight.to(torch::kDouble) * scale.view({-1, 1, 1, 1}))
                 .to(torch::kFloat)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
  f.bias = (beta.to(torch::kDouble) - mean.to(torch::kDouble) * scale).to(torch::kFloat).contiguous();
  return f;
}

void InferenceNet::recordSource(const FeatureExtractor& net) { source_ = identities(net); }

bool InferenceNet::upToDate(const FeatureExtractor& net) const { return identities(net) == source_; }

}  // namespace shiftad::models
