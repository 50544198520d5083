// The C API (include/shiftad/shiftad_c.h), through libshiftad.so as programs link it:
// its scores against the C++ API's on the same detector, errors as status codes and
// messages (never exceptions), the last error per thread, and handles used from
// several threads. (tests/deploy checks it against the `shiftad score` command.)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "shiftad/shiftad.h"
#include "shiftad/shiftad_c.h"
#include "support/SyntheticRuns.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

/// A tiny detector trained once for this binary (a few seconds).
const std::string& runDir() {
  static TempDir tmp;
  static const std::string dir = [] {
    shiftad::setThreads(1);
    shiftad::Config c = shiftad::test::protocolOf(shiftad::test::synthRoot(), "circle");
    c.model.width = 8;
    c.train.epochs = 1;
    c.train.batch_size = 16;
    shiftad::Detector::fit(c, tmp / "run");
    return tmp / "run";
  }();
  return dir;
}

/// Images of another class, sorted.
std::vector<std::string> someImages(size_t n) {
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(shiftad::test::synthRoot() + "/target/square"))
    paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  paths.resize(n);
  return paths;
}

/// A w x h RGB pattern, rows `stride` bytes apart (padding filled with junk).
std::vector<unsigned char> pattern(int w, int h, size_t stride, int seed) {
  std::vector<unsigned char> px(stride * static_cast<size_t>(h), 0xEE);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < 3 * w; ++x)
      px[static_cast<size_t>(y) * stride + x] = static_cast<unsigned char>((x * 7 + y * 13 + seed * 31) % 251);
  return px;
}

struct Handle {
  shiftad_detector* p = shiftad_load(runDir().c_str());
  ~Handle() { shiftad_free(p); }
};

}  // namespace

TEST(CApi, ScoresImagesInMemoryAsTheCppApiDoes) {
  Handle h;
  ASSERT_NE(h.p, nullptr) << shiftad_last_error();
  const auto a = pattern(40, 30, 3 * 40, 1), b = pattern(50, 70, 3 * 50 + 5, 2);
  const shiftad_image images[2] = {{40, 30, 0, a.data()}, {50, 70, 3 * 50 + 5, b.data()}};
  shiftad_result results[2];
  ASSERT_EQ(shiftad_score_images(h.p, images, 2, results), SHIFTAD_OK) << shiftad_last_error();
  EXPECT_STREQ(shiftad_last_error(), "");

  auto cpp = shiftad::Detector::load(runDir());
  const auto expected =
      cpp.score(std::vector<shiftad::ImageView>{{40, 30, 0, a.data()}, {50, 70, 3 * 50 + 5, b.data()}});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(results[i].scored, 1);
    EXPECT_DOUBLE_EQ(results[i].score, expected[i]);
  }
  EXPECT_NE(results[0].score, results[1].score);  // the two images are told apart
  EXPECT_EQ(shiftad_input_size(h.p), cpp.config().data.image_size);
}

TEST(CApi, ScoresFilesInOrderAndMarksAnUnreadableOne) {
  TempDir tmp;
  auto paths = someImages(10);  // 1 unreadable in 12: within data.max_skipped (10%)
  shiftad::test::writeFile(tmp / "broken.png", "not a png");
  paths.insert(paths.begin() + 2, tmp / "broken.png");
  paths.push_back(paths[0]);  // listed twice: scored twice
  std::vector<const char*> c_paths;
  for (const auto& p : paths) c_paths.push_back(p.c_str());
  std::vector<shiftad_result> results(paths.size());

  Handle h;
  ASSERT_EQ(shiftad_score_files(h.p, c_paths.data(), c_paths.size(), results.data()), SHIFTAD_OK)
      << shiftad_last_error();
  const auto expected = shiftad::Detector::load(runDir()).score(someImages(10));
  ASSERT_EQ(expected.scores.size(), 10u);
  size_t next = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i == 2) {
      EXPECT_EQ(results[i].scored, 0);
      EXPECT_TRUE(std::isnan(results[i].score));
      continue;
    }
    EXPECT_EQ(results[i].scored, 1) << paths[i];
    EXPECT_DOUBLE_EQ(results[i].score, expected.scores[i + 1 == paths.size() ? 0 : next++].score) << paths[i];
  }
}

namespace {

struct LogLines {
  std::mutex m;
  std::vector<std::pair<int, std::string>> lines;
  static void take(int level, const char* message, void* user_data) {
    auto* self = static_cast<LogLines*>(user_data);
    const std::lock_guard<std::mutex> lock(self->m);
    self->lines.emplace_back(level, message);
  }
};

}  // namespace

