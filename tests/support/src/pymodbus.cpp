#include "guardian/testing/pymodbus.hpp"

#include <stdexcept>
#include <vector>

namespace guardian::testing {

PymodbusServer::PymodbusServer(nlohmann::json spec, std::uint16_t port)
    : PymodbusServer(std::move(spec), PymodbusTransports{}, port) {}

PymodbusServer::PymodbusServer(nlohmann::json spec, PymodbusTransports transports,
                               std::uint16_t port)
    : dir_("guardian-pymodbus"),
      port_(port != 0 || !transports.tcp ? port : free_tcp_port()),
      spec_(std::move(spec)),
      transports_(std::move(transports)) {
  start();
}

PymodbusServer::~PymodbusServer() { kill(); }

void PymodbusServer::start() {
  if (running()) return;
  write_file(dir_ / "spec.json", spec_.dump());
  // /usr/bin/python3: the PATH python3 may be a pyenv shim that cannot see Debian's pymodbus.
  std::vector<std::string> argv{"/usr/bin/python3",
                                source_path("tests/support/pymodbus_server.py").string(), "--spec",
                                (dir_ / "spec.json").string()};
  if (transports_.tcp) {
    argv.insert(argv.end(), {"--tcp-port", std::to_string(port_)});
    if (transports_.rtu_over_tcp) argv.insert(argv.end(), {"--tcp-framer", "rtu"});
  }
  if (!transports_.serial.empty())
    argv.insert(argv.end(), {"--serial", transports_.serial.string(), "--baud",
                             std::to_string(transports_.baud)});
  // The log restarts with each start, so that READY is this run's.
  write_file(dir_ / "pymodbus.log", "");
  process_ = std::make_unique<Process>(Process::Options{argv, {}, dir_ / "pymodbus.log", {}});
  const bool ready =
      transports_.tcp
          ? wait_for_tcp_port(port_, std::chrono::seconds{20})
          : wait_until([&] { return log().find("READY") != std::string::npos; },
                       std::chrono::seconds{20});
  if (!ready)
    throw std::runtime_error("pymodbus did not start" +
                             (transports_.tcp ? " on port " + std::to_string(port_) : "") + ": " +
                             log());
}

void PymodbusServer::stop() {
  if (process_) process_->stop(std::chrono::seconds{5});
}

void PymodbusServer::kill() {
  if (process_) process_->kill_now();
}

bool PymodbusServer::running() const { return process_ && process_->running(); }

std::string PymodbusServer::log() const { return read_file(dir_ / "pymodbus.log"); }

}  // namespace guardian::testing
