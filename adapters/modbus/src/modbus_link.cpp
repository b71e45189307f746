#include "modbus_link.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace guardian::adapters::modbus {
namespace {

// Owns a file descriptor until it is handed over with release().
class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

struct AddrinfoDeleter {
  void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

}  // namespace

ModbusTcpLink::ModbusTcpLink(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port), peer_(host_ + ":" + std::to_string(port)) {
  // The host is resolved by connect_socket(); libmodbus only needs the context.
  ctx_.reset(modbus_new_tcp(nullptr, port));
  if (!ctx_) throw std::runtime_error("libmodbus could not create a TCP context for " + peer_);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw std::runtime_error(std::string("eventfd for the Modbus link failed: ") +
                             std::strerror(errno));
}

ModbusTcpLink::~ModbusTcpLink() {
  close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

result<void> ModbusTcpLink::connect(std::chrono::milliseconds timeout) {
  close();
  const auto cancelled = [this] {
    return make_errno_error(ECANCELED,
                            "connection to " + peer_ + " cancelled: the adapter is stopping");
  };
  if (interrupted_) return cancelled();
  BOOST_OUTCOME_TRY(fd, connect_socket(std::chrono::steady_clock::now() + timeout));
  {
    std::lock_guard lock(socket_mutex_);
    socket_ = fd;
    modbus_set_socket(ctx_.get(), fd);
  }
  // interrupt() may have run before socket_ was published and found nothing to shut down.
  if (interrupted_) {
    close();
    return cancelled();
  }
  connected_ = true;
  return outcome::success();
}

result<int> ModbusTcpLink::connect_socket(std::chrono::steady_clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int gai = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
  if (gai != 0)
    return make_error("cannot resolve host '" + host_ + "' of " + peer_ + ": " +
                      ::gai_strerror(gai) + "; check tcp.host in the configuration");
  const std::unique_ptr<addrinfo, AddrinfoDeleter> addresses(found);

  int last_errno = ECONNREFUSED;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (fd.get() < 0) {
      last_errno = errno;
      continue;
    }
    // Requests are small and latency-bound: never wait for Nagle.
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_errno = errno;
        continue;
      }
      std::array<pollfd, 2> fds{pollfd{fd.get(), POLLOUT, 0}, pollfd{wake_fd_, POLLIN, 0}};
      int rc = 0;
      do {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        rc = ::poll(fds.data(), fds.size(),
                    static_cast<int>(std::max<std::int64_t>(0, left.count())));
      } while (rc < 0 && errno == EINTR);
      if (interrupted_ || (fds[1].revents & POLLIN) != 0)
        return make_errno_error(ECANCELED,
                                "connection to " + peer_ + " cancelled: the adapter is stopping");
      if (rc == 0) {
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
    }
    // libmodbus waits with select() and then sends and receives expecting a blocking socket.
    const int flags = ::fcntl(fd.get(), F_GETFL);
    ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    return fd.release();
  }
  return make_errno_error(last_errno,
                          "cannot connect to " + peer_ + ": " + std::strerror(last_errno));
}

void ModbusTcpLink::close() noexcept {
  std::lock_guard lock(socket_mutex_);
  if (socket_ >= 0) {
    modbus_close(ctx_.get());
    modbus_set_socket(ctx_.get(), -1);
    socket_ = -1;
  }
  connected_ = false;
}

void ModbusTcpLink::interrupt() noexcept {
  interrupted_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  // Wakes libmodbus out of its select()/recv(): the request fails at once with ECONNRESET.
  std::lock_guard lock(socket_mutex_);
  if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
}

}  // namespace guardian::adapters::modbus
