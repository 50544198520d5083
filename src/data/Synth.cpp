// The synthetic benchmark: the same parts at two inspection sites.
//
// The part (the class): one of six flat, bright, warm-coloured silhouettes, held in a
// fixture (a little play in position, size and angle); its colour and stroke width
// vary a little from part to part. Drawn from the same distribution at both sites.
// Site A (source): a lightbox. Plain dark work surface; even, fixed lighting; neutral
//   white balance; in focus; low sensor noise.
// Site B (target): a station lit by the room. A mid-grey rubber mat with a fine
//   crosshatch under the parts; a cold white balance; per image an exposure, a light
//   fall-off across the field in a random direction and veiling glare; slight defocus;
//   more sensor noise.
// The silhouette, and so the class, is the same at both sites; everything else about
// the pixels changes. The numbers are in kSource*/kTarget* below (Synth.h says what
// each means); docs/synthetic.md gives the reasons.
#include "data/Synth.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "common/Hash.h"

namespace fs = std::filesystem;

namespace shiftad::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kSuper = 4;      // shapes are rendered 4x larger, then area-averaged: antialiasing
constexpr int kShiftBits = 4;  // sub-pixel vertex precision of cv::fillPoly

// Platform-independent random numbers: only mt19937_64's raw output is used (the
// std distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(0.0, 1.0), u2 = uniform(0.0, 1.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 gen_;
};

// One independent stream per image: counts per class can change without moving the
// other images.
uint64_t imageSeed(int seed, int domain, int cls, int index) {
  uint64_t s = splitmix64(static_cast<uint64_t>(static_cast<int64_t>(seed)));
  s = splitmix64(s + static_cast<uint64_t>(domain));
  s = splitmix64(s + static_cast<uint64_t>(cls));
  return splitmix64(s + static_cast<uint64_t>(index));
}

// Pose of a shape, in output pixels.
struct Pose {
  double cx, cy, r, angle, stroke;
};

// Parts sit in a fixture, as on an inspection station: a little play in position (3%
// of the field), size (±3%) and angle (±5°). With the ±8% / ±25° of free placement, a
// from-scratch Deep SVDD could not tell the shapes apart even within one domain
// (source -> source AUROC 0.75 in tests/oracle/data_synth_shift_check.py train; 0.92 now).
Pose samplePose(Rng& rng, int size) {
  const double s = size;
  return {s / 2 + rng.uniform(-0.03, 0.03) * s, s / 2 + rng.uniform(-0.03, 0.03) * s, rng.uniform(0.30, 0.32) * s,
          rng.uniform(-5.0, 5.0) * kPi / 180.0, rng.uniform(0.09, 0.12) * s};
}

cv::Point fixedPoint(double x, double y) {
  const double k = kSuper * double(1 << kShiftBits);
  return {static_cast<int>(std::lround(x * k)), static_cast<int>(std::lround(y * k))};
}

// Polygon from (radius, angle) pairs around the pose centre, rotated by the pose.
std::vector<cv::Point> polar(const Pose& p, const std::vector<std::pair<double, double>>& ra) {
  std::vector<cv::Point> pts;
  for (const auto& [r, a] : ra)
    pts.push_back(fixedPoint(p.cx + r * std::cos(a + p.angle), p.cy + r * std::sin(a + p.angle)));
  return pts;
}

std::vector<cv::Point> regular(const Pose& p, int n, double r, double start) {
  std::vector<std::pair<double, double>> ra;
  for (int i = 0; i < n; ++i) ra.push_back({r, start + 2 * kPi * i / n});
  return polar(p, ra);
}

std::vector<cv::Point> star(const Pose& p) {
  std::vector<std::pair<double, double>> ra;
  for (int i = 0; i < 10; ++i) ra.push_back({i % 2 ? 0.45 * p.r * 1.15 : p.r * 1.15, -kPi / 2 + kPi * i / 5});
  return polar(p, ra);
}

// A plus sign: arm half-length r, arm half-width stroke.
std::vector<cv::Point> cross(const Pose& p) {
  const double L = p.r, w = p.stroke * 1.1;
  const double xy[12][2] = {{-w, -L}, {w, -L}, {w, -w}, {L, -w}, {L, w},   {w, w},
                            {w, L},   {-w, L}, {-w, w}, {-L, w}, {-L, -w}, {-w, -w}};
  std::vector<std::pair<double, double>> ra;
  for (const auto& v : xy) ra.push_back({std::hypot(v[0], v[1]), std::atan2(v[1], v[0])});
  return polar(p, ra);
}

const std::vector<std::string>& classNames() {
  static const std::vector<std::string> names = {"circle", "cross", "ring", "square", "star", "triangle"};
  return names;
}

