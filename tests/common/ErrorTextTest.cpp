// withoutBacktrace and errorLine: an error message as the CLI prints it and as a C
// caller's shiftad_last_error holds it: one line, without LibTorch's C++ backtrace.
#include <string>

#include <gtest/gtest.h>

#include "common/Error.h"
#include "common/ErrorLine.h"

TEST(ErrorText, LibTorchsBacktraceIsCutAndOtherMessagesKeptWhole) {
  // The form of c10::Error::what() (LibTorch 1.13), copied from a real one.
  const std::string torch_error =
      "Input type (CPUFloatType) and weight type (CPUDoubleType) should be the same\n"
      "Exception raised from check_input_same_type_as_parameters at ./aten/src/ATen/native/Convolution.cpp:665 "
      "(most recent call first):\n"
      "frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x9e (0x7fae in libc10.so.1.13)\n";
  EXPECT_EQ(shiftad::withoutBacktrace(torch_error),
            "Input type (CPUFloatType) and weight type (CPUDoubleType) should be the same");
  EXPECT_EQ(shiftad::withoutBacktrace("first line\nframe #0: f() + 0x1"), "first line");
  const std::string two_lines = "config 'a.yaml', line 3:\nthe key 'x' is unknown";
  EXPECT_EQ(shiftad::withoutBacktrace(two_lines), two_lines);
}

TEST(ErrorText, AnErrorLineIsOneLineWithoutControlCharactersOrBacktrace) {
  // What the CLI prints after "shiftad: error: " and a C host reads from
  // shiftad_last_error (which carried a path's raw line break and escape sequence, hunt14-a).
  EXPECT_EQ(shiftad::errorLine("config 'a.yaml', line 3:\nthe key 'x'\tis unknown"),
            "config 'a.yaml', line 3: the key 'x' is unknown");
  EXPECT_EQ(shiftad::errorLine("run directory '/tmp/r\x1b[2Jx' does not exist\nframe #0: f() + 0x1"),
            "run directory '/tmp/r\\x1B[2Jx' does not exist");
  EXPECT_EQ(shiftad::errorLine("caf\xE9 \xC3\xA9"), "caf\\xE9 \xC3\xA9") << "Latin-1 escaped, UTF-8 kept";
  const auto long_one = shiftad::errorLine(std::string(5000, 'v'));
  EXPECT_EQ(long_one, std::string(4000, 'v') + " ... (1000 more characters)");
}
