// Checks on parsed YAML shared by configs and suites.
#pragma once

#include <string>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

namespace shiftad::config {

/// A key given twice in one mapping (at any depth below `node`): yaml-cpp keeps both
/// and the later one would win without a word, so it is an Error naming the key
/// (`prefix` + key), `origin` and both lines.
void checkDuplicateKeys(const YAML::Node& node, const std::string& prefix, const std::string& origin);

/// A config or suite file is one document: the parser reads the first, and later ones
/// ('---') would be ignored without a word. An Error naming `origin` and the count.
void checkOneDocument(const std::string& yaml_text, const std::string& origin);

/// Throws an Error for a YAML parse failure of `origin`: its line and column, and for
/// nesting past yaml-cpp's depth limit words that say so (yaml-cpp's own message for it
/// is "bad file").
[[noreturn]] void throwYamlError(const YAML::Exception& e, const std::string& origin);

}  // namespace shiftad::config
