#include "guardian/common/time_format.hpp"

#include <array>
#include <charconv>

namespace guardian {
namespace {

void append_digits(std::string& out, long value, int width) {
  std::array<char, 8> buf{};
  for (int i = width - 1; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf.data(), static_cast<std::size_t>(width));
}

bool parse_fixed(std::string_view s, std::size_t pos, std::size_t width, int& value) {
  if (pos + width > s.size()) return false;
  const char* first = s.data() + pos;
  const char* last = first + width;
  auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc{} && ptr == last;
}

}  // namespace

void append_rfc3339(std::string& out, Timestamp ts) {
  using namespace std::chrono;
  const auto day = floor<days>(ts);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ts - day};
  append_digits(out, static_cast<int>(ymd.year()), 4);
  out.push_back('-');
  append_digits(out, static_cast<long>(static_cast<unsigned>(ymd.month())), 2);
  out.push_back('-');
  append_digits(out, static_cast<long>(static_cast<unsigned>(ymd.day())), 2);
  out.push_back('T');
  append_digits(out, hms.hours().count(), 2);
  out.push_back(':');
  append_digits(out, hms.minutes().count(), 2);
  out.push_back(':');
  append_digits(out, static_cast<long>(hms.seconds().count()), 2);
  out.push_back('.');
  append_digits(out, static_cast<long>(hms.subseconds().count()), 3);
  out.push_back('Z');
}

std::string format_rfc3339(Timestamp ts) {
  std::string out;
  out.reserve(24);
  append_rfc3339(out, ts);
  return out;
}

std::optional<Timestamp> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS  (19 chars), optional .f{1,9}, then Z.
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (!parse_fixed(s, 0, 4, y) || !parse_fixed(s, 5, 2, mo) || !parse_fixed(s, 8, 2, d) ||
      !parse_fixed(s, 11, 2, h) || !parse_fixed(s, 14, 2, mi) || !parse_fixed(s, 17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  long millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (std::size_t i = digits; i < 3; ++i) millis *= 10;
  }
  if (pos + 1 != s.size() || (s[pos] != 'Z' && s[pos] != 'z')) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return Timestamp{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{se} +
                   milliseconds{millis}};
}

}  // namespace guardian
