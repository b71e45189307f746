// Reading the `processing` section: edge processing rules per point (processing_config.hpp).
// A rule is checked against the adapters read before it: its source must be one they declare and
// its points must be points of that source, so that a misspelt name fails at load time instead of
// silently processing nothing.

#include <algorithm>
#include <array>
#include <map>
#include <variant>

#include "near_miss.hpp"
#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;
using std::chrono::days;

constexpr std::array<Choice<AggregateFunction>, 5> kAggregateFunctions{
    {{"min", AggregateFunction::min},
     {"max", AggregateFunction::max},
     {"mean", AggregateFunction::mean},
     {"count", AggregateFunction::count},
     {"last", AggregateFunction::last}}};

constexpr std::array<Choice<CounterKind>, 3> kCounterKinds{{{"changes", CounterKind::changes},
                                                            {"cycles", CounterKind::cycles},
                                                            {"run_hours", CounterKind::run_hours}}};

constexpr std::array<Choice<PointPriority>, 2> kPriorities{
    {{"routine", PointPriority::routine}, {"alarm", PointPriority::alarm}}};

/// `deadband:` an amount in the point's unit ("0.5") or a percentage of the last value sent
/// ("2%"), never negative.
ScalarParser<Deadband> deadband_amount() {
  static constexpr std::string_view kExpected =
      "a deadband: an amount in the point's unit (e.g. 0.5) or a percentage (e.g. 2%), at least 0";
  return {std::string(kExpected), [](std::string_view text) -> result<Deadband> {
            Deadband d;
            std::string_view number = text;
            if (text.ends_with('%')) {
              d.kind = Deadband::Kind::percent;
              number = text.substr(0, text.size() - 1);
            }
            auto value = real().parse(number);
            if (!value || value.value() < 0) return expected_but_got(kExpected, text);
            d.amount = value.value();
            return d;
          }};
}

void read_rule(ObjectReader& r, const DeclaredPoints& declared, UniqueNames& claimed,
               std::vector<PointProcessing>& out) {
  PointProcessing rule;
  const auto source = r.required("source", identifier());
  const std::vector<std::string>* known = nullptr;
  if (source) {
    const auto it = declared.find(*source);
    if (it != declared.end()) known = &it->second;
  }
  if (source && known == nullptr) {
    std::vector<std::string> sources;
    for (const auto& [name, points] : declared) sources.push_back(name);
    r.error("source", unknown_name_message("source", *source, sources) +
                          "; a rule names a device or a stream source declared under adapters");
  }

  std::vector<std::string> points;
  const char* points_key = r.has("points") ? "points" : "point";
  auto one = r.optional("point", identifier());
  auto many = r.scalars("points", identifier());
  if (r.has("point") && r.has("points")) {
    r.error("points", "write either 'point' (one) or 'points' (a list), not both");
  } else if (one) {
    points.push_back(std::move(*one));
  } else if (many) {
    points = std::move(*many);
    if (points.empty()) r.error("points", "the list is empty: name at least one point");
  } else if (!r.has("point") && !r.has("points")) {
    r.error("missing required key 'point' (or 'points', a list)");
  }
  // Each point once per rule and once across the whole section.
  for (const auto& point : points) {
    if (known != nullptr && std::find(known->begin(), known->end(), point) == known->end()) {
      r.error(points_key,
              unknown_name_message("point", point, *known) + " of source '" + *source + "'");
      continue;
    }
    if (source)
      r.require_unique(points_key, *source + "/" + point, claimed, "processing rule for",
                       "a point has at most one processing rule");
  }

  std::optional<Deadband> deadband = r.optional("deadband", deadband_amount());
  const auto heartbeat = r.optional("heartbeat", duration_in(1s, days{1}));
  if (deadband && heartbeat) deadband->heartbeat = *heartbeat;
  if (r.has("heartbeat") && !r.has("deadband"))
    r.error("heartbeat", "a heartbeat only applies together with a deadband");
  rule.deadband = deadband;

  const bool has_aggregate = r.section("aggregate", Presence::optional, [&](ObjectReader& a) {
    Aggregate aggregate;
    a.read("interval", aggregate.interval, duration_in(1s, days{1}));
    if (auto functions = a.scalars("functions", one_of(kAggregateFunctions))) {
      if (functions->empty()) a.error("functions", "the list is empty: name at least one");
      aggregate.functions = std::move(*functions);
    } else if (!a.has("functions")) {
      for (const auto& f : kAggregateFunctions) aggregate.functions.push_back(f.value);
    }
    rule.aggregate = std::move(aggregate);
  });
  if (has_aggregate && r.has("deadband"))
    r.error("aggregate",
            "a point is either aggregated or sent by exception (deadband), not both: keep one");

  const auto kinds = r.scalars("counters", one_of(kCounterKinds));
  const auto counter_interval = r.optional("counter_interval", duration_in(1s, days{1}));
  const auto on_above = r.optional("on_above", real());
  if (kinds) {
    if (kinds->empty()) r.error("counters", "the list is empty: name at least one counter");
    Counters counters;
    counters.kinds = *kinds;
    if (counter_interval) counters.interval = *counter_interval;
    if (on_above) counters.on_above = *on_above;
    rule.counters = std::move(counters);
  } else if (!r.has("counters")) {
    for (const std::string_view key : {"counter_interval", "on_above"})
      if (r.has(key))
        r.error(key, "'" + std::string(key) + "' only applies together with 'counters'");
  }

  r.read("priority", rule.priority, one_of(kPriorities));
  if (!r.has("deadband") && !r.has("aggregate") && !r.has("counters") && !r.has("priority"))
    r.error(
        "a processing rule needs at least one of 'deadband', 'aggregate', 'counters', 'priority'");

  for (auto& point : points) {
    PointProcessing per_point = rule;
    per_point.source = source.value_or("");
    per_point.point = std::move(point);
    out.push_back(std::move(per_point));
  }
}

}  // namespace

