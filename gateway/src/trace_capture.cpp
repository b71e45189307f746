#include "guardian/gateway/trace_capture.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

constexpr double kNoSample = std::numeric_limits<double>::quiet_NaN();
// A reading within this fraction of an interval of the slot after the last one filled takes that
// slot: jitter up to ¾ of an interval does not shift a device that pushes at the sample rate.
constexpr double kNextSlotTolerance = 0.75;

// A sample's value: a number, or a boolean as 1 or 0.
std::optional<double> numeric(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  return numeric_value(v);
}

std::optional<double> parse_number(std::string_view text) {
  double out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return out;
}

// equals / not_equals: a label compares as text, a number numerically, a boolean with
// true/false/1/0.
bool equals(const Value& v, const std::string& operand) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s == operand;
  if (const auto* b = std::get_if<bool>(&v))
    return *b ? (operand == "true" || operand == "1") : (operand == "false" || operand == "0");
  const auto x = numeric(v);
  const auto y = parse_number(operand);
  return x && y && *x == *y;
}

bool holds(const config::TraceCondition& c, const Reading& r) {
  switch (c.test) {
    case config::TraceCondition::Test::equals:
      return equals(r.value, c.operand);
    case config::TraceCondition::Test::not_equals:
      return !std::holds_alternative<std::monostate>(r.value) && !equals(r.value, c.operand);
    case config::TraceCondition::Test::above: {
      const auto x = numeric(r.value);
      return x && *x > c.number;
    }
    case config::TraceCondition::Test::below: {
      const auto x = numeric(r.value);
      return x && *x < c.number;
    }
  }
  return false;
}

}  // namespace

const char* to_string(TraceEnd end) noexcept {
  switch (end) {
    case TraceEnd::condition:
      return "condition";
    case TraceEnd::max_duration:
      return "max_duration";
    case TraceEnd::source_lost:
      return "source_lost";
    case TraceEnd::stopped:
      return "stopped";
  }
  return "condition";
}

TraceCapture::TraceCapture(std::span<const config::TraceConfig> traces) {
  traces_.reserve(traces.size());
  for (const auto& t : traces) {
    State s;
    s.config = t;
    s.summary_points.resize(t.summary.size());
    traces_.push_back(std::move(s));
  }
}

std::size_t TraceCapture::open() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      traces_.begin(), traces_.end(), [](const State& s) { return s.phase == Phase::capturing; }));
}

void TraceCapture::on_batch(const std::string& source, std::vector<Reading>& readings,
                            std::vector<CapturedTrace>& done) {
  for (auto& s : traces_) {
    if (s.config.source != source) continue;
    // Summary points first (the poll that ends a shot has its final counts), then conditions: a
    // poll that reads the state and the samples together starts the capture with its own
    // samples, and a poll that ends it adds none.
    for (const auto& r : readings)
      for (std::size_t i = 0; i < s.config.summary.size(); ++i)
        if (r.point == s.config.summary[i]) s.summary_points[i] = r;
    for (const auto& r : readings) evaluate_conditions(s, r, done);
    for (const auto& r : readings) {
      if (s.phase != Phase::capturing) break;
      for (std::size_t i = 0; i < s.config.points.size() && s.phase == Phase::capturing; ++i)
        if (r.point == s.config.points[i]) place(s, i, r, done);
    }
    const bool diverting = s.config.telemetry == config::TraceTelemetry::none ||
                           (s.config.telemetry == config::TraceTelemetry::outside &&
                            s.phase == Phase::capturing);
    if (diverting)
      std::erase_if(readings, [&](const Reading& r) {
        return std::find(s.config.points.begin(), s.config.points.end(), r.point) !=
               s.config.points.end();
      });
  }
}

void TraceCapture::evaluate_conditions(State& s, const Reading& r,
                                       std::vector<CapturedTrace>& done) {
  const auto& start = s.config.start;
  const auto& end = s.config.end;
  const bool start_point = r.point == start.point;
  const bool end_point = end && r.point == end->point;
  if (!start_point && !end_point) return;
  const bool good = r.quality == Quality::good;
  const bool start_holds = start_point && good && holds(start, r);

  if (s.phase == Phase::capturing) {
    if (!good) {
      close(s, TraceEnd::source_lost, r.source_ts, done);
    } else if (end ? end_point && holds(*end, r) : start_point && !start_holds) {
      close(s, TraceEnd::condition, r.source_ts, done);
    }
  } else if (start_point && start_holds && !s.start_held) {
    // A new capture starts on the edge: a start condition that still holds after a capture
    // ended on its own (max_duration, an end condition) does not start another one.
    if (s.phase == Phase::awaiting_summary) hand_over(s, done);
    open(s, r.source_ts);
  }
  if (start_point) s.start_held = start_holds;
}

