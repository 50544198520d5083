// The one-vs-all protocol: invariants, determinism, errors, and the Python reference.
#include <algorithm>
#include <filesystem>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/Error.h"
#include "data/Protocol.h"
#include "support/TestSupport.h"

using shiftad::data::ImageRecord;
using shiftad::data::makeSplit;
using shiftad::data::ProtocolParams;
using shiftad::data::ProtocolSplit;
using shiftad::data::TrainingImages;
using shiftad::test::errorOf;

// Training sees paths only: two lists of strings and nothing else.
static_assert(std::is_same_v<decltype(TrainingImages::source), std::vector<std::string>>);
static_assert(std::is_same_v<decltype(TrainingImages::pool), std::vector<std::string>>);
static_assert(sizeof(TrainingImages) == 2 * sizeof(std::vector<std::string>), "TrainingImages must carry no labels");

namespace {

std::vector<ImageRecord> domain(const std::string& prefix, const std::map<std::string, int>& counts) {
  std::vector<ImageRecord> out;
  for (const auto& [cls, n] : counts)
    for (int i = 0; i < n; ++i) out.push_back({fmt::format("{}/{}/{:03d}.png", prefix, cls, i), cls});
  return out;
}

// Class of a path "t/CLS/III.png".
std::string classOf(const std::string& path) {
  const auto a = path.find('/') + 1;
  return path.substr(a, path.find('/', a) - a);
}

ProtocolParams params(double fraction, double contamination, int seed) {
  ProtocolParams p;
  p.normal_class = "n";
  p.pool_fraction = fraction;
  p.contamination = contamination;
  p.seed = seed;
  return p;
}

void expectError(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected shiftad::Error";
  } catch (const shiftad::Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n lacks: " << p;
  }
}

const std::map<std::string, int> kTarget = {{"n", 41}, {"a", 30}, {"b", 25}, {"c", 7}};
const auto kSource = domain("s", {{"n", 20}, {"a", 10}});

}  // namespace

TEST(Protocol, PoolAndTestAreDisjointAndKeepEveryNormalImage) {
  const auto target = domain("t", kTarget);
  const ProtocolSplit s = makeSplit(kSource, target, params(0.5, 0.1, 7));
  std::set<std::string> all_target;
  for (const auto& r : target) all_target.insert(r.path);
  std::set<std::string> pool(s.train.pool.begin(), s.train.pool.end()), test(s.test.paths.begin(), s.test.paths.end());
  EXPECT_EQ(pool.size(), s.train.pool.size()) << "duplicate in pool";
  EXPECT_EQ(test.size(), s.test.paths.size()) << "duplicate in test";
  for (const auto& p : pool) {
    EXPECT_TRUE(all_target.count(p)) << p;
    EXPECT_FALSE(test.count(p)) << "in pool and test: " << p;
  }
  for (const auto& p : test) EXPECT_TRUE(all_target.count(p)) << p;
  // Every normal target image is in exactly one of pool and test; anomalies not
  // drawn into the pool are the only ones left out.
  for (const auto& r : target)
    if (r.cls == "n") {
      EXPECT_EQ(pool.count(r.path) + test.count(r.path), 1u) << r.path;
    }
}

TEST(Protocol, TestKeepsItsPerClassShareAndLabels) {
  const ProtocolSplit s = makeSplit(kSource, domain("t", kTarget), params(0.3, 0.2, 1));
  std::map<std::string, int> per_class;
  ASSERT_EQ(s.test.paths.size(), s.test.is_anomaly.size());
  for (size_t i = 0; i < s.test.paths.size(); ++i) {
    const std::string cls = classOf(s.test.paths[i]);
    ++per_class[cls];
    EXPECT_EQ(s.test.is_anomaly[i], cls == "n" ? 0 : 1) << s.test.paths[i];
  }
  for (const auto& [cls, n] : kTarget) EXPECT_EQ(per_class[cls], n - std::llround(0.3 * n)) << cls;
}

