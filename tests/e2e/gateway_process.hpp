#pragma once
// The real `guardian` binary as a child process, with a generated configuration, for e2e tests.

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class GatewayProcess {
 public:
  /// `adapters_yaml` is the YAML list under `adapters:` (already indented by two spaces);
  /// `uplink_extra` and `queue_extra` are appended to those sections (indented), `top_extra`
  /// (e.g. a secure_link section) at top level. `queue_path` (default: queue.db in `dir`) places
  /// the queue elsewhere, e.g. on a small file system.
  GatewayProcess(const TempDir& dir, const std::string& device_id, const std::string& broker_uri,
                 const std::string& adapters_yaml, const std::string& uplink_extra = {},
                 const std::string& queue_extra = {}, const std::string& top_extra = {},
                 const std::filesystem::path& queue_path = {});

  /// Starts `guardian run` and waits until its control socket answers.
  void start();
  /// Runs another build of the gateway from the next start() on (default: the one built here).
  void set_binary(std::filesystem::path binary) { binary_ = std::move(binary); }
  /// SIGTERM and wait for a clean exit; returns the exit status.
  int stop();
  /// SIGKILL.
  void kill();
  [[nodiscard]] bool running() const;

  /// The daemon's status document (throws when the daemon does not answer).
  [[nodiscard]] nlohmann::json status() const;

  [[nodiscard]] const std::filesystem::path& config_path() const noexcept { return config_; }
  [[nodiscard]] const std::filesystem::path& queue_path() const noexcept { return queue_; }
  [[nodiscard]] std::filesystem::path socket_path() const { return dir_ / "control.sock"; }
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path queue_;
  std::filesystem::path binary_ = binary_path("guardian");
  std::unique_ptr<Process> process_;
};

}  // namespace guardian::testing
