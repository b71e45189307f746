#include "guardian/gateway/source_watch.hpp"

#include <chrono>

namespace guardian::gateway {
namespace {

// Not answering: comm_fail, waiting to reconnect, or connecting again after it had answered
// ("connecting" before the first answer is the normal start, not a failure).
bool is_down(const adapters::SourceHealth& s) {
  return s.state == "comm_fail" || s.state == "backoff" ||
         (s.state == "connecting" && s.last_ok != Timestamp{});
}

std::string duration_text(Timestamp from, Timestamp to) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  return std::to_string(s / 3600) + " h";
}

}  // namespace

std::vector<LogLine> SourceWatch::observe(const std::vector<adapters::AdapterHealth>& adapters,
                                          Timestamp now) {
  std::vector<LogLine> lines;
  for (const auto& adapter : adapters) {
    for (const auto& source : adapter.sources) {
      const bool down = is_down(source);
      auto [it, fresh] = seen_.try_emplace({adapter.name, source.source});
      Seen& seen = it->second;
      const std::string who = adapter.name + "/" + source.source;
      if (fresh) seen.last_pass = now;
      if (down && (fresh || !seen.failing)) {
        lines.push_back({log::Level::warn,
                         who + ": " + source.state +
                             (source.last_error.empty() ? std::string{}
                                                        : ": " + source.last_error)});
        seen.failing = true;
        seen.since = now;
      } else if (!down && seen.failing && source.state == "ok") {
        lines.push_back(
            {log::Level::info, who + ": answering again after " + duration_text(seen.since, now)});
        seen.failing = false;
        seen.since = now;
      }
      watch_checksums(who, source, seen, now, lines);
    }
  }
  return lines;
}

// A device that talks but whose every line fails its checksum looks "ok" to a connection state:
// wrong checksum type or byte order, or noise on the line. Said once, with what to run.
void SourceWatch::watch_checksums(const std::string& who, const adapters::SourceHealth& source,
                                  Seen& seen, Timestamp now, std::vector<LogLine>& lines) {
  const auto counter = [&](const char* name) -> std::uint64_t {
    const auto it = source.counters.find(name);
    return it == source.counters.end() ? 0 : it->second;
  };
  const auto messages = counter("messages");
  const auto bad = counter("bad_checksum");
  if (messages > seen.messages) {
    if (seen.checksum_warned)
      lines.push_back({log::Level::info,
                       who + ": lines and frames pass their checksum again (" +
                           std::to_string(seen.failed_since_pass) + " failed meanwhile)"});
    seen.checksum_warned = false;
    seen.last_pass = now;
    seen.failed_since_pass = 0;
  }
  if (bad > seen.bad_checksum) seen.failed_since_pass += bad - seen.bad_checksum;
  seen.messages = messages;
  seen.bad_checksum = bad;
  if (!seen.checksum_warned && seen.failed_since_pass > 0 && now - seen.last_pass >= kChecksumSilence) {
    lines.push_back(
        {log::Level::warn,
         who + ": no line or frame has passed its checksum for " +
             duration_text(seen.last_pass, now) + " (" + std::to_string(seen.failed_since_pass) +
             " failed): is the codec's checksum the device's? `guardian probe` with --adapter "
             "names one that matches"});
    seen.checksum_warned = true;
  }
}

}  // namespace guardian::gateway
