// ImageFolder listing: hand-built folder trees with known content.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "data/ImageFolder.h"
#include "support/CapturedLog.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::data::hasImageExtension;
using shiftad::data::listClasses;
using shiftad::data::listDomain;
using shiftad::data::listImages;
using shiftad::test::TempDir;
using shiftad::test::writeFile;

namespace {

// Runs `fn`, expects shiftad::Error whose message contains every one of `parts`.
void expectError(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected shiftad::Error";
  } catch (const shiftad::Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n lacks: " << p;
  }
}

// root/dom: classes "b" and "a" (out of order on purpose), noise files, a hidden folder.
void makeTree(const TempDir& t) {
  writeFile(t / "dom/b/2.png", "x");
  writeFile(t / "dom/b/10.jpg", "x");
  writeFile(t / "dom/a/z.BMP", "x");
  writeFile(t / "dom/a/sub/y.jpeg", "x");  // nested: found recursively
  writeFile(t / "dom/a/notes.txt", "x");   // not an image
  writeFile(t / "dom/a/._z.png", "x");     // macOS resource fork: hidden, skipped
  writeFile(t / "dom/.cache/c.png", "x");  // hidden folder: not a class
  writeFile(t / "dom/readme.md", "x");     // a file is not a class
  writeFile(t / "other/c/1.png", "x");
}

}  // namespace

TEST(ImageFolder, ImageExtensionsAreCaseInsensitive) {
  for (const char* p : {"a.jpg", "a.JPG", "x/y.jpeg", "a.png", "a.PnG", "a.bmp"})
    EXPECT_TRUE(hasImageExtension(p)) << p;
  for (const char* p : {"a.txt", "a", "png", "a.png.txt", "a.gif", "a.tif", "dir.png/x"})
    EXPECT_FALSE(hasImageExtension(p)) << p;
}

TEST(ImageFolder, ListsClassesSortedSkippingHiddenAndFiles) {
  TempDir t;
  makeTree(t);
  EXPECT_EQ(listClasses(t.path(), "dom"), (std::vector<std::string>{"a", "b"}));
}

TEST(ImageFolder, ListsDomainSortedByClassThenPath) {
  TempDir t;
  makeTree(t);
  const auto recs = listDomain(t.path(), "dom");
  ASSERT_EQ(recs.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"dom/a/sub/y.jpeg", "a"}, {"dom/a/z.BMP", "a"}, {"dom/b/10.jpg", "b"}, {"dom/b/2.png", "b"}};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_TRUE(fs::equivalent(recs[i].path, t / expected[i].first)) << recs[i].path;
    EXPECT_EQ(recs[i].cls, expected[i].second);
  }
}

TEST(ImageFolder, ImagesDirectlyInADomainOrTheRootAreNamedInAWarningNotReadSilently) {
  // A class's images dumped one level too high: passed over by train and eval without a
  // word before, while check-data listed them.
  TempDir t;
  writeFile(t / "root/d/c/a.png", "x");
  writeFile(t / "root/d/stray1.png", "x");
  writeFile(t / "root/d/stray2.JPG", "x");
  writeFile(t / "root/d/.hidden.png", "x");
  writeFile(t / "root/d/notes.txt", "x");
  writeFile(t / "root/top.jpg", "x");
  const std::string root = t / "root";
  const shiftad::test::CapturedLog log;
  const auto records = listDomain(root, "d");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].path, root + "/d/c/a.png");
  const auto text = log.text();
  EXPECT_NE(text.find("2 images directly in '" + root + "/d' belong to no class and are not read (e.g. '" + root +
                      "/d/stray1.png')"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("1 image directly in '" + root + "' belongs to no class and is not read (e.g. '" + root + "/top.jpg')"),
      std::string::npos)
      << text;
  EXPECT_EQ(text.find(".hidden.png"), std::string::npos) << text;
  EXPECT_EQ(shiftad::data::imagesBesideFolders(root + "/d"),
            (std::vector<std::string>{root + "/d/stray1.png", root + "/d/stray2.JPG"}));
}

