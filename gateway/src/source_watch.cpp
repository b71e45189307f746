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
      if (down && (fresh || !seen.failing)) {
        lines.push_back({log::Level::warn,
                         who + ": " + source.state +
                             (source.last_error.empty() ? std::string{}
                                                        : ": " + source.last_error)});
        seen = {true, now};
      } else if (!down && seen.failing && source.state == "ok") {
        lines.push_back(
            {log::Level::info, who + ": answering again after " + duration_text(seen.since, now)});
        seen = {false, now};
      }
    }
  }
  return lines;
}

}  // namespace guardian::gateway
