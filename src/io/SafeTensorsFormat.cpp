// The reader treats every file as hostile: each header field is validated against the
// file size before anything is allocated.
#include "io/SafeTensorsFormat.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/Error.h"

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

struct DtypeInfo {
  Dtype dtype;
  const char* name;
  uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {{Dtype::kF64, "F64", 8},   {Dtype::kF32, "F32", 4}, {Dtype::kF16, "F16", 2},
                                 {Dtype::kBF16, "BF16", 2}, {Dtype::kI64, "I64", 8}, {Dtype::kI32, "I32", 4},
                                 {Dtype::kI16, "I16", 2},   {Dtype::kI8, "I8", 1},   {Dtype::kU8, "U8", 1},
                                 {Dtype::kBool, "BOOL", 1}};

const DtypeInfo& infoOf(Dtype dtype) {
  for (const DtypeInfo& d : kDtypes)
    if (d.dtype == dtype) return d;
  SHIFTAD_THROW("safetensors: dtype {} is not in the table", static_cast<int>(dtype));
}

const DtypeInfo* dtypeByName(const std::string& name) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

// ---------------------------------------------------------------- reading

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
  // PyTorch's .pt/.pth (torch.save) and TorchScript files are ZIP archives: the header
  // length then read as some 5e17 bytes, and the error suggested a truncated file.
  SHIFTAD_CHECK(!(bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4),
                "{}: a ZIP archive (PyTorch's .pt/.pth or TorchScript), not a safetensors file: convert the state "
                "dict to safetensors (docs/models.md, \"Converting a PyTorch .pth to safetensors\"), or give a "
                "TorchScript image encoder as encoder.path",
                path);
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
    SHIFTAD_THROW("{}: header is not valid JSON ({})", path, clip(e.what(), 200, /*ascii_only=*/true));
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
uint64_t byteSize(const TensorEntry& e, const std::string& path) {
  if (std::count(e.shape.begin(), e.shape.end(), 0) > 0) return 0;
  uint64_t bytes = dtypeSize(e.dtype);
  for (int64_t d : e.shape)
    SHIFTAD_CHECK(!__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes),
                  "{}: tensor {}: shape {} of {} overflows 64 bits of bytes", path, inQuotes(e.name),
                  shapeString(e.shape), dtypeName(e.dtype));
  return bytes;
}

const json& field(const json& entry, const char* key, const std::string& path, const std::string& name) {
  const auto it = entry.find(key);
  SHIFTAD_CHECK(it != entry.end(), "{}: tensor {} has no \"{}\"", path, inQuotes(name), key);
  return *it;
}

Dtype parseDtype(const json& value, const std::string& path, const std::string& name) {
  const json& dtype = field(value, "dtype", path, name);
  SHIFTAD_CHECK(dtype.is_string(), "{}: tensor {}: dtype is not a string", path, inQuotes(name));
  const DtypeInfo* known = dtypeByName(dtype.get<std::string>());
  SHIFTAD_CHECK(known, "{}: tensor {}: unknown dtype {} (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", path,
                inQuotes(name), inQuotes(dtype.get<std::string>()));
  return known->dtype;
}

TensorEntry parseEntry(const std::string& name, const json& value, uint64_t bufferSize, const std::string& path) {
  SHIFTAD_CHECK(value.is_object(), "{}: tensor {} is not a JSON object but {}", path, inQuotes(name),
                value.type_name());
  TensorEntry e{name, parseDtype(value, path, name), {}, 0, 0};

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
                inQuotes(name), shapeString(e.shape), dtypeName(e.dtype), bytes, e.begin, e.end, e.end - e.begin);
  return e;
}

/// JSON holds text only: a metadata value that is not valid UTF-8 (a config naming a
/// Latin-1 folder) is stored in hex under its key + this suffix, and read back as its bytes.
constexpr const char* kHexSuffix = ".hex";

bool isUtf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