TEST(Protocol, PoolContaminationMatchesWithinOneImage) {
  for (double c : {0.0, 0.05, 0.1, 0.2, 0.35}) {
    const ProtocolSplit s = makeSplit(kSource, domain("t", kTarget), params(0.5, c, 3));
    ASSERT_EQ(s.pool_truth.paths, s.train.pool);
    int n_anom = 0, n_norm = 0;
    for (size_t i = 0; i < s.pool_truth.paths.size(); ++i) {
      const bool anomaly = classOf(s.pool_truth.paths[i]) != "n";
      EXPECT_EQ(s.pool_truth.is_anomaly[i], anomaly ? 1 : 0);
      (anomaly ? n_anom : n_norm)++;
    }
    EXPECT_EQ(n_norm, std::llround(0.5 * 41)) << "all normal images of the pool share";
    EXPECT_LE(std::abs(n_anom - c * (n_anom + n_norm)), 1.0) << "contamination " << c;
    EXPECT_EQ(n_anom, std::llround(c * n_norm / (1 - c)));
  }
}

TEST(Protocol, ContaminationIsCappedByAvailableAnomalies) {
  // Pool share of anomalies: round(0.5*3) + round(0.5*2) = 3; 0.9 would need 36.
  const ProtocolSplit s = makeSplit(kSource, domain("t", {{"n", 8}, {"a", 3}, {"b", 2}}), params(0.5, 0.9, 0));
  const int n_anom = static_cast<int>(std::count(s.pool_truth.is_anomaly.begin(), s.pool_truth.is_anomaly.end(), 1));
  EXPECT_EQ(n_anom, 3);
  EXPECT_EQ(s.train.pool.size(), 7u);
}

TEST(Protocol, SourceIsTheSortedNormalClassOnly) {
  auto src = kSource;
  std::reverse(src.begin(), src.end());
  const ProtocolSplit s = makeSplit(src, domain("t", kTarget), params(0.5, 0.1, 0));
  ASSERT_EQ(s.train.source.size(), 20u);
  EXPECT_TRUE(std::is_sorted(s.train.source.begin(), s.train.source.end()));
  for (const auto& p : s.train.source) EXPECT_EQ(p.rfind("s/n/", 0), 0u) << p;
}

TEST(Protocol, PoolOrderLeaksNoLabel) {
  const ProtocolSplit s = makeSplit(kSource, domain("t", kTarget), params(0.5, 0.2, 5));
  const auto& y = s.pool_truth.is_anomaly;
  EXPECT_FALSE(std::is_sorted(y.begin(), y.end())) << "anomalies all after the normal images";
  EXPECT_FALSE(std::is_sorted(y.rbegin(), y.rend())) << "anomalies all before the normal images";
}

TEST(Protocol, DeterministicPerSeedAndIndependentOfInputOrder) {
  const auto target = domain("t", kTarget);
  auto shuffled = target;
  std::mt19937 g(123);
  std::shuffle(shuffled.begin(), shuffled.end(), g);
  const ProtocolSplit a = makeSplit(kSource, target, params(0.5, 0.1, 11));
  const ProtocolSplit b = makeSplit(kSource, shuffled, params(0.5, 0.1, 11));
  EXPECT_EQ(a.train.pool, b.train.pool);
  EXPECT_EQ(a.test.paths, b.test.paths);
  EXPECT_EQ(a.test.is_anomaly, b.test.is_anomaly);
  const ProtocolSplit c = makeSplit(kSource, target, params(0.5, 0.1, 12));
  EXPECT_NE(a.train.pool, c.train.pool);
  EXPECT_NE(std::set<std::string>(a.test.paths.begin(), a.test.paths.end()),
            std::set<std::string>(c.test.paths.begin(), c.test.paths.end()));
}

