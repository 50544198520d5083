// ImageFolder datasets: ROOT/DOMAIN/CLASS/image.{jpg,jpeg,png,bmp}. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "shiftad/Error.h"

namespace shiftad::data {

/// One labelled image of a domain.
struct ImageRecord {
  std::string path;  ///< full path
  std::string cls;   ///< class folder name
};

/// Whether a file or folder named `name` is hidden, never listed nor read: a name starting
/// with '.', or a folder an operating system makes (__MACOSX, lost+found, System Volume
/// Information, $RECYCLE.BIN).
bool isHiddenName(const std::string& name);

/// Sorted names of the non-hidden sub-folders of `dir` (links to folders included).
/// Throws shiftad::Error naming the folder if it cannot be read (e.g. permission denied),
/// and naming any link in it that cannot be followed (dangling, a loop of links) unless
/// its name is an image file's; `broken_links`, if given, receives those errors instead
/// (the other folders still listed). `hidden`, if given, receives the paths of the
/// folders skipped because they are hidden (isHiddenName).
std::vector<std::string> subfolders(const std::string& dir, std::vector<std::string>* hidden = nullptr,
                                    std::vector<std::string>* broken_links = nullptr);

/// Every non-hidden file below `dir`, recursively, sorted by path. Links to folders are
/// followed, except one leading to a folder it lies in (a loop); links that cannot be
/// resolved (dangling, loops of links) are listed, so that reading them says why. Throws shiftad::Error naming any
/// folder that cannot be read. `hidden`, if given, receives the skipped entries (files and folders whose name starts
/// with '.', e.g. macOS "._x.jpg" resource forks), sorted, so that a caller can list them.
std::vector<std::string> filesBelow(const std::string& dir, std::vector<std::string>* hidden = nullptr);

/// File extensions accepted as images (lower-case compare): jpg, jpeg, png, bmp.
bool hasImageExtension(const std::string& path);

/// The image files directly in `dir` (not in a sub-folder; hidden names left out),
/// sorted: at a data root or in a domain folder they belong to no class and are never
/// read. A folder that cannot be read gives none.
std::vector<std::string> imagesBesideFolders(const std::string& dir);

/// Class folders of ROOT/DOMAIN, sorted. Throws shiftad::Error naming the path if the
/// domain folder is missing or holds no class folder.
std::vector<std::string> listClasses(const std::string& root, const std::string& domain);

/// A class folder without images: an Error, typed so that a caller that has listed such
/// folders already (check-data) knows the refusal for what it is without reading its text.
class EmptyClassError : public Error {
 public:
  using Error::Error;
};

/// All images of ROOT/DOMAIN, sorted by (class, file name). Non-image files are
/// ignored, as are images directly in ROOT or ROOT/DOMAIN (imagesBesideFolders), with a
/// warning naming their count and the first. Throws shiftad::Error naming the path if the domain is missing or a class
/// folder holds no image (EmptyClassError).
std::vector<ImageRecord> listDomain(const std::string& root, const std::string& domain);

/// listDomain of a folder of class folders given by itself (DIR/CLASS/image: a labelled
/// test set, data.test_images), not as a domain below a data root. The caller checks
/// that `dir` is a folder; one without class folders, or a class without images, is an
/// Error naming it.
std::vector<ImageRecord> listClassFolders(const std::string& dir);

/// What keeps one line of an image list from naming a file: "" when nothing does, else
/// what the line holds ("a NUL byte: ...", "5000 characters, longer than any path ..."):
/// a NUL byte (binary data; a path cut there would name another file), or more
/// characters than any path has.
std::string listLineProblem(const std::string& line);

/// Drop a UTF-8 byte order mark (EF BB BF) from the start of a list's first line: Windows
/// editors write one, it is no part of a path, and it is invisible in a message. A UTF-16
/// one (FF FE, FE FF: Windows PowerShell 5's `>` writes it) throws shiftad::Error naming
/// `list` ("image list 'x.txt'", "standard input") and how to save it as UTF-8: every byte
/// of such a list's paths is followed or preceded by a NUL, so no line names a file.
void dropByteOrderMark(std::string& first_line, const std::string& list);

/// The image path one line of an image list names, a relative one resolved against
/// `base` ("": kept relative, i.e. from the working folder); "" for a line that names
/// none: blank, or a '#' comment (unless a file is named so). A CR before the line end
/// is dropped; blanks around the entry are trimmed, unless the file is named with them.
std::string listEntry(std::string line, const std::string& base);

/// Images to score: a directory (searched recursively, sorted) or a text file with
/// one path per line (relative paths resolved against the list file's folder; blank
/// lines and lines starting with '#' skipped). Throws shiftad::Error if the path does
/// not exist or yields no image.
std::vector<std::string> listImages(const std::string& dir_or_listfile);

}  // namespace shiftad::data
