#include "config/Suite.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/Error.h"
#include "common/NearestName.h"
#include "common/TextFile.h"
#include "config/YamlChecks.h"
#include "shiftad/Config.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

const std::vector<std::string> kKeys = {"suite",           "description", "root",     "directions",
                                        "classes",         "seeds",       "variants", "config",
                                        "model_selection", "recommended", "quick"};

template <typename T>
std::vector<T> list(const YAML::Node& n, const std::string& key, const std::string& origin) {
  SHIFTAD_CHECK(n.IsSequence(), "{}: '{}' must be a list", origin, key);
  std::vector<T> out;
  try {
    for (const auto& e : n) out.push_back(e.as<T>());
  } catch (const YAML::Exception& e) {
    SHIFTAD_THROW("{}: '{}' has an entry of the wrong type ({}): each entry must be {}", origin, key, e.msg,
                  std::is_same_v<T, int>           ? "a whole number"
                  : std::is_same_v<T, std::string> ? "a name"
                                                   : "a list [source, target]");
  }
  return out;
}

/// The text of a key that holds one (a name, a folder): not a list or a mapping, and not
/// empty or `~` (YAML's null, which yaml-cpp gives as the text "null": `root: ~` was
/// the folder `null`).
std::string text(const YAML::Node& v, const std::string& key, const std::string& origin) {
  SHIFTAD_CHECK(!v.IsNull(), "{}: '{}' has no value (empty or ~); give one, quoted if it is '~' or 'null'", origin,
                key);
  SHIFTAD_CHECK(v.IsScalar(), "{}: '{}' must be a text, not a {}", origin, key, v.IsSequence() ? "list" : "mapping");
  return v.Scalar();
}

/// Seeds as the config reads integers: decimal digits without a leading zero (YAML 1.1
/// reads `010` as octal 8 and `0x10` as 16, which nobody writing a seed means).
std::vector<int> seedList(const YAML::Node& n, const std::string& origin) {
  static const std::regex kDecimal("0|-?[1-9][0-9]{0,9}");
  std::vector<int> out;
  for (const auto& seed : list<std::string>(n, "seeds", origin)) {
    const bool ok = std::regex_match(seed, kDecimal) && std::stoll(seed) <= std::numeric_limits<int>::max() &&
                    std::stoll(seed) >= std::numeric_limits<int>::min();
    SHIFTAD_CHECK(ok, "{}: seed '{}' in 'seeds' is not a whole number in [0, {}] (decimal digits, no leading zero)",
                  origin, seed, std::numeric_limits<int>::max());
    out.push_back(static_cast<int>(std::stoll(seed)));
  }
  return out;
}

void apply(Suite& s, const YAML::Node& root, const std::string& origin, bool top) {
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    SHIFTAD_CHECK(std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end() && (top || key != "quick"),
                  "{}: unknown suite key '{}'{}", origin, key, didYouMean(key, kKeys));
    const auto& v = kv.second;
    if (key == "suite") s.name = text(v, key, origin);
    if (key == "description") s.description = text(v, key, origin);
    if (key == "root") s.root = text(v, key, origin);
    if (key == "model_selection") s.model_selection = text(v, key, origin);
    if (key == "recommended") s.recommended = text(v, key, origin);
    if (key == "classes") s.classes = list<std::string>(v, key, origin);
    if (key == "seeds") s.seeds = seedList(v, origin);
    if (key == "variants") s.variants = list<std::string>(v, key, origin);
    if (key == "config") {
      YAML::Emitter e;
      e << v;
      s.config_yaml = e.c_str();
    }
    if (key == "directions") {
      s.directions.clear();
      for (const auto& d : list<std::vector<std::string>>(v, key, origin)) {
        SHIFTAD_CHECK(d.size() == 2, "{}: each direction is [source, target]", origin);
        s.directions.emplace_back(d[0], d[1]);
      }
    }
  }
}

template <typename T>
void checkNoRepeatsOf(const std::vector<T>& values, const std::string& what,
                      const std::function<std::string(const T&)>& text) {
  for (size_t i = 0; i < values.size(); ++i)
    SHIFTAD_CHECK(std::find(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values[i]) ==
                      values.begin() + static_cast<std::ptrdiff_t>(i),
                  "{} names {} twice: each grid entry once (twice would run and count the same runs twice)", what,
                  text(values[i]));
}

/// A bench keeps a direction's runs in OUT/runs/SOURCE-TARGET: two directions whose names
/// join to the same folder ([a-b, c] and [a, b-c]) would share their runs.
void checkDirectionFolders(const std::vector<std::pair<std::string, std::string>>& directions,
                           const std::string& path) {
  std::map<std::string, std::pair<std::string, std::string>> seen;
  for (const auto& d : directions) {
    const auto [it, fresh] = seen.emplace(d.first + "-" + d.second, d);
    SHIFTAD_CHECK(fresh,
                  "{}: directions [{}, {}] and [{}, {}] would keep their runs in one folder 'runs/{}'; rename a domain "
                  "folder so that no '-' joins two names alike",
                  path, it->second.first, it->second.second, d.first, d.second, it->first);
  }
}

}  // namespace

void checkNoRepeats(const std::vector<int>& values, const std::string& what) {
  checkNoRepeatsOf<int>(values, what, [](const int& v) { return std::to_string(v); });
}

void checkNoRepeats(const std::vector<std::string>& values, const std::string& what) {
  checkNoRepeatsOf<std::string>(values, what, [](const std::string& v) { return "'" + v + "'"; });
}

void checkNoRepeats(const std::vector<std::pair<std::string, std::string>>& values, const std::string& what) {
  checkNoRepeatsOf<std::pair<std::string, std::string>>(
      values, what, [](const std::pair<std::string, std::string>& v) { return "[" + v.first + ", " + v.second + "]"; });
}