void TraceCapture::open(State& s, Timestamp at) {
  s.phase = Phase::capturing;
  s.record.reset();
  auto& t = s.trace;
  t = CapturedTrace{};
  t.source = s.config.source;
  t.type = s.config.name;
  t.start = at;
  t.interval = s.config.sample_interval;
  t.series.resize(s.config.points.size());
  for (std::size_t i = 0; i < t.series.size(); ++i) t.series[i].point = s.config.points[i];
  s.last_slot.assign(t.series.size(), -1);
  s.last_distance.assign(t.series.size(), 0.0);
}

void TraceCapture::place(State& s, std::size_t i, const Reading& r,
                         std::vector<CapturedTrace>& done) {
  auto& t = s.trace;
  if (r.source_ts < t.start) {
    ++counters_.late;
    return;
  }
  const double x = static_cast<double>((r.source_ts - t.start).count()) /
                   static_cast<double>(t.interval.count());
  const std::int64_t last = s.last_slot[i];
  const auto next = static_cast<double>(last + 1);
  std::int64_t slot = 0;
  if (x >= next - kNextSlotTolerance) {
    slot = x <= next + kNextSlotTolerance ? last + 1 : std::llround(x);
  } else {
    // Earlier than the next slot: a second reading for the last one; the nearest keeps it.
    ++counters_.replaced;
    const double distance = std::abs(x - static_cast<double>(last));
    if (last < 0 || distance >= s.last_distance[i]) return;
    slot = last;
  }
  if (static_cast<std::size_t>(slot) >= s.config.max_samples()) {
    close(s, TraceEnd::max_duration, t.start + s.config.max_duration, done);
    return;
  }
  auto& series = t.series[i];
  if (series.unit.empty()) series.unit = r.unit;
  const auto value = r.quality == Quality::good ? numeric(r.value) : std::nullopt;
  if (!value) return;  // the slot stays null; a good reading may still fill it
  const auto index = static_cast<std::size_t>(slot);
  if (series.values.size() <= index) series.values.resize(index + 1, kNoSample);
  if (slot != last) ++counters_.samples;
  series.values[index] = *value;
  s.last_slot[i] = slot;
  s.last_distance[i] = std::abs(x - static_cast<double>(slot));
}

void TraceCapture::close(State& s, TraceEnd why, Timestamp at, std::vector<CapturedTrace>& done) {
  auto& t = s.trace;
  t.end = std::max(at, t.start);
  t.end_reason = why;
  std::size_t length = 0;
  for (const auto& series : t.series) length = std::max(length, series.values.size());
  for (auto& series : t.series) {
    series.values.resize(length, kNoSample);
    counters_.missing += static_cast<std::uint64_t>(
        std::count_if(series.values.begin(), series.values.end(),
                      [](double v) { return std::isnan(v); }));
  }
  for (const auto& reading : s.summary_points)
    if (reading) t.summary.push_back(*reading);
  const bool wait = !s.config.summary_record.empty() && !s.record && why != TraceEnd::stopped &&
                    s.config.summary_wait.count() > 0;
  if (wait) {
    s.phase = Phase::awaiting_summary;
    s.summary_deadline = t.end + s.config.summary_wait;
  } else {
    hand_over(s, done);
  }
}

void TraceCapture::hand_over(State& s, std::vector<CapturedTrace>& done) {
  if (s.record) {
    for (auto& f : s.record->fields) s.trace.summary.push_back(std::move(f));
  } else if (!s.config.summary_record.empty()) {
    ++counters_.unsummarised;
  }
  s.record.reset();
  s.phase = Phase::idle;
  ++counters_.captured;
  done.push_back(std::move(s.trace));
  s.trace = CapturedTrace{};
}

void TraceCapture::on_record(const Record& record, std::vector<CapturedTrace>& done) {
  for (auto& s : traces_) {
    if (s.config.source != record.source || s.config.summary_record != record.type) continue;
    if (s.phase == Phase::capturing) {
      s.record = record;
    } else if (s.phase == Phase::awaiting_summary) {
      s.record = record;
      hand_over(s, done);
    }
  }
}

void TraceCapture::tick(Timestamp now, std::vector<CapturedTrace>& done) {
  for (auto& s : traces_) {
    if (s.phase == Phase::capturing && now >= s.trace.start + s.config.max_duration)
      close(s, TraceEnd::max_duration, s.trace.start + s.config.max_duration, done);
    if (s.phase == Phase::awaiting_summary && now >= s.summary_deadline) hand_over(s, done);
  }
}

