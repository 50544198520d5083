// `shiftad check-data`: what is wrong with a data set before any training is spent on it.
#include "lab/CheckData.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "api/RunDir.h"
#include "api/SkipLimit.h"
#include "common/CacheTrim.h"
#include "common/Error.h"
#include "common/ParallelFor.h"
#include "common/Progress.h"
#include "data/ConfigSplit.h"
#include "data/FileCheck.h"
#include "data/ImageFolder.h"
#include "data/Protocol.h"
#include "shiftad/Lab.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

/// The split of `cfg` on the files found, or nullopt with the reason in r.protocol_problems.
std::optional<data::ProtocolSplit> splitOf(const Config& cfg, DataCheckReport& r) {
  try {
    return data::splitAllowingLeaks(cfg.data);
  } catch (const Error& e) {
    // An unreadable folder, or a class without images, is already listed by the walk
    // over the root (it was listed twice).
    const bool said = dynamic_cast<const data::EmptyClassError*>(&e) != nullptr ||
                      std::find(r.problems.begin(), r.problems.end(), e.what()) != r.problems.end();
    const std::string why = e.what();
    r.protocol_problems.push_back(said ? "the data's problem above: " + why : why);
    return std::nullopt;
  }
}

/// The files `train` reads besides the data: a missing one made "can run" false.
void checkModelFiles(const Config& cfg, std::vector<std::string>& problems) {
  const auto check = [&](const char* key, const std::string& path) {
    std::error_code ec;
    if (!path.empty() && !fs::is_regular_file(path, ec))
      problems.push_back(
          fmt::format("{} '{}' does not exist or is not a regular file; train would refuse it", key, path));
  };
  check("model.weights", cfg.model.weights);
  if (cfg.encoder.type == EncoderType::kTorchScript) check("encoder.path", cfg.encoder.path);
}

/// What `train` and `eval` refuse in the sets of `split`: too few readable images, or
/// more unreadable ones than data.max_skipped allows (api/SkipLimit.h).
void checkImageCounts(const Config& cfg, const DataCheckReport& r, const data::ProtocolSplit& split,
                      std::vector<std::string>& problems) {
  std::set<std::string> bad;
  for (const auto& u : r.unreadable) bad.insert(u.substr(0, u.find(": ")));
  const auto readable = [&](const std::vector<std::string>& paths) {
    return static_cast<size_t>(
        std::count_if(paths.begin(), paths.end(), [&](const std::string& p) { return !bad.count(p); }));
  };
  const auto skips = [&](const std::vector<std::string>& paths, const char* what) {
    const size_t n = paths.size(), bad_n = n - readable(paths), allowed = api::allowedSkips(cfg.data.max_skipped, n);
    if (bad_n < n && bad_n > allowed)
      problems.push_back(
          fmt::format("{} of {} {} images cannot be read, more than data.max_skipped = {} allows ({}); "
                      "repair or remove them (listed above) or raise data.max_skipped",
                      bad_n, n, what, cfg.data.max_skipped, allowed));
  };
  if (readable(split.train.source) < 2)
    problems.push_back(fmt::format(
        "normal class '{}' has {} readable source image(s) in '{}'; training needs at least 2", cfg.data.normal_class,
        readable(split.train.source), (fs::path(cfg.data.root) / cfg.data.source / cfg.data.normal_class).string()));
  if (aligns(cfg) && readable(split.train.pool) < 2)
    problems.push_back(
        fmt::format("the target pool of '{}' has {} readable image(s); alignment needs at least 2 "
                    "(raise data.pool_fraction, or add target images)",
                    cfg.data.target, readable(split.train.pool)));
  // An unlabeled pool (data.pool_images) has no test split unless data.test_images gives one.
  if ((split.pool_labelled || !cfg.data.test_images.empty()) && readable(split.test.paths) == 0)
    problems.push_back(fmt::format("the test split of '{}' has no readable image",
                                   cfg.data.test_images.empty() ? cfg.data.target : cfg.data.test_images));
  skips(split.train.source, "source");
  if (aligns(cfg)) skips(split.train.pool, "pool");
  skips(split.test.paths, "test");
}

