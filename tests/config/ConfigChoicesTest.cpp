// Config choices: every key with a fixed list of values is an enum. Each spelling reads
// to its value and dumps back to itself; a bad value's error lists exactly the allowed
// spellings. The expected spellings below are written by hand from docs/config.md and
// the paper's variants: an oracle independent of the name tables in src/config.
#include <algorithm>
#include <cctype>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "shiftad/Config.h"
#include "support/TestSupport.h"

using namespace shiftad;
using shiftad::test::errorOf;

namespace {

/// Overrides that make every choice of every key valid on its own: the label-reading
/// and frozen-encoder values need these, clip_* needs 224 px, tf_same padding
/// mobilenet_v2. The key under test is set after them, so it wins.
std::vector<std::string> withPrerequisites(const std::string& assignment) {
  return {"data.target_labels=true", "encoder.type=backbone", "data.image_size=224", "model.arch=mobilenet_v2",
          assignment};
}

/// `key` (section.field) reads each spelling of `expected` as its value, dumps it as
/// that spelling, reads the dump back to the same value, and rejects anything else
/// with an error that lists exactly the spellings of `expected`, in order.
template <typename E, typename Get>
void expectChoiceKey(const std::string& key, Get get, const std::vector<std::pair<std::string, E>>& expected) {
  SCOPED_TRACE(key);
  const std::string section = key.substr(0, key.find('.'));
  const std::string field = key.substr(key.find('.') + 1);
  std::string list;
  for (const auto& [spelling, value] : expected) {
    SCOPED_TRACE(spelling);
    list += (list.empty() ? "" : ", ") + spelling;
    EXPECT_EQ(toString(value), spelling);
    const Config from_set = parseConfig("", withPrerequisites(key + "=" + spelling));
    EXPECT_EQ(get(from_set), value);
    // The same value written in a file.
    std::vector<std::string> prerequisites;  // those of another key: --set comes after the file
    for (const auto& o : withPrerequisites(key + "=" + spelling))
      if (o.rfind(key + "=", 0) != 0) prerequisites.push_back(o);
    EXPECT_EQ(get(parseConfig(section + ":\n  " + field + ": " + spelling + "\n", prerequisites)), value);
    const std::string text = dumpConfig(from_set);
    // `on` in quotes: a YAML 1.1 reader takes the bare word for a boolean.
    const std::string written = field == "on" ? "\"on\"" : field;
    EXPECT_NE(text.find("\n  " + written + ": " + spelling + "\n"), std::string::npos) << text;
    const Config back = parseConfig(text);
    EXPECT_EQ(get(back), value);
    EXPECT_EQ(dumpConfig(back), text);
  }
  for (const std::string& bad : std::vector<std::string>{"bogus", "[" + expected.front().first + "]", "\"\""}) {
    EXPECT_EQ(errorOf([&] { parseConfig("", withPrerequisites(key + "=" + bad)); }),
              "config key '" + key + "': value '" + bad + "' is not allowed; expected one of: " + list)
        << bad;
  }
  // YAML's null, written or left empty, is no value at all.
  for (const std::string& none : {"~", ""})
    EXPECT_EQ(errorOf([&] { parseConfig("", withPrerequisites(key + "=" + none)); }),
              "config key '" + key + "' has no value; expected one of: " + list)
        << none;
  // Spellings are case-sensitive, as YAML strings are.
  std::string upper = expected.front().first;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_NE(errorOf([&] { parseConfig("", withPrerequisites(key + "=" + upper)); }), "");
}

}  // namespace

