#pragma once
/// \file
/// Real peer processes for tests: started with fork/exec, stopped by PID, never left behind.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace guardian::testing {

/// A child process. Its stdout and stderr go to `log_file` (appended) when given, otherwise
/// to /dev/null. The destructor sends SIGKILL and reaps it if it is still running.
class Process {
 public:
  struct Options {
    std::vector<std::string> argv;                 ///< argv[0] is the program (PATH is searched)
    std::map<std::string, std::string> env;        ///< added to / overriding the parent environment
    std::filesystem::path log_file;                ///< stdout+stderr; empty = /dev/null
    std::filesystem::path working_dir;             ///< empty = inherit
  };

  explicit Process(Options options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// True while the child has not exited (reaps it if it has).
  [[nodiscard]] bool running();
  /// Sends `signal` (no-op if already exited).
  void signal(int signal);
  /// Waits up to `timeout` for exit; returns the wait status, or nullopt on timeout.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  /// SIGTERM, wait up to `grace`, then SIGKILL; returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});
  /// SIGKILL and reap.
  void kill_now();
  /// The log file's content so far (empty when there is none).
  [[nodiscard]] std::string log() const;

 private:
  void reap_blocking();
  Options options_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

/// Runs a command to completion (with a deadline) and returns its exit code and output.
struct CommandResult {
  int exit_code = -1;      ///< -1 when killed for exceeding the deadline
  std::string output;      ///< stdout and stderr interleaved
};
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds deadline = std::chrono::milliseconds{60000},
                          const std::map<std::string, std::string>& env = {});

}  // namespace guardian::testing
