#include "guardian/testing/serial_pair.hpp"

#include <stdexcept>

namespace guardian::testing {

SerialPair::SerialPair() : dir_("guardian-serial"), a_(dir_ / "gateway"), b_(dir_ / "device") {
  start();
}

SerialPair::~SerialPair() { kill(); }

void SerialPair::start() {
  if (running()) return;
  socat_ = std::make_unique<Process>(
      Process::Options{{"socat", "-d", "-d", "pty,raw,echo=0,link=" + a_.string(),
                        "pty,raw,echo=0,link=" + b_.string()},
                       {},
                       dir_ / "socat.log",
                       {}});
  // socat creates the links once both ptys are open; until then a client would find nothing.
  if (!wait_until([&] { return std::filesystem::exists(a_) && std::filesystem::exists(b_); },
                  std::chrono::seconds{10}))
    throw std::runtime_error("socat did not create " + a_.string() + " and " + b_.string() +
                             ": " + socat_->log());
}

void SerialPair::kill() {
  if (!socat_) return;
  socat_->kill_now();
  // socat removes its links on a clean exit only; a killed one leaves them dangling, which is
  // not what an unplugged adapter does. Remove them as the kernel would remove the device node.
  std::error_code ec;
  std::filesystem::remove(a_, ec);
  std::filesystem::remove(b_, ec);
}

bool SerialPair::running() const { return socat_ && socat_->running(); }

}  // namespace guardian::testing
