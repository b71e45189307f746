#include "guardian/testing/swtpm.hpp"

#include <filesystem>
#include <stdexcept>

namespace guardian::testing {

SwtpmProcess::SwtpmProcess() : dir_("guardian-swtpm") {
  // Ports found free can be taken by another process before swtpm binds them (tests run in
  // parallel); swtpm then exits. Other ports are tried before giving up.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    // The swtpm TCTI finds the control channel at the server port + 1 (FIELD-NOTES).
    port_ = free_tcp_port_pair();
    ctrl_port_ = static_cast<std::uint16_t>(port_ + 1);
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == kAttempts) throw;
      if (process_) process_->kill_now();
      process_.reset();
    }
  }
}

SwtpmProcess::~SwtpmProcess() {
  if (process_) process_->kill_now();
}

void SwtpmProcess::start() {
  if (running()) return;
  std::filesystem::create_directories(dir_ / "state");
  // In the foreground (no -d), so that the PID is ours to stop.
  process_ = std::make_unique<Process>(Process::Options{
      {"swtpm", "socket", "--tpm2", "--server", "type=tcp,port=" + std::to_string(port_),
       "--ctrl", "type=tcp,port=" + std::to_string(ctrl_port_), "--tpmstate",
       "dir=" + (dir_ / "state").string(), "--flags", "not-need-init,startup-clear"},
      {},
      dir_ / "swtpm.log",
      {}});
  // The control channel answers once the TPM is initialised; probing it, or opening and closing
  // a connection to the server port, leaves the TPM alone. Both must answer, and from swtpm:
  // one it could not bind makes it exit.
  const auto deadline = std::chrono::seconds{10};
  if (!wait_for_tcp_port(ctrl_port_, deadline) || !wait_for_tcp_port(port_, deadline) ||
      !running())
    throw std::runtime_error("swtpm did not start on ports " + std::to_string(port_) + "/" +
                             std::to_string(ctrl_port_) + ": " + log());
}

void SwtpmProcess::stop() {
  if (process_) process_->stop(std::chrono::seconds{5});
}

bool SwtpmProcess::running() const { return process_ && process_->running(); }

std::string SwtpmProcess::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

std::string SwtpmProcess::log() const { return read_file(dir_ / "swtpm.log"); }

}  // namespace guardian::testing
