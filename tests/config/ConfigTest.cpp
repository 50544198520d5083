// Config: defaults, YAML parsing, overrides, and one clear error per bad key/value.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <tuple>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "shiftad/Config.h"
#include "support/CommaLocale.h"
#include "support/TestSupport.h"

using shiftad::Config;
using shiftad::parseConfig;
using shiftad::test::errorOf;

namespace {

/// The message of the shiftad::Error that `f` throws ("" if none).
}  // namespace

TEST(Config, EmptyTextGivesDocumentedDefaults) {
  const Config c = parseConfig("");
  const Config d;
  EXPECT_EQ(c.cluster.kmeans.k, d.cluster.kmeans.k);
  EXPECT_EQ(c.cluster.gmm.restarts, 5);  // the config default, also for the GMM
  EXPECT_EQ(c.align.method, shiftad::AlignMethod::kInfoNce);
  EXPECT_DOUBLE_EQ(c.data.contamination, 0.1);
}

TEST(Config, NestedYamlAndOverrides) {
  const Config c = parseConfig("data:\n  root: /x\n  contamination: 0.2\ncluster:\n  k: 4\n",
                               {"cluster.k=10", "align.tau=0.5", "data.mean=[0.1, 0.2, 0.3]"});
  EXPECT_EQ(c.data.root, "/x");
  EXPECT_DOUBLE_EQ(c.data.contamination, 0.2);
  EXPECT_EQ(c.cluster.kmeans.k, 10);  // --set wins over the file
  EXPECT_EQ(c.cluster.gmm.k, 10);     // one key, both algorithms
  EXPECT_DOUBLE_EQ(c.align.tau, 0.5);
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.1, 0.2, 0.3}));
}

TEST(Config, DumpRoundTripsEveryKey) {
  Config c;
  c.data.root = "/some/root";  // absolute: relative paths resolve (RelativePathsResolve...)
  c.model.arch = shiftad::Arch::kResNet18;
  c.train.lr = 3.5e-4;
  c.data.augment = false;
  c.data.std = {0.2, 0.3, 0.4};
  const Config back = parseConfig(shiftad::dumpConfig(c));
  EXPECT_EQ(shiftad::dumpConfig(back), shiftad::dumpConfig(c));
  EXPECT_EQ(back.model.arch, shiftad::Arch::kResNet18);
  EXPECT_DOUBLE_EQ(back.train.lr, 3.5e-4);
  EXPECT_FALSE(back.data.augment);
}

TEST(Config, NumbersReadAndWriteTheSameInAHostWhoseLocaleWritesADecimalComma) {
  // yaml-cpp reads and writes numbers through streams in the host's C++ locale: a German
  // one read `lr: 0.001` as 1, refused a run's `0.5`, and wrote 4096 as "4.096".
  shiftad::test::CommaLocale comma;
  const Config c = parseConfig("train:\n  lr: 0.001\n  epochs: 1200\ndata:\n  mean: [0.5, 0.25, 0.125]\n");
  EXPECT_EQ(c.train.lr, 0.001);
  EXPECT_EQ(c.train.epochs, 1200);
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.5, 0.25, 0.125}));
  const auto text = shiftad::dumpConfig(c);
  EXPECT_NE(text.find("epochs: 1200\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dense_reference_rows: 4096\n"), std::string::npos) << text;
  EXPECT_EQ(shiftad::dumpConfig(parseConfig(text)), text);
  const auto tiny = shiftad::test::errorOf([] { parseConfig("train:\n  lr: 1e-400\n"); });
  EXPECT_NE(tiny.find("smaller than any number a double holds"), std::string::npos) << tiny;
}

