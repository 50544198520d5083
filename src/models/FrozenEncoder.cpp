#include "models/FrozenEncoder.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <torch/script.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Hash.h"

namespace fs = std::filesystem;

namespace shiftad::models {
namespace {

constexpr int64_t kBatch = 32;

/// Any TorchScript module mapping N x 3 x S x S float images to N x D features.
class TorchScriptEncoder : public FrozenEncoder {
 public:
  explicit TorchScriptEncoder(const EncoderConfig& cfg) : cfg_(cfg) {
    SHIFTAD_CHECK(fs::is_regular_file(cfg.path),
                  "encoder.path '{}' does not exist; set it to a TorchScript file (torch.jit.save) of an image encoder",
                  cfg.path);
    try {
      module_ = torch::jit::load(cfg.path, torch::kCPU);
    } catch (const c10::Error& e) {
      SHIFTAD_THROW("encoder.path '{}' is not a loadable TorchScript module: {}", cfg.path, e.what_without_backtrace());
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
    for (int64_t i = 0; i < images.size(0); i += kBatch) {
      auto x = images.slice(0, i, std::min(i + kBatch, images.size(0))).to(torch::kFloat);
      if (x.size(2) != cfg_.image_size || x.size(3) != cfg_.image_size)
        x = torch::nn::functional::interpolate(
            x, torch::nn::functional::InterpolateFuncOptions()
                   .size(std::vector<int64_t>{cfg_.image_size, cfg_.image_size})
                   .mode(torch::kBilinear)
                   .align_corners(false));
      x = x * (cfg_.input_range / 255.0);
      auto y = module_.forward({x}).toTensor();
      SHIFTAD_CHECK(y.dim() == 2 && y.size(0) == x.size(0),
                    "encoder '{}' returned a tensor of shape {}; expected N x D features", cfg_.path,
                    fmt::format("{}", fmt::join(y.sizes(), "x")));
      out.push_back(y.to(torch::kFloat));
    }
    return out.empty() ? torch::empty({0, 0}) : torch::cat(out);
  }

  std::string id() const override { return id_; }

 private:
  EncoderConfig cfg_;
  torch::jit::script::Module module_;
  std::string id_;
};

}  // namespace

std::unique_ptr<FrozenEncoder> makeFrozenEncoder(const EncoderConfig& cfg) {
  if (cfg.type == "none") return nullptr;
  if (cfg.type == "torchscript") return std::make_unique<TorchScriptEncoder>(cfg);
  SHIFTAD_THROW("encoder.type '{}' is unknown; available: none, torchscript", cfg.type);
}

}  // namespace shiftad::models
