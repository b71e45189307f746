#include "guardian/gateway/health.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include "guardian/common/time_format.hpp"
#include "guardian/gateway/payload.hpp"

namespace guardian::gateway {
namespace {

double seconds_between(Timestamp from, Timestamp to) {
  return std::chrono::duration<double>(to - from).count();
}

nlohmann::json source_json(const adapters::SourceHealth& s) {
  nlohmann::json j{{"source", s.source},       {"state", s.state},
                   {"polls", s.polls},         {"requests", s.requests},
                   {"responses", s.responses}, {"timeouts", s.timeouts},
                   {"errors", s.errors},       {"rtt_ms", s.rtt_ms_last},
                   {"rtt_ms_avg", s.rtt_ms_avg}};
  j["last_ok"] = s.last_ok == Timestamp{} ? nlohmann::json() : nlohmann::json(format_rfc3339(s.last_ok));
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  if (!s.counters.empty()) j["counters"] = s.counters;
  return j;
}

// Resident memory and threads of this process (/proc/self/status), for fleet-wide leak watching.
nlohmann::json process_json() {
  std::ifstream status("/proc/self/status");
  std::uint64_t rss_kib = 0, hwm_kib = 0, threads = 0;
  for (std::string line; std::getline(status, line);) {
    std::istringstream in(line);
    std::string key;
    std::uint64_t value = 0;
    in >> key >> value;
    if (key == "VmRSS:") rss_kib = value;
    if (key == "VmHWM:") hwm_kib = value;
    if (key == "Threads:") threads = value;
  }
  return {{"rss_bytes", rss_kib * 1024}, {"peak_rss_bytes", hwm_kib * 1024}, {"threads", threads}};
}

}  // namespace

nlohmann::json reading_json(const Reading& r) {
  std::string out;
  append_reading_json(out, r);
  return nlohmann::json::parse(out);
}

nlohmann::json health_json(const GatewayView& v, Timestamp now) {
  nlohmann::json j;
  j["v"] = kSchemaVersion;
  j["device"] = v.site.device_id;
  j["ts"] = format_rfc3339(now);
  j["uptime_s"] = static_cast<std::int64_t>(seconds_between(v.started, now));
  j["process"] = process_json();

  const auto& uc = v.uplink.counters();
  const auto info = v.uplink.link_info();
  nlohmann::json link{{"state", to_string(v.uplink.state())},
                      {"since", format_rfc3339(uc.state_since)},
                      {"kind", info.kind},
                      {"published", uc.published},
                      {"acknowledged", uc.acknowledged},
                      {"in_flight", v.uplink.in_flight()},
                      {"connects", uc.connects},
                      {"connect_failures", uc.connect_failures},
                      {"connection_losses", uc.connection_losses},
                      {"received", uc.received},
                      {"skipped_dropped", uc.skipped_dropped},
                      {"refused", uc.refused},
                      {"split", uc.split},
                      {"parts_published", uc.parts_published}};
  if (uc.mqtt_version != 0) link["mqtt"] = uc.mqtt_version >= 5 ? "5" : "3.1.1";
  if (uc.window != 0) link["window"] = uc.window;
  if (uc.broker_max_packet != 0) link["broker_max_packet"] = uc.broker_max_packet;
  if (!uc.last_error.empty()) link["last_error"] = uc.last_error;
  if (info.cert_not_after) {
    link["cert_not_after"] = format_rfc3339(*info.cert_not_after);
    link["cert_expires_in_s"] = static_cast<std::int64_t>(seconds_between(now, *info.cert_not_after));
  }
  if (!info.identity.empty()) link["identity"] = info.identity;
  // The link's own counters (the tunnel's attestations, refused local connections, …).
  if (!info.counters.empty()) link["secure"] = info.counters;
  if (!info.last_error.empty()) link["link_error"] = info.last_error;
  j["link"] = std::move(link);

  const auto qs = v.outbox.stats();
  const auto& oc = v.outbox.counters();
  const auto& pc = v.pipeline.counters();
  nlohmann::json queue{
      {"depth", qs.depth},
      {"readings", qs.readings},
      {"bytes", qs.bytes},
      {"max_bytes", v.site.queue.max_bytes},
      {"when_full",
       v.site.queue.when_full == config::FullPolicy::drop_oldest ? "drop_oldest" : "reject_new"},
      {"pending_bytes", v.outbox.pending_bytes()},
      {"last_seq", qs.last_seq},
      {"committed", oc.committed},
      {"commits", oc.commits},
      {"rejected", oc.rejected},
      {"commit_errors", oc.commit_errors},
      {"acknowledged", oc.acknowledged},
      {"readings_refused", pc.readings_refused},
      {"gaps_reported", oc.gaps_reported},
      {"gaps_pending", qs.gaps_pending},
      {"dropped_messages", qs.dropped_messages},
      {"expired", oc.expired},
      {"disk_full", qs.disk_full},
      {"disk_full_errors", oc.disk_full_errors}};
  queue["oldest_age_s"] =
      qs.oldest_created ? nlohmann::json(seconds_between(*qs.oldest_created, now)) : nlohmann::json(0.0);
  // Readings and records dropped since start, by reason (each is also reported on `gaps`).
  nlohmann::json dropped = nlohmann::json::object();
  for (std::size_t i = 0; i < kDropReasonCount; ++i)
    dropped[to_string(static_cast<DropReason>(i))] = qs.dropped[i];
  queue["dropped"] = std::move(dropped);
  // Per source: what it holds in the queue, and what back-pressure refused from it.
  nlohmann::json by_source = nlohmann::json::object();
  for (const auto& [source, usage] : qs.sources)
    by_source[source] = {{"messages", usage.messages}, {"bytes", usage.bytes}, {"refused", 0}};
  for (const auto& [source, refused] : pc.refused_by_source) {
    auto& entry = by_source[source];
    if (!entry.contains("messages")) entry = {{"messages", 0}, {"bytes", 0}};
    entry["refused"] = refused;
  }
  queue["sources"] = std::move(by_source);
  if (qs.quarantine)
    queue["quarantine"] = {{"moved_to", qs.quarantine->moved_to.string()},
                           {"reason", qs.quarantine->reason},
                           {"at", format_rfc3339(qs.quarantine->when)},
                           {"seq_floor", qs.quarantine->seq_floor}};
  if (!oc.last_error.empty()) queue["last_error"] = oc.last_error;
  j["queue"] = std::move(queue);

  const auto& ec = v.pipeline.edge_counters();
  j["edge"] = {{"suppressed", ec.suppressed},
               {"aggregated", ec.aggregated},
               {"windows", ec.windows},
               {"counter_reports", ec.counter_reports}};
  const auto& tc = v.pipeline.trace_counters();
  j["traces"] = {{"open", v.pipeline.open_traces()}, {"captured", tc.captured},
                 {"samples", tc.samples},           {"replaced", tc.replaced},
                 {"missing", tc.missing},           {"late", tc.late},
                 {"unsummarised", tc.unsummarised}};

  nlohmann::json adapters = nlohmann::json::array();
  for (const auto& a : v.adapters) {
    const auto h = a->health();
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& s : h.sources) sources.push_back(source_json(s));
    nlohmann::json adapter{{"name", h.name}, {"type", h.type}, {"state", h.state}};
    if (!h.warnings.empty()) adapter["warnings"] = h.warnings;
    if (!h.counters.empty()) adapter["counters"] = h.counters;
    adapter["sources"] = std::move(sources);
    adapters.push_back(std::move(adapter));
  }
  j["adapters"] = std::move(adapters);
  return j;
}