TEST(CApi, LogLinesGoToTheCallbackAtTheLevelAsked) {
  // A C, Python or Go host had no way to silence or route them (only spdlog, in C++).
  TempDir tmp;
  shiftad::test::writeFile(tmp / "broken.png", "not a png");
  const auto good = someImages(1)[0], broken = tmp / "broken.png";
  const char* paths[] = {good.c_str(), broken.c_str()};
  shiftad_result results[2];
  Handle h;
  LogLines got;
  ASSERT_EQ(shiftad_set_log(&LogLines::take, &got, SHIFTAD_LOG_WARNING), SHIFTAD_OK);
  ASSERT_EQ(shiftad_score_files(h.p, paths, 2, results), SHIFTAD_OK) << shiftad_last_error();
  ASSERT_EQ(got.lines.size(), 1u);
  EXPECT_EQ(got.lines[0].first, SHIFTAD_LOG_WARNING);
  EXPECT_NE(got.lines[0].second.find(tmp / "broken.png"), std::string::npos) << got.lines[0].second;
  got.lines.clear();
  ASSERT_EQ(shiftad_set_log(&LogLines::take, &got, SHIFTAD_LOG_NONE), SHIFTAD_OK);
  ASSERT_EQ(shiftad_score_files(h.p, paths, 2, results), SHIFTAD_OK);
  EXPECT_TRUE(got.lines.empty());
  EXPECT_EQ(shiftad_set_log(&LogLines::take, &got, 4), SHIFTAD_ERROR);
  EXPECT_NE(std::string(shiftad_last_error()).find("min_level = 4"), std::string::npos) << shiftad_last_error();
  // NULL: stderr again.
  ASSERT_EQ(shiftad_set_log(nullptr, nullptr, SHIFTAD_LOG_INFO), SHIFTAD_OK);
  testing::internal::CaptureStderr();
  ASSERT_EQ(shiftad_score_files(h.p, paths, 2, results), SHIFTAD_OK);
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(tmp / "broken.png"), std::string::npos) << err;
  EXPECT_TRUE(got.lines.empty());
}

namespace {

/// A callback that, on its first line, scores an unreadable file on another handle: a
/// call into the library that logs a line of its own from inside the callback.
struct ReentrantLog {
  shiftad_detector* other = nullptr;
  std::string missing;
  std::vector<std::string> lines;
  int nested_status = -1;
  static void take(int, const char* message, void* user_data) {
    auto* self = static_cast<ReentrantLog*>(user_data);
    self->lines.emplace_back(message);
    if (self->lines.size() != 1) return;
    const char* path = self->missing.c_str();
    shiftad_result r;
    self->nested_status = shiftad_score_files(self->other, &path, 1, &r);
  }
};

}  // namespace

TEST(CApi, ALogCallbackMayCallTheLibraryAndItsLinesComeBackToIt) {
  // The callback ran under the sink's lock, so the nested call's own log line waited on
  // the same thread for that lock: a hang (a failure by the test's timeout).
  TempDir tmp;
  Handle h, other;
  ReentrantLog log;
  log.other = other.p;
  log.missing = tmp / "nested-missing.png";
  const auto first = tmp / "first-missing.png";
  const char* path = first.c_str();
  shiftad_result r;
  ASSERT_EQ(shiftad_set_log(&ReentrantLog::take, &log, SHIFTAD_LOG_WARNING), SHIFTAD_OK);
  const int status = shiftad_score_files(h.p, &path, 1, &r);
  ASSERT_EQ(shiftad_set_log(nullptr, nullptr, SHIFTAD_LOG_INFO), SHIFTAD_OK);
  EXPECT_EQ(status, SHIFTAD_OK);
  EXPECT_EQ(log.nested_status, SHIFTAD_OK);
  ASSERT_EQ(log.lines.size(), 2u);
  EXPECT_NE(log.lines[0].find(first), std::string::npos) << log.lines[0];
  EXPECT_NE(log.lines[1].find(log.missing), std::string::npos) << log.lines[1];
}

namespace {

/// A callback that calls the library back on the handle whose call is logging.
struct SameHandleLog {
  shiftad_detector* handle = nullptr;
  std::string missing;
  int score_status = -1;
  double threshold = 0;
  std::string error;
  static void take(int, const char* /*message*/, void* user_data) {
    auto* self = static_cast<SameHandleLog*>(user_data);
    if (self->score_status != -1) return;
    const char* path = self->missing.c_str();
    shiftad_result r;
    self->score_status = shiftad_score_files(self->handle, &path, 1, &r);
    self->error = shiftad_last_error();
    self->threshold = shiftad_threshold(self->handle);
  }
};

}  // namespace

