#pragma once
/// \file
/// What the benchmarks share: a scratch directory on a real disk, realistic messages, and running
/// each measured part in its own forked process so that its CPU time and peak RSS (getrusage via
/// wait4) belong to that part alone.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "guardian/gateway/outbox_message.hpp"

namespace guardian::bench {

/// A fresh directory under `base` (default /var/tmp: on a disk, unlike a tmpfs /tmp), removed on
/// destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& base);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// `distinct` different telemetry messages of `readings` readings each (as a Modbus poll makes
/// them: one source, numeric values, units, good quality), to be submitted round robin.
[[nodiscard]] std::vector<gateway::PendingMessage> telemetry_messages(std::size_t distinct,
                                                                      std::uint32_t readings);

/// What a part reported, plus what the kernel measured for its process.
struct PartReport {
  std::map<std::string, double> values;  ///< as returned by the part
  double cpu_seconds = 0;                ///< user + system
  double max_rss_mib = 0;                ///< peak resident set size
  bool ok = false;                       ///< exited 0
};

/// Runs `part` in a forked child and returns its values and resource use. The part must not
/// rely on threads of the parent (none exist when this is called before any library starts one).
[[nodiscard]] PartReport run_part(const std::function<std::map<std::string, double>()>& part);

/// Runs `first` and `second` alternately `rounds` times (so that drift in the machine's load hits
/// both alike) and returns the median round of each, by its "seconds" value.
[[nodiscard]] std::pair<PartReport, PartReport> median_of_alternating(
    int rounds, const std::function<PartReport()>& first,
    const std::function<PartReport()>& second);

/// What /proc says about another process: CPU time (utime + stime) and resident memory now and
/// at its peak (VmRSS, VmHWM).
struct ProcStats {
  double cpu_s = 0;
  long hwm_kib = 0;
  long rss_kib = 0;
};
[[nodiscard]] ProcStats proc_stats(int pid);

/// CPU seconds (user + system) this process has used so far.
[[nodiscard]] double process_cpu_seconds();

/// Seconds elapsed since `start`.
[[nodiscard]] double seconds_since(std::chrono::steady_clock::time_point start);

/// Calls `run`, turning an exception into a message on stderr and exit status 1.
int main_reporting_errors(const char* program, int (*run)(int, char**), int argc, char** argv);

/// The options every benchmark takes: --messages (20000), --readings per message (50),
/// --rounds (5), --dir for scratch files (/var/tmp).
struct CommonOptions {
  std::size_t messages = 20000;
  std::uint32_t readings = 50;
  int rounds = 5;
  std::filesystem::path dir = "/var/tmp";
};
[[nodiscard]] CommonOptions common_options(int argc, char** argv);

/// "--name value" from argv, or `fallback`.
[[nodiscard]] std::string option(int argc, char** argv, const std::string& name,
                                 const std::string& fallback);

}  // namespace guardian::bench
