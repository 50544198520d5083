// safetensors reader/writer. The reader treats every file as hostile: each header field
// is validated against the file size before anything is allocated, so a crafted header
// can neither make us allocate more than the file holds nor read outside it.
#include "io/SafeTensors.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/Error.h"
#include "common/Rename.h"

// Tensor bytes are copied as they are stored: little-endian on disk and in memory.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shiftad's safetensors I/O copies little-endian data verbatim and needs a little-endian host"
#endif

namespace shiftad::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// The reference implementation's limit: a larger header is an attack, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

struct Dtype {
  const char* name;
  torch::ScalarType type;
  uint64_t size;
};

constexpr Dtype kDtypes[] = {{"F64", torch::kFloat64, 8},   {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
                             {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
                             {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
                             {"BOOL", torch::kBool, 1}};

const Dtype* dtypeByName(const std::string& name) {
  for (const Dtype& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const Dtype* dtypeByType(torch::ScalarType type) {
  for (const Dtype& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

/// Hostile text in a message: clipped (a key may be 100 MB long) and with control bytes,
/// e.g. terminal escapes, shown as \xNN; so are bytes >= 0x80 if it may not be UTF-8.
std::string clip(const std::string& s, size_t max = 200, bool asciiOnly = false) {
  size_t n = std::min(s.size(), max);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;  // whole characters
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool escape = c < 0x20 || c == 0x7f || (asciiOnly && c >= 0x80);
    out += escape ? fmt::format("\\x{:02x}", c) : std::string(1, s[i]);
  }
  return n == s.size() ? out : out + "...";
}

std::string inQuotes(const std::string& name) { return "\"" + clip(name, 100) + "\""; }

template <typename Ints>
std::string shapeString(const Ints& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// ---------------------------------------------------------------- reading

/// One header entry, validated against the data buffer.
struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

uint64_t fileSizeOf(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  SHIFTAD_CHECK(st.type() != fs::file_type::not_found, "{}: safetensors file does not exist", path);
  SHIFTAD_CHECK(!ec, "{}: cannot access the file ({})", path, ec.message());
  SHIFTAD_CHECK(fs::is_regular_file(st), "{}: not a regular file", path);
  const uint64_t size = fs::file_size(path, ec);
  SHIFTAD_CHECK(!ec, "{}: cannot determine the file size ({})", path, ec.message());
  return size;
}

/// Read exactly `n` bytes at `offset` into `dst`.
void readExactly(std::ifstream& f, const std::string& path, uint64_t offset, void* dst, uint64_t n,
                 const std::string& what) {
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  SHIFTAD_CHECK(f && static_cast<uint64_t>(f.gcount()) == n,
                "{}: could not read {} ({} bytes at offset {}); the file is truncated or changed while read", path,
                what, n, offset);
}

uint64_t decodeLe64(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

/// The header length, checked against the file size before the header is allocated.
uint64_t readHeaderLength(std::ifstream& f, const std::string& path, uint64_t fileSize) {
  SHIFTAD_CHECK(fileSize >= 8, "{}: file is {} bytes, shorter than the 8-byte header length (not a safetensors file)",
                path, fileSize);
  unsigned char bytes[8];
  readExactly(f, path, 0, bytes, 8, "the header length");
  const uint64_t n = decodeLe64(bytes);
  SHIFTAD_CHECK(n <= fileSize - 8,
                "{}: header length {} exceeds the file size {} (truncated or not a safetensors file)", path, n,
                fileSize);
  SHIFTAD_CHECK(n <= kMaxHeaderBytes, "{}: header length {} exceeds the {}-byte limit (not a safetensors file)", path,
                n, kMaxHeaderBytes);
  return n;
}

/// Parse the header, refusing while it is read what a DOM would hide or blow up:
/// duplicate keys (nlohmann silently keeps the last one) and nesting deeper than the
/// format's {name: {"shape": [dims]}} (100 MB of '[' would expand to gigabytes).
json parseHeader(const std::string& text, const std::string& path) {
  constexpr int kMaxContainerDepth = 2;            // the top-level object is depth 0
  std::vector<std::set<std::string>> openObjects;  // keys seen, per object being read
  auto guard = [&](int depth, json::parse_event_t event, json& parsed) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    SHIFTAD_CHECK(!opens || depth <= kMaxContainerDepth, "{}: JSON header nests deeper than a safetensors header",
                  path);
    if (event == json::parse_event_t::object_start) openObjects.emplace_back();
    if (event == json::parse_event_t::object_end) openObjects.pop_back();
    if (event == json::parse_event_t::key)
      SHIFTAD_CHECK(openObjects.back().insert(parsed.get<std::string>()).second,
                    "{}: duplicate key {} in the JSON header", path, inQuotes(parsed.get<std::string>()));
    return true;
  };
  json header;
  try {
    header = json::parse(text, guard);
  } catch (const json::exception& e) {
    SHIFTAD_THROW("{}: header is not valid JSON ({})", path, clip(e.what(), 200, /*asciiOnly=*/true));
  }
  SHIFTAD_CHECK(header.is_object(), "{}: header is not a JSON object but {}", path, header.type_name());
  return header;
}

/// A JSON integer in [0, INT64_MAX]: offsets and dimensions must also fit torch's int64.
uint64_t nonNegative(const json& v, const std::string& path, const std::string& what) {
  SHIFTAD_CHECK(v.is_number_integer(), "{}: {} must be an integer, got {}", path, what, clip(v.dump(), 40));
  SHIFTAD_CHECK(v.is_number_unsigned(), "{}: {} is negative ({})", path, what, v.get<int64_t>());
  const uint64_t u = v.get<uint64_t>();
  SHIFTAD_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "{}: {} is too large ({})", path, what,
                u);
  return u;
}

/// Bytes of `shape` x `dtype`, or an error if that overflows 64 bits.
uint64_t byteSize(const Entry& e, const std::string& path) {
  if (std::count(e.shape.begin(), e.shape.end(), 0) > 0) return 0;
  uint64_t bytes = e.dtype->size;
  for (int64_t d : e.shape)
    SHIFTAD_CHECK(!__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes),
                  "{}: tensor {}: shape {} of {} overflows 64 bits of bytes", path, inQuotes(e.name),
                  shapeString(e.shape), e.dtype->name);
  return bytes;
}

const json& field(const json& entry, const char* key, const std::string& path, const std::string& name) {
  const auto it = entry.find(key);
  SHIFTAD_CHECK(it != entry.end(), "{}: tensor {} has no \"{}\"", path, inQuotes(name), key);
  return *it;
}

Entry parseEntry(const std::string& name, const json& value, uint64_t bufferSize, const std::string& path) {
  SHIFTAD_CHECK(value.is_object(), "{}: tensor {} is not a JSON object but {}", path, inQuotes(name),
                value.type_name());
  Entry e{name, nullptr, {}, 0, 0};
  const json& dtype = field(value, "dtype", path, name);
  SHIFTAD_CHECK(dtype.is_string(), "{}: tensor {}: dtype is not a string", path, inQuotes(name));
  e.dtype = dtypeByName(dtype.get<std::string>());
  SHIFTAD_CHECK(e.dtype, "{}: tensor {}: unknown dtype {} (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", path,
                inQuotes(name), inQuotes(dtype.get<std::string>()));

  const json& shape = field(value, "shape", path, name);
  SHIFTAD_CHECK(shape.is_array(), "{}: tensor {}: shape is not an array", path, inQuotes(name));
  for (const json& d : shape)
    e.shape.push_back(
        static_cast<int64_t>(nonNegative(d, path, fmt::format("tensor {}: shape dimension", inQuotes(name)))));

  const json& offsets = field(value, "data_offsets", path, name);
  SHIFTAD_CHECK(offsets.is_array() && offsets.size() == 2, "{}: tensor {}: data_offsets is not a [begin, end] pair",
                path, inQuotes(name));
  e.begin = nonNegative(offsets[0], path, fmt::format("tensor {}: data_offsets begin", inQuotes(name)));
  e.end = nonNegative(offsets[1], path, fmt::format("tensor {}: data_offsets end", inQuotes(name)));
  SHIFTAD_CHECK(e.begin <= e.end, "{}: tensor {}: data_offsets [{}, {}] begin after they end", path, inQuotes(name),
                e.begin, e.end);
  SHIFTAD_CHECK(e.end <= bufferSize, "{}: tensor {}: data_offsets [{}, {}] lie beyond the {}-byte data buffer", path,
                inQuotes(name), e.begin, e.end, bufferSize);

  const uint64_t bytes = byteSize(e, path);
  SHIFTAD_CHECK(bytes == e.end - e.begin,
                "{}: tensor {}: shape {} of {} needs {} bytes but data_offsets [{}, {}] span {} (does not match)", path,
                inQuotes(name), shapeString(e.shape), e.dtype->name, bytes, e.begin, e.end, e.end - e.begin);
  return e;
}

std::map<std::string, std::string> parseMetadata(const json& value, const std::string& path) {
  SHIFTAD_CHECK(value.is_object(), "{}: __metadata__ is not a JSON object", path);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    SHIFTAD_CHECK(v.is_string(), "{}: __metadata__ value of {} is not a string", path, inQuotes(key));
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

/// Sorts `entries` by offset and rejects byte ranges shared by two tensors.
void checkNoOverlap(std::vector<Entry>& entries, const std::string& path) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;  // an empty range holds no bytes to share
    SHIFTAD_CHECK(!previous || previous->end <= e.begin, "{}: tensors {} [{}, {}] and {} [{}, {}] overlap", path,
                  inQuotes(previous->name), previous->begin, previous->end, inQuotes(e.name), e.begin, e.end);
    previous = &e;
  }
}

/// Reads straight into the tensor's own storage: no file-sized staging buffer, and the
/// tensor's allocation is aligned whatever the offset in the file.
torch::Tensor readTensor(std::ifstream& f, const Entry& e, uint64_t dataStart, const std::string& path) {
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
  const uint64_t n = e.end - e.begin;
  if (n > 0) readExactly(f, path, dataStart + e.begin, t.data_ptr(), n, "tensor " + inQuotes(e.name));
  if (e.dtype->type == torch::kBool) {
    // Any other byte in a torch bool is undefined behaviour downstream.
    const auto* p = static_cast<const unsigned char*>(t.data_ptr());
    SHIFTAD_CHECK(std::all_of(p, p + n, [](unsigned char b) { return b <= 1; }),
                  "{}: BOOL tensor {} holds bytes other than 0 and 1", path, inQuotes(e.name));
  }
  return t;
}

// ---------------------------------------------------------------- writing

/// A tensor ready to be written: CPU, contiguous, of a supported dtype.
struct Outgoing {
  std::string name;
  const Dtype* dtype;
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
    out.push_back({name, dtype, t.detach().to(torch::kCPU).resolve_conj().resolve_neg().contiguous()});
  }
  return out;
}

/// The JSON header, space-padded to a multiple of 8 bytes like the reference writer.
std::string buildHeader(const std::vector<Outgoing>& tensors, const std::map<std::string, std::string>& metadata,
                        const std::string& path) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const Outgoing& t : tensors) {
    const uint64_t end = offset + t.data.nbytes();
    header[t.name] = {{"dtype", t.dtype->name}, {"shape", t.data.sizes().vec()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    SHIFTAD_THROW("{}: a tensor name or metadata string is not valid UTF-8 ({})", path, clip(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

std::string encodeLe64(uint64_t v) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return bytes;
}

void writeContents(const std::string& file, const std::string& header, const std::vector<Outgoing>& tensors) {
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  SHIFTAD_CHECK(f, "{}: cannot open for writing (does the folder exist and is it writable?)", file);
  f << encodeLe64(header.size()) << header;
  for (const Outgoing& t : tensors)
    f.write(static_cast<const char*>(t.data.data_ptr()), static_cast<std::streamsize>(t.data.nbytes()));
  f.flush();
  f.close();
  SHIFTAD_CHECK(!f.fail(), "{}: writing failed (disk full?)", file);
}

}  // namespace

SafeTensorsFile readSafeTensors(const std::string& path) {
  const uint64_t fileSize = fileSizeOf(path);
  std::ifstream f(path, std::ios::binary);
  SHIFTAD_CHECK(f, "{}: cannot open for reading (permissions?)", path);
  const uint64_t headerSize = readHeaderLength(f, path, fileSize);
  std::string text(headerSize, '\0');
  readExactly(f, path, 8, text.data(), headerSize, "the JSON header");
  const json header = parseHeader(text, path);

  const uint64_t dataStart = 8 + headerSize;
  SafeTensorsFile result;
  result.path = path;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey)
      result.metadata = parseMetadata(value, path);
    else
      entries.push_back(parseEntry(name, value, fileSize - dataStart, path));
  }
  checkNoOverlap(entries, path);
  for (const Entry& e : entries) result.tensors[e.name] = readTensor(f, e, dataStart, path);
  return result;
}

void writeSafeTensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, Durability durability) {
  const std::vector<Outgoing> outgoing = prepare(tensors, path);
  const std::string header = buildHeader(outgoing, metadata, path);
  const std::string tmp = temporaryPathFor(path);
  try {
    writeContents(tmp, header, outgoing);
    // rename within one folder is atomic: readers see the old file or the new one;
    // commitRename fsyncs, so after a power loss too.
    std::error_code ec;
    commitRename(tmp, path, ec, durability);
    SHIFTAD_CHECK(!ec, "{}: cannot rename {} over it ({})", path, tmp, ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
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
  for (const Dtype& d : kDtypes)
    if (losslessInto(d.type, to)) names.push_back(d.name);
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
      dtypeByType(from)->name, float_into_integer ? " with non-integer values" : "", into, dtypeByType(to)->name,
      accepted(to), dtypeByType(to)->name);
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
