#include "export/OnnxLayers.h"

#include <cmath>

#include <torch/torch.h>

#include "common/Error.h"

namespace shiftad::exporting {

namespace {

const torch::nn::Module* findModule(const torch::nn::Module& root, const std::string& name) {
  const auto modules = root.named_modules("", /*include_self=*/false);
  const auto* found = modules.find(name);
  return found ? found->get() : nullptr;
}

int64_t convOut(int64_t size, int64_t kernel, int64_t stride, int64_t pad_total, int64_t dilation) {
  return (size + pad_total - dilation * (kernel - 1) - 1) / stride + 1;
}

/// A conv's own padding: torch's explicit sizes (not 'same'/'valid', which F never uses).
ConvPads ownPads(const torch::nn::detail::ConvNdOptions<2>& o, const std::string& name) {
  const auto* p = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  SHIFTAD_CHECK(p != nullptr, "ONNX export: convolution '{}' uses a named padding mode, which has no emitter", name);
  return {{(*p)->at(0), (*p)->at(0)}, {(*p)->at(1), (*p)->at(1)}};
}

}  // namespace

bool hasModule(const torch::nn::Module& root, const std::string& name) { return findModule(root, name) != nullptr; }

template <typename M>
const M& moduleAt(const torch::nn::Module& root, const std::string& name) {
  const auto* m = findModule(root, name);
  SHIFTAD_CHECK(m != nullptr, "ONNX export: F has no module '{}'", name);
  const auto* typed = dynamic_cast<const M*>(m);
  SHIFTAD_CHECK(typed != nullptr, "ONNX export: F's module '{}' is a {}, not the layer expected there", name,
                m->name());
  return *typed;
}

template const torch::nn::Conv2dImpl& moduleAt<torch::nn::Conv2dImpl>(const torch::nn::Module&, const std::string&);
template const torch::nn::BatchNorm2dImpl& moduleAt<torch::nn::BatchNorm2dImpl>(const torch::nn::Module&,
                                                                                const std::string&);
template const torch::nn::LinearImpl& moduleAt<torch::nn::LinearImpl>(const torch::nn::Module&, const std::string&);
template const torch::nn::SequentialImpl& moduleAt<torch::nn::SequentialImpl>(const torch::nn::Module&,
                                                                              const std::string&);

FeatureMap conv(OnnxGraph& g, const FeatureMap& x, const torch::nn::Conv2dImpl& c, const std::string& name,
                const ConvPads* pads) {
  const auto& o = c.options;
  SHIFTAD_CHECK(c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr,
                "ONNX export: convolution '{}' pads with other values than zeros, which has no emitter", name);
  const ConvPads p = pads ? *pads : ownPads(o, name);
  const int64_t kh = o.kernel_size()->at(0), kw = o.kernel_size()->at(1);
  const int64_t sh = o.stride()->at(0), sw = o.stride()->at(1);
  const int64_t dh = o.dilation()->at(0), dw = o.dilation()->at(1);
  SHIFTAD_CHECK(x.channels == o.in_channels(), "ONNX export: convolution '{}' takes {} channels, gets {}", name,
                o.in_channels(), x.channels);
  std::vector<std::string> inputs{x.name, g.constant(name + ".weight", c.weight)};
  if (o.bias()) inputs.push_back(g.constant(name + ".bias", c.bias));
  const auto y = g.node("Conv", inputs,
                        {{"kernel_shape", std::vector<int64_t>{kh, kw}},
                         {"strides", std::vector<int64_t>{sh, sw}},
                         {"dilations", std::vector<int64_t>{dh, dw}},
                         {"group", int64_t{o.groups()}},
                         {"pads", std::vector<int64_t>{p.rows.first, p.cols.first, p.rows.second, p.cols.second}}},
                        name);
  return {y, o.out_channels(), convOut(x.height, kh, sh, p.rows.first + p.rows.second, dh),
          convOut(x.width, kw, sw, p.cols.first + p.cols.second, dw)};
}

FeatureMap batchNorm(OnnxGraph& g, const FeatureMap& x, const torch::nn::BatchNorm2dImpl& bn, const std::string& name) {
  const auto& o = bn.options;
  SHIFTAD_CHECK(o.track_running_stats(), "ONNX export: BatchNorm '{}' keeps no running statistics", name);
  const auto n = o.num_features();
  const auto scale = o.affine() ? bn.weight : torch::ones({n});
  const auto shift = o.affine() ? bn.bias : torch::zeros({n});
  const auto y =
      g.node("BatchNormalization",
             {x.name, g.constant(name + ".weight", scale), g.constant(name + ".bias", shift),
              g.constant(name + ".running_mean", bn.running_mean), g.constant(name + ".running_var", bn.running_var)},
             {{"epsilon", static_cast<float>(o.eps())}}, name);
  return {y, x.channels, x.height, x.width};
}

FeatureMap relu(OnnxGraph& g, const FeatureMap& x) { return {g.node("Relu", {x.name}), x.channels, x.height, x.width}; }

FeatureMap relu6(OnnxGraph& g, const FeatureMap& x) {
  const auto lo = g.constant("zero", torch::zeros({}));
  const auto hi = g.constant("six", torch::full({}, 6.0));
  return {g.node("Clip", {x.name, lo, hi}), x.channels, x.height, x.width};
}

FeatureMap leakyRelu(OnnxGraph& g, const FeatureMap& x, double slope) {
  return {g.node("LeakyRelu", {x.name}, {{"alpha", static_cast<float>(slope)}}), x.channels, x.height, x.width};
}

FeatureMap maxPool(OnnxGraph& g, const FeatureMap& x, int64_t kernel, int64_t stride, int64_t pad) {
  const auto y = g.node("MaxPool", {x.name},
                        {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                         {"strides", std::vector<int64_t>{stride, stride}},
                         {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
  return {y, x.channels, convOut(x.height, kernel, stride, 2 * pad, 1), convOut(x.width, kernel, stride, 2 * pad, 1)};
}

FeatureMap add(OnnxGraph& g, const FeatureMap& a, const FeatureMap& b) {
  SHIFTAD_CHECK(a.channels == b.channels && a.height == b.height && a.width == b.width,
                "ONNX export: a residual adds {}x{}x{} to {}x{}x{}", a.channels, a.height, a.width, b.channels,
                b.height, b.width);
  return {g.node("Add", {a.name, b.name}), a.channels, a.height, a.width};
}

std::string adaptiveAvgPoolFlat(OnnxGraph& g, const FeatureMap& x, int64_t out) {
  // torch's windows: cell i covers [floor(i * H / out), ceil((i + 1) * H / out)).
  const int64_t H = x.height, W = x.width;
  auto window = [out](int64_t size, int64_t i) {
    return std::make_pair(i * size / out, ((i + 1) * size + out - 1) / out);
  };
  torch::Tensor weights = torch::zeros({H * W, out * out});
  auto acc = weights.accessor<float, 2>();
  for (int64_t i = 0; i < out; ++i)
    for (int64_t j = 0; j < out; ++j) {
      const auto [r0, r1] = window(H, i);
      const auto [c0, c1] = window(W, j);
      const float share = 1.0f / static_cast<float>((r1 - r0) * (c1 - c0));
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) acc[r * W + c][i * out + j] = share;
    }
  const auto rows = g.node("Reshape", {x.name, g.ints("pool_in_shape", {0, x.channels, H * W})});
  const auto pooled = g.node("MatMul", {rows, g.constant("adaptive_pool", weights)});
  return g.node("Reshape", {pooled, g.ints("pool_out_shape", {0, x.channels * out * out})});
}

std::string globalAvgPoolFlat(OnnxGraph& g, const FeatureMap& x) {
  return g.node("Flatten", {g.node("GlobalAveragePool", {x.name})}, {{"axis", int64_t{1}}});
}

std::string linear(OnnxGraph& g, const std::string& x, const torch::nn::LinearImpl& l, const std::string& name) {
  std::vector<std::string> inputs{x, g.constant(name + ".weight", l.weight)};
  if (l.options.bias()) inputs.push_back(g.constant(name + ".bias", l.bias));
  return g.node("Gemm", inputs, {{"transB", int64_t{1}}}, name);
}

}  // namespace shiftad::exporting