// The exact split equals an independent pure-Python implementation of the documented
// algorithm (MT19937-64 + rejection-sampled Fisher-Yates), so it is reproducible anywhere.
TEST(Protocol, MatchesPythonReference) {
  for (const auto& [seed, fraction, contamination] :
       std::vector<std::tuple<int, double, double>>{{0, 0.5, 0.1}, {42, 0.3, 0.25}, {-7, 0.7, 0.05}}) {
    const ProtocolSplit s = makeSplit(kSource, domain("t", kTarget), params(fraction, contamination, seed));
    std::ostringstream got;
    for (size_t i = 0; i < s.pool_truth.paths.size(); ++i)
      got << "pool " << s.pool_truth.paths[i] << " " << s.pool_truth.is_anomaly[i] << "\n";
    for (size_t i = 0; i < s.test.paths.size(); ++i)
      got << "test " << s.test.paths[i] << " " << s.test.is_anomaly[i] << "\n";
    const std::string ref = shiftad::test::runPython(
        "data_protocol_split.py", fmt::format("{} {} {} n n:41,a:30,b:25,c:7", seed, fraction, contamination));
    EXPECT_EQ(got.str(), ref) << "seed " << seed;
  }
}

TEST(Protocol, MissingNormalClassNamesDomainAndClassesFound) {
  const auto target = domain("t", kTarget);
  auto p = params(0.5, 0.1, 0);
  p.normal_class = "zebra";
  expectError([&] { makeSplit(kSource, target, p); }, {"'zebra'", "source domain", "classes found: 'a', 'n'"});
  expectError(
      [&] {
        makeSplit(domain("s", {{"zebra", 3}}), target, p);
      },
      {"'zebra'", "target domain", "'a', 'b', 'c', 'n'"});
  // Names that look like the one asked for: a trailing blank, another case, accents as
  // separate marks (NFD, "cafe" + U+0301, as macOS writes folder names) against one letter.
  p.normal_class = "circle";
  expectError(
      [&] {
        makeSplit(domain("s", {{"circle ", 3}, {"n", 3}}), target, p);
      },
      {"classes found: 'circle ', 'n' ('circle ' differs from it in blanks only)"});
  expectError(
      [&] {
        makeSplit(domain("s", {{"Circle", 3}, {"n", 3}}), target, p);
      },
      {"('Circle' differs from it in case only)"});
  p.normal_class = "caf\xC3\xA9";
  expectError(
      [&] {
        makeSplit(domain("s", {{"cafe\xCC\x81", 3}, {"n", 3}}), target, p);
      },
      {"accents are written as separate marks"});
  const std::string hidden =
      "(a hidden folder: names starting with '.', and system folders such as __MACOSX and lost+found, are never read)";
  for (const char* name : {".circle", "lost+found"}) {  // a hidden folder exists on disk but is never listed
    p.normal_class = name;
    expectError([&] { makeSplit(kSource, target, p); }, {"'" + std::string(name) + "'", hidden});
  }
}

TEST(Protocol, BadParametersAreErrors) {
  const auto target = domain("t", kTarget);
  for (double f : {0.0, 1.0, -0.5, 1.5, std::nan("")})
    expectError([&] { makeSplit(kSource, target, params(f, 0.1, 0)); }, {"data.pool_fraction", "(0, 1)"});
  for (double c : {-0.1, 1.0, 2.0, std::nan("")})
    expectError([&] { makeSplit(kSource, target, params(0.5, c, 0)); }, {"data.contamination", "[0, 1)"});
}