static std::map<std::string, std::chrono::milliseconds> poll_periods(const config::SiteConfig& site) {
  std::map<std::string, std::chrono::milliseconds> periods;
  struct Periods {
    std::map<std::string, std::chrono::milliseconds>& out;
    void operator()(const config::ModbusAdapterConfig& m) const {
      for (const auto& d : m.devices) out[d.name] = d.poll_interval;
    }
    // A polled stream device has a period; one that pushes when it likes has none (its silence
    // is reported by the adapter itself, as comm_fail after silence_timeout).
    void operator()(const config::StreamAdapterConfig& s) const {
      if (!s.poll) return;
      if (!s.source.empty()) out[s.source] = s.poll->interval;
      for (const auto& peer : s.peers) out[peer.source] = s.poll->interval;
    }
  };
  for (const auto& adapter : site.adapters) std::visit(Periods{periods}, adapter);
  return periods;
}

nlohmann::json status_json(const GatewayView& v, Timestamp now) {
  auto j = health_json(v, now);
  // A value not refreshed within kStaleFactor poll periods is shown as stale: the last known
  // value, no longer current (DESIGN.md quality "stale").
  constexpr int kStaleFactor = 3;
  const auto periods = poll_periods(v.site);
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [source, points] : v.pipeline.last_values()) {
    const auto period = periods.find(source);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, reading] : points) {
      auto rj = reading_json(reading);
      if (period != periods.end() && reading.quality == Quality::good &&
          now - reading.source_ts > kStaleFactor * period->second)
        rj["quality"] = to_string(Quality::stale);
      list.push_back(std::move(rj));
    }
    values[source] = std::move(list);
  }
  j["values"] = std::move(values);
  return j;
}

}  // namespace guardian::gateway
