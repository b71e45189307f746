#pragma once
/// \file
/// A serial line for tests: socat joins two pseudo-terminals, reachable through two symlinks in a
/// temporary directory (`device` for the equipment side, `gateway` for Guardian's side). Stopping
/// it is a cable pulled out; starting it again plugs the cable back (same link names).

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {

class PtyPair {
 public:
  PtyPair();  ///< starts socat and waits (bounded) until both links exist; throws if they do not
  ~PtyPair();

  /// Starts socat again after stop(); waits until both links exist.
  void start();
  /// Stops socat: both ends see the line go away (reads fail with EIO).
  void stop();

  [[nodiscard]] std::filesystem::path device() const { return dir_ / "device"; }
  [[nodiscard]] std::filesystem::path gateway() const { return dir_ / "gateway"; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> socat_;
};

}  // namespace guardian::testing
