// The synthetic benchmark and small configs on it, for tests that train in process or
// drive the CLI (tests/api, tests/integration).
#pragma once

#include <string>

#include "data/Synth.h"
#include "shiftad/shiftad.h"
#include "support/TestSupport.h"

namespace shiftad::test {

/// The synthetic benchmark (`shiftad synth`, seed 0), generated once per test binary.
inline const std::string& synthRoot() {
  static TempDir dir;
  static const std::string root = [] {
    shiftad::synthesize(dir / "data", 0);
    return dir / "data";
  }();
  return root;
}

/// A smaller synthetic ImageFolder (6 classes, 10 images per class and domain), once per
/// test binary: for tests of the grid and its folders, not of what training learns.
inline const std::string& smallSynthRoot() {
  static TempDir dir;
  static const std::string root = [] {
    shiftad::data::SynthParams p;
    p.per_class_source = 10;
    p.per_class_target = 10;
    shiftad::data::writeSynth(dir / "data", p);
    return dir / "data";
  }();
  return root;
}

/// The one-vs-all protocol on `root` (domains source → target) with default settings.
inline shiftad::Config protocolOf(const std::string& root, const std::string& normal_class) {
  shiftad::Config c;
  c.data.root = root;
  c.data.source = "source";
  c.data.target = "target";
  c.data.normal_class = normal_class;
  return c;
}

/// A run of a few seconds written to TMP/cfg.yaml: alignment with re-clustering every
/// epoch and augmentation, so resuming must restore weights, Adam, both generators and
/// the dominant set.
inline std::string tinyConfigFile(const TempDir& tmp, int epochs) {
  shiftad::Config c = protocolOf(synthRoot(), "circle");
  c.model.width = 8;
  c.train.epochs = epochs;
  c.train.batch_size = 16;
  const auto path = tmp / "cfg.yaml";
  writeFile(path, shiftad::dumpConfig(c));
  return path;
}

}  // namespace shiftad::test