TEST(Config, UnknownKeyIsAnErrorNamingIt) {
  const auto msg = errorOf([] { parseConfig("cluster:\n  kk: 3\n", {}, "my.yaml"); });
  EXPECT_NE(msg.find("my.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cluster.kk"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cluster.k"), std::string::npos) << msg;  // suggestion list
  // The nearest name, when one is near and alone: a key, a section, a choice, a variant.
  EXPECT_NE(msg.find("'cluster.kk' (did you mean 'cluster.k'?)"), std::string::npos) << msg;
  EXPECT_NE(errorOf([] { parseConfig("", {"trian.epochs=1"}); }).find("(did you mean 'train.epochs'?)"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseConfig("", {"align.method=inofnce"}); }).find("(did you mean 'infonce'?)"),
            std::string::npos);
  EXPECT_NE(errorOf([] { shiftad::variantOverrides("Source_Olny"); }).find("(did you mean 'source_only'?)"),
            std::string::npos);
  EXPECT_EQ(errorOf([] { parseConfig("", {"train.momentum=1"}); }).find("did you mean"), std::string::npos);
  EXPECT_NE(errorOf([] { parseConfig("bogus:\n  x: 1\n"); }).find("unknown config section 'bogus'"), std::string::npos);
  EXPECT_NE(errorOf([] { parseConfig("", {"train.nope=1"}); }).find("train.nope"), std::string::npos);
  // A section given a value, and YAML's merge key: said as what they are (they were
  // "unknown config key 'data'" and "unknown config key 'train.<<'").
  EXPECT_NE(errorOf([] { parseConfig("", {"data=5"}); }).find("'data' is a section, not a key: set one of its keys"),
            std::string::npos);
  EXPECT_NE(
      errorOf([] { parseConfig("train: {<<: {epochs: 3}}\n"); }).find("'train.<<': YAML merge keys (<<) are not read"),
      std::string::npos);
}

TEST(Config, ADottedKeyInAFileIsRefusedWithItsNestedForm) {
  // It read as the key, so `train: {epochs: 3}` and `train.epochs: 5` passed the
  // duplicate check and the later won; a suite's `train.seed: 7` passed the bench's check.
  for (const std::string text : {"train.epochs: 5\n", "train:\n  epochs: 3\ntrain.epochs: 5\n"}) {
    const auto msg = errorOf([&] { parseConfig(text, {}, "my.yaml"); });
    EXPECT_NE(msg.find("my.yaml: 'train.epochs' is written as one dotted key"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(train: {epochs: ...})"), std::string::npos) << msg;
  }
  EXPECT_EQ(parseConfig("", {"train.epochs=5"}).train.epochs, 5);  // --set's form
  EXPECT_EQ(parseConfig("train: {epochs: 5}\n").train.epochs, 5);
}

TEST(Config, AKeyGivenTwiceIsAnErrorNamingItAndBothLines) {
  // yaml-cpp keeps both, and the later would win without a word.
  auto msg = errorOf([] { parseConfig("train:\n  epochs: 1\n  lr: 0.1\n  epochs: 7\n", {}, "my.yaml"); });
  EXPECT_NE(msg.find("my.yaml: key 'train.epochs' appears twice (lines 2 and 4)"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("data: {image_size: 32}\ntrain: {epochs: 1}\ndata: {resize: 40}\n"); });
  EXPECT_NE(msg.find("key 'data' appears twice (lines 1 and 3)"), std::string::npos) << msg;
  const auto cfg = parseConfig("train: {threads: 1}\ndata: {threads: 2}\n", {}, "x", "");
  EXPECT_EQ(cfg.train.threads, 1) << "the same name in two sections is two keys";
  EXPECT_EQ(cfg.data.threads, 2);
}

TEST(Config, AConfigIsOneSmallYamlDocument) {
  auto msg = errorOf([] { parseConfig("train: {epochs: 1}\n---\ntrain: {epochs: 9}\n", {}, "my.yaml"); });
  EXPECT_NE(msg.find("my.yaml: 2 YAML documents"), std::string::npos) << msg;
  // A 2 MB list is refused before yaml-cpp builds a node per entry.
  std::string big = "data:\n  mean: [";
  while (big.size() < (size_t{2} << 20)) big += "0.5, ";
  big += "0.5]\n";
  msg = errorOf([&] { parseConfig(big, {}, "big.yaml"); });
  EXPECT_NE(msg.find("big.yaml: "), std::string::npos) << msg.substr(0, 200);
  EXPECT_NE(msg.find("more than a config holds"), std::string::npos) << msg.substr(0, 200);
  EXPECT_LT(msg.size(), 300u) << "the value is not echoed";
  shiftad::test::TempDir tmp;
  shiftad::test::writeFile(tmp / "big.yaml", big);
  msg = errorOf([&] { shiftad::loadConfig(tmp / "big.yaml"); });
  EXPECT_NE(msg.find("more than a config holds"), std::string::npos) << msg.substr(0, 200);
}

TEST(Config, AnIntegersRangeIsNamedWithItsUpperEnd) {
  // train.seed is an int: 2^31 does not fit, and the message says where it ends.
  const auto msg = errorOf([] { parseConfig("", {"train.seed=2147483648"}); });
  EXPECT_NE(msg.find("an integer in [0, 2147483647]"), std::string::npos) << msg;
  EXPECT_EQ(parseConfig("", {"train.seed=2147483647"}).train.seed, 2147483647);
}

TEST(Config, AConfigFileThatIsAPipeOrADeviceIsRefusedAtOnce) {
  // A FIFO would block the open until a writer comes; /dev/zero never ends.
  shiftad::test::TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp / "c.yaml").c_str(), 0600), 0);
  for (const std::string& path : {tmp / "c.yaml", std::string("/dev/zero")}) {
    const auto msg = errorOf([&] { shiftad::loadConfig(path, {}); });
    EXPECT_NE(msg.find("config file '" + path + "' is not a regular file"), std::string::npos) << msg;
  }
}

