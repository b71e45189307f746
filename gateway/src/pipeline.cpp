#include "guardian/gateway/pipeline.hpp"

#include <algorithm>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {
// A gap message names at most this many distinct points; the count stays exact.
constexpr std::size_t kMaxGapPoints = 64;

PendingMessage encode_gap(const std::string& source, const PendingGap& gap) {
  PendingMessage m;
  m.kind = MessageKind::gap;
  m.priority = Priority::alarm;
  m.source = source;
  m.first_ts = gap.from;
  m.last_ts = gap.to;
  m.count = 0;
  std::string& out = m.body;
  out.append("\"source\":");
  append_json_string(out, source);
  out.append(",\"reason\":\"backpressure\",\"count\":");
  append_json_number(out, gap.count);
  out.append(",\"from\":\"");
  append_rfc3339(out, gap.from);
  out.append("\",\"to\":\"");
  append_rfc3339(out, gap.to);
  out.append("\",\"points\":[");
  for (std::size_t i = 0; i < gap.points.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_json_string(out, gap.points[i]);
  }
  out.append("]}");
  return m;
}
}  // namespace

Pipeline::Pipeline(const config::SiteConfig& site, Outbox& outbox)
    : outbox_(outbox),
      max_per_message_(static_cast<std::size_t>(std::max(1, site.uplink.max_readings_per_message))) {}

void Pipeline::on_batch(ReadingBatch&& batch) {
  ++counters_.batches;
  counters_.readings += batch.readings.size();
  if (batch.readings.empty()) return;
  auto& points = last_[batch.source];
  for (const auto& r : batch.readings) points.insert_or_assign(r.point, r);

  report_pending_gaps();
  const std::span<const Reading> all(batch.readings);
  for (std::size_t start = 0; start < all.size(); start += max_per_message_) {
    const auto chunk = all.subspan(start, std::min(max_per_message_, all.size() - start));
    if (submit(encode_telemetry(batch.source, chunk))) continue;
    for (const auto& r : chunk) refuse(batch.source, r.point, 1, r.source_ts, r.source_ts);
  }
}

void Pipeline::on_record(Record&& record) {
  ++counters_.records;
  report_pending_gaps();
  if (!submit(encode_record(record)))
    refuse(record.source, record.type, 1, record.source_ts, record.source_ts);
}

bool Pipeline::submit(PendingMessage message) {
  if (!outbox_.submit(std::move(message))) return false;
  ++counters_.messages;
  return true;
}

void Pipeline::refuse(const std::string& source, const std::string& what, std::uint64_t count,
                      Timestamp from, Timestamp to) {
  counters_.readings_refused += count;
  auto [it, fresh] = gaps_.try_emplace(source);
  PendingGap& gap = it->second;
  if (fresh || from < gap.from) gap.from = from;
  if (fresh || to > gap.to) gap.to = to;
  gap.count += count;
  if (gap.points.size() < kMaxGapPoints &&
      std::find(gap.points.begin(), gap.points.end(), what) == gap.points.end())
    gap.points.push_back(what);
}

void Pipeline::report_pending_gaps() {
  for (auto it = gaps_.begin(); it != gaps_.end();) {
    if (!submit(encode_gap(it->first, it->second))) return;  // still full: keep accumulating
    ++counters_.gaps_reported;
    it = gaps_.erase(it);
  }
}

}  // namespace guardian::gateway
