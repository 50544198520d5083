// safetensors files as torch tensors: the format itself (header parsing and validation,
// dtypes, offsets) is io/SafeTensorsFormat.h; this is the conversion to and from tensors.
#include "io/SafeTensors.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "common/AtomicFile.h"
#include "common/Error.h"
#include "io/SafeTensorsFormat.h"

namespace shiftad::io {
namespace {

constexpr std::pair<Dtype, torch::ScalarType> kTorchTypes[] = {
    {Dtype::kF64, torch::kFloat64},   {Dtype::kF32, torch::kFloat32}, {Dtype::kF16, torch::kFloat16},
    {Dtype::kBF16, torch::kBFloat16}, {Dtype::kI64, torch::kInt64},   {Dtype::kI32, torch::kInt32},
    {Dtype::kI16, torch::kInt16},     {Dtype::kI8, torch::kInt8},     {Dtype::kU8, torch::kUInt8},
    {Dtype::kBool, torch::kBool}};

torch::ScalarType scalarTypeOf(Dtype dtype) {
  for (const auto& [d, type] : kTorchTypes)
    if (d == dtype) return type;
  SHIFTAD_THROW("safetensors: dtype {} has no torch type", dtypeName(dtype));
}

/// The file dtype of a torch type, nullptr for a type safetensors I/O does not support.
const Dtype* dtypeByType(torch::ScalarType type) {
  for (const auto& [d, t] : kTorchTypes)
    if (t == type) return &d;
  return nullptr;
}

// ---------------------------------------------------------------- writing

/// A tensor ready to be written: CPU, contiguous, of a supported dtype.
struct Outgoing {
  TensorEntry entry;
  torch::Tensor data;
};

std::vector<Outgoing> prepare(const std::map<std::string, torch::Tensor>& tensors, const std::string& path) {
  std::vector<Outgoing> out;
  for (const auto& [name, t] : tensors) {
    SHIFTAD_CHECK(name != kMetadataKey, "{}: \"__metadata__\" is reserved and cannot name a tensor", path);
    SHIFTAD_CHECK(t.defined(), "{}: tensor {} is undefined", path, inQuotes(name));
    SHIFTAD_CHECK(t.layout() == torch::kStrided, "{}: tensor {} is not dense (layout {})", path, inQuotes(name),
                  c10::str(t.layout()));
    const Dtype* dtype = dtypeByType(t.scalar_type());
    SHIFTAD_CHECK(dtype, "{}: tensor {} has dtype {}, which safetensors I/O does not support", path, inQuotes(name),
                  c10::toString(t.scalar_type()));
    // resolve_neg: a lazily negated view would otherwise be written un-negated.
    auto data = t.detach().to(torch::kCPU).resolve_conj().resolve_neg().contiguous();
    out.push_back({{name, *dtype, data.sizes().vec()}, data});
  }
  return out;
}

}  // namespace

SafeTensorsFile readSafeTensors(const std::string& path) {
  SafeTensorsReader reader(path);
  SafeTensorsFile result;
  result.path = path;
  result.metadata = reader.header().metadata;
  // Read straight into each tensor's own storage: no file-sized staging buffer, and the
  // tensor's allocation is aligned whatever the offset in the file.
  for (const TensorEntry& e : reader.header().tensors) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(scalarTypeOf(e.dtype)));
    reader.read(e, t.data_ptr());
    result.tensors[e.name] = t;
  }
  return result;
}

void writeSafeTensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, Durability durability) {
  std::vector<Outgoing> outgoing = prepare(tensors, path);
  std::vector<TensorEntry> entries;
  for (const Outgoing& t : outgoing) entries.push_back(t.entry);
  const std::string header = encodeHeader(entries, metadata, path);
  writeFileAtomic(
      path,
      [&](std::ostream& out) {
        out << header;
        for (const Outgoing& t : outgoing)
          out.write(static_cast<const char*>(t.data.data_ptr()), static_cast<std::streamsize>(t.data.nbytes()));
      },
      durability);
}

// ---------------------------------------------------------------- modules

std::map<std::string, torch::Tensor> moduleStateDict(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    if (item.value().defined()) state[item.key()] = item.value().detach();
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    if (item.value().defined()) state[item.key()] = item.value().detach();
  return state;
}

namespace {

/// A file tensor matched to its module tensor, already in the module's dtype.
struct Copy {
  std::string fileName;
  torch::Tensor target, source;
};

/// "3 missing: [a, b, c]", listing at most `cap` names.
std::string listing(const std::vector<std::string>& names, const char* what, size_t cap = 10) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < std::min(cap, names.size()); ++i) shown.push_back(clip(names[i]));
  std::string more = names.size() > cap ? fmt::format(", ... ({} more)", names.size() - cap) : "";
  return fmt::format("{} {}: [{}{}]", names.size(), what, fmt::join(shown, ", "), more);
}

bool allFinite(const torch::Tensor& t) { return !t.is_floating_point() || torch::isfinite(t).all().item<bool>(); }

