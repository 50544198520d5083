#include "export/OnnxExport.h"

#include <torch/torch.h>

#include "common/AtomicFile.h"
#include "common/Error.h"
#include "config/Choices.h"
#include "data/ImageTensors.h"
#include "export/OnnxGraph.h"
#include "export/OnnxLayers.h"
#include "export/OnnxMetadata.h"
#include "export/TrunkEmitters.h"
#include "models/FeatureExtractor.h"

namespace shiftad::exporting {

namespace {

/// Scoring's preprocessing of resized pixels (data::centerCrop, data::normalize):
/// "pixels" uint8 N x R x R x 3 -> normalized float N x 3 x S x S.
FeatureMap preprocess(OnnxGraph& g, const Config& cfg) {
  const int64_t side = exportInputSide(cfg), crop = cfg.data.image_size;
  SHIFTAD_CHECK(crop <= side, "ONNX export: data.image_size {} is larger than the resize side {}", crop, side);
  g.addInput("pixels", OnnxElement::kUint8, {std::string("N"), side, side, int64_t{3}});
  std::string x = "pixels";
  if (crop < side) {
    const int64_t top = data::centerCropStart(side, crop), left = data::centerCropStart(side, crop);
    x = g.node("Slice",
               {x, g.ints("crop_starts", {top, left}), g.ints("crop_ends", {top + crop, left + crop}),
                g.ints("crop_axes", {1, 2})},
               {}, "center_crop");
  }
  x = g.node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 3, 1, 2}}}, "to_nchw");
  x = g.node("Cast", {x}, {{"to", int64_t{1}}}, "to_float");  // 1: FLOAT
  x = g.node("Div", {x, g.constant("pixel_max", torch::full({}, 255.0))}, {}, "to_unit_range");
  // mean and std as data::normalize makes them: doubles rounded to float.
  const auto mean = torch::tensor(cfg.data.mean, torch::kFloat64).to(torch::kFloat32).view({1, 3, 1, 1});
  const auto std = torch::tensor(cfg.data.std, torch::kFloat64).to(torch::kFloat32).view({1, 3, 1, 1});
  x = g.node("Sub", {x, g.constant("mean", mean)}, {}, "minus_mean");
  x = g.node("Div", {x, g.constant("std", std)}, {}, "normalized");
  return {x, 3, crop, crop};
}

/// FeatureExtractor::head: [x / max(||x||, 1e-12) when model.trunk_l2], then the
/// modules of "head" in order (bias-free Linear, LeakyReLU).
std::string head(OnnxGraph& g, const Config& cfg, const models::FeatureExtractor& net, std::string x) {
  if (cfg.model.trunk_l2) {
    const auto norm = g.node("ReduceL2", {x}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{1}}});
    const auto floor = g.node("Max", {norm, g.constant("l2_eps", torch::full({}, 1e-12))});
    x = g.node("Div", {x, floor}, {}, "trunk_l2");
  }
  const auto& layers = moduleAt<torch::nn::SequentialImpl>(net, "head");
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& m = *layers.ptr(i);
    const auto name = "head." + std::to_string(i);
    if (const auto* l = dynamic_cast<const torch::nn::LinearImpl*>(&m)) {
      x = linear(g, x, *l, name);
    } else if (const auto* a = dynamic_cast<const torch::nn::LeakyReLUImpl*>(&m)) {
      x = g.node("LeakyRelu", {x}, {{"alpha", static_cast<float>(a->options.negative_slope())}}, name);
    } else {
      SHIFTAD_THROW("ONNX export: F's head layer '{}' ({}) has no emitter", name, m.name());
    }
  }
  return x;
}

/// The outputs: "embedding" (N x D) and "score" = sum over D of (F(x) - c)^2 (N).
void scoreOutputs(OnnxGraph& g, const std::string& embedding, const torch::Tensor& center, int64_t dim) {
  SHIFTAD_CHECK(center.defined() && center.dim() == 1 && center.size(0) == dim,
                "ONNX export: the center has shape {}, F's embedding {} values", c10::str(center.sizes()), dim);
  g.nodeTo("Identity", {embedding}, "embedding");
  const auto diff = g.node("Sub", {embedding, g.constant("center", center)}, {}, "minus_center");
  const auto squared = g.node("Mul", {diff, diff}, {}, "squared");
  g.nodeTo("ReduceSum", {squared, g.ints("embedding_axis", {1})}, "score", {{"keepdims", int64_t{0}}});
  g.addOutput("score", OnnxElement::kFloat, {std::string("N")});
  g.addOutput("embedding", OnnxElement::kFloat, {std::string("N"), dim});
}

}  // namespace

std::string onnxModel(const Config& cfg, const models::FeatureExtractor& net, const torch::Tensor& center,
                      const DecisionFacts& decision) {
  SHIFTAD_CHECK(!isClip(cfg.model.arch),
                "ONNX export: model.arch {} is a CLIP tower, which has no ONNX emitter (attention and LayerNorm); "
                "small_cnn, resnet18, resnet50 and mobilenet_v2 export. Score this run with shiftad",
                cfg.model.arch);
  torch::NoGradGuard no_grad;
  OnnxGraph g;
  const auto x = preprocess(g, cfg);
  const auto trunk = emitTrunk(g, net, x);
  scoreOutputs(g, head(g, cfg, net, trunk), center.detach().to(torch::kFloat32), net.embeddingDim());
  return g.serialize("shiftad_detector",
                     "shiftad anomaly detector: pixels (uint8 N x R x R x 3, RGB) -> score ||F(x) - c||^2 and "
                     "embedding F(x); metadata_props say how to resize",
                     exportMetadata(cfg, decision));
}

void writeOnnxModel(const Config& cfg, const models::FeatureExtractor& net, const torch::Tensor& center,
                    const DecisionFacts& decision, const std::string& path) {
  writeFileAtomic(path, onnxModel(cfg, net, center, decision));
}

}  // namespace shiftad::exporting
