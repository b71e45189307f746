#include "guardian/common/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace guardian {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null");
    return;
  }
  std::array<char, 32> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), ptr);
}

void append_json_number(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), ptr);
}

void append_json_number(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), ptr);
}

void append_json_value(std::string& out, const Value& v) {
  struct Visitor {
    std::string& out;
    void operator()(std::monostate) const { out.append("null"); }
    void operator()(bool b) const { out.append(b ? "true" : "false"); }
    void operator()(std::int64_t i) const { append_json_number(out, i); }
    void operator()(std::uint64_t u) const { append_json_number(out, u); }
    void operator()(double d) const { append_json_number(out, d); }
    void operator()(const std::string& s) const { append_json_string(out, s); }
  };
  std::visit(Visitor{out}, v);
}

}  // namespace guardian
