#include "guardian/gateway/gap_report.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"

namespace guardian::gateway {
namespace {

constexpr std::array<const char*, kDropReasonCount> kReasonNames{
    "backpressure", "queue_full",        "source_quota",     "max_age",
    "disk_full",    "corrupt_queue",     "refused_by_broker"};

// The JSON string starting at `pos` (just after its opening quote), with escapes resolved the
// simple way (the character after a backslash): names are identifiers, so escapes are rare.
std::string read_json_string(std::string_view body, std::size_t pos) {
  std::string out;
  while (pos < body.size() && body[pos] != '"') {
    if (body[pos] == '\\' && pos + 1 < body.size()) ++pos;
    out.push_back(body[pos++]);
  }
  return out;
}

// Every value of `"<key>":"…"` in an encoded body, in order (payload.cpp writes readings as
// {"name":"…", and a record's type as "type":"…").
template <class Visit>
void scan_string_values(std::string_view body, std::string_view marker, Visit visit) {
  for (auto pos = body.find(marker); pos != std::string_view::npos;
       pos = body.find(marker, pos + marker.size()))
    if (!visit(read_json_string(body, pos + marker.size()))) return;
}

}  // namespace

const char* to_string(DropReason reason) noexcept {
  const auto i = static_cast<std::size_t>(reason);
  return i < kReasonNames.size() ? kReasonNames[i] : "backpressure";
}

std::optional<DropReason> drop_reason_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kReasonNames.size(); ++i)
    if (name == kReasonNames[i]) return static_cast<DropReason>(i);
  return std::nullopt;
}

void DroppedData::add_name(std::string_view name) {
  if (names.size() >= kMaxGapNames || name.empty()) return;
  if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
}

void DroppedData::add_seq(std::uint64_t seq) {
  if (seqs.size() >= kMaxGapNames) return;
  if (std::find(seqs.begin(), seqs.end(), seq) == seqs.end()) seqs.push_back(seq);
}

void DroppedData::merge(const DroppedData& other) {
  const bool empty = count == 0 && messages == 0;
  if (empty || other.from < from) from = other.from;
  if (empty || other.to > to) to = other.to;
  count += other.count;
  messages += other.messages;
  for (const auto& n : other.names) add_name(n);
  for (const auto seq : other.seqs) add_seq(seq);
}

DroppedData describe_dropped(MessageKind kind, std::string_view source, std::uint32_t count,
                             Timestamp first_ts, Timestamp last_ts, std::string_view body,
                             DropReason reason, bool accepted) {
  if (kind == MessageKind::gap) {
    // A gap message folded back into the ledger keeps its own reason and counts; if it had been
    // accepted, its own seq goes missing too, and is counted with the messages it reported.
    if (auto gap = decode_gap(body)) {
      if (accepted) ++gap->messages;
      return *gap;
    }
  }
  DroppedData d;
  d.source = std::string(source);
  d.reason = reason;
  d.from = first_ts;
  d.to = last_ts;
  d.messages = accepted ? 1 : 0;
  if (kind == MessageKind::trace) {
    // A trace chunk: its samples are the count, its trace type the name.
    d.count = count;
    scan_string_values(body, "\"type\":\"", [&](std::string name) {
      d.add_name(name);
      return false;
    });
  } else if (kind == MessageKind::record) {
    d.count = 1;
    scan_string_values(body, "\"type\":\"", [&](std::string name) {
      d.add_name(name);
      return false;  // the first "type" is the record's own
    });
  } else {
    d.count = count;
    scan_string_values(body, "{\"name\":\"", [&](std::string name) {
      d.add_name(name);
      return d.names.size() < kMaxGapNames;
    });
  }
  return d;
}

PendingMessage encode_gap(const DroppedData& d) {
  PendingMessage m;
  m.kind = MessageKind::gap;
  m.priority = Priority::gap;
  m.source = d.source;
  m.first_ts = d.from;
  m.last_ts = d.to;
  m.count = 0;  // a gap message carries no readings itself
  std::string& out = m.body;
  out.append("\"source\":");
  append_json_string(out, d.source);
  out.append(",\"reason\":\"");
  out.append(to_string(d.reason));
  out.append("\",\"count\":");
  append_json_number(out, d.count);
  out.append(",\"messages\":");
  append_json_number(out, d.messages);
  out.append(",\"from\":\"");
  append_rfc3339(out, d.from);
  out.append("\",\"to\":\"");
  append_rfc3339(out, d.to);
  out.push_back('"');
  if (!d.seqs.empty()) {
    out.append(",\"seqs\":[");
    for (std::size_t i = 0; i < d.seqs.size(); ++i) {
      if (i != 0) out.push_back(',');
      append_json_number(out, d.seqs[i]);
    }
    out.push_back(']');
  }
  out.append(",\"points\":[");
  for (std::size_t i = 0; i < d.names.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_json_string(out, d.names[i]);
  }
  out.append("]}");
  return m;
}

std::optional<DroppedData> decode_gap(std::string_view body) {
  std::string text = "{";
  text.append(body);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  const auto source = j.find("source");
  const auto reason = j.find("reason");
  const auto count = j.find("count");
  const auto from = j.find("from");
  const auto to = j.find("to");
  if (source == j.end() || !source->is_string() || reason == j.end() || !reason->is_string() ||
      count == j.end() || !count->is_number_unsigned() || from == j.end() || !from->is_string() ||
      to == j.end() || !to->is_string())
    return std::nullopt;
  const auto why = drop_reason_from_string(reason->get<std::string>());
  const auto first = parse_rfc3339(from->get<std::string>());
  const auto last = parse_rfc3339(to->get<std::string>());
  if (!why || !first || !last) return std::nullopt;
  DroppedData d;
  d.source = source->get<std::string>();
  d.reason = *why;
  d.count = count->get<std::uint64_t>();
  if (const auto messages = j.find("messages");
      messages != j.end() && messages->is_number_unsigned())
    d.messages = messages->get<std::uint64_t>();
  d.from = *first;
  d.to = *last;
  if (const auto points = j.find("points"); points != j.end() && points->is_array())
    for (const auto& p : *points)
      if (p.is_string()) d.add_name(p.get<std::string>());
  if (const auto seqs = j.find("seqs"); seqs != j.end() && seqs->is_array())
    for (const auto& seq : *seqs)
      if (seq.is_number_unsigned()) d.add_seq(seq.get<std::uint64_t>());
  return d;
}

}  // namespace guardian::gateway
