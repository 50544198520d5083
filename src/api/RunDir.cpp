#include "api/RunDir.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/SafeTensors.h"

namespace fs = std::filesystem;

namespace shiftad::api {
std::string readText(const std::string& path) {
  std::ifstream f(path);
  SHIFTAD_CHECK(f.good(), "cannot read '{}'", path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

namespace {

void checkFiles(const std::string& run_dir, std::initializer_list<const char*> names) {
  SHIFTAD_CHECK(fs::is_directory(run_dir), "run directory '{}' does not exist (train one with `shiftad train`)",
                run_dir);
  for (const char* name : names)
    SHIFTAD_CHECK(fs::exists(fs::path(run_dir) / name),
                  "run directory '{}' has no {} (incomplete or not a shiftad run; train again)", run_dir, name);
}

}  // namespace

void writeTextAtomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    SHIFTAD_CHECK(f.good(), "cannot write '{}' (disk full or no permission?)", tmp);
  }
  fs::rename(tmp, path);
}

void writePathList(const std::string& path, const std::vector<std::string>& paths) {
  std::string text;
  for (const auto& p : paths) text += p + "\n";
  writeTextAtomic(path, text);
}

void keepMetricsBefore(const std::string& run_dir, int epoch) {
  const auto path = (fs::path(run_dir) / kMetricsFile).string();
  if (!fs::exists(path)) return;
  std::ifstream f(path);
  std::string kept;
  for (std::string line; std::getline(f, line);) {
    // A line cut by a kill is not JSON: dropped like the ones after the checkpoint.
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer() && j["epoch"].get<int>() < epoch)
      kept += line + "\n";
  }
  writeTextAtomic(path, kept);
}

void saveRun(const std::string& run_dir, const Config& cfg, training::Trainer& trainer) {
  fs::create_directories(run_dir);
  writeTextAtomic((fs::path(run_dir) / kConfigFile).string(), dumpConfig(cfg));
  auto metadata = trainer.net().describe();
  metadata["format"] = "shiftad";
  metadata["arch"] = cfg.model.arch;
  io::writeSafeTensors((fs::path(run_dir) / kModelFile).string(), io::moduleStateDict(trainer.net()), metadata);
  io::writeSafeTensors((fs::path(run_dir) / kCenterFile).string(), {{"center", trainer.center()}},
                       {{"format", "shiftad"}});
}

void saveFrozenRun(const std::string& run_dir, const Config& cfg, const models::FrozenScorer& scorer) {
  fs::create_directories(run_dir);
  writeTextAtomic((fs::path(run_dir) / kConfigFile).string(), dumpConfig(cfg));
  io::writeSafeTensors((fs::path(run_dir) / kReferenceFile).string(), {{"reference", scorer.reference.contiguous()}},
                       {{"format", "shiftad"}, {"k", std::to_string(scorer.k)}});
}

Config loadRunConfig(const std::string& run_dir) {
  checkFiles(run_dir, {kConfigFile});
  const auto path = (fs::path(run_dir) / kConfigFile).string();
  return parseConfig(readText(path), {}, path);
}

LoadedRun loadRun(const std::string& run_dir) {
  LoadedRun run{loadRunConfig(run_dir), nullptr, std::nullopt};
  if (run.cfg.score.method != "svdd") {
    checkFiles(run_dir, {kReferenceFile});
    const auto path = (fs::path(run_dir) / kReferenceFile).string();
    const auto file = io::readSafeTensors(path);
    const auto it = file.tensors.find("reference");
    SHIFTAD_CHECK(it != file.tensors.end() && it->second.dim() == 2 && it->second.size(0) > 0,
                  "'{}': expected a non-empty 2-D tensor 'reference'", path);
    const auto k = file.metadata.count("k") ? std::stoi(file.metadata.at("k")) : 1;
    run.frozen = models::FrozenScorer{it->second.to(torch::kFloat), k};
    return run;
  }
  checkFiles(run_dir, {kModelFile, kCenterFile});
  auto net = models::loadFeatureExtractor(run.cfg.model, io::readSafeTensors((fs::path(run_dir) / kModelFile).string()));
  run.trainer = std::make_unique<training::Trainer>(run.cfg, net);
  const auto center = io::readSafeTensors((fs::path(run_dir) / kCenterFile).string());
  const auto it = center.tensors.find("center");
  SHIFTAD_CHECK(it != center.tensors.end() && it->second.dim() == 1 && it->second.size(0) == net->embeddingDim(),
                "'{}/{}': expected a tensor 'center' of size {}", run_dir, kCenterFile, net->embeddingDim());
  run.trainer->setCenter(it->second.to(torch::kFloat));
  return run;
}

}  // namespace shiftad::api
