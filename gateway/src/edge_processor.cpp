#include "guardian/gateway/edge_processor.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>
#include <variant>

namespace guardian::gateway {
namespace {

using config::AggregateFunction;
using config::CounterKind;

// The numeric value of a reading, if it has one (booleans are states, not magnitudes).
std::optional<double> numeric(const Value& v) { return numeric_value(v); }

// Whether a value means "on" for the counters: true, or a number above the threshold.
bool is_on(const Value& v, double on_above) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto n = numeric(v)) return *n > on_above;
  if (const auto* s = std::get_if<std::string>(&v)) return !s->empty();
  return false;
}

const char* function_name(AggregateFunction f) {
  switch (f) {
    case AggregateFunction::min:
      return "min";
    case AggregateFunction::max:
      return "max";
    case AggregateFunction::mean:
      return "mean";
    case AggregateFunction::count:
      return "count";
    case AggregateFunction::last:
      return "last";
  }
  return "last";
}

const char* counter_name(CounterKind k) {
  switch (k) {
    case CounterKind::changes:
      return "changes";
    case CounterKind::cycles:
      return "cycles";
    case CounterKind::run_hours:
      return "run_hours";
  }
  return "changes";
}

Timestamp window_start(Timestamp ts, std::chrono::milliseconds interval) {
  const auto ms = ts.time_since_epoch().count();
  const auto step = interval.count();
  const auto floor = ms >= 0 ? ms - ms % step : ms - ((ms % step) + step) % step;
  return Timestamp{std::chrono::milliseconds{floor}};
}

std::string state_key(const std::string& source, const std::string& point) {
  return "counters/" + source + "/" + point;
}

}  // namespace

EdgeProcessor::EdgeProcessor(std::span<const config::PointProcessing> rules,
                             const std::map<std::string, std::string>& saved)
    : rules_(rules.begin(), rules.end()) {
  for (const auto& rule : rules_) {
    auto& p = points_[rule.source][rule.point];
    p.rule = &rule;
    if (!rule.counters) continue;
    // "changes cycles on_ms", written by take_state_changes().
    if (const auto it = saved.find(state_key(rule.source, rule.point)); it != saved.end()) {
      std::istringstream in(it->second);
      CounterState c;
      if (in >> c.changes >> c.cycles >> c.on_ms) {
        p.counter.changes = c.changes;
        p.counter.cycles = c.cycles;
        p.counter.on_ms = c.on_ms;
      }
    }
  }
}

bool EdgeProcessor::is_alarm(const std::string& source, const std::string& point) const {
  const auto s = points_.find(source);
  if (s == points_.end()) return false;
  const auto p = s->second.find(point);
  return p != s->second.end() && p->second.rule->priority == config::PointPriority::alarm;
}

void EdgeProcessor::process(const Reading& r, std::vector<Reading>& out) {
  const auto s = points_.find(r.source);
  if (s == points_.end()) {
    out.push_back(r);
    return;
  }
  const auto it = s->second.find(r.point);
  if (it == s->second.end()) {
    out.push_back(r);
    return;
  }
  PointState& p = it->second;
  const auto& rule = *p.rule;
  if (rule.counters) count(p, r);
  if (rule.aggregate) {
    fold(p, r, out);
  } else if (rule.deadband) {
    if (deadband_passes(p, r)) {
      p.last_sent = r;
      out.push_back(r);
    } else {
      ++counters_.suppressed;
    }
  } else {
    out.push_back(r);
  }
}

bool EdgeProcessor::deadband_passes(PointState& p, const Reading& r) {
  if (!p.last_sent) return true;
  const Reading& last = *p.last_sent;
  const auto& band = *p.rule->deadband;
  if (r.quality != last.quality) return true;
  // Report-by-exception still reports: an unchanging value is sent once per heartbeat.
  if (r.source_ts - last.source_ts >= band.heartbeat) return true;
  const auto now_value = numeric(r.value);
  const auto last_value = numeric(last.value);
  if (!now_value || !last_value) return !(r.value == last.value);
  const double moved = std::abs(*now_value - *last_value);
  const double threshold = band.kind == config::Deadband::Kind::absolute
                               ? band.amount
                               : band.amount / 100.0 * std::abs(*last_value);
  return moved > threshold;
}

