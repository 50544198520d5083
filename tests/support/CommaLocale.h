// A host whose locale writes numbers with a decimal comma, as a German or French
// program's does once it calls setlocale(LC_ALL, "") (GUI toolkits do) or sets C++'s
// global locale: for the tests that numbers in shiftad's files read and write the same.
#pragma once

#include <clocale>
#include <cstdlib>
#include <filesystem>
#include <locale>
#include <string>

#include <unistd.h>

namespace shiftad::test {

/// While alive: C++'s global locale writes 0,5 and groups thousands with '.', and C's
/// LC_NUMERIC is de_DE.UTF-8 (from the system, else compiled by localedef into a
/// temporary folder: a fresh Debian has the `locales` sources but no compiled German
/// locale). Both are "C" again after.
class CommaLocale {
 public:
  CommaLocale() {
    std::locale::global(std::locale(std::locale::classic(), new Comma));
    c_locale_ = std::setlocale(LC_NUMERIC, "de_DE.UTF-8") != nullptr;
    if (c_locale_) return;
    folder_ = std::filesystem::temp_directory_path() / ("shiftad-locale-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
    // Its exit status is 1 for warnings too: setlocale says whether it worked.
    const auto command = "localedef -i de_DE -f UTF-8 '" + (folder_ / "de_DE.UTF-8").string() + "' >/dev/null 2>&1";
    [[maybe_unused]] const int status = std::system(command.c_str());
    ::setenv("LOCPATH", folder_.c_str(), 1);
    c_locale_ = std::setlocale(LC_NUMERIC, "de_DE.UTF-8") != nullptr;
  }
  ~CommaLocale() {
    std::locale::global(std::locale::classic());  // also setlocale(LC_ALL, "C")
    std::setlocale(LC_NUMERIC, "C");
    if (folder_.empty()) return;
    ::unsetenv("LOCPATH");
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
  CommaLocale(const CommaLocale&) = delete;
  CommaLocale& operator=(const CommaLocale&) = delete;

  /// Whether C's locale could be set too (strtod then reads "0.5" as 0).
  bool cLocale() const { return c_locale_; }

 private:
  struct Comma : std::numpunct<char> {
    char do_decimal_point() const override { return ','; }
    char do_thousands_sep() const override { return '.'; }
    std::string do_grouping() const override { return "\3"; }
  };
  bool c_locale_ = false;
  std::filesystem::path folder_;
};

}  // namespace shiftad::test
