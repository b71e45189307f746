#pragma once
/// \file
/// Turns adapter health snapshots into log lines a technician reads in journald: a source that
/// stops answering (comm_fail, a lost connection) and one that answers again, each once, with the
/// reason and how long it lasted. Pure: the gateway feeds it a snapshot every second; tested
/// directly.
///
///   ok ──▶ comm_fail | connecting | backoff    warn  "bus/espresso-1: comm_fail: no answer …"
///   comm_fail | … ──▶ ok                       info  "bus/espresso-1: answering again after 12 s"
///   first seen failing                          warn  (a device that never answered)

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "guardian/adapters/adapter.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/reading.hpp"

namespace guardian::gateway {

struct LogLine {
  log::Level level = log::Level::info;
  std::string message;
};

class SourceWatch {
 public:
  /// The transitions since the previous snapshot, in adapter and source order.
  [[nodiscard]] std::vector<LogLine> observe(const std::vector<adapters::AdapterHealth>& adapters,
                                             Timestamp now);

 private:
  struct Seen {
    bool failing = false;
    Timestamp since{};
  };
  std::map<std::pair<std::string, std::string>, Seen> seen_;  // (adapter, source)
};

}  // namespace guardian::gateway
