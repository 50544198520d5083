#include "data/ImageFolder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "common/Counted.h"
#include "common/Error.h"
#include "common/TildeHint.h"
#include "common/LogOnce.h"
#include "data/JpegDecode.h"
#include "data/PngDecode.h"

namespace fs = std::filesystem;

namespace shiftad::data {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool isHidden(const fs::path& p) { return isHiddenName(p.filename().string()); }

bool isDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool isFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

[[noreturn]] void unreadableFolder(const fs::path& dir, const std::error_code& ec) {
  SHIFTAD_THROW("folder '{}' cannot be read: {}; check its permissions (e.g. chmod u+rx) or remove it", dir.string(),
                lower(ec.message()));
}

// Entries of `dir`, unsorted; an unreadable folder is an error naming it (not an
// empty folder, as skipping it would make it).
std::vector<fs::directory_entry> entries(const fs::path& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(*it);
  if (ec) unreadableFolder(dir, ec);
  return out;
}

/// A folder's identity (device, inode): what a link leads back to, however it is spelled.
using FolderId = std::pair<dev_t, ino_t>;

std::optional<FolderId> folderId(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return FolderId{st.st_dev, st.st_ino};
}

// Non-hidden files below `dir` into `out`. A link to a folder is followed (a batch of
// images linked into a class is the class's, as torchvision's ImageFolder reads it),
// unless it leads to a folder in `path` (the walk's start and the folders above it, and
// the folders walked down to `dir`): a loop, passed over. A link that cannot be resolved (dangling, or a loop of links)
// is listed as a file, so that reading it reports why.
void collectFiles(const fs::path& dir, std::vector<std::string>& out, std::vector<std::string>* hidden,
                  std::vector<FolderId>& path) {
  for (const auto& e : entries(dir)) {
    if (isHidden(e.path())) {
      if (hidden) hidden->push_back(e.path().string());
      continue;
    }
    std::error_code ec;
    const auto own = e.symlink_status(ec);
    // Not listed as a file, nor passed over: a path past the system's limit made its
    // images vanish, and the class was said to hold none.
    if (ec)
      SHIFTAD_THROW("'{}' cannot be examined: {}; shorten its folders' names or move it", e.path().string(),
                    lower(ec.message()));
    const auto target = fs::is_symlink(own) ? fs::status(e.path(), ec) : own;
    if (!ec && fs::is_directory(target)) {
      const auto id = folderId(e.path());
      if (!id || std::find(path.begin(), path.end(), *id) != path.end()) continue;  // a loop
      path.push_back(*id);
      collectFiles(e.path(), out, hidden, path);
      path.pop_back();
    } else if (fs::is_symlink(own)) {
      // Any other link is read as a file: one that is dangling or names a pipe or a
      // device is then refused by name.
      out.push_back(e.path().string());
    } else {
      // A pipe, socket or device too: listed, so that reading names it as unreadable
      // (readBytes refuses it without opening), not passed over without a word.
      out.push_back(e.path().string());
    }
  }
}

// Images below `dir`, recursively, hidden entries skipped, sorted by path. Other files
// are appended to `ignored`, if given.
std::vector<std::string> imagesBelow(const fs::path& dir, std::vector<std::string>* ignored = nullptr) {
  std::vector<std::string> out;
  for (auto& f : filesBelow(dir.string())) {
    if (hasImageExtension(f))
      out.push_back(std::move(f));
    else if (ignored)
      ignored->push_back(std::move(f));
  }
  return out;
}

// Files of a folder that are not read, said once (a class of PNG and TIFF trained on the
// PNG alone, without a word): how many, the first, and where the rest are listed.
void sayIgnored(const std::vector<std::string>& ignored, const std::string& where) {
  if (ignored.empty()) return;
  logOnce(spdlog::level::warn,
          fmt::format("{} below '{}' {} no image extension (.jpg, .jpeg, .png, .bmp) and {} not read (e.g. '{}'); "
                      "images of other formats are read once converted to PNG, other files may stay; `shiftad "
                      "check-data` lists every one",
                      counted(ignored.size(), "file"), where, ignored.size() == 1 ? "has" : "have",
                      ignored.size() == 1 ? "is" : "are", ignored.front()));
}

// Images one level too high are a common layout mistake (a class's images dumped in
// the domain folder); check-data lists them, train and eval pass over them.
void sayBesideFolders(const std::vector<std::string>& images, const std::string& where) {
  if (images.empty()) return;
  logOnce(spdlog::level::warn,
          fmt::format("{} directly in '{}' belong{} to no class and {} not read (e.g. '{}'): an image belongs in "
                      "ROOT/DOMAIN/CLASS/; `shiftad check-data` lists every one",
                      counted(images.size(), "image"), where, images.size() == 1 ? "s" : "",
                      images.size() == 1 ? "is" : "are", images.front()));
}

std::string joinNames(const std::vector<std::string>& names) {
  return names.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(names, ", "));
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// Checks ROOT and ROOT/DOMAIN exist; returns ROOT/DOMAIN.
fs::path domainDir(const std::string& root, const std::string& domain) {
  SHIFTAD_CHECK(!root.empty(), "data.root is empty: set it to an ImageFolder root (ROOT/DOMAIN/CLASS/image)");
  SHIFTAD_CHECK(isDir(root),
                "data.root '{}' does not exist or is not a folder: set data.root to an ImageFolder root "
                "(ROOT/DOMAIN/CLASS/image){}",
                root, tildeHint(root));
  SHIFTAD_CHECK(!domain.empty(), "data.root '{}': the domain name is empty; domains found: {}", root,
                joinNames(subfolders(root)));
  const fs::path dir = fs::path(root) / domain;
  SHIFTAD_CHECK(isDir(dir), "data.root '{}': domain folder '{}' does not exist; domains found: {}", root, dir.string(),
                joinNames(subfolders(root)));
  return dir;
}

constexpr size_t kMaxPathBytes = 4096;  // PATH_MAX on Linux, with its terminating NUL

// The image format of a file's first bytes ("" for none known): PNG, JPEG and BMP, which
// are read, and GIF, TIFF and WebP, which are not.
std::string imageFormatOf(const fs::path& file) {
  std::string head(32, '\0');
  std::ifstream in(file, std::ios::binary);
  head.resize(static_cast<size_t>(in.read(head.data(), static_cast<std::streamsize>(head.size())).gcount()));
  const auto starts = [&](std::string_view magic, size_t at = 0) { return head.compare(at, magic.size(), magic) == 0; };
  const auto* start = reinterpret_cast<const unsigned char*>(head.data());
  if (isPng(start, head.size())) return "PNG";
  if (isJpeg(start, head.size())) return "JPEG";
  // "BM", reserved zero bytes, and a DIB header size that BMP has (core, V3, V4, V5, ...).
  const auto dib = head.size() >= 15 ? static_cast<unsigned char>(head[14]) : 0;
  if (starts("BM") && starts(std::string_view("\0\0\0\0", 4), 6) &&
      (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124))
    return "BMP";
  if (starts("GIF87a") || starts("GIF89a")) return "GIF";
  if (starts("II*") || starts("MM\0*")) return "TIFF";
  if (starts("RIFF") && starts("WEBP", 8)) return "WebP";
  return "";
}

// A list file holding a NUL byte: an image without an image extension is named as one,
// anything else as binary data (an archive, a model given by mistake).
[[noreturn]] void refuseBinaryList(const fs::path& file) {
  const std::string format = imageFormatOf(file);
  if (format == "PNG" || format == "JPEG" || format == "BMP")
    SHIFTAD_THROW(
        "images '{}' is a {} image by its content, but its name has no image extension (.png, .jpg, "
        ".jpeg, .bmp), so it was read as an image list: give it one, or list it in a text file",
        file.string(), format);
  if (!format.empty())
    SHIFTAD_THROW(
        "images '{}' is a {} image by its content: only PNG, JPEG and BMP are read; convert it (e.g. to "
        "PNG), or give a folder of images or a text list",
        file.string(), format);
  SHIFTAD_THROW(
      "image list '{}' holds binary data, not one image path per line: give a folder of images or a text "
      "list (is it the right file?)",
      file.string());
}

// A CSV manifest (`path,label` rows) given as an image list: every row was a missing
// image. An entry that names no file while the part before its first comma does is a
// row of one; a file that is named with a comma is read as such.
void refuseCsvRow(const std::string& entry, const fs::path& file, size_t number) {
  const auto slash = entry.rfind('/');
  const auto comma = entry.find(',', slash == std::string::npos ? 0 : slash + 1);  // in the file name
  std::error_code ec;
  if (comma == std::string::npos || fs::exists(entry, ec)) return;
  const auto first_field = entry.substr(0, comma);
  SHIFTAD_CHECK(!fs::is_regular_file(first_field, ec),
                "image list '{}', line {}: '{}' names no file, but '{}' before its comma does: the list is a CSV, not "
                "one image path per line; give the path column alone (e.g. `cut -d, -f1 {} > list.txt`, without its "
                "header line)",
                file.string(), number, entry, first_field, file.string());
}

// Entries of a list file, relative ones resolved against its folder.
std::vector<std::string> readListFile(const fs::path& file) {
  std::error_code ec;
  // A FIFO would block the open until a writer comes; a device never ends.
  SHIFTAD_CHECK(fs::is_regular_file(file, ec),
                "image list '{}' is not a regular file (a pipe, socket or device); give a folder of images or a text "
                "file with one image path per line (`shiftad score --images -` reads a list from a pipe on standard "
                "input)",
                file.string());
  std::ifstream in(file);
  SHIFTAD_CHECK(in.good(), "image list '{}' cannot be opened for reading", file.string());
  const fs::path base = file.parent_path();
  std::vector<std::string> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (number == 1) dropByteOrderMark(line, fmt::format("image list '{}'", file.string()));
    // A path holds no NUL byte: such a file is binary (an archive, a model), not a list.
    if (line.find('\0') != std::string::npos) refuseBinaryList(file);
    // No path is longer (Linux's PATH_MAX): such a line is not one, and would be echoed
    // whole in the "cannot be read" warning.
    const auto problem = listLineProblem(line);
    SHIFTAD_CHECK(problem.empty(),
                  "image list '{}', line {}: {}; a list holds one image path per line (is it the right file?)",
                  file.string(), number, problem);
    if (auto entry = listEntry(std::move(line), base.string()); !entry.empty()) {
      refuseCsvRow(entry, file, number);
      out.push_back(std::move(entry));
    }
  }
  return out;
}

