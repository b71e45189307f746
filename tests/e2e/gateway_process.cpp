#include "gateway_process.hpp"

#include <stdexcept>

#include "guardian/gateway/control_server.hpp"

namespace guardian::testing {

GatewayProcess::GatewayProcess(const TempDir& dir, const std::string& device_id,
                               const std::string& broker_uri, const std::string& adapters_yaml,
                               const std::string& uplink_extra, const std::string& queue_extra,
                               const std::string& top_extra,
                               const std::filesystem::path& queue_path)
    : dir_(dir.path()),
      config_(dir.path() / "guardian.yaml"),
      queue_(queue_path.empty() ? dir.path() / "queue.db" : queue_path) {
  std::string yaml;
  yaml += "device:\n  id: " + device_id + "\n";
  yaml += "queue:\n  path: " + queue_.string() + "\n" + queue_extra;
  yaml += "uplink:\n  broker: " + broker_uri + "\n  reconnect: {min: 100ms, max: 1s}\n" + uplink_extra;
  yaml += top_extra;
  yaml += "control:\n  socket: " + (dir_ / "control.sock").string() + "\n";
  yaml += "adapters:\n" + adapters_yaml;
  write_file(config_, yaml);
}

void GatewayProcess::start() {
  process_ = std::make_unique<Process>(Process::Options{
      {binary_.string(), "run", "-c", config_.string(), "--log-level", "debug"},
      {},
      dir_ / "guardian.log",
      {}});
  const bool up = wait_until(
      [&] {
        if (!process_->running()) return true;
        return gateway::control_request(socket_path(), {{"cmd", "status"}},
                                        std::chrono::milliseconds{500})
            .has_value();
      },
      std::chrono::seconds{20});
  if (!up || !process_->running())
    throw std::runtime_error("guardian did not start:\n" + log());
}

int GatewayProcess::stop() { return process_ ? process_->stop(std::chrono::seconds{15}) : -1; }

void GatewayProcess::kill() {
  if (process_) process_->kill_now();
}

bool GatewayProcess::running() const { return process_ && process_->running(); }

nlohmann::json GatewayProcess::status() const {
  auto r = gateway::control_request(socket_path(), {{"cmd", "status"}}, std::chrono::seconds{5});
  if (!r) throw std::runtime_error("status: " + r.error().describe());
  return r.value().at("status");
}

std::string GatewayProcess::log() const { return read_file(dir_ / "guardian.log"); }

}  // namespace guardian::testing
