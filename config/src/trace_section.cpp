// Reading the `traces` section: trace captures (trace_config.hpp). Like processing rules, a capture
// is checked against the adapters read before it — its source, its points and the points of its
// conditions must exist, sampled points must be numeric, a summary record must be one the source
// sends — so that a misspelt name fails at load time instead of capturing nothing.

#include <algorithm>
#include <array>
#include <set>
#include <variant>

#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;

/// A capture holds at most this many samples (points × samples per point): 2 MiB of doubles.
constexpr std::size_t kMaxTraceSamples = 262'144;

constexpr std::array<Choice<TraceTelemetry>, 3> kTelemetry{{{"all", TraceTelemetry::all},
                                                            {"outside", TraceTelemetry::outside},
                                                            {"none", TraceTelemetry::none}}};

/// What is known about the sources of the site: their points, which of them carry numbers, and
/// the record types each stream source sends.
struct KnownSources {
  DeclaredPoints points;
  std::set<std::string, std::less<>> numeric;  // "<source>/<point>"
  DeclaredPoints records;
};

bool numeric_field(const FieldSpec& f) {
  return f.type == FieldType::integer || f.type == FieldType::real ||
         f.type == FieldType::boolean;
}

KnownSources known_sources(const SiteConfig& config) {
  KnownSources known;
  known.points = declared_points(config);
  for (const auto& adapter : config.adapters) {
    if (const auto* modbus = std::get_if<ModbusAdapterConfig>(&adapter)) {
      for (const auto& device : modbus->devices)
        for (const auto& point : device.points)
          if (point.type != DataType::string && point.enum_map.empty())
            known.numeric.insert(device.name + "/" + point.name);
    } else if (const auto* stream = std::get_if<StreamAdapterConfig>(&adapter)) {
      std::vector<std::string> sources;
      if (!stream->source.empty()) sources.push_back(stream->source);
      for (const auto& peer : stream->peers) sources.push_back(peer.source);
      for (const auto& message : messages_of(stream->codec))
        for (const auto& source : sources) {
          if (message.record) {
            known.records[source].push_back(message.name);
            continue;
          }
          for (const auto& field : message.fields)
            if (numeric_field(field)) known.numeric.insert(source + "/" + field.name);
        }
    }
  }
  return known;
}

class TraceReader {
 public:
  TraceReader(const KnownSources& known, UniqueNames& names) : known_(known), names_(names) {}

