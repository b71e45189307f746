#pragma once
/// \file
/// Typed parsers for scalar values in the YAML file: integers with a range, durations ("500ms"),
/// sizes ("256MiB"), booleans, names, paths and closed sets of words. Each parser says what it
/// expects, so a wrong value produces a message that tells the technician what to write instead.
/// Private to config/.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"
#include "near_miss.hpp"

namespace guardian::config::detail {

/// Turns the text of one YAML scalar into a T, or an Error whose message says what was expected
/// and what was found (without the key: the reader adds where).
template <class T>
struct ScalarParser {
  /// What a valid value looks like, e.g. "an integer between 1 and 65535"; used when the node is
  /// not a scalar at all.
  std::string expected;
  std::function<result<T>(std::string_view text)> parse;
};

/// "expected <expected>, got '<text>'" plus an optional hint sentence.
[[nodiscard]] Error expected_but_got(std::string_view expected, std::string_view text,
                                     std::string_view hint = {});

/// Any non-empty string.
[[nodiscard]] ScalarParser<std::string> text();

/// A name used in topics and payloads: 1–64 characters of A–Z a–z 0–9 . _ -, starting with a
/// letter or digit.
[[nodiscard]] ScalarParser<std::string> identifier();

/// A non-empty file system path.
[[nodiscard]] ScalarParser<std::filesystem::path> file_path();

/// `true` or `false` (YAML 1.1 spellings such as yes/on are refused: they surprise people).
[[nodiscard]] ScalarParser<bool> boolean();

/// A finite decimal number ("0.1", "-40", "1e-3").
[[nodiscard]] ScalarParser<double> real();

/// A finite decimal number other than 0.
[[nodiscard]] ScalarParser<double> nonzero_real();

/// A decimal (or 0x-prefixed hexadecimal) integer in [min, max].
[[nodiscard]] ScalarParser<std::int64_t> integer_between(std::int64_t min, std::int64_t max);

/// Any 64-bit signed integer (e.g. a raw value that gets a label).
[[nodiscard]] ScalarParser<std::int64_t> any_integer();

/// integer_between, converted to the integer type of the field it fills.
template <class T>
[[nodiscard]] ScalarParser<T> integer_in(T min, T max) {
  auto wide = integer_between(static_cast<std::int64_t>(min), static_cast<std::int64_t>(max));
  return {wide.expected, [parse = wide.parse](std::string_view text) -> result<T> {
            auto value = parse(text);
            if (!value) return value.error();
            return static_cast<T>(value.value());
          }};
}

/// A duration written as a whole number and a unit: ms, s, m, h, d ("500ms", "2s", "7d"),
/// in [min, max] and a whole multiple of `step` (e.g. 1s for values the protocol counts in
/// seconds).
[[nodiscard]] ScalarParser<Duration> duration_in(Duration min, Duration max,
                                                 Duration step = Duration{1});

/// A byte size written as a whole number and a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB,
/// GB (powers of 1000), in [min, max].
[[nodiscard]] ScalarParser<std::uint64_t> size_in(std::uint64_t min, std::uint64_t max);

/// A whole percentage written with a percent sign ("50%"), in [min, max].
[[nodiscard]] ScalarParser<int> percent_in(int min, int max);

/// Shortest exact spelling of a duration in the file syntax ("10s", "1500ms", "7d").
[[nodiscard]] std::string format_duration(Duration d);

/// Shortest exact spelling of a size in the file syntax ("256MiB", "1000B").
[[nodiscard]] std::string format_size(std::uint64_t bytes);

/// One allowed spelling of a closed set of values.
template <class T>
struct Choice {
  std::string_view spelling;
  T value;
};

/// The error for a word that is not among `spellings`, with a did-you-mean when one is close.
[[nodiscard]] Error not_one_of(std::string_view text, std::span<const std::string_view> spellings);

/// Exactly one of `choices` (case-sensitive, as written in docs/configuration.md).
template <class T, std::size_t N>
[[nodiscard]] ScalarParser<T> one_of(const std::array<Choice<T>, N>& choices) {
  std::vector<std::string_view> spellings;
  for (const auto& choice : choices) spellings.push_back(choice.spelling);
  return {"one of " + quoted_list(spellings),
          [choices, spellings](std::string_view text) -> result<T> {
            for (const auto& choice : choices)
              if (choice.spelling == text) return choice.value;
            return not_one_of(text, spellings);
          }};
}

}  // namespace guardian::config::detail