// Alpha mask (float, size x size, [0,1]) of class `cls` in pose `p`.
cv::Mat renderMask(const std::string& cls, const Pose& p, int size) {
  cv::Mat big = cv::Mat::zeros(size * kSuper, size * kSuper, CV_8UC1);
  const cv::Scalar white(255);
  const cv::Point c = fixedPoint(p.cx, p.cy);
  const auto radius = [&](double r) { return static_cast<int>(std::lround(r * kSuper * (1 << kShiftBits))); };
  std::vector<cv::Point> poly;
  if (cls == "circle") cv::circle(big, c, radius(p.r), white, cv::FILLED, cv::LINE_AA, kShiftBits);
  if (cls == "ring")
    cv::circle(big, c, radius(p.r - p.stroke / 2), white, static_cast<int>(std::lround(p.stroke * kSuper)), cv::LINE_AA,
               kShiftBits);
  if (cls == "square") poly = regular(p, 4, p.r * 1.05, kPi / 4);
  if (cls == "triangle") poly = regular(p, 3, p.r * 1.2, -kPi / 2);
  if (cls == "star") poly = star(p);
  if (cls == "cross") poly = cross(p);
  if (!poly.empty()) cv::fillPoly(big, std::vector<std::vector<cv::Point>>{poly}, white, cv::LINE_AA, kShiftBits);
  cv::Mat small, mask;
  cv::resize(big, small, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  small.convertTo(mask, CV_32F, 1.0 / 255.0);
  return mask;
}

// RGB (0..255) of an HSV colour, hue in degrees, s and v in [0,1].
cv::Vec3f hsv(double h, double s, double v) {
  const double c = v * s, hp = std::fmod(h, 360.0) / 60.0, x = c * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  if (hp < 1)
    r = c, g = x;
  else if (hp < 2)
    r = x, g = c;
  else if (hp < 3)
    g = c, b = x;
  else if (hp < 4)
    g = x, b = c;
  else if (hp < 5)
    r = x, b = c;
  else
    r = c, b = x;
  const double m = v - c;
  return cv::Vec3f(float(255 * (r + m)), float(255 * (g + m)), float(255 * (b + m)));
}

cv::Mat compose(const cv::Mat& background, const cv::Mat& mask, const cv::Vec3f& colour) {
  cv::Mat out = background.clone();
  for (int y = 0; y < out.rows; ++y)
    for (int x = 0; x < out.cols; ++x) {
      const float a = mask.at<float>(y, x);
      out.at<cv::Vec3f>(y, x) = out.at<cv::Vec3f>(y, x) * (1 - a) + colour * a;
    }
  return out;
}

void addNoise(cv::Mat& img, Rng& rng, double sigma) {
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      for (int c = 0; c < 3; ++c) img.at<cv::Vec3f>(y, x)[c] += static_cast<float>(sigma * rng.normal());
}

// Site A's surface: plain dark. Site B's: a mid-grey rubber mat with a fine crosshatch.
const SynthSurface kSourceSurface{15, 40, 5, 0, 0};
const SynthSurface kTargetSurface{70, 100, 5, 10, 6};

// What is in front of the camera: the part (the class) and the surface under it.
struct Scene {
  cv::Mat mask;     // the part's alpha mask (float, [0,1])
  cv::Vec3f part;   // the part's colour (RGB, 0..255 as the source camera records it)
  cv::Mat surface;  // the surface (float RGB)
};

// The part is drawn from the same distribution at both sites; the surface is the site's.
Scene sampleScene(const std::string& cls, const SynthSurface& surf, Rng& rng, int size) {
  const double g = rng.uniform(surf.grey_min, surf.grey_max);
  const cv::Vec3f base(float(g + rng.uniform(-surf.tint, surf.tint)), float(g + rng.uniform(-surf.tint, surf.tint)),
                       float(g + rng.uniform(-surf.tint, surf.tint)));
  const double phase1 = rng.uniform(0, 2 * kPi), phase2 = rng.uniform(0, 2 * kPi);
  cv::Mat surface(size, size, CV_32FC3);
  const double k = surf.texture_period > 0 ? 2 * kPi / (surf.texture_period * size / 32.0) / std::sqrt(2.0) : 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double t = surf.texture_amplitude * (std::sin(k * (x + y) + phase1) + std::sin(k * (x - y) + phase2));
      surface.at<cv::Vec3f>(y, x) = base + cv::Vec3f::all(float(t));
    }
  const cv::Vec3f part = hsv(rng.uniform(15, 40), rng.uniform(0.65, 0.85), rng.uniform(0.9, 1.0));
  return {renderMask(cls, samplePose(rng, size), size), part, surface};
}

