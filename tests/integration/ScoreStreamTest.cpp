// `shiftad score --images - --out -`: a detector kept loaded, fed paths on stdin, each
// row written as its path arrives; and `-` for either side alone. The oracle is the
// same run's CSV written by `score --images LIST --out FILE`.
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/Csv.h"
#include "shiftad/shiftad.h"
#include "support/Process.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using shiftad::test::TempDir;

namespace {

constexpr const char* kHeader = "path,score,normalised_score,anomalous";

/// A tiny trained run on the synthetic benchmark, and a few of its target images.
struct TrainedRun {
  TempDir tmp;
  std::string run = tmp / "run";
  std::vector<std::string> images;

  TrainedRun() {
    shiftad::synthesize(tmp / "data", 0);
    shiftad::Config c;
    c.data.root = tmp / "data";
    c.data.source = "source";
    c.data.target = "target";
    c.data.normal_class = "circle";
    c.train.epochs = 2;
    c.model.width = 8;
    shiftad::test::writeFile(tmp / "cfg.yaml", shiftad::dumpConfig(c));
    const auto r = shiftad::test::runCli({"train", "-q", "--config", tmp / "cfg.yaml", "--out", run}, tmp.path());
    EXPECT_EQ(r.exit, 0) << r.err;
    for (const char* cls : {"circle", "star", "square"})
      for (const char* name : {"0000.png", "0003.png"})
        images.push_back(tmp / (std::string("data/target/") + cls + "/" + name));
  }