// A link in a folder of folders that leads nowhere (dangling: a share not mounted, a
// disk detached, a folder moved; or a loop of links) is an error naming it: passed over,
// its class left the run without a word and an eval scored another test split. One
// whose name is an image file's is a stray image, passed over as images beside classes are.
// Returns the error, or "" for any other entry.
std::string unresolvableLink(const fs::directory_entry& e) {
  std::error_code ec;
  if (!e.is_symlink(ec) || hasImageExtension(e.path().string())) return "";
  (void)fs::status(e.path(), ec);
  if (!ec) return "";
  std::error_code read_ec;
  const auto target = fs::read_symlink(e.path(), read_ec);
  return fmt::format(
      "'{}' is a symbolic link to '{}', which cannot be followed: {}; if it is a class or domain folder on a disk or "
      "share that is not mounted, mount it; otherwise remove the link",
      e.path().string(), read_ec ? std::string("?") : target.string(), lower(ec.message()));
}

}  // namespace

// Names starting with '.' are skipped: hidden folders and macOS "._x.jpg" resource
// forks would otherwise be listed as (undecodable) images. So are the folders operating
// systems put at a volume's root or in a zip (never a class): each was an empty class that
// refused the domain, and lost+found and System Volume Information cannot be removed.
bool isHiddenName(const std::string& name) {
  if (!name.empty() && name[0] == '.') return true;
  for (const char* system : {"__MACOSX", "lost+found", "System Volume Information", "$RECYCLE.BIN", "$Recycle.Bin"})
    if (name == system) return true;
  return false;
}

