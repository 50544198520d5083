// The config schema: every key, its type, default, allowed values and meaning, in
// one table. Parsing, dumping, validation and docs/config.md all come from it, so
// they cannot drift apart.
#include "shiftad/Config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <filesystem>
#include <functional>
#include <regex>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include <yaml-cpp/yaml.h>

#include "common/Error.h"
#include "common/NearestName.h"
#include "common/Number.h"
#include "config/Choices.h"
#include "config/YamlChecks.h"

namespace fs = std::filesystem;

namespace shiftad {
namespace {

/// One config key: how to read it from YAML into a Config, how to write it back.
struct KeySpec {
  std::string key;      ///< "section.field"
  std::string type;     ///< int | float | bool | string | list of float
  std::string allowed;  ///< human-readable rule, e.g. ">= 1" or "kmeans"
  std::string doc;
  std::function<void(Config&, const YAML::Node&)> set;  ///< throws Error on a bad value
  std::function<YAML::Node(const Config&)> get;
  bool is_path = false;  ///< a file or folder: resolved against the config file's folder
  bool is_text = false;  ///< free text (a name, a path): --set takes its value as typed
};

[[noreturn]] void badValue(const std::string& key, const YAML::Node& node, const std::string& allowed) {
  // `--set train.epochs=` and `epochs:` read as YAML null, which the emitter writes as '~'.
  if (node.IsNull()) SHIFTAD_THROW("config key '{}' has no value; expected {}", key, allowed);
  YAML::Emitter e;
  e << YAML::Flow << node;
  SHIFTAD_THROW("config key '{}': value '{}' is not allowed; expected {}", key, e.c_str(), allowed);
}

/// The shortest text that reads back as exactly `v` (0.1, where yaml-cpp's emitter
/// writes 0.10000000000000001), with a '.' before any exponent so that YAML 1.1
/// readers (PyYAML) also take it for a number: 1.0e-06.
YAML::Node numberNode(double v) {
  if (v == 0.0) v = 0.0;  // -0 is 0: written "-0", two configs of the same value differed
  std::string s = fmt::format("{}", v);
  const auto e = s.find('e');
  if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
  return YAML::Node(s);
}

/// A number written with a nonzero digit and a negative exponent that no double holds
/// (1e-400) is refused, not read as 0 (strtod's reading of it).
void checkNotUnderflowed(const std::string& key, const std::string& text) {
  static const std::regex kTiny("[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)[eE]-[0-9]+");
  const auto mantissa = text.substr(0, text.find_first_of("eE"));
  SHIFTAD_CHECK(!std::regex_match(text, kTiny) || mantissa.find_first_of("123456789") == std::string::npos,
                "config key '{}': value '{}' is smaller than any number a double holds (about 1e-308) and would be "
                "read as 0; write 0 or a larger number",
                key, text);
}

template <typename T>
T scalarAs(const std::string& key, const YAML::Node& node, const std::string& allowed) {
  if (!node.IsScalar()) badValue(key, node, allowed);
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    // Not yaml-cpp's as<T>: its stream follows the host's C++ locale, where a German one
    // read `lr: 0.001` as 1 (common/Number.h).
    if (const auto v = parseNumber<T>(node.Scalar())) return *v;
    if constexpr (std::is_floating_point_v<T>) checkNotUnderflowed(key, node.Scalar());
    badValue(key, node, allowed);
  } else {
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      badValue(key, node, allowed);
    }
  }
}

// Builders. `field` selects the member from a Config; the range/choice check runs on
// every value, from files and from --set alike.
template <typename Field>
KeySpec intKey(std::string key, Field field, long lo, long hi, std::string doc) {
  // The upper end is always named: "an integer >= 0" read as unbounded, and 2^31 failed.
  std::string allowed = fmt::format("an integer in [{}, {}]", lo, hi);
  return {key, "int", allowed, std::move(doc),
          [=](Config& c, const YAML::Node& n) {
            // yaml-cpp reads "010" as octal 8 (YAML 1.1); nobody writing epochs: 010 means 8.
            static const std::regex kLeadingZero("[-+]?0[0-9]+");  // built once: every int key of every parse
            if (n.IsScalar() && std::regex_match(n.Scalar(), kLeadingZero))
              SHIFTAD_THROW(
                  "config key '{}': value '{}' has a leading zero, which YAML reads as an octal number; write it "
                  "without leading zeros ({})",
                  key, n.Scalar(), allowed);
            // yaml-cpp also reads 0x10 as 16 and 0o10 as 8: a config integer is decimal digits.
            static const std::regex kDecimal("[-+]?[0-9]+");
            if (n.IsScalar() && !std::regex_match(n.Scalar(), kDecimal)) badValue(key, n, allowed);
            const long v = scalarAs<long>(key, n, allowed);
            if (v < lo || v > hi) badValue(key, n, allowed);
            field(c) = static_cast<int>(v);
          },
          // As text: YAML::Node(int) writes through a stream in the host's locale ("4.096").
          [=](const Config& c) { return YAML::Node(fmt::format("{}", field(const_cast<Config&>(c)))); }};
}

template <typename Field>
KeySpec floatKey(std::string key, Field field, double lo, double hi, bool hi_open, std::string doc) {
  // Every bound is finite: the values reach float32 tensors and size_t counts, where
  // 1e300 would overflow far from the key that caused it.
  const std::string allowed = fmt::format("a number in [{}, {}{}", lo, hi, hi_open ? ")" : "]");
  return {key,
          "float",
          allowed,
          std::move(doc),
          [=](Config& c, const YAML::Node& n) {
            const double v = scalarAs<double>(key, n, allowed);
            if (!std::isfinite(v) || v < lo || v > hi || (hi_open && v >= hi)) badValue(key, n, allowed);
            field(c) = v;
          },
          [=](const Config& c) { return numberNode(field(const_cast<Config&>(c))); }};
}

template <typename Field>
KeySpec boolKey(std::string key, Field field, std::string doc) {
  return {key,
          "bool",
          "true or false",
          std::move(doc),
          [=](Config& c, const YAML::Node& n) { field(c) = scalarAs<bool>(key, n, "true or false"); },
          [=](const Config& c) { return YAML::Node(field(const_cast<Config&>(c))); }};
}

/// A free-form string key.
template <typename Field>
KeySpec stringKey(std::string key, Field field, std::string doc) {
  const std::string allowed = "a string";
  KeySpec k{key,
            "string",
            allowed,
            std::move(doc),
            [=](Config& c, const YAML::Node& n) {
              field(c) = n.IsNull() ? std::string() : scalarAs<std::string>(key, n, allowed);
            },
            [=](const Config& c) { return YAML::Node(field(const_cast<Config&>(c))); }};
  k.is_text = true;
  return k;
}

