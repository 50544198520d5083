// trimCache: the disk caches within a size, least recently used entries first, nothing
// but the cache's own entries ever removed.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/CacheTrim.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// A file of `bytes` whose modification time is `age` seconds before now.
void entry(const std::string& path, size_t bytes, int age) {
  shiftad::test::writeFile(path, std::string(bytes, 'x'));
  fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::seconds(age));
}

}  // namespace

TEST(CacheTrim, TheLeastRecentlyUsedEntriesGoUntilNinetyPercentAndNothingElse) {
  TempDir tmp;
  const auto root = tmp.path();
  entry(tmp / "images/224-bilinear/ab/old.u8", 1000, 400);
  entry(tmp / "images/224-bilinear/cd/older.u8", 1000, 500);
  entry(tmp / "images/224-bilinear/cd/new.u8", 1000, 10);
  entry(tmp / "features-aaaa.safetensors", 1000, 300);
  entry(tmp / "features-bbbb.safetensors", 1000, 20);
  entry(tmp / "features/0123456789abcdef/ef/row.f32", 1000, 450);
  // Not the cache's: a user's files, whatever their age and size.
  entry(tmp / "notes.txt", 5000, 900);
  entry(tmp / "images/README.u8", 5000, 900);
  entry(tmp / "features-x.safetensors.tmp-1", 5000, 900);
  entry(tmp / "features/README.f32", 5000, 900);
  const auto none = shiftad::trimCache(root, 0);
  EXPECT_EQ(none.entries, 0u) << "0: no limit";
  EXPECT_EQ(none.kept_bytes, 6000u) << "the six entries, and only them";
  EXPECT_EQ(shiftad::trimCache(root, 6000).entries, 0u) << "within the limit";
  // 4000: down to 3600, i.e. the three oldest entries go (older.u8, row.f32, old.u8).
  shiftad::touchCacheEntry(tmp / "features-aaaa.safetensors");  // read just now: kept
  const auto r = shiftad::trimCache(root, 4000);
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(r.bytes, 3000u);
  EXPECT_EQ(r.kept_bytes, 3000u);
  EXPECT_FALSE(fs::exists(tmp / "images/224-bilinear/cd/older.u8"));
  EXPECT_FALSE(fs::exists(tmp / "images/224-bilinear/ab/old.u8"));
  EXPECT_FALSE(fs::exists(tmp / "features/0123456789abcdef/ef/row.f32"));
  for (const char* kept : {"images/224-bilinear/cd/new.u8", "features-aaaa.safetensors", "features-bbbb.safetensors",
                           "notes.txt", "images/README.u8", "features-x.safetensors.tmp-1", "features/README.f32"})
    EXPECT_TRUE(fs::exists(tmp / kept)) << kept;
  EXPECT_EQ(shiftad::trimCache(tmp / "missing", 1).entries, 0u) << "no cache yet: nothing to do";
}

TEST(CacheTrim, TemporariesThatKilledWritersLeftGoWhateverTheLimitAndNoOneElses) {
  TempDir tmp;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  const auto dead = std::to_string(child);
  entry(tmp / "images/224-bilinear/ab/a.u8", 1000, 10);
  entry(tmp / ("images/224-bilinear/ab/b.u8.tmp-" + dead + ".77"), 1000, 900);
  entry(tmp / ("features-aaaa.safetensors.tmp-" + dead + ".3"), 1000, 900);
  entry(tmp / ("features-bbbb.safetensors.tmp-" + dead), 1000, 900);
  entry(tmp / ("features/0123456789abcdef/ef/row.f32.tmp-" + dead + ".4"), 1000, 900);
  // Kept: a live writer's, a recent one's (perhaps of another host), not the cache's.
  entry(tmp / "images/224-bilinear/ab/c.u8.tmp-1.5", 1000, 900);
  entry(tmp / ("images/224-bilinear/ab/d.u8.tmp-" + dead + ".5"), 1000, 60);
  entry(tmp / ("notes.txt.tmp-" + dead), 1000, 900);
  const auto r = shiftad::trimCache(tmp.path(), 1u << 30);
  EXPECT_EQ(r.stale_temporaries, 4u);
  EXPECT_EQ(r.entries, 0u);
  EXPECT_EQ(r.kept_bytes, 1000u) << "a temporary is never counted as an entry";
  EXPECT_FALSE(fs::exists(tmp / ("images/224-bilinear/ab/b.u8.tmp-" + dead + ".77")));
  EXPECT_FALSE(fs::exists(tmp / ("features-aaaa.safetensors.tmp-" + dead + ".3")));
  EXPECT_FALSE(fs::exists(tmp / ("features-bbbb.safetensors.tmp-" + dead)));
  EXPECT_FALSE(fs::exists(tmp / ("features/0123456789abcdef/ef/row.f32.tmp-" + dead + ".4")));
  for (const std::string& kept :
       std::vector<std::string>{"images/224-bilinear/ab/a.u8", "images/224-bilinear/ab/c.u8.tmp-1.5",
                                "images/224-bilinear/ab/d.u8.tmp-" + dead + ".5", "notes.txt.tmp-" + dead})
    EXPECT_TRUE(fs::exists(tmp / kept)) << kept;
}
