#include "serial_sim_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "espresso_model.hpp"
#include "espresso_serial_protocol.hpp"

namespace guardian::sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds{100};
constexpr std::size_t kMaxQueryLine = 64;  // longer input without a newline is discarded

speed_t baud_constant(int baud) {
  switch (baud) {
    case 1200:
      return B1200;
    case 2400:
      return B2400;
    case 4800:
      return B4800;
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 115200:
      return B115200;
    default:
      return B0;
  }
}

struct Peer {
  int fd;
  std::string in;
};

}  // namespace

struct SerialSimServer::Impl {
  explicit Impl(SerialSimOptions o) : options(std::move(o)), model(options.seed) {}

  SerialSimOptions options;
  EspressoModel model;
  ShotTracker shots;
  int device_fd = -1;
  int listen_fd = -1;
  std::vector<Peer> peers;
  std::uint64_t written = 0;

  void send(int fd, const std::string& text) {
    // A pty or socket buffer this small never fills in practice; if it does, the sentence is
    // lost, as it would be on a real line.
    if (::write(fd, text.data(), text.size()) > 0) ++written;
  }

  void broadcast(const std::string& text) {
    for (const auto& p : peers) send(p.fd, text);
  }

  /// Reads what `peer` sent; answers STAT? queries. False when the peer is gone.
  bool serve(Peer& peer) {
    char buf[256];
    const ssize_t n = ::read(peer.fd, buf, sizeof buf);
    if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
    peer.in.append(buf, static_cast<std::size_t>(n));
    for (auto eol = peer.in.find('\n'); eol != std::string::npos; eol = peer.in.find('\n')) {
      std::string line = peer.in.substr(0, eol);
      peer.in.erase(0, eol + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == "STAT?") send(peer.fd, status_sentence(model.readings()));
    }
    if (peer.in.size() > kMaxQueryLine) peer.in.clear();
    return true;
  }

  void tick(double real_seconds) {
    const double simulated = real_seconds * options.speed;
    // Step in the model's own increments so that no shot start or end is missed.
    constexpr double kStep = 0.1;
    for (double done = 0; done < simulated; done += kStep) {
      const double dt = std::min(kStep, simulated - done);
      const auto before = model.readings().state;
      model.advance(dt);
      if (auto shot = shots.observe(model.readings(), dt)) broadcast(*shot);
      // A state change is told at once, as machines with a service port do: a shot's start
      // and end are known to the tenth of a second.
      if (model.readings().state != before) broadcast(status_sentence(model.readings()));
    }
  }
};

SerialSimServer::SerialSimServer(SerialSimOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SerialSimServer::~SerialSimServer() {
  for (const auto& p : impl_->peers) ::close(p.fd);
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

result<std::string> SerialSimServer::open() {
  auto& m = *impl_;
  if (!m.options.device.empty()) {
    const int fd = ::open(m.options.device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return make_errno_error(errno, "cannot open " + m.options.device);
    termios tio{};
    if (::tcgetattr(fd, &tio) == 0) {
      ::cfmakeraw(&tio);
      if (const speed_t b = baud_constant(m.options.baud); b != B0) ::cfsetspeed(&tio, b);
      ::tcsetattr(fd, TCSANOW, &tio);
    }
    m.peers.push_back(Peer{fd, {}});
    m.device_fd = fd;
    return "device=" + m.options.device;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_errno_error(errno, "cannot create a socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(m.options.tcp_port));
  if (::inet_pton(AF_INET, m.options.bind.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return make_error("--bind: not an IPv4 address: " + m.options.bind);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    const int e = errno;
    ::close(fd);
    return make_errno_error(
        e, "cannot listen on " + m.options.bind + ":" + std::to_string(m.options.tcp_port));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  m.listen_fd = fd;
  return "port=" + std::to_string(ntohs(addr.sin_port));
}

std::uint64_t SerialSimServer::run(const volatile std::sig_atomic_t& stop) {
  auto& m = *impl_;
  auto last_tick = Clock::now();
  auto next_status = last_tick;
  const auto status_every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(m.options.status_interval));
  const auto trace_every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(m.options.trace_interval));
  auto next_trace = last_tick;
  while (stop == 0) {
    std::vector<pollfd> fds;
    if (m.listen_fd >= 0) fds.push_back(pollfd{m.listen_fd, POLLIN, 0});
    for (const auto& p : m.peers) fds.push_back(pollfd{p.fd, POLLIN, 0});
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(Clock::duration{}, last_tick + kTick - Clock::now()));
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()) + 1);
    if (ready < 0 && errno != EINTR) break;
    std::size_t i = 0;
    if (m.listen_fd >= 0) {
      if ((fds[0].revents & POLLIN) != 0) {
        const int client = ::accept4(m.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client >= 0) m.peers.push_back(Peer{client, {}});
      }
      ++i;
    }
    for (std::size_t p = 0; i < fds.size(); ++i) {
      const bool gone =
          (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !m.serve(m.peers[p]);
      if (gone && m.peers[p].fd != m.device_fd) {
        ::close(m.peers[p].fd);
        m.peers.erase(m.peers.begin() + static_cast<std::ptrdiff_t>(p));
      } else {
        ++p;
      }
    }
    const auto now = Clock::now();
    if (now - last_tick >= kTick) {
      m.tick(std::chrono::duration<double>(now - last_tick).count());
      last_tick = now;
    }
    if (now >= next_status) {
      m.broadcast(status_sentence(m.model.readings()));
      next_status = now + status_every;
    }
    if (trace_every > Clock::duration{} && m.model.readings().state == MachineState::brewing &&
        now >= next_trace) {
      m.broadcast(trace_sentence(m.model.readings()));
      next_trace = std::max(next_trace + trace_every, now - trace_every);
    }
  }
  return m.written;
}

}  // namespace guardian::sim