std::string suitesDir() {
  // An installed `shiftad` (PREFIX/bin) finds them in PREFIX/share/shiftad/suites; a
  // binary of a build tree, or one copied without them, in the source tree it was built
  // from (which loadSuite's error names where it is gone).
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "shiftad" / "suites";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return SHIFTAD_SUITES_DIR;
}

namespace {

/// The grid's lists of a loaded suite: not empty, no entry twice, seeds >= 0, known
/// variants, a recommended variant among them; errors name `path` and the key.
void checkGrid(const Suite& s, const std::string& path) {
  SHIFTAD_CHECK(!s.directions.empty(), "{}: 'directions' is empty", path);
  SHIFTAD_CHECK(!s.seeds.empty(), "{}: 'seeds' is empty", path);
  checkNoRepeats(s.seeds, path + ": 'seeds'");
  checkNoRepeats(s.variants, path + ": 'variants'");
  checkNoRepeats(s.classes, path + ": 'classes'");
  checkNoRepeats(s.directions, path + ": 'directions'");
  checkDirectionFolders(s.directions, path);
  for (int seed : s.seeds)
    SHIFTAD_CHECK(seed >= 0, "{}: seed {} in 'seeds' is negative; seeds are integers >= 0", path, seed);
  SHIFTAD_CHECK(!s.variants.empty(), "{}: 'variants' is empty", path);
  for (const auto& v : s.variants) {
    try {
      variantOverrides(v);  // an unknown name fails here, listing the known ones
    } catch (const Error& e) {
      SHIFTAD_THROW("{}: 'variants': {}", path, e.what());
    }
  }
  SHIFTAD_CHECK(
      s.recommended.empty() || std::find(s.variants.begin(), s.variants.end(), s.recommended) != s.variants.end(),
      "{}: 'recommended: {}' is not one of the suite's variants ({}); name one of them or remove the key", path,
      s.recommended, fmt::join(s.variants, ", "));
}

/// The checks and resolution a suite's grid gets once its keys are read: its name, its
/// root as one absolute spelling, its grid, and its config's keys (a bad key fails before
/// any run). `origin` names the file (and "(quick)" for that section).
void finish(Suite& s, const std::string& origin) {
  SHIFTAD_CHECK(!s.name.empty(), "{}: 'suite' (its name) is missing", origin);
  if (!s.root.empty()) s.root = rootSpelling((fs::path(s.base_dir) / s.root).string());  // absolute replaces base_dir
  checkGrid(s, origin);
  parseConfig(s.config_yaml, {}, origin + " config", s.base_dir);
}

}  // namespace

std::string rootSpelling(const std::string& root) {
  auto p = fs::path(root).lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p.string();
}

Suite loadSuite(const std::string& name_or_path, bool quick) {
  std::string path = name_or_path;
  // A file of that name, else a shipped suite: a folder named like a suite (e.g. a dataset
  // `office31` in the working directory) does not hide the shipped one.
  if (!fs::is_regular_file(path)) path = (fs::path(suitesDir()) / (name_or_path + ".yaml")).string();
  if (!fs::is_regular_file(path)) {
    std::error_code ec;
    SHIFTAD_CHECK(fs::is_directory(suitesDir(), ec),
                  "suite '{}' is not a file, and the shipped suites are not where this shiftad looks for them: "
                  "PREFIX/share/shiftad/suites beside an installed PREFIX/bin/shiftad, else '{}' (the source "
                  "tree it was built from); install shiftad with `cmake --install`, or give a suite file's path",
                  name_or_path, SHIFTAD_SUITES_DIR);
    std::vector<std::string> known;
    for (const auto& e : fs::directory_iterator(suitesDir()))
      if (e.path().extension() == ".yaml") known.push_back(e.path().stem().string());
    std::sort(known.begin(), known.end());
    SHIFTAD_THROW("suite '{}' is neither a file nor a shipped suite; shipped (in '{}'): {}", name_or_path, suitesDir(),
                  fmt::join(known, ", "));
  }
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  SHIFTAD_CHECK(ec || size <= (size_t{1} << 20), "{}: {} bytes, more than a suite holds (1 MiB); is it the right file?",
                path, size);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    SHIFTAD_THROW("{}: cannot be opened for reading; check its permissions", path);
  } catch (const YAML::Exception& e) {
    config::throwYamlError(e, path);
  }
  SHIFTAD_CHECK(root.IsMap(), "{}: a suite is a mapping (suite, root, directions, ...)", path);
  config::checkOneDocument(readText(path), path);
  config::checkDuplicateKeys(root, "", path);
  Suite s;
  s.base_dir = fs::absolute(path).parent_path().lexically_normal().string();
  s.model_selection = "none: every run trains for the fixed train.epochs; no target label is looked at";
  apply(s, root, path, true);
  SHIFTAD_CHECK(!root["quick"] || root["quick"].IsMap(),
                "{}: 'quick' must be a mapping of suite keys that --quick replaces (e.g. quick: {{seeds: [0]}})", path);
  SHIFTAD_CHECK(!quick || root["quick"],
                "{}: --quick, but the suite has no 'quick:' section (it would run its whole grid); drop --quick or add "
                "one (e.g. quick: {{seeds: [0]}})",
                path);
  // The quick grid is checked whole without --quick too: a typo there (a variant, a
  // class, a config key) waited for the first --quick.
  finish(s, path);
  if (!root["quick"]) return s;
  Suite quick_suite = s;
  apply(quick_suite, root["quick"], path + " (quick)", false);
  finish(quick_suite, path + " (quick)");
  return quick ? quick_suite : s;
}

}  // namespace shiftad