/// A key with a fixed list of values: the enum that `field` selects, spelled as its
/// name table (config/Choices.cpp) says. The type column says "string": that is what
/// the YAML holds.
template <typename Field>
KeySpec choiceKey(std::string key, Field field, std::string doc) {
  using Choice = std::decay_t<decltype(field(std::declval<Config&>()))>;
  const std::string allowed = "one of: " + config::choiceList<Choice>();
  return {key,
          "string",
          allowed,
          std::move(doc),
          [=](Config& c, const YAML::Node& n) {
            if (n.IsNull()) badValue(key, n, allowed);
            const auto text = scalarAs<std::string>(key, n, allowed);
            const auto v = config::parseChoice<Choice>(text);
            if (!v) badValue(key, n, allowed + didYouMean(text, config::choiceNames<Choice>()));
            field(c) = *v;
          },
          [=](const Config& c) { return YAML::Node(toString(field(const_cast<Config&>(c)))); }};
}

/// A file or folder. A relative path resolves against the folder of the file it was
/// written in (or, from --set, the working directory); every path comes out absolute,
/// so a run's config.yaml means the same from any working directory.
template <typename Field>
KeySpec pathKey(std::string key, Field field, std::string doc) {
  KeySpec k = stringKey(std::move(key), field, std::move(doc));
  k.type = "path";
  k.allowed = "a path (relative: to the config file's folder)";
  k.is_path = true;
  return k;
}

template <typename Field>
KeySpec floatListKey(std::string key, Field field, size_t len, double lo, double hi, std::string doc) {
  std::string allowed = fmt::format("a list of {} numbers in [{}, {}]", len, lo, hi);
  return {key,
          "list of float",
          allowed,
          std::move(doc),
          [=](Config& c, const YAML::Node& n) {
            if (!n.IsSequence() || n.size() != len) badValue(key, n, allowed);
            std::vector<double> v;
            for (const auto& e : n) {
              const double val = scalarAs<double>(key, e, allowed);
              if (!std::isfinite(val) || val < lo || val > hi) badValue(key, n, allowed);
              v.push_back(val);
            }
            field(c) = v;
          },
          [=](const Config& c) {
            YAML::Node n;
            for (double x : field(const_cast<Config&>(c))) n.push_back(numberNode(x));
            n.SetStyle(YAML::EmitterStyle::Flow);
            return n;
          }};
}

#define SHIFTAD_FIELD(path) \
  [](Config & c) -> auto& { return c.path; }

/// Two fields one key sets together (cluster.k is K of K-means and of the Gaussian
/// mixture, each algorithm holding its own parameter struct); read back from the first.
template <typename T>
struct TwinField {
  T& first;
  T& second;
  TwinField& operator=(T v) {
    first = second = v;
    return *this;
  }
  operator T() const { return first; }
};

#define SHIFTAD_TWIN_FIELD(a, b) [](Config& c) { return TwinField<std::decay_t<decltype(c.a)>>{c.a, c.b}; }

