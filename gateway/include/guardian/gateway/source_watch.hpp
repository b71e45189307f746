#pragma once
/// \file
/// Turns adapter health snapshots into log lines a technician reads in journald: a source that
/// stops answering (comm_fail, a lost connection) and one that answers again, each once, with the
/// reason and how long it lasted; a stream source whose lines or frames all fail their checksum
/// for kChecksumSilence, and its recovery. Pure: the gateway feeds it a snapshot every second;
/// tested directly.
///
///   ok ──▶ comm_fail | connecting | backoff    warn  "bus/espresso-1: comm_fail: no answer …"
///   comm_fail | … ──▶ ok                       info  "bus/espresso-1: answering again after 12 s"
///   first seen failing                          warn  (a device that never answered)
///   bad_checksum grows, messages do not (30 s)  warn  "…: no line or frame has passed its checksum …"
///   messages grow again                         info  "…: lines and frames pass their checksum again"

#include <chrono>
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
  /// How long checksum failures without one message passing are tolerated before a warning.
  static constexpr std::chrono::seconds kChecksumSilence{30};

  /// The transitions since the previous snapshot, in adapter and source order.
  [[nodiscard]] std::vector<LogLine> observe(const std::vector<adapters::AdapterHealth>& adapters,
                                             Timestamp now);

 private:
  struct Seen {
    bool failing = false;
    Timestamp since{};
    // Stream codecs: counters at the last look, when a message last passed, failures since.
    std::uint64_t messages = 0;
    std::uint64_t bad_checksum = 0;
    Timestamp last_pass{};
    std::uint64_t failed_since_pass = 0;
    bool checksum_warned = false;
  };
  void watch_checksums(const std::string& who, const adapters::SourceHealth& source, Seen& seen,
                       Timestamp now, std::vector<LogLine>& lines);
  std::map<std::pair<std::string, std::string>, Seen> seen_;  // (adapter, source)
};

}  // namespace guardian::gateway