/// Leaks of the test split into training: the same file on both sides (also refused by
/// `train`), and byte-identical copies (found only here: they need every file hashed).
void checkLeaks(const Config& cfg, DataCheckReport& r, const data::ProtocolSplit& split) {
  if (split.test.paths.empty()) return;  // an unlabeled pool alone: no test split
  if (const auto leak = data::leakProblem(split, cfg.data.source, cfg.data.target, cfg.data.test_images); !leak.empty())
    r.protocol_problems.push_back(leak);  // train refuses it; byte copies it cannot see
  auto& leaks = r.split_leaks;
  std::set<std::string> training(split.train.source.begin(), split.train.source.end());
  training.insert(split.train.pool.begin(), split.train.pool.end());
  const std::set<std::string> test(split.test.paths.begin(), split.test.paths.end());
  const auto any = [](const std::vector<std::string>& group, const std::set<std::string>& set) {
    return std::any_of(group.begin(), group.end(), [&](const std::string& p) { return set.count(p) > 0; });
  };
  for (const auto& group : r.duplicates)
    if (any(group, training) && any(group, test)) leaks.push_back(group);
  if (!leaks.empty())
    r.problems.push_back(
        fmt::format("{} group(s) of byte-identical images lie both in the test split and in training "
                    "(source or pool), e.g. '{}': the test split leaks into training and the AUROC "
                    "would be inflated; remove the copies listed above",
                    leaks.size(), leaks.front().front()));
}

/// The split of `cfg` on the files found: why it cannot run, and leaks of the test split
/// into training.
void checkProtocol(const Config& cfg, DataCheckReport& r) {
  checkModelFiles(cfg, r.protocol_problems);
  const auto split = splitOf(cfg, r);
  if (!split) return;
  checkImageCounts(cfg, r, *split, r.protocol_problems);
  checkLeaks(cfg, r, *split);
}

/// The groups of `duplicates` whose images lie in two or more classes of one domain
/// (`class_of`: each image's DOMAIN/CLASS), and the problem they make.
void checkLabelConflicts(DataCheckReport& r,
                         const std::map<std::string, std::pair<std::string, std::string>>& class_of) {
  for (const auto& group : r.duplicates) {
    std::map<std::string, std::set<std::string>> classes_by_domain;
    for (const auto& p : group) classes_by_domain[class_of.at(p).first].insert(class_of.at(p).second);
    if (std::any_of(classes_by_domain.begin(), classes_by_domain.end(),
                    [](const auto& d) { return d.second.size() > 1; }))
      r.label_conflicts.push_back(group);
  }
  if (!r.label_conflicts.empty())
    r.problems.push_back(fmt::format(
        "{} group(s) of byte-identical images lie in two or more classes of one domain, e.g. '{}': with either "
        "class as the normal one the same image is also an anomaly of the test split; keep the copy whose class "
        "is right and remove the others (listed above)",
        r.label_conflicts.size(), r.label_conflicts.front().front()));
}

/// The readable images found so far, by content and by class.
struct Contents {
  std::map<std::pair<uint64_t, size_t>, std::vector<std::string>> by_content;  ///< (hash, size) -> files
  std::map<std::string, std::pair<std::string, std::string>> class_of;         ///< file -> (domain, class)
};

/// One file of class folder `c`, `check`ed when it is an image: counted as a non-image,
/// an unreadable image, or a readable one, whose content goes to `contents`.
void countFile(const std::string& file, const ImageFileCheck& check, DataCheckClass& c, DataCheckReport& r,
               Contents& contents) {
  if (!data::hasImageExtension(file)) {
    ++c.non_images;
    r.non_images.push_back(file);
    return;
  }
  ++c.images;
  if (!check.problem.empty()) {
    ++c.unreadable;
    r.unreadable.push_back(file + ": " + check.problem);
    return;  // not a duplicate: two empty files, say, are the same bytes but no image
  }
  contents.by_content[{check.content_hash, check.bytes}].push_back(file);
  contents.class_of[file] = {c.domain, c.cls};
}

/// A class folder and its files, all listed before any is read: the progress of the
/// reads needs their total.
struct ClassFiles {
  DataCheckClass c;
  std::vector<std::string> files;
  bool unlisted = false;  ///< its folder could not be listed (said in problems already)
};

/// checkImageFile of every image among the files of `classes`, in their order, on
/// `threads` threads (0: all cores): decoding is the cost, and images are independent.
std::vector<ImageFileCheck> checkImages(const std::vector<ClassFiles>& classes, int threads, Progress& progress) {
  std::vector<const std::string*> files;
  for (const auto& c : classes)
    for (const auto& f : c.files) files.push_back(&f);
  std::vector<ImageFileCheck> checks(files.size());
  parallelFor(files.size(), threads, [&](size_t i) {  // checkImageFile catches what it meets
    if (data::hasImageExtension(*files[i])) checks[i] = checkImageFile(*files[i]);
    progress.advance();
  });
  return checks;
}