// function-length: data table
const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> keys = {
      // data
      pathKey("data.root", SHIFTAD_FIELD(data.root), "ImageFolder root: ROOT/DOMAIN/CLASS/image.{jpg,jpeg,png,bmp}"),
      stringKey("data.source", SHIFTAD_FIELD(data.source),
                "source domain (a folder under data.root); only its normal class is used"),
      pathKey("data.pool_images", SHIFTAD_FIELD(data.pool_images),
              "unlabeled target images that are the pool, all of them, in place of data.target's one-vs-all split: a "
              "folder (searched recursively) or a text file with one image path per line. The run has no test split "
              "(give it one with data.test_images, or `shiftad eval --set data.test_images=FOLDER`) and no label "
              "diagnostics; "
              "data.target, pool_fraction, contamination and split_seed do not apply. \"\": the split of data.target"),
      pathKey("data.test_images", SHIFTAD_FIELD(data.test_images),
              "labelled target images that are the test split, all of them, in place of data.target's test share: a "
              "folder of class folders (FOLDER/CLASS/image; data.normal_class's images are normal, every other "
              "class's anomalies). `eval --set data.test_images=FOLDER` evaluates a run on it and reads no other "
              "folder; with data.pool_images it gives a deployment's run a test split. \"\": the split of data.target"),
      stringKey("data.target", SHIFTAD_FIELD(data.target),
                "target domain (a folder under data.root), split into unlabeled pool and test"),
      stringKey("data.normal_class", SHIFTAD_FIELD(data.normal_class),
                "the normal class; every other class is an anomaly (one-vs-all)"),
      intKey("data.image_size", SHIFTAD_FIELD(data.image_size), 8, 1024, "side of the square network input, pixels"),
      intKey("data.resize", SHIFTAD_FIELD(data.resize), 0, 4096,
             "side images are resized to before the center crop (0: data.image_size)"),
      choiceKey("data.interpolation", SHIFTAD_FIELD(data.interpolation),
                "filter of that resize: bilinear (area averaging when shrinking) or bicubic (CLIP's preprocessing)"),
      floatListKey("data.mean", SHIFTAD_FIELD(data.mean), 3, -1000.0, 1000.0,
                   "per-channel normalization mean (RGB, on [0,1] pixels)"),
      floatListKey("data.std", SHIFTAD_FIELD(data.std), 3, 1e-6, 1000.0, "per-channel normalization std"),
      floatKey("data.pool_fraction", SHIFTAD_FIELD(data.pool_fraction), 0.01, 0.99, false,
               "per class, share of the target images offered to the unlabeled pool; the rest is the test split"),
      floatKey("data.contamination", SHIFTAD_FIELD(data.contamination), 0.0, 1.0, true,
               "anomalies / pool size in the unlabeled pool"),
      intKey("data.split_seed", SHIFTAD_FIELD(data.split_seed), 0, INT32_MAX,
             "seed of the target pool/test split and of the anomaly sampling"),
      boolKey("data.augment", SHIFTAD_FIELD(data.augment), "random resized crop (+ flip) on training batches"),
      floatKey("data.crop_scale_min", SHIFTAD_FIELD(data.crop_scale_min), 0.05, 1.0, false,
               "smallest area fraction of the random resized crop"),
      boolKey("data.hflip", SHIFTAD_FIELD(data.hflip),
              "random horizontal flips on training batches (when data.augment)"),
      boolKey("data.target_labels", SHIFTAD_FIELD(data.target_labels),
              "allow the variants that read target labels (train.on: target_normals, the oracle; fewshot.k > 0). The "
              "method never needs them"),
      floatKey("data.max_skipped", SHIFTAD_FIELD(data.max_skipped), 0.0, 1e9, false,
               "unreadable images (the first few logged by name) a set may lose before training, scoring or eval stops "
               "with an error: below 1 a share of the set (0.1: 10%), from 1 up a count (0: none)"),
      boolKey("data.image_cache", SHIFTAD_FIELD(data.image_cache),
              "keep decoded, resized images (uint8, one file per image content and size) in the cache folder "
              "(encoder.cache_dir), so later runs skip decoding (docs/performance.md)"),
      intKey("data.threads", SHIFTAD_FIELD(data.threads), 0, kMaxThreads,
             "image decoding threads (0: as many as --threads / setThreads; all cores unless set)"),
      // model
      choiceKey("model.arch", SHIFTAD_FIELD(model.arch),
                "architecture of the trainable feature extractor F (docs/models.md); clip_*: OpenAI CLIP's visual "
                "tower (ViT-B/32, RN50), 224 px input"),
      pathKey("model.weights", SHIFTAD_FIELD(model.weights),
              "pretrained backbone weights for F: safetensors with torchvision parameter names, or OpenAI's visual.* "
              "names for clip_* (\"\": random initialisation). The bias-free head is always freshly initialised"),
      choiceKey("model.padding", SHIFTAD_FIELD(model.padding),
                "mobilenet_v2 convolution padding: tf_same for TensorFlow-trained weights; auto reads the weights "
                "file's __metadata__ padding (else symmetric)"),
      intKey("model.embedding_dim", SHIFTAD_FIELD(model.embedding_dim), 2, 65536,
             "size of F's output (bias-free projection head)"),
      intKey("model.width", SHIFTAD_FIELD(model.width), 4, 1024,
             "small_cnn: channels of the first convolution stage (doubled per stage)"),
      choiceKey("model.head", SHIFTAD_FIELD(model.head),
                "F's bias-free head on the pooled trunk features: linear, or mlp (linear, LeakyReLU, linear)"),
      intKey("model.head_hidden", SHIFTAD_FIELD(model.head_hidden), 1, 65536, "mlp head: hidden width"),
      choiceKey("model.head_init", SHIFTAD_FIELD(model.head_init),
                "initialisation of the head's first layer: random (torch default), or pca: its rows are the top "
                "principal directions of the initial trunk features of the source and the unlabeled pool, so F starts "
                "as a distance-preserving projection of the pretrained geometry (computed once, before training, on "
                "un-augmented images)"),
      boolKey("model.trunk_l2", SHIFTAD_FIELD(model.trunk_l2),
              "L2-normalize the pooled trunk features before the head (the cosine geometry in which frozen features "
              "compare best)"),
      intKey("model.freeze", SHIFTAD_FIELD(model.freeze), -1, 1000,
             "leading trunk stages of F that are frozen (no gradient, BatchNorm statistics kept); -1: the whole trunk, "
             "so only the head trains, on trunk features computed once and cached (no augmentation)"),
      // encoder
      choiceKey("encoder.type", SHIFTAD_FIELD(encoder.type),
                "the frozen encoder Φ used by cluster.space: frozen and score.method: frozen_* (torchscript: any "
                "torch.jit module mapping N x 3 x S x S images to N x D; backbone: F's own trunk before training, "
                "model.arch + model.weights, at data.* preprocessing: pretrained with model.weights, else its random "
                "initialisation, as the synthetic suite uses it)"),
      pathKey("encoder.path", SHIFTAD_FIELD(encoder.path), "encoder.type torchscript: path of the module"),
      intKey("encoder.image_size", SHIFTAD_FIELD(encoder.image_size), 8, 4096, "side Φ's input images are resized to"),
      floatKey("encoder.input_range", SHIFTAD_FIELD(encoder.input_range), 1e-6, 65535, false,
               "Φ takes pixels in [0, input_range]: 255 or 1"),
      boolKey("encoder.l2_normalize", SHIFTAD_FIELD(encoder.l2_normalize),
              "L2-normalize Φ's features before clustering (cosine geometry, as CLIP features are used)"),
      pathKey("encoder.cache_dir", SHIFTAD_FIELD(encoder.cache_dir),
              "cache folder of Φ's and F's trunk features (keyed by image files and encoder) and of decoded images "
              "(data.image_cache) (\"\": $XDG_CACHE_HOME/shiftad, or ~/.cache/shiftad; ./.shiftad-cache when neither "
              "XDG_CACHE_HOME (absolute) nor HOME is set); not inside a run folder"),
      floatKey("encoder.cache_max_gb", SHIFTAD_FIELD(encoder.cache_max_gb), 0, 1e6, false,
               "size limit of the cache's entries in GB (1e9 bytes): past it, the least recently used are removed "
               "after each training and evaluation, down to 90% of it (0: no limit)"),
      // cluster
      choiceKey("cluster.space", SHIFTAD_FIELD(cluster.space),
                "which target pool rows are aligned: dense (the default variant) = no clustering, the pool's dense "
                "region: the rows whose mean cosine distance to their nearest cluster.neighbours share of the pool "
                "falls in the low mode of a two-component mixture on its logarithm, in Φ's space (F's initial space "
                "when encoder.type is none), chosen once; self = the dominant cluster of F's own features "
                "(re-clustered as F trains); frozen = the dominant cluster in the frozen encoder Φ (encoder.*; "
                "clustered once; the paper); none = no clustering, align the whole pool; score = no "
                "clustering, the pool rows F scores as normal: those a two-component mixture on the pool's log "
                "scores ||F(x) - c||^2 assigns to its low component (all when they form one component), "
                "re-estimated every cluster.recluster_every epochs as F trains"),
      choiceKey("cluster.method", SHIFTAD_FIELD(cluster.method),
                "clustering algorithm (paper Eq. 6); the dominant cluster is the one with most members (gmm: hard "
                "assignment by responsibility)"),
      intKey("cluster.k", SHIFTAD_TWIN_FIELD(cluster.kmeans.k, cluster.gmm.k), 1, 4096,
             "number of clusters K (paper: 8-10 work best)"),
      intKey("cluster.restarts", SHIFTAD_TWIN_FIELD(cluster.kmeans.restarts, cluster.gmm.restarts), 1, 1000,
             "k-means++ restarts; the lowest inertia wins"),
      intKey("cluster.max_iter", SHIFTAD_TWIN_FIELD(cluster.kmeans.max_iter, cluster.gmm.max_iter), 1, 100000,
             "Lloyd iterations per restart"),
      intKey("cluster.recluster_every", SHIFTAD_FIELD(cluster.recluster_every), 0, INT32_MAX,
             "re-cluster the pool every N epochs (0: once, before training)"),
      choiceKey("cluster.covariance", SHIFTAD_FIELD(cluster.gmm.covariance),
                "gmm: covariance type (a floor of 1e-6 is added to the diagonal)"),
      floatKey("cluster.bandwidth", SHIFTAD_FIELD(cluster.meanshift.bandwidth), 0.0, 1e6, false,
               "meanshift: flat-kernel radius (0: estimated as sklearn's estimate_bandwidth at cluster.quantile)"),
      floatKey("cluster.quantile", SHIFTAD_FIELD(cluster.meanshift.quantile), 1e-3, 1.0, false,
               "meanshift: quantile of the nearest-neighbour distances for the bandwidth estimate"),
      floatKey(
          "cluster.keep_fraction", SHIFTAD_FIELD(cluster.keep_fraction), 0.01, 1.0, false,
          "keep only this share of the dominant cluster, its members closest to the centroid (1: all, as the paper)"),
      floatKey("cluster.neighbours", SHIFTAD_FIELD(cluster.neighbours), 1e-6, 1.0, false,
               "cluster.space dense: a row's neighbourhood as a share of the pool; larger than any one kind of "
               "anomaly's share and smaller than the normal class's"),
      boolKey("cluster.dense_bic_gate", SHIFTAD_FIELD(cluster.dense_bic_gate),
              "cluster.space dense: align the whole pool when the BIC does not support two components in the "
              "log neighbourhood distances (an experiment of issue 17, off by default)"),
      floatKey("cluster.dense_max_share", SHIFTAD_FIELD(cluster.dense_max_share), 0.01, 1.0, false,
               "cluster.space dense: align at most this share of the pool, the rows of smallest neighbourhood "
               "distance, when the low mode holds more (1: no cap; chosen on development directions, docs/method.md)"),
      intKey("cluster.dense_reference_rows", SHIFTAD_FIELD(cluster.dense_reference_rows), 0, INT32_MAX,
             "cluster.space dense: in a pool of more rows, each row's neighbourhood is looked for among this many "
             "rows spread evenly over the pool, an estimate of it that keeps the time linear in the pool (0: "
             "among all rows, time quadratic in the pool; else at least 2; docs/scale.md)"),
      floatKey("cluster.dense_grow", SHIFTAD_FIELD(cluster.dense_grow), 0.0, 1.0, false,
               "cluster.space dense: every cluster.recluster_every epochs, align the pool rows F scores at most this "
               "quantile of the dense region's scores (self-training from the region; 0: off, the region is kept)"),
      // align
      choiceKey("align.method", SHIFTAD_FIELD(align.method),
                "alignment loss between source and dominant-cluster target features: InfoNCE (paper), multi-kernel "
                "MMD, adversarial (domain discriminator behind gradient reversal), prototype (Deep SVDD of the "
                "dominant-cluster batch: pulls it to c without pushing normals apart); none: source-only Deep SVDD"),
      floatKey("align.lambda", SHIFTAD_FIELD(align.lambda), 0.0, 1e6, false,
               "weight of the alignment loss (L = L_DSVDD + lambda * L_align)"),
      floatKey("align.tau", SHIFTAD_FIELD(align.tau), 1e-4, 100.0, false, "InfoNCE temperature"),
      boolKey("align.svdd_on_target", SHIFTAD_FIELD(align.svdd_on_target),
              "also apply the Deep SVDD term to the aligned (dominant-cluster) target samples; the paper applies it to "
              "source only (false). See docs/method.md"),
      intKey("align.disc_hidden", SHIFTAD_FIELD(align.disc_hidden), 1, 65536,
             "adversarial: hidden width of the domain discriminator MLP"),
      // train
      intKey("train.epochs", SHIFTAD_FIELD(train.epochs), 0, 100000,
             "training epochs (an epoch = one pass over the source images)"),
      intKey("train.batch_size", SHIFTAD_FIELD(train.batch_size), 2, 65536,
             "source images per step (the same number of target images is drawn)"),
      floatKey("train.lr", SHIFTAD_FIELD(train.lr), 0.0, 10.0, false, "Adam learning rate"),
      floatKey("train.weight_decay", SHIFTAD_FIELD(train.weight_decay), 0.0, 1.0, false, "Adam weight decay"),
      floatKey("train.svdd_eps", SHIFTAD_FIELD(train.svdd_eps), 0.0, 1e6, false,
               "center coordinates with |c_k| < eps are set to +-eps (Deep SVDD)"),
      floatKey("train.anchor", SHIFTAD_FIELD(train.anchor), 0.0, 1e6, false,
               "L2-SP: weight of the penalty sum ||θ - θ0||^2 over F's trainable weights, θ0 their values when "
               "training starts (after model.head_init); keeps the pretrained geometry, unlike train.weight_decay, "
               "which pulls toward 0 (0: off)"),
      intKey("train.seed", SHIFTAD_FIELD(train.seed), 0, INT32_MAX,
             "seed of initialisation, batching, augmentation and clustering"),
      intKey("train.threads", SHIFTAD_FIELD(train.threads), 0, kMaxThreads,
             "intra-op threads of training and eval on this config (0: --threads / setThreads)"),
      intKey("train.checkpoint_every", SHIFTAD_FIELD(train.checkpoint_every), 0, INT32_MAX,
             "write RUN_DIR/checkpoint.safetensors (atomically) every N epochs, and always at the end and on Ctrl-C or "
             "SIGTERM (0: only then); `shiftad train --resume RUN_DIR` continues from it"),
      choiceKey("train.on", SHIFTAD_FIELD(train.on),
                "the normal images Deep SVDD is trained on: source, or the labeled normals of the target pool (the "
                "oracle upper bound; needs data.target_labels)"),
      // fewshot
      intKey("fewshot.k", SHIFTAD_FIELD(fewshot.k), 0, 100000,
             "few-shot variant: labeled normal target images (drawn from the pool; needs data.target_labels) aligned "
             "with source, their pseudo-anomalies as extra negatives (0: off)"),
      intKey("fewshot.pseudo_per_image", SHIFTAD_FIELD(fewshot.pseudo_per_image), 1, 1000,
             "pseudo-anomalies (patch shuffle, cut-paste, colour distortion) made per labeled image"),
      // score
      choiceKey("score.method", SHIFTAD_FIELD(score.method),
                "svdd: ||F(x) - c||^2 (the paper). frozen_*: no training, in Φ's space (encoder.*): distance to the "
                "source-normal mean, mean distance to the score.knn_k nearest source normals, or distance to the mean "
                "of the pool's dominant cluster (cluster.*)"),
      intKey("score.knn_k", SHIFTAD_FIELD(score.knn_k), 1, 100000,
             "frozen_knn: neighbours averaged (above the source images: all of them, with a warning)"),
      choiceKey("score.center", SHIFTAD_FIELD(score.center),
                "svdd: where distances are measured from. source: c, the mean of F's initial source features (the "
                "paper); dominant: the mean of F's final features of the last dominant set of the pool (runs that "
                "align; the others keep c)"),
      // threshold
      choiceKey("threshold.rule", SHIFTAD_FIELD(threshold.rule),
                "how fit sets the decision threshold, without target labels (docs/method.md). mixture: where the two "
                "components of a Gaussian mixture fitted to the log scores of the unlabeled pool are equally dense "
                "(free of the anomaly share). normal_quantile: the threshold.quantile of the calibration normals' "
                "scores (the final dominant set; the whole pool for runs without one). source_quantile: that of the "
                "source normals' scores (does not carry over to the target; for comparison). pool_quantile: that of "
                "the whole unlabeled pool's scores (mostly normal by the method's premise; with the default variant, "
                "whose calibration normals are the dense half of the pool, 0.8 flags far fewer target normals than "
                "mixture: docs/deploy.md)"),
      floatKey("threshold.quantile", SHIFTAD_FIELD(threshold.quantile), 0.5, 1.0, false,
               "normal_quantile, source_quantile, pool_quantile: the quantile of those scores taken as the threshold"),
      // run
      stringKey("run.variant", SHIFTAD_FIELD(run.variant),
                "name of the variant preset the config came from (shiftad train --variant; informational); a preset's "
                "name on a config that changes its keys is trained as custom"),
  };
  return keys;
}

