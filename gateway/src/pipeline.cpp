#include "guardian/gateway/pipeline.hpp"

#include <algorithm>

#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {
// The edge-processing clock: aggregate windows close and counters report within a second of
// being due.
constexpr std::chrono::seconds kTickInterval{1};
}  // namespace

Pipeline::Pipeline(boost::asio::io_context& io, const config::SiteConfig& site, Outbox& outbox)
    : outbox_(outbox),
      compact_(site.uplink.payload == config::PayloadFormat::v2),
      max_per_message_(static_cast<std::size_t>(std::max(1, site.uplink.max_readings_per_message))),
      configured_max_message_bytes_(site.uplink.max_message_bytes),
      envelope_overhead_(envelope_overhead(site.device_id)),
      max_body_bytes_(0),
      edge_(site.processing, outbox.saved_state()),
      traces_(site.traces),
      tick_timer_(io) {
  set_max_message_bytes(configured_max_message_bytes_);
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::set_max_message_bytes(std::uint64_t bytes) {
  const std::uint64_t bound = std::min(bytes, configured_max_message_bytes_);
  // A bound smaller than the envelope still lets one reading through per message.
  max_body_bytes_ = static_cast<std::size_t>(
      bound > envelope_overhead_ + 64 ? bound - envelope_overhead_ : 64);
}

void Pipeline::start() {
  if (ticking_ || (edge_.empty() && traces_.empty())) return;
  ticking_ = true;
  arm_tick();
}

void Pipeline::stop() {
  ticking_ = false;
  tick_timer_.cancel();
  // A capture in progress is kept as far as it went (end reason "stopped"): the queue is still
  // open and commits it with the rest.
  traces_.stop(now_ms(), finished_);
  submit_traces();
}

void Pipeline::arm_tick() {
  tick_timer_.expires_after(kTickInterval);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !ticking_) return;  // operation_aborted: stopped or destroyed
    tick(now_ms());
    arm_tick();
  });
}

void Pipeline::on_batch(ReadingBatch&& batch) {
  ++counters_.batches;
  counters_.readings += batch.readings.size();
  if (batch.readings.empty()) return;
  auto& points = last_[batch.source];
  for (const auto& r : batch.readings) points.insert_or_assign(r.point, r);

  if (!traces_.empty()) {
    traces_.on_batch(batch.source, batch.readings, finished_);
    submit_traces();
  }
  if (edge_.empty()) return submit_readings(batch.source, batch.readings);
  scratch_.clear();
  for (const auto& r : batch.readings) edge_.process(r, scratch_);
  submit_readings(batch.source, scratch_);
}

void Pipeline::tick(Timestamp now) {
  traces_.tick(now, finished_);
  submit_traces();
  scratch_.clear();
  edge_.tick(now, scratch_);
  // Results of several sources: one group of messages per source.
  std::stable_sort(scratch_.begin(), scratch_.end(),
                   [](const Reading& a, const Reading& b) { return a.source < b.source; });
  std::vector<Reading> one;
  for (std::size_t i = 0; i < scratch_.size();) {
    std::size_t j = i;
    while (j < scratch_.size() && scratch_[j].source == scratch_[i].source) ++j;
    one.assign(std::make_move_iterator(scratch_.begin() + static_cast<std::ptrdiff_t>(i)),
               std::make_move_iterator(scratch_.begin() + static_cast<std::ptrdiff_t>(j)));
    submit_readings(one.front().source, one);
    i = j;
  }
  if (auto state = edge_.take_state_changes(); !state.empty()) outbox_.save_state(std::move(state));
}

void Pipeline::submit_readings(const std::string& source, std::vector<Reading>& readings) {
  if (readings.empty()) return;
  // Alarm points travel in messages of their own, so that the queue's priorities apply to them.
  const auto alarms =
      std::stable_partition(readings.begin(), readings.end(),
                            [&](const Reading& r) { return !edge_.is_alarm(r.source, r.point); });
  const std::span<const Reading> all(readings);
  const auto routine_count = static_cast<std::size_t>(alarms - readings.begin());
  submit_chunks(source, all.first(routine_count), Priority::routine);
  submit_chunks(source, all.subspan(routine_count), Priority::alarm);
}

void Pipeline::submit_chunks(const std::string& source, std::span<const Reading> all,
                             Priority priority) {
  for (std::size_t start = 0; start < all.size(); start += max_per_message_) {
    const auto chunk = all.subspan(start, std::min(max_per_message_, all.size() - start));
    submit_bounded(source, chunk, priority);
  }
}

// Encoded whole when it fits (nearly always); halved until it does otherwise. A single reading
// larger than the bound goes alone: the uplink splits nothing further and reports it refused.
void Pipeline::submit_bounded(const std::string& source, std::span<const Reading> readings,
                              Priority priority) {
  PendingMessage message;
  if (compact_) {
    // The schema message goes before the data that uses it (a lower seq).
    bool changed = false;
    const auto& schema = schemas_.learn(source, readings, changed);
    if (changed || unannounced_.contains(source)) {
      if (submit(encode_schema(source, schema)))
        unannounced_.erase(source);
      else
        unannounced_.insert(source);
    }
    message = encode_telemetry_v2(source, schema, readings);
  } else {
    message = encode_telemetry(source, readings);
  }
  if (message.body.size() > max_body_bytes_ && readings.size() > 1) {
    const std::size_t half = readings.size() / 2;
    submit_bounded(source, readings.first(half), priority);
    submit_bounded(source, readings.subspan(half), priority);
    return;
  }
  message.priority = priority;
  if (submit(std::move(message))) return;
  counters_.readings_refused += readings.size();
  counters_.refused_by_source[source] += readings.size();
}

void Pipeline::on_record(Record&& record) {
  ++counters_.records;
  if (!traces_.empty()) {
    traces_.on_record(record, finished_);
    submit_traces();
  }
  if (submit(encode_record(record))) return;
  ++counters_.readings_refused;
  ++counters_.refused_by_source[record.source];
}

// A trace is refused whole by back-pressure or not at all: its chunks are submitted in order,
// and a refused one is counted like a refused record.
void Pipeline::submit_traces() {
  for (auto& trace : finished_) {
    for (auto& chunk : encode_trace(trace, max_body_bytes_)) {
      const auto values = chunk.count;
      if (submit(std::move(chunk))) continue;
      counters_.readings_refused += values;
      counters_.refused_by_source[trace.source] += values;
    }
  }
  finished_.clear();
}

bool Pipeline::submit(PendingMessage message) {
  if (!outbox_.submit(std::move(message))) return false;
  ++counters_.messages;
  return true;
}

}  // namespace guardian::gateway
