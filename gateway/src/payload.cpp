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

std::string envelope(std::string_view device_id, std::uint64_t seq, std::string_view body) {
  std::string out;
  out.reserve(48 + device_id.size() + body.size());
  out.append("{\"v\":");
  append_json_number(out, static_cast<std::int64_t>(kSchemaVersion));
  out.append(",\"device\":");
  append_json_string(out, device_id);
  out.append(",\"seq\":");
  append_json_number(out, seq);
  out.push_back(',');
  out.append(body);
  return out;
}

}  // namespace guardian::gateway
