// `shiftad check-data`: what is wrong with a data set before any training is spent on it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "common/Error.h"
#include "data/FileCheck.h"
#include "data/ImageFolder.h"
#include "data/ImageTensors.h"
#include "data/Protocol.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

std::vector<fs::path> sortedDirs(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && !hidden(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> sortedFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string readBytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// "" if the image decodes and is complete (as the loaders check it), else why not.
std::string imageProblem(const fs::path& p) {
  try {
    data::readImage(p.string());
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// The split of `cfg` on the files found: leaks of the test split into training (source
/// or pool), and why it cannot run.
void checkProtocol(const Config& cfg, const DataCheckReport& r, std::vector<std::string>& problems,
                   std::vector<std::vector<std::string>>& leaks) {
  data::ProtocolSplit split;
  try {
    SHIFTAD_CHECK(!cfg.data.source.empty() && !cfg.data.target.empty() && !cfg.data.normal_class.empty(),
                  "the config must name data.source, data.target and data.normal_class");
    data::ProtocolParams p;
    p.normal_class = cfg.data.normal_class;
    p.pool_fraction = cfg.data.pool_fraction;
    p.contamination = cfg.data.contamination;
    p.seed = cfg.data.split_seed;
    split = data::makeSplit(data::listDomain(cfg.data.root, cfg.data.source),
                            data::listDomain(cfg.data.root, cfg.data.target), p);
  } catch (const Error& e) {
    problems.push_back(e.what());
    return;
  }
  std::set<std::string> bad;
  for (const auto& u : r.unreadable) bad.insert(u.substr(0, u.find(": ")));
  const auto readable = [&](const std::vector<std::string>& paths) {
    return std::count_if(paths.begin(), paths.end(), [&](const std::string& p) { return !bad.count(p); });
  };
  if (readable(split.train.source) == 0)
    problems.push_back(fmt::format("normal class '{}' has no readable source image in '{}'", cfg.data.normal_class,
                                   cfg.data.source));
  if (readable(split.train.pool) == 0)
    problems.push_back(fmt::format("the target pool of '{}' has no readable image", cfg.data.target));
  if (readable(split.test.paths) == 0)
    problems.push_back(fmt::format("the test split of '{}' has no readable image", cfg.data.target));
  // Leaks: the same file on both sides (also refused by `train`), and byte-identical
  // copies (found only here: they need every file hashed).
  if (const auto leak = data::leakProblem(split, cfg.data.source, cfg.data.target); !leak.empty())
    problems.push_back(leak);
  std::set<std::string> training(split.train.source.begin(), split.train.source.end());
  training.insert(split.train.pool.begin(), split.train.pool.end());
  const std::set<std::string> test(split.test.paths.begin(), split.test.paths.end());
  const auto any = [](const std::vector<std::string>& group, const std::set<std::string>& set) {
    return std::any_of(group.begin(), group.end(), [&](const std::string& p) { return set.count(p) > 0; });
  };
  for (const auto& group : r.duplicates)
    if (any(group, training) && any(group, test)) leaks.push_back(group);
  if (!leaks.empty())
    problems.push_back(fmt::format("{} group(s) of byte-identical images lie both in the test split and in training "
                                   "(source or pool), e.g. '{}': the test split leaks into training and the AUROC "
                                   "would be inflated; remove the copies listed above",
                                   leaks.size(), leaks.front().front()));
}

}  // namespace

DataCheckReport checkData(const std::string& root, const Config* protocol) {
  SHIFTAD_CHECK(fs::is_directory(root), "data root '{}' is not a folder (expected ROOT/DOMAIN/CLASS/image)", root);
  DataCheckReport r;
  std::map<std::pair<uint64_t, size_t>, std::vector<std::string>> by_content;
  for (const auto& domain : sortedDirs(root)) {
    for (const auto& cls : sortedDirs(domain)) {
      DataCheckClass c{domain.filename().string(), cls.filename().string()};
      for (const auto& file : sortedFiles(cls)) {
        if (!data::hasImageExtension(file.string())) {
          ++c.non_images;
          r.non_images.push_back(file.string());
          continue;
        }
        ++c.images;
        const std::string bytes = readBytes(file);
        if (const auto why = imageProblem(file); !why.empty()) {
          ++c.unreadable;
          r.unreadable.push_back(file.string() + ": " + why);
        }
        by_content[{data::contentHash(bytes), bytes.size()}].push_back(file.string());
      }
      r.classes.push_back(c);
    }
  }
  for (auto& [key, paths] : by_content)
    if (paths.size() > 1) r.duplicates.push_back(paths);
  if (r.classes.empty()) r.problems.push_back(fmt::format("'{}' holds no DOMAIN/CLASS folder", root));
  if (protocol) {
    Config cfg = *protocol;
    cfg.data.root = root;
    r.protocol_checked = true;
    checkProtocol(cfg, r, r.problems, r.split_leaks);
  }
  return r;
}

}  // namespace shiftad
