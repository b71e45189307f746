#include "guardian/common/byte_text.hpp"

namespace guardian {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHexDigits[] = "0123456789ABCDEF";

}  // namespace

result<std::vector<std::uint8_t>> unescape_bytes(std::string_view text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\') {
      out.push_back(static_cast<std::uint8_t>(c));
      continue;
    }
    const std::string where = " at character " + std::to_string(i + 1);
    if (i + 1 >= text.size()) return make_error("a lone backslash ends the text" + where);
    const char e = text[++i];
    switch (e) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back(0);
        break;
      case 'e':
        out.push_back(0x1B);
        break;
      case '\\':
      case '"':
      case '\'':
        out.push_back(static_cast<std::uint8_t>(e));
        break;
      case 'x': {
        const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) return make_error("\\x must be followed by two hex digits" + where);
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        return make_error(std::string("unknown escape \\") + e + where +
                          " (known: \\r \\n \\t \\0 \\e \\\\ \\xHH)");
    }
  }
  return out;
}

result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text) {
  std::vector<std::uint8_t> out;
  int pending = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (pending < 0 && (c == ' ' || c == ':' || c == '-' || c == ',')) continue;
    if (pending < 0 && c == '0' && i + 1 < text.size() &&
        (text[i + 1] == 'x' || text[i + 1] == 'X')) {
      ++i;
      continue;
    }
    const int v = hex_value(c);
    if (v < 0)
      return make_error("'" + std::string(1, c) + "' at character " + std::to_string(i + 1) +
                        " is not a hex digit");
    if (pending < 0) {
      pending = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(pending * 16 + v));
      pending = -1;
    }
  }
  if (pending >= 0) return make_error("an odd number of hex digits: every byte takes two");
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (const std::uint8_t b : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0F]);
  }
  return out;
}

std::string to_escaped_text(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const std::uint8_t b : bytes) {
    switch (b) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (b >= 0x20 && b < 0x7F) {
          out.push_back(static_cast<char>(b));
        } else {
          out += "\\x";
          out.push_back(kHexDigits[b >> 4]);
          out.push_back(kHexDigits[b & 0x0F]);
        }
    }
  }
  return out;
}

std::string printable(std::string_view text, std::size_t max) {
  const auto cut = text.substr(0, max);
  std::string out = to_escaped_text(std::span(reinterpret_cast<const std::uint8_t*>(cut.data()), cut.size()));
  if (cut.size() < text.size()) out += "…(" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace guardian