TEST(Config, AnIntegerWithALeadingZeroIsRefusedNotReadAsOctal) {
  // yaml-cpp (YAML 1.1) reads 010 as 8; 0 itself and 10 are fine.
  for (const auto& [text, set] :
       std::vector<std::pair<std::string, std::string>>{{"train:\n  epochs: 010\n", ""}, {"", "train.epochs=010"}}) {
    const auto msg = errorOf([&] { parseConfig(text, set.empty() ? std::vector<std::string>{} : std::vector{set}); });
    EXPECT_NE(msg.find("config key 'train.epochs': value '010' has a leading zero"), std::string::npos) << msg;
  }
  EXPECT_EQ(parseConfig("", {"train.epochs=0"}).train.epochs, 0);
  EXPECT_EQ(parseConfig("", {"train.epochs=10"}).train.epochs, 10);
}

TEST(Config, AnIntegerIsDecimalDigitsNotHexadecimal) {
  // yaml-cpp reads 0x10 as 16; a CLI integer refuses it, and so does a config.
  for (const auto& [text, set] :
       std::vector<std::pair<std::string, std::string>>{{"train:\n  epochs: 0x10\n", ""}, {"", "train.epochs=0x10"}}) {
    const auto msg = errorOf([&] { parseConfig(text, set.empty() ? std::vector<std::string>{} : std::vector{set}); });
    EXPECT_NE(msg.find("config key 'train.epochs': value '0x10' is not allowed"), std::string::npos) << msg;
  }
  EXPECT_EQ(parseConfig("", {"train.epochs=+12"}).train.epochs, 12);
}

TEST(Config, ANumberTooSmallForADoubleIsRefusedNotReadAsZero) {
  const auto msg = errorOf([] { parseConfig("", {"train.lr=1e-400"}); });
  EXPECT_NE(msg.find("config key 'train.lr': value '1e-400' is smaller than any number a double holds"),
            std::string::npos)
      << msg;
  EXPECT_EQ(parseConfig("", {"train.lr=0.0e-400"}).train.lr, 0.0);  // a zero written so is zero
  EXPECT_EQ(parseConfig("", {"train.lr=1e-300"}).train.lr, 1e-300);
}