#undef SHIFTAD_FIELD

const KeySpec* findKey(const std::string& key) {
  for (const auto& k : schema())
    if (k.key == key) return &k;
  return nullptr;
}

/// Whether `name` is a section of the schema (data, model, train, ...).
bool isSection(const std::string& name) {
  for (const auto& k : schema())
    if (k.key.rfind(name + ".", 0) == 0) return true;
  return false;
}

[[noreturn]] void unknownKey(const std::string& key, const std::string& origin) {
  // YAML's merge key, which yaml-cpp reads as a plain key named "<<".
  if (key.size() >= 2 && key.compare(key.size() - 2, 2, "<<") == 0)
    SHIFTAD_THROW(
        "{}: '{}': YAML merge keys (<<) are not read; write the keys out in the section, or use an alias "
        "(*name) for a whole value",
        origin, key);
  // Suggest keys of the same section (or all sections) to make typos obvious.
  const std::string section = key.substr(0, key.find('.'));
  if (key == section && isSection(section)) {
    const auto first = std::find_if(schema().begin(), schema().end(),
                                    [&](const KeySpec& k) { return k.key.rfind(section + ".", 0) == 0; });
    SHIFTAD_THROW("{}: '{}' is a section, not a key: set one of its keys, e.g. '{}'", origin, key, first->key);
  }
  std::string known;
  std::vector<std::string> keys;
  for (const auto& k : schema()) {
    keys.push_back(k.key);
    if (k.key.rfind(section + ".", 0) == 0) known += (known.empty() ? "" : ", ") + k.key;
  }
  if (known.empty()) {
    std::map<std::string, bool> sections;
    for (const auto& k : schema()) sections[k.key.substr(0, k.key.find('.'))] = true;
    std::vector<std::string> names;
    for (const auto& [s, _] : sections) {
      known += (known.empty() ? "" : ", ") + s;
      names.push_back(s);
    }
    // "trian.lr" meant a key; "trian" alone, a section.
    const auto hint = key == section ? didYouMean(key, names) : didYouMean(key, keys);
    SHIFTAD_THROW("{}: unknown config section '{}'{}; known sections: {}", origin, section, hint, known);
  }
  SHIFTAD_THROW("{}: unknown config key '{}'{}; keys of section '{}': {}", origin, key, didYouMean(key, keys), section,
                known);
}

