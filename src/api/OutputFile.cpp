#include "api/OutputFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "api/RunDir.h"
#include "common/Error.h"
#include "common/Rename.h"
#include "export/OnnxFile.h"

namespace fs = std::filesystem;

namespace shiftad::api {

namespace {

/// Where the chain of symbolic links from `path` ends (`path` when it is none); never
/// through /proc, whose links are a process's open files (/dev/stdout: a terminal, a pipe
/// or a file its shell opened), not files to write.
fs::path linkTarget(const std::string& path, const std::string& kind, const std::string& name) {
  // Not lexically normalised: "dir/../x" means what the file system makes of it when dir
  // is a link.
  fs::path p = fs::absolute(path);
  std::error_code ec;
  for (int hops = 0;; ++hops) {
    SHIFTAD_CHECK(p.lexically_normal().string().rfind("/proc/", 0) != 0,
                  "{} '{}' is or leads to '{}', a process's open file, not a file to write; give the path of {}", name,
                  path, p.string(), kind);
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
    SHIFTAD_CHECK(hops < 40, "{} '{}' is a chain of symbolic links that does not end; give the path of {}", name, path,
                  kind);
    const auto next = fs::read_symlink(p, ec);
    SHIFTAD_CHECK(!ec, "{} '{}': its link '{}' cannot be read ({})", name, path, p.string(), ec.message());
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
}

}  // namespace

std::string pathProblem(const std::string& path, std::error_code code) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_symlink(fs::symlink_status(p, ec)) && !fs::exists(p, ec)) {
    const auto to = fs::read_symlink(p, ec);
    return fmt::format("it is a symbolic link to '{}', which does not exist: create that, or give another path",
                       to.string());
  }
  if (code == std::errc::not_a_directory) {
    // The first of its folders that is a file.
    for (auto up = p.parent_path(); !up.empty() && up != up.parent_path(); up = up.parent_path())
      if (fs::exists(up, ec) && !fs::is_directory(up, ec))
        return fmt::format("'{}' is a file, not a folder; give a path below a folder", up.string());
  }
  return code.message() + "; check the path and its permissions";
}

std::string checkOutputFile(const std::string& given, const std::string& kind, const std::string& name,
                            const std::string& run_file) {
  std::error_code ec;
  SHIFTAD_CHECK(!given.empty(), "{} is empty; give the path of {} to write", name, kind);
  SHIFTAD_CHECK(given.back() != '/', "{} '{}' is a folder; give the path of {} to write", name, given, kind);
  // A link is written through (as `train --out LINK`): the checks are of the file it leads to.
  const std::string path = linkTarget(given, kind, name).string();
  SHIFTAD_CHECK(!fs::is_directory(path, ec), "{} '{}' is a folder; give the path of {} to write", name, given, kind);
  SHIFTAD_CHECK(!fs::exists(path, ec) || fs::is_regular_file(path, ec),
                "{} '{}' is not a regular file (a pipe, socket or device), which writing would replace; give the "
                "path of {}",
                name, given, kind);
  const auto parent = fs::absolute(path, ec).parent_path();
  SHIFTAD_CHECK(fs::is_directory(parent, ec),
                "{} '{}': its folder '{}' does not exist (or is not a folder); create it first, or give another path",
                name, given, parent.string());
  const auto run = runFolderAtOrAbove(parent.string());
  const bool own_file = !run_file.empty() && fs::path(path).filename() == run_file && fs::equivalent(parent, run, ec);
  SHIFTAD_CHECK(run.empty() || own_file,
                "{} '{}' is inside the run directory '{}', whose files it could replace; write it elsewhere", name,
                given, run);
  return path;
}

bool replaceableOutput(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return false;
  if (size == 0) return true;
  std::ifstream in(path, std::ios::binary);
  std::string first(64, '\0');
  in.read(first.data(), static_cast<std::streamsize>(first.size()));
  first.resize(static_cast<size_t>(in.gcount()));
  const auto startsWithLine = [&](const std::string& header) { return first.rfind(header + "\n", 0) == 0; };
  return startsWithLine(kScoresCsvHeader) || startsWithLine(kTestScoresCsvHeader) || exporting::isShiftadOnnx(path);
}

void checkFolderTakesAFile(const std::string& path, const std::string& name) {
  const auto probe = temporaryPathFor(path) + ".probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const int err = errno;  // before anything else can set it
  SHIFTAD_CHECK(fd >= 0 || err == EEXIST,
                "{} '{}': a file cannot be created in its folder '{}': {}; give a path in a folder you can write to",
                name, path, fs::absolute(path).parent_path().string(), std::strerror(err));
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
  }
}

void commitNewFile(const std::string& from, const std::string& to, const std::string& name) {
  std::error_code ec;
  commitRenameNoReplace(from, to, ec);
  if (ec == std::errc::file_exists)
    SHIFTAD_THROW(
        "{} '{}' was created by someone else while shiftad worked; it is left as it is, and the result is in '{}': "
        "move it where you want it, or run again with --overwrite",
        name, to, from);
  if (ec) {
    std::error_code ignored;
    fs::remove(from, ignored);
    SHIFTAD_THROW("cannot write {} '{}': {}", name, to, pathProblem(to, ec));
  }
}

}  // namespace shiftad::api
