// The safetensors format (https://huggingface.co/docs/safetensors), torch-free: an 8-byte
// little-endian header length N, N bytes of JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw data. The
// parsing and validation of untrusted files is here (and is what fuzz_safetensors
// exercises); io/SafeTensors.h converts to and from torch tensors.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace shiftad::io {

/// The reserved header key of the string-to-string metadata.
constexpr const char* kMetadataKey = "__metadata__";

/// The element types shiftad reads and writes.
enum class Dtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

/// Every Dtype in the order messages list them: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
const std::vector<Dtype>& allDtypes();
/// The format's name of `dtype` ("F32", "BOOL").
const char* dtypeName(Dtype dtype);
/// Bytes per element.
uint64_t dtypeSize(Dtype dtype);

/// One tensor of a header: shape x dtype, stored in bytes [begin, end) of the data buffer.
struct TensorEntry {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

/// A header checked against its file: every dtype known, every shape x dtype size equal to
/// its byte range, every range inside the data buffer and none overlapping another.
struct SafeTensorsHeader {
  std::vector<TensorEntry> tensors;             ///< ordered by byte range
  std::map<std::string, std::string> metadata;  ///< "__metadata__"
  uint64_t data_start = 0;                      ///< file offset of the data buffer: 8 + N
};

/// A safetensors file opened for reading. The constructor reads and validates the header
/// treating the file as hostile: every field is checked against the file size before
/// anything is allocated, so a crafted header can neither make a reader allocate more
/// than the file holds nor read outside it. Every malformed file is a shiftad::Error
/// naming the path and the problem (truncated, header length beyond the file, bad JSON,
/// unknown dtype, offsets out of range, overlapping or not matching shape x dtype size).
class SafeTensorsReader {
 public:
  explicit SafeTensorsReader(const std::string& path);

  const SafeTensorsHeader& header() const { return header_; }

  /// The `entry.end - entry.begin` bytes of `entry` (one of header().tensors) into `dst`;
  /// an Error if the file is shorter than it was, or if a BOOL tensor holds a byte other
  /// than 0 and 1.
  void read(const TensorEntry& entry, void* dst);

 private:
  std::string path_;
  std::ifstream file_;
  SafeTensorsHeader header_;
};

/// The bytes before the data of a file holding `tensors` one after the other in the order
/// given (their begin and end are set here, from shape x dtype): the 8-byte length and the
/// JSON header, metadata first, space-padded to a multiple of 8 bytes like the reference
/// writer. An Error naming `path` if a name or metadata string is not valid UTF-8.
std::string encodeHeader(std::vector<TensorEntry>& tensors, const std::map<std::string, std::string>& metadata,
                         const std::string& path);

/// Hostile text in a message: clipped to `max` bytes (a key may be 100 MB long) and with
/// control bytes, e.g. terminal escapes, shown as \xNN; so are bytes >= 0x80 with
/// `ascii_only` (text that may not be UTF-8).
std::string clip(const std::string& s, size_t max = 200, bool ascii_only = false);

/// A tensor name for a message: clipped and in double quotes.
std::string inQuotes(const std::string& name);

/// "[2, 3]".
template <typename Ints>
std::string shapeString(const Ints& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace shiftad::io