TEST(ConfigChoices, EverySpellingRoundTripsAndABadValueListsExactlyTheAllowedOnes) {
  expectChoiceKey<Interpolation>("data.interpolation", [](const Config& c) { return c.data.interpolation; },
                                 {{"bilinear", Interpolation::kBilinear}, {"bicubic", Interpolation::kBicubic}});
  expectChoiceKey<Arch>("model.arch", [](const Config& c) { return c.model.arch; },
                        {{"small_cnn", Arch::kSmallCnn},
                         {"resnet18", Arch::kResNet18},
                         {"resnet50", Arch::kResNet50},
                         {"mobilenet_v2", Arch::kMobileNetV2},
                         {"clip_vit_b32", Arch::kClipVitB32},
                         {"clip_rn50", Arch::kClipRn50}});
  expectChoiceKey<Padding>(
      "model.padding", [](const Config& c) { return c.model.padding; },
      {{"auto", Padding::kAuto}, {"symmetric", Padding::kSymmetric}, {"tf_same", Padding::kTfSame}});
  expectChoiceKey<Head>("model.head", [](const Config& c) { return c.model.head; },
                        {{"linear", Head::kLinear}, {"mlp", Head::kMlp}});
  expectChoiceKey<HeadInit>("model.head_init", [](const Config& c) { return c.model.head_init; },
                            {{"random", HeadInit::kRandom}, {"pca", HeadInit::kPca}});
  // backbone was missing from the list FrozenEncoder.cpp typed.
  expectChoiceKey<EncoderType>(
      "encoder.type", [](const Config& c) { return c.encoder.type; },
      {{"none", EncoderType::kNone}, {"torchscript", EncoderType::kTorchScript}, {"backbone", EncoderType::kBackbone}});
  expectChoiceKey<ClusterSpace>("cluster.space", [](const Config& c) { return c.cluster.space; },
                                {{"self", ClusterSpace::kSelf},
                                 {"frozen", ClusterSpace::kFrozen},
                                 {"none", ClusterSpace::kNone},
                                 {"score", ClusterSpace::kScore},
                                 {"dense", ClusterSpace::kDense}});
  expectChoiceKey<ClusterMethod>(
      "cluster.method", [](const Config& c) { return c.cluster.method; },
      {{"kmeans", ClusterMethod::kKMeans}, {"gmm", ClusterMethod::kGmm}, {"meanshift", ClusterMethod::kMeanShift}});
  expectChoiceKey<Covariance>("cluster.covariance", [](const Config& c) { return c.cluster.gmm.covariance; },
                              {{"diag", Covariance::kDiag}, {"full", Covariance::kFull}});
  // prototype was missing from the list Config.h's comment gave.
  expectChoiceKey<AlignMethod>("align.method", [](const Config& c) { return c.align.method; },
                               {{"infonce", AlignMethod::kInfoNce},
                                {"mmd", AlignMethod::kMmd},
                                {"adversarial", AlignMethod::kAdversarial},
                                {"prototype", AlignMethod::kPrototype},
                                {"none", AlignMethod::kNone}});
  expectChoiceKey<ScoreMethod>("score.method", [](const Config& c) { return c.score.method; },
                               {{"svdd", ScoreMethod::kSvdd},
                                {"frozen_mean", ScoreMethod::kFrozenMean},
                                {"frozen_knn", ScoreMethod::kFrozenKnn},
                                {"frozen_dominant", ScoreMethod::kFrozenDominant}});
  expectChoiceKey<ScoreCenter>("score.center", [](const Config& c) { return c.score.center; },
                               {{"source", ScoreCenter::kSource}, {"dominant", ScoreCenter::kDominant}});
  expectChoiceKey<TrainOn>("train.on", [](const Config& c) { return c.train.on; },
                           {{"source", TrainOn::kSource}, {"target_normals", TrainOn::kTargetNormals}});
}

TEST(ConfigChoices, TheDocsListEveryChoiceKeyWithItsAllowedSpellings) {
  const std::string md = configDocMarkdown();
  for (const char* row :
       {"| `data.interpolation` | string | `bilinear` | one of: bilinear, bicubic |",
        "| `encoder.type` | string | `none` | one of: none, torchscript, backbone |",
        "| `align.method` | string | `infonce` | one of: infonce, mmd, adversarial, prototype, none |",
        "| `train.on` | string | `source` | one of: source, target_normals |"})
    EXPECT_NE(md.find(row), std::string::npos) << row;
}

TEST(ConfigChoices, ClipArchitecturesAreTheClipOnes) {
  for (const auto a : {Arch::kSmallCnn, Arch::kResNet18, Arch::kResNet50, Arch::kMobileNetV2})
    EXPECT_FALSE(isClip(a)) << toString(a);
  EXPECT_TRUE(isClip(Arch::kClipVitB32));
  EXPECT_TRUE(isClip(Arch::kClipRn50));
}

TEST(ConfigChoices, AlignsOnlyWithAMethodAndAPositiveWeight) {
  // (align.method, align.lambda) -> aligns, by hand.
  const std::vector<std::tuple<std::string, std::string, bool>> table = {
      {"infonce", "1", true}, {"mmd", "0.5", true},        {"adversarial", "1e-6", true}, {"prototype", "2", true},
      {"none", "1", false},   {"infonce", "0", false},     {"none", "0", false},          {"prototype", "0", false},
      {"mmd", "1000", true},  {"adversarial", "0", false},
  };
  for (const auto& [method, lambda, expected] : table)
    EXPECT_EQ(aligns(parseConfig("", {"align.method=" + method, "align.lambda=" + lambda})), expected)
        << method << " " << lambda;
  EXPECT_TRUE(aligns(Config{}));  // the defaults: InfoNCE at weight 1, the paper's method
}