void EdgeProcessor::fold(PointState& p, const Reading& r, std::vector<Reading>& out) {
  const auto interval = p.rule->aggregate->interval;
  const Timestamp start = window_start(r.source_ts, interval);
  if (p.window && start > p.window->start) close_window(p, r.source, r.point, out);
  if (!p.window) p.window = Window{start};
  Window& w = *p.window;
  ++counters_.aggregated;
  w.last = r;
  if (r.quality != Quality::good) return;
  ++w.good;
  if (const auto v = numeric(r.value)) {
    if (w.numeric == 0) {
      w.min = w.max = *v;
    } else {
      w.min = std::min(w.min, *v);
      w.max = std::max(w.max, *v);
    }
    w.sum += *v;
    ++w.numeric;
  }
}

void EdgeProcessor::close_window(PointState& p, const std::string& source, const std::string& point,
                                 std::vector<Reading>& out) {
  if (!p.window) return;
  const Window w = std::move(*p.window);
  p.window.reset();
  ++counters_.windows;
  const Reading& last = *w.last;
  for (const auto f : p.rule->aggregate->functions) {
    Reading a;
    a.source = source;
    a.point = point + "." + function_name(f);
    a.unit = last.unit;
    a.source_ts = w.start;
    a.quality = Quality::good;
    switch (f) {
      case AggregateFunction::count:
        a.value = w.good;
        a.unit.clear();
        break;
      case AggregateFunction::last:
        a.value = last.value;
        a.quality = last.quality;
        a.error = last.error;
        break;
      case AggregateFunction::min:
      case AggregateFunction::max:
      case AggregateFunction::mean:
        if (w.numeric == 0) {
          // Nothing to compute from: say why, with the quality of what was seen.
          a.value = std::monostate{};
          a.quality = last.quality == Quality::good ? Quality::bad : last.quality;
          a.error = "no good numeric reading in the window";
        } else {
          a.value = f == AggregateFunction::min   ? w.min
                    : f == AggregateFunction::max ? w.max
                                                  : w.sum / static_cast<double>(w.numeric);
        }
        break;
    }
    out.push_back(std::move(a));
  }
}

void EdgeProcessor::count(PointState& p, const Reading& r) {
  CounterState& c = p.counter;
  if (c.unit_hint.empty()) c.unit_hint = r.unit;
  if (r.quality != Quality::good) {
    // The gateway is blind: the time until the next good reading is not counted as "on".
    c.last_value.reset();
    return;
  }
  const double on_above = p.rule->counters->on_above;
  const bool on = is_on(r.value, on_above);
  if (c.last_value) {
    if (!(*c.last_value == r.value)) {
      ++c.changes;
      if (on && !c.last_on) ++c.cycles;
    }
    if (c.last_on && r.source_ts > c.last_ts) c.on_ms += (r.source_ts - c.last_ts).count();
  }
  c.last_value = r.value;
  c.last_on = on;
  c.last_ts = r.source_ts;
}

void EdgeProcessor::report_counters(PointState& p, const std::string& source,
                                    const std::string& point, Timestamp now,
                                    std::vector<Reading>& out) {
  const CounterState& c = p.counter;
  for (const auto kind : p.rule->counters->kinds) {
    Reading r;
    r.source = source;
    r.point = point + "." + counter_name(kind);
    r.source_ts = now;
    r.quality = Quality::good;
    switch (kind) {
      case CounterKind::changes:
        r.value = c.changes;
        break;
      case CounterKind::cycles:
        r.value = c.cycles;
        break;
      case CounterKind::run_hours:
        r.value = static_cast<double>(c.on_ms) / 3'600'000.0;
        r.unit = "h";
        break;
    }
    out.push_back(std::move(r));
    ++counters_.counter_reports;
  }
  state_changes_[state_key(source, point)] =
      std::to_string(c.changes) + " " + std::to_string(c.cycles) + " " + std::to_string(c.on_ms);
}

void EdgeProcessor::tick(Timestamp now, std::vector<Reading>& out) {
  for (auto& [source, points] : points_) {
    for (auto& [point, p] : points) {
      const auto& rule = *p.rule;
      if (rule.aggregate && p.window &&
          now >= p.window->start + rule.aggregate->interval + kWindowGrace)
        close_window(p, source, point, out);
      if (rule.counters) {
        auto& next = p.counter.next_report;
        const auto interval = rule.counters->interval;
        if (!next) next = window_start(now, interval) + interval;
        if (now >= *next) {
          report_counters(p, source, point, now, out);
          next = window_start(now, interval) + interval;
        }
      }
    }
  }
}

std::map<std::string, std::string> EdgeProcessor::take_state_changes() {
  return std::exchange(state_changes_, {});
}

}  // namespace guardian::gateway
