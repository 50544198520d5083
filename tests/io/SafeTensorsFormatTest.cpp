// The torch-free safetensors format (io/SafeTensorsFormat): the header bytes against the
// format's definition written out by hand, and the reader on files built byte by byte.
// Torch-free, so it runs under the sanitizer build; the conversion to tensors and the
// full list of hostile files are in SafeTensorsTest.cpp.
#include "io/SafeTensorsFormat.h"

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/AtomicFile.h"
#include "common/Error.h"
#include "support/TestSupport.h"

using shiftad::io::Dtype;
using shiftad::io::TensorEntry;
using shiftad::test::errorOf;
using shiftad::test::TempDir;

namespace {

std::string le64(uint64_t v) {
  std::string b;
  for (int i = 0; i < 8; ++i) b += static_cast<char>((v >> (8 * i)) & 0xff);
  return b;
}

/// A file of `json` (padded as given) followed by `data`.
std::string fileOf(const std::string& json, const std::string& data) { return le64(json.size()) + json + data; }

}  // namespace

TEST(SafeTensorsFormat, TheHeaderIsTheSpecsJsonPaddedToEightBytes) {
  std::vector<TensorEntry> tensors = {{"b", Dtype::kI64, {3}}, {"a", Dtype::kF32, {2, 2}}};
  const auto bytes = shiftad::io::encodeHeader(tensors, {{"format", "pt"}}, "mem");
  // Metadata first, then the tensors in the order given, laid out one after the other.
  std::string json =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]}}";
  json.append((8 - json.size() % 8) % 8, ' ');
  EXPECT_EQ(bytes, le64(json.size()) + json);
  EXPECT_EQ(bytes.size() % 8, 0u);
  EXPECT_EQ(tensors[0].begin, 0u);
  EXPECT_EQ(tensors[0].end, 24u);
  EXPECT_EQ(tensors[1].begin, 24u);
  EXPECT_EQ(tensors[1].end, 40u);
}

TEST(SafeTensorsFormat, TheReaderReturnsEntriesByOffsetAndTheirBytes) {
  TempDir t;
  const std::string path = t / "x.safetensors";
  // Listed out of offset order in the JSON: the reader orders them by byte range.
  shiftad::writeFileAtomic(path, fileOf("{\"late\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
                                        "\"early\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                                        "\"__metadata__\":{\"k\":\"v\"}}",
                                        std::string("\x01\x00\xff\x7f\x07\x08", 6)));
  shiftad::io::SafeTensorsReader reader(path);
  const auto& h = reader.header();
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "early");
  EXPECT_EQ(h.tensors[0].dtype, Dtype::kI16);
  EXPECT_EQ(h.tensors[1].name, "late");
  EXPECT_EQ(h.tensors[1].shape, std::vector<int64_t>{2});
  EXPECT_EQ(h.metadata.at("k"), "v");
  int16_t early[2];
  reader.read(h.tensors[0], early);
  EXPECT_EQ(early[0], 1);
  EXPECT_EQ(early[1], 0x7fff);
  unsigned char late[2];
  reader.read(h.tensors[1], late);
  EXPECT_EQ(late[0], 7);
  EXPECT_EQ(late[1], 8);
}

TEST(SafeTensorsFormat, HostileFilesAreErrorsNamingThePathAndTheProblem) {
  TempDir t;
  const std::string path = t / "bad.safetensors";
  const auto reason = [&](const std::string& bytes) {
    shiftad::writeFileAtomic(path, bytes);
    return errorOf([&] {
      shiftad::io::SafeTensorsReader reader(path);
      std::vector<unsigned char> buffer;
      for (const auto& e : reader.header().tensors) {
        buffer.resize(e.end - e.begin);
        reader.read(e, buffer.data());
      }
    });
  };
  auto msg = reason(le64(1'000'000) + "{}");
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("exceeds the file size"), std::string::npos) << msg;
  // torch.save's .pt/.pth and TorchScript are ZIP archives ("PK\3\4", the ZIP local
  // file header's signature): said as such, not as a truncated file.
  msg = reason(std::string("PK\x03\x04", 4) + std::string(60, 'x'));
  EXPECT_NE(msg.find(path + ": a ZIP archive (PyTorch's .pt/.pth or TorchScript), not a safetensors file"),
            std::string::npos)
      << msg;
  msg =
      reason(fileOf("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}",
                    "abc"));
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
  msg = reason(fileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "abcd"));
  EXPECT_NE(msg.find("needs 8 bytes"), std::string::npos) << msg;
  msg = reason(
      fileOf("{\"flag\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}", std::string("\x01\x02", 2)));
  EXPECT_NE(msg.find("BOOL tensor \"flag\" holds bytes other than 0 and 1"), std::string::npos) << msg;
}
