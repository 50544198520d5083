// MobileNetV2 (width 1.0, ReLU6) with torchvision's module layout and parameter
// names (features.0.0 conv, features.0.1 BN, features.N.conv.M..., features.18,
// classifier.1), so torchvision-style state dicts map onto it by name.
//
// Padding: torchvision pads every 3x3 convolution symmetrically. Networks trained in
// TensorFlow (e.g. the ImageNet weights in shared/weights) used 'SAME' padding, which
// for a stride-2 convolution on an even input pads 0 before and 1 after; with
// symmetric padding their features drift (cosine ~0.90), so the mode is a choice.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "models/FeatureExtractor.h"

namespace shiftad::models {

enum class ConvPadding {
  Symmetric,  ///< torchvision: pad (k-1)/2 on every side
  TfSame,     ///< TensorFlow 'SAME': strided convs pad by the input size, the extra pixel after
};

/// TensorFlow 'SAME' padding (before, after) along one axis of `size` pixels: enough
/// for ceil(size/stride) outputs, the odd pixel after. For a 3x3 stride-2 conv this is
/// (0,1) on even sizes and (1,1) on odd ones (what the TF-trained weights saw). The
/// ONNX export pads its strided convolutions with it too.
std::pair<int64_t, int64_t> tfSamePad(int64_t size, int64_t kernel, int64_t stride);

/// "symmetric" | "tf_same"; anything else is a shiftad::Error naming the value.
ConvPadding parseConvPadding(const std::string& name);
std::string toString(ConvPadding padding);

/// The padding a weights file was trained with, from its safetensors `__metadata__`
/// key "padding" ("tf_same" or "symmetric"); Symmetric when absent (torchvision's). An
/// unknown value is an error that names `source` (e.g. "model.weights 'w.safetensors'")
/// and model.padding, which overrides the metadata.
ConvPadding paddingFromMetadata(const std::map<std::string, std::string>& metadata, const std::string& source = "");

class MobileNetV2 : public FeatureExtractor {
 public:
  static constexpr int64_t kTrunkDim = 1280;

  /// embedding_dim: size of the bias-free `head` (F's output). num_classes > 0 also
  /// builds torchvision's classifier (`classifier.1`, Linear 1280 -> num_classes with
  /// bias; dropout 0.2 before it, inactive in eval mode), used only by logits().
  MobileNetV2(int embedding_dim, int num_classes = 0, ConvPadding padding = ConvPadding::Symmetric,
              const HeadSpec& head = {});

  /// Global-average-pooled 1280-d features of `features` (before head/classifier).
  torch::Tensor trunk(torch::Tensor images) override;
  int64_t trunkDim() const override { return kTrunkDim; }
  /// features.0, ..., features.18.
  std::vector<std::vector<std::string>> stages() const override;
  /// BatchNorm folded into the convolutions, channels-last activations.
  std::unique_ptr<InferenceNet> inferenceNet() override;
  /// Classifier scores N x num_classes; a shiftad::Error when built without classifier.
  torch::Tensor logits(torch::Tensor images);

  int64_t numClasses() const { return num_classes_; }
  ConvPadding padding() const { return padding_; }
  std::map<std::string, std::string> describe() const override { return {{"padding", toString(padding_)}}; }

 private:
  torch::nn::Sequential features{nullptr};
  torch::nn::Sequential classifier{nullptr};
  int64_t num_classes_;
  ConvPadding padding_;
};

}  // namespace shiftad::models
