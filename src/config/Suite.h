// Benchmark suites: which directions, classes, seeds and variants to run, on which
// data, with which config. Shipped as YAML files under suites/. Torch-free.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace shiftad {

struct Suite {
  std::string name;
  std::string description;
  std::string root;                                             ///< ImageFolder root of the data (absolute)
  std::vector<std::pair<std::string, std::string>> directions;  ///< (source, target) domains
  std::vector<std::string> classes;                             ///< empty: every class of the source domain
  std::vector<int> seeds;                                       ///< split and training seeds
  std::vector<std::string> variants;                            ///< variant names (shiftad variants)
  std::string config_yaml;                                      ///< the config applied to every run (YAML text)
  std::string base_dir;         ///< the suite file's folder: config_yaml's relative paths resolve here
  std::string model_selection;  ///< how models are selected, for the report
  std::string recommended;      ///< the variant a user should start from (suite key `recommended`, one of `variants`):
                                ///< the report tags it in its tables and emphasises it in its plots; "" (default) none
};

/// Load `name_or_path`: a YAML file, or the name of one shipped under suites/. With
/// `quick`, the file's `quick:` section (same keys) replaces the corresponding keys.
/// Throws shiftad::Error naming the file and the key for bad content; the config part
/// is validated by parsing it. Relative paths in the file (root, and the config's
/// path keys) resolve against the file's folder, as in a config file.
Suite loadSuite(const std::string& name_or_path, bool quick);

/// A data root as one spelling, lexically normal and without a trailing separator:
/// `syn/` (a shell's completion) and `syn` are one root (a bench's bench_config.yaml).
std::string rootSpelling(const std::string& root);

/// An Error naming `what` (e.g. "--seeds", or "FILE: 'seeds'") and the first value that
/// `values` holds twice: a grid entry given twice would run and count the same runs twice.
void checkNoRepeats(const std::vector<int>& values, const std::string& what);
void checkNoRepeats(const std::vector<std::string>& values, const std::string& what);
void checkNoRepeats(const std::vector<std::pair<std::string, std::string>>& values, const std::string& what);

/// Where the shipped suites are: PREFIX/share/shiftad/suites where the running program is
/// PREFIX/bin/... and that folder exists (an installed `shiftad`), else the suites/ folder
/// of the source tree this was built from.
std::string suitesDir();

}  // namespace shiftad