/// Make a path key's value absolute: relative to `base_dir` (the folder of the file it
/// was read from), or to the working directory when `base_dir` is "".
void resolvePath(Config& cfg, const KeySpec& spec, const std::string& base_dir) {
  if (!spec.is_path) return;
  const fs::path value = spec.get(cfg).as<std::string>();
  if (value.empty() || value.is_absolute()) return;
  const fs::path base = base_dir.empty() ? fs::current_path() : fs::absolute(base_dir);
  spec.set(cfg, YAML::Node((base / value).lexically_normal().string()));
}

/// Walk a YAML mapping, applying every leaf under its dotted key.
void applyNode(Config& cfg, const YAML::Node& node, const std::string& prefix, const std::string& origin,
               const std::string& base_dir) {
  if (!node.IsMap()) SHIFTAD_THROW("{}: expected a mapping at '{}'", origin, prefix.empty() ? "<top>" : prefix);
  for (const auto& kv : node) {
    // YAML allows complex keys ("? [a, b]: 1"); a config key is always a plain name.
    if (!kv.first.IsScalar()) {
      YAML::Emitter e;
      e << YAML::Flow << kv.first;
      SHIFTAD_THROW("{}: config keys are plain names, but '{}' under '{}' is not", origin, e.c_str(),
                    prefix.empty() ? "<top>" : prefix);
    }
    const std::string name = kv.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    // `train.epochs: 5` at the top level read as the key, but passed the duplicate check
    // beside `train: {epochs: 3}` and the bench's checks of a suite's keys, which see sections.
    if (prefix.empty() && name.find('.') != std::string::npos && findKey(key))
      SHIFTAD_THROW(
          "{}: '{}' is written as one dotted key; in a file, keys nest under their section ({}: {{{}: ...}}); "
          "the dotted form is for --set",
          origin, key, key.substr(0, key.find('.')), key.substr(key.find('.') + 1));
    if (const KeySpec* spec = findKey(key)) {
      try {
        spec->set(cfg, kv.second);
        resolvePath(cfg, *spec, base_dir);
      } catch (const Error& e) {
        SHIFTAD_THROW("{}: {}", origin, e.what());
      }
    } else if (prefix.empty() && kv.second.IsMap()) {
      applyNode(cfg, kv.second, key, origin, base_dir);
    } else if (prefix.empty() && isSection(key)) {
      SHIFTAD_THROW("{}: '{}' is a section: give its keys as a mapping ({}: {{key: value, ...}}), not a value", origin,
                    key, key);
    } else {
      unknownKey(key, origin);
    }
  }
}

