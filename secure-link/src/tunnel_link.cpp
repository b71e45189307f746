#include "tunnel_link.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "file_tls_link.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "local_peer.hpp"

namespace guardian::secure_link {
namespace {

using std::chrono::steady_clock;

constexpr const char* kLog = "secure-link";
// How long the listener waits for Paho's connection after open() returned its address.
constexpr std::chrono::seconds kLocalConnectTimeout{30};
constexpr std::chrono::seconds kBrokerHandshakeTimeout{15};
// One TLS record's worth of plaintext (RFC 5246 §6.2.1: at most 2^14 bytes per record).
constexpr std::size_t kChunk = 16384;

std::uint16_t uri_port(const std::string& uri) {
  const auto authority = uri.find("://");
  const auto colon = uri.rfind(':');
  if (colon == std::string::npos || (authority != std::string::npos && colon < authority + 3))
    return 0;
  std::uint16_t port = 0;
  const auto* begin = uri.data() + colon + 1;
  std::from_chars(begin, uri.data() + uri.size(), port);
  return port;
}

void drain(int event_fd) {
  std::uint64_t value = 0;
  while (::read(event_fd, &value, sizeof value) > 0) {
  }
}

}  // namespace

TunnelLink::TunnelLink(std::string broker_uri, const config::SecureLinkConfig& cfg)
    : broker_uri_(std::move(broker_uri)),
      cfg_(cfg),
      broker_host_(config::broker_uri_host(broker_uri_)),
      broker_port_(uri_port(broker_uri_)),
      identity_(open_identity(cfg)),
      keeper_(std::make_unique<CertificateKeeper>(cfg_, *identity_)),
      stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      interrupt_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  keeper_->start();
}

TunnelLink::~TunnelLink() {
  close();
  keeper_->stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (interrupt_fd_ >= 0) ::close(interrupt_fd_);
}

void TunnelLink::interrupt() noexcept {
  const std::uint64_t one = 1;
  (void)!::write(interrupt_fd_, &one, sizeof one);
}

void TunnelLink::resume() noexcept { drain(interrupt_fd_); }

result<MqttEndpoint> TunnelLink::open() {
  close();
  if (pollfd p{interrupt_fd_, POLLIN, 0}; ::poll(&p, 1, 0) > 0)
    return make_errno_error(ECANCELED, "secure link: not opened, the gateway is stopping");
  // Every wait below (the trust service, the broker's handshake) gives up when interrupt()ed.
  auto certificate = keeper_->current(interrupt_fd_);
  if (!certificate)
    return make_error(certificate.error().code,
                      "secure link: no valid certificate: " + certificate.error().message);

  TlsClientOptions options;
  options.host = broker_host_;
  options.port = broker_port_;
  options.ca_file = cfg_.broker.ca_file;
  options.server_name = cfg_.broker.server_name;
  options.credential = ClientCredential{certificate.value().certificate_pem, identity_.get()};
  options.timeout = kBrokerHandshakeTimeout;
  options.cancel_fd = interrupt_fd_;
  auto tls = TlsSession::connect(options);
  if (!tls) {
    ++counters_.handshake_failures;
    std::lock_guard lock(error_mutex_);
    last_session_error_ = tls.error().describe();
    return make_error(tls.error().code, "secure link to " + broker_uri_ + ": " + tls.error().message);
  }
  ++counters_.sessions;

  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener) return make_errno_error(errno, "secure link: cannot create the local listener");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 4) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return make_errno_error(errno, "secure link: cannot listen on 127.0.0.1");
  const auto port = ntohs(address.sin_port);

  {
    std::lock_guard lock(error_mutex_);
    last_session_error_.clear();
  }
  drain(stop_fd_);
  session_ = std::thread([this, l = std::move(listener), t = std::move(tls).value(),
                          not_after = certificate.value().not_after]() mutable {
    run_session(std::move(l), std::move(t), not_after);
  });
  log::debug(kLog, "tunnel to " + broker_uri_ + " via 127.0.0.1:" + std::to_string(port));
  return MqttEndpoint{"tcp://127.0.0.1:" + std::to_string(port), std::nullopt};
}

