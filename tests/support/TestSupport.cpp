#include "support/TestSupport.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "shiftad/Error.h"

namespace fs = std::filesystem;

namespace shiftad::test {

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const shiftad::Error& e) {
    return e.what();
  }
  return "";
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() / ("shiftad-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string runPython(const std::string& script, const std::string& args) {
  const std::string err_file = fs::temp_directory_path() / ("shiftad-py-" + std::to_string(std::random_device{}()));
  const std::string cmd =
      std::string(kPython) + " " + SHIFTAD_SOURCE_DIR + "/tests/oracle/" + script + " " + args + " 2>" + err_file;
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run: " << cmd;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int rc = pclose(pipe);
  if (rc != 0) {
    std::ifstream ef(err_file);
    std::string err((std::istreambuf_iterator<char>(ef)), std::istreambuf_iterator<char>());
    ADD_FAILURE() << "python oracle failed (" << cmd << "):\n" << err;
  }
  std::error_code ec;
  fs::remove(err_file, ec);
  return out;
}

void writeFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << text;
}

std::string sharedDir() {
  if (const char* env = std::getenv("SHIFTAD_SHARED")) {
    if (fs::is_directory(env)) return env;
  }
  const fs::path p = fs::path(SHIFTAD_SOURCE_DIR).parent_path() / "shared";
  return fs::is_directory(p / "datasets") ? p.string() : std::string();
}

}  // namespace shiftad::test
