// Tests of src/io/SafeTensors: round trips, the Python reference in both directions,
// hostile files, and loading into modules.
#include "io/SafeTensors.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/nn.h>
#include <torch/utils.h>

#include "common/Error.h"
#include "support/TestSupport.h"

namespace shiftad::io {
namespace {

namespace fs = std::filesystem;
using shiftad::test::errorOf;
using json = nlohmann::json;
using test::TempDir;
using TensorMap = std::map<std::string, torch::Tensor>;
using StringMap = std::map<std::string, std::string>;

std::string readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string le64(uint64_t v) {
  std::string b(8, '\0');
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  return b;
}

/// A safetensors file from a raw header and data buffer.
std::string craft(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

bool bitwiseEqual(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  return a.nbytes() == 0 || std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

/// The error message of `fn`, or a test failure if it does not throw shiftad::Error.
/// One tensor of every supported dtype, with special values, plus 0-d and zero-size shapes.
TensorMap everyDtype() {
  torch::manual_seed(7);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const auto specials = torch::tensor({0.0f, -0.0f, inf, -inf, nan, 1e-40f /* denormal */});
  return {
      {"f64", torch::randn({3, 4}, torch::kFloat64)},
      {"f32", torch::cat({torch::randn({10}), specials})},
      {"f16", torch::cat({torch::randn({7}), specials}).to(torch::kFloat16)},
      {"bf16", torch::cat({torch::randn({2, 3}).flatten(), specials}).to(torch::kBFloat16)},
      {"i64", torch::tensor({std::numeric_limits<int64_t>::min(), int64_t{0}, std::numeric_limits<int64_t>::max()})},
      {"i32", torch::randint(-100000, 100000, {5}, torch::kInt32)},
      {"i16", torch::randint(-30000, 30000, {2, 2}, torch::kInt16)},
      {"i8", torch::randint(-128, 128, {9}, torch::kInt8)},
      {"u8", torch::randint(0, 256, {3, 1, 2}, torch::kUInt8)},
      {"bool", torch::rand({6}) > 0.5},
      {"scalar", torch::tensor(3.5)},
      {"zero_size", torch::empty({0, 5})},
  };
}

// ---------------------------------------------------------------- round trips

TEST(SafeTensorsRoundTrip, EveryDtypeIsBitwiseEqual) {
  TempDir dir;
  const std::string path = dir / "all.safetensors";
  const TensorMap tensors = everyDtype();
  const StringMap metadata{{"format", "pt"}, {"épochs", "12"}, {"empty", ""}};
  writeSafeTensors(path, tensors, metadata);

  const SafeTensorsFile read = readSafeTensors(path);
  EXPECT_EQ(read.metadata, metadata);
  ASSERT_EQ(read.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(read.tensors.count(name)) << name;
    EXPECT_TRUE(bitwiseEqual(read.tensors.at(name), t)) << name;
    EXPECT_TRUE(read.tensors.at(name).is_contiguous()) << name;
  }
  EXPECT_EQ(read.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(read.path, path);
  EXPECT_FALSE(fs::exists(temporaryPathFor(path)));
}

TEST(SafeTensorsRoundTrip, HeaderIsPaddedAndOmitsEmptyMetadata) {
  TempDir dir;
  const std::string path = dir / "x.safetensors";
  writeSafeTensors(path, {{"b", torch::ones({3})}, {"a", torch::zeros({1}, torch::kInt8)}});
  const std::string bytes = readBytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);
  EXPECT_LT(header.find("\"a\""), header.find("\"b\"")) << "names are written sorted";
  EXPECT_EQ(bytes.size(), 8 + n + 1 + 12) << "the buffer is contiguous, without gaps";
  EXPECT_TRUE(readSafeTensors(path).metadata.empty());
}

TEST(SafeTensorsRoundTrip, NonContiguousAndGradInputsAreWrittenByValue) {
  TempDir dir;
  const std::string path = dir / "v.safetensors";
  const auto base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const auto param = torch::randn({2, 2}).requires_grad_();
  writeSafeTensors(path, {{"t", base.t()}, {"p", param}, {"strided", base.index({torch::indexing::Slice(), 1})}});
  const SafeTensorsFile read = readSafeTensors(path);
  EXPECT_TRUE(torch::equal(read.tensors.at("t"), base.t()));
  EXPECT_TRUE(torch::equal(read.tensors.at("p"), param.detach()));
  EXPECT_TRUE(torch::equal(read.tensors.at("strided"), torch::tensor({1.f, 5.f, 9.f})));
}

TEST(SafeTensorsRoundTrip, OverwritesAnExistingFile) {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  writeSafeTensors(path, {{"old", torch::ones({100})}});
  writeSafeTensors(path, {{"new", torch::zeros({2})}});
  const SafeTensorsFile read = readSafeTensors(path);
  ASSERT_EQ(read.tensors.size(), 1u);
  EXPECT_TRUE(read.tensors.count("new"));
  EXPECT_FALSE(fs::exists(temporaryPathFor(path)));
}

TEST(SafeTensorsRoundTrip, MetadataThatIsNotUtf8IsStoredAsHexAndReadBackAsItsBytes) {
  // A run's config names its data folder, which may be Latin-1 ("caf\xe9"): JSON holds
  // only UTF-8 text, so such a value goes in hex under KEY.hex.
  TempDir dir;
  const std::string path = dir / "m.safetensors";
  const std::map<std::string, std::string> metadata = {{"config", "root: /data/caf\xe9\n"}, {"plain", "caf\xc3\xa9"}};
  writeSafeTensors(path, {{"a", torch::ones({2})}}, metadata);
  EXPECT_EQ(readSafeTensors(path).metadata, metadata);
  // In the file: the bytes as hex under "config.hex" (JSON text stays valid UTF-8).
  const auto bytes = readBytes(path);
  EXPECT_NE(bytes.find("\"config.hex\":\"726f6f743a202f646174612f636166e90a\""), std::string::npos) << bytes;
  // A key that merely ends in ".hex" with a value that is not hex stays as it is.
  writeSafeTensors(path, {{"a", torch::ones({2})}}, {{"colour.hex", "#ff00zz"}});
  EXPECT_EQ(readSafeTensors(path).metadata.at("colour.hex"), "#ff00zz");
}

TEST(SafeTensorsWrite, RejectsWhatItCannotWriteAndKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir / "keep.safetensors";
  writeSafeTensors(path, {{"a", torch::ones({2})}});
  const std::string before = readBytes(path);

  std::string msg = errorOf([&] { writeSafeTensors(path, {{"z", torch::zeros({2}, torch::kComplexFloat)}}); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"z\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not support"), std::string::npos) << msg;
  msg = errorOf([&] { writeSafeTensors(path, {{"__metadata__", torch::ones({1})}}); });
  EXPECT_NE(msg.find("reserved"), std::string::npos) << msg;
  msg = errorOf([&] { writeSafeTensors(path, {{"u", torch::Tensor()}}); });
  EXPECT_NE(msg.find("undefined"), std::string::npos) << msg;
  msg = errorOf([&] { writeSafeTensors(path, {{"\xff", torch::ones({1})}}); });
  EXPECT_NE(msg.find("UTF-8"), std::string::npos) << msg;

  EXPECT_EQ(readBytes(path), before);
  EXPECT_FALSE(fs::exists(temporaryPathFor(path)));

  const std::string nowhere = dir / "no/such/folder/x.safetensors";
  msg = errorOf([&] { writeSafeTensors(nowhere, {{"a", torch::ones({1})}}); });
  // The file the user named, as named; the temporary only after it.
  EXPECT_EQ(msg.find("cannot write '" + nowhere + "': its temporary"), 0u) << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- Python reference

/// Expect `t` to hold the flat `values` printed by the oracle, exactly.
void expectValues(const std::string& name, const torch::Tensor& t, const json& expected) {
  ASSERT_EQ(t.sizes().vec(), expected.at("shape").get<std::vector<int64_t>>()) << name;
  const json& values = expected.at("values");
  ASSERT_EQ(static_cast<size_t>(t.numel()), values.size()) << name;
  const auto flat = t.reshape({-1});
  for (size_t i = 0; i < values.size(); ++i) {
    if (t.is_floating_point())
      EXPECT_EQ(flat[i].item<double>(), values[i].get<double>()) << name << "[" << i << "]";
    else
      EXPECT_EQ(flat[i].item<int64_t>(), values[i].get<int64_t>()) << name << "[" << i << "]";
  }
}

const std::map<std::string, torch::ScalarType> kDtypeNames{
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};

TEST(SafeTensorsOracle, ReadsAFileWrittenByThePythonReference) {
  TempDir dir;
  const std::string path = dir / "py.safetensors";
  const json expected = json::parse(test::runPython("io_safetensors.py", "write " + path));

  const SafeTensorsFile read = readSafeTensors(path);
  EXPECT_EQ(read.metadata, expected.at("metadata").get<StringMap>());
  ASSERT_EQ(read.tensors.size(), expected.at("tensors").size());
  for (const auto& [name, want] : expected.at("tensors").items()) {
    ASSERT_TRUE(read.tensors.count(name)) << name;
    const torch::Tensor& t = read.tensors.at(name);
    EXPECT_EQ(t.scalar_type(), kDtypeNames.at(want.at("dtype").get<std::string>())) << name;
    expectValues(name, t, want);
  }
}

TEST(SafeTensorsOracle, WritesAFileThePythonReferenceReads) {
  TempDir dir;
  const std::string path = dir / "cpp.safetensors";
  TensorMap tensors = everyDtype();
  // JSON has no NaN/Inf: give the oracle finite floats only.
  for (auto& [name, t] : tensors)
    if (t.is_floating_point()) t = torch::nan_to_num(t, 0.0, 1.0, -1.0);
  const StringMap metadata{{"format", "pt"}, {"note", "h\xc3\xa9llo"}};
  writeSafeTensors(path, tensors, metadata);

  const json got = json::parse(test::runPython("io_safetensors.py", "read " + path));
  for (const auto& [check, ok] : got.at("checks").items()) EXPECT_TRUE(ok.get<bool>()) << check;
  EXPECT_EQ(got.at("metadata").get<StringMap>(), metadata);
  ASSERT_EQ(got.at("tensors").size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const json& entry = got.at("tensors").at(name);
    EXPECT_EQ(kDtypeNames.at(entry.at("dtype").get<std::string>()), t.scalar_type()) << name;
    expectValues(name, t, entry);
  }
}

// ---------------------------------------------------------------- hostile files

struct Hostile {
  const char* name;
  std::string bytes;
  const char* phrase;  ///< what the message must say
};

const std::string kF32x2 = std::string(8, '\0');  // two F32 zeros

std::vector<Hostile> hostileFiles() {
  return {
      {"too_short", "\x01\x02\x03", "shorter than the 8-byte header length"},
      {"absurd_header_length", le64(9999999999ull) + "{}", "header length 9999999999 exceeds the file size 10"},
      {"empty_header", craft(""), "not valid JSON"},
      {"bad_json", craft(R"({"a": [1, 2)"), "not valid JSON"},
      {"invalid_utf8", craft("{\"\xff\": 1}"), "not valid JSON"},
      {"terminal_escape_in_name", craft(R"({"\u001b[2J": {"dtype": "X"}})"), "tensor \"\\x1b[2J\": unknown dtype"},
      {"nesting_bomb", craft(std::string(100000, '[')), "nests deeper than a safetensors header"},
      {"nested_shape", craft(R"({"a": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}})", kF32x2),
       "nests deeper"},
      {"not_an_object", craft("[1, 2, 3]"), "header is not a JSON object"},
      {"entry_not_an_object", craft(R"({"a": 3})"), "tensor \"a\" is not a JSON object"},
      {"missing_dtype", craft(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", kF32x2), "has no \"dtype\""},
      {"unknown_dtype", craft(R"({"a": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})", kF32x2),
       "unknown dtype \"F8_E4M3\""},
      {"negative_dim", craft(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", kF32x2),
       "shape dimension is negative"},
      {"fractional_dim", craft(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 8]}})", kF32x2),
       "must be an integer"},
      {"huge_dim_times_zero",
       craft(R"({"a": {"dtype": "F32", "shape": [9223372036854775808, 0], "data_offsets": [0, 0]}})"),
       "shape dimension is too large"},
      {"size_overflow",
       craft(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", kF32x2),
       "overflows 64 bits"},
      {"shape_size_mismatch", craft(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", kF32x2),
       "needs 12 bytes but data_offsets [0, 8] span 8"},
      {"offsets_beyond_buffer", craft(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", kF32x2),
       "lie beyond the 8-byte data buffer"},
      {"begin_after_end", craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", kF32x2),
       "begin after they end"},
      {"offsets_not_a_pair", craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", kF32x2),
       "data_offsets is not a [begin, end] pair"},
      {"overlapping",
       craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
             std::string(12, '\0')),
       "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap"},
      {"duplicate_name",
       craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
             kF32x2),
       "duplicate key \"a\""},
      {"duplicate_field",
       craft(R"({"a": {"dtype": "F32", "dtype": "I8", "shape": [2], "data_offsets": [0, 8]}})", kF32x2),
       "duplicate key \"dtype\""},
      {"metadata_not_strings", craft(R"({"__metadata__": {"epochs": 3}})"), "__metadata__ value of \"epochs\""},
      {"bool_not_0_or_1", craft(R"({"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})", "\x01\x02"),
       "BOOL tensor \"m\" holds bytes other than 0 and 1"},
  };
}

// One test for all cases: each ctest entry is a process paying libtorch's ~1 s start-up.
TEST(SafeTensorsHostile, EveryMalformedFileIsRejectedWithPathAndReason) {
  TempDir dir;
  for (const Hostile& c : hostileFiles()) {
    SCOPED_TRACE(c.name);
    const std::string path = dir / (std::string(c.name) + ".safetensors");
    test::writeFile(path, c.bytes);
    const std::string msg = errorOf([&] { readSafeTensors(path); });
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.phrase), std::string::npos) << msg;
    EXPECT_EQ(msg.find_first_of("\x1b\xff"), std::string::npos) << "raw hostile bytes in: " << msg;
  }
}

TEST(SafeTensorsHostile, MissingFileAndDirectory) {
  TempDir dir;
  std::string msg = errorOf([&] { readSafeTensors(dir / "absent.safetensors"); });
  EXPECT_NE(msg.find(dir / "absent.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  msg = errorOf([&] { readSafeTensors(dir.path()); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
}

TEST(SafeTensorsHostile, HugeHeaderClaimFailsFastWithoutAllocating) {
  TempDir dir;
  const std::string path = dir / "claim.safetensors";
  test::writeFile(path, le64(uint64_t{1} << 60) + "{}      ");
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = errorOf([&] { readSafeTensors(path); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_NE(msg.find("exceeds the file size 16"), std::string::npos) << msg;
}

TEST(SafeTensorsHostile, HeaderOverTheLimitIsRejectedEvenInABigFile) {
  TempDir dir;
  const std::string path = dir / "big.safetensors";
  test::writeFile(path, le64(150'000'000));
  fs::resize_file(path, 200'000'000);  // sparse: costs no disk nor time
  const std::string msg = errorOf([&] { readSafeTensors(path); });
  EXPECT_NE(msg.find("exceeds the 100000000-byte limit"), std::string::npos) << msg;
}

TEST(SafeTensorsHostile, GapsBetweenTensorsAreAccepted) {
  // Not overlapping, so harmless; some writers align tensors this way.
  TempDir dir;
  const std::string path = dir / "gap.safetensors";
  test::writeFile(
      path, craft(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [3, 4]}})", std::string(3, '\0') + "\x2a"));
  EXPECT_EQ(readSafeTensors(path).tensors.at("a").item<int>(), 42);
}

// ---------------------------------------------------------------- modules

struct Net : torch::nn::Module {
  Net() {
    fc = register_module("fc", torch::nn::Linear(3, 4));
    bn = register_module("bn", torch::nn::BatchNorm1d(4));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

/// A file holding `state` as read back from disk.
SafeTensorsFile throughFile(const TensorMap& state) {
  TempDir dir;
  writeSafeTensors(dir / "m.safetensors", state);
  return readSafeTensors(dir / "m.safetensors");
}

void expectSameState(const torch::nn::Module& a, const torch::nn::Module& b) {
  const TensorMap sa = moduleStateDict(a), sb = moduleStateDict(b);
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
}

TEST(LoadIntoModule, StateDictHasParametersAndBuffers) {
  Net net;
  const TensorMap state = moduleStateDict(net);
  for (const char* name :
       {"fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"})
    EXPECT_TRUE(state.count(name)) << name;
  EXPECT_EQ(state.size(), 7u);
  EXPECT_FALSE(state.at("fc.weight").requires_grad());
}

TEST(LoadIntoModule, RoundTripsParametersAndBuffers) {
  Net source, target;
  source.bn->running_mean.uniform_();
  source.bn->num_batches_tracked.fill_(17);
  const LoadReport report = loadIntoModule(target, throughFile(moduleStateDict(source)));
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty() && report.mismatched.empty());
  expectSameState(source, target);
  EXPECT_TRUE(target.fc->weight.requires_grad()) << "loading must not change requires_grad";
}

TEST(LoadIntoModule, WidensHalfPrecisionExactly) {
  for (const auto half : {torch::kFloat16, torch::kBFloat16}) {
    Net source, target;
    TensorMap state = moduleStateDict(source);
    for (auto& [name, t] : state)
      if (t.is_floating_point()) t = t.to(half);
    loadIntoModule(target, throughFile(state));
    // Every F16/BF16 value is an F32 value: the load is the exact widening.
    EXPECT_TRUE(torch::equal(target.fc->weight, state.at("fc.weight").to(torch::kFloat32))) << half;
    EXPECT_EQ(target.fc->weight.scalar_type(), torch::kFloat32);
  }
}

/// The message of loading `state` into a fresh Net, whose fc.weight must stay unchanged.
std::string refusedLoad(const SafeTensorsFile& file) {
  Net net;
  const auto before = net.fc->weight.clone();
  const std::string msg = errorOf([&] { loadIntoModule(net, file, "", /*strict=*/false); });
  EXPECT_TRUE(torch::equal(net.fc->weight, before)) << "a refused load copies nothing";
  return msg;
}

TEST(LoadIntoModule, RefusesFloatBytesTaggedAsIntegers) {
  // A hand-made file: fc.weight's 12 float32 values under an I32 header. Cast, they
  // would load as integers of about 1e9 (0.5f is the integer 1056964608).
  TempDir dir;
  const torch::Tensor w = torch::full({4, 3}, 0.5f);
  const std::string bytes(static_cast<const char*>(w.data_ptr()), w.nbytes());
  const std::string path = dir / "i32.safetensors";
  test::writeFile(path, craft(R"({"fc.weight":{"dtype":"I32","shape":[4,3],"data_offsets":[0,48]}})", bytes));
  const std::string msg = refusedLoad(readSafeTensors(path));
  EXPECT_EQ(msg.rfind(path + ": tensor \"fc.weight\" is I32 but the module's fc.weight is F32", 0), 0u) << msg;
  EXPECT_NE(msg.find("only F32, F16 or BF16 loads into it"), std::string::npos) << msg;
}

TEST(LoadIntoModule, RefusesNarrowingAndFloatIntoIntegerBuffers) {
  Net net;
  TensorMap state = moduleStateDict(net);
  state["fc.weight"] = state["fc.weight"].to(torch::kFloat64);  // F64 rounds into F32
  std::string msg = refusedLoad(throughFile(state));
  EXPECT_NE(msg.find("\"fc.weight\" is F64 but the module's fc.weight is F32"), std::string::npos) << msg;

  state = moduleStateDict(net);
  state["bn.num_batches_tracked"] = torch::full({}, 3.5f);
  msg = refusedLoad(throughFile(state));
  EXPECT_NE(msg.find("\"bn.num_batches_tracked\" is F32 with non-integer values but the module's "
                     "bn.num_batches_tracked is I64: only I64, I32, I16, I8, U8 or BOOL loads"),
            std::string::npos)
      << msg;

  // Exact: integer widening, and integer values written as F32 (a converter's v.float()).
  for (const auto& count : {torch::full({}, 3, torch::kInt32), torch::full({}, 3.0f)}) {
    state["bn.num_batches_tracked"] = count;
    loadIntoModule(net, throughFile(state));
    EXPECT_EQ(net.bn->num_batches_tracked.item<int64_t>(), 3);
    net.bn->num_batches_tracked.zero_();
  }
}

TEST(Exactly, ConvertsOnlyWhatIsExact) {
  const torch::Tensor c = torch::tensor({0.5f, -2.0f});
  const SafeTensorsFile file = throughFile(
      {{"f16", c.to(torch::kFloat16)}, {"f64", c.to(torch::kFloat64)}, {"i32", torch::tensor({1, 2}, torch::kInt32)}});
  EXPECT_TRUE(torch::equal(exactly(file, "f16", torch::kFloat32), c));
  std::string msg = errorOf([&] { exactly(file, "f64", torch::kFloat32); });
  EXPECT_NE(msg.find(file.path + ": tensor \"f64\" is F64 but shiftad reads it as F32: only F32, F16 or BF16 loads"),
            std::string::npos)
      << msg;
  msg = errorOf([&] { exactly(file, "i32", torch::kFloat32); });
  EXPECT_NE(msg.find("tensor \"i32\" is I32"), std::string::npos) << msg;
  msg = errorOf([&] { exactly(file, "absent", torch::kFloat32); });
  EXPECT_NE(msg.find("has no tensor \"absent\""), std::string::npos) << msg;
}

TEST(LoadIntoModule, PrefixSelectsASubmodule) {
  torch::nn::Sequential encoder(torch::nn::Linear(2, 3), torch::nn::ReLU(), torch::nn::Linear(3, 1));
  torch::nn::Sequential target(torch::nn::Linear(2, 3), torch::nn::ReLU(), torch::nn::Linear(3, 1));
  TensorMap state;
  for (const auto& [name, t] : moduleStateDict(*encoder)) state["encoder." + name] = t;
  state["decoder.weight"] = torch::ones({5});
  loadIntoModule(*target, throughFile(state), "encoder.");
  expectSameState(*encoder, *target);
}

/// fc.bias missing, "extra" unexpected, fc.weight transposed.
TensorMap brokenState(const Net& net) {
  TensorMap state = moduleStateDict(net);
  state.erase("fc.bias");
  state["extra"] = torch::ones({2});
  state["fc.weight"] = torch::ones({3, 4});
  state["bn.weight"] = torch::full({4}, 5.0);
  return state;
}

TEST(LoadIntoModule, StrictListsEveryProblemInOneErrorAndCopiesNothing) {
  Net net;
  const auto before = net.bn->weight.clone();
  const SafeTensorsFile file = throughFile(brokenState(net));
  const std::string msg = errorOf([&] { loadIntoModule(net, file); });
  EXPECT_EQ(msg.rfind(file.path + ": cannot load the tensors into the module (strict): ", 0), 0u) << msg;
  EXPECT_NE(msg.find("1 missing: [fc.bias]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1 unexpected: [extra]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fc.weight (expected [4, 3], got [3, 4])"), std::string::npos) << msg;
  EXPECT_TRUE(torch::equal(net.bn->weight, before));
}

TEST(LoadIntoModule, NonStrictReportsAndLoadsTheRest) {
  Net net;
  const auto weightBefore = net.fc->weight.clone();
  const LoadReport report = loadIntoModule(net, throughFile(brokenState(net)), "", /*strict=*/false);
  EXPECT_EQ(report.missing, std::vector<std::string>{"fc.bias"});
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"extra"});
  EXPECT_EQ(report.mismatched, std::vector<std::string>{"fc.weight"});
  EXPECT_TRUE(torch::equal(net.bn->weight, torch::full({4}, 5.0)));
  EXPECT_TRUE(torch::equal(net.fc->weight, weightBefore));
}

TEST(LoadIntoModule, RejectsNaNAndInfNamingTheTensor) {
  Net net;
  const auto before = moduleStateDict(net)["fc.weight"].clone();
  TensorMap state = moduleStateDict(net);
  state["fc.weight"] = torch::full({4, 3}, 2.0);
  state["bn.bias"] = torch::tensor({0.f, NAN, 0.f, 0.f}).to(torch::kBFloat16);
  std::string msg = errorOf([&] { loadIntoModule(net, throughFile(state), "", /*strict=*/false); });
  EXPECT_NE(msg.find("\"bn.bias\" holds NaN or Inf"), std::string::npos) << msg;
  EXPECT_TRUE(torch::equal(net.fc->weight, before)) << "a rejected load copies nothing";
}

TEST(LoadIntoModule, LongListingsAreCapped) {
  struct Wide : torch::nn::Module {
    Wide() {
      for (int i = 0; i < 500; ++i) register_parameter("p" + std::to_string(i), torch::zeros({1}));
    }
  } wide;
  const std::string msg = errorOf([&] { loadIntoModule(wide, SafeTensorsFile{}); });
  EXPECT_NE(msg.find("500 missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(490 more)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("unexpected"), std::string::npos) << "only the categories with problems: " << msg;
  EXPECT_LT(msg.size(), 600u) << msg;
}

}  // namespace
}  // namespace shiftad::io
