#pragma once
/// \file
/// Named capture groups for std::regex. ECMAScript regexes in std::regex have no named groups, so
/// a pattern written with `(?<name>…)` (or Python's `(?P<name>…)`) is rewritten to plain groups
/// and the names are kept by group number. Shared by the configuration check and the line codec,
/// so both agree on what a pattern means. Pure, clang-14 compatible (the fuzz targets build it).

#include <cstddef>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/result.hpp"

namespace guardian {

/// A pattern rewritten for std::regex (ECMAScript grammar) and the names of its groups.
struct NamedRegex {
  std::string ecmascript;                ///< the pattern with every `(?<name>` turned into `(`
  std::vector<std::string> group_names;  ///< [i] names capture group i+1; "" for unnamed groups

  /// The group number (1-based, as std::smatch counts) of `name`, if the pattern has it.
  [[nodiscard]] std::optional<std::size_t> group(std::string_view name) const {
    for (std::size_t i = 0; i < group_names.size(); ++i)
      if (group_names[i] == name) return i + 1;
    return std::nullopt;
  }
};

/// Rewrites `pattern`. Escapes (`\(`) and bracket expressions (`[(]`) are not groups; `(?:`,
/// `(?=` and `(?!` are not capturing. Errors name the offending position: a malformed or
/// duplicate group name (names are [A-Za-z_][A-Za-z0-9_]*), a look-behind `(?<=`/`(?<!` (not in
/// the ECMAScript grammar), an unterminated bracket expression or a trailing backslash. Whether
/// the rest is a valid regex is for std::regex to say. Never throws.
[[nodiscard]] result<NamedRegex> translate_named_groups(std::string_view pattern);

/// Compiles a translated pattern the one way Guardian matches lines: ECMAScript grammar and, with
/// libstdc++, its linear-time (Thompson NFA, breadth-first) executor. The default executor
/// backtracks recursively: on a long hostile line it takes exponential time or overflows the
/// stack (measured: a 20 000-byte line of digits against `([0-9]*\.?[0-9]+)` overflows an ASan
/// build's 8 MiB stack); the linear one matches 100 000 bytes in ~20 ms. The price is that
/// back-references are refused. Throws std::regex_error (control plane only: configuration).
[[nodiscard]] inline std::regex compile_line_regex(const NamedRegex& pattern) {
#ifdef __GLIBCXX__
  // libstdc++ extension (bits/regex_constants.h): select the breadth-first executor.
  return std::regex(pattern.ecmascript,
                    std::regex::ECMAScript | std::regex_constants::__polynomial);
#else
  return std::regex(pattern.ecmascript, std::regex::ECMAScript);
#endif
}

}  // namespace guardian
