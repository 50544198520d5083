#include "models/FeatureExtractor.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include "common/Error.h"
#include "common/LogOnce.h"
#include "common/Printable.h"
#include "config/Choices.h"
#include "io/SafeTensors.h"
#include "models/ClipVisual.h"
#include "models/MobileNetV2.h"
#include "models/NetworkConstruction.h"
#include "models/ResNet.h"
#include "models/SmallCnn.h"

namespace shiftad::models {

void FeatureExtractor::buildHead(int64_t trunk_dim, int64_t embedding_dim, const HeadSpec& spec) {
  SHIFTAD_CHECK(embedding_dim > 0, "model.embedding_dim = {} must be positive", embedding_dim);
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  torch::nn::Sequential h;
  if (spec.kind == Head::kLinear) {
    h->push_back(linear(trunk_dim, embedding_dim));
  } else if (spec.kind == Head::kMlp) {
    SHIFTAD_CHECK(spec.hidden > 0, "model.head_hidden = {} must be positive", spec.hidden);
    h->push_back(linear(trunk_dim, spec.hidden));
    h->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)));
    h->push_back(linear(spec.hidden, embedding_dim));
  } else {
    SHIFTAD_THROW("model.head has the value {}, which is none of {}", static_cast<int>(spec.kind),
                  config::choiceList<Head>());
  }
  head_ = register_module("head", h);
  embedding_dim_ = embedding_dim;
}

namespace {

/// The head without gradient (scoring, embedding), its products in double and the
/// output rounded to float once. A float product's rounding follows where a row falls
/// in the BLAS kernel's tiles: OpenBLAS's AVX2 sgemm gave a row other bits by its place
/// among 12 (blocks of one size, which sufficed on other kernels, did not help there),
/// so an image scored alone, in a list or as a line of a pipe got outputs a bit apart.
/// In double those differences are ~1e-16, far below a float's step (6e-8 of the
/// value): the rounded outputs agree unless an exact value lies that close to a float's
/// rounding boundary (about 1 output in 10^7). Cost: the weights converted per call
/// (1280 x 1280: ~1 ms), the products at about half float's speed.
torch::Tensor inDouble(torch::nn::Sequential& head, const torch::Tensor& x) {
  auto y = x.to(torch::kDouble);
  for (auto& layer : *head) {
    if (const auto* linear = layer.ptr()->as<torch::nn::Linear>())
      y = torch::nn::functional::linear(y, linear->weight.to(torch::kDouble),
                                        linear->bias.defined() ? linear->bias.to(torch::kDouble) : torch::Tensor());
    else
      y = layer.forward(y);  // the MLP's LeakyReLU, elementwise
  }
  return y.to(x.scalar_type());
}

}  // namespace

torch::Tensor FeatureExtractor::head(const torch::Tensor& trunk_features) {
  const auto x =
      trunk_l2_ ? torch::nn::functional::normalize(trunk_features, torch::nn::functional::NormalizeFuncOptions().dim(1))
                : trunk_features;
  if (torch::GradMode::is_enabled()) return head_->forward(x);
  return inDouble(head_, x);
}

void FeatureExtractor::initHeadRows(const torch::Tensor& directions) {
  auto& w = head_->ptr(0)->as<torch::nn::Linear>()->weight;
  torch::NoGradGuard ng;
  const int64_t rows = std::min(w.size(0), directions.size(0));
  SHIFTAD_CHECK(directions.dim() == 2 && directions.size(1) == w.size(1),
                "head initialisation: {} x {} directions for a {} x {} layer", directions.size(0),
                directions.dim() == 2 ? directions.size(1) : 0, w.size(0), w.size(1));
  w.slice(0, 0, rows).copy_(directions.slice(0, 0, rows));
}

void FeatureExtractor::freeze(int n) {
  const auto all = stages();
  const int count = static_cast<int>(all.size());
  SHIFTAD_CHECK(n >= -1 && n <= count, "model.freeze = {} is out of range: this architecture has {} stages (-1: all)",
                n, count);
  frozen_ = n == -1 ? count : n;
  const auto modules = named_modules();
  auto params = named_parameters(true);
  for (int i = 0; i < frozen_; ++i)
    for (const auto& name : all[static_cast<size_t>(i)]) {
      // A stage names child modules or, for parameters held by the root (CLIP's
      // embeddings), the parameters themselves.
      if (const auto* m = modules.find(name)) {
        for (auto& p : (*m)->parameters()) p.set_requires_grad(false);
      } else {
        auto* p = params.find(name);
        SHIFTAD_CHECK(p != nullptr, "internal: stage member '{}' not found", name);
        p->set_requires_grad(false);
      }
    }
  train(is_training());
}