TEST(CApi, ALogCallbackCallingTheHandleWhoseCallIsLoggingIsRefusedNotAHang) {
  // The handle's lock was held while its call logged: the nested call waited on itself.
  TempDir tmp;
  Handle h;
  SameHandleLog log;
  log.handle = h.p;
  log.missing = tmp / "nested-missing.png";
  const auto first = tmp / "first-missing.png";
  const char* path = first.c_str();
  shiftad_result r;
  ASSERT_EQ(shiftad_set_log(&SameHandleLog::take, &log, SHIFTAD_LOG_WARNING), SHIFTAD_OK);
  const int status = shiftad_score_files(h.p, &path, 1, &r);
  ASSERT_EQ(shiftad_set_log(nullptr, nullptr, SHIFTAD_LOG_INFO), SHIFTAD_OK);
  EXPECT_EQ(status, SHIFTAD_OK) << shiftad_last_error();
  EXPECT_EQ(log.score_status, SHIFTAD_ERROR);
  EXPECT_NE(log.error.find("shiftad_score_files: called from a log callback during a call on the same detector"),
            std::string::npos)
      << log.error;
  EXPECT_TRUE(std::isnan(log.threshold));
  // After the call, the handle is free again.
  EXPECT_FALSE(std::isnan(shiftad_threshold(h.p))) << shiftad_last_error();
}

namespace {

/// A callback that scores an image on a second handle for the lines of one thread (once
/// per line, not for the lines its own call logs).
struct CrossHandleLog {
  shiftad_detector* other = nullptr;
  std::string image;
  std::thread::id caller;
  std::atomic<int> lines{0}, nested_failures{0};
  static void take(int, const char*, void* user_data) {
    static thread_local bool inside = false;
    auto* self = static_cast<CrossHandleLog*>(user_data);
    ++self->lines;
    if (inside || std::this_thread::get_id() != self->caller) return;
    inside = true;
    const char* path = self->image.c_str();
    shiftad_result r;
    if (shiftad_score_files(self->other, &path, 1, &r) != SHIFTAD_OK || r.scored != 1) ++self->nested_failures;
    inside = false;
  }
};

}  // namespace