void TunnelLink::close() {
  if (!session_.joinable()) return;
  const std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  session_.join();
  drain(stop_fd_);
}

LinkInfo TunnelLink::info() const {
  LinkInfo info;
  info.kind = identity_->backend() == config::IdentityBackend::tpm ? "tpm-tunnel" : "software-tunnel";
  if (const auto certificate = keeper_->peek()) {
    info.identity = certificate->subject;
    info.cert_not_after = certificate->not_after;
  }
  const auto& k = keeper_->counters();
  info.counters = {{"attestations", k.attestations.load()},
                   {"attestation_failures", k.attestation_failures.load()},
                   {"measurements", k.measurements.load()},
                   {"sessions", counters_.sessions.load()},
                   {"handshake_failures", counters_.handshake_failures.load()},
                   {"refused_local_connections", counters_.refused_local_connections.load()},
                   {"sessions_ended_at_expiry", counters_.sessions_ended_at_expiry.load()},
                   {"bytes_up", counters_.bytes_up.load()},
                   {"bytes_down", counters_.bytes_down.load()}};
  info.last_error = keeper_->last_error();
  if (info.last_error.empty()) {
    std::lock_guard lock(error_mutex_);
    info.last_error = last_session_error_;
  }
  return info;
}

void TunnelLink::run_session(Socket listener, std::unique_ptr<TlsSession> tls, Timestamp not_after) {
  const auto deadline = steady_clock::now() + kLocalConnectTimeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      log::warn(kLog, "no local MQTT connection reached the tunnel within " +
                          std::to_string(kLocalConnectTimeout.count()) + " s; closing it");
      return;
    }
    std::array<pollfd, 2> fds{{{listener.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) return;
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    Socket local(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!local) continue;
    const auto ours = peer_is_this_process(local.get());
    if (!ours || !*ours) {
      // Anyone on this host can connect to a loopback port; only this process may speak as
      // the device. Refuse before a single byte reaches the broker.
      ++counters_.refused_local_connections;
      log::warn(kLog, std::string("refused a connection to the tunnel from ") +
                          (ours ? "another process" : "a peer /proc cannot identify") +
                          ": only the gateway itself may use it");
      continue;
    }
    listener.reset();  // one connection per session: nobody else can even connect now
    const int one = 1;
    ::setsockopt(local.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pump(local, *tls, not_after);
    return;
  }
}

// Moves bytes both ways until one side closes, close() is called, or the certificate the
// session was authenticated with expires (a session never outlives its certificate: a revoked
// device, which gets no new one, is off the broker within one lifetime). Non-blocking on both
// sockets. A side is tried only while it is known (or not known not) to be ready — poll() says
// so, or the TLS session holds bytes already read — so a busy tunnel makes few wasted syscalls;
// and everything the broker sent that is already here goes to Paho in one send().
void TunnelLink::pump(Socket& local, TlsSession& tls, Timestamp not_after) {
  std::vector<std::uint8_t> up(kChunk);        // Paho → broker: one TLS record's worth
  std::vector<std::uint8_t> down(4 * kChunk);  // broker → Paho: several records
  std::size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
  bool local_readable = true, local_writable = true;
  bool broker_readable = true, broker_writable = true;
  std::string end;
  while (end.empty()) {
    bool progress = false;

    if (up_len == 0 && local_readable) {
      const ssize_t n = ::recv(local.get(), up.data(), up.size(), 0);
      if (n > 0) {
        up_len = static_cast<std::size_t>(n);
        up_off = 0;
        progress = true;
      } else if (n == 0) {
        end = "the MQTT client closed the connection";
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        local_readable = false;
      } else {
        end = std::string("local connection failed: ") + std::strerror(errno);
      }
    }
    if (up_len > 0 && broker_writable && end.empty()) {
      const auto r = tls.write_some(ByteView(up.data() + up_off, up_len - up_off));
      if (r.status == IoStatus::done) {
        up_off += r.bytes;
        counters_.bytes_up += r.bytes;
        if (up_off == up_len) up_len = up_off = 0;
        progress = true;
      } else if (r.status == IoStatus::want_read || r.status == IoStatus::want_write) {
        // want_read only in a renegotiation, which mbedTLS refuses by default.
        broker_writable = false;
      } else {
        end = r.status == IoStatus::closed ? "the broker closed the connection"
                                           : tls.error(r.rc, "TLS write to the broker").describe();
      }
    }

    // Everything already here, record after record, before one send() to Paho.
    while (down_off == 0 && down_len + kChunk <= down.size() && end.empty() &&
           (broker_readable || tls.buffered() > 0)) {
      const auto r = tls.read_some(std::span(down.data() + down_len, kChunk));
      if (r.status == IoStatus::done) {
        down_len += r.bytes;
        counters_.bytes_down += r.bytes;
        progress = true;
      } else if (r.status == IoStatus::want_read) {
        broker_readable = false;
      } else if (r.status == IoStatus::want_write) {
        broker_writable = false;
        break;
      } else {
        end = r.status == IoStatus::closed ? "the broker closed the connection"
                                           : tls.error(r.rc, "TLS read from the broker").describe();
      }
    }
    if (down_len > 0 && local_writable && end.empty()) {
      const ssize_t n = ::send(local.get(), down.data() + down_off, down_len - down_off, MSG_NOSIGNAL);
      if (n > 0) {
        down_off += static_cast<std::size_t>(n);
        if (down_off == down_len) down_len = down_off = 0;
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        local_writable = false;
      } else {
        end = "the MQTT client's connection broke";
      }
    }
    if (!end.empty() || progress) continue;

    const auto until_expiry =
        std::chrono::duration_cast<std::chrono::milliseconds>(not_after - now_ms());
    if (until_expiry.count() <= 0) {
      ++counters_.sessions_ended_at_expiry;
      end = "the session's certificate expired; reconnecting with a renewed one";
      break;
    }
    // Only what is wanted and not known to be ready: the loop above made no progress, so every
    // flag still set belongs to a side with nothing to do.
    const short local_events =
        static_cast<short>((up_len == 0 ? POLLIN : 0) | (down_len > 0 ? POLLOUT : 0));
    const bool down_room = down_off == 0 && down_len + kChunk <= down.size();
    const short broker_events =
        static_cast<short>((down_room ? POLLIN : 0) | (up_len > 0 ? POLLOUT : 0));
    std::array<pollfd, 3> fds{{{local.get(), local_events, 0},
                               {tls.fd(), broker_events, 0},
                               {stop_fd_, POLLIN, 0}}};
    const int timeout = static_cast<int>(std::min<std::int64_t>(until_expiry.count(), 60000));
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      end = std::string("poll failed: ") + std::strerror(errno);
      break;
    }
    if ((fds[2].revents & POLLIN) != 0) {
      end = "closed by the uplink";
      break;
    }
    // Errors and hang-ups (POLLERR, POLLHUP) make the next recv/read attempt report them.
    constexpr short kProblem = POLLERR | POLLHUP;
    local_readable = local_readable || (fds[0].revents & (POLLIN | kProblem)) != 0;
    local_writable = local_writable || (fds[0].revents & (POLLOUT | kProblem)) != 0;
    broker_readable = broker_readable || (fds[1].revents & (POLLIN | kProblem)) != 0;
    broker_writable = broker_writable || (fds[1].revents & (POLLOUT | kProblem)) != 0;
  }
  tls.close_notify();
  log::info(kLog, "tunnel session ended: " + end);
  std::lock_guard lock(error_mutex_);
  if (end != "closed by the uplink" && end != "the MQTT client closed the connection")
    last_session_error_ = end;
}

}  // namespace guardian::secure_link