DeclaredPoints declared_points(const SiteConfig& config) {
  DeclaredPoints out;
  const auto add = [&](const std::string& source, const std::vector<std::string>& points) {
    auto& names = out[source];
    for (const auto& point : points)
      if (std::find(names.begin(), names.end(), point) == names.end()) names.push_back(point);
  };
  for (const auto& adapter : config.adapters) {
    if (const auto* modbus = std::get_if<ModbusAdapterConfig>(&adapter)) {
      for (const auto& device : modbus->devices) {
        std::vector<std::string> points;
        for (const auto& point : device.points) points.push_back(point.name);
        add(device.name, points);
      }
    } else if (const auto* stream = std::get_if<StreamAdapterConfig>(&adapter)) {
      std::vector<std::string> points;
      for (const auto& message : messages_of(stream->codec))
        if (!message.record)
          for (const auto& field : message.fields)
            if (field.name != stream->source_field) points.push_back(field.name);
      if (!stream->source.empty()) add(stream->source, points);
      for (const auto& peer : stream->peers) add(peer.source, points);
    }
  }
  return out;
}

std::string unknown_name_message(std::string_view what, const std::string& name,
                                 const std::vector<std::string>& known) {
  std::vector<std::string_view> candidates(known.begin(), known.end());
  std::string message = "unknown " + std::string(what) + " '" + name + "'";
  if (const auto near = closest_match(name, candidates))
    message += " (did you mean '" + std::string(*near) + "'?)";
  else if (!candidates.empty() && candidates.size() <= 12)
    message += "; known: " + quoted_list(candidates);
  return message;
}

void read_processing(ObjectReader& r, SiteConfig& config) {
  const DeclaredPoints declared = declared_points(config);
  UniqueNames claimed;
  r.list("processing", Items::may_be_empty,
         [&](ObjectReader& item) { read_rule(item, declared, claimed, config.processing); });
}

}  // namespace guardian::config::detail
