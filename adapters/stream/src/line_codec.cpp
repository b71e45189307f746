// Line-based ASCII: regex (named groups), key=value and CSV lines, with an optional NMEA-style
// checksum in the line.

#include <charconv>
#include <optional>
#include <stdexcept>

#include "codecs.hpp"
#include "field_value.hpp"
#include "guardian/adapters/stream/checksum.hpp"
#include "guardian/common/named_regex.hpp"
#include "line_splitter.hpp"

namespace guardian::adapters::stream::detail {
namespace {

using config::LineSyntax;
using config::MessageSpec;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// The value of `key` in "k1=v1,k2=v2" (first occurrence), if present.
std::optional<std::string_view> key_value(std::string_view line, const MessageSpec& m,
                                          std::string_view key) {
  std::size_t pos = 0;
  while (pos <= line.size()) {
    const auto end = std::min(line.find(m.separator, pos), line.size());
    const std::string_view pair = line.substr(pos, end - pos);
    const auto assign = pair.find(m.assign);
    if (assign != std::string_view::npos && trim(pair.substr(0, assign)) == key)
      return pair.substr(assign + m.assign.size());
    if (end == line.size()) break;
    pos = end + m.separator.size();
  }
  return std::nullopt;
}

/// Column `index` of a CSV line, if it has that many.
std::optional<std::string_view> column(std::string_view line, const std::string& separator,
                                       std::size_t index) {
  std::size_t pos = 0;
  for (std::size_t i = 0;; ++i) {
    const auto end = std::min(line.find(separator, pos), line.size());
    if (i == index) return line.substr(pos, end - pos);
    if (end == line.size()) return std::nullopt;
    pos = end + separator.size();
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// NMEA 0183 style: the checksum of the bytes between `start` and `end`, written in hex after
/// `end`. False when the markers or the digits are missing, or the value differs.
// The checksum written in `line` and the one computed over what it covers; nullopt when the
// line has no place for one (no start or end marker, too few hex digits).
struct LineSums {
  std::uint16_t written = 0;
  std::uint16_t computed = 0;
  std::span<const std::uint8_t> covered;
};
std::optional<LineSums> line_sums(std::string_view line, const config::LineChecksum& c) {
  const auto start = line.find(c.start);
  const auto end = line.rfind(c.end);
  if (start == std::string_view::npos || end == std::string_view::npos ||
      end < start + c.start.size())
    return std::nullopt;
  const std::size_t digits = 2 * config::checksum_size(c.kind);
  const std::size_t at = end + c.end.size();
  if (line.size() < at + digits) return std::nullopt;
  unsigned written = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const int d = hex_digit(line[at + i]);
    if (d < 0) return std::nullopt;
    written = written * 16 + static_cast<unsigned>(d);
  }
  const std::string_view covered =
      line.substr(start + c.start.size(), end - start - c.start.size());
  LineSums sums;
  sums.written = static_cast<std::uint16_t>(written);
  sums.covered = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(covered.data()),
                                               covered.size());
  sums.computed = compute_checksum(c.kind, sums.covered);
  return sums;
}

bool line_checksum_ok(std::string_view line, const config::LineChecksum& c) {
  const auto sums = line_sums(line, c);
  return sums && sums->computed == sums->written;
}

class LineCodec final : public SplitLinesCodec {
 public:
  LineCodec(const config::LineCodecConfig& config, const std::vector<CompiledLineMessage>& compiled)
      : SplitLinesCodec(config.delimiter, config.max_line), config_(config), compiled_(compiled) {}

 private:
  void decode_line(std::string_view raw, Timestamp ts, std::vector<Decoded>& out) override {
    const std::string_view line = config_.trim ? trim(raw) : raw;
    if (line.empty()) return;  // blank lines separate nothing worth counting
    for (std::size_t i = 0; i < config_.messages.size(); ++i) {
      const MessageSpec& m = config_.messages[i];
      if (!line.starts_with(m.prefix)) continue;
      Decoded decoded;
      decoded.message = &m;
      bool matched = false;
      switch (m.syntax) {
        case LineSyntax::regex:
          matched = decode_regex(line, m, compiled_[i], ts, decoded);
          break;
        case LineSyntax::key_value:
          matched = decode_key_value(line, m, ts, decoded);
          break;
        case LineSyntax::csv:
          matched = decode_csv(line, m, ts, decoded);
          break;
      }
      if (!matched) continue;
      if (m.checksum && !line_checksum_ok(line, *m.checksum)) {
        ++counters_.bad_checksum;
        if (explaining()) {
          ChecksumMismatch mismatch;
          mismatch.message = m.name;
          mismatch.kind = m.checksum->kind;
          if (const auto sums = line_sums(line, *m.checksum)) {
            mismatch.computed = sums->computed;
            mismatch.received = sums->written;
            mismatch.would_pass = checksums_matching(m.checksum->kind, sums->covered, sums->written);
          }
          note_mismatch(std::move(mismatch));
        }
        return;
      }
      ++counters_.messages;
      for (const auto& r : decoded.fields) counters_.decode_errors += r.quality == Quality::bad;
      out.push_back(std::move(decoded));
      return;
    }
    ++counters_.unmatched;
  }

