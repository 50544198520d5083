// The name tables of the choice enums: the only place their YAML spellings are written.
#include "config/Choices.h"

#include "common/Error.h"

namespace shiftad {
namespace config {

const ChoiceTable<Interpolation>& choices(Interpolation) {
  static const ChoiceTable<Interpolation> t = {{Interpolation::kBilinear, "bilinear"},
                                               {Interpolation::kBicubic, "bicubic"}};
  return t;
}

const ChoiceTable<Arch>& choices(Arch) {
  static const ChoiceTable<Arch> t = {{Arch::kSmallCnn, "small_cnn"},      {Arch::kResNet18, "resnet18"},
                                      {Arch::kResNet50, "resnet50"},       {Arch::kMobileNetV2, "mobilenet_v2"},
                                      {Arch::kClipVitB32, "clip_vit_b32"}, {Arch::kClipRn50, "clip_rn50"}};
  return t;
}

const ChoiceTable<Padding>& choices(Padding) {
  static const ChoiceTable<Padding> t = {
      {Padding::kAuto, "auto"}, {Padding::kSymmetric, "symmetric"}, {Padding::kTfSame, "tf_same"}};
  return t;
}

const ChoiceTable<Head>& choices(Head) {
  static const ChoiceTable<Head> t = {{Head::kLinear, "linear"}, {Head::kMlp, "mlp"}};
  return t;
}

const ChoiceTable<HeadInit>& choices(HeadInit) {
  static const ChoiceTable<HeadInit> t = {{HeadInit::kRandom, "random"}, {HeadInit::kPca, "pca"}};
  return t;
}

const ChoiceTable<EncoderType>& choices(EncoderType) {
  static const ChoiceTable<EncoderType> t = {
      {EncoderType::kNone, "none"}, {EncoderType::kTorchScript, "torchscript"}, {EncoderType::kBackbone, "backbone"}};
  return t;
}

const ChoiceTable<ClusterSpace>& choices(ClusterSpace) {
  static const ChoiceTable<ClusterSpace> t = {{ClusterSpace::kSelf, "self"},
                                              {ClusterSpace::kFrozen, "frozen"},
                                              {ClusterSpace::kNone, "none"},
                                              {ClusterSpace::kScore, "score"},
                                              {ClusterSpace::kDense, "dense"}};
  return t;
}

const ChoiceTable<ClusterMethod>& choices(ClusterMethod) {
  static const ChoiceTable<ClusterMethod> t = {
      {ClusterMethod::kKMeans, "kmeans"}, {ClusterMethod::kGmm, "gmm"}, {ClusterMethod::kMeanShift, "meanshift"}};
  return t;
}

const ChoiceTable<Covariance>& choices(Covariance) {
  static const ChoiceTable<Covariance> t = {{Covariance::kDiag, "diag"}, {Covariance::kFull, "full"}};
  return t;
}

const ChoiceTable<AlignMethod>& choices(AlignMethod) {
  static const ChoiceTable<AlignMethod> t = {{AlignMethod::kInfoNce, "infonce"},
                                             {AlignMethod::kMmd, "mmd"},
                                             {AlignMethod::kAdversarial, "adversarial"},
                                             {AlignMethod::kPrototype, "prototype"},
                                             {AlignMethod::kNone, "none"}};
  return t;
}

const ChoiceTable<ScoreMethod>& choices(ScoreMethod) {
  static const ChoiceTable<ScoreMethod> t = {{ScoreMethod::kSvdd, "svdd"},
                                             {ScoreMethod::kFrozenMean, "frozen_mean"},
                                             {ScoreMethod::kFrozenKnn, "frozen_knn"},
                                             {ScoreMethod::kFrozenDominant, "frozen_dominant"}};
  return t;
}

const ChoiceTable<ScoreCenter>& choices(ScoreCenter) {
  static const ChoiceTable<ScoreCenter> t = {{ScoreCenter::kSource, "source"}, {ScoreCenter::kDominant, "dominant"}};
  return t;
}

const ChoiceTable<TrainOn>& choices(TrainOn) {
  static const ChoiceTable<TrainOn> t = {{TrainOn::kSource, "source"}, {TrainOn::kTargetNormals, "target_normals"}};
  return t;
}

const ChoiceTable<ThresholdRule>& choices(ThresholdRule) {
  static const ChoiceTable<ThresholdRule> t = {{ThresholdRule::kMixture, "mixture"},
                                               {ThresholdRule::kNormalQuantile, "normal_quantile"},
                                               {ThresholdRule::kSourceQuantile, "source_quantile"},
                                               {ThresholdRule::kPoolQuantile, "pool_quantile"}};
  return t;
}

namespace {

template <typename E>
const std::string& spelling(E value) {
  for (const auto& entry : choices(E{}))
    if (entry.first == value) return entry.second;
  // Only a value cast from an integer outside the enum gets here.
  SHIFTAD_THROW("a config choice has the value {}, which its name table does not list", static_cast<int>(value));
}

}  // namespace
}  // namespace config

const std::string& toString(Interpolation v) { return config::spelling(v); }
const std::string& toString(Arch v) { return config::spelling(v); }
const std::string& toString(Padding v) { return config::spelling(v); }
const std::string& toString(Head v) { return config::spelling(v); }
const std::string& toString(HeadInit v) { return config::spelling(v); }
const std::string& toString(EncoderType v) { return config::spelling(v); }
const std::string& toString(ClusterSpace v) { return config::spelling(v); }
const std::string& toString(ClusterMethod v) { return config::spelling(v); }
const std::string& toString(Covariance v) { return config::spelling(v); }
const std::string& toString(AlignMethod v) { return config::spelling(v); }
const std::string& toString(ScoreMethod v) { return config::spelling(v); }
const std::string& toString(ScoreCenter v) { return config::spelling(v); }
const std::string& toString(TrainOn v) { return config::spelling(v); }
const std::string& toString(ThresholdRule v) { return config::spelling(v); }

bool isClip(Arch arch) { return arch == Arch::kClipVitB32 || arch == Arch::kClipRn50; }

}  // namespace shiftad