TEST(Protocol, EmptyPoolOrTestAreErrors) {
  // One normal image cannot be in both: no pool_fraction helps, so none is advised.
  for (double f : {0.1, 0.5, 0.9}) {
    const auto msg = errorOf([&] { makeSplit(kSource, domain("t", {{"n", 1}, {"a", 4}}), params(f, 0.1, 0)); });
    EXPECT_NE(msg.find("class 'n' has 1 target image; the protocol needs at least 2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("pool_fraction"), std::string::npos) << msg;
  }
  // Two: round(0.9 * 2) = 2 go to the pool, none is left for the test.
  expectError(
      [&] {
        makeSplit(kSource, domain("t", {{"n", 2}, {"a", 4}}), params(0.9, 0.1, 0));
      },
      {"test split", "'n'", "lower data.pool_fraction"});
  expectError(
      [&] {
        makeSplit(kSource, domain("t", {{"n", 3}, {"a", 4}}), params(0.1, 0.1, 0));
      },
      {"pool would be empty", "'n'"});
  // Only the normal class in the target: no pool_fraction gives the test split an anomaly.
  expectError(
      [&] {
        makeSplit(kSource, domain("t", {{"n", 10}}), params(0.5, 0.1, 0));
      },
      {"holds only class 'n'", "add anomaly classes"});
  // An anomaly class whose one image goes to the pool (round(0.5) = 1): lowering pool_fraction helps.
  expectError(
      [&] {
        makeSplit(kSource, domain("t", {{"n", 10}, {"a", 1}}), params(0.5, 0.1, 0));
      },
      {"no anomaly", "lower data.pool_fraction"});
}

TEST(Protocol, ADomainNameIsTheSameHoweverSpelled) {
  for (const char* spelling : {"source", "source/", "./source", "source//", "a/../source"})
    EXPECT_TRUE(shiftad::data::sameDomainName("source", spelling)) << spelling;
  for (const char* other : {"target", "sources", "source/x", "../source"})
    EXPECT_FALSE(shiftad::data::sameDomainName("source", other)) << other;
}

TEST(Protocol, SharedFilesAreTestImagesThatTrainingAlsoReads) {
  namespace fs = std::filesystem;
  shiftad::test::TempDir tmp;
  const std::string a = tmp / "a.png", b = tmp / "b.png", c = tmp / "c.png";
  for (const auto& p : {a, b, c}) shiftad::test::writeFile(p, "same bytes");  // content is not compared here
  fs::create_symlink(a, tmp / "to_a.png");
  fs::create_hard_link(b, tmp / "also_b.png");
  ProtocolSplit split;
  split.train.source = {a, tmp / "absent.png"};
  split.train.pool = {b};
  split.test.paths = {c, tmp / "to_a.png", tmp / "also_b.png", tmp / "absent.png"};
  const auto shared = shiftad::data::sharedFiles(split);
  ASSERT_EQ(shared.size(), 3u);
  EXPECT_EQ(shared[0].test, tmp / "to_a.png");
  EXPECT_EQ(shared[0].training, a);
  EXPECT_EQ(shared[1].training, b) << "a hard link into the pool";
  EXPECT_EQ(shared[2].test, tmp / "absent.png") << "not stat'able: compared by path";
  const auto why = shiftad::data::leakProblem(split, "s", "t");
  EXPECT_NE(why.find("3 test image(s) of data.target 't' are also training images"), std::string::npos) << why;
  EXPECT_NE(why.find("'" + tmp / "to_a.png" + "' is '" + a + "'"), std::string::npos) << why;
  EXPECT_NE(shiftad::data::leakProblem(split, "s", "s").find("both 's'"), std::string::npos);

  split.test.paths = {c};
  EXPECT_TRUE(shiftad::data::sharedFiles(split).empty());
  EXPECT_EQ(shiftad::data::leakProblem(split, "s", "t"), "");
}

TEST(Protocol, ALabelledFolderIsLabelledByItsClassFoldersAndNeedsTheNormalClassAndAnother) {
  const auto held = domain("held", {{"circle", 2}, {"ring", 1}, {"square", 1}});
  const auto test = shiftad::data::labelledImages(held, "circle", "data.test_images 'held'");
  ASSERT_EQ(test.paths.size(), 4u);
  for (size_t i = 0; i < held.size(); ++i) {
    EXPECT_EQ(test.paths[i], held[i].path);
    EXPECT_EQ(test.is_anomaly[i], held[i].cls == "circle" ? 0 : 1) << held[i].path;
  }
  const auto no_normal = errorOf([&] { shiftad::data::labelledImages(held, "star", "data.test_images 'held'"); });
  EXPECT_NE(no_normal.find("data.test_images 'held' has no folder of the normal class 'star'"), std::string::npos)
      << no_normal;
  EXPECT_NE(no_normal.find("circle"), std::string::npos) << no_normal;  // the classes it has
  const auto only = domain("held", {{"circle", 3}});
  const auto alone = errorOf([&] { shiftad::data::labelledImages(only, "circle", "data.test_images 'held'"); });
  EXPECT_NE(alone.find("holds only the normal class 'circle'"), std::string::npos) << alone;
}
