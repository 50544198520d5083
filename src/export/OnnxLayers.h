// The layers F is made of, as ONNX nodes: each reads a torch module's options and
// weights (eval mode: BatchNorm with its running statistics) and adds the nodes that
// compute what the module's forward computes. Shared by the architectures' emitters.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <torch/nn/module.h>

#include "export/OnnxGraph.h"

namespace torch::nn {
class Conv2dImpl;
class BatchNorm2dImpl;
class LinearImpl;
}  // namespace torch::nn

namespace shiftad::exporting {

/// A feature map in the graph: its name and its shape after the batch (C x H x W;
/// spatial sizes are static, so that 'SAME' paddings and pooling windows are known).
struct FeatureMap {
  std::string name;
  int64_t channels = 0, height = 0, width = 0;
};

/// Padding of a convolution: (top, bottom) and (left, right).
struct ConvPads {
  std::pair<int64_t, int64_t> rows, cols;
};

/// The child module at dotted path `name` under `root` (e.g. "layer1.0.conv1"), as `M`;
/// an Error naming the path when it is missing or of another kind.
template <typename M>
const M& moduleAt(const torch::nn::Module& root, const std::string& name);

/// Whether `root` has a child module at `name`.
bool hasModule(const torch::nn::Module& root, const std::string& name);

/// Conv2d with its own (symmetric) padding, or `pads` when given (asymmetric 'SAME').
FeatureMap conv(OnnxGraph& g, const FeatureMap& x, const torch::nn::Conv2dImpl& conv, const std::string& name,
                const ConvPads* pads = nullptr);
/// BatchNorm2d in eval mode; without affine parameters, scale 1 and bias 0.
FeatureMap batchNorm(OnnxGraph& g, const FeatureMap& x, const torch::nn::BatchNorm2dImpl& bn, const std::string& name);
FeatureMap relu(OnnxGraph& g, const FeatureMap& x);
FeatureMap relu6(OnnxGraph& g, const FeatureMap& x);
FeatureMap leakyRelu(OnnxGraph& g, const FeatureMap& x, double slope);
/// Max pooling (floor mode; padding never wins the max, as in torch).
FeatureMap maxPool(OnnxGraph& g, const FeatureMap& x, int64_t kernel, int64_t stride, int64_t pad);
FeatureMap add(OnnxGraph& g, const FeatureMap& a, const FeatureMap& b);
/// torch's adaptive_avg_pool2d to out x out, flattened to N x (C * out * out) in
/// torch's order: one MatMul with the pooling windows' weights (exact for any size).
std::string adaptiveAvgPoolFlat(OnnxGraph& g, const FeatureMap& x, int64_t out);
/// Global average pool, flattened to N x C.
std::string globalAvgPoolFlat(OnnxGraph& g, const FeatureMap& x);
/// y = x W^T (+ b): Gemm with the weight as stored (transB).
std::string linear(OnnxGraph& g, const std::string& x, const torch::nn::LinearImpl& linear, const std::string& name);

}  // namespace shiftad::exporting