/// The value of `--set key=value`. For a string or path the text as typed: read as YAML,
/// `part #2` was the class `part` (a comment), a trailing blank was dropped and `null`
/// was no value. A value in YAML quotes is still read as YAML (its quotes removed); any
/// other key's value is YAML (a number, a list [a, b], true).
YAML::Node overrideValue(const KeySpec& spec, const std::string& value) {
  const bool text = spec.is_text;
  const bool quoted =
      value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front();
  if (text && !quoted) return YAML::Node(value);
  try {
    return YAML::Load(value);
  } catch (const YAML::Exception& e) {
    // The value as typed, cut short: a runaway one would fill the terminal.
    const auto shown = value.size() <= 60 ? value : value.substr(0, 60) + "...";
    config::throwYamlError(e, fmt::format("--set {}: value '{}'", spec.key, shown));
  }
}

void applyOverride(Config& cfg, const std::string& assignment) {
  const auto eq = assignment.find('=');
  SHIFTAD_CHECK(eq != std::string::npos && eq > 0, "--set '{}': expected key=value, e.g. --set train.epochs=10",
                assignment);
  const std::string key = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const KeySpec* spec = findKey(key);
  if (!spec) unknownKey(key, "--set");
  spec->set(cfg, overrideValue(*spec, value));
  resolvePath(cfg, *spec, "");  // typed on the command line: relative to where it was typed
}

/// A config is a few KiB; a file much larger is the wrong file, and parsing it would cost
/// gigabytes (yaml-cpp's nodes of a 100 MB list).
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

/// The first YAML document of a config, its keys checked for duplicates.
YAML::Node loadDocument(const std::string& yaml_text, const std::string& origin) {
  SHIFTAD_CHECK(yaml_text.size() <= kMaxConfigBytes,
                "{}: {} bytes, more than a config holds (limit {}); is it the right file?", origin, yaml_text.size(),
                kMaxConfigBytes);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    config::throwYamlError(e, origin);
  }
  config::checkDuplicateKeys(root, "", origin);
  return root;
}

}  // namespace

namespace {
/// The rules across keys (each key's own are the parser's).
void checkAcrossKeys(const Config& cfg);
}  // namespace

Config parseConfig(const std::string& yaml_text, const std::vector<std::string>& overrides, const std::string& origin,
                   const std::string& base_dir) {
  Config cfg;
  const YAML::Node root = loadDocument(yaml_text, origin);
  if (root.IsDefined() && !root.IsNull()) applyNode(cfg, root, "", origin, base_dir);
  config::checkOneDocument(yaml_text, origin);
  for (const auto& o : overrides) applyOverride(cfg, o);
  checkAcrossKeys(cfg);  // each key's own rules were applied as it was read
  return cfg;
}

Config loadConfig(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  if (yaml_path.empty()) return parseConfig("", overrides, "<defaults>");
  // Before opening: a FIFO would block the open, a device (/dev/zero) never ends.
  std::error_code ec;
  SHIFTAD_CHECK(!fs::exists(yaml_path, ec) || fs::is_regular_file(yaml_path, ec),
                "config file '{}' is not a regular file (a pipe, socket, device or folder); give a YAML file",
                yaml_path);
  std::ifstream f(yaml_path);
  SHIFTAD_CHECK(f.good(), "config file '{}' cannot be opened (does it exist and is it readable?)", yaml_path);
  const auto size = fs::file_size(yaml_path, ec);
  SHIFTAD_CHECK(ec || size <= kMaxConfigBytes,
                "config file '{}' is {} bytes, more than a config holds (limit {}); is it the right file?", yaml_path,
                size, kMaxConfigBytes);
  std::stringstream ss;
  ss << f.rdbuf();
  const auto text = ss.str();
  // yaml-cpp reads on past a NUL byte and turned "a\0b" into an escape error or a TAB.
  const auto nul = text.find('\0');
  SHIFTAD_CHECK(nul == std::string::npos,
                "config file '{}': a NUL byte at offset {}: binary data, not YAML; is it the right file?", yaml_path,
                nul);
  return parseConfig(text, overrides, yaml_path, fs::absolute(yaml_path).parent_path().string());
}

void validateConfig(const Config& cfg) {
  // A Config filled in C++ has not been through the parser: its keys are checked as a
  // file's are, by reading back what dumpConfig writes (every key, no copy of the rules).
  Config reread;
  applyNode(reread, YAML::Load(dumpConfig(cfg)), "", "config", "");
  checkAcrossKeys(cfg);
}

