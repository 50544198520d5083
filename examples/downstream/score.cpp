// Score image files with a trained detector through libshiftad's C++ API, printing
// `path,score,normalised_score,anomalous` (the rows of `shiftad score`'s CSV, a path
// quoted as there: RFC 4180) for every file scored: the score and the run's decision.
//
//   score_cpp RUN_DIR IMAGE...
#include <cstdio>
#include <string>
#include <vector>

#include "shiftad/shiftad.h"

// `value` as one CSV field, as `shiftad score` writes it (RFC 4180): in double quotes,
// its quotes doubled, when it holds a comma, a double quote, CR or LF.
static std::string csvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RUN_DIR IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    shiftad::setThreads(0);                                         // all cores, as the `shiftad` command
    shiftad::Detector detector = shiftad::Detector::load(argv[1]);  // reads the run directory once
    const shiftad::ScoreResult result = detector.score(std::vector<std::string>(argv + 2, argv + argc));
    std::printf("path,score,normalised_score,anomalous\n");
    for (const shiftad::ImageScore& s : result.scores) {
      std::printf("%s,%.9g,", csvField(s.path).c_str(), s.score);
      // A run without a calibration has no decision: NaN, and empty fields as in the CLI.
      if (s.normalised_score == s.normalised_score)
        std::printf("%.6f,%d\n", s.normalised_score, s.anomalous ? 1 : 0);
      else
        std::printf(",\n");
    }
    for (const std::string& path : result.skipped) std::fprintf(stderr, "skipped (unreadable): %s\n", path.c_str());
  } catch (const shiftad::Error& e) {  // bad input: the message names the path or value and what to do
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