TEST(Config, ASetStringIsTheTextAsTypedUnlessQuoted) {
  // Read as YAML, "part #2" was the class "part" (a comment), "tr " lost its blank and
  // "null" was no class at all.
  for (const std::string name : {"part #2", "tr ", "null", "a: b", "[x]", "1e3", "line\nbreak", "#hash"})
    EXPECT_EQ(parseConfig("", {"data.normal_class=" + name}).data.normal_class, name);
  EXPECT_EQ(parseConfig("", {"data.normal_class='part #2'"}).data.normal_class, "part #2");
  EXPECT_EQ(parseConfig("", {"data.normal_class=\"it's\""}).data.normal_class, "it's");
  EXPECT_EQ(parseConfig("", {"data.normal_class="}).data.normal_class, "");
  // What it sets survives the run's config.yaml.
  const auto cfg = parseConfig("", {"data.normal_class=part #2"});
  EXPECT_EQ(parseConfig(shiftad::dumpConfig(cfg)).data.normal_class, "part #2");
  // A path keeps its text too, resolved as before; other keys' values stay YAML.
  EXPECT_EQ(parseConfig("", {"data.root=/data/we ird #1"}).data.root, "/data/we ird #1");
  EXPECT_EQ(parseConfig("", {"data.mean=[0.1, 0.2, 0.3]"}).data.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(parseConfig("", {"cluster.method=gmm"}).cluster.method, shiftad::ClusterMethod::kGmm);
}

TEST(Config, AConfigFileWithANulByteIsRefusedAsBinary) {
  shiftad::test::TempDir tmp;
  {
    std::ofstream f(tmp / "c.yaml", std::ios::binary);
    f << std::string("data:\n  root: synth\0junk\n", 25);
  }
  const auto msg = errorOf([&] { shiftad::loadConfig(tmp / "c.yaml", {}); });
  EXPECT_NE(msg.find("a NUL byte at offset 19"), std::string::npos) << msg;
}

TEST(Config, ASectionGivenAsAValueIsNamedAsASection) {
  const auto msg = errorOf([] { parseConfig("data: 5\n", {}, "my.yaml"); });
  EXPECT_NE(msg.find("my.yaml: 'data' is a section"), std::string::npos) << msg;
}

TEST(Config, OutOfRangeAndWrongTypeNameKeyValueAndRule) {
  auto msg = errorOf([] { parseConfig("align:\n  lambda: -1\n"); });
  EXPECT_NE(msg.find("align.lambda"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 1000000]"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("", {"cluster.k=0"}); });
  EXPECT_NE(msg.find("cluster.k"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("data:\n  contamination: 1.0\n"); });
  EXPECT_NE(msg.find("[0, 1)"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("train:\n  epochs: ten\n"); });
  EXPECT_NE(msg.find("train.epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ten"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("model:\n  arch: vgg\n"); });
  EXPECT_NE(msg.find("small_cnn"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("data:\n  mean: [1, 2]\n"); });
  EXPECT_NE(msg.find("list of 3"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("data: [1\n"); });
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("", {"train.epochs"}); });
  EXPECT_NE(msg.find("key=value"), std::string::npos) << msg;
  // An empty value (`--set train.epochs=`, or `epochs:` in a file) is YAML null: said so, not shown as '~'.
  for (const auto& [text, set] :
       std::vector<std::pair<std::string, std::string>>{{"", "train.epochs="}, {"train:\n  epochs:\n", ""}}) {
    msg = errorOf([&] { parseConfig(text, set.empty() ? std::vector<std::string>{} : std::vector{set}); });
    EXPECT_NE(msg.find("config key 'train.epochs' has no value; expected an integer in [0, 100000]"), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('~'), std::string::npos) << msg;
  }
}

