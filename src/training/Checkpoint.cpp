#include "training/Checkpoint.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <sstream>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Number.h"
#include "common/Log.h"
#include "io/SafeTensors.h"
#include "shiftad/Config.h"

namespace shiftad::training {
namespace {

constexpr const char* kFormat = "shiftad-checkpoint-1";
constexpr const char* kConfigKey = "config";  ///< the run's settings (CheckpointParts::config)
constexpr const char* kNet = "net.";
constexpr const char* kDisc = "disc.";

/// Bytes as a 1-D uint8 tensor (how the optimizer's archive travels in safetensors).
torch::Tensor bytesTensor(const std::string& bytes) {
  auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

std::string tensorBytes(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

std::string optimizerBytes(torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive archive;
  opt.save(archive);
  std::ostringstream os;
  archive.save_to(os);
  return os.str();
}

void loadOptimizer(torch::optim::Optimizer& opt, const std::string& bytes) {
  torch::serialize::InputArchive archive;
  std::istringstream is(bytes);
  archive.load_from(is);
  opt.load(archive);
}

// Doubles as decimal text: fmt's shortest representation reads back exactly.
std::string exact(double v) { return fmt::format("{}", v); }

const torch::Tensor& required(const io::SafeTensorsFile& f, const std::string& name) {
  const auto it = f.tensors.find(name);
  SHIFTAD_CHECK(it != f.tensors.end(),
                "checkpoint '{}' has no tensor '{}' (damaged or from another version; "
                "delete it to train from the start)",
                f.path, name);
  return it->second;
}

const std::string& meta(const io::SafeTensorsFile& f, const std::string& key) {
  const auto it = f.metadata.find(key);
  SHIFTAD_CHECK(it != f.metadata.end(),
                "checkpoint '{}' has no metadata '{}' (damaged or from another version; "
                "delete it to train from the start)",
                f.path, key);
  return it->second;
}

io::SafeTensorsFile readChecked(const std::string& path) {
  io::SafeTensorsFile f;
  try {
    f = io::readSafeTensors(path);
  } catch (const Error& e) {  // cut by a full disk or a copy: the reader says where
    SHIFTAD_THROW("{}; the checkpoint is damaged: delete it to train from the start", e.what());
  }
  SHIFTAD_CHECK(f.metadata.count("format") && f.metadata.at("format") == kFormat,
                "'{}' is not a shiftad training checkpoint (format '{}'; expected '{}'); delete it to train from the "
                "start",
                path, f.metadata.count("format") ? f.metadata.at("format") : "", kFormat);
  return f;
}

/// What training changes in a module: trainable parameters and every buffer (BatchNorm
/// statistics). Frozen parameters are left out: they come from the pretrained weights
/// again when the run is resumed, and would make checkpoints as large as the backbone.
void addTrainingState(const torch::nn::Module& module, const std::string& prefix,
                      std::map<std::string, torch::Tensor>& out) {
  for (const auto& [name, t] : io::moduleStateDict(module)) out[prefix + name] = t;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    if (!item.value().requires_grad()) out.erase(prefix + item.key());
}

/// Load what addTrainingState saved; only frozen parameters may be missing.
void loadTrainingState(torch::nn::Module& module, const io::SafeTensorsFile& f, const std::string& prefix) {
  const auto report = io::loadIntoModule(module, f, prefix, /*strict=*/false);
  std::vector<std::string> problems = report.unexpected;
  problems.insert(problems.end(), report.mismatched.begin(), report.mismatched.end());
  const auto params = module.named_parameters(/*recurse=*/true);
  for (const auto& name : report.missing) {
    const auto* p = params.find(name);
    if (!p || p->requires_grad()) problems.push_back(name);
  }
  SHIFTAD_CHECK(problems.empty(),
                "checkpoint '{}' does not fit this model ({} tensors missing, unexpected or of "
                "another shape, e.g. '{}'); was the config changed? Delete it to train from the start",
                f.path, problems.size(), problems.front());
}

/// The checkpoint was written under `config` (checkpoints of earlier versions hold none).
void checkSameSettings(const io::SafeTensorsFile& f, const std::string& config) {
  const auto it = f.metadata.find(kConfigKey);
  if (config.empty() || it == f.metadata.end()) return;
  std::vector<std::string> changed;
  try {
    changed = changedSettings(parseConfig(it->second, {}, f.path), parseConfig(config));
  } catch (const Error& e) {
    SHIFTAD_THROW("checkpoint '{}': its config cannot be read ({}); damaged: delete it to train from the start", f.path,
                  e.what());
  }
  SHIFTAD_CHECK(changed.empty(),
                "checkpoint '{}' was written under other settings than the run's config.yaml now ({}): resuming "
                "would mix two runs. Restore those settings in config.yaml, or train anew (shiftad train --config "
                "FILE --out RUN --overwrite)",
                f.path, fmt::format("{}", fmt::join(changed, "; ")));
}

/// A resume that computes otherwise (other threads or ranks) goes on, saying it will not
/// end bit-identical (checkpoints of earlier versions record nothing).
void warnIfOtherArithmetic(const io::SafeTensorsFile& f, const std::string& now) {
  const auto it = f.metadata.find("arithmetic");
  if (it == f.metadata.end() || now.empty() || it->second == now) return;
  log::warn(
      "checkpoint '{}' was written with {}, and this resume runs with {}: floats round otherwise, so the run ends "
      "close to, not bit-identical with, an uninterrupted one (resume with the same --threads and ranks for that)",
      f.path, it->second, now);
}

}  // namespace

void saveCheckpoint(const std::string& path, const CheckpointParts& parts, const FitProgress& p) {
  std::map<std::string, torch::Tensor> tensors;
  addTrainingState(*parts.net, kNet, tensors);
  if (parts.discriminator) addTrainingState(*parts.discriminator, kDisc, tensors);
  tensors["center"] = *parts.center;
  tensors["optimizer"] = bytesTensor(optimizerBytes(*parts.optimizer));
  tensors["rng.trainer"] = parts.generator->get_state();
  // Earlier versions also saved and restored torch's global generator; training draws
  // nothing from it now (models::NetworkConstruction). Still written, so that they read
  // this file; never read back (restoring it would rewind a host's generator).
  tensors["rng.global"] = at::detail::getDefaultCPUGenerator().get_state();
  if (p.order.defined()) tensors["order"] = p.order;
  if (p.dominant.defined()) tensors["dominant"] = p.dominant;
  std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                 {"epoch", std::to_string(p.epoch)},
                                                 {"next_row", std::to_string(p.next_row)},
                                                 {"step_count", std::to_string(p.step_count)},
                                                 {"steps", std::to_string(p.steps)},
                                                 {"sum_loss", exact(p.sum_loss)},
                                                 {"sum_svdd", exact(p.sum_svdd)},
                                                 {"sum_align", exact(p.sum_align)},
                                                 {"seconds", exact(p.seconds)}};
  if (!parts.config.empty()) metadata[kConfigKey] = parts.config;
  if (!parts.arithmetic.empty()) metadata["arithmetic"] = parts.arithmetic;
  io::writeSafeTensors(path, tensors, metadata);
}

FitProgress loadCheckpoint(const std::string& path, const CheckpointParts& parts) {
  const auto f = readChecked(path);
  checkSameSettings(f, parts.config);
  warnIfOtherArithmetic(f, parts.arithmetic);
  FitProgress p;
  try {
    // The whole text must be the number ("1e3" is not epoch 1), in the C locale's form
    // in any host (std::stod read "0.5" as 0 in a German one).
    const auto whole = [&](const char* key, auto zero) {
      const auto& text = meta(f, key);
      if (const auto v = parseNumber<decltype(zero)>(text)) return *v;
      throw std::invalid_argument(fmt::format("{} = '{}'", key, text));
    };
    p.epoch = static_cast<int>(whole("epoch", 0LL));
    p.next_row = whole("next_row", 0LL);
    p.step_count = whole("step_count", 0LL);
    p.steps = static_cast<int>(whole("steps", 0LL));
    p.sum_loss = whole("sum_loss", 0.0);
    p.sum_svdd = whole("sum_svdd", 0.0);
    p.sum_align = whole("sum_align", 0.0);
    if (f.metadata.count("seconds")) p.seconds = whole("seconds", 0.0);  // a timing: not checked beyond parsing
    if (!(p.seconds >= 0 && std::isfinite(p.seconds))) p.seconds = 0;
  } catch (const std::logic_error& e) {  // not a number
    SHIFTAD_THROW("checkpoint '{}': malformed progress metadata ({}); delete it to train from the start", path,
                  e.what());
  }
  SHIFTAD_CHECK(p.epoch >= 1 && p.next_row >= 0 && p.step_count >= 0 && p.steps >= 0 && std::isfinite(p.sum_loss) &&
                    std::isfinite(p.sum_svdd) && std::isfinite(p.sum_align),
                "checkpoint '{}': impossible progress (epoch {}, next_row {}, steps {}, step_count {}, loss sum {}); "
                "damaged: delete it to train from the start",
                path, p.epoch, p.next_row, p.steps, p.step_count, p.sum_loss);
  if (f.tensors.count("order")) p.order = f.tensors.at("order");
  if (f.tensors.count("dominant")) p.dominant = f.tensors.at("dominant");
  // The loads check names, shapes and finiteness before copying anything.
  loadTrainingState(*parts.net, f, kNet);
  if (parts.discriminator) loadTrainingState(*parts.discriminator, f, kDisc);
  const auto& center = required(f, "center");
  SHIFTAD_CHECK(center.dim() == 1 && (!parts.center->defined() || center.sizes() == parts.center->sizes()),
                "checkpoint '{}': the center ({}-D, {} entries) does not match F's output", path, center.dim(),
                center.numel());
  *parts.center = io::exactly(f, "center", torch::kFloat).clone();
  const auto& optimizer = required(f, "optimizer");
  const auto& rng_trainer = required(f, "rng.trainer");
  // LibTorch's own readers fail with their own words ("PytorchStreamReader failed...",
  // "Invalid mt19937 state"), which name neither the file nor what to do.
  try {
    loadOptimizer(*parts.optimizer, tensorBytes(optimizer));
    parts.generator->set_state(rng_trainer);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    SHIFTAD_THROW(
        "checkpoint '{}': its optimizer or generator state cannot be read ({}); damaged: delete it to "
        "train from the start",
        path, e.what());
  }
  return p;
}

double checkpointSeconds(const std::string& path) {
  const auto f = readChecked(path);
  const auto it = f.metadata.find("seconds");
  const auto v = it == f.metadata.end() ? std::nullopt : parseNumber<double>(it->second);
  return v && *v >= 0 && std::isfinite(*v) ? *v : 0.0;
}

int checkpointEpoch(const std::string& path, const std::string& config) {
  const auto f = readChecked(path);
  checkSameSettings(f, config);
  const auto& text = meta(f, "epoch");
  try {
    const int epoch = numberIn<int>(text);
    if (epoch >= 1) return epoch;
  } catch (const std::logic_error&) {
  }
  SHIFTAD_THROW("checkpoint '{}': its epoch '{}' is not a positive integer; damaged: delete it to train from the start",
                path, text);
}

}  // namespace shiftad::training