TEST(CApi, ALogCallbackCallingAHandleAnotherThreadIsLoggingOnIsNoDeadlock) {
  // Thread A's line ran the callback under the sink's lock, which scored on handle 2;
  // thread B held handle 2 and logged, waiting for the sink's lock: each waited on the
  // other for good (hunt14-a #2). Both threads score unreadable files (a warning each).
  TempDir tmp;
  Handle one, two;
  CrossHandleLog log;
  log.other = two.p;
  log.image = someImages(1)[0];
  constexpr int kCalls = 60;
  std::atomic<int> done{0};
  const auto scoreMissing = [&](shiftad_detector* h, const std::string& tag) {
    for (int i = 0; i < kCalls; ++i) {
      const auto missing = tmp / (tag + std::to_string(i) + ".png");
      const char* path = missing.c_str();
      shiftad_result r;
      EXPECT_EQ(shiftad_score_files(h, &path, 1, &r), SHIFTAD_OK) << shiftad_last_error();
    }
    ++done;
  };
  ASSERT_EQ(shiftad_set_log(&CrossHandleLog::take, &log, SHIFTAD_LOG_WARNING), SHIFTAD_OK);
  std::thread a([&] {
    log.caller = std::this_thread::get_id();
    scoreMissing(one.p, "a-missing-");
  });
  std::thread b([&] { scoreMissing(two.p, "b-missing-"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (done < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (done < 2) {
    ADD_FAILURE() << "deadlocked: " << done << " of 2 threads ended within 120 s";
    std::_Exit(1);  // the threads cannot be joined
  }
  a.join();
  b.join();
  ASSERT_EQ(shiftad_set_log(nullptr, nullptr, SHIFTAD_LOG_INFO), SHIFTAD_OK);
  EXPECT_EQ(log.nested_failures, 0);
  EXPECT_GE(log.lines, 2 * kCalls) << "every warning reached the callback";
}

TEST(CApi, TheLastErrorIsOneLineWithAPathsControlCharactersEscapedAsTheCliPrintsIt) {
  // A host logging shiftad_last_error() got the path's raw line break and terminal escape
  // (hunt14-a #8); the CLI's line escaped them.
  TempDir tmp;
  const auto path = tmp / "r\nun\x1b[2J";
  EXPECT_EQ(shiftad_load(path.c_str()), nullptr);
  const std::string error = shiftad_last_error();
  EXPECT_NE(error.find("r un\\x1B[2J' does not exist"), std::string::npos) << error;
  EXPECT_EQ(error.find_first_of("\n\x1b"), std::string::npos) << error;
}

TEST(CApi, AnUnreadableFileIsItsOwnResultNeverAFailedCallHoweverFew) {
  // Per frame or in small batches (where data.max_skipped's 10% allows none), a corrupt
  // file is a result with scored = 0, as the header says; the others are scored.
  TempDir tmp;
  shiftad::test::writeFile(tmp / "broken.png", "not a png");
  const auto good = someImages(2);
  const std::string broken = tmp / "broken.png";
  Handle h;
  shiftad_result one{};
  const char* alone[] = {broken.c_str()};
  ASSERT_EQ(shiftad_score_files(h.p, alone, 1, &one), SHIFTAD_OK) << shiftad_last_error();
  EXPECT_EQ(one.scored, 0);
  EXPECT_TRUE(std::isnan(one.score));
  const char* three[] = {good[0].c_str(), broken.c_str(), good[1].c_str()};
  shiftad_result results[3];
  ASSERT_EQ(shiftad_score_files(h.p, three, 3, results), SHIFTAD_OK) << shiftad_last_error();
  const auto expected = shiftad::Detector::load(runDir()).score(good);
  EXPECT_EQ(results[1].scored, 0);
  EXPECT_EQ(results[0].scored, 1);
  EXPECT_EQ(results[2].scored, 1);
  EXPECT_DOUBLE_EQ(results[0].score, expected.scores[0].score);
  EXPECT_DOUBLE_EQ(results[2].score, expected.scores[1].score);
}

TEST(CApi, DecidesByTheRunsStoredThresholdAndNormalisesByItsCalibrationNormals) {
  // The oracle is the run's calibration.json read here, not the C++ API.
  std::ifstream file(std::filesystem::path(runDir()) / shiftad::kCalibrationFile);
  const auto calibration = nlohmann::json::parse(file);
  const double threshold = calibration.at("threshold").get<double>();
  const auto normals = calibration.at("normal_scores").get<std::vector<double>>();
  ASSERT_FALSE(normals.empty());
  Handle h;
  ASSERT_NE(h.p, nullptr) << shiftad_last_error();
  EXPECT_DOUBLE_EQ(shiftad_threshold(h.p), threshold);
  EXPECT_TRUE(std::isnan(shiftad_threshold(nullptr)));

  const auto paths = someImages(10);
  std::vector<const char*> c_paths;
  for (const auto& p : paths) c_paths.push_back(p.c_str());
  std::vector<shiftad_result> results(paths.size());
  ASSERT_EQ(shiftad_score_files(h.p, c_paths.data(), c_paths.size(), results.data()), SHIFTAD_OK)
      << shiftad_last_error();
  for (const auto& r : results) {
    ASSERT_EQ(r.scored, 1);
    EXPECT_EQ(r.anomalous, r.score > threshold ? 1 : 0) << r.score;
    const auto at_or_below = std::count_if(normals.begin(), normals.end(), [&](double n) { return n <= r.score; });
    EXPECT_NEAR(r.normalised_score, static_cast<double>(at_or_below) / normals.size(), 1e-12) << r.score;
  }
}

TEST(CApi, ErrorsAreStatusesWithMessagesNeverExceptions) {
  EXPECT_EQ(shiftad_load("/no/such/run"), nullptr);
  EXPECT_NE(std::string(shiftad_last_error()).find("/no/such/run"), std::string::npos) << shiftad_last_error();
  EXPECT_EQ(shiftad_load(nullptr), nullptr);
  EXPECT_NE(std::string(shiftad_last_error()).find("NULL"), std::string::npos);
  EXPECT_EQ(shiftad_input_size(nullptr), -1);
  EXPECT_EQ(shiftad_set_threads(-2), SHIFTAD_ERROR);
  EXPECT_NE(
      std::string(shiftad_last_error()).find("shiftad_set_threads: threads = -2 must be 0 (all cores) or in [1, 1024]"),
      std::string::npos)
      << shiftad_last_error();

  Handle h;
  ASSERT_NE(h.p, nullptr);
  EXPECT_STREQ(shiftad_last_error(), "");  // a success clears it
  shiftad_result r{-7.0, 5};
  const unsigned char px[3] = {1, 2, 3};
  const shiftad_image empty{0, 1, 0, px};
  EXPECT_EQ(shiftad_score_images(h.p, &empty, 1, &r), SHIFTAD_ERROR);
  EXPECT_NE(std::string(shiftad_last_error()).find("0x1"), std::string::npos) << shiftad_last_error();
  EXPECT_EQ(r.score, -7.0);  // all or nothing: left as it was
  EXPECT_EQ(r.scored, 5);
  const shiftad_image short_rows{2, 1, 4, px};
  EXPECT_EQ(shiftad_score_images(h.p, &short_rows, 1, &r), SHIFTAD_ERROR);
  const shiftad_image ok{1, 1, 0, px}, batch[3] = {ok, ok, empty};  // which of a batch is said
  shiftad_result rs[3];
  EXPECT_EQ(shiftad_score_images(h.p, batch, 3, rs), SHIFTAD_ERROR);
  EXPECT_NE(
      std::string(shiftad_last_error()).find("image 2 of the 3 given (counting from 0): an image in memory of 0x1"),
      std::string::npos)
      << shiftad_last_error();
  EXPECT_EQ(shiftad_score_images(h.p, nullptr, 1, &r), SHIFTAD_ERROR);
  EXPECT_EQ(shiftad_score_images(nullptr, &empty, 1, &r), SHIFTAD_ERROR);
  const char* no_path[1] = {nullptr};
  EXPECT_EQ(shiftad_score_files(h.p, no_path, 1, &r), SHIFTAD_ERROR);
  EXPECT_EQ(shiftad_score_images(h.p, nullptr, 0, nullptr), SHIFTAD_OK);  // an empty batch needs no arrays
  // Values a binding gets by casting a negative number to size_t: said, never read.
  const shiftad_image bottom_up{2, 2, static_cast<size_t>(-6), px};
  EXPECT_EQ(shiftad_score_images(h.p, &bottom_up, 1, &r), SHIFTAD_ERROR);
  EXPECT_NE(std::string(shiftad_last_error()).find("a negative stride?"), std::string::npos) << shiftad_last_error();
  EXPECT_EQ(shiftad_score_images(h.p, &bottom_up, SIZE_MAX, &r), SHIFTAD_ERROR);
  EXPECT_NE(std::string(shiftad_last_error()).find("shiftad_score_images: count = 18446744073709551615"),
            std::string::npos)
      << shiftad_last_error();
  EXPECT_EQ(shiftad_score_files(h.p, no_path, SIZE_MAX, &r), SHIFTAD_ERROR);
  EXPECT_NE(std::string(shiftad_last_error()).find("a negative count"), std::string::npos) << shiftad_last_error();
  EXPECT_EQ(shiftad_set_threads(1000000), SHIFTAD_ERROR);  // it started threads until the machine stalled
  EXPECT_NE(std::string(shiftad_last_error())
                .find("shiftad_set_threads: threads = 1000000 must be 0 (all cores) or in [1, 1024]"),
            std::string::npos)
      << shiftad_last_error();
  EXPECT_EQ(std::string(shiftad_version()), SHIFTAD_TEST_VERSION);
}

TEST(CApi, TheLastErrorIsPerThread) {
  EXPECT_EQ(shiftad_load("/no/such/run"), nullptr);
  std::string other;
  std::thread([&] {
    other = shiftad_last_error();  // nothing failed on this thread
    EXPECT_EQ(shiftad_input_size(nullptr), -1);
  }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(shiftad_last_error()).find("/no/such/run"), std::string::npos);
}

TEST(CApi, HandlesScoreFromSeveralThreadsAsFromOne) {
  const auto px = pattern(64, 48, 3 * 64, 3);
  const shiftad_image image{64, 48, 0, px.data()};
  Handle shared, own;
  shiftad_result alone;
  ASSERT_EQ(shiftad_score_images(shared.p, &image, 1, &alone), SHIFTAD_OK);
  // Two threads on one handle (serialised by its lock), one on its own handle.
  std::vector<double> got(6, 0.0);
  auto work = [&](shiftad_detector* d, size_t slot) {
    for (size_t k = 0; k < 2; ++k) {
      shiftad_result r{0.0, 0};
      if (shiftad_score_images(d, &image, 1, &r) == SHIFTAD_OK) got[slot + k] = r.score;
    }
  };
  std::thread t1(work, shared.p, 0), t2(work, shared.p, 2), t3(work, own.p, 4);
  t1.join();
  t2.join();
  t3.join();
  for (double s : got) EXPECT_DOUBLE_EQ(s, alone.score);
}
