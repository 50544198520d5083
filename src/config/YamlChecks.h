// Checks on parsed YAML shared by configs and suites.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

namespace shiftad::config {

/// A key given twice in one mapping (at any depth below `node`): yaml-cpp keeps both
/// and the later one would win without a word, so it is an Error naming the key
/// (`prefix` + key), `origin` and both lines.
void checkDuplicateKeys(const YAML::Node& node, const std::string& prefix, const std::string& origin);

}  // namespace shiftad::config