void FeatureExtractor::train(bool on) {
  torch::nn::Module::train(on);
  if (!on || frozen_ == 0) return;
  // Frozen stages keep their running BatchNorm statistics: updating them would
  // change the "frozen" function (and invalidate cached trunk features).
  const auto all = stages();
  const auto modules = named_modules();
  for (int i = 0; i < frozen_; ++i)
    for (const auto& name : all[static_cast<size_t>(i)])
      if (const auto* m = modules.find(name)) (*m)->eval();
}

namespace {

HeadSpec headSpec(const ModelConfig& cfg) { return HeadSpec{cfg.head, cfg.head_hidden}; }

/// mobilenet_v2's padding: the config's, else (auto) the weights file's metadata, else
/// symmetric (torchvision's).
ConvPadding convPadding(Padding padding, const io::SafeTensorsFile* weights) {
  if (padding == Padding::kSymmetric) return ConvPadding::Symmetric;
  if (padding == Padding::kTfSame) return ConvPadding::TfSame;
  return weights ? paddingFromMetadata(weights->metadata, "model.weights '" + weights->path + "'")
                 : ConvPadding::Symmetric;
}

std::shared_ptr<FeatureExtractor> makeArchitecture(const ModelConfig& cfg, const io::SafeTensorsFile* weights) {
  const NetworkConstruction building;  // one network at a time draws initial weights
  const auto head = headSpec(cfg);
  if (cfg.arch == Arch::kSmallCnn) return std::make_shared<SmallCnn>(cfg.width, cfg.embedding_dim, head);
  if (cfg.arch == Arch::kResNet18) return std::make_shared<ResNet18>(cfg.embedding_dim, head);
  if (cfg.arch == Arch::kResNet50) return std::make_shared<ResNet50>(cfg.embedding_dim, head);
  // As F, no classifier. TF-trained weights need tf_same padding: taken from the
  // weights file's metadata unless the config says otherwise.
  if (cfg.arch == Arch::kMobileNetV2)
    return std::make_shared<MobileNetV2>(cfg.embedding_dim, 0, convPadding(cfg.padding, weights), head);
  if (cfg.arch == Arch::kClipVitB32)
    return std::make_shared<ClipVisionTransformer>(ClipVitParams{}, cfg.embedding_dim, head);
  if (cfg.arch == Arch::kClipRn50)
    return std::make_shared<ClipModifiedResNet>(ClipResNetParams{}, cfg.embedding_dim, head);
  SHIFTAD_THROW("model.arch has the value {}, which is none of {}", static_cast<int>(cfg.arch),
                config::choiceList<Arch>());
}

/// CLIP checkpoints hold both towers; F is the visual one, under OpenAI's "visual.".
std::string weightsPrefix(Arch arch) { return isClip(arch) ? "visual." : ""; }

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// The prefix that the file's names carry where F's have none, as a DataParallel
/// ("module."), Lightning ("model.") or other wrapper writes them: "" when the first
/// missing name is not in the file under some prefix.
std::string extraPrefix(const io::SafeTensorsFile& weights, const std::string& prefix, const std::string& missing) {
  const std::string tail = "." + missing;
  for (const auto& [name, tensor] : weights.tensors)
    if (name.size() > tail.size() && endsWith(name, tail) && name.rfind(prefix, 0) == 0)
      return name.substr(prefix.size(), name.size() - tail.size() + 1 - prefix.size());
  return "";
}

/// "NAME: F has [a, b], the file [c, d]" for a tensor of another shape.
std::string shapeNote(FeatureExtractor& net, const io::SafeTensorsFile& weights, const std::string& prefix,
                      const std::string& name) {
  const auto mine = io::moduleStateDict(net).at(name).sizes(), theirs = weights.tensors.at(prefix + name).sizes();
  return fmt::format("'{}{}': F has [{}], the file [{}]", prefix, name, fmt::join(mine, ", "), fmt::join(theirs, ", "));
}

/// Why the file does not fit F, with what helps tell a renamed file from another
/// architecture: a name the file holds, the prefix its names carry, its own architecture.
std::string misfit(FeatureExtractor& net, const io::SafeTensorsFile& weights, const std::string& prefix,
                   const std::vector<std::string>& missing, const io::LoadReport& report) {
  std::vector<std::string> parts;
  if (!missing.empty())
    parts.push_back(fmt::format("{} tensors of F missing (e.g. '{}{}')", missing.size(), prefix, missing.front()));
  if (!report.mismatched.empty())
    parts.push_back(fmt::format("{} of another shape (e.g. {})", report.mismatched.size(),
                                shapeNote(net, weights, prefix, report.mismatched.front())));
  if (!report.unexpected.empty())
    parts.push_back(
        fmt::format("{} of the file's unused (e.g. '{}')", report.unexpected.size(), report.unexpected.front()));
  std::string hint = "is model.arch right?";
  if (const auto extra = missing.empty() ? "" : extraPrefix(weights, prefix, missing.front()); !extra.empty())
    hint = fmt::format("the file's names carry the prefix '{}' ('{}{}{}' for '{}{}'): convert it again without it",
                       extra, prefix, extra, missing.front(), prefix, missing.front());
  if (const auto it = weights.metadata.find("architecture"); it != weights.metadata.end())
    hint += fmt::format(" (the file says architecture '{}')", printable(it->second));
  return fmt::format("{}; {}", fmt::join(parts, ", "), hint);
}

/// Copy pretrained backbone weights; only the fresh head (and nothing of the backbone)
/// may be missing. A classifier in the file (fc.*, classifier.*) is ignored, and so is,
/// for CLIP, everything outside "visual." (the text tower), and F's own head in a run's
/// model.safetensors (head.*): the head starts fresh, as documented.
void loadBackbone(FeatureExtractor& net, Arch arch, const io::SafeTensorsFile& file, const std::string& path) {
  const auto prefix = weightsPrefix(arch);
  io::SafeTensorsFile weights = file;
  int64_t heads = 0;
  for (auto it = weights.tensors.begin(); it != weights.tensors.end();)
    it = it->first.rfind(prefix + "head.", 0) == 0 ? (++heads, weights.tensors.erase(it)) : std::next(it);
  const auto report = io::loadIntoModule(net, weights, prefix, /*strict=*/false);
  std::vector<std::string> missing;
  // BatchNorm's num_batches_tracked only counts training steps (unused with a fixed
  // momentum), and some exports drop it.
  for (const auto& m : report.missing)
    if (m.rfind("head.", 0) != 0 && !endsWith(m, ".num_batches_tracked")) missing.push_back(m);
  SHIFTAD_CHECK(missing.empty() && report.mismatched.empty(),
                "model.weights '{}' does not fit the architecture {}: {}{}", path, toString(arch),
                misfit(net, weights, prefix, missing, report),
                prefix.empty() ? "" : " (CLIP weights are read under OpenAI's '" + prefix + "' names)");
  // A run builds F several times (trunk features, training, scoring): said once.
  if (heads > 0)
    logOnce(spdlog::level::info, fmt::format("model.weights '{}': its {} head tensors (a run's trained head) are not "
                                             "loaded: F's head starts fresh",
                                             path, heads));
  if (!report.unexpected.empty())
    logOnce(spdlog::level::info, fmt::format("model.weights '{}': ignored {} tensors that F does not use (e.g. '{}')",
                                             path, report.unexpected.size(), report.unexpected.front()));
}

}  // namespace

std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg) {
  std::shared_ptr<FeatureExtractor> net;
  if (cfg.weights.empty()) {
    net = makeArchitecture(cfg, nullptr);
  } else {
    const auto weights = io::readSafeTensors(cfg.weights);
    net = makeArchitecture(cfg, &weights);
    loadBackbone(*net, cfg.arch, weights, cfg.weights);
  }
  if (cfg.freeze != 0) net->freeze(cfg.freeze);
  net->setTrunkL2(cfg.trunk_l2);
  return net;
}

std::shared_ptr<FeatureExtractor> loadFeatureExtractor(const ModelConfig& cfg, const io::SafeTensorsFile& checkpoint) {
  ModelConfig arch = cfg;
  arch.weights.clear();
  // A run's checkpoint records the padding F was built with; it wins over the config.
  const bool recorded = checkpoint.metadata.count("padding") > 0;
  if (recorded) arch.padding = Padding::kAuto;
  auto net = makeArchitecture(arch, recorded ? &checkpoint : nullptr);
  io::loadIntoModule(*net, checkpoint, "", /*strict=*/true);
  if (cfg.freeze != 0) net->freeze(cfg.freeze);
  net->setTrunkL2(cfg.trunk_l2);
  return net;
}

}  // namespace shiftad::models
