#include "scalar_parsers.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace guardian::config::detail {
namespace {

template <class T>
struct Unit {
  std::string_view suffix;
  T factor;
};

// Largest first, so format_* picks the shortest exact spelling.
constexpr std::array<Unit<std::int64_t>, 5> kDurationUnits{
    {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

constexpr std::array<Unit<std::uint64_t>, 7> kSizeUnits{{{"GiB", 1ull << 30},
                                                         {"GB", 1'000'000'000},
                                                         {"MiB", 1ull << 20},
                                                         {"MB", 1'000'000},
                                                         {"KiB", 1ull << 10},
                                                         {"KB", 1'000},
                                                         {"B", 1}}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Decimal digits only, without overflow.
std::optional<std::uint64_t> unsigned_decimal(std::string_view digits) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  return value;
}

/// Parses the common shape of durations and sizes, or explains the usual slips: a missing unit,
/// a decimal point, a space between number and unit.
template <class T, std::size_t N>
result<std::uint64_t> parse_with_unit(std::string_view text, const std::array<Unit<T>, N>& units,
                                      std::string_view expected, std::string_view example) {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  const std::string_view unit = text.substr(digits);
  if (digits == 0)
    return expected_but_got(expected, text,
                            text.starts_with('-') ? "negative values are not allowed" : "");
  if (unit.empty())
    return expected_but_got(expected, text, "add a unit, e.g. " + std::string(example));
  if (unit.starts_with('.'))
    return expected_but_got(expected, text,
                            "use a whole number with a smaller unit instead of a fraction");
  if (unit.starts_with(' '))
    return expected_but_got(expected, text, "write the number and the unit without a space");
  for (const auto& u : units) {
    if (u.suffix != unit) continue;
    const auto number = unsigned_decimal(text.substr(0, digits));
    const auto factor = static_cast<std::uint64_t>(u.factor);
    if (!number || *number > std::numeric_limits<std::uint64_t>::max() / factor)
      return expected_but_got(expected, text, "the value is too large");
    return *number * factor;
  }
  std::vector<std::string_view> suffixes;
  for (const auto& u : units) suffixes.push_back(u.suffix);
  return expected_but_got(expected, text, "the unit must be one of " + quoted_list(suffixes));
}

template <class T, std::size_t N>
std::string format_with_unit(std::uint64_t value, const std::array<Unit<T>, N>& units,
                             std::string_view zero_unit) {
  if (value == 0) return "0" + std::string(zero_unit);
  for (const auto& u : units) {
    const auto factor = static_cast<std::uint64_t>(u.factor);
    if (value % factor == 0) return std::to_string(value / factor) + std::string(u.suffix);
  }
  return std::to_string(value);
}

/// Which binary prefix fits; KB/MB/GB are only used for values that are not powers of 1024.
constexpr std::array<Unit<std::uint64_t>, 4> kBinarySizeUnits{
    {{"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"B", 1}}};

result<double> parse_real(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
      !std::isfinite(value))
    return expected_but_got("a decimal number such as 0.1 or -40", text);
  return value;
}

}  // namespace

Error expected_but_got(std::string_view expected, std::string_view text, std::string_view hint) {
  std::string message = "expected " + std::string(expected) + ", got '" + std::string(text) + "'";
  if (!hint.empty()) message += "; " + std::string(hint);
  return make_error(std::move(message));
}

ScalarParser<std::string> text() {
  return {"a text value", [](std::string_view value) -> result<std::string> {
            if (value.empty()) return make_error("expected a text value, got an empty string");
            return std::string(value);
          }};
}

ScalarParser<std::string> identifier() {
  static constexpr std::string_view kExpected =
      "a name of 1 to 64 characters A-Z a-z 0-9 . _ - starting with a letter or digit";
  return {std::string(kExpected), [](std::string_view value) -> result<std::string> {
            const auto allowed = [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
                     c == '-';
            };
            const bool ok = !value.empty() && value.size() <= 64 &&
                            std::isalnum(static_cast<unsigned char>(value.front())) != 0 &&
                            std::all_of(value.begin(), value.end(), allowed);
            if (!ok) return expected_but_got(kExpected, value);
            return std::string(value);
          }};
}

ScalarParser<std::filesystem::path> file_path() {
  return {"a file path", [](std::string_view value) -> result<std::filesystem::path> {
            if (value.empty()) return make_error("expected a file path, got an empty string");
            return std::filesystem::path(value);
          }};
}

ScalarParser<bool> boolean() {
  return {"true or false", [](std::string_view value) -> result<bool> {
            if (value == "true") return true;
            if (value == "false") return false;
            return expected_but_got("true or false", value);
          }};
}

ScalarParser<double> real() { return {"a decimal number such as 0.1 or -40", parse_real}; }

ScalarParser<double> nonzero_real() {
  return {"a decimal number other than 0", [](std::string_view value) -> result<double> {
            const auto number = parse_real(value);
            if (number && number.value() == 0.0)
              return expected_but_got("a decimal number other than 0", value);
            return number;
          }};
}

ScalarParser<std::int64_t> integer_between(std::int64_t min, std::int64_t max) {
  const bool any = min == std::numeric_limits<std::int64_t>::min() &&
                   max == std::numeric_limits<std::int64_t>::max();
  std::string expected =
      any ? "an integer"
          : "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  return {expected, [min, max, expected](std::string_view value) -> result<std::int64_t> {
            std::int64_t number = 0;
            const bool hex = value.starts_with("0x") || value.starts_with("0X");
            const std::string_view digits = hex ? value.substr(2) : value;
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                                   number, hex ? 16 : 10);
            if (digits.empty() || (hex && digits.starts_with('-')) ||
                end != digits.data() + digits.size() ||
                (ec != std::errc{} && ec != std::errc::result_out_of_range))
              return expected_but_got(expected, value);
            if (ec == std::errc::result_out_of_range || number < min || number > max)
              return make_error(std::string(value) + " is out of range: expected " + expected);
            return number;
          }};
}

ScalarParser<std::int64_t> any_integer() {
  return integer_between(std::numeric_limits<std::int64_t>::min(),
                         std::numeric_limits<std::int64_t>::max());
}

ScalarParser<Duration> duration_in(Duration min, Duration max, Duration step) {
  std::string expected = "a duration between " + format_duration(min) + " and " +
                         format_duration(max) + " (e.g. 500ms, 2s, 5m, 7d)";
  return {expected, [min, max, step, expected](std::string_view value) -> result<Duration> {
            const auto parsed = parse_with_unit(value, kDurationUnits, expected, "500ms or 2s");
            if (!parsed) return parsed.error();
            const std::uint64_t ms = parsed.value();
            if (ms > static_cast<std::uint64_t>(max.count()) ||
                static_cast<std::int64_t>(ms) < min.count())
              return make_error(std::string(value) + " is out of range: expected " + expected);
            const Duration d{static_cast<Duration::rep>(ms)};
            if (d % step != Duration::zero())
              return make_error(std::string(value) + " is not a multiple of " +
                                format_duration(step) + ": expected " + expected);
            return d;
          }};
}

ScalarParser<std::uint64_t> size_in(std::uint64_t min, std::uint64_t max) {
  std::string expected = "a size";
  if (max == std::numeric_limits<std::uint64_t>::max())
    expected += " of at least " + format_size(min);
  else
    expected += " between " + format_size(min) + " and " + format_size(max);
  expected += " (e.g. 512KiB, 256MiB, 2GiB)";
  return {expected, [min, max, expected](std::string_view value) -> result<std::uint64_t> {
            const auto parsed = parse_with_unit(value, kSizeUnits, expected, "256MiB");
            if (!parsed) return parsed.error();
            const std::uint64_t bytes = parsed.value();
            if (bytes < min || bytes > max)
              return make_error(std::string(value) + " is out of range: expected " + expected);
            return bytes;
          }};
}

ScalarParser<int> percent_in(int min, int max) {
  std::string expected = "a percentage between " + std::to_string(min) + "% and " +
                         std::to_string(max) + "% (e.g. 50%)";
  return {
      expected, [min, max, expected](std::string_view value) -> result<int> {
        if (!value.ends_with('%'))
          return expected_but_got(expected, value, "write the percent sign, e.g. 50%");
        const auto number = unsigned_decimal(value.substr(0, value.size() - 1));
        if (!number) return expected_but_got(expected, value, "a whole number followed by %");
        if (*number < static_cast<std::uint64_t>(min) || *number > static_cast<std::uint64_t>(max))
          return make_error(std::string(value) + " is out of range: expected " + expected);
        return static_cast<int>(*number);
      }};
}

std::string format_duration(Duration d) {
  return format_with_unit(static_cast<std::uint64_t>(d.count()), kDurationUnits, "ms");
}

std::string format_size(std::uint64_t bytes) {
  return format_with_unit(bytes, kBinarySizeUnits, "B");
}

Error not_one_of(std::string_view text, std::span<const std::string_view> spellings) {
  std::string message = "unknown value '" + std::string(text) + "'";
  if (const auto suggestion = closest_match(text, spellings))
    message += " (did you mean '" + std::string(*suggestion) + "'?)";
  message += "; expected one of " + quoted_list(spellings);
  return make_error(std::move(message));
}

}  // namespace guardian::config::detail
