#include "modbus_tcp_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace guardian::sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds{100};
// Enough for 50+ clients connecting at the same moment (benchmarks).
constexpr int kListenBacklog = 128;
// MBAP header (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3): the unit
// identifier is its 7th byte.
constexpr std::size_t kMbapUnitIdOffset = 6;
// Modbus TCP convention: 0 and 255 address "the device itself" — here unit 1.
constexpr int kTcpSelfUnit = 255;

}  // namespace

ModbusTcpSimServer::ModbusTcpSimServer(ModbusTcpSimOptions options, SimulatedUnits& units)
    : options_(std::move(options)), units_(units), query_(MODBUS_TCP_MAX_ADU_LENGTH) {
  ctx_.reset(modbus_new_tcp(options_.bind.c_str(), options_.port));
  if (!ctx_) throw std::runtime_error("cannot create a Modbus TCP context for " + options_.bind);
}

ModbusTcpSimServer::~ModbusTcpSimServer() {
  for (std::size_t i = fds_.size(); i > 1; --i) close_client(i - 1);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

result<std::uint16_t> ModbusTcpSimServer::listen() {
  listen_fd_ = modbus_tcp_listen(ctx_.get(), kListenBacklog);
  if (listen_fd_ < 0)
    return make_errno_error(errno, "cannot listen on " + options_.bind + ":" +
                                       std::to_string(options_.port) + ": " +
                                       modbus_strerror(errno));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  fds_.push_back(pollfd{listen_fd_, POLLIN, 0});
  return ntohs(addr.sin_port);
}

void ModbusTcpSimServer::accept_clients() {
  while (true) {
    // Client sockets stay blocking: libmodbus reads them after its own select().
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: none left (the listening socket is non-blocking, see run())
    // libmodbus waits for each message with select(), which cannot watch descriptors at or
    // above FD_SETSIZE: refuse those clients rather than corrupt memory.
    if (fd >= FD_SETSIZE) {
      ::close(fd);
      continue;
    }
    // Answers are small: never delay them for Nagle.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds_.push_back(pollfd{fd, POLLIN, 0});
  }
}

bool ModbusTcpSimServer::serve(int fd) {
  modbus_set_socket(ctx_.get(), fd);
  const int rc = modbus_receive(ctx_.get(), query_.data());
  if (rc == 0) return true;  // not for us
  if (rc < 0) return false;  // closed by the client, or garbage
  int unit = query_[kMbapUnitIdOffset];
  if (unit == 0 || unit == kTcpSelfUnit) unit = units_.first_unit();
  if (!units_.serves(unit)) {
    // What a TCP gateway answers for a unit behind it that does not respond (exception 0B).
    return modbus_reply_exception(ctx_.get(), query_.data(), MODBUS_EXCEPTION_GATEWAY_TARGET) >= 0;
  }
  return units_.answer(ctx_.get(), unit, query_.data(), rc);
}

void ModbusTcpSimServer::close_client(std::size_t index) {
  ::close(fds_[index].fd);
  fds_[index] = fds_.back();
  fds_.pop_back();
}

std::uint64_t ModbusTcpSimServer::run(const volatile std::sig_atomic_t& stop) {
  const int flags = ::fcntl(listen_fd_, F_GETFL);
  ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK);
  auto last_tick = Clock::now();
  auto next_tick = last_tick + kTick;
  while (stop == 0) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - Clock::now());
    const int ready =
        ::poll(fds_.data(), fds_.size(), static_cast<int>(std::max<std::int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      // Walk backwards: close_client() moves the last entry into the freed slot.
      for (std::size_t i = fds_.size(); i > 1; --i) {
        const auto revents = fds_[i - 1].revents;
        if (revents == 0) continue;
        if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !serve(fds_[i - 1].fd))
          close_client(i - 1);
      }
      if ((fds_[0].revents & POLLIN) != 0) accept_clients();
    }
    const auto now = Clock::now();
    if (now >= next_tick) {
      units_.tick(std::chrono::duration<double>(now - last_tick).count());
      last_tick = now;
      next_tick = now + kTick;
    }
  }
  return units_.answered();
}

}  // namespace guardian::sim
