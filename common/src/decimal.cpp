#include "guardian/common/decimal.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace guardian {

int decimal_places(double v) noexcept {
  if (!std::isfinite(v)) return 99;
  std::array<char, 40> text{};
  const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{}) return 99;
  const std::string_view s(text.data(), static_cast<std::size_t>(end - text.data()));
  const auto e = s.find('e');
  const std::string_view mantissa = s.substr(0, e);
  const auto dot = mantissa.find('.');
  int places = dot == std::string_view::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  if (e != std::string_view::npos) {
    int exponent = 0;
    std::from_chars(s.data() + e + 1 + (s[e + 1] == '+' ? 1 : 0), s.data() + s.size(), exponent);
    places -= exponent;
    if (places < 0) places = 0;
  }
  return places > 17 ? 99 : places;
}

double scaled_decimal(double raw, double scale, double offset) noexcept {
  const double v = raw * scale + offset;
  if (!std::isfinite(v)) return v;
  int places = decimal_places(raw) + decimal_places(scale);
  places = std::max(places, decimal_places(offset));
  if (places > 15) return v;
  const double factor = std::pow(10.0, places);  // exact for places ≤ 22
  const double shifted = v * factor;
  if (std::fabs(shifted) >= 9007199254740992.0) return v;  // 2^53
  return std::nearbyint(shifted) / factor;
}

}  // namespace guardian