void TraceCapture::stop(Timestamp now, std::vector<CapturedTrace>& done) {
  for (auto& s : traces_) {
    if (s.phase == Phase::capturing) close(s, TraceEnd::stopped, now, done);
    if (s.phase == Phase::awaiting_summary) hand_over(s, done);
  }
}

// ── payload ──

namespace {

void append_sample(std::string& out, double v) {
  if (std::isnan(v)) out.append("null");
  else append_json_number(out, v);
}

}  // namespace

std::vector<PendingMessage> encode_trace(const CapturedTrace& trace, std::size_t max_body_bytes) {
  const std::size_t samples = trace.samples();
  // Every value's text, once: the chunks are cut by their exact size.
  std::vector<std::vector<std::string>> text(trace.series.size());
  std::vector<std::size_t> sample_bytes(samples, 0);
  for (std::size_t p = 0; p < trace.series.size(); ++p) {
    text[p].reserve(samples);
    for (std::size_t k = 0; k < samples; ++k) {
      std::string v;
      append_sample(v, trace.series[p].values[k]);
      sample_bytes[k] += v.size() + 1;  // with its comma
      text[p].push_back(std::move(v));
    }
  }
  // The members before the arrays, for a chunk; `summary` only in the first.
  const auto head = [&](std::size_t chunk, std::size_t chunks, std::size_t first) {
    std::string out;
    out.append("\"source\":");
    append_json_string(out, trace.source);
    out.append(",\"type\":");
    append_json_string(out, trace.type);
    out.append(",\"start\":\"");
    append_rfc3339(out, trace.start);
    out.append("\",\"end\":\"");
    append_rfc3339(out, trace.end);
    out.append("\",\"interval_ms\":");
    append_json_number(out, static_cast<std::int64_t>(trace.interval.count()));
    out.append(",\"samples\":");
    append_json_number(out, static_cast<std::uint64_t>(samples));
    out.append(",\"end_reason\":\"");
    out.append(to_string(trace.end_reason));
    out.append("\",\"chunk\":");
    append_json_number(out, static_cast<std::uint64_t>(chunk));
    out.append(",\"chunks\":");
    append_json_number(out, static_cast<std::uint64_t>(chunks));
    out.append(",\"first\":");
    append_json_number(out, static_cast<std::uint64_t>(first));
    if (chunk == 1) {
      out.append(",\"summary\":[");
      for (std::size_t i = 0; i < trace.summary.size(); ++i) {
        if (i) out.push_back(',');
        append_reading_json(out, trace.summary[i]);
      }
      out.push_back(']');
    }
    out.append(",\"points\":[");
    return out;
  };
  const auto point_open = [&](std::size_t p) {
    std::string out;
    out.append(p ? ",{\"name\":" : "{\"name\":");
    append_json_string(out, trace.series[p].point);
    if (!trace.series[p].unit.empty()) {
      out.append(",\"unit\":");
      append_json_string(out, trace.series[p].unit);
    }
    out.append(",\"values\":[");
    return out;
  };
  std::size_t fixed = 2;  // "]}"
  for (std::size_t p = 0; p < trace.series.size(); ++p) fixed += point_open(p).size() + 2;
  // Twenty digits of room for chunk numbers written before the count is known.
  constexpr std::size_t kNumberRoom = 20;

  // The sample ranges: as many samples as fit after the head (the first chunk's carries the
  // summary), at least one.
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  std::size_t k = 0;
  do {
    const std::size_t base = head(ranges.empty() ? 1 : 2, 1, k).size() + kNumberRoom + fixed;
    std::size_t used = base;
    const std::size_t from = k;
    while (k < samples && (k == from || used + sample_bytes[k] <= max_body_bytes))
      used += sample_bytes[k++];
    ranges.emplace_back(from, k);
  } while (k < samples);

  std::vector<PendingMessage> out;
  out.reserve(ranges.size());
  for (std::size_t c = 0; c < ranges.size(); ++c) {
    const auto [from, to] = ranges[c];
    PendingMessage m;
    m.kind = MessageKind::trace;
    m.priority = Priority::record;
    m.source = trace.source;
    m.first_ts = trace.start + trace.interval * static_cast<std::int64_t>(from);
    m.last_ts = std::min(trace.end, trace.start + trace.interval * static_cast<std::int64_t>(
                                                                      to > from ? to - 1 : from));
    m.count = static_cast<std::uint32_t>((to - from) * trace.series.size());
    m.body = head(c + 1, ranges.size(), from);
    for (std::size_t p = 0; p < trace.series.size(); ++p) {
      m.body.append(point_open(p));
      for (std::size_t i = from; i < to; ++i) {
        if (i != from) m.body.push_back(',');
        m.body.append(text[p][i]);
      }
      m.body.append("]}");
    }
    m.body.append("]}");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace guardian::gateway