TEST(ImageFolder, MissingRootOrDomainNamesPathAndAlternatives) {
  TempDir t;
  makeTree(t);
  expectError([&] { listDomain(t / "nope", "dom"); }, {"data.root", t / "nope", "does not exist"});
  expectError([&] { listClasses(t.path(), "amazon"); }, {t / "amazon", "does not exist", "domains found: dom, other"});
  expectError([&] { listDomain("", "dom"); }, {"data.root is empty"});
}

TEST(ImageFolder, EmptyClassAndClasslessDomainAreErrors) {
  TempDir t;
  writeFile(t / "dom/a/1.png", "x");
  writeFile(t / "dom/empty/notes.txt", "x");
  expectError([&] { listDomain(t.path(), "dom"); }, {"empty class", t / "dom/empty"});
  writeFile(t / "bare/file.png", "x");
  expectError([&] { listClasses(t.path(), "bare"); }, {t / "bare", "no class folder"});
}

TEST(ImageFolder, ListImagesOfAFolderIsRecursiveAndSorted) {
  TempDir t;
  writeFile(t / "imgs/b.png", "x");
  writeFile(t / "imgs/a/c.jpg", "x");
  writeFile(t / "imgs/a.txt", "x");
  const auto got = listImages(t / "imgs");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(fs::equivalent(got[0], t / "imgs/a/c.jpg"));
  EXPECT_TRUE(fs::equivalent(got[1], t / "imgs/b.png"));
}

TEST(ImageFolder, ListFileResolvesRelativePathsAndSkipsComments) {
  TempDir t;
  writeFile(t / "lists/list.txt", "# header\n\nrel/a.png\r\n  ../abs_b.jpg  \n" + (t / "c.png") + "\n#x.png\n");
  const auto got = listImages(t / "lists/list.txt");
  const std::vector<std::string> expected = {(fs::path(t / "lists") / "rel/a.png").string(),
                                             (fs::path(t / "lists") / "../abs_b.jpg").string(), t / "c.png"};
  EXPECT_EQ(got, expected);
}

TEST(ImageFolder, AListSavedWithAByteOrderMarkKeepsItsFirstEntry) {
  // Notepad's UTF-8 starts the file with EF BB BF, which became part of the first path.
  TempDir t;
  writeFile(t / "a.png", "x");
  writeFile(t / "b.png", "x");
  writeFile(t / "list.txt",
            "\xEF\xBB\xBF"
            "a.png\r\nb.png\r\n");
  EXPECT_EQ(listImages(t / "list.txt"), (std::vector<std::string>{t / "a.png", t / "b.png"}));
  // Only at the start of the file: elsewhere the bytes are a name's.
  std::string second =
      "b.png\n\xEF\xBB\xBF"
      "a.png\n";
  writeFile(t / "list2.txt", second);
  EXPECT_EQ(listImages(t / "list2.txt").at(1), t / "\xEF\xBB\xBF"
                                                   "a.png");
}

