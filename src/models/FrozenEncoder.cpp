#include "models/FrozenEncoder.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <torch/script.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "config/Choices.h"
#include "common/Hash.h"
#include "common/Progress.h"
#include "models/InferenceBatch.h"

namespace fs = std::filesystem;

namespace shiftad::models {
namespace {

constexpr int64_t kBatch = kInferenceImages;

/// A safetensors file begins with its header's length (8 bytes, little-endian) and the
/// header's '{'.
bool looksLikeSafeTensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[9] = {};
  return f.read(head, 9) && head[8] == '{' && head[6] == 0 && head[7] == 0;
}

/// Any TorchScript module mapping N x 3 x S x S float images to N x D features.
class TorchScriptEncoder : public FrozenEncoder {
 public:
  explicit TorchScriptEncoder(const EncoderConfig& cfg) : cfg_(cfg) {
    std::error_code ec;
    SHIFTAD_CHECK(fs::is_regular_file(cfg.path, ec),
                  "encoder.path '{}' does not exist; set it to a TorchScript file (torch.jit.save) of an image encoder",
                  cfg.path);
    try {
      module_ = torch::jit::load(cfg.path, torch::kCPU);
    } catch (const c10::Error& e) {
      SHIFTAD_THROW("encoder.path '{}' is not a loadable TorchScript module: {}{}", cfg.path,
                    e.what_without_backtrace(),
                    looksLikeSafeTensors(cfg.path)
                        ? " (it is a safetensors file: for F's own architecture as Φ, set encoder.type: backbone with "
                          "those weights as model.weights)"
                        : "");
    }
    module_.eval();
    // Keyed by the module's bytes, not its path: a run directory's copy of the encoder
    // (RUN/encoder.pt) finds the features the original computed.
    std::ifstream f(cfg.path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    id_ = fmt::format("torchscript:{:016x}:{}:{}:{}", fnv1a(bytes), bytes.size(), cfg.image_size, cfg.input_range);
  }

  torch::Tensor encode(const torch::Tensor& images) override {
    torch::NoGradGuard ng;
    std::vector<torch::Tensor> out;
    Progress progress("embedding images (" + fs::path(cfg_.path).filename().string() + ")", images.size(0));
    for (int64_t i = 0; i < images.size(0); i += kBatch) {
      auto x = images.slice(0, i, std::min(i + kBatch, images.size(0))).to(torch::kFloat);
      if (x.size(2) != cfg_.image_size || x.size(3) != cfg_.image_size)
        x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{cfg_.image_size, cfg_.image_size})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(false));
      x = x * (cfg_.input_range / 255.0);
      const auto y = features(forward(x), x.size(0));
      out.push_back(y.to(torch::kFloat));
      progress.advance(x.size(0));
    }
    return out.empty() ? torch::empty({0, 0}) : torch::cat(out);
  }

  std::string id() const override { return id_; }

 private:
  /// The module's output for a batch; its own errors (a wrong input size, say) name the
  /// file, without LibTorch's backtrace.
  c10::IValue forward(const torch::Tensor& x) {
    std::string why;
    try {
      return module_.forward({x});
    } catch (const c10::Error& e) {
      why = e.what_without_backtrace();
    } catch (const std::exception& e) {  // torch::jit::JITException: the script's traceback
      why = e.what();
    }
    SHIFTAD_THROW(
        "encoder.path '{}' failed on images of shape {}: {}; it must map N x 3 x {} x {} images in [0, {}] "
        "(encoder.image_size, encoder.input_range) to N x D features",
        cfg_.path, describe(x), lastLine(why), cfg_.image_size, cfg_.image_size, cfg_.input_range);
  }

  /// The N x D feature tensor in `out`, else an error saying what the module returned.
  torch::Tensor features(const c10::IValue& out, int64_t n) const {
    SHIFTAD_CHECK(out.isTensor(),
                  "encoder.path '{}' returned {}; expected one N x D tensor of features (for a module that returns "
                  "several outputs, wrap it so that forward returns only the image features)",
                  cfg_.path, describe(out));
    const auto y = out.toTensor();
    SHIFTAD_CHECK(y.dim() == 2 && y.size(0) == n && y.size(1) > 0,
                  "encoder.path '{}' returned a tensor of shape {} for {} images; expected N x D features ({} x D)",
                  cfg_.path, describe(y), n, n);
    // Found later, a NaN read as a mixture's failure, or the run's own reference file's.
    const int64_t bad = (~torch::isfinite(y)).any(1).sum().item<int64_t>();
    SHIFTAD_CHECK(bad == 0,
                  "encoder.path '{}' returned NaN or Inf features for {} of {} images; check the module (it is given "
                  "images in [0, {}] of {} x {} pixels: encoder.input_range, encoder.image_size)",
                  cfg_.path, bad, n, cfg_.input_range, cfg_.image_size, cfg_.image_size);
    return y;
  }

  static std::string describe(const torch::Tensor& t) {
    return t.dim() == 0 ? std::string("[] (a scalar)") : fmt::format("[{}]", fmt::join(t.sizes(), " x "));
  }

  static std::string describe(const c10::IValue& v) {
    if (v.isTensor()) return "a tensor of shape " + describe(v.toTensor());
    if (v.isTuple() || v.isList()) {
      const auto items = v.isTuple() ? v.toTupleRef().elements().vec() : v.toListRef().vec();
      std::vector<std::string> parts;
      for (const auto& item : items) parts.push_back(item.isTensor() ? describe(item.toTensor()) : item.tagKind());
      return fmt::format("a {} of {} ({})", v.isTuple() ? "tuple" : "list", items.size(), fmt::join(parts, ", "));
    }
    return "a " + v.tagKind();
  }

  /// A TorchScript error is a script traceback whose last line is the error itself.
  static std::string lastLine(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    const auto nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
  }

  EncoderConfig cfg_;
  torch::jit::script::Module module_;
  std::string id_;
};

}  // namespace

std::unique_ptr<FrozenEncoder> makeFrozenEncoder(const EncoderConfig& cfg) {
  if (cfg.type == EncoderType::kNone) return nullptr;
  if (cfg.type == EncoderType::kTorchScript) return std::make_unique<TorchScriptEncoder>(cfg);
  SHIFTAD_THROW(
      "encoder.type '{}' is F's own initial trunk (api::frozenFeatures builds it); makeFrozenEncoder "
      "loads torchscript modules only",
      cfg.type);
}

}  // namespace shiftad::models
