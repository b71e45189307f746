#include "link_io.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace guardian::adapters::modbus {
namespace {

struct AddrinfoDeleter {
  void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

[[nodiscard]] int milliseconds_until(std::chrono::steady_clock::time_point deadline) noexcept {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 24 * 3600 * 1000));
}

}  // namespace

InterruptLatch::InterruptLatch() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_.valid())
    throw std::runtime_error(std::string("eventfd for the Modbus link failed: ") +
                             std::strerror(errno));
}

void InterruptLatch::trip() noexcept {
  tripped_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd_.get(), &one, sizeof one);
}

WaitOutcome wait_for(int fd, short events, const InterruptLatch& latch,
                     std::chrono::steady_clock::time_point deadline) noexcept {
  while (true) {
    if (latch.tripped()) return WaitOutcome::interrupted;
    std::array<pollfd, 2> fds{pollfd{fd, events, 0}, pollfd{latch.fd(), POLLIN, 0}};
    const int rc = ::poll(fds.data(), fds.size(), milliseconds_until(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if ((fds[1].revents & POLLIN) != 0) return WaitOutcome::interrupted;
    if (rc < 0) return WaitOutcome::hung_up;  // EBADF, ENOMEM: the descriptor is unusable
    if (rc == 0) return WaitOutcome::timed_out;
    if ((fds[0].revents & events) != 0) return WaitOutcome::ready;
    if ((fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return WaitOutcome::hung_up;
  }
}

bool sleep_until(const InterruptLatch& latch,
                 std::chrono::steady_clock::time_point deadline) noexcept {
  while (!latch.tripped()) {
    pollfd wake{latch.fd(), POLLIN, 0};
    const int rc = ::poll(&wake, 1, milliseconds_until(deadline));
    if (rc > 0) return false;
    if (rc == 0 && std::chrono::steady_clock::now() >= deadline) return true;
  }
  return false;
}

result<UniqueFd> connect_tcp(const std::string& host, std::uint16_t port, const std::string& peer,
                             const std::string& config_key,
                             std::chrono::steady_clock::time_point deadline,
                             const InterruptLatch& latch) {
  const auto cancelled = [&] {
    return make_errno_error(ECANCELED,
                            "connection to " + peer + " cancelled: the adapter is stopping");
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (gai != 0)
    return make_error("cannot resolve host '" + host + "' of " + peer + ": " +
                      ::gai_strerror(gai) + "; check " + config_key + " in the configuration");
  const std::unique_ptr<addrinfo, AddrinfoDeleter> addresses(found);

  int last_errno = ECONNREFUSED;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    // Requests are small and latency-bound: never wait for Nagle.
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      last_errno = errno;
      continue;
    }
    const auto waited = wait_for(fd.get(), POLLOUT, latch, deadline);
    if (waited == WaitOutcome::interrupted) return cancelled();
    if (waited == WaitOutcome::timed_out) {
      last_errno = ETIMEDOUT;
      break;  // the deadline covers all addresses
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      last_errno = error;
      continue;
    }
    return fd;
  }
  return make_errno_error(last_errno,
                          "cannot connect to " + peer + ": " + std::strerror(last_errno));
}

std::size_t discard_input(int fd) noexcept {
  std::array<std::uint8_t, 512> sink{};
  std::size_t total = 0;
  while (true) {
    const auto n = ::read(fd, sink.data(), sink.size());
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return total;
  }
}

}  // namespace guardian::adapters::modbus
