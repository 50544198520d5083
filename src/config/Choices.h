// The YAML spellings of every choice-valued config key: one name table per enum
// (Choices.cpp). Parsing, dumping, the "allowed values" of error messages, toString and
// docs/config.md all read these tables, so a list of values is written exactly once.
// Including this header also lets fmt format the enums by their spelling.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "shiftad/Config.h"

namespace shiftad::config {

/// Every value of E with its spelling, in the order the docs list them.
template <typename E>
using ChoiceTable = std::vector<std::pair<E, std::string>>;

// One overload per choice enum; the argument only selects the table.
const ChoiceTable<Interpolation>& choices(Interpolation);
const ChoiceTable<Arch>& choices(Arch);
const ChoiceTable<Padding>& choices(Padding);
const ChoiceTable<Head>& choices(Head);
const ChoiceTable<HeadInit>& choices(HeadInit);
const ChoiceTable<EncoderType>& choices(EncoderType);
const ChoiceTable<ClusterSpace>& choices(ClusterSpace);
const ChoiceTable<ClusterMethod>& choices(ClusterMethod);
const ChoiceTable<Covariance>& choices(Covariance);
const ChoiceTable<AlignMethod>& choices(AlignMethod);
const ChoiceTable<ScoreMethod>& choices(ScoreMethod);
const ChoiceTable<ScoreCenter>& choices(ScoreCenter);
const ChoiceTable<TrainOn>& choices(TrainOn);
const ChoiceTable<ThresholdRule>& choices(ThresholdRule);

/// The value spelled `name`; nullopt when no value of E is.
template <typename E>
std::optional<E> parseChoice(const std::string& name) {
  for (const auto& [value, spelling] : choices(E{}))
    if (spelling == name) return value;
  return std::nullopt;
}

/// The spellings of E in table order.
template <typename E>
std::vector<std::string> choiceNames() {
  std::vector<std::string> names;
  for (const auto& entry : choices(E{})) names.push_back(entry.second);
  return names;
}

/// "a, b, c": the spellings of E, as error messages list them.
template <typename E>
std::string choiceList() {
  std::string list;
  for (const auto& entry : choices(E{})) list += (list.empty() ? "" : ", ") + entry.second;
  return list;
}

/// True for the enums that have a name table.
template <typename E, typename = void>
struct IsChoice : std::false_type {};
template <typename E>
struct IsChoice<E, std::void_t<decltype(choices(E{}))>> : std::is_enum<E> {};

}  // namespace shiftad::config

/// fmt prints a choice as its YAML spelling ("{}" of Arch::kResNet18 is resnet18).
template <typename E>
struct fmt::formatter<E, char, std::enable_if_t<shiftad::config::IsChoice<E>::value>>
    : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(E value, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<fmt::string_view>::format(shiftad::toString(value), ctx);
  }
};
