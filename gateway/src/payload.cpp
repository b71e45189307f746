#include "guardian/gateway/payload.hpp"

#include <algorithm>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"

namespace guardian::gateway {

void append_reading_json(std::string& out, const Reading& r) {
  out.append("{\"name\":");
  append_json_string(out, r.point);
  out.append(",\"value\":");
  append_json_value(out, r.value);
  if (!r.unit.empty()) {
    out.append(",\"unit\":");
    append_json_string(out, r.unit);
  }
  out.append(",\"quality\":\"");
  out.append(to_string(r.quality));
  out.append("\",\"ts\":\"");
  append_rfc3339(out, r.source_ts);
  out.push_back('"');
  if (!r.error.empty()) {
    out.append(",\"error\":");
    append_json_string(out, r.error);
  }
  out.push_back('}');
}

PendingMessage encode_telemetry(std::string_view source, std::span<const Reading> readings) {
  PendingMessage m;
  m.kind = MessageKind::telemetry;
  m.priority = Priority::routine;
  m.source = std::string(source);
  m.count = static_cast<std::uint32_t>(readings.size());
  if (!readings.empty()) {
    auto [lo, hi] = std::minmax_element(
        readings.begin(), readings.end(),
        [](const Reading& a, const Reading& b) { return a.source_ts < b.source_ts; });
    m.first_ts = lo->source_ts;
    m.last_ts = hi->source_ts;
  }
  std::string& out = m.body;
  out.reserve(32 + source.size() + readings.size() * 96);
  out.append("\"source\":");
  append_json_string(out, source);
  out.append(",\"readings\":[");
  bool first = true;
  for (const auto& r : readings) {
    if (!first) out.push_back(',');
    first = false;
    append_reading_json(out, r);
  }
  out.append("]}");
  return m;
}

PendingMessage encode_record(const Record& record) {
  PendingMessage m;
  m.kind = MessageKind::record;
  m.priority = Priority::record;
  m.source = record.source;
  m.count = static_cast<std::uint32_t>(record.fields.size());
  m.first_ts = record.source_ts;
  m.last_ts = record.source_ts;
  std::string& out = m.body;
  out.append("\"source\":");
  append_json_string(out, record.source);
  out.append(",\"type\":");
  append_json_string(out, record.type);
  out.append(",\"ts\":\"");
  append_rfc3339(out, record.source_ts);
  out.append("\",\"fields\":[");
  bool first = true;
  for (const auto& f : record.fields) {
    if (!first) out.push_back(',');
    first = false;
    append_reading_json(out, f);
  }
  out.append("]}");
  return m;
}

std::string envelope(std::string_view device_id, std::uint64_t seq, std::string_view body,
                     MessagePart part, int version) {
  std::string out;
  out.reserve(48 + device_id.size() + body.size());
  out.append("{\"v\":");
  append_json_number(out, static_cast<std::int64_t>(version));
  out.append(",\"device\":");
  append_json_string(out, device_id);
  out.append(",\"seq\":");
  append_json_number(out, seq);
  if (part.count > 1) {
    out.append(",\"part\":");
    append_json_number(out, static_cast<std::uint64_t>(part.index));
    out.append(",\"parts\":");
    append_json_number(out, static_cast<std::uint64_t>(part.count));
  }
  out.push_back(',');
  out.append(body);
  return out;
}

std::size_t envelope_overhead(std::string_view device_id) noexcept {
  // {"v":1,"device":"…","seq":N,"part":N,"parts":N,  — the device id escaped at worst 6×.
  return 64 + 20 + 2 * 10 + 6 * device_id.size();
}

std::optional<std::vector<std::string>> split_body(std::string_view body,
                                                   std::size_t max_body_bytes) {
  if (body.size() <= max_body_bytes) return std::vector<std::string>{std::string(body)};
  if (body.size() < 3 || body.substr(body.size() - 2) != "]}") return std::nullopt;
  // The last member's array: the last '[' opened at the top level, outside strings.
  std::size_t open = std::string_view::npos;
  bool in_string = false;
  int level = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (c == '[' && level == 0) open = i;
      ++level;
    } else if (c == ']' || c == '}') {
      --level;
    }
  }
  if (open == std::string_view::npos) return std::nullopt;
  const std::string_view head = body.substr(0, open + 1);
  const std::size_t end = body.size() - 2;  // the closing ']'
  // The elements, split at commas at depth 0 outside strings.
  std::vector<std::string_view> elements;
  int depth = 0;
  std::size_t start = open + 1;
  in_string = false;
  for (std::size_t i = start; i < end; ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    else if (c == ',' && depth == 0) {
      elements.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0 || in_string) return std::nullopt;
  if (start < end) elements.push_back(body.substr(start, end - start));
  std::vector<std::string> parts;
  std::string current;
  std::size_t in_current = 0;
  const auto flush = [&] {
    current.append("]}");
    parts.push_back(std::move(current));
    current.clear();
    in_current = 0;
  };
  for (const auto element : elements) {
    if (head.size() + element.size() + 2 > max_body_bytes) return std::nullopt;
    if (in_current > 0 && current.size() + 1 + element.size() + 2 > max_body_bytes) flush();
    if (in_current == 0) current.append(head);
    else current.push_back(',');
    current.append(element);
    ++in_current;
  }
  if (in_current > 0) flush();
  if (parts.empty()) return std::nullopt;
  return parts;
}

}  // namespace guardian::gateway