  /// path -> row, as `score --images LIST --out FILE` writes them.
  std::map<std::string, std::string> batchRows() const {
    std::string list;
    for (const auto& p : images) list += p + "\n";
    shiftad::test::writeFile(tmp / "list.txt", list);
    const auto r = shiftad::test::runCli(
        {"score", "-q", "--model", run, "--images", tmp / "list.txt", "--out", tmp / "b.csv"}, tmp.path());
    EXPECT_EQ(r.exit, 0) << r.err;
    std::istringstream in(shiftad::test::readText(tmp / "b.csv"));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, kHeader);
    std::map<std::string, std::string> rows;
    while (std::getline(in, line)) rows[shiftad::csv::split(line).at(0)] = line;
    EXPECT_EQ(rows.size(), images.size());
    return rows;
  }
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(ScoreStream, EachPathsRowComesBeforeTheNextPathIsSent) {
  const TrainedRun t;
  const auto expected = t.batchRows();
  shiftad::test::CliPipe cli({"score", "-q", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
  std::string line;
  // Generous timeouts: a row that only comes at the end of the input never comes here,
  // as the input stays open until every row has been read.
  ASSERT_TRUE(cli.readLine(line, 120000)) << shiftad::test::readText(t.tmp / "err.log");
  EXPECT_EQ(line, kHeader);
  for (const auto& p : t.images) {
    cli.write(p + "\n");
    ASSERT_TRUE(cli.readLine(line, 60000))
        << "no row for " << p << " while the input is open; stderr: " << shiftad::test::readText(t.tmp / "err.log");
    EXPECT_EQ(line, expected.at(p));
  }
  EXPECT_EQ(cli.finish(), 0) << shiftad::test::readText(t.tmp / "err.log");
  EXPECT_FALSE(cli.readLine(line, 1000)) << "a row after the input ended: " << line;
  // -q: only warnings and errors on stderr; the summary of a clean stream is neither.
  EXPECT_EQ(shiftad::test::readText(t.tmp / "err.log"), "");
}

TEST(ScoreStream, PathsSentTogetherAreScoredTogetherToTheSameRowsInTheirOrder) {
  // Lines already waiting are scored as one batch: the rows are the list's, bit for bit
  // (an image's score does not depend on the images scored with it), in input order.
  const TrainedRun t;
  const auto expected = t.batchRows();
  shiftad::test::CliPipe cli({"score", "-q", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
  std::string input;
  std::vector<std::string> want{kHeader};
  for (int round = 0; round < 7; ++round)  // 42 lines: more than one batch, a path more than once
    for (size_t i = 0; i < t.images.size(); ++i) {
      const auto& p = t.images[(i + round) % t.images.size()];
      input += p + "\n";
      want.push_back(expected.at(p));
    }
  // A line that never ends within 64 KiB (binary data piped in) is cut, not kept whole.
  input += std::string(200000, 'a') + "\n" + t.images[2] + "\n";
  want.push_back(",,,");
  want.push_back(expected.at(t.images[2]));
  cli.write(input);
  EXPECT_EQ(cli.finish(), 0);
  std::vector<std::string> rows;
  for (std::string l; cli.readLine(l, 1000);) rows.push_back(l);
  EXPECT_EQ(rows, want);
  const auto err = shiftad::test::readText(t.tmp / "err.log");
  EXPECT_NE(err.find("standard input, line 43: more than 65536 characters, longer than any path"), std::string::npos)
      << err;
  EXPECT_NE(err.find("scored 43 images from standard input (1 unreadable"), std::string::npos) << err;
}

TEST(ScoreStream, AnUnreadableOrMissingFileGetsAnEmptyScoreAndTheStreamGoesOn) {
  const TrainedRun t;
  const auto expected = t.batchRows();
  shiftad::test::writeFile(t.tmp / "broken.png", "not a png");
  // A Windows line end, an empty line and a comment, read as the lines of a list file are.
  shiftad::test::CliPipe cli({"score", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
  cli.write(t.images[0] + "\r\n\n# a comment\n" + (t.tmp / "broken.png") + "\n" + (t.tmp / "missing.png") + "\n" +
            t.images[1] + "\n");
  EXPECT_EQ(cli.finish(), 0);
  std::vector<std::string> rows;
  for (std::string l; cli.readLine(l, 1000);) rows.push_back(l);
  const std::vector<std::string> want{kHeader, expected.at(t.images[0]),
                                      shiftad::csv::field(t.tmp / "broken.png") + ",,,",
                                      shiftad::csv::field(t.tmp / "missing.png") + ",,,", expected.at(t.images[1])};
  EXPECT_EQ(rows, want);
  const auto err = shiftad::test::readText(t.tmp / "err.log");
  EXPECT_NE(err.find("broken.png"), std::string::npos) << err;
  EXPECT_NE(err.find("missing.png"), std::string::npos) << err;
  EXPECT_NE(err.find("scored 2 images from standard input (2 unreadable"), std::string::npos) << err;
}

TEST(ScoreStream, AStreamThatScoredNoImageEndsWithAnError) {
  // A producer that failed (`find` on a missing folder) or paths relative to another
  // folder gave a CSV of the header alone and exit 0; the batch mode refuses an empty list.
  const TrainedRun t;
  for (const std::string input :
       std::vector<std::string>{"", "# only a comment\n\n", "missing-1.png\nmissing-2.png\n"}) {
    shiftad::test::CliPipe cli({"score", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
    cli.write(input);
    EXPECT_EQ(cli.finish(), 1) << input;
    std::vector<std::string> rows;
    for (std::string l; cli.readLine(l, 1000);) rows.push_back(l);
    EXPECT_EQ(rows.front(), kHeader);
    const auto err = shiftad::test::readText(t.tmp / "err.log");
    const bool none = input.find("missing") == std::string::npos;
    EXPECT_NE(err.find(none ? "shiftad: error: standard input (--images -) named no image"
                            : "shiftad: error: none of the 2 lines of standard input (--images -) was an image"),
              std::string::npos)
        << err;
  }
  // One readable image among unreadable ones is a stream that worked.
  shiftad::test::CliPipe cli({"score", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
  cli.write("missing-1.png\n" + t.images[0] + "\n");
  EXPECT_EQ(cli.finish(), 0);
}

TEST(ScoreStream, ALineThatIsNotAPathGetsARowWithNeitherPathNorScore) {
  const TrainedRun t;
  const auto expected = t.batchRows();
  // A NUL byte (a path cut there would name the image before it) and a line longer than
  // any path: neither is echoed (CSV readers refuse a NUL; the line may be megabytes).
  shiftad::test::CliPipe cli({"score", "-q", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err.log");
  cli.write(t.images[0] + std::string(1, '\0') + "x\n" + std::string(5000, 'a') + "\n" + t.images[1] + "\n");
  EXPECT_EQ(cli.finish(), 0);
  std::vector<std::string> rows;
  for (std::string l; cli.readLine(l, 1000);) rows.push_back(l);
  EXPECT_EQ(rows, (std::vector<std::string>{kHeader, ",,,", ",,,", expected.at(t.images[1])}));
  // A byte order mark before the first path (a Windows program's UTF-8) is no part of it.
  shiftad::test::CliPipe bom({"score", "-q", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err3.log");
  bom.write("\xEF\xBB\xBF" + t.images[1] + "\n");
  EXPECT_EQ(bom.finish(), 0);
  rows.clear();
  for (std::string l; bom.readLine(l, 1000);) rows.push_back(l);
  EXPECT_EQ(rows, (std::vector<std::string>{kHeader, expected.at(t.images[1])}));
  // UTF-16 (PowerShell 5's pipes and `>`): no line would name a file; said once, exit 1.
  shiftad::test::CliPipe utf16({"score", "-q", "--model", t.run, "--images", "-", "--out", "-"}, t.tmp / "err4.log");
  std::string wide = "\xFF\xFE";
  for (char c : t.images[1] + "\n") wide += std::string{c, '\0'};
  utf16.write(wide);
  EXPECT_EQ(utf16.finish(), 1);
  EXPECT_NE(shiftad::test::readText(t.tmp / "err4.log").find("standard input (--images -) is saved as UTF-16"),
            std::string::npos)
      << shiftad::test::readText(t.tmp / "err4.log");
  const auto err = shiftad::test::readText(t.tmp / "err.log");
  EXPECT_NE(err.find("standard input, line 1: a NUL byte"), std::string::npos) << err;
  EXPECT_NE(err.find("standard input, line 2: 5000 characters, longer than any path"), std::string::npos) << err;
  // Read as a list to score at once (--out FILE), such a line is an error, as in a list file.
  shiftad::test::CliPipe batch({"score", "-q", "--model", t.run, "--images", "-", "--out", t.tmp / "n.csv"},
                               t.tmp / "err2.log");
  batch.write(t.images[1] + "\n" + t.images[0] + std::string(1, '\0') + "x\n");
  EXPECT_EQ(batch.finish(), 1);
  EXPECT_NE(shiftad::test::readText(t.tmp / "err2.log")
                .find("standard input (--images -), line 2: a NUL byte: binary data, not a path"),
            std::string::npos)
      << shiftad::test::readText(t.tmp / "err2.log");
  EXPECT_FALSE(fs::exists(t.tmp / "n.csv"));
}

TEST(ScoreStream, APathListOnStdinOrACsvOnStdoutIsTheBatchCsv) {
  const TrainedRun t;
  t.batchRows();  // writes list.txt and b.csv
  const auto file = shiftad::test::readText(t.tmp / "b.csv");
  // --images - --out FILE: the list read to its end, then scored as a list file is.
  {
    shiftad::test::CliPipe cli({"score", "-q", "--model", t.run, "--images", "-", "--out", t.tmp / "s.csv"},
                               t.tmp / "err1.log");
    for (const auto& p : t.images) cli.write(p + "\n");
    EXPECT_EQ(cli.finish(), 0) << shiftad::test::readText(t.tmp / "err1.log");
    EXPECT_EQ(shiftad::test::readText(t.tmp / "s.csv"), file);
  }
  // Nothing on it, as an empty list file: an error, no CSV (it was a header and exit 0).
  {
    shiftad::test::CliPipe none({"score", "-q", "--model", t.run, "--images", "-", "--out", t.tmp / "e.csv"},
                                t.tmp / "err0.log");
    none.write("# no paths\n\n");
    EXPECT_EQ(none.finish(), 1);
    EXPECT_NE(shiftad::test::readText(t.tmp / "err0.log").find("standard input (--images -) names no image"),
              std::string::npos)
        << shiftad::test::readText(t.tmp / "err0.log");
    EXPECT_FALSE(fs::exists(t.tmp / "e.csv"));
  }
  // --images LIST --out -: the CSV alone on stdout, the summary on stderr.
  const auto r =
      shiftad::test::runCli({"score", "--model", t.run, "--images", t.tmp / "list.txt", "--out", "-"}, t.tmp.path());
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, file);
  EXPECT_NE(r.err.find("scored 6 images (0 unreadable, skipped) -> standard output"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.out).size(), t.images.size() + 1);
  // With -q the summary is left out; the CSV is the same.
  const auto quiet = shiftad::test::runCli(
      {"score", "-q", "--model", t.run, "--images", t.tmp / "list.txt", "--out", "-"}, t.tmp.path());
  EXPECT_EQ(quiet.exit, 0) << quiet.err;
  EXPECT_EQ(quiet.out, file);
  EXPECT_EQ(quiet.err, "");
}

TEST(ScoreStream, MaxSkippedWithAStreamIsAUsageError) {
  TempDir tmp;
  const auto r = shiftad::test::runCli(
      {"score", "--model", tmp / "run", "--images", "-", "--out", "-", "--max-skipped", "3"}, tmp.path());
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("--max-skipped does not apply to --images - --out -"), std::string::npos) << r.err;
}
