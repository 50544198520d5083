// The frozen-feature cache (io/FeatureCache): an entry per file, so any list of files
// embedded before hits whatever its order, subset or repeats, and only new or edited
// files are embedded; invalidation, damaged entries and entries under the wrong name.
// The oracle of every row is a function of its file's name, computed here apart from
// the cache.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/FeatureCache.h"
#include "support/CapturedLog.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using namespace shiftad;

namespace {

/// The row an encoder would give a file: (number in its name, length of its name, 1).
torch::Tensor rowOf(const std::string& path) {
  const auto name = fs::path(path).stem().string();
  const auto digits = name.substr(name.find_first_of("0123456789"));
  return torch::tensor({std::stof(digits), static_cast<float>(name.size()), 1.0f});
}

torch::Tensor expectedRows(const std::vector<std::string>& files) {
  std::vector<torch::Tensor> rows;
  for (const auto& f : files) rows.push_back(rowOf(f));
  return torch::stack(rows);
}

/// `n` small files named img<i>.png under `dir`.
std::vector<std::string> makeFiles(const std::string& dir, int first, int n, const std::string& prefix = "img") {
  std::vector<std::string> files;
  for (int i = first; i < first + n; ++i) {
    files.push_back((fs::path(dir) / (prefix + std::to_string(i) + ".png")).string());
    test::writeFile(files.back(), "x");
  }
  return files;
}

/// A fake encoder that records what it is asked for.
struct Encoder {
  std::vector<std::vector<std::string>> calls;
  torch::Tensor operator()(const std::vector<std::string>& missing) {
    calls.push_back(missing);
    return expectedRows(missing);
  }
};

/// The cache's entry files, sorted.
std::vector<std::string> entriesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(FeatureCache, ComputesOnceAndInvalidatesOnChange) {
  test::TempDir tmp;
  test::writeFile(tmp / "a1.png", "a");
  test::writeFile(tmp / "b2.png", "bb");
  const std::vector<std::string> files = {tmp / "a1.png", tmp / "b2.png"};
  Encoder enc;
  const auto call = [&](const std::string& encoder) {
    return io::cachedFeatures(tmp / "cache", encoder, files, [&](const auto& m) { return enc(m); });
  };
  EXPECT_TRUE(torch::equal(call("enc-1"), expectedRows(files)));
  EXPECT_TRUE(torch::equal(call("enc-1"), expectedRows(files)));
  EXPECT_EQ(enc.calls.size(), 1u);
  EXPECT_EQ(entriesIn(tmp / "cache").size(), 2u) << "an entry per file";
  call("enc-2");  // another encoder
  ASSERT_EQ(enc.calls.size(), 2u);
  EXPECT_EQ(enc.calls[1], files);
  test::writeFile(tmp / "b2.png", "changed content");  // another size
  call("enc-1");
  ASSERT_EQ(enc.calls.size(), 3u);
  EXPECT_EQ(enc.calls[2], std::vector<std::string>{files[1]}) << "only the edited file";
  // Re-exported at the same size with the old mtime put back (rsync -a, cp -p, tar).
  const auto mtime = fs::last_write_time(tmp / "b2.png");
  test::writeFile(tmp / "b2.png", "CHANGED CONTENT");
  fs::last_write_time(tmp / "b2.png", mtime);
  call("enc-1");
  ASSERT_EQ(enc.calls.size(), 4u) << "stale features of an edited image";
  EXPECT_EQ(enc.calls[3], std::vector<std::string>{files[1]});
}

TEST(FeatureCache, AnEntryCorruptedInPlaceTornOrJunkIsRecomputedAndRewritten) {
  test::TempDir tmp;
  const auto files = makeFiles(tmp / "img", 0, 4);
  Encoder enc;
  const auto call = [&] {
    return io::cachedFeatures(tmp / "cache", "enc", files, [&](const auto& m) { return enc(m); });
  };
  call();
  const auto entries = entriesIn(tmp / "cache");
  ASSERT_EQ(entries.size(), 4u);
  test::writeFile(entries[0], "junk");  // not an entry
  std::string bytes;
  {
    std::ifstream in(entries[1], std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() - 1] ^= 0x40;  // a byte of the last float: size and header intact
  test::writeFile(entries[1], bytes);
  fs::resize_file(entries[2], 30);  // torn
  EXPECT_TRUE(torch::equal(call(), expectedRows(files)));
  ASSERT_EQ(enc.calls.size(), 2u);
  EXPECT_EQ(enc.calls[1].size(), 3u) << "the three damaged entries, and only they";
  EXPECT_TRUE(torch::equal(call(), expectedRows(files)));
  EXPECT_EQ(enc.calls.size(), 2u) << "and they were rewritten";
}

TEST(FeatureCache, AnEntryOfAnEarlierFormatVersionIsRecomputedQuietly) {
  // Version 1 held features of JPEGs libjpeg had filled with grey (data/JpegDecode.h):
  // its entries, checksums intact, are misses, recomputed without a damage warning.
  test::TempDir tmp;
  const auto files = makeFiles(tmp / "img", 0, 2);
  Encoder enc;
  const auto call = [&] {
    return io::cachedFeatures(tmp / "cache", "enc", files, [&](const auto& m) { return enc(m); });
  };
  call();
  const auto entries = entriesIn(tmp / "cache");
  ASSERT_EQ(entries.size(), 2u);
  std::string bytes = test::readText(entries[0]);
  ASSERT_EQ(bytes.substr(0, 8), "SHIFTF32");
  bytes[8] = 1;  // the format version; the checksum does not cover the header
  test::writeFile(entries[0], bytes);
  const test::CapturedLog log;
  EXPECT_TRUE(torch::equal(call(), expectedRows(files)));
  ASSERT_EQ(enc.calls.size(), 2u);
  EXPECT_EQ(enc.calls[1].size(), 1u) << "that entry's file, and only it";
  EXPECT_EQ(log.text().find("damaged"), std::string::npos) << log.text();
  EXPECT_TRUE(torch::equal(call(), expectedRows(files)));
  EXPECT_EQ(enc.calls.size(), 2u) << "and it was rewritten in the current version";
}

TEST(FeatureCache, AnEntryCopiedUnderAnotherEntrysNameOrAnotherEncodersIsAMiss) {
  test::TempDir tmp;
  const auto a = makeFiles(tmp / "img", 1, 1).front();
  const auto b = makeFiles(tmp / "img", 2, 1).front();
  Encoder enc;
  const auto call = [&](const std::string& file, const std::string& encoder) {
    return io::cachedFeatures(tmp / "cache", encoder, {file}, [&](const auto& m) { return enc(m); });
  };
  call(a, "enc");
  const auto a_entry = entriesIn(tmp / "cache").at(0);
  call(b, "enc");
  call(a, "enc-2");
  for (const auto& e : entriesIn(tmp / "cache"))
    if (e != a_entry) fs::copy_file(a_entry, e, fs::copy_options::overwrite_existing);
  // b's entry and enc-2's entry of a now hold enc's (valid) row of a: a bad merge or
  // restore of a cache folder.
  EXPECT_TRUE(torch::equal(call(b, "enc"), expectedRows({b})));
  EXPECT_TRUE(torch::equal(call(a, "enc-2"), expectedRows({a})));
  EXPECT_EQ(enc.calls.size(), 5u) << "another file's or encoder's features were served";
}

TEST(FeatureCache, AnyListOfEmbeddedFilesHitsWhateverItsOrderSubsetOrRepeatsAndOnlyNewFilesAreEmbedded) {
  test::TempDir tmp;
  const auto files = makeFiles(tmp / "img", 0, 300);
  Encoder enc;
  const auto call = [&](const std::vector<std::string>& list) {
    return io::cachedFeatures(tmp / "cache", "enc", list, [&](const auto& m) { return enc(m); });
  };
  // Cold, in the caller's order (reversed, one file twice): the encoder sees that order,
  // each file once, as an uncached call would have embedded them.
  auto reversed = files;
  std::reverse(reversed.begin(), reversed.end());
  reversed.push_back(files[7]);
  EXPECT_TRUE(torch::equal(call(reversed), expectedRows(reversed)));
  ASSERT_EQ(enc.calls.size(), 1u);
  EXPECT_EQ(enc.calls[0], std::vector<std::string>(reversed.begin(), reversed.end() - 1));

  // A shuffled third of them with a repeat: another split of the same pool.
  std::vector<std::string> subset;
  for (size_t i = 0; i < files.size(); i += 3) subset.push_back(files[i]);
  std::shuffle(subset.begin(), subset.end(), std::mt19937(3));
  subset.push_back(subset[5]);
  EXPECT_TRUE(torch::equal(call(subset), expectedRows(subset)));
  EXPECT_EQ(enc.calls.size(), 1u) << "every file was embedded before";

  // Grown by two new images: those two are embedded, in the caller's order.
  auto grown = subset;
  const auto added = makeFiles(tmp / "img", 1000, 2);
  grown.insert(grown.begin() + 10, added[1]);
  grown.push_back(added[0]);
  EXPECT_TRUE(torch::equal(call(grown), expectedRows(grown)));
  ASSERT_EQ(enc.calls.size(), 2u);
  EXPECT_EQ(enc.calls[1], (std::vector<std::string>{added[1], added[0]}));
}

TEST(FeatureCache, UnreadableFilesComeBackAsZerosOfTheValidRowsWidth) {
  // An encoder that could read none of its files returns one-column zeros; those are
  // cached as invalid rows and come back beside real rows at the real rows' width.
  test::TempDir tmp;
  const auto bad = makeFiles(tmp / "img", 0, 5, "bad");
  const auto good = makeFiles(tmp / "img", 0, 5, "good");
  const std::set<std::string> unreadable(bad.begin(), bad.end());
  int calls = 0;
  const auto compute = [&](const std::vector<std::string>& missing) {
    ++calls;
    const auto n = static_cast<int64_t>(missing.size());
    io::FeatureRows rows{torch::zeros({n, 1}), torch::zeros({n}, torch::kUInt8)};
    bool any = false;
    for (const auto& f : missing) any = any || !unreadable.count(f);
    if (!any) return rows;
    rows.features = torch::zeros({n, 3});
    for (int64_t i = 0; i < n; ++i)
      if (!unreadable.count(missing[static_cast<size_t>(i)])) {
        rows.features[i] = rowOf(missing[static_cast<size_t>(i)]);
        rows.valid[i] = 1;
      }
    return rows;
  };
  const auto first = io::cachedFeatureRows(tmp / "cache", "enc", bad, compute);
  EXPECT_EQ(first.features.size(1), 1);
  EXPECT_EQ(first.valid.sum().item<int64_t>(), 0);
  // Bad and good interleaved: the bad ones are read (invalid), the good ones embedded.
  std::vector<std::string> all;
  for (size_t i = 0; i < bad.size(); ++i) all.insert(all.end(), {good[i], bad[i]});
  for (int pass = 0; pass < 2; ++pass) {  // embedded, then all read from the cache
    const auto rows = io::cachedFeatureRows(tmp / "cache", "enc", all, compute);
    ASSERT_EQ(rows.features.size(1), 3);
    for (size_t i = 0; i < all.size(); ++i) {
      const auto at = static_cast<int64_t>(i);
      const bool is_good = i % 2 == 0;
      EXPECT_EQ(rows.valid[at].item<int>(), is_good ? 1 : 0) << all[i];
      EXPECT_TRUE(torch::equal(rows.features[at], is_good ? rowOf(all[i]) : torch::zeros({3}))) << all[i];
    }
  }
  EXPECT_EQ(calls, 2) << "once for the bad files, once for the good; the second pass read every row";
  // Only invalid rows (all read from the cache): zeros one column wide, as computed.
  const auto again = io::cachedFeatureRows(tmp / "cache", "enc", bad, compute);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(again.features.size(1), 1);
  EXPECT_EQ(again.valid.sum().item<int64_t>(), 0);
}
