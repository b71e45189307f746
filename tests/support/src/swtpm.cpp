#include "guardian/testing/swtpm.hpp"

#include <filesystem>
#include <stdexcept>

namespace guardian::testing {

SwtpmProcess::SwtpmProcess()
    // The swtpm TCTI finds the control channel at the server port + 1 (FIELD-NOTES).
    : dir_("guardian-swtpm"),
      port_(free_tcp_port_pair()),
      ctrl_port_(static_cast<std::uint16_t>(port_ + 1)) {
  start();
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
  // The control channel answers once the TPM is initialised; probing it leaves the TPM alone.
  if (!wait_for_tcp_port(ctrl_port_, std::chrono::seconds{10}))
    throw std::runtime_error("swtpm did not start on port " + std::to_string(port_) + ": " + log());
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
