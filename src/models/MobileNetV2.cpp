#include "models/MobileNetV2.h"

#include <algorithm>

#include <torch/torch.h>

#include "common/Error.h"
#include "models/InferenceNet.h"

namespace shiftad::models {
namespace {
namespace F = torch::nn::functional;

/// `conv` with the eval-mode BatchNorm `bn` that follows it folded in.
FoldedConv folded(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn, bool tf_pad, bool relu6) {
  auto f = foldBatchNorm(conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.options.eps());
  f.stride = conv.options.stride()->at(0);
  f.padding = c10::get<torch::ExpandingArray<2>>(conv.options.padding())->at(0);
  f.groups = conv.options.groups();
  f.tf_pad = tf_pad;
  f.relu6 = relu6;
  return f;
}

/// ReLU6 that overwrites its input and keeps only its result for the backward pass.
/// torch::clamp keeps its input (BatchNorm's output) for its gradient while the next
/// convolution keeps the result: two activations a layer where one suffices. Here the
/// gradient is read from the result, as torchvision's ReLU6 (hardtanh's: zero where the
/// result is 0 or 6), and BatchNorm's backward reads its input, never its output: a
/// training step keeps ~26% fewer bytes (65 instead of 88 MiB an image at 224 px), which
/// on machines where first-touching pages is slow is also time. LibTorch 1.13's own
/// hardtanh_ does not help: its autograd clones the input to keep it.
class ReLU6InPlace : public torch::autograd::Function<ReLU6InPlace> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x) {
    x.clamp_(0.0, 6.0);
    ctx->mark_dirty({x});
    ctx->save_for_backward({x});
    return x;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad) {
    const auto result = ctx->get_saved_variables()[0];
    return {torch::hardtanh_backward(grad[0], result, 0.0, 6.0)};
  }
};

/// ReLU6 of a fresh tensor (a BatchNorm output nothing else holds), in place.
torch::Tensor relu6InPlace(torch::Tensor x) {
  if (torch::GradMode::is_enabled() && x.requires_grad()) return ReLU6InPlace::apply(x);
  return x.clamp_(0.0, 6.0);
}

/// torchvision's Conv2dNormActivation: conv (no bias) "0", BatchNorm "1", ReLU6.
class ConvBnReluImpl : public torch::nn::Module {
 public:
  ConvBnReluImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups, ConvPadding padding)
      : kernel_(kernel),
        stride_(stride),
        // Stride-1 'SAME' with an odd kernel equals symmetric padding, so only strided
        // convolutions need the explicit, input-size-dependent pad.
        explicit_pad_(padding == ConvPadding::TfSame && stride > 1) {
    conv_ = register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                       .stride(stride)
                                                       .padding(explicit_pad_ ? 0 : (kernel - 1) / 2)
                                                       .groups(groups)
                                                       .bias(false)));
    bn_ = register_module("1", torch::nn::BatchNorm2d(out));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (explicit_pad_) {
      const auto [top, bottom] = tfSamePad(x.size(2), kernel_, stride_);
      const auto [left, right] = tfSamePad(x.size(3), kernel_, stride_);
      x = F::pad(x, F::PadFuncOptions({left, right, top, bottom}));
    }
    return relu6InPlace(bn_(conv_(x)));
  }

  FoldedConv folded() const { return models::folded(*conv_, *bn_, explicit_pad_, /*relu6=*/true); }

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  int64_t kernel_, stride_;
  bool explicit_pad_;
};
TORCH_MODULE(ConvBnRelu);

/// torchvision's InvertedResidual: [1x1 expand] -> 3x3 depthwise -> 1x1 linear
/// projection + BN, residual when the shape is kept. Submodule indices follow
/// torchvision (conv.0 is the depthwise conv when there is no expansion).
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand, ConvPadding padding)
      : residual_(stride == 1 && in == out) {
    const int64_t hidden = in * expand;
    torch::nn::Sequential conv;
    if (expand != 1) conv->push_back(ConvBnRelu(in, hidden, 1, 1, 1, padding));
    conv->push_back(ConvBnRelu(hidden, hidden, 3, stride, hidden, padding));
    conv->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, out, 1).bias(false)));
    conv->push_back(torch::nn::BatchNorm2d(out));
    conv_ = register_module("conv", conv);
  }

  torch::Tensor forward(torch::Tensor x) { return residual_ ? x + conv_->forward(x) : conv_->forward(x); }

  /// The block's convolutions with their BatchNorms folded in, input side first.
  std::vector<FoldedConv> folded() const {
    std::vector<FoldedConv> out;
    const size_t n = conv_->size();
    for (size_t i = 0; i + 2 < n; ++i) out.push_back(conv_->ptr<ConvBnReluImpl>(i)->folded());
    const auto projection = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(conv_->ptr(n - 2));
    const auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(conv_->ptr(n - 1));
    out.push_back(models::folded(*projection, *bn, /*tf_pad=*/false, /*relu6=*/false));  // linear: no ReLU6
    return out;
  }
  bool residual() const { return residual_; }

 private:
  torch::nn::Sequential conv_{nullptr};
  bool residual_;
};
TORCH_MODULE(InvertedResidual);