  static bool decode_regex(std::string_view line, const MessageSpec& m,
                           const CompiledLineMessage& c, Timestamp ts, Decoded& out) {
    std::cmatch match;
    try {
      // The whole line must match: one linear pass, no search from every position.
      if (!std::regex_match(line.data(), line.data() + line.size(), match, c.regex)) return false;
    } catch (const std::exception&) {
      // std::regex reports resource exhaustion by throwing: this line is simply not matched.
      return false;
    }
    for (std::size_t f = 0; f < m.fields.size(); ++f) {
      const auto& group = match[c.groups[f]];
      const auto& field = m.fields[f];
      out.fields.push_back(make_reading(
          field,
          group.matched
              ? decode_text_field(
                    field, std::string_view(group.first, static_cast<std::size_t>(group.length())))
              : result<Value>(make_error("field '" + field.name + "': group '" + field.group +
                                         "' did not take part in the match")),
          ts));
    }
    return true;
  }

  static bool decode_key_value(std::string_view line, const MessageSpec& m, Timestamp ts,
                               Decoded& out) {
    bool any = false;
    for (const auto& field : m.fields) {
      const auto value = key_value(line, m, field.key);
      any = any || value.has_value();
      out.fields.push_back(
          make_reading(field,
                       value ? decode_text_field(field, *value)
                             : result<Value>(make_error("field '" + field.name + "': key '" +
                                                        field.key + "' is not in the line")),
                       ts));
    }
    return any;  // a line with none of the keys is not this message
  }

  static bool decode_csv(std::string_view line, const MessageSpec& m, Timestamp ts, Decoded& out) {
    std::size_t needed = 0;
    for (const auto& field : m.fields)
      needed = std::max(needed, static_cast<std::size_t>(field.column) + 1);
    if (!column(line, m.separator, needed - 1)) return false;  // too few columns: another message
    for (const auto& field : m.fields)
      out.fields.push_back(make_reading(
          field,
          decode_text_field(field,
                            *column(line, m.separator, static_cast<std::size_t>(field.column))),
          ts));
    return true;
  }

  const config::LineCodecConfig& config_;
  const std::vector<CompiledLineMessage>& compiled_;
};

}  // namespace

std::vector<CompiledLineMessage> compile_line_messages(const config::LineCodecConfig& config) {
  if (config.delimiter.empty()) throw std::invalid_argument("the line delimiter is empty");
  if (config.max_line == 0) throw std::invalid_argument("max_line is 0");
  std::vector<CompiledLineMessage> out;
  for (const auto& m : config.messages) {
    CompiledLineMessage c;
    if (m.syntax == LineSyntax::regex) {
      auto named = translate_named_groups(m.regex);
      if (!named) throw std::invalid_argument("message '" + m.name + "': " + named.error().message);
      try {
        c.regex = compile_line_regex(named.value());
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("message '" + m.name +
                                    "': the regex does not compile: " + e.what());
      }
      for (const auto& f : m.fields) {
        const auto group = named.value().group(f.group);
        if (!group)
          throw std::invalid_argument("message '" + m.name + "', field '" + f.name +
                                      "': the regex has no group named '" + f.group + "'");
        c.groups.push_back(*group);
      }
    } else {
      if (m.separator.empty())
        throw std::invalid_argument("message '" + m.name + "': the separator is empty");
      if (m.syntax == LineSyntax::key_value && m.assign.empty())
        throw std::invalid_argument("message '" + m.name + "': 'assign' is empty");
      for (const auto& f : m.fields)
        if (m.syntax == LineSyntax::csv && f.column < 0)
          throw std::invalid_argument("message '" + m.name + "', field '" + f.name +
                                      "': no column");
    }
    if (m.fields.empty()) throw std::invalid_argument("message '" + m.name + "' has no fields");
    out.push_back(std::move(c));
  }
  return out;
}

std::unique_ptr<Codec> make_line_codec(const config::LineCodecConfig& config,
                                       const std::vector<CompiledLineMessage>& compiled) {
  return std::make_unique<LineCodec>(config, compiled);
}

}  // namespace guardian::adapters::stream::detail
