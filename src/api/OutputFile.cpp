#include "api/OutputFile.h"

#include <filesystem>

#include "api/RunDir.h"
#include "common/Error.h"

namespace fs = std::filesystem;

namespace shiftad::api {

void checkOutputFile(const std::string& path, const std::string& kind, const std::string& name,
                     const std::string& run_file) {
  std::error_code ec;
  SHIFTAD_CHECK(!path.empty(), "{} is empty; give the path of {} to write", name, kind);
  SHIFTAD_CHECK(!fs::is_directory(path, ec) && path.back() != '/', "{} '{}' is a folder; give the path of {} to write",
                name, path, kind);
  SHIFTAD_CHECK(!fs::exists(path, ec) || fs::is_regular_file(path, ec),
                "{} '{}' is not a regular file (a pipe, socket or device), which writing would replace; give the "
                "path of {}",
                name, path, kind);
  const auto parent = fs::absolute(path, ec).parent_path();
  SHIFTAD_CHECK(fs::is_directory(parent, ec),
                "{} '{}': its folder '{}' does not exist (or is not a folder); create it first, or give another path",
                name, path, parent.string());
  const auto run = runFolderAtOrAbove(parent.string());
  const bool own_file = !run_file.empty() && fs::path(path).filename() == run_file && fs::equivalent(parent, run, ec);
  SHIFTAD_CHECK(run.empty() || own_file,
                "{} '{}' is inside the run directory '{}', whose files it could replace; write it elsewhere", name,
                path, run);
}

}  // namespace shiftad::api