namespace {

void checkAcrossKeys(const Config& cfg) {
  SHIFTAD_CHECK(cfg.data.resize == 0 || cfg.data.resize >= cfg.data.image_size,
                "config: data.resize ({}) must be 0 or >= data.image_size ({}) so the center crop fits",
                cfg.data.resize, cfg.data.image_size);
  SHIFTAD_CHECK(!isClip(cfg.model.arch) || cfg.data.image_size == 224,
                "config: model.arch {} takes 224 x 224 images (its positional embedding fixes the size) but "
                "data.image_size is {}; set data.image_size: 224",
                cfg.model.arch, cfg.data.image_size);
  SHIFTAD_CHECK(cfg.model.padding != Padding::kTfSame || cfg.model.arch == Arch::kMobileNetV2,
                "config: model.padding tf_same is for TensorFlow-trained MobileNetV2 weights; model.arch {} pads as "
                "torchvision does, so it would be ignored: remove it",
                cfg.model.arch);
  const auto& km = cfg.cluster.kmeans;
  const auto& gm = cfg.cluster.gmm;
  SHIFTAD_CHECK(km.k == gm.k && km.restarts == gm.restarts && km.max_iter == gm.max_iter,
                "config: cluster.k, cluster.restarts and cluster.max_iter hold for K-means and the GMM alike, but "
                "cluster.kmeans has {}, {}, {} and cluster.gmm {}, {}, {}; set both parameter structs the same",
                km.k, km.restarts, km.max_iter, gm.k, gm.restarts, gm.max_iter);
  SHIFTAD_CHECK(cfg.cluster.space != ClusterSpace::kFrozen || cfg.encoder.type != EncoderType::kNone,
                "config: cluster.space is 'frozen' but encoder.type is 'none'; set encoder.type and encoder.path "
                "(e.g. encoder.type: torchscript, or backbone) or use cluster.space: self");
  SHIFTAD_CHECK(cfg.cluster.dense_grow == 0.0 || cfg.encoder.type != EncoderType::kNone,
                "config: cluster.dense_grow ({}) grows the dense region of the frozen encoder's space, but "
                "encoder.type is 'none' (the region would be re-taken in F's moving space); set encoder.type "
                "(torchscript or backbone) or cluster.dense_grow: 0",
                cfg.cluster.dense_grow);
  SHIFTAD_CHECK(cfg.cluster.dense_reference_rows != 1,
                "config: cluster.dense_reference_rows is 1: a row's neighbours would be that one row, itself "
                "included; set 0 (every row) or at least 2 (4096 by default)");
  SHIFTAD_CHECK(cfg.score.method == ScoreMethod::kSvdd || cfg.encoder.type != EncoderType::kNone,
                "config: score.method '{}' scores in the frozen encoder's space but encoder.type is 'none'; set "
                "encoder.type (torchscript or backbone)",
                cfg.score.method);
  SHIFTAD_CHECK(cfg.train.on == TrainOn::kSource || cfg.data.target_labels,
                "config: train.on: target_normals (the oracle) reads target labels; set data.target_labels: true to "
                "allow it explicitly");
  SHIFTAD_CHECK(cfg.fewshot.k == 0 || cfg.data.target_labels,
                "config: fewshot.k = {} reads the labels of k target images; set data.target_labels: true to allow it "
                "explicitly",
                cfg.fewshot.k);
  SHIFTAD_CHECK(cfg.data.pool_images.empty() || (cfg.train.on == TrainOn::kSource && cfg.fewshot.k == 0),
                "config: data.pool_images '{}' is an unlabeled pool, and {} reads target labels; train it with the "
                "target's class folders (data.pool_images: \"\")",
                cfg.data.pool_images, cfg.fewshot.k > 0 ? "fewshot.k" : "train.on: target_normals (the oracle)");
}

}  // namespace

bool aligns(const Config& cfg) { return cfg.align.method != AlignMethod::kNone && cfg.align.lambda > 0.0; }

std::string weightsSource(const ModelConfig& model) {
  return model.weights.empty() ? "random weights" : "model.weights '" + model.weights + "'";
}

// function-length: data table
const std::vector<Variant>& variants() {
  // Facts after the overrides: trains F, aligns target samples, reads target labels.
  // tests/config/ConfigTest.cpp checks each against what the overrides set.
  constexpr bool kTrains = true, kFrozen = false, kAligns = true, kNoAlign = false, kLabels = true, kNoLabels = false;
  static const std::vector<Variant> table = {
      {"default",
       "the recommended method, what `shiftad train` runs with no --variant: alignment with the pool's dense region in "
       "the frozen encoder's space, or F's initial space when encoder.type is none (no K, no contamination setting)",
       {"cluster.space=dense"},
       kTrains,
       kAligns,
       kNoLabels},
      {"source_only",
       "Deep SVDD on source normals only; no target data",
       {"align.method=none"},
       kTrains,
       kNoAlign,
       kNoLabels},
      {"align_all",
       "alignment with the whole target pool (no clustering)",
       {"cluster.space=none"},
       kTrains,
       kAligns,
       kNoLabels},
      {"cluster_self",
       "clustering on F's own features (re-clustered as F trains)",
       {"cluster.space=self"},
       kTrains,
       kAligns,
       kNoLabels},
      {"cluster_frozen",
       "clustering in the frozen encoder's space (the paper's method)",
       {"cluster.space=frozen"},
       kTrains,
       kAligns,
       kNoLabels},
      {"score_gated",
       "alignment with the pool rows F scores as normal (a mixture on the pool's scores; no K, no contamination "
       "setting), re-estimated as F trains",
       {"cluster.space=score"},
       kTrains,
       kAligns,
       kNoLabels},
      {"frozen_only",
       "no training: distance to the source-normal mean in the frozen encoder's space",
       {"score.method=frozen_mean"},
       kFrozen,
       kNoAlign,
       kNoLabels},
      {"frozen_knn",
       "no training: mean distance to the k nearest source normals in the frozen encoder's space",
       {"score.method=frozen_knn"},
       kFrozen,
       kNoAlign,
       kNoLabels},
      {"frozen_dominant",
       "no training: distance to the mean of the pool's dominant cluster in the frozen encoder's space",
       {"score.method=frozen_dominant"},
       kFrozen,
       kNoAlign,
       kNoLabels},
      {"oracle",
       "UPPER BOUND (reads target labels): Deep SVDD on the pool's target normals",
       {"train.on=target_normals", "align.method=none"},
       kTrains,
       kNoAlign,
       kLabels},
      {"frozen_oracle",
       "UPPER BOUND (reads target labels): distance to the mean of the pool's target normals in the frozen encoder's "
       "space",
       {"score.method=frozen_mean", "train.on=target_normals"},
       kFrozen,
       kNoAlign,
       kLabels},
      {"few_shot",
       "k labeled target normals aligned with source, their pseudo-anomalies as negatives (reads k labels)",
       {"fewshot.k=5", "cluster.space=none"},
       kTrains,
       kAligns,
       kLabels},
  };
  return table;
}

const Variant& findVariant(const std::string& name) {
  std::string known;
  std::vector<std::string> names;
  for (const auto& v : variants()) {
    if (v.name == name) return v;
    known += (known.empty() ? "" : ", ") + v.name;
    names.push_back(v.name);
  }
  SHIFTAD_THROW("variant '{}' is unknown{}; available: {}", name, didYouMean(name, names), known);
}

std::vector<std::string> variantOverrides(const std::string& name) {
  auto o = findVariant(name).overrides;
  o.push_back("run.variant=" + name);
  return o;
}

Config withAbsolutePaths(const Config& cfg, const std::string& base_dir) {
  Config out = cfg;
  for (const auto& k : schema()) resolvePath(out, k, base_dir);
  return out;
}