std::vector<std::string> subfolders(const std::string& dir, std::vector<std::string>* hidden,
                                    std::vector<std::string>* broken_links) {
  std::vector<std::string> out;
  for (const auto& e : entries(dir)) {
    if (isHidden(e.path())) {
      if (hidden && isDir(e.path())) hidden->push_back(e.path().string());
      continue;
    }
    if (auto broken = unresolvableLink(e); !broken.empty()) {
      if (!broken_links) throw Error(broken);
      broken_links->push_back(std::move(broken));
    }
    if (isDir(e.path())) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> filesBelow(const std::string& dir, std::vector<std::string>* hidden) {
  std::vector<std::string> out;
  // The folder and every folder above it: a link to one of them (`up -> ..`) is a loop too.
  std::vector<FolderId> path;
  std::error_code ec;
  for (auto p = fs::canonical(dir, ec); !ec; p = p.parent_path()) {
    if (const auto id = folderId(p)) path.push_back(*id);
    if (p == p.root_path() || p.parent_path() == p) break;
  }
  collectFiles(dir, out, hidden, path);
  std::sort(out.begin(), out.end());
  if (hidden) std::sort(hidden->begin(), hidden->end());
  return out;
}

bool hasImageExtension(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::vector<std::string> imagesBesideFolders(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!it->is_directory(ec) && hasImageExtension(it->path().string()) &&
        !isHiddenName(it->path().filename().string()))
      out.push_back(it->path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> listClasses(const std::string& root, const std::string& domain) {
  const fs::path dir = domainDir(root, domain);
  std::vector<std::string> classes = subfolders(dir.string());
  SHIFTAD_CHECK(!classes.empty(), "domain folder '{}' holds no class folder: expected {}/CLASS/image files",
                dir.string(), dir.string());
  return classes;
}

std::vector<ImageRecord> listDomain(const std::string& root, const std::string& domain) {
  listClasses(root, domain);  // the root, the domain and its class folders exist, or the error says which not
  sayBesideFolders(imagesBesideFolders(root), root);
  return listClassFolders((fs::path(root) / domain).string());
}

std::vector<ImageRecord> listClassFolders(const std::string& dir) {
  const std::vector<std::string> classes = subfolders(dir);
  SHIFTAD_CHECK(!classes.empty(), "domain folder '{}' holds no class folder: expected {}/CLASS/image files", dir, dir);
  std::vector<ImageRecord> out;
  std::vector<std::string> ignored;
  for (const std::string& cls : classes) {
    const std::vector<std::string> files = imagesBelow(fs::path(dir) / cls, &ignored);
    if (files.empty())
      throw EmptyClassError(fmt::format(
          "empty class: folder '{}' holds no image (.jpg, .jpeg, .png, .bmp); add images or remove the folder",
          (fs::path(dir) / cls).string()));
    for (const std::string& f : files) out.push_back({f, cls});
  }
  sayIgnored(ignored, dir);
  sayBesideFolders(imagesBesideFolders(dir), dir);
  return out;
}

std::string listLineProblem(const std::string& line) {
  if (line.find('\0') != std::string::npos)
    return "a NUL byte: binary data, not a path (a path cut there would name another file)";
  if (line.size() >= kMaxPathBytes)
    return fmt::format("{} characters, longer than any path ({})", line.size(), kMaxPathBytes);
  return "";
}

void dropByteOrderMark(std::string& first_line, const std::string& list) {
  if (first_line.rfind("\xEF\xBB\xBF", 0) == 0) first_line.erase(0, 3);
  const bool utf16 = first_line.rfind("\xFF\xFE", 0) == 0 || first_line.rfind("\xFE\xFF", 0) == 0;
  SHIFTAD_CHECK(!utf16,
                "{} is saved as UTF-16 (it starts with the byte order mark {}), not as text of one path per line: "
                "save it as UTF-8 (`iconv -f UTF-16 -t UTF-8 LIST > LIST8`; in PowerShell, `Out-File -Encoding utf8`)",
                list, first_line[0] == '\xFF' ? "FF FE" : "FE FF");
}

std::string listEntry(std::string line, const std::string& base) {
  if (!line.empty() && line.back() == '\r') line.pop_back();  // a list saved with CRLF line ends
  std::string entry = trim(line);
  const auto resolved = [&](const std::string& name) {
    const fs::path p(name);
    return p.is_absolute() || base.empty() ? p.string() : (fs::path(base) / p).string();
  };
  std::error_code ec;
  // '#' starts a comment, unless a file is named so.
  if (entry.empty() || (entry[0] == '#' && !fs::exists(resolved(entry), ec))) return "";
  // Blanks around an entry are trimmed (an indented list), unless the file is named with them.
  if (entry != line && fs::exists(resolved(line), ec)) entry = line;
  return resolved(entry);
}

std::vector<std::string> listImages(const std::string& dir_or_listfile) {
  const fs::path p(dir_or_listfile);
  std::error_code ec;
  const bool exists = !dir_or_listfile.empty() && fs::exists(p, ec);
  // A link loop or a forbidden folder is not a missing file: say what stat said.
  SHIFTAD_CHECK(exists, "images '{}' {}: give a folder of images or a text file with one image path per line",
                dir_or_listfile,
                ec && ec != std::errc::no_such_file_or_directory ? "cannot be reached (" + ec.message() + ")"
                                                                 : std::string("do not exist"));
  if (isDir(p)) {
    std::vector<std::string> ignored;
    std::vector<std::string> out = imagesBelow(p, &ignored);
    SHIFTAD_CHECK(!out.empty(), "folder '{}' holds no image (.jpg, .jpeg, .png, .bmp), even in sub-folders",
                  dir_or_listfile);
    sayIgnored(ignored, dir_or_listfile);
    return out;
  }
  // A single image is accepted as a one-entry list (reading it as text would yield garbage).
  if (hasImageExtension(dir_or_listfile)) return {p.string()};
  // An image of a format not read is named as one, not as a list of binary data.
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* other : {".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pbm", ".jp2", ".heic", ".avif"})
    SHIFTAD_CHECK(ext != other,
                  "images '{}' is a {} image: only PNG, JPEG and BMP are read; convert it (e.g. to PNG), or give a "
                  "folder of images or a text list",
                  dir_or_listfile, ext.substr(1));
  std::vector<std::string> out = readListFile(p);
  SHIFTAD_CHECK(!out.empty(), "image list '{}' names no image (blank lines and '#' comments are skipped)",
                dir_or_listfile);
  return out;
}

}  // namespace shiftad::data
