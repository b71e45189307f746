#pragma once
/// \file
/// File-descriptor plumbing shared by the Modbus links: the eventfd that
/// makes blocking waits interruptible, a TCP connect bounded by a deadline, and waits on a
/// descriptor that the eventfd cuts short. Private to adapters/modbus.

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "guardian/common/result.hpp"
#include "guardian/common/unique_fd.hpp"

namespace guardian::adapters::modbus {

/// A one-way latch another thread can trip to cut every wait short, now and for good: an
/// eventfd that becomes readable once trip() has been called. Thread-safe.
class InterruptLatch {
 public:
  /// Throws std::runtime_error when the kernel cannot provide an eventfd (start-up only).
  InterruptLatch();
  /// Makes every current and future wait() on this latch return at once.
  void trip() noexcept;
  [[nodiscard]] bool tripped() const noexcept { return tripped_.load(); }
  /// The descriptor to poll for POLLIN next to the one being waited on.
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::atomic<bool> tripped_{false};
};

/// What a bounded wait ended with.
enum class WaitOutcome : std::uint8_t { ready, timed_out, interrupted, hung_up };

/// Waits until `fd` has `events` (POLLIN or POLLOUT), `deadline` passes or `latch` trips.
/// POLLHUP/POLLERR without the requested event (a serial device unplugged, a reset socket) is
/// `hung_up`. EINTR is retried with the remaining time.
[[nodiscard]] WaitOutcome wait_for(int fd, short events, const InterruptLatch& latch,
                                   std::chrono::steady_clock::time_point deadline) noexcept;

/// Waits until `deadline` unless `latch` trips first; false when it tripped.
[[nodiscard]] bool sleep_until(const InterruptLatch& latch,
                               std::chrono::steady_clock::time_point deadline) noexcept;

/// Opens a TCP connection to host:port (any address family) within `deadline`, with
/// TCP_NODELAY, close-on-exec and non-blocking. `peer` names it in messages. Errors: resolution
/// failure (naming `config_key` as the thing to check), refused/unreachable/timed out (errno
/// kept), ECANCELED when `latch` trips.
[[nodiscard]] result<UniqueFd> connect_tcp(const std::string& host, std::uint16_t port,
                                           const std::string& peer, const std::string& config_key,
                                           std::chrono::steady_clock::time_point deadline,
                                           const InterruptLatch& latch);

/// Reads and discards whatever `fd` (non-blocking) holds right now; returns the byte count.
std::size_t discard_input(int fd) noexcept;

}  // namespace guardian::adapters::modbus