namespace {

/// Whether a YAML 1.1 reader (PyYAML, the usual Python library) would take the plain
/// scalar `s` for something other than a string: a boolean (yes, on, ...), null, or a number
/// (010, 0x10, 12:30, .5). yaml-cpp reads all of these back as the string, PyYAML not; quoted,
/// both do. Conservative: any scalar that starts like a number is quoted.
bool readsOtherwiseInYaml11(const std::string& s) {
  static const std::set<std::string> kWords = {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"};
  std::string lower;
  for (const char ch : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (s.empty() || kWords.count(lower)) return true;
  const char c = s.front();
  return std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.' || c == '=' || c == '<';
}

/// A key's value into `out`; a string key's (a name, a path, a choice) double-quoted where
/// readsOtherwiseInYaml11. Numbers, booleans and lists are written as they are.
void emitForEveryReader(YAML::Emitter& out, const KeySpec& k, const YAML::Node& node) {
  if (k.type == "string" && node.IsScalar() && readsOtherwiseInYaml11(node.Scalar())) {
    out << YAML::DoubleQuoted << node.Scalar();
    return;
  }
  out << node;
}

}  // namespace

std::string dumpConfig(const Config& cfg) {
  // Emitted key by key, not as one node: a YAML 1.1 reader takes the key `on` (train.on)
  // and values such as a class named `yes` or `010` for booleans and numbers, so a config
  // loaded and saved from Python came back with 'train.true'. Those are quoted.
  std::map<std::string, std::vector<const KeySpec*>> sections;
  std::vector<std::string> order;
  for (const auto& k : schema()) {
    const auto section = k.key.substr(0, k.key.find('.'));
    if (!sections.count(section)) order.push_back(section);
    sections[section].push_back(&k);
  }
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const auto& section : order) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const auto* k : sections[section]) {
      const auto name = k->key.substr(k->key.find('.') + 1);
      out << YAML::Key;
      if (readsOtherwiseInYaml11(name)) out << YAML::DoubleQuoted;
      out << name << YAML::Value;
      emitForEveryReader(out, *k, k->get(cfg));
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

namespace {

/// Keys of how a run goes, not of what it computes (changedSettings, resultSettings).
bool isHowKey(const std::string& key) {
  static const std::set<std::string> kHow = {"data.threads",  "data.image_cache",       "data.max_skipped",
                                             "train.threads", "train.checkpoint_every", "encoder.cache_max_gb"};
  return kHow.count(key) > 0;
}

}  // namespace

Config resultSettings(const Config& cfg) {
  const Config defaults;
  Config out = cfg;
  for (const auto& k : schema())
    if (isHowKey(k.key) || k.key == "encoder.cache_dir") k.set(out, k.get(defaults));
  return out;
}

bool sameSplit(const DataConfig& a, const DataConfig& b) {
  std::error_code ec;
  const bool same_root = a.root == b.root || fs::equivalent(a.root, b.root, ec);
  return same_root && a.source == b.source && a.target == b.target && a.normal_class == b.normal_class &&
         a.pool_fraction == b.pool_fraction && a.contamination == b.contamination && a.split_seed == b.split_seed &&
         a.pool_images == b.pool_images && a.test_images == b.test_images;
}

std::vector<std::string> changedSettings(const Config& then, const Config& now) {
  const auto flow = [](const YAML::Node& n) {
    YAML::Emitter e;
    e << YAML::Flow << n;
    return std::string(e.c_str());
  };
  const auto mayChange = [](const KeySpec& k) {
    return k.is_path || isHowKey(k.key) || k.key == "run.variant" || k.key.rfind("threshold.", 0) == 0;
  };
  std::vector<std::string> out;
  for (const auto& k : schema()) {
    if (mayChange(k)) continue;
    const auto a = flow(k.get(then)), b = flow(k.get(now));
    if (a != b) out.push_back(fmt::format("{}: {} -> {}", k.key, a, b));
  }
  return out;
}

std::vector<std::string> variantLabelChanges(const Config& cfg) {
  const auto& all = variants();
  if (std::none_of(all.begin(), all.end(), [&](const Variant& v) { return v.name == cfg.run.variant; })) return {};
  // The preset's keys set on `cfg` one by one, without the rules across keys: with the
  // others a preset's values need not make a config (frozen_dominant's score.method
  // beside encoder.type: none), and the keys that differ are what there is to say.
  Config preset = cfg;
  for (const auto& o : variantOverrides(cfg.run.variant)) applyOverride(preset, o);
  return changedSettings(preset, cfg);
}

std::string configDocMarkdown() {
  const Config defaults;
  std::string md =
      "| key | type | default | allowed | meaning |\n"
      "|---|---|---|---|---|\n";
  for (const auto& k : schema()) {
    YAML::Emitter e;
    e << YAML::Flow << k.get(defaults);
    std::string def = e.c_str();
    if (def.empty() || def == "~" || def == "\"\"") def = "\"\"";
    md += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", k.key, k.type, def, k.allowed, k.doc);
  }
  return md;
}

}  // namespace shiftad

namespace shiftad::config {

void checkOneDocument(const std::string& yaml_text, const std::string& origin) {
  size_t docs = 0;
  try {
    docs = YAML::LoadAll(yaml_text).size();
  } catch (const YAML::Exception&) {
    return;  // the first document parsed; what follows it is not a document
  }
  SHIFTAD_CHECK(docs <= 1,
                "{}: {} YAML documents (separated by '---'); a config or suite file is one, and the others would be "
                "ignored",
                origin, docs);
}

void checkDuplicateKeys(const YAML::Node& node, const std::string& prefix, const std::string& origin) {
  if (!node.IsMap()) return;
  std::map<std::string, int> line_of;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;  // applyNode names such a key
    const auto key = kv.first.Scalar();
    const auto [at, fresh] = line_of.emplace(key, kv.first.Mark().line + 1);
    SHIFTAD_CHECK(fresh, "{}: key '{}{}' appears twice (lines {} and {}); keep one", origin, prefix, key, at->second,
                  kv.first.Mark().line + 1);
    checkDuplicateKeys(kv.second, prefix + key + ".", origin);
  }
}

void throwYamlError(const YAML::Exception& e, const std::string& origin) {
  if (e.mark.is_null()) SHIFTAD_THROW("{}: invalid YAML: {}", origin, e.msg);
  const int line = e.mark.line + 1, column = e.mark.column + 1;
  if (dynamic_cast<const YAML::DeepRecursion*>(&e))
    SHIFTAD_THROW(
        "{}: invalid YAML at line {}, column {}: nested too deeply for the YAML parser (a config "
        "nests a few levels)",
        origin, line, column);
  SHIFTAD_THROW("{}: invalid YAML at line {}, column {}: {}", origin, line, column, e.msg);
}

}  // namespace shiftad::config