TEST(ImageFolder, AListSavedAsUtf16IsNamedAsSuchWithHowToSaveItAsUtf8) {
  // PowerShell 5's `dir -Name > list.txt` writes UTF-16 LE: it was "binary data, not one
  // image path per line".
  TempDir t;
  const auto utf16 = [](const std::string& text, bool big_endian) {
    std::string out = big_endian ? "\xFE\xFF" : "\xFF\xFE";
    for (char c : text) out += big_endian ? std::string{'\0', c} : std::string{c, '\0'};
    return out;
  };
  writeFile(t / "a.png", "x");
  writeFile(t / "le.txt", utf16("a.png\r\n", false));
  writeFile(t / "be.txt", utf16("a.png\n", true));
  for (const auto& [list, mark] : {std::pair{t / "le.txt", "FF FE"}, std::pair{t / "be.txt", "FE FF"}}) {
    const auto e = shiftad::test::errorOf([&] { listImages(list); });
    EXPECT_NE(e.find("image list '" + list + "' is saved as UTF-16 (it starts with the byte order mark " + mark + ")"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("save it as UTF-8"), std::string::npos) << e;
  }
}

TEST(ImageFolder, ACsvManifestGivenAsAListIsNamedAsOneAndACommaInANameIsKept) {
  // Each `path,label` row was a missing image, and "none of the 2 scored images could
  // be read" followed.
  TempDir t;
  writeFile(t / "odd/a.png", "x");
  writeFile(t / "odd/b.png", "x");
  writeFile(t / "manifest.csv", "path,label\nodd/a.png,0\nodd/b.png,1\n");
  const auto e = shiftad::test::errorOf([&] { listImages(t / "manifest.csv"); });
  EXPECT_NE(e.find("image list '" + t / "manifest.csv" + "', line 2: '" + t / "odd/a.png,0" + "' names no file, but '" +
                   t / "odd/a.png" + "' before its comma does: the list is a CSV"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("cut -d, -f1"), std::string::npos) << e;
  // A file named with a comma is an image like any other.
  writeFile(t / "odd/c,1.png", "x");
  writeFile(t / "list.txt", "odd/c,1.png\n");
  EXPECT_EQ(listImages(t / "list.txt"), std::vector<std::string>{t / "odd/c,1.png"});
}

TEST(ImageFolder, ATildeInTheDataRootIsSaidNotToBeExpanded) {
  // As written, and made absolute against the working folder (`--set data.root=~/data`,
  // which the shell does not expand after '=', reads /cwd/~/data).
  for (const char* root : {"~/no-such-data", "/work/~/no-such-data", "/work/~"}) {
    const auto e = shiftad::test::errorOf([&] { listDomain(root, "d"); });
    EXPECT_NE(e.find("'~' is a shell's, not expanded in a config, a suite or a --set: write the full path"),
              std::string::npos)
        << e;
  }
  for (const char* root : {"/no-such-data", "/work/a~b/data", "/work/~x/data"})
    EXPECT_EQ(shiftad::test::errorOf([&] { listDomain(root, "d"); }).find("'~'"), std::string::npos) << root;
}

TEST(ImageFolder, AListEntryKeepsTheBlanksOrHashItsFileIsNamedWith) {
  TempDir t;
  writeFile(t / " lead.png", "x");
  writeFile(t / "trail.png ", "x");
  writeFile(t / "plain.png", "x");
  writeFile(t / "#hash.png", "x");
  writeFile(t / "list.txt", "# a comment\n lead.png\ntrail.png \r\n  plain.png\t\n#hash.png\n");
  EXPECT_EQ(listImages(t / "list.txt"),
            (std::vector<std::string>{t / " lead.png", t / "trail.png ", t / "plain.png", t / "#hash.png"}));
}

TEST(ImageFolder, ListImagesErrors) {
  TempDir t;
  expectError([&] { listImages(t / "missing"); }, {t / "missing", "do not exist"});
  fs::create_symlink(t / "loopB", t / "loopA");
  fs::create_symlink(t / "loopA", t / "loopB");
  expectError([&] { listImages(t / "loopA"); }, {t / "loopA", "cannot be reached (Too many levels of symbolic links)"});
  writeFile(t / "scan.TIFF", std::string("II*\0", 4) + std::string(64, '\0'));
  expectError([&] { listImages(t / "scan.TIFF"); }, {t / "scan.TIFF", "is a tiff image: only PNG, JPEG and BMP"});
  fs::create_directories(t / "empty/sub");
  writeFile(t / "empty/sub/x.txt", "x");
  expectError([&] { listImages(t / "empty"); }, {t / "empty", "holds no image"});
  writeFile(t / "only_comments.txt", "# nothing\n\n");
  expectError([&] { listImages(t / "only_comments.txt"); }, {t / "only_comments.txt", "names no image"});
  // A binary file (a model, an archive) is not read as thousands of "missing images".
  const char binary[] = "PK\x03\x04\x00\x00\x08\x00garbage\nmore";
  writeFile(t / "model.bin", std::string(binary, sizeof binary - 1));
  expectError([&] { listImages(t / "model.bin"); }, {t / "model.bin", "binary data"});
  // A line longer than any path (PATH_MAX, 4096 with its NUL) is no path; one just below it is listed.
  writeFile(t / "long.txt", "a.png\n" + std::string(200000, 'x') + "\n");
  expectError([&] { listImages(t / "long.txt"); }, {t / "long.txt", "line 2: 200000 characters, longer than any path"});
  writeFile(t / "longest.txt", "/" + std::string(4094, 'y') + "\n");
  EXPECT_EQ(listImages(t / "longest.txt"), std::vector<std::string>{"/" + std::string(4094, 'y')});
  // A FIFO would block the open until a writer comes.
  ASSERT_EQ(mkfifo((t / "pipe").c_str(), 0600), 0);
  expectError([&] { listImages(t / "pipe"); }, {t / "pipe", "not a regular file"});
}

TEST(ImageFolder, AnImageWithoutAnImageExtensionIsNamedAsOneNotAsABinaryList) {
  // `--images noext` given a PNG, JPEG or BMP (its first bytes as their specs write
  // them) says what it is and how to pass it, not "image list ... holds binary data".
  TempDir t;
  const std::string ihdr("\0\0\0\x0DIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 21);
  writeFile(t / "photo", std::string("\x89PNG\r\n\x1a\n", 8) + ihdr + std::string(40, '\0'));
  writeFile(t / "frame_0001", std::string("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11) + std::string(40, '\0'));
  writeFile(t / "scan.raw", std::string("BM\x3A\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18) + std::string(40, '\0'));
  for (const auto& [name, format] :
       std::vector<std::pair<std::string, std::string>>{{"photo", "PNG"}, {"frame_0001", "JPEG"}, {"scan.raw", "BMP"}})
    expectError([&] { listImages(t / name); }, {"images '" + t / name + "' is a " + format + " image by its content",
                                                "no image extension", "give it one, or list it in a text file"});
  // A format not read is named, with the formats that are.
  writeFile(t / "anim", std::string("GIF89a\x01\0\x01\0\0\0\0", 13) + std::string(20, '\0'));
  expectError([&] { listImages(t / "anim"); }, {t / "anim", "is a GIF image by its content: only PNG, JPEG and BMP"});
  // A list that starts like a BMP ("BMW/...") but holds a NUL is still binary data.
  writeFile(t / "list.txt", std::string("BMW/a.png\n\0", 11));
  expectError([&] { listImages(t / "list.txt"); }, {t / "list.txt", "holds binary data"});
}

TEST(ImageFolder, ASingleImageIsItsOwnList) {
  TempDir t;
  writeFile(t / "one.png", "x");
  EXPECT_EQ(listImages(t / "one.png"), std::vector<std::string>{t / "one.png"});
}

TEST(ImageFolder, FolderLinksAreFollowedButNotIntoLoops) {
  TempDir t;
  writeFile(t / "dom/a/1.png", "x");
  writeFile(t / "elsewhere/2.png", "x");
  fs::create_symlink("self.png", t / "dom/a/self.png");               // a loop: listed, reading it says why
  fs::create_symlink(t / "missing.png", t / "dom/a/dangling.png");    // dangling: listed too
  fs::create_symlink(t / "elsewhere/2.png", t / "dom/a/linked.png");  // a link to an image: an image
  fs::create_directory_symlink("..", t / "dom/a/up");                 // a folder loop: not followed
  fs::create_directory_symlink(".", t / "dom/a/self");                // another
  fs::create_directory_symlink(t / "elsewhere", t / "dom/a/far");     // a folder link: its images are the class's
  fs::create_directory_symlink(t / "dom/a", t / "elsewhere/back");    // ... and one inside it back to the class
  fs::create_symlink(t / "gone.png", t / "dom/stray.png");            // a stray image beside classes: passed over
  const std::string a = t / "dom/a";
  EXPECT_EQ(shiftad::data::filesBelow(a), (std::vector<std::string>{a + "/1.png", a + "/dangling.png", a + "/far/2.png",
                                                                    a + "/linked.png", a + "/self.png"}));
  EXPECT_EQ(shiftad::data::subfolders(t / "dom"), (std::vector<std::string>{"a"}));
}

TEST(ImageFolder, AClassOrDomainThatIsALinkLeadingNowhereIsAnErrorNamingItNotAClassLess) {
  // Passed over, a class on a share that was not mounted left the run without a word:
  // train trained without it, eval scored another test split (AUROC 0.74 -> 0.99), and
  // check-data listed neither. A loop of links is the same.
  TempDir t;
  writeFile(t / "dom/a/1.png", "x");
  writeFile(t / "dom/b/1.png", "x");
  fs::create_directory_symlink(t / "share/c", t / "dom/c");
  expectError([&] { shiftad::data::subfolders(t / "dom"); }, {t / "dom/c", "symbolic link to '" + (t / "share/c") + "'",
                                                              "cannot be followed", "no such file", "mount"});
  expectError([&] { listDomain(t.path(), "dom"); }, {t / "dom/c", "cannot be followed"});
  writeFile(t / "share/c/1.png", "x");  // mounted
  EXPECT_EQ(shiftad::data::subfolders(t / "dom"), (std::vector<std::string>{"a", "b", "c"}));
  fs::create_symlink("loopdir", t / "dom/loopdir");
  expectError([&] { shiftad::data::subfolders(t / "dom"); }, {t / "dom/loopdir", "too many levels of symbolic links"});
  fs::remove(t / "dom/loopdir");
  fs::create_symlink(t / "unmounted", t / "other");  // a domain of the root
  expectError([&] { shiftad::data::subfolders(t.path()); }, {t / "other", "cannot be followed"});
}

TEST(ImageFolder, HiddenDomainAndClassFoldersAreReportedToTheCaller) {
  TempDir t;
  writeFile(t / "dom/a/1.png", "x");
  writeFile(t / "dom/.b/1.png", "x");
  writeFile(t / "dom/.note", "x");  // a hidden file: not a folder
  // Folders an operating system makes in a volume or a zip: each was an empty class that
  // refused the domain ("remove the folder"; lost+found and System Volume Information cannot be).
  writeFile(t / "dom/__MACOSX/a/._1.png", "\x00\x05\x16\x07junk");
  for (const char* system : {"lost+found", "System Volume Information", "$RECYCLE.BIN"})
    std::filesystem::create_directory(t / ("dom/" + std::string(system)));
  std::vector<std::string> hidden;
  EXPECT_EQ(shiftad::data::subfolders(t / "dom", &hidden), (std::vector<std::string>{"a"}));
  std::sort(hidden.begin(), hidden.end());
  EXPECT_EQ(hidden, (std::vector<std::string>{t / "dom/$RECYCLE.BIN", t / "dom/.b", t / "dom/System Volume Information",
                                              t / "dom/__MACOSX", t / "dom/lost+found"}));
  EXPECT_EQ(listDomain(t.path(), "dom").size(), 1u);  // trainable: class a alone
}

TEST(ImageFolder, AnEntryPastThePathLimitIsAnErrorNotAnEmptyClass) {
  // Its images vanished: check-data and score said the class held none.
  TempDir t;
  writeFile(t / "a/1.png", "x");
  int dir = ::open((t / "a").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  const std::string name(250, 'x');
  for (int depth = 0; depth < 20; ++depth) {  // 20 x 251 bytes: past PATH_MAX (4096), made relative to each
    ASSERT_EQ(::mkdirat(dir, name.c_str(), 0700), 0);
    const int next = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(dir);
    ASSERT_GE(next, 0);
    dir = next;
  }
  ::close(dir);
  expectError([&] { shiftad::data::filesBelow(t / "a"); }, {"cannot be examined: file name too long"});
}

TEST(ImageFolder, PipesAndDevicesAreListedSoThatReadingNamesThem) {
  // They were passed over: check-data counted none and said the data could run.
  TempDir t;
  writeFile(t / "a/1.png", "x");
  ASSERT_EQ(::mkfifo((t / "a/fifo.png").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", t / "a/zero.png");
  const std::string a = t / "a";
  EXPECT_EQ(shiftad::data::filesBelow(a), (std::vector<std::string>{a + "/1.png", a + "/fifo.png", a + "/zero.png"}));
}