  void read(ObjectReader& r, std::vector<TraceConfig>& out) {
    TraceConfig trace;
    const auto name = r.required("name", identifier());
    const auto source = r.required("source", identifier());
    const std::vector<std::string>* points = nullptr;
    if (source) {
      const auto it = known_.points.find(*source);
      if (it != known_.points.end()) {
        points = &it->second;
      } else {
        std::vector<std::string> sources;
        for (const auto& [s, p] : known_.points) sources.push_back(s);
        r.error("source", unknown_name_message("source", *source, sources) +
                              "; a capture names a device or a stream source declared under adapters");
      }
      if (name)
        r.require_unique("name", *source + "/" + *name, names_, "trace",
                         "a source's traces have different names");
    }

    if (auto sampled = r.scalars("points", identifier())) {
      if (sampled->empty()) r.error("points", "the list is empty: name at least one point");
      std::set<std::string> seen;
      for (const auto& point : *sampled) {
        if (!seen.insert(point).second) {
          r.error("points", "'" + point + "' is listed twice");
        } else if (points != nullptr && check_point(r, "points", *source, point, *points)) {
          if (!known_.numeric.contains(*source + "/" + point))
            r.error("points", "'" + point + "' is not numeric: a trace samples numbers (true "
                              "counts as 1); put labels and text in the summary instead");
        }
      }
      trace.points = std::move(*sampled);
    } else if (!r.has("points")) {
      r.error("missing required key 'points' (the list of points to sample)");
    }

    const auto read_condition = [&](std::string_view key, std::optional<TraceCondition>& into) {
      r.section(key, key == "start" ? Presence::required : Presence::optional,
                [&](ObjectReader& c) { into = condition(c, source, points); });
    };
    std::optional<TraceCondition> start;
    read_condition("start", start);
    if (start) trace.start = std::move(*start);
    read_condition("end", trace.end);

    r.read("sample_interval", trace.sample_interval, duration_in(10ms, 60s));
    r.read("max_duration", trace.max_duration, duration_in(1s, std::chrono::days{1}));
    const auto samples = trace.max_samples() * std::max<std::size_t>(trace.points.size(), 1);
    if (samples > kMaxTraceSamples)
      r.error(r.has("max_duration") ? "max_duration" : "sample_interval",
              "a capture of " + std::to_string(trace.points.size()) + " point(s) for " +
                  std::to_string(trace.max_duration.count()) + " ms every " +
                  std::to_string(trace.sample_interval.count()) + " ms holds " +
                  std::to_string(samples) + " samples; at most " +
                  std::to_string(kMaxTraceSamples) +
                  ": shorten max_duration, sample less often or split the points");

    if (auto summary = r.scalars("summary", identifier())) {
      if (points != nullptr)
        for (const auto& point : *summary) check_point(r, "summary", *source, point, *points);
      trace.summary = std::move(*summary);
    }
    if (auto record = r.optional("summary_record", identifier())) {
      const auto it = source ? known_.records.find(*source) : known_.records.end();
      if (it == known_.records.end()) {
        if (points != nullptr)
          r.error("summary_record", "source '" + *source +
                                        "' sends no records: a summary record is a message "
                                        "with record: true of a stream source");
      } else if (std::find(it->second.begin(), it->second.end(), *record) == it->second.end()) {
        r.error("summary_record", unknown_name_message("record", *record, it->second) +
                                      " of source '" + *source + "'");
      }
      trace.summary_record = std::move(*record);
    }
    r.read("summary_wait", trace.summary_wait, duration_in(0ms, 60s));
    if (r.has("summary_wait") && !r.has("summary_record"))
      r.error("summary_wait", "'summary_wait' only applies together with 'summary_record'");
    r.read("telemetry", trace.telemetry, one_of(kTelemetry));

    trace.name = name.value_or("");
    trace.source = source.value_or("");
    out.push_back(std::move(trace));
  }

 private:
  // Reports `point` under `key` when `source` does not declare it; true when it does.
  static bool check_point(ObjectReader& r, std::string_view key, const std::string& source,
                          const std::string& point, const std::vector<std::string>& points) {
    if (std::find(points.begin(), points.end(), point) != points.end()) return true;
    r.error(key, unknown_name_message("point", point, points) + " of source '" + source + "'");
    return false;
  }

  std::optional<TraceCondition> condition(ObjectReader& c, const std::optional<std::string>& source,
                                          const std::vector<std::string>* points) {
    TraceCondition out;
    const auto point = c.required("point", identifier());
    const bool known = point && points != nullptr && check_point(c, "point", *source, *point, *points);
    int tests = 0;
    if (auto v = c.optional("equals", text())) {
      out.test = TraceCondition::Test::equals;
      out.operand = std::move(*v);
      ++tests;
    }
    if (auto v = c.optional("not_equals", text())) {
      out.test = TraceCondition::Test::not_equals;
      out.operand = std::move(*v);
      ++tests;
    }
    for (const auto& [key, test] : {std::pair{"above", TraceCondition::Test::above},
                                    std::pair{"below", TraceCondition::Test::below}}) {
      if (auto v = c.optional(key, real())) {
        out.test = test;
        out.number = *v;
        ++tests;
        if (known && !known_.numeric.contains(*source + "/" + *point))
          c.error(key, "'" + *point + "' is not numeric: compare it with equals or not_equals");
      }
    }
    if (tests != 1) {
      c.error("a condition has exactly one of 'equals', 'not_equals', 'above', 'below'");
      return std::nullopt;
    }
    if (!point) return std::nullopt;
    out.point = *point;
    return out;
  }

  const KnownSources& known_;
  UniqueNames& names_;
};

}  // namespace

void read_traces(ObjectReader& r, SiteConfig& config) {
  const KnownSources known = known_sources(config);
  UniqueNames names;
  TraceReader reader(known, names);
  r.list("traces", Items::may_be_empty,
         [&](ObjectReader& item) { reader.read(item, config.traces); });
}

}  // namespace guardian::config::detail
