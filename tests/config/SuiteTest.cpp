// Benchmark suites (config/Suite): parsing, errors, paths and the recommended variant.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "config/Suite.h"
#include "shiftad/Config.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using shiftad::test::TempDir;

namespace {

std::string writeSuite(const TempDir& dir, const std::string& text) {
  const auto path = dir / "suite.yaml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Suite, EveryShippedSuiteParsesWithAndWithoutQuick) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(shiftad::suitesDir())) {
    if (e.path().extension() != ".yaml") continue;
    for (bool quick : {false, true}) {
      const auto s = shiftad::loadSuite(e.path().stem().string(), quick);
      EXPECT_EQ(s.name, e.path().stem().string());
      EXPECT_FALSE(s.directions.empty());
      EXPECT_FALSE(s.seeds.empty());
    }
    ++n;
  }
  EXPECT_GE(n, 6);
  // The paper's Office-31 classes, and quick settings replacing the full ones.
  EXPECT_EQ(shiftad::loadSuite("office31", false).classes.size(), 10u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", false).directions.size(), 4u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", true).directions.size(), 1u);
  EXPECT_EQ(shiftad::loadSuite("office-caltech10", true).seeds, std::vector<int>{0});
}

TEST(Suite, AFolderNamedLikeAShippedSuiteDoesNotHideIt) {
  // A dataset folder `office31` in the working directory: `--suite office31` still means
  // the shipped suite (it once read the folder as the suite file).
  TempDir dir;
  fs::create_directories(dir / "office31");
  const auto before = fs::current_path();
  fs::current_path(dir.path());
  std::string error;
  size_t classes = 0;
  try {
    classes = shiftad::loadSuite("office31", false).classes.size();
  } catch (const std::exception& e) {
    error = e.what();
  }
  fs::current_path(before);
  EXPECT_EQ(error, "");
  EXPECT_EQ(classes, 10u);
}

TEST(Suite, BadSuitesAreClearErrors) {
  TempDir dir;
  const std::string ok = "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0]\nvariants: [source_only]\n";
  EXPECT_NO_THROW(shiftad::loadSuite(writeSuite(dir, ok), false));
  auto msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "sedes: [1]\n"), false); });
  EXPECT_NE(msg.find("unknown suite key 'sedes' (did you mean 'seeds'?)"), std::string::npos) << msg;
  msg = errorOf([&] {
    shiftad::loadSuite(writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0]\nvariants: [sauce]\n"),
                       false);
  });
  EXPECT_NE(msg.find("source_only"), std::string::npos) << msg;  // lists the known variants
  msg = errorOf([&] {
    shiftad::loadSuite(
        writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0, -2]\nvariants: [source_only]\n"), false);
  });
  EXPECT_NE(msg.find("seed -2 in 'seeds' is negative"), std::string::npos) << msg;
  msg = errorOf([&] {
    shiftad::loadSuite(writeSuite(dir, "suite: t\nroot: /x\ndirections: [a-b]\nseeds: [0]\nvariants: [source_only]\n"),
                       false);
  });
  EXPECT_NE(msg.find("'directions' has an entry of the wrong type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("each entry must be a list [source, target]"), std::string::npos) << msg;
  // A key given twice (the later one won), and a grid entry given twice (its runs ran and counted twice).
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "seeds: [1]\n"), false); });
  EXPECT_NE(msg.find("key 'seeds' appears twice (lines 4 and 6)"), std::string::npos) << msg;
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "config: {train: {epochs: 1, epochs: 2}}\n"), false); });
  EXPECT_NE(msg.find("key 'config.train.epochs' appears twice"), std::string::npos) << msg;
  for (const auto& [key, list, named] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"seeds", "[0, 1, 0]", "0"},
           {"variants", "[source_only, source_only]", "'source_only'"},
           {"classes", "[x, y, x]", "'x'"},
           {"directions", "[[a, b], [a, b]]", "[a, b]"}}) {
    std::string text = ok;
    const auto at = text.find(key + ":");
    if (at != std::string::npos) text.erase(at, text.find('\n', at) - at + 1);
    msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, text + key + ": " + list + "\n"), false); });
    EXPECT_NE(msg.find("'" + key + "' names " + named + " twice"), std::string::npos) << msg;
  }
  msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "config: {train: {epochs: -1}}\n"), false); });
  EXPECT_NE(msg.find("train.epochs"), std::string::npos) << msg;
  msg = errorOf([&] {
    shiftad::loadSuite(writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a]]\nseeds: [0]\nvariants: [source_only]\n"),
                       false);
  });
  EXPECT_NE(msg.find("[source, target]"), std::string::npos) << msg;
  msg = errorOf([&] { shiftad::loadSuite("no-such-suite", false); });
  EXPECT_NE(msg.find("office-caltech10"), std::string::npos) << msg;
  // Two directions whose runs would share OUT/runs/a-b-c.
  msg = errorOf([&] {
    shiftad::loadSuite(
        writeSuite(dir, "suite: t\nroot: /x\ndirections: [[a-b, c], [a, b-c]]\nseeds: [0]\nvariants: [source_only]\n"),
        false);
  });
  EXPECT_NE(msg.find("directions [a-b, c] and [a, b-c] would keep their runs in one folder 'runs/a-b-c'"),
            std::string::npos)
      << msg;
}