TEST(Config, YamlNestedPastTheParsersDepthLimitSaysSoWithItsLine) {
  // yaml-cpp stops at 2000 levels and calls it "bad file", which sent the user looking
  // for a missing or unreadable file; the config file, a --set value and a suite say
  // what it is and where.
  const std::string deep = std::string(3000, '[') + std::string(3000, ']');
  for (const auto& msg : {errorOf([&] { parseConfig("train:\n  note: " + deep + "\n"); }),
                          errorOf([&] { parseConfig("", {"data.mean=" + deep}); })}) {
    EXPECT_NE(msg.find("nested too deeply for the YAML parser"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line "), std::string::npos) << msg;
    EXPECT_EQ(msg.find("bad file"), std::string::npos) << msg;
    EXPECT_LT(msg.size(), 300u) << msg;
  }
  EXPECT_NE(errorOf([&] { parseConfig("train:\n  note: " + deep + "\n"); }).find("line 2"), std::string::npos);
  EXPECT_NE(errorOf([&] { parseConfig("", {"data.mean=" + deep}); }).find("--set data.mean"), std::string::npos);
}

TEST(Config, NonScalarKeysAreAnErrorNotAYamlException) {
  // Found by fuzz/fuzz_config: YAML's complex keys ("? key") used to escape as
  // YAML::TypedBadConversion instead of a shiftad::Error.
  for (const char* text : {" ? gn.lambda:\n:", "? [a, b]\n: 1\n", "train:\n  ? {x: 1}\n  : 2\n"}) {
    const auto msg = errorOf([&] { parseConfig(text); });
    EXPECT_NE(msg.find("config keys are plain names"), std::string::npos) << text << ": " << msg;
  }
}

TEST(Config, ReliabilityRangesNameKeyValueAndAllowed) {
  // docs/reliability.md: each rejected value is named with its key and the rule.
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"align.lambda=-0.5", "-0.5", "[0, 1000000]"},
      // Beyond float32 (the tensors these reach) or a count: named here, not by LibTorch.
      {"train.svdd_eps=1e300", "1e300", "a number in [0, 1000000]"},
      {"train.anchor=1e39", "1e39", "a number in [0, 1000000]"},
      {"data.max_skipped=1e300", "1e300", "a number in [0, 1000000000]"},
      {"cluster.bandwidth=1e400", "1e400", "a number in [0, 1000000]"},
      {"train.epochs=1e300", "1e300", "an integer in [0, 100000]"},
      {"data.mean=[0, 0, 1e300]", "[0, 0, 1e300]", "3 numbers in [-1000, 1000]"},
      {"data.std=[1, 1, 0]", "[1, 1, 0]", "3 numbers in [1e-06, 1000]"},
      {"cluster.k=-3", "-3", "[1, 4096]"},
      {"cluster.k=0", "0", "[1, 4096]"},
      {"data.contamination=-0.1", "-0.1", "[0, 1)"},
      {"data.contamination=1", "1", "[0, 1)"},
      {"data.contamination=.nan", ".nan", "[0, 1)"},
      {"train.checkpoint_every=-1", "-1", "an integer in [0, 2147483647]"},
      {"train.lr=abc", "abc", "a number"},
  };
  for (const auto& [assignment, value, rule] : cases) {
    const auto msg = errorOf([&] { parseConfig("", {assignment}); });
    const auto key = assignment.substr(0, assignment.find('='));
    EXPECT_NE(msg.find("'" + key + "'"), std::string::npos) << assignment << ": " << msg;
    EXPECT_NE(msg.find("'" + value + "'"), std::string::npos) << assignment << ": " << msg;
    EXPECT_NE(msg.find(rule), std::string::npos) << assignment << ": " << msg;
  }
}

