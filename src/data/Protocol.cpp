#include "data/Protocol.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>

#include <sys/stat.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/Error.h"
#include "common/Log.h"
#include "data/ImageFolder.h"

namespace shiftad::data {
namespace {

// Uniform integer in [0, n) by rejection: std::uniform_int_distribution and
// std::shuffle are implementation-defined, std::mt19937_64's output is not, so this
// keeps splits identical across standard libraries.
uint64_t below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // largest multiple of n
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(rng, i)]);
}

using ByClass = std::map<std::string, std::vector<std::string>>;  // ordered: deterministic

ByClass groupByClass(const std::vector<ImageRecord>& records) {
  ByClass out;
  for (const ImageRecord& r : records) out[r.cls].push_back(r.path);
  for (auto& [cls, paths] : out) std::sort(paths.begin(), paths.end());  // input order must not matter
  return out;
}

/// Whether `s` holds a combining diacritical mark (U+0300 to U+036F, UTF-8 CC 80 to CD AF):
/// a name in decomposed form (NFD, as macOS writes folder names).
bool hasCombiningMark(const std::string& s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const auto a = static_cast<unsigned char>(s[i]), b = static_cast<unsigned char>(s[i + 1]);
    if ((a == 0xCC && b >= 0x80 && b <= 0xBF) || (a == 0xCD && b >= 0x80 && b <= 0xAF)) return true;
  }
  return false;
}