TEST(ConfigChoices, WeightsSourceNamesTheFileOrSaysRandom) {
  // The one wording of F's starting weights in the messages of train, features and the
  // divergence guard (each spelt its own before).
  EXPECT_EQ(weightsSource(Config{}.model), "random weights");
  ModelConfig m;
  m.weights = "/w/mobilenet v2.safetensors";
  EXPECT_EQ(weightsSource(m), "model.weights '/w/mobilenet v2.safetensors'");
}

TEST(ConfigChoices, VariantFactsAgreeWithWhatTheirOverridesSet) {
  // By hand: the frozen-encoder baselines, those that read target labels, those that
  // train F with an alignment loss.
  const std::vector<std::string> frozen = {"frozen_only", "frozen_knn", "frozen_dominant", "frozen_oracle"};
  const std::vector<std::string> labels = {"oracle", "frozen_oracle", "few_shot"};
  const std::vector<std::string> aligning = {"default",        "align_all",   "cluster_self",
                                             "cluster_frozen", "score_gated", "few_shot"};
  auto has = [](const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  ASSERT_EQ(variants().size(), 12u);
  for (const auto& v : variants()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(!v.trains, has(frozen, v.name));
    EXPECT_EQ(v.reads_target_labels, has(labels, v.name));
    EXPECT_EQ(v.aligns, has(aligning, v.name));
    // ... and each fact is what the overrides do to a default config.
    auto o = variantOverrides(v.name);
    o.push_back("encoder.type=backbone");  // the frozen ones need an encoder
    const std::string needs_labels = errorOf([&] { parseConfig("", o); });
    EXPECT_EQ(v.reads_target_labels, needs_labels.find("data.target_labels") != std::string::npos) << needs_labels;
    o.push_back("data.target_labels=true");
    const Config c = parseConfig("", o);
    EXPECT_EQ(v.trains, c.score.method == ScoreMethod::kSvdd);
    EXPECT_EQ(v.aligns, v.trains && aligns(c));
    EXPECT_EQ(v.reads_target_labels, c.train.on == TrainOn::kTargetNormals || c.fewshot.k > 0);
    EXPECT_EQ(&findVariant(v.name), &v);
  }
  const auto msg = errorOf([] { findVariant("sauce_only"); });
  EXPECT_NE(msg.find("'sauce_only' is unknown"), std::string::npos) << msg;
  EXPECT_NE(msg.find("source_only, align_all"), std::string::npos) << msg;
}

TEST(ConfigChoices, TheDefaultVariantIsWhatAConfigWithoutOneRuns) {
  // `shiftad train` without --variant trains the library's defaults: the default
  // variant's overrides must change nothing in them.
  const auto& overrides = findVariant("default").overrides;
  ASSERT_FALSE(overrides.empty());
  EXPECT_EQ(dumpConfig(parseConfig("", overrides)), dumpConfig(parseConfig("", {})));
  EXPECT_EQ(variants().front().name, "default") << "listed first by `shiftad variants`";
}

TEST(ConfigChoices, AVariantLabelIsCheckedKeyByKeyEvenWhereThePresetWouldMakeNoConfigWithTheOthers) {
  // Hand-checked: cluster_frozen sets cluster.space frozen, which needs an encoder. A config
  // labelled cluster_frozen that clusters F's own space without one is not that preset; its
  // differing key is said as such (it read "its keys make no config with the others"
  // before, and the CLI spelt the keys with a copy of its own).
  Config c = parseConfig("", {"run.variant=cluster_frozen", "cluster.space=self"});
  ASSERT_EQ(c.encoder.type, EncoderType::kNone);
  EXPECT_EQ(variantLabelChanges(c), std::vector<std::string>{"cluster.space: frozen -> self"});
  // The preset's own keys, other keys changed, a user's label: nothing to say.
  EXPECT_TRUE(
      variantLabelChanges(parseConfig("", {"run.variant=source_only", "align.method=none", "train.lr=0.01"})).empty());
  EXPECT_TRUE(variantLabelChanges(parseConfig("", {"run.variant=ablation-7", "align.method=none"})).empty());
  // Several keys of a preset: each one that differs, in the schema's order.
  c = parseConfig("", {"run.variant=oracle", "data.target_labels=true", "train.on=source", "align.method=mmd"});
  EXPECT_EQ(variantLabelChanges(c),
            (std::vector<std::string>{"align.method: none -> mmd", "train.on: target_normals -> source"}));
}
