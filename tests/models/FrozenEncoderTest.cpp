// The frozen encoder Φ (TorchScript) against its Python reference.
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "io/SafeTensors.h"
#include "models/FrozenEncoder.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using namespace shiftad;

TEST(FrozenEncoder, TorchScriptMatchesPythonOnUint8Images) {
  test::TempDir tmp;
  test::runPython("models_torchscript.py", tmp.path());
  EncoderConfig cfg;
  cfg.type = shiftad::EncoderType::kTorchScript;
  cfg.path = tmp / "encoder.pt";
  cfg.image_size = 32;
  auto enc = models::makeFrozenEncoder(cfg);
  ASSERT_TRUE(enc);
  const auto io = io::readSafeTensors(tmp / "io.safetensors");
  const auto images = io.tensors.at("input").to(torch::kByte);  // integer pixel values
  const auto y = enc->encode(images);
  EXPECT_TRUE(torch::allclose(y, io.tensors.at("output"), 1e-5, 1e-6));
  // input_range 1 scales pixels to [0,1] before the module: a different result.
  cfg.input_range = 1.0;
  EXPECT_FALSE(torch::allclose(models::makeFrozenEncoder(cfg)->encode(images), y, 1e-3, 1e-4));
}

TEST(FrozenEncoder, MissingOrBrokenFileIsAClearError) {
  test::TempDir tmp;
  EncoderConfig cfg;
  cfg.type = shiftad::EncoderType::kTorchScript;
  cfg.path = tmp / "nope.pt";
  try {
    models::makeFrozenEncoder(cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.pt"), std::string::npos);
  }
  test::writeFile(tmp / "bad.pt", "garbage");
  cfg.path = tmp / "bad.pt";
  EXPECT_THROW(models::makeFrozenEncoder(cfg), Error);
  // Weights in safetensors given as encoder.path: the error says what the file is.
  io::writeSafeTensors(tmp / "w.safetensors", {{"conv1.weight", torch::zeros({2, 3})}});
  cfg.path = tmp / "w.safetensors";
  const auto msg = test::errorOf([&] { models::makeFrozenEncoder(cfg); });
  EXPECT_NE(msg.find("it is a safetensors file: for F's own architecture as Φ, set encoder.type: backbone"),
            std::string::npos)
      << msg;
  cfg.type = shiftad::EncoderType::kNone;
  EXPECT_EQ(models::makeFrozenEncoder(cfg), nullptr);
}

TEST(FrozenEncoder, ModulesThatDoNotFitSayWhatTheyReturnedOrWhyTheyFailed) {
  test::TempDir tmp;
  test::runPython("errors_tuple_encoder.py", tmp.path());
  EncoderConfig cfg;
  cfg.type = shiftad::EncoderType::kTorchScript;
  cfg.image_size = 32;
  const auto images = torch::zeros({2, 3, 32, 32}, torch::kByte);
  const auto errorOf = [&](const std::string& file) {
    cfg.path = tmp / file;
    try {
      models::makeFrozenEncoder(cfg)->encode(images);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // (N x 8, N x 8 x 16 x 16) from the Python module: its shapes, computed by hand.
  const auto tuple = errorOf("tuple_encoder.pt");
  EXPECT_NE(tuple.find("encoder.path '" + (tmp / "tuple_encoder.pt") +
                       "' returned a tuple of 2 ([2 x 8], [2 x 8 x 16 x "
                       "16]); expected one N x D tensor"),
            std::string::npos)
      << tuple;
  // A 1-channel convolution given RGB: LibTorch's own reason, on one line, no backtrace.
  const auto gray = errorOf("gray_encoder.pt");
  EXPECT_NE(gray.find("encoder.path '" + (tmp / "gray_encoder.pt") + "' failed on images of shape [2 x 3 x 32 x 32]: "),
            std::string::npos)
      << gray;
  EXPECT_NE(gray.find("channels"), std::string::npos) << gray;
  EXPECT_EQ(gray.find('\n'), std::string::npos) << gray;
  EXPECT_EQ(gray.find("Exception raised from"), std::string::npos) << gray;
}
