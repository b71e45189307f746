#include "near_miss.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace guardian::config::detail {
namespace {

std::string normalized(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  for (const char c : word)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

/// Optimal string alignment distance (Levenshtein plus transposition of two neighbours, the
/// commonest typing slip: "nmae" for "name").
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

/// Words other gateways and Modbus tools use (ThingsBoard, Neuron, Telegraf, Node-RED,
/// modpoll), normalized, with what they mean here. Offered only when no candidate is close by
/// spelling, and only if that word is one of the candidates where it was written.
struct Alias {
  std::string_view foreign;
  std::string_view ours;
};
constexpr Alias kAliases[] = {
    // keys
    {"slave_id", "unit_id"}, {"slave", "unit_id"}, {"slaveid", "unit_id"}, {"unitid", "unit_id"},
    {"device_id", "unit_id"}, {"station", "unit_id"}, {"word_order", "order"},
    {"byte_order", "order"}, {"byteorder", "order"}, {"wordorder", "order"},
    {"endian", "order"}, {"endianness", "order"}, {"swap", "order"}, {"function", "table"},
    {"function_code", "table"}, {"functioncode", "table"}, {"fc", "table"},
    {"register_type", "table"}, {"data_type", "type"}, {"datatype", "type"}, {"format", "type"},
    {"multiplier", "scale"}, {"scale_factor", "scale"}, {"gain", "scale"},
    {"start_address", "address"}, {"polling_interval", "poll_interval"},
    {"poll_period", "poll_interval"}, {"scan_rate", "poll_interval"}, {"poll_rate", "poll_interval"},
    {"interval", "poll_interval"}, {"ip", "host"}, {"address_offset", "address_base"},
    // values
    {"holding_registers", "holding"}, {"holding_register", "holding"}, {"holdingregisters", "holding"},
    {"hr", "holding"}, {"hreg", "holding"}, {"input_registers", "input"}, {"input_register", "input"},
    {"inputregisters", "input"}, {"ir", "input"}, {"ireg", "input"}, {"coils", "coil"},
    {"discrete_inputs", "discrete"}, {"discrete_input", "discrete"}, {"discreteinputs", "discrete"},
    {"di", "discrete"}, {"float", "float32"}, {"real", "float32"}, {"single", "float32"},
    {"double", "float64"}, {"lreal", "float64"}, {"int", "int16"}, {"word", "uint16"},
    {"uint", "uint16"}, {"short", "int16"}, {"ushort", "uint16"}, {"dint", "int32"},
    {"udint", "uint32"}, {"dword", "uint32"}, {"long", "int32"}, {"ulong", "uint32"},
    {"boolean", "bool"}, {"str", "string"}, {"ascii", "string"},
    // a binary frame's field types, written the Modbus way or the C way
    {"uint8", "u8"}, {"uint16", "u16"}, {"uint32", "u32"}, {"uint64", "u64"}, {"int8", "i8"},
    {"int16", "i16"}, {"int32", "i32"}, {"int64", "i64"}, {"float32", "f32"}, {"float", "f32"},
    {"float64", "f64"}, {"double", "f64"}, {"byte", "u8"}, {"uint8_t", "u8"}, {"uint16_t", "u16"},
    {"uint32_t", "u32"}, {"int16_t", "i16"}, {"int32_t", "i32"},
};

}  // namespace

std::optional<std::string_view> other_gateways_word(std::string_view word,
                                                    std::span<const std::string_view> candidates) {
  const std::string needle = normalized(word);
  for (const Alias& alias : kAliases) {
    if (alias.foreign != needle) continue;
    for (const std::string_view candidate : candidates)
      if (candidate == alias.ours) return candidate;
  }
  return std::nullopt;
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
  const std::string needle = normalized(word);
  const std::size_t limit = std::clamp<std::size_t>(needle.size() / 3, 1, 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(needle, normalized(candidate));
    // A distance as large as the word itself means nothing of it was kept ('2' → '0').
    if (distance < best_distance && distance < needle.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best) return other_gateways_word(word, candidates);
  return best;
}

std::string quoted_list(std::span<const std::string_view> words) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += '\'';
    out += word;
    out += '\'';
  }
  return out;
}

}  // namespace guardian::config::detail
