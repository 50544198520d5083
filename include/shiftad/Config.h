// shiftad run configuration: parameter structs with documented defaults.
//
// Every field here is a YAML key (section.field). The single source of truth for
// keys, defaults, allowed values and docs is the schema in src/config/Config.cpp;
// `shiftad config --doc` prints it as Markdown (docs/config.md is generated from it).
// Torch-free: the CLI and users include this without paying for LibTorch.
#pragma once

#include <string>
#include <vector>

#include "shiftad/ClusteringParams.h"

namespace shiftad {

/// The most threads any setting takes (--threads, train.threads, data.threads,
/// setThreads): a million would start and thrash, never finish.
constexpr int kMaxThreads = 1024;

// Every key with a fixed list of values is an enum. Its YAML spellings (listed here for
// the reader) are written once, in the name tables of src/config/Choices.cpp, which
// parsing, dumping, error messages and docs/config.md all read; toString gives a
// value's spelling back.

/// data.interpolation: bilinear | bicubic
enum class Interpolation { kBilinear, kBicubic };
/// model.arch: small_cnn | resnet18 | resnet50 | mobilenet_v2 | clip_vit_b32 | clip_rn50
enum class Arch { kSmallCnn, kResNet18, kResNet50, kMobileNetV2, kClipVitB32, kClipRn50 };
/// model.padding: auto | symmetric | tf_same
enum class Padding { kAuto, kSymmetric, kTfSame };
/// model.head: linear | mlp
enum class Head { kLinear, kMlp };
/// model.head_init: random | pca
enum class HeadInit { kRandom, kPca };
/// encoder.type: none | torchscript | backbone
enum class EncoderType { kNone, kTorchScript, kBackbone };
/// cluster.space: self | frozen | none
enum class ClusterSpace { kSelf, kFrozen, kNone, kScore, kDense };
/// cluster.method: kmeans | gmm | meanshift
enum class ClusterMethod { kKMeans, kGmm, kMeanShift };
/// cluster.covariance: diag | full (declared in shiftad/ClusteringParams.h)
/// align.method: infonce | mmd | adversarial | prototype | none
enum class AlignMethod { kInfoNce, kMmd, kAdversarial, kPrototype, kNone };
/// score.method: svdd | frozen_mean | frozen_knn | frozen_dominant
enum class ScoreMethod { kSvdd, kFrozenMean, kFrozenKnn, kFrozenDominant };
/// score.center: source | dominant
enum class ScoreCenter { kSource, kDominant };
/// train.on: source | target_normals
enum class TrainOn { kSource, kTargetNormals };
/// threshold.rule (docs/method.md, "The decision threshold")
enum class ThresholdRule { kMixture, kNormalQuantile, kSourceQuantile, kPoolQuantile };

/// The YAML spelling of a choice, for messages and logs.
const std::string& toString(Interpolation v);
const std::string& toString(Arch v);
const std::string& toString(Padding v);
const std::string& toString(Head v);
const std::string& toString(HeadInit v);
const std::string& toString(EncoderType v);
const std::string& toString(ClusterSpace v);
const std::string& toString(ClusterMethod v);
const std::string& toString(Covariance v);
const std::string& toString(AlignMethod v);
const std::string& toString(ScoreMethod v);
const std::string& toString(ScoreCenter v);
const std::string& toString(TrainOn v);
const std::string& toString(ThresholdRule v);

/// clip_*: OpenAI CLIP's visual towers (224 px input, weights under "visual.").
bool isClip(Arch arch);

/// Where the images are and the one-vs-all protocol on them.
struct DataConfig {
  std::string root;    ///< ImageFolder root: ROOT/DOMAIN/CLASS/image
  std::string source;  ///< source domain (folder under root)
  std::string target;  ///< target domain (folder under root)
  /// Unlabeled target images that are the pool, all of them, in place of the target
  /// domain's one-vs-all split: a folder (searched recursively) or a list file. No test
  /// split and no label diagnostics; "" (default): the split of `target`.
  std::string pool_images;
  /// Labelled target images that are the test split, all of them, in place of the target
  /// domain's test share: a folder of class folders (FOLDER/CLASS/image: normal_class's
  /// images normal, every other class's anomalies). "" (default): the split of `target`.
  std::string test_images;
  std::string normal_class;  ///< the normal class; every other class is an anomaly
  int image_size = 32;       ///< side of the square network input
  int resize = 0;            ///< side images are resized to before the center crop (0: image_size)
  Interpolation interpolation = Interpolation::kBilinear;  ///< filter of that resize
  std::vector<double> mean = {0.5, 0.5, 0.5};              ///< per-channel normalization mean (RGB, [0,1] scale)
  std::vector<double> std = {0.5, 0.5, 0.5};               ///< per-channel normalization std
  double pool_fraction = 0.5;   ///< per class, share of target images in the unlabeled pool (rest: test)
  double contamination = 0.1;   ///< anomalies / pool size in the unlabeled pool, in [0,1)
  int split_seed = 0;           ///< seed of the target pool/test split
  bool augment = true;          ///< random resized crop + horizontal flip while training
  double crop_scale_min = 0.7;  ///< smallest area fraction of the random resized crop
  bool hflip = true;            ///< random horizontal flips while training
  bool target_labels = false;   ///< allow variants that read target labels (oracle, few_shot)
  double max_skipped = 0.1;     ///< unreadable images a set may lose: < 1 a share of it, >= 1 a count; more is an error
  bool image_cache = true;      ///< keep decoded, resized images (uint8) on disk under encoder.cache_dir
  int threads = 0;              ///< image decoding threads (0: the process's, setThreads; all cores unset)
};

/// The trainable feature extractor F.
struct ModelConfig {
  Arch arch = Arch::kSmallCnn;  ///< architecture of F
  std::string weights;  ///< pretrained backbone (safetensors, torchvision or CLIP visual.* names); "" = random init
  Padding padding = Padding::kAuto;  ///< mobilenet_v2: auto (weights' metadata, else symmetric) | symmetric | tf_same
  int embedding_dim = 32;            ///< size of F's output (bias-free head)
  int width = 16;                    ///< small_cnn: channels of the first conv stage
  Head head = Head::kLinear;         ///< linear | mlp (bias-free)
  int head_hidden = 512;             ///< mlp head: hidden width
  int freeze = 0;                    ///< leading trunk stages frozen (-1: the whole trunk; head on cached features)
  HeadInit head_init =
      HeadInit::kRandom;  ///< random | pca (first head layer = top principal directions; needs freeze -1)
  bool trunk_l2 = false;  ///< L2-normalize the trunk features before the head (cosine geometry)
};

/// The frozen visual encoder Φ whose space the target pool is clustered in.
struct EncoderConfig {
  EncoderType type = EncoderType::kNone;  ///< none | torchscript | backbone (F's initial trunk)
  std::string path;                       ///< torchscript: file of a module mapping N x 3 x S x S images to N x D
  int image_size = 224;                   ///< Φ's input side (images are resized to it)
  double input_range = 255.0;             ///< Φ expects pixels in [0, input_range] (255 or 1)
  bool l2_normalize = true;               ///< cluster L2-normalized features (cosine geometry)
  std::string cache_dir;     ///< where Φ's features are cached ("" = $XDG_CACHE_HOME or ~/.cache, /shiftad)
  double cache_max_gb = 20;  ///< the cache's entries past this size (GB): least recently used removed (0: no limit)
};

/// Which target samples are aligned: the dominant cluster (paper Eq. 6-7).
struct ClusterConfig {
  /// dense: the pool's dense region in Φ's space (F's initial space without Φ; the
  /// `default` variant, DenseRegion.h) | self: F's own features | frozen: Φ's features |
  /// none: align the whole pool | score: the pool rows F scores as normal (AlignedSet.h)
  ClusterSpace space = ClusterSpace::kDense;
  ClusterMethod method =
      ClusterMethod::kKMeans;    ///< kmeans | gmm | meanshift: which of the parameter structs below is used
  int recluster_every = 1;       ///< re-cluster every N epochs (0: only once, before training)
  double keep_fraction = 1.0;    ///< keep only this share of dominant members, those closest to its centroid
  double neighbours = 0.2;       ///< dense: a row's neighbourhood, as a share of the pool (DenseRegion.h)
  bool dense_bic_gate = false;   ///< dense: align the whole pool when the BIC finds one population (DenseRegion.h)
  double dense_max_share = 0.5;  ///< dense: at most this share of the pool, its densest rows (1: no cap)
  int dense_reference_rows =
      4096;  ///< dense: neighbourhoods looked for among this many rows spread over a larger pool (0: all)
  double dense_grow =
      0.0;  ///< dense: re-grow on schedule to the rows F scores below this quantile of the region's scores (0: off)
  /// The algorithms' parameters, passed to them as they are. cluster.k, cluster.restarts and
  /// cluster.max_iter set both `kmeans` and `gmm` (validateConfig checks that they agree).
  clustering::KMeansParams kmeans;        ///< cluster.k, cluster.restarts, cluster.max_iter
  clustering::GmmParams gmm;              ///< the same three, and cluster.covariance
  clustering::MeanShiftParams meanshift;  ///< cluster.bandwidth, cluster.quantile
};

/// Source/target alignment loss (paper Eq. 8-10).
struct AlignConfig {
  AlignMethod method = AlignMethod::kInfoNce;  ///< infonce | mmd | adversarial | prototype | none
  double lambda = 1.0;                         ///< weight of the alignment loss (λ2; Deep SVDD has weight 1)
  double tau = 0.1;                            ///< InfoNCE temperature
  bool svdd_on_target = true;                  ///< also apply Deep SVDD to the aligned target samples
  int disc_hidden = 256;                       ///< adversarial: domain discriminator hidden width
};

/// The few-shot variant: a few labeled target normals plus pseudo-anomalies made from them.
struct FewShotConfig {
  int k = 0;                 ///< labeled normal target images (0: off); needs data.target_labels
  int pseudo_per_image = 4;  ///< pseudo-anomalies generated per labeled image
};

/// How a trained run scores images.
struct ScoreConfig {
  /// svdd: ||F(x) - c||^2 (the paper). frozen_*: no training, Φ's space: distance to the
  /// source-normal mean, mean distance to the knn_k nearest source normals, or distance
  /// to the mean of the pool's dominant cluster.
  ScoreMethod method = ScoreMethod::kSvdd;
  int knn_k = 5;
  /// svdd: the center scores are measured from. source: c, the mean of F's initial
  /// source features (the paper). dominant: the mean of F's final features of the last
  /// dominant set (runs that align; the others keep c).
  ScoreCenter center = ScoreCenter::kSource;
};

/// The decision threshold set at the end of fit, without target labels (docs/method.md).
struct ThresholdConfig {
  /// mixture: where the two components of a Gaussian mixture on the log scores of the
  /// pool are equally dense. normal_quantile: the `quantile` of the calibration normals'
  /// scores (the dominant set, or the pool). source_quantile: that of the source normals.
  /// pool_quantile: that of the whole unlabeled pool (the method takes it to be mostly
  /// normal; it holds the rows an aligning run left out, which its calibration normals do not).
  ThresholdRule rule = ThresholdRule::kMixture;
  double quantile = 0.95;  ///< of normal_quantile, source_quantile and pool_quantile
};

/// Optimisation.
struct TrainConfig {
  int epochs = 15;
  int batch_size = 64;
  double lr = 1e-3;            ///< Adam learning rate
  double weight_decay = 1e-6;  ///< Adam weight decay
  double svdd_eps = 0.1;       ///< center coordinates with |c_k| < eps are set to ±eps
  double anchor = 0.0;  ///< L2-SP: weight of sum ||θ - θ0||^2 over F's trainable weights (θ0: at the start of training)
  int seed = 0;         ///< seed of initialisation, batching, augmentation, clustering
  int threads = 0;      ///< intra-op threads of fit and evaluate on this config (0: the process's, setThreads)
  int checkpoint_every = 1;       ///< epochs between checkpoints of the run directory (0: only at the end)
  TrainOn on = TrainOn::kSource;  ///< source | target_normals (the oracle; needs data.target_labels)
};

/// Bookkeeping of a run.
struct RunConfig {
  std::string variant = "custom";  ///< name of the preset the config came from (shiftad train --variant)
};

struct Config {
  DataConfig data;
  ModelConfig model;
  EncoderConfig encoder;
  ClusterConfig cluster;
  AlignConfig align;
  TrainConfig train;
  FewShotConfig fewshot;
  ScoreConfig score;
  ThresholdConfig threshold;
  RunConfig run;
};

/// A named variant of the method (paper baselines and ablations): config overrides
/// applied on top of a config, e.g. source_only = {"align.method=none"}.
/// Its facts are typed fields, so that reports and the bench read them here instead of
/// keeping lists of names (tests check them against what the overrides set).
struct Variant {
  std::string name;
  std::string description;
  std::vector<std::string> overrides;
  bool trains = true;                ///< trains F (false: a frozen-encoder baseline, score.method frozen_*)
  bool aligns = false;               ///< trains F with an alignment loss on target samples (see aligns())
  bool reads_target_labels = false;  ///< an upper bound or few-shot: needs data.target_labels
};
const std::vector<Variant>& variants();
/// The variant called `name`; throws listing the known ones.
const Variant& findVariant(const std::string& name);
/// The overrides of variant `name` (run.variant included); throws listing the known ones.
std::vector<std::string> variantOverrides(const std::string& name);

/// Load a YAML file (may be empty: "" means all defaults) and apply `overrides`
/// of the form "section.key=value" (value parsed as YAML). Unknown keys, wrong
/// types and out-of-range values throw shiftad::Error naming key, value and rule.
/// Paths (data.root, model.weights, encoder.path, encoder.cache_dir) written in the
/// file resolve against the file's folder, those in `overrides` against the working
/// directory; all come out absolute.
Config loadConfig(const std::string& yaml_path, const std::vector<std::string>& overrides = {});

/// Parse YAML text (same rules as loadConfig); its relative paths resolve against
/// `base_dir` ("" : the working directory).
Config parseConfig(const std::string& yaml_text, const std::vector<std::string>& overrides = {},
                   const std::string& origin = "<string>", const std::string& base_dir = "");

/// `cfg` with its relative paths made absolute against `base_dir` ("" : the working
/// directory), as a run directory records them.
Config withAbsolutePaths(const Config& cfg, const std::string& base_dir = "");

/// Every key written out, as YAML that parseConfig reads back to the same Config.
std::string dumpConfig(const Config& cfg);

/// The settings in which `now` differs from `then`, each as "key: THEN -> NOW", leaving out
/// those a run may change after it started without changing F or its scores: paths (data,
/// weights and caches may move), how it runs (data.threads, data.image_cache, encoder.cache_max_gb,
/// data.max_skipped, train.threads, train.checkpoint_every) and threshold.* (the decision
/// is recalibrated from them). Empty: the same run.
std::vector<std::string> changedSettings(const Config& then, const Config& now);

/// When run.variant names a preset (`shiftad variants`): the settings in which `cfg`
/// differs from what that preset sets, as changedSettings(preset's, cfg's) says them.
/// Empty when it is that preset, or when run.variant is "custom" or a label of the user's.
std::vector<std::string> variantLabelChanges(const Config& cfg);

/// `cfg` with the keys of how a run goes, not of what it computes, at their defaults
/// (data.threads, data.image_cache, data.max_skipped, train.threads,
/// train.checkpoint_every, encoder.cache_max_gb, encoder.cache_dir): what a bench's rows
/// must share to be one bench's (shards on nodes with their own caches and cores merge).
Config resultSettings(const Config& cfg);

/// Whether two data sections make the same protocol split: the same data root (or one
/// folder under two spellings), domains, normal class, pool fraction, contamination and
/// split seed. How images are read (threads, caches, max_skipped) does not count.
bool sameSplit(const DataConfig& a, const DataConfig& b);

/// The schema as a Markdown table (key, type, default, allowed, meaning).
std::string configDocMarkdown();

/// Whether a run aligns target samples with source: an alignment method, at a weight > 0.
bool aligns(const Config& cfg);

/// F's starting weights, as messages name them: "random weights" or "model.weights 'PATH'".
std::string weightsSource(const ModelConfig& model);

/// Check a Config built or edited in code as a config file is checked: every key's
/// range and choices (as parseConfig applies them) and the rules across keys (e.g.
/// data.resize >= data.image_size); throws shiftad::Error naming the key. Detector::fit
/// and train() call it before anything is written.
void validateConfig(const Config& cfg);

}  // namespace shiftad
