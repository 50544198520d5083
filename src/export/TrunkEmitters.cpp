#include "export/TrunkEmitters.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/Error.h"
#include "models/MobileNetV2.h"
#include "models/ResNet.h"
#include "models/SmallCnn.h"

namespace shiftad::exporting {

namespace {

using torch::nn::BatchNorm2dImpl;
using torch::nn::Conv2dImpl;
using torch::nn::SequentialImpl;

/// conv `conv_name` then BatchNorm `bn_name`, both under `root`.
FeatureMap convBn(OnnxGraph& g, const FeatureMap& x, const torch::nn::Module& root, const std::string& conv_name,
                  const std::string& bn_name, const std::string& prefix, const ConvPads* pads = nullptr) {
  const auto y = conv(g, x, moduleAt<Conv2dImpl>(root, conv_name), prefix + conv_name, pads);
  return batchNorm(g, y, moduleAt<BatchNorm2dImpl>(root, bn_name), prefix + bn_name);
}

// SmallCnn::trunk: three conv-BN-LeakyReLU(0.1) blocks, max pools after the first two,
// a 4 x 4 adaptive average pool, flattened.
std::string smallCnn(OnnxGraph& g, const models::SmallCnn& net, FeatureMap x) {
  for (int i = 1; i <= 3; ++i) {
    const auto n = std::to_string(i);
    x = leakyRelu(g, convBn(g, x, net, "conv" + n, "bn" + n, ""), 0.1);
    if (i < 3) x = maxPool(g, x, 2, 2, 0);
  }
  return adaptiveAvgPoolFlat(g, x, 4);
}

/// A BasicBlock or Bottleneck (ResNet.cpp): its conv/BN pairs with ReLUs between, the
/// identity or the downsample added, ReLU.
FeatureMap resNetBlock(OnnxGraph& g, const FeatureMap& x, const torch::nn::Module& block, const std::string& prefix) {
  const int convs = hasModule(block, "conv3") ? 3 : 2;
  FeatureMap y = x;
  for (int i = 1; i <= convs; ++i) {
    const auto n = std::to_string(i);
    y = convBn(g, y, block, "conv" + n, "bn" + n, prefix);
    if (i < convs) y = relu(g, y);
  }
  const FeatureMap identity =
      hasModule(block, "downsample") ? convBn(g, x, block, "downsample.0", "downsample.1", prefix) : x;
  return relu(g, add(g, y, identity));
}

// ResNet::trunk: stem (conv, BN, ReLU, 3x3/2 max pool), layer1..4, global average pool.
std::string resNet(OnnxGraph& g, const models::ResNet& net, FeatureMap x) {
  x = maxPool(g, relu(g, convBn(g, x, net, "conv1", "bn1", "")), 3, 2, 1);
  for (int layer = 1; layer <= 4; ++layer) {
    const auto name = "layer" + std::to_string(layer);
    const auto& blocks = moduleAt<SequentialImpl>(net, name);
    for (size_t b = 0; b < blocks.size(); ++b)
      x = resNetBlock(g, x, *blocks.ptr(b), name + "." + std::to_string(b) + ".");
  }
  return globalAvgPoolFlat(g, x);
}

/// MobileNetV2's ConvBnRelu ("0" conv, "1" BN, ReLU6). Under tf_same a strided conv
/// pads by the input size, the odd pixel after (models::tfSamePad), as its forward does.
FeatureMap convBnRelu6(OnnxGraph& g, const FeatureMap& x, const torch::nn::Module& m, const std::string& prefix,
                       models::ConvPadding padding) {
  const auto& c = moduleAt<Conv2dImpl>(m, "0");
  const int64_t k = c.options.kernel_size()->at(0), s = c.options.stride()->at(0);
  ConvPads same{models::tfSamePad(x.height, k, s), models::tfSamePad(x.width, k, s)};
  const bool explicit_pad = padding == models::ConvPadding::TfSame && s > 1;
  return relu6(g, convBn(g, x, m, "0", "1", prefix, explicit_pad ? &same : nullptr));
}

/// MobileNetV2's InvertedResidual: its "conv" sequence (ConvBnRelu blocks, then the
/// linear 1x1 projection and its BN), plus the input when the shape is kept.
FeatureMap invertedResidual(OnnxGraph& g, const FeatureMap& x, const torch::nn::Module& block,
                            const std::string& prefix, models::ConvPadding padding) {
  const auto& seq = moduleAt<SequentialImpl>(block, "conv");
  const auto n = seq.size();
  FeatureMap y = x;
  int64_t stride = 1;
  for (size_t i = 0; i + 2 < n; ++i) {
    const auto& m = *seq.ptr(i);
    stride = std::max(stride, moduleAt<Conv2dImpl>(m, "0").options.stride()->at(0));
    y = convBnRelu6(g, y, m, prefix + "conv." + std::to_string(i) + ".", padding);
  }
  y = convBn(g, y, seq, std::to_string(n - 2), std::to_string(n - 1), prefix + "conv.");
  // InvertedResidual's rule: a residual when the stride is 1 and in == out.
  return stride == 1 && y.channels == x.channels ? add(g, x, y) : y;
}

// MobileNetV2::trunk: features.0 (ConvBnRelu), the inverted residuals, features.18
// (ConvBnRelu), global average pool.
std::string mobileNetV2(OnnxGraph& g, const models::MobileNetV2& net, FeatureMap x) {
  const auto& features = moduleAt<SequentialImpl>(net, "features");
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& m = *features.ptr(i);
    const auto prefix = "features." + std::to_string(i) + ".";
    x = hasModule(m, "conv") ? invertedResidual(g, x, m, prefix, net.padding())
                             : convBnRelu6(g, x, m, prefix, net.padding());
  }
  return globalAvgPoolFlat(g, x);
}

}  // namespace

std::string emitTrunk(OnnxGraph& g, const models::FeatureExtractor& net, const FeatureMap& x) {
  if (const auto* m = dynamic_cast<const models::SmallCnn*>(&net)) return smallCnn(g, *m, x);
  if (const auto* m = dynamic_cast<const models::ResNet*>(&net)) return resNet(g, *m, x);
  if (const auto* m = dynamic_cast<const models::MobileNetV2*>(&net)) return mobileNetV2(g, *m, x);
  SHIFTAD_THROW(
      "ONNX export: F's architecture ({}) has no ONNX emitter; small_cnn, resnet18, resnet50 and mobilenet_v2 export. "
      "CLIP's towers (attention, LayerNorm) are not covered: score such a run with shiftad",
      net.name());
}

}  // namespace shiftad::exporting