TEST(Config, ClipArchsAndInterpolation) {
  const Config c = parseConfig("data: {image_size: 224, interpolation: bicubic}\nmodel: {arch: clip_vit_b32}\n");
  EXPECT_EQ(c.model.arch, shiftad::Arch::kClipVitB32);
  EXPECT_EQ(c.data.interpolation, shiftad::Interpolation::kBicubic);
  EXPECT_EQ(parseConfig("").data.interpolation, shiftad::Interpolation::kBilinear);
  // The positional embeddings fix CLIP's input size: caught before any image is read.
  auto msg = errorOf([] { parseConfig("model: {arch: clip_rn50}\n"); });
  EXPECT_NE(msg.find("data.image_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("224"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("", {"data.interpolation=nearest"}); });
  EXPECT_NE(msg.find("bilinear, bicubic"), std::string::npos) << msg;
}

TEST(Config, MissingFileIsAClearError) {
  const auto msg = errorOf([] { shiftad::loadConfig("/nonexistent/x.yaml"); });
  EXPECT_NE(msg.find("/nonexistent/x.yaml"), std::string::npos) << msg;
}

TEST(Config, DocListsEveryKeyWithItsDefault) {
  const auto md = shiftad::configDocMarkdown();
  for (const char* key : {"`data.contamination`", "`cluster.k`", "`align.lambda`", "`align.tau`", "`train.lr`",
                          "`train.epochs`", "`train.batch_size`", "`model.embedding_dim`"})
    EXPECT_NE(md.find(key), std::string::npos) << key;
  EXPECT_NE(md.find("| `cluster.k` | int | `8` |"), std::string::npos);
}

TEST(Config, DocsConfigMdIsTheGeneratedTable) {
  // docs/config.md must not drift from the schema: regenerate it with
  // `build/shiftad config --doc` (see the file's header) when a key changes.
  std::ifstream f(std::string(SHIFTAD_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(f.good()) << "docs/config.md is missing";
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(shiftad::configDocMarkdown()), std::string::npos)
      << "docs/config.md is stale: regenerate the table with `build/shiftad config --doc`";
}

TEST(Config, VariantsAreOverridesThatParse) {
  for (const auto& v : shiftad::variants()) {
    auto o = shiftad::variantOverrides(v.name);
    EXPECT_EQ(o.back(), "run.variant=" + v.name);
    // Variants that read target labels need them allowed explicitly, and the frozen ones an encoder.
    o.push_back("data.target_labels=true");
    o.push_back("encoder.type=backbone");
    const Config c = parseConfig("", o);
    EXPECT_EQ(c.run.variant, v.name);
  }
  EXPECT_EQ(parseConfig("", shiftad::variantOverrides("source_only")).align.method, shiftad::AlignMethod::kNone);
  const auto msg = errorOf([] { shiftad::variantOverrides("sauce_only"); });
  EXPECT_NE(msg.find("sauce_only"), std::string::npos);
  EXPECT_NE(msg.find("source_only"), std::string::npos);
}

TEST(Config, TargetLabelsAreNeverReadUnlessAllowed) {
  auto msg = errorOf([] { parseConfig("", shiftad::variantOverrides("oracle")); });
  EXPECT_NE(msg.find("data.target_labels"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("", {"fewshot.k=3"}); });
  EXPECT_NE(msg.find("data.target_labels"), std::string::npos) << msg;
  msg = errorOf([] { parseConfig("", {"score.method=frozen_mean"}); });
  EXPECT_NE(msg.find("encoder.type"), std::string::npos) << msg;
  // The dense region grows only from Φ's fixed region.
  msg = errorOf([] { parseConfig("", {"cluster.dense_grow=0.9"}); });
  EXPECT_NE(msg.find("cluster.dense_grow (0.9)"), std::string::npos) << msg;
  EXPECT_NO_THROW(parseConfig("", {"cluster.dense_grow=0.9", "encoder.type=backbone"}));
}

TEST(Config, ADenseRegionOfOneReferenceRowIsRefused) {
  // One reference row: every row's only neighbour would be that row, its own included.
  const auto msg = errorOf([] { parseConfig("", {"cluster.dense_reference_rows=1"}); });
  EXPECT_NE(msg.find("cluster.dense_reference_rows is 1"), std::string::npos) << msg;
  EXPECT_NO_THROW(parseConfig("", {"cluster.dense_reference_rows=0"}));
  EXPECT_NO_THROW(parseConfig("", {"cluster.dense_reference_rows=2"}));
}

TEST(Config, RelativePathsResolveAgainstTheConfigFilesFolderAndSetAgainstTheWorkingDirectory) {
  namespace fs = std::filesystem;
  shiftad::test::TempDir tmp;
  shiftad::test::writeFile(tmp / "project/conf/my.yaml",
                           "data: {root: ../data}\n"
                           "model: {weights: w/trunk.safetensors}\n"
                           "encoder: {path: /abs/phi.pt, cache_dir: ''}\n");
  // Loaded from a working directory that is neither the file's folder nor its parent.
  const auto here = fs::current_path();
  fs::current_path(tmp.path());
  const Config c = shiftad::loadConfig("project/conf/my.yaml", {"encoder.cache_dir=cache"});
  fs::current_path(here);
  const fs::path base = fs::path(tmp.path()) / "project";
  EXPECT_EQ(c.data.root, (base / "data").string());                           // against the file's folder
  EXPECT_EQ(c.model.weights, (base / "conf/w/trunk.safetensors").string());   // likewise
  EXPECT_EQ(c.encoder.path, "/abs/phi.pt");                                   // absolute: unchanged
  EXPECT_EQ(c.encoder.cache_dir, (fs::path(tmp.path()) / "cache").string());  // --set: the working directory
  // Text has no file: the base is given, or the working directory.
  EXPECT_EQ(parseConfig("data: {root: r}\n", {}, "text", "/base/dir").data.root, "/base/dir/r");
  EXPECT_EQ(parseConfig("data: {root: ./r/../s}\n").data.root, (here / "s").string());
  EXPECT_EQ(parseConfig("").model.weights, "");  // empty stays empty: random initialisation
  // A config built in code gets the same treatment where a run records it.
  Config code;
  code.data.root = "rel";
  EXPECT_EQ(shiftad::withAbsolutePaths(code, "/b").data.root, "/b/rel");
  // The dump reads back to the same absolute paths, from anywhere.
  EXPECT_EQ(parseConfig(shiftad::dumpConfig(c), {}, "dump", "/elsewhere").data.root, c.data.root);
}

TEST(Config, NumbersAreWrittenInShortestRoundTripForm) {
  // yaml-cpp's emitter writes 17 significant digits: 0.1 came out as 0.10000000000000001.
  shiftad::Config c;
  c.train.weight_decay = 1e-6;
  c.data.contamination = 0.1;
  c.data.mean = {0.48145466, 0.4578275, 0.40821073};  // CLIP's
  c.align.lambda = 1.0 / 3.0;                         // needs all 17 digits
  const auto text = shiftad::dumpConfig(c);
  EXPECT_NE(text.find("contamination: 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weight_decay: 1.0e-06\n"), std::string::npos) << text;  // '.': a float in YAML 1.1 too
  EXPECT_NE(text.find("mean: [0.48145466, 0.4578275, 0.40821073]"), std::string::npos) << text;
  EXPECT_NE(text.find("lambda: 0.3333333333333333\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("00000000"), std::string::npos) << text;
  const auto back = parseConfig(text);  // bit-exact round trip
  EXPECT_EQ(back.train.weight_decay, c.train.weight_decay);
  EXPECT_EQ(back.align.lambda, c.align.lambda);
  EXPECT_EQ(back.data.mean, c.data.mean);
  EXPECT_NE(shiftad::configDocMarkdown().find("| `data.contamination` | float | `0.1` |"), std::string::npos);
}

TEST(Config, AYaml11ReaderReadsEveryKeyAndNameOfADumpedConfigAsShiftadDoes) {
  // PyYAML took the key `on` (train.on) for True and names such as `yes` or `010` for a
  // boolean and a number: a config loaded and saved from Python was refused ('train.true').
  const std::vector<std::string> names = {"yes", "On", "off", "010", "0x10", "12:30", "1e3", "-1", ".5", "null", ""};
  shiftad::test::TempDir tmp;
  for (const auto& name : names) {
    Config c;
    c.data.normal_class = name;
    c.data.source = "True";
    c.data.target = "no";
    const auto text = shiftad::dumpConfig(c);
    EXPECT_EQ(parseConfig(text).data.normal_class, name) << text;  // shiftad reads its own dump back
    shiftad::test::writeFile(tmp / "c.yaml", text);
    const auto lines = shiftad::test::runPython("config_yaml11.py", tmp / "c.yaml");
    EXPECT_NE(lines.find("str str train.on=source\n"), std::string::npos) << lines;
    EXPECT_NE(lines.find("str str data.normal_class=" + name + "\n"), std::string::npos) << name << "\n" << lines;
    EXPECT_NE(lines.find("str str data.source=True\n"), std::string::npos) << lines;
    EXPECT_NE(lines.find("str str data.target=no\n"), std::string::npos) << lines;
    // Numbers stay numbers, and no key is read as anything but its name.
    EXPECT_NE(lines.find("str float train.lr=0.001\n"), std::string::npos) << lines;
    EXPECT_NE(lines.find("str int train.epochs="), std::string::npos) << lines;
    EXPECT_NE(lines.find("str bool data.augment=True\n"), std::string::npos) << lines;
    EXPECT_EQ(lines.find("\nbool "), std::string::npos) << lines;
  }
}

TEST(Config, TfSamePaddingOnAnArchitectureThatIgnoresItIsRefused) {
  // model.padding tf_same on resnet18 or a CLIP tower was accepted and ignored.
  for (const char* arch : {"resnet18", "small_cnn", "clip_rn50"}) {
    const auto msg = errorOf([&] {
      parseConfig("", {std::string("model.arch=") + arch, "model.padding=tf_same", "data.image_size=224"});
    });
    EXPECT_NE(msg.find(std::string("model.padding tf_same is for TensorFlow-trained MobileNetV2 weights; model.arch ") +
                       arch),
              std::string::npos)
        << msg;
  }
  EXPECT_NO_THROW(parseConfig("", {"model.arch=mobilenet_v2", "model.padding=tf_same"}));
  EXPECT_NO_THROW(parseConfig("", {"model.arch=resnet18", "model.padding=symmetric"}));
}
