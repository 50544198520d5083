// Helpers shared by the tests: temporary folders, the Python oracle, ../shared.
#pragma once

#include <functional>
#include <string>

namespace shiftad::test {

/// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// The Python interpreter of Debian's python3-torch/-sklearn packages.
constexpr const char* kPython = "/usr/bin/python3";

/// Run `/usr/bin/python3 SCRIPT ARGS...` (SCRIPT relative to tests/oracle/), return its
/// stdout; fails the current test (ADD_FAILURE) with stderr on a non-zero exit.
std::string runPython(const std::string& script, const std::string& args = "");

/// The message of the shiftad::Error that `fn` throws, or "" when it throws none (an
/// exception of another type propagates and fails the test).
std::string errorOf(const std::function<void()>& fn);

/// Write `text` to `path` (creating parent folders).
void writeFile(const std::string& path, const std::string& text);

/// Path of the project's shared data folder (../shared beside the checkout, or
/// $SHIFTAD_SHARED), or "" if absent. Tests that need it GTEST_SKIP() with a message.
std::string sharedDir();

}  // namespace shiftad::test
