// Use shiftad from C++: train a detector on the synthetic benchmark, load it, and score
// image files and an image already in memory. README.md ("Use it from C++") shows
// this file; tests run it (ctest -R example).
//
//   shiftad_example_detector OUT_DIR
#include <cstdio>
#include <string>
#include <vector>

#include "shiftad/shiftad.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  try {
    shiftad::synthesize(out + "/data", /*seed=*/0);
    shiftad::Config cfg;  // every default is the documented one (`shiftad config --doc`)
    cfg.data.root = out + "/data";
    cfg.data.source = "source";
    cfg.data.target = "target";
    cfg.data.normal_class = "circle";
    cfg.train.epochs = 2;

    shiftad::FitOptions options;
    options.callbacks.progress = [](const std::string& stage, int64_t done, int64_t total) {
      std::printf("%s %lld/%lld\n", stage.c_str(), static_cast<long long>(done), static_cast<long long>(total));
    };
    shiftad::Detector::fit(cfg, out + "/run", options);  // writes the run directory

    shiftad::Detector detector = shiftad::Detector::load(out + "/run");  // reads it once
    const shiftad::ScoreResult files = detector.score(out + "/data/target/star");
    std::printf("scored %zu files; first: %s %.4f\n", files.scores.size(), files.scores.at(0).path.c_str(),
                files.scores.at(0).score);

    // A 64 x 64 gray image from memory (RGB, 8 bits, rows packed).
    const std::vector<uint8_t> pixels(64 * 64 * 3, 128);
    const std::vector<double> memory = detector.score(std::vector<shiftad::ImageView>{{64, 64, 0, pixels.data()}});
    std::printf("a gray image scores %.4f\n", memory.at(0));
  } catch (const std::exception& e) {  // shiftad::Error names what is wrong and how to fix it
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
