// The one-vs-all domain-shift protocol (explicit and seeded). Torch-free.
//
// Source training set: source-domain images of the normal class. The target domain
// is split per class (seeded) into an unlabeled pool share and a disjoint test share.
// The pool keeps all of its normal images plus anomalies (other classes) sampled so
// that anomalies / pool size equals `contamination` (as closely as counts allow);
// the test split keeps every class as it is.
#pragma once

#include <string>
#include <vector>

#include "data/ImageFolder.h"

namespace shiftad::data {

struct ProtocolParams {
  std::string normal_class;
  double pool_fraction = 0.5;  ///< per class, share of target images offered to the pool
  double contamination = 0.1;  ///< anomalies / pool size, in [0, 1)
  int seed = 0;
};

/// What training may see: paths only, no target label (enforced by type).
struct TrainingImages {
  std::vector<std::string> source;  ///< source normal images
  std::vector<std::string> pool;    ///< unlabeled target pool
};

/// A labelled set of images, for evaluation only.
struct LabelledImages {
  std::vector<std::string> paths;
  std::vector<int> is_anomaly;  ///< 1 = anomaly (not the normal class)
};

struct ProtocolSplit {
  TrainingImages train;
  LabelledImages pool_truth;  ///< the pool with its labels: diagnostics only (purity); empty when unlabeled
  LabelledImages test;        ///< target test split; empty when the pool is unlabeled
  bool pool_labelled = true;  ///< false: the pool was given as unlabeled images (data.pool_images)
};

/// Build the split. Throws shiftad::Error if the normal class is absent from either
/// domain, or the pool / test would be empty.
ProtocolSplit makeSplit(const std::vector<ImageRecord>& source_domain, const std::vector<ImageRecord>& target_domain,
                        const ProtocolParams& params);

/// The split of a deployment: the source domain's normal class, and `pool`, unlabeled
/// target images, all of them (data.pool_images). No test split, no pool labels.
/// Throws shiftad::Error if the normal class is absent from the source or the pool is empty.
ProtocolSplit unlabeledSplit(const std::vector<ImageRecord>& source_domain, std::vector<std::string> pool,
                             const std::string& normal_class);

/// A labelled test set given as class folders (data.test_images, listed by
/// listClassFolders): normal_class's images normal, every other class's anomalies.
/// Throws shiftad::Error, naming the set as `where`, if the normal class or every other
/// class is missing.
LabelledImages labelledImages(const std::vector<ImageRecord>& images, const std::string& normal_class,
                              const std::string& where);

/// A test image that is also a training image.
struct SharedFile {
  std::string test;      ///< path in the test split
  std::string training;  ///< the same file, in the source set or the pool
};

/// Test images that training also sees: the same path, or the same file (device and
/// inode) reached through a symlink or a hard link. One stat() per image, so cheap
/// enough for every run; byte-identical copies need hashing every file and are left
/// to `shiftad check-data`. Paths that cannot be stat'ed are compared as strings.
std::vector<SharedFile> sharedFiles(const ProtocolSplit& split);

/// Why `split` leaks its test split into training ("" if it does not), naming the
/// domains: data.source == data.target, or the first shared file and their count;
/// `test_images`: data.test_images, the test split given as its own folder.
std::string leakProblem(const ProtocolSplit& split, const std::string& source, const std::string& target,
                        const std::string& test_images = "");

/// Whether two domain names (folders below the data root) name one folder however spelled:
/// "source", "source/", "./source".
bool sameDomainName(const std::string& a, const std::string& b);

}  // namespace shiftad::data
