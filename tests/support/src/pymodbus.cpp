#include "guardian/testing/pymodbus.hpp"

#include <stdexcept>

namespace guardian::testing {

PymodbusServer::PymodbusServer(nlohmann::json spec, std::uint16_t port)
    : dir_("guardian-pymodbus"), port_(port != 0 ? port : free_tcp_port()), spec_(std::move(spec)) {
  start();
}

PymodbusServer::~PymodbusServer() { kill(); }

void PymodbusServer::start() {
  if (running()) return;
  write_file(dir_ / "spec.json", spec_.dump());
  // /usr/bin/python3: the PATH python3 may be a pyenv shim that cannot see Debian's pymodbus.
  process_ = std::make_unique<Process>(Process::Options{
      {"/usr/bin/python3", source_path("tests/support/pymodbus_server.py").string(), "--spec",
       (dir_ / "spec.json").string(), "--tcp-port", std::to_string(port_)},
      {},
      dir_ / "pymodbus.log",
      {}});
  if (!wait_for_tcp_port(port_, std::chrono::seconds{20}))
    throw std::runtime_error("pymodbus did not start on port " + std::to_string(port_) + ": " +
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