std::string lowerAscii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The class names found, quoted (a trailing blank shows), and what makes a name that
/// looks like `wanted` another: blanks, case, or decomposed accents.
std::string classNames(const ByClass& by_class, const std::string& wanted) {
  std::vector<std::string> names;
  std::string hint;
  const auto trimmed = [](const std::string& s) {
    const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  for (const auto& kv : by_class) {
    names.push_back("'" + kv.first + "'");
    if (!hint.empty() || kv.first == wanted) continue;
    if (trimmed(kv.first) == trimmed(wanted))
      hint = fmt::format(" ('{}' differs from it in blanks only)", kv.first);
    else if (lowerAscii(kv.first) == lowerAscii(wanted))
      hint = fmt::format(" ('{}' differs from it in case only)", kv.first);
  }
  if (hint.empty() && std::any_of(by_class.begin(), by_class.end(), [&](const auto& kv) {
        return hasCombiningMark(kv.first) != hasCombiningMark(wanted);
      }))
    hint =
        " (accents are written as separate marks in some of these names and not in the other, as macOS and Linux "
        "write them: names that look alike differ; copy the folder's name from a listing)";
  return names.empty() ? std::string("(none)") : fmt::format("{}{}", fmt::join(names, ", "), hint);
}

void checkParams(const ProtocolParams& p) {
  SHIFTAD_CHECK(!p.normal_class.empty(), "data.normal_class is empty: set it to one class folder name");
  SHIFTAD_CHECK(p.pool_fraction > 0.0 && p.pool_fraction < 1.0,
                "data.pool_fraction = {} is outside (0, 1): it is the per-class share of target images "
                "offered to the pool, the rest being the test split",
                p.pool_fraction);
  SHIFTAD_CHECK(p.contamination >= 0.0 && p.contamination < 1.0,
                "data.contamination = {} is outside [0, 1): it is the fraction of anomalies in the pool",
                p.contamination);
}

// Anomalies needed so that n_anom / (n_norm + n_anom) ~= contamination.
size_t anomaliesFor(size_t n_norm, double contamination) {
  return static_cast<size_t>(std::llround(contamination * static_cast<double>(n_norm) / (1.0 - contamination)));
}

void append(LabelledImages& set, const std::vector<std::string>& paths, int is_anomaly) {
  set.paths.insert(set.paths.end(), paths.begin(), paths.end());
  set.is_anomaly.insert(set.is_anomaly.end(), paths.size(), is_anomaly);
}

// Pool: every normal image of the pool share plus `anomalies`, shuffled so that the
// order of train.pool leaks no label.
void buildPool(ProtocolSplit& split, const std::vector<std::string>& normals, const std::vector<std::string>& anomalies,
               std::mt19937_64& rng) {
  LabelledImages pool;
  append(pool, normals, 0);
  append(pool, anomalies, 1);
  std::vector<size_t> order(pool.paths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  shuffle(order, rng);
  for (size_t i : order) {
    split.pool_truth.paths.push_back(pool.paths[i]);
    split.pool_truth.is_anomaly.push_back(pool.is_anomaly[i]);
  }
  split.train.pool = split.pool_truth.paths;
}

// What no data.pool_fraction can fix: the normal class missing from a domain, a target
// normal class of one image (it cannot be in the pool and the test split), no anomaly class.
void checkClasses(const ByClass& source, const ByClass& target, const std::string& normal) {
  // A folder named '.x' or lost+found exists but is never listed: saying so spares a search.
  const std::string why = isHiddenName(normal) ? " (a hidden folder: names starting with '.', and system folders "
                                                 "such as __MACOSX and lost+found, are never read)"
                                               : "";
  SHIFTAD_CHECK(source.count(normal), "data.normal_class '{}' is not a class of the source domain; classes found: {}{}",
                normal, classNames(source, normal), why);
  SHIFTAD_CHECK(target.count(normal), "data.normal_class '{}' is not a class of the target domain; classes found: {}{}",
                normal, classNames(target, normal), why);
  SHIFTAD_CHECK(target.at(normal).size() >= 2,
                "class '{}' has {} target image; the protocol needs at least 2 (one for the pool, one for the test "
                "split): add target images of the class",
                normal, target.at(normal).size());
  SHIFTAD_CHECK(target.size() >= 2,
                "the target domain holds only class '{}': one-vs-all testing needs other classes as anomalies; add "
                "anomaly classes to the target domain",
                normal);
}

}  // namespace

LabelledImages labelledImages(const std::vector<ImageRecord>& images, const std::string& normal_class,
                              const std::string& where) {
  const ByClass classes = groupByClass(images);
  SHIFTAD_CHECK(classes.count(normal_class),
                "{} has no folder of the normal class '{}': its class folders are {}; put the normal test images in "
                "{}/{}",
                where, normal_class, classNames(classes, normal_class), where, normal_class);
  SHIFTAD_CHECK(classes.size() >= 2,
                "{} holds only the normal class '{}': a test split needs anomalies too; put them in folders of "
                "other classes beside it ({}/ANOMALY_CLASS/)",
                where, normal_class, where);
  LabelledImages out;
  for (const auto& r : images) {
    out.paths.push_back(r.path);
    out.is_anomaly.push_back(r.cls == normal_class ? 0 : 1);
  }
  return out;
}

ProtocolSplit unlabeledSplit(const std::vector<ImageRecord>& source_domain, std::vector<std::string> pool,
                             const std::string& normal_class) {
  const ByClass source = groupByClass(source_domain);
  SHIFTAD_CHECK(source.count(normal_class),
                "data.normal_class '{}' is not a class of the source domain; classes found: {}", normal_class,
                classNames(source, normal_class));
  SHIFTAD_CHECK(!pool.empty(), "data.pool_images names no image: the unlabeled pool would be empty");
  ProtocolSplit split;
  split.train.source = source.at(normal_class);
  std::sort(pool.begin(), pool.end());
  split.train.pool = std::move(pool);
  split.pool_labelled = false;
  return split;
}

ProtocolSplit makeSplit(const std::vector<ImageRecord>& source_domain, const std::vector<ImageRecord>& target_domain,
                        const ProtocolParams& params) {
  checkParams(params);
  const std::string& normal = params.normal_class;
  const ByClass source = groupByClass(source_domain);
  ByClass target = groupByClass(target_domain);
  checkClasses(source, target, normal);

  ProtocolSplit split;
  split.train.source = source.at(normal);

  // Per class (in name order, one seeded stream): shuffle, the first
  // round(pool_fraction * n) go to the pool share, the rest to the test split.
  std::mt19937_64 rng(static_cast<uint64_t>(static_cast<int64_t>(params.seed)));
  std::vector<std::string> pool_normals, pool_anomalies;
  for (auto& [cls, paths] : target) {
    shuffle(paths, rng);
    const auto n_pool = static_cast<size_t>(std::llround(params.pool_fraction * static_cast<double>(paths.size())));
    const bool anomalous = cls != normal;
    std::vector<std::string>& share = anomalous ? pool_anomalies : pool_normals;
    share.insert(share.end(), paths.begin(), paths.begin() + n_pool);
    append(split.test, std::vector<std::string>(paths.begin() + n_pool, paths.end()), anomalous ? 1 : 0);
  }

  const size_t n_norm = pool_normals.size();
  SHIFTAD_CHECK(n_norm > 0,
                "the target pool would be empty: class '{}' has {} target image(s) and "
                "data.pool_fraction = {} gives the pool none; add images or raise data.pool_fraction",
                normal, target.at(normal).size(), params.pool_fraction);
  const size_t n_test_normal = target.at(normal).size() - n_norm;
  SHIFTAD_CHECK(n_test_normal > 0,
                "the target test split would hold no image of class '{}' ({} target image(s), "
                "data.pool_fraction = {}); add images or lower data.pool_fraction",
                normal, target.at(normal).size(), params.pool_fraction);
  SHIFTAD_CHECK(split.test.paths.size() > n_test_normal,
                "the target test split would hold no anomaly: the target domain has no class besides '{}' with "
                "images left for testing (classes: {}); add anomaly classes or lower data.pool_fraction",
                normal, classNames(target, normal));

  // Anomalies: a seeded sample of the anomalous pool shares of all classes.
  const size_t wanted = anomaliesFor(n_norm, params.contamination);
  if (wanted > pool_anomalies.size()) {
    log::warn(
        "protocol: contamination {} asks for {} anomalies in the pool but only {} are available; "
        "the pool's contamination is {:.3f} instead",
        params.contamination, wanted, pool_anomalies.size(),
        static_cast<double>(pool_anomalies.size()) / static_cast<double>(n_norm + pool_anomalies.size()));
  }
  shuffle(pool_anomalies, rng);
  pool_anomalies.resize(std::min(wanted, pool_anomalies.size()));
  buildPool(split, pool_normals, pool_anomalies, rng);
  return split;
}

namespace {

/// The identity of the file at `path`: device and inode, or the path itself when it
/// cannot be stat'ed (the loaders will report it as unreadable).
std::string fileIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "path:" + path;
  return fmt::format("inode:{}:{}", static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
}

}  // namespace

std::vector<SharedFile> sharedFiles(const ProtocolSplit& split) {
  std::map<std::string, std::string> training;  // identity -> a training path
  for (const auto* set : {&split.train.source, &split.train.pool})
    for (const std::string& path : *set) training.emplace(fileIdentity(path), path);
  std::vector<SharedFile> out;
  for (const std::string& path : split.test.paths)
    if (const auto it = training.find(fileIdentity(path)); it != training.end()) out.push_back({path, it->second});
  return out;
}

bool sameDomainName(const std::string& a, const std::string& b) {
  const auto spelled = [](std::string d) {
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return std::filesystem::path(d).lexically_normal();
  };
  return spelled(a) == spelled(b);
}

std::string leakProblem(const ProtocolSplit& split, const std::string& source, const std::string& target,
                        const std::string& test_images) {
  if (test_images.empty() && sameDomainName(source, target))
    return fmt::format(
        "data.source and data.target are both '{}': the test split would be drawn from the training "
        "images and the AUROC would be inflated; name two different domains",
        source);
  const std::vector<SharedFile> shared = sharedFiles(split);
  if (shared.empty()) return "";
  return fmt::format(
      "{} test image(s) of {} are also training images (the same file under "
      "data.source '{}' or in the pool, through a symlink or a hard link), e.g. '{}' is '{}'; the "
      "AUROC would be inflated. Replace the links by distinct images or remove them",
      shared.size(), test_images.empty() ? "data.target '" + target + "'" : "data.test_images '" + test_images + "'",
      source, shared.front().test, shared.front().training);
}

}  // namespace shiftad::data