/// Whether every value of dtype `from` is a value of `to`: same kind (float to float,
/// integer or bool to integer or bool) and `to` at least as wide. Anything else would be
/// a silent reinterpretation (I32 bytes read as integers, then cast to float) or a loss
/// (F64 rounded to F32, BF16's range into F16).
bool losslessInto(torch::ScalarType from, torch::ScalarType to) {
  const bool float_from = c10::isFloatingType(from), float_to = c10::isFloatingType(to);
  return float_from == float_to && c10::promoteTypes(from, to) == to;
}

/// The file dtypes a module tensor of `to` accepts, e.g. "F32, F16 or BF16".
std::string accepted(torch::ScalarType to) {
  std::vector<std::string> names;
  for (Dtype d : allDtypes())
    if (losslessInto(scalarTypeOf(d), to)) names.push_back(dtypeName(d));
  if (names.size() == 1) return names[0];
  const std::string last = names.back();
  names.pop_back();
  return fmt::format("{} or {}", fmt::join(names, ", "), last);
}

/// Float values that are integers within I64's range: what a converter writing every
/// tensor as F32 (`v.float()`) makes of BatchNorm's num_batches_tracked. They load
/// into an integer buffer exactly.
bool integralValues(const torch::Tensor& t) {
  const auto d = t.to(torch::kFloat64);
  return (d == d.round()).all().item<bool>() && (d.abs() < 9.2e18).all().item<bool>();
}

/// "" if `source` converts to `to` without loss, else why not (after `where` and the
/// tensor's name); `into` names the destination, e.g. "the module's fc.weight is".
std::string lossOf(const torch::Tensor& source, torch::ScalarType to, const std::string& into) {
  const torch::ScalarType from = source.scalar_type();
  if (losslessInto(from, to)) return "";
  const bool float_into_integer = source.is_floating_point() && c10::isIntegralType(to, /*includeBool=*/false);
  if (float_into_integer && integralValues(source)) return "";
  return fmt::format(
      "is {}{} but {} {}: only {} loads into it without loss; refusing to cast it (convert the file's tensor "
      "to {})",
      dtypeName(*dtypeByType(from)), float_into_integer ? " with non-integer values" : "", into,
      dtypeName(*dtypeByType(to)), accepted(to), dtypeName(*dtypeByType(to)));
}

}  // namespace

torch::Tensor exactly(const SafeTensorsFile& file, const std::string& name, torch::ScalarType dtype) {
  const std::string where = file.path.empty() ? "" : file.path + ": ";
  const auto it = file.tensors.find(name);
  SHIFTAD_CHECK(it != file.tensors.end(), "{}has no tensor {}", where, inQuotes(name));
  SHIFTAD_CHECK(allFinite(it->second), "{}tensor {} holds NaN or Inf values; refusing to load it", where,
                inQuotes(name));
  const std::string loss = lossOf(it->second, dtype, "shiftad reads it as");
  SHIFTAD_CHECK(loss.empty(), "{}tensor {} {}", where, inQuotes(name), loss);
  return it->second.to(dtype);
}

LoadReport loadIntoModule(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& prefix,
                          bool strict) {
  const std::map<std::string, torch::Tensor> targets = moduleStateDict(module);
  LoadReport report;
  std::vector<std::string> shapeNotes;  // mismatched names with both shapes, for the message
  std::vector<Copy> copies;
  for (const auto& [fileName, source] : file.tensors) {
    if (fileName.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string name = fileName.substr(prefix.size());
    const auto it = targets.find(name);
    if (it == targets.end()) {
      report.unexpected.push_back(fileName);
    } else if (it->second.sizes() != source.sizes()) {
      report.mismatched.push_back(name);
      shapeNotes.push_back(
          fmt::format("{} (expected {}, got {})", name, shapeString(it->second.sizes()), shapeString(source.sizes())));
    } else {
      copies.push_back({fileName, it->second, source});
    }
  }
  for (const auto& [name, target] : targets)
    if (!file.tensors.count(prefix + name)) report.missing.push_back(name);

  std::vector<std::string> problems;
  if (!report.missing.empty()) problems.push_back(listing(report.missing, "missing"));
  if (!report.unexpected.empty()) problems.push_back(listing(report.unexpected, "unexpected"));
  if (!shapeNotes.empty()) problems.push_back(listing(shapeNotes, "with another shape"));
  const std::string where = file.path.empty() ? "" : file.path + ": ";
  SHIFTAD_CHECK(!strict || problems.empty(), "{}cannot load the tensors{} into the module (strict): {}", where,
                prefix.empty() ? "" : " under prefix " + inQuotes(prefix), fmt::join(problems, "; "));

  // Check everything before copying anything: a rejected load leaves the module intact.
  for (Copy& c : copies) {
    SHIFTAD_CHECK(allFinite(c.source), "{}tensor {} holds NaN or Inf values; refusing to load it", where,
                  inQuotes(c.fileName));
    const std::string loss =
        lossOf(c.source, c.target.scalar_type(), "the module's " + clip(c.fileName.substr(prefix.size())) + " is");
    SHIFTAD_CHECK(loss.empty(), "{}tensor {} {}", where, inQuotes(c.fileName), loss);
    c.source = c.source.to(c.target.dtype());  // exact: checked above
  }
  torch::NoGradGuard noGrad;
  for (const Copy& c : copies) c.target.copy_(c.source);
  return report;
}

}  // namespace shiftad::io