// Site A: an inspection lightbox. Even, fixed lighting, neutral colour, in focus.
const SynthCamera kSourceCamera{{1.0, 1.0, 1.0}, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0};
// Site B: a station lit by the room: a cold white balance, exposure and light
// direction that change from image to image, glare, a lens slightly out of focus and
// a noisier sensor.
const SynthCamera kTargetCamera{{0.7, 0.95, 1.3}, 0.05, 0.6, 1.0, 0.4, 0.8, 20.0, 45.0, 0.9, 6.0};

cv::Mat photograph(const Scene& scene, const SynthCamera& cam, Rng& rng, int size) {
  cv::Vec3f wb;
  for (int c = 0; c < 3; ++c) wb[c] = float(cam.white_balance[c] * (1 + rng.uniform(-cam.wb_jitter, cam.wb_jitter)));
  const double exposure = rng.uniform(cam.exposure_min, cam.exposure_max);
  const double falloff = rng.uniform(cam.falloff_min, cam.falloff_max), dir = rng.uniform(0, 2 * kPi);
  const double glare = rng.uniform(cam.glare_min, cam.glare_max);
  cv::Mat img = compose(scene.surface, scene.mask, scene.part);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double u = (x + 0.5) / size - 0.5, v = (y + 0.5) / size - 0.5;
      const double light = 1 + falloff * (u * std::cos(dir) + v * std::sin(dir));
      cv::Vec3f& px = img.at<cv::Vec3f>(y, x);
      px = (px * float(exposure * light) + cv::Vec3f::all(float(glare * light))).mul(wb);
    }
  if (cam.blur_sigma > 0) {
    const double sigma = cam.blur_sigma * size / 32.0;
    cv::GaussianBlur(img, img, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
  }
  addNoise(img, rng, cam.noise_sigma);
  return img;
}

void checkDomain(const std::string& domain) {
  SHIFTAD_CHECK(domain == "source" || domain == "target",
                "synthetic benchmark: no domain '{}' (its domains are source and target)", domain);
}

void writePng(const cv::Mat& rgb_float, const std::string& path) {
  cv::Mat rgb8, bgr8;
  rgb_float.convertTo(rgb8, CV_8UC3);  // rounds and saturates
  cv::cvtColor(rgb8, bgr8, cv::COLOR_RGB2BGR);
  SHIFTAD_CHECK(cv::imwrite(path, bgr8), "cannot write synthetic image '{}': check that the folder is writable", path);
}

}  // namespace

std::vector<std::string> synthClasses() { return classNames(); }

const SynthCamera& synthCamera(const std::string& domain) {
  checkDomain(domain);
  return domain == "source" ? kSourceCamera : kTargetCamera;
}

const SynthSurface& synthSurface(const std::string& domain) {
  checkDomain(domain);
  return domain == "source" ? kSourceSurface : kTargetSurface;
}

std::vector<std::string> synthDomains() { return {"source", "target"}; }

std::string synthImageName(int i) { return fmt::format("{:04d}.png", i); }

bool isSynthImageName(const std::string& name) {
  return name.size() == 8 && name.compare(4, 4, ".png") == 0 &&
         std::all_of(name.begin(), name.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
}

std::string synthMarkerText(int seed) {
  return fmt::format("the synthetic benchmark of shiftad: shiftad may rewrite source/ and target/ here\nseed: {}\n",
                     seed);
}

std::optional<int> synthMarkerSeed(const std::string& text) {
  const std::string key = "\nseed: ";
  const auto at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  try {
    return std::stoi(text.substr(at + key.size()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void writeSynth(const std::string& out_dir, const SynthParams& params) {
  SHIFTAD_CHECK(params.per_class_source > 0 && params.per_class_target > 0,
                "synthetic benchmark: images per class must be positive (source {}, target {})",
                params.per_class_source, params.per_class_target);
  SHIFTAD_CHECK(params.size >= 16 && params.size <= 1024,
                "synthetic benchmark: size = {} is outside [16, 1024] (shapes are unrecognisable below 16 px)",
                params.size);
  const std::vector<std::string> domains = synthDomains();
  for (int d = 0; d < 2; ++d) {
    const int count = d == 0 ? params.per_class_source : params.per_class_target;
    for (int c = 0; c < static_cast<int>(classNames().size()); ++c) {
      const fs::path dir = fs::path(out_dir) / domains[d] / classNames()[c];
      std::error_code ec;
      fs::create_directories(dir, ec);
      SHIFTAD_CHECK(!ec, "cannot create folder '{}': {}", dir.string(), ec.message());
      for (int i = 0; i < count; ++i) {
        Rng rng(imageSeed(params.seed, d, c, i));
        const Scene scene = sampleScene(classNames()[c], synthSurface(domains[d]), rng, params.size);
        const cv::Mat img = photograph(scene, synthCamera(domains[d]), rng, params.size);
        writePng(img, (dir / synthImageName(i)).string());
      }
    }
  }
}

}  // namespace shiftad::data