TEST(Suite, ValuesAreReadAsTheConfigReadsThemOrNamedWithTheFileAndKey) {
  TempDir dir;
  const std::string grid = "directions: [[a, b]]\nvariants: [source_only]\n";
  const auto load = [&](const std::string& text) { return shiftad::loadSuite(writeSuite(dir, text), false); };
  // YAML 1.1 reads 010 as octal 8 and 0x10 as 16: a seed is decimal, as config integers are.
  for (const char* seed : {"010", "0x10", "1e3", "1.5"}) {
    const auto msg = errorOf([&] { load("suite: t\nroot: /x\n" + grid + "seeds: [" + seed + "]\n"); });
    EXPECT_NE(msg.find("seed '" + std::string(seed) + "' in 'seeds' is not a whole number"), std::string::npos) << msg;
  }
  EXPECT_EQ(load("suite: t\nroot: /x\n" + grid + "seeds: [0, 10]\n").seeds, (std::vector<int>{0, 10}));
  // A list where a name belongs was "yaml-cpp: bad conversion", naming neither file nor key.
  for (const char* key : {"suite", "root", "recommended", "description", "model_selection"}) {
    std::string text = "suite: t\nroot: /x\n" + grid + "seeds: [0]\n";
    const auto at = text.find(std::string(key) + ":");
    if (at != std::string::npos) text.erase(at, text.find('\n', at) - at + 1);
    const auto msg = errorOf([&] { load(text + key + ": [a]\n"); });
    EXPECT_NE(msg.find("'" + std::string(key) + "' must be a text, not a list"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
  }
  // `root: ~` was the folder "null"; `quick: 5` was ignored without a word.
  auto msg = errorOf([&] { load("suite: t\nroot: ~\n" + grid + "seeds: [0]\n"); });
  EXPECT_NE(msg.find("'root' has no value"), std::string::npos) << msg;
  msg = errorOf([&] { load("suite: t\nroot: /x\n" + grid + "seeds: [0]\nquick: 5\n"); });
  EXPECT_NE(msg.find("'quick' must be a mapping"), std::string::npos) << msg;
  EXPECT_EQ(load("suite: t\nroot: 'null'\n" + grid + "seeds: [0]\n").root, (dir / "null"));
}

TEST(Suite, PathsResolveAgainstTheSuiteFilesFolder) {
  TempDir dir;
  fs::create_directories(dir / "suites");
  const auto path = dir / "suites/t.yaml";
  shiftad::test::writeFile(path,
                           "suite: t\nroot: ../data\ndirections: [[a, b]]\nseeds: [0]\nvariants: [source_only]\n"
                           "config: {model: {weights: w/trunk.safetensors}}\n");
  const auto s = shiftad::loadSuite(path, false);
  EXPECT_EQ(s.root, (fs::path(dir.path()) / "data").string());
  const auto cfg = shiftad::parseConfig(s.config_yaml, {}, "t", s.base_dir);
  EXPECT_EQ(cfg.model.weights, (fs::path(dir.path()) / "suites/w/trunk.safetensors").string());
  // The shipped suites find ../shared beside the checkout from any working directory.
  const auto shared = (fs::path(SHIFTAD_SOURCE_DIR).parent_path() / "shared").lexically_normal();
  const auto pacs = shiftad::loadSuite("pacs", false);
  EXPECT_EQ(pacs.root, (shared / "datasets/PACS").string());
  EXPECT_EQ(shiftad::parseConfig(pacs.config_yaml, {}, "pacs", pacs.base_dir).model.weights,
            (shared / "weights/mobilenet_v2_imagenet.safetensors").string());
}

TEST(Suite, RecommendedMustBeOneOfTheSuitesVariants) {
  TempDir dir;
  const std::string ok = "suite: t\nroot: /x\ndirections: [[a, b]]\nseeds: [0]\nvariants: [source_only, align_all]\n";
  EXPECT_EQ(shiftad::loadSuite(writeSuite(dir, ok), false).recommended, "");  // default: none
  EXPECT_EQ(shiftad::loadSuite(writeSuite(dir, ok + "recommended: align_all\n"), false).recommended, "align_all");
  const auto msg = errorOf([&] { shiftad::loadSuite(writeSuite(dir, ok + "recommended: cluster_frozen\n"), false); });
  EXPECT_NE(msg.find("'recommended: cluster_frozen' is not one of the suite's variants (source_only, align_all)"),
            std::string::npos)
      << msg;
  // The shipped real-data suites recommend the label-free default, the variant `shiftad
  // train` runs without --variant (docs/method.md), and run it first.
  for (const auto* name : {"pacs", "pacs-dev", "pacs-dev-photo", "office-caltech10", "office-caltech10-dev", "digits",
                           "office31", "officehome", "visda"}) {
    const auto suite = shiftad::loadSuite(name, false);
    EXPECT_EQ(suite.recommended, "default") << name;
    ASSERT_FALSE(suite.variants.empty()) << name;
    EXPECT_EQ(suite.variants.front(), "default") << name;
  }
}

TEST(Suite, AnUnknownVariantATypoInQuickOrASecondDocumentAndQuickWithoutASectionNameTheFileAndKey) {
  TempDir tmp;
  const std::string base = "suite: s\nroot: .\ndirections: [[a, b]]\nseeds: [0]\n";
  shiftad::test::writeFile(tmp / "unknown.yaml", base + "variants: [source_only, nosuch]\n");
  auto msg = errorOf([&] { shiftad::loadSuite(tmp / "unknown.yaml", false); });
  EXPECT_NE(msg.find(tmp / "unknown.yaml" + ": 'variants': variant 'nosuch' is unknown"), std::string::npos) << msg;
  // A typo in quick: waited for the first --quick.
  shiftad::test::writeFile(tmp / "typo.yaml", base + "variants: [source_only]\nquick: {epochs: 3}\n");
  msg = errorOf([&] { shiftad::loadSuite(tmp / "typo.yaml", false); });
  EXPECT_NE(msg.find("(quick)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("epochs"), std::string::npos) << msg;
  // Not only its key names: its variants, classes, recommended variant and config keys.
  for (const auto& [quick, needle] : std::vector<std::pair<std::string, std::string>>{
           {"{variants: [souce_only]}", "variant 'souce_only' is unknown"},
           {"{recommended: nope}", "'recommended: nope' is not one of the suite's variants"},
           {"{config: {train: {epoch: 1}}}", "train.epoch"},
           {"{directions: [[a]]}", "direction"}}) {
    shiftad::test::writeFile(tmp / "q.yaml", base + "variants: [source_only]\nquick: " + quick + "\n");
    msg = errorOf([&] { shiftad::loadSuite(tmp / "q.yaml", false); });
    EXPECT_NE(msg.find("(quick)"), std::string::npos) << quick << ": " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << quick << ": " << msg;
  }
  // A second YAML document was ignored without a word (a config file's is refused).
  shiftad::test::writeFile(tmp / "two.yaml", base + "variants: [source_only]\n---\nseeds: [0, 1, 2]\n");
  msg = errorOf([&] { shiftad::loadSuite(tmp / "two.yaml", false); });
  EXPECT_NE(msg.find("two.yaml: 2 YAML documents"), std::string::npos) << msg;
  // --quick on a suite without the section ran its whole grid without a word.
  shiftad::test::writeFile(tmp / "noquick.yaml", base + "variants: [source_only]\n");
  EXPECT_NO_THROW(shiftad::loadSuite(tmp / "noquick.yaml", false));
  msg = errorOf([&] { shiftad::loadSuite(tmp / "noquick.yaml", true); });
  EXPECT_NE(msg.find("--quick, but the suite has no 'quick:' section"), std::string::npos) << msg;
}

TEST(Suite, ThePacsDevelopmentSuitesRunThePacsConfigAndPacsDevPhotoScoresNoReportedTarget) {
  // docs/method.md: settings chosen on the development directions are measured once on the
  // reported ones with the same config; pacs-dev-photo's labelled test images belong to a
  // target domain no reported direction has.
  const auto reported = shiftad::loadSuite("pacs", false);
  for (const auto* name : {"pacs-dev", "pacs-dev-photo"}) {
    const auto dev = shiftad::loadSuite(name, false);
    EXPECT_EQ(dev.config_yaml, reported.config_yaml) << name;
    EXPECT_EQ(dev.root, reported.root) << name;
    EXPECT_EQ(dev.variants, reported.variants) << name;
    for (const auto& d : dev.directions)
      EXPECT_EQ(std::count(reported.directions.begin(), reported.directions.end(), d), 0) << name << " " << d.first;
  }
  for (const auto& [source, target] : shiftad::loadSuite("pacs-dev-photo", false).directions)
    for (const auto& r : reported.directions) EXPECT_NE(target, r.second) << source << " -> " << target;
}

TEST(Suite, YamlNestedPastTheParsersDepthLimitSaysSoNotBadFile) {
  TempDir dir;
  const auto path = writeSuite(dir, "suite: " + std::string(3000, '[') + std::string(3000, ']') + "\n");
  const auto msg = errorOf([&] { shiftad::loadSuite(path, false); });
  EXPECT_NE(msg.find(path + ": invalid YAML at line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested too deeply for the YAML parser"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("bad file"), std::string::npos) << msg;
}

TEST(Suite, TheReferencesExampleLoadsAsItSays) {
  // docs/suites.md's example, as a user would copy it: every key it shows is read.
  std::ifstream in(std::string(SHIFTAD_SOURCE_DIR) + "/docs/suites.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto start = doc.find("```yaml\n"), end = doc.find("```\n", start + 8);
  ASSERT_NE(start, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  TempDir dir;
  const auto path = writeSuite(dir, doc.substr(start + 8, end - start - 8));
  const auto s = shiftad::loadSuite(path, false);
  EXPECT_EQ(s.name, "my-line");
  EXPECT_EQ(s.description, "camera A to camera B");
  EXPECT_EQ(s.root, (fs::path(dir.path()).parent_path() / "data/line").lexically_normal().string());
  EXPECT_EQ(s.directions, (std::vector<std::pair<std::string, std::string>>{{"camera_a", "camera_b"}}));
  EXPECT_TRUE(s.classes.empty());
  EXPECT_EQ(s.seeds, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(s.variants, (std::vector<std::string>{"default", "source_only", "align_all"}));
  EXPECT_EQ(s.recommended, "default");
  EXPECT_EQ(s.model_selection, "none: fixed epochs");
  EXPECT_EQ(shiftad::parseConfig(s.config_yaml).train.epochs, 20);
  EXPECT_EQ(shiftad::loadSuite(path, true).seeds, std::vector<int>{0});
}