/// Every ROOT/DOMAIN/CLASS folder and its files; a folder that cannot be read is a
/// problem of its own, and the rest is still listed.
std::vector<ClassFiles> listClasses(const std::string& root, DataCheckReport& r) {
  const auto listed = [&](const std::function<std::vector<std::string>()>& list) {
    try {
      return list();
    } catch (const Error& e) {
      r.problems.push_back(e.what());
      return std::vector<std::string>{};
    }
  };
  std::vector<ClassFiles> out;
  const auto imagesIn = [&](const std::string& dir) {
    const auto images = data::imagesBesideFolders(dir);
    r.outside_classes.insert(r.outside_classes.end(), images.begin(), images.end());
  };
  // shiftad's own run folders and caches kept beside the data are not domains or classes.
  const auto isOutput = [&](const std::string& dir) {
    const bool output = api::isShiftadRunFolder(dir) || isCacheFolder(dir);
    if (output) r.shiftad_outputs.push_back(dir);
    return output;
  };
  imagesIn(root);
  for (const auto& domain : listed([&] { return data::subfolders(root, &r.hidden, &r.problems); })) {
    const auto domain_dir = (fs::path(root) / domain).string();
    if (isOutput(domain_dir)) continue;
    imagesIn(domain_dir);
    const size_t problems_before = r.problems.size();
    auto classes = listed([&] { return data::subfolders(domain_dir, &r.hidden, &r.problems); });
    const size_t listed_classes = classes.size();
    classes.erase(
        std::remove_if(classes.begin(), classes.end(),
                       [&](const std::string& cls) { return isOutput((fs::path(domain_dir) / cls).string()); }),
        classes.end());
    // A folder of runs (ROOT/runs/a, ROOT/runs/b) holds outputs only: not an empty domain.
    if (listed_classes == 0 && r.problems.size() == problems_before) r.empty_domains.push_back(domain_dir);
    for (const auto& cls : classes) {
      const size_t before = r.problems.size();
      auto files = listed([&] { return data::filesBelow((fs::path(domain_dir) / cls).string(), &r.hidden); });
      out.push_back({DataCheckClass{domain, cls}, std::move(files), r.problems.size() > before});
    }
  }
  std::sort(r.hidden.begin(), r.hidden.end());  // hidden domains and classes among the files
  return out;
}

}  // namespace

DataCheckReport checkData(const std::string& root, const Config* protocol, int threads) {
  return checkData(root, protocol, defaultProgressOptions(), threads);
}

DataCheckReport checkData(const std::string& root, const Config* protocol, const ProgressOptions& progress_options,
                          int threads) {
  std::error_code ec;  // a link loop as the root is "not a folder", not a filesystem exception
  SHIFTAD_CHECK(fs::is_directory(root, ec), "data root '{}' is not a folder (expected ROOT/DOMAIN/CLASS/image){}", root,
                ec ? ": " + ec.message() : "");
  DataCheckReport r;
  Contents contents;
  std::vector<std::string> empty;  // DOMAIN/CLASS folders listed without an image
  auto classes = listClasses(root, r);
  size_t total = 0;
  for (const auto& c : classes) total += c.files.size();
  // Every file is read (and every image decoded): minutes on a million images.
  Progress progress("checking files", static_cast<int64_t>(total), progress_options);
  const auto checks = checkImages(classes, threads, progress);
  size_t i = 0;
  for (auto& [c, files, unlisted] : classes) {
    for (const auto& file : files) countFile(file, checks[i++], c, r, contents);
    if (c.images == 0 && !unlisted) empty.push_back(c.domain + "/" + c.cls);  // unlisted: said already
    r.classes.push_back(c);
  }
  progress.finish();
  std::sort(r.outside_classes.begin(), r.outside_classes.end());
  for (auto& [key, paths] : contents.by_content)
    if (paths.size() > 1) r.duplicates.push_back(paths);
  checkLabelConflicts(r, contents.class_of);
  if (r.classes.empty()) r.problems.push_back(fmt::format("'{}' holds no DOMAIN/CLASS folder", root));
  // Training on a domain refuses a class folder without images: said here too, with a
  // count, not found one folder at a time.
  if (!empty.empty())
    r.problems.push_back(
        fmt::format("{} class folder(s) hold no image (.jpg, .jpeg, .png, .bmp), e.g. '{}': a domain "
                    "with such a class cannot be trained on; add images or remove the folders",
                    empty.size(), empty.front()));
  if (protocol) {
    Config cfg = *protocol;
    cfg.data.root = root;
    r.protocol_checked = true;
    checkProtocol(cfg, r);
  }
  return r;
}

}  // namespace shiftad