std::string hexOf(const std::string& bytes) {
  std::string out;
  for (const unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

/// The bytes of `hex`, or nullopt when it is not an even run of hex digits.
std::optional<std::string> bytesOfHex(const std::string& hex) {
  if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::map<std::string, std::string> parseMetadata(const json& value, const std::string& path) {
  SHIFTAD_CHECK(value.is_object(), "{}: __metadata__ is not a JSON object", path);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    SHIFTAD_CHECK(v.is_string(), "{}: __metadata__ value of {} is not a string", path, inQuotes(key));
    const auto text = v.get<std::string>();
    const auto suffix = key.size() > std::strlen(kHexSuffix) ? key.size() - std::strlen(kHexSuffix) : 0;
    const auto bytes =
        suffix > 0 && key.compare(suffix, std::string::npos, kHexSuffix) == 0 ? bytesOfHex(text) : std::nullopt;
    if (bytes)
      metadata[key.substr(0, suffix)] = *bytes;
    else
      metadata[key] = text;
  }
  return metadata;
}

/// Sorts `entries` by offset and rejects byte ranges shared by two tensors.
void checkNoOverlap(std::vector<TensorEntry>& entries, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& e : entries) {
    if (e.begin == e.end) continue;  // an empty range holds no bytes to share
    SHIFTAD_CHECK(!previous || previous->end <= e.begin, "{}: tensors {} [{}, {}] and {} [{}, {}] overlap", path,
                  inQuotes(previous->name), previous->begin, previous->end, inQuotes(e.name), e.begin, e.end);
    previous = &e;
  }
}

// ---------------------------------------------------------------- writing

std::string encodeLe64(uint64_t v) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return bytes;
}

}  // namespace

const std::vector<Dtype>& allDtypes() {
  static const std::vector<Dtype> all = [] {
    std::vector<Dtype> v;
    for (const DtypeInfo& d : kDtypes) v.push_back(d.dtype);
    return v;
  }();
  return all;
}

const char* dtypeName(Dtype dtype) { return infoOf(dtype).name; }

uint64_t dtypeSize(Dtype dtype) { return infoOf(dtype).size; }

std::string clip(const std::string& s, size_t max, bool ascii_only) {
  size_t n = std::min(s.size(), max);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;  // whole characters
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool escape = c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80);
    out += escape ? fmt::format("\\x{:02x}", c) : std::string(1, s[i]);
  }
  return n == s.size() ? out : out + "...";
}

std::string inQuotes(const std::string& name) { return "\"" + clip(name, 100) + "\""; }

SafeTensorsReader::SafeTensorsReader(const std::string& path) : path_(path) {
  const uint64_t fileSize = fileSizeOf(path);
  file_.open(path, std::ios::binary);
  SHIFTAD_CHECK(file_, "{}: cannot open for reading (permissions?)", path);
  const uint64_t headerSize = readHeaderLength(file_, path, fileSize);
  std::string text(headerSize, '\0');
  readExactly(file_, path, 8, text.data(), headerSize, "the JSON header");
  const json header = parseHeader(text, path);

  header_.data_start = 8 + headerSize;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey)
      header_.metadata = parseMetadata(value, path);
    else
      header_.tensors.push_back(parseEntry(name, value, fileSize - header_.data_start, path));
  }
  checkNoOverlap(header_.tensors, path);
}

void SafeTensorsReader::read(const TensorEntry& e, void* dst) {
  const uint64_t n = e.end - e.begin;
  if (n > 0) readExactly(file_, path_, header_.data_start + e.begin, dst, n, "tensor " + inQuotes(e.name));
  if (e.dtype == Dtype::kBool) {
    // Any other byte in a torch bool is undefined behaviour downstream.
    const auto* p = static_cast<const unsigned char*>(dst);
    SHIFTAD_CHECK(std::all_of(p, p + n, [](unsigned char b) { return b <= 1; }),
                  "{}: BOOL tensor {} holds bytes other than 0 and 1", path_, inQuotes(e.name));
  }
}

std::string encodeHeader(std::vector<TensorEntry>& tensors, const std::map<std::string, std::string>& metadata,
                         const std::string& path) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header[kMetadataKey] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata)
      if (isUtf8(value))
        m[key] = value;
      else
        m[key + kHexSuffix] = hexOf(value);
  }
  uint64_t offset = 0;
  for (TensorEntry& t : tensors) {
    t.begin = offset;
    t.end = offset + byteSize(t, path);
    header[t.name] = {{"dtype", dtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
    offset = t.end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    SHIFTAD_THROW("{}: a tensor name or metadata string is not valid UTF-8 ({})", path, clip(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return encodeLe64(text.size()) + text;
}

}  // namespace shiftad::io
