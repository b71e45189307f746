#include "guardian/testing/pty_pair.hpp"

#include <stdexcept>

namespace guardian::testing {

PtyPair::PtyPair() : dir_("guardian-pty") { start(); }

PtyPair::~PtyPair() = default;

void PtyPair::start() {
  std::error_code ec;
  std::filesystem::remove(device(), ec);
  std::filesystem::remove(gateway(), ec);
  socat_ = std::make_unique<Process>(
      Process::Options{{"socat", "pty,raw,echo=0,link=" + device().string(),
                        "pty,raw,echo=0,link=" + gateway().string()},
                       {},
                       dir_ / "socat.log",
                       {}});
  const bool ready = wait_until(
      [&] { return std::filesystem::exists(device()) && std::filesystem::exists(gateway()); },
      std::chrono::seconds{10});
  if (!ready) throw std::runtime_error("socat did not create the pty links: " + socat_->log());
}

void PtyPair::stop() {
  if (socat_) socat_->stop();
  socat_.reset();
  // socat removes its links on SIGTERM; make sure, so that start() waits for fresh ones.
  std::error_code ec;
  std::filesystem::remove(device(), ec);
  std::filesystem::remove(gateway(), ec);
}

}  // namespace guardian::testing