/// MobileNetV2's eval-only copy: blocks of folded convolutions on channels-last
/// activations, residual sums in place, then F's own head.
class FoldedMobileNetV2 : public InferenceNet {
 public:
  FoldedMobileNetV2(FeatureExtractor& net, const torch::nn::Sequential& features) : net_(net) {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < features->size(); ++i) {
      if (const auto block = std::dynamic_pointer_cast<InvertedResidualImpl>(features->ptr(i)))
        blocks_.push_back({block->folded(), block->residual()});
      else
        blocks_.push_back({{features->ptr<ConvBnReluImpl>(i)->folded()}, false});
    }
    recordSource(net);
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    auto x = images.contiguous(torch::MemoryFormat::ChannelsLast);
    for (const auto& block : blocks_) {
      auto y = x;
      for (const auto& conv : block.convs) y = conv.forward(y);
      x = block.residual ? y.add_(x) : y;
    }
    return net_.head(x.mean({2, 3}));
  }

 private:
  struct Block {
    std::vector<FoldedConv> convs;
    bool residual;
  };
  FeatureExtractor& net_;
  std::vector<Block> blocks_;
};

/// torchvision's initialisation: Kaiming-normal (fan_out) convolutions, BN weight 1
/// bias 0, classifier N(0, 0.01) with zero bias. The head keeps torch's default init
/// (as ResNet's head does).
void initMobileNetV2(torch::nn::Module& root, torch::nn::Sequential& classifier) {
  torch::NoGradGuard ng;
  for (const auto& m : root.modules(/*include_self=*/false)) {
    if (auto* c = m->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
  if (classifier) {
    auto* fc = classifier->ptr(1)->as<torch::nn::Linear>();
    torch::nn::init::normal_(fc->weight, 0.0, 0.01);
    fc->bias.zero_();
  }
}
}  // namespace

std::pair<int64_t, int64_t> tfSamePad(int64_t size, int64_t kernel, int64_t stride) {
  const int64_t out = (size + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

ConvPadding parseConvPadding(const std::string& name) {
  if (name == "symmetric") return ConvPadding::Symmetric;
  if (name == "tf_same") return ConvPadding::TfSame;
  SHIFTAD_THROW("convolution padding '{}' is unknown; available: symmetric, tf_same", name);
}

std::string toString(ConvPadding padding) { return padding == ConvPadding::TfSame ? "tf_same" : "symmetric"; }

ConvPadding paddingFromMetadata(const std::map<std::string, std::string>& metadata, const std::string& source) {
  const auto it = metadata.find("padding");
  if (it == metadata.end()) return ConvPadding::Symmetric;
  if (source.empty()) return parseConvPadding(it->second);
  try {
    return parseConvPadding(it->second);
  } catch (const Error& e) {  // named neither the file nor the key that overrides it
    SHIFTAD_THROW(
        "{}: its metadata's padding: {}; write one of those in the file's metadata, or (train) set "
        "model.padding, which overrides it",
        source, e.what());
  }
}

MobileNetV2::MobileNetV2(int embedding_dim, int num_classes, ConvPadding padding, const HeadSpec& head)
    : num_classes_(num_classes), padding_(padding) {
  SHIFTAD_CHECK(num_classes >= 0, "MobileNetV2: num_classes = {} must be >= 0", num_classes);
  // torchvision's inverted_residual_setting (t: expansion, c: channels, n: repeats,
  // s: stride of the first repeat) at width 1.0.
  struct Setting {
    int64_t t, c, n, s;
  };
  const Setting settings[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  torch::nn::Sequential f;
  int64_t in = 32;
  f->push_back(ConvBnRelu(3, in, 3, 2, 1, padding));
  for (const auto& st : settings) {
    for (int64_t i = 0; i < st.n; ++i) {
      f->push_back(InvertedResidual(in, st.c, i == 0 ? st.s : 1, st.t, padding));
      in = st.c;
    }
  }
  f->push_back(ConvBnRelu(in, kTrunkDim, 1, 1, 1, padding));
  features = register_module("features", f);
  if (num_classes > 0) {
    classifier = register_module(
        "classifier", torch::nn::Sequential(torch::nn::Dropout(0.2), torch::nn::Linear(kTrunkDim, num_classes)));
  }
  buildHead(kTrunkDim, embedding_dim, head);
  initMobileNetV2(*this, classifier);
}

std::unique_ptr<InferenceNet> MobileNetV2::inferenceNet() {
  return std::make_unique<FoldedMobileNetV2>(*this, features);
}

torch::Tensor MobileNetV2::trunk(torch::Tensor x) {
  // Channels-last activations: oneDNN's convolutions (and LibTorch's BatchNorm) read and
  // write NHWC directly, and a convolution's output follows its input's layout, so
  // converting the images once makes every layer NHWC; weights may be in either layout.
  // A MobileNetV2 training step ran 1.2x faster in this layout (docs/performance.md).
  return features->forward(x.contiguous(torch::MemoryFormat::ChannelsLast)).mean({2, 3});  // global average pool
}

std::vector<std::vector<std::string>> MobileNetV2::stages() const {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < features->size(); ++i) out.push_back({"features." + std::to_string(i)});
  return out;
}

torch::Tensor MobileNetV2::logits(torch::Tensor x) {
  SHIFTAD_CHECK(classifier, "MobileNetV2::logits: built without a classifier (num_classes = 0)");
  return classifier->forward(trunk(x));
}

}  // namespace shiftad::models
