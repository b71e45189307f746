// The trust service's TLS transport on Boost.Asio (trust_server.hpp): one network thread that
// never blocks, a worker pool for the requests, and a bound on everything a client can hold.
#include "guardian/cloud/trust_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <future>
#include <map>
#include <thread>
#include <unordered_set>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "guardian/common/log.hpp"

namespace guardian::cloud {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;
using Wait = asio::posix::descriptor_base::wait_type;

constexpr const char* kLog = "trust";
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kLastBackoff{1000};
// Addresses remembered for rate limiting; beyond this, idle ones are forgotten first.
constexpr std::size_t kMaxAddresses = 65536;

// Per client address: connections open now, and a token bucket for new ones.
struct AddressState {
  std::size_t open = 0;
  double tokens = 0;
  steady_clock::time_point refilled{};
};

std::string numeric_address(const sockaddr_storage& sa, socklen_t length) {
  std::array<char, NI_MAXHOST> host{};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&sa), length, host.data(), host.size(),
                    nullptr, 0, NI_NUMERICHOST) != 0)
    return "?";
  return host.data();
}

}  // namespace

struct TrustServer::Impl {
  class Connection;

  Impl(TrustService& s, const secure_link::TlsServerContext& t, std::string h, TrustServerLimits l)
      : service(s), tls(t), host(std::move(h)), limits(l) {}

  void accept_loop();
  void accept_ready();
  bool admit(const std::string& address);
  void release(const std::string& address);

  TrustService& service;
  const secure_link::TlsServerContext& tls;
  std::string host;
  TrustServerLimits limits;
  TrustServerCounters counters;

  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer backoff_timer{io};
  std::chrono::milliseconds backoff{0};
  std::unique_ptr<asio::thread_pool> workers;
  std::thread io_thread;
  // On the io thread only:
  std::map<std::string, AddressState> addresses;
  std::unordered_set<std::shared_ptr<Connection>> connections;
};

// One client: its TLS session and its deadlines. Lives on the io thread; requests run on the
// workers and come back with asio::post.
class TrustServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(TrustServer::Impl& server, std::unique_ptr<secure_link::TlsSession> tls, std::string address)
      : server_(server), address_(std::move(address)), tls_(std::move(tls)),
        waiter_(server.io, tls_->fd()), deadline_(server.io) {}
  ~Connection() {
    // The descriptor belongs to the TLS session's socket: the waiter only borrowed it.
    if (waiter_.is_open()) (void)waiter_.release();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start() {
    arm(server_.limits.handshake_timeout);
    handshake();
  }

  // Idempotent; releases the address and the socket at once.
  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    if (waiter_.is_open()) {
      waiter_.cancel();
      (void)waiter_.release();
    }
    tls_.reset();
    server_.release(address_);
    --server_.counters.open;
    server_.connections.erase(shared_from_this());
  }

 private:
  void arm(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;  // operation_aborted: re-armed or closed
      ++self->server_.counters.timeouts;
      log::debug(kLog, "connection from " + self->address_ + " timed out");
      self->close();
    });
  }

  template <class Then>
  void wait(Wait what, Then then) {
    waiter_.async_wait(what, [self = shared_from_this(), then](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      then(*self);
    });
  }

  void handshake() {
    const auto r = tls_->handshake_step();
    switch (r.status) {
      case secure_link::IoStatus::done: return read_request();
      case secure_link::IoStatus::want_read: return wait(Wait::wait_read, [](Connection& c) { c.handshake(); });
      case secure_link::IoStatus::want_write: return wait(Wait::wait_write, [](Connection& c) { c.handshake(); });
      default:
        ++server_.counters.handshake_failures;
        log::debug(kLog, "TLS handshake with " + address_ + " failed: " + tls_->error(r.rc, "handshake").describe());
        return close();
    }
  }

  // A request must arrive whole within request_timeout of the last answer (or the handshake):
  // idle connections and slow-loris writers alike.
  void read_request() {
    if (take_line()) return;
    arm(server_.limits.request_timeout);
    read_more();
  }

  void read_more() {
    std::array<std::uint8_t, 4096> chunk{};
    while (true) {
      const auto r = tls_->read_some(chunk);
      switch (r.status) {
        case secure_link::IoStatus::done:
          buffer_.append(reinterpret_cast<const char*>(chunk.data()), r.bytes);
          if (take_line()) return;
          if (buffer_.size() > server_.limits.max_line) {
            ++server_.counters.oversized_lines;
            return close();
          }
          continue;
        case secure_link::IoStatus::want_read: return wait(Wait::wait_read, [](Connection& c) { c.read_more(); });
        case secure_link::IoStatus::want_write: return wait(Wait::wait_write, [](Connection& c) { c.read_more(); });
        default: return close();  // the client is done (or gone)
      }
    }
  }

  // Dispatches the next complete line, if there is one.
  bool take_line() {
    const auto newline = buffer_.find('\n');
    if (newline == std::string::npos) return false;
    if (newline > server_.limits.max_line) {
      ++server_.counters.oversized_lines;
      close();
      return true;
    }
    std::string line = buffer_.substr(0, newline);
    buffer_.erase(0, newline + 1);
    deadline_.cancel();  // the service's own time is not the client's
    ++server_.counters.requests;
    asio::post(*server_.workers, [self = shared_from_this(), line = std::move(line)] {
      auto response = self->server_.service.handle(line).dump() + "\n";
      asio::post(self->server_.io, [self, response = std::move(response)]() mutable {
        if (self->closed_) return;
        self->out_ = std::move(response);
        self->written_ = 0;
        self->arm(self->server_.limits.request_timeout);
        self->write();
      });
    });
    return true;
  }

  void write() {
    while (written_ < out_.size()) {
      const auto r = tls_->write_some(secure_link::ByteView(
          reinterpret_cast<const std::uint8_t*>(out_.data()) + written_, out_.size() - written_));
      switch (r.status) {
        case secure_link::IoStatus::done: written_ += r.bytes; continue;
        case secure_link::IoStatus::want_read: return wait(Wait::wait_read, [](Connection& c) { c.write(); });
        case secure_link::IoStatus::want_write: return wait(Wait::wait_write, [](Connection& c) { c.write(); });
        default: return close();
      }
    }
    if (++requests_ >= server_.limits.max_requests) {
      tls_->close_notify();
      return close();
    }
    read_request();
  }

  TrustServer::Impl& server_;
  std::string address_;
  std::unique_ptr<secure_link::TlsSession> tls_;
  asio::posix::stream_descriptor waiter_;
  asio::steady_timer deadline_;
  std::string buffer_;  // received, not yet a whole line (bounded by max_line)
  std::string out_;
  std::size_t written_ = 0;
  int requests_ = 0;
  bool closed_ = false;
};

bool TrustServer::Impl::admit(const std::string& address) {
  if (connections.size() >= limits.max_connections) {
    ++counters.refused_busy;
    return false;
  }
  const auto now = steady_clock::now();
  if (addresses.size() >= kMaxAddresses) {
    // Forget addresses with nothing open whose bucket has refilled: they would start full anyway.
    const auto refill = std::chrono::duration<double>(limits.new_connections_burst / limits.new_connections_per_second);
    std::erase_if(addresses, [&](const auto& entry) {
      return entry.second.open == 0 && now - entry.second.refilled > refill;
    });
    if (addresses.size() >= kMaxAddresses) {
      ++counters.refused_busy;
      return false;
    }
  }
  auto [it, fresh] = addresses.try_emplace(address);
  auto& a = it->second;
  if (fresh) {
    a.tokens = limits.new_connections_burst;
    a.refilled = now;
  } else {
    const double elapsed = std::chrono::duration<double>(now - a.refilled).count();
    a.tokens = std::min(limits.new_connections_burst, a.tokens + elapsed * limits.new_connections_per_second);
    a.refilled = now;
  }
  if (a.open >= limits.max_connections_per_address || a.tokens < 1) {
    ++counters.refused_per_address;
    return false;
  }
  a.tokens -= 1;
  ++a.open;
  return true;
}

void TrustServer::Impl::release(const std::string& address) {
  if (auto it = addresses.find(address); it != addresses.end() && it->second.open > 0) --it->second.open;
}

void TrustServer::Impl::accept_loop() {
  acceptor.async_wait(tcp::acceptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;  // operation_aborted: stopping
    accept_ready();
  });
}

// Accepts every pending connection, or backs off when out of descriptors: a full table leaves
// the connection in the kernel's queue, which stays readable — waiting on it again at once
// would spin.
void TrustServer::Impl::accept_ready() {
  while (true) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&peer), &length,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) break;
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        ++counters.accept_backoffs;
        backoff = std::clamp(backoff * 2, kFirstBackoff, kLastBackoff);
        if (backoff == kFirstBackoff)
          log::warn(kLog, std::string("cannot accept: ") + std::strerror(e) + "; backing off");
        backoff_timer.expires_after(backoff);
        backoff_timer.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec) accept_ready();
        });
        return;
      }
      log::warn(kLog, std::string("accept failed: ") + std::strerror(e));
      break;
    }
    backoff = std::chrono::milliseconds{0};
    secure_link::Socket socket(fd);
    const auto address = numeric_address(peer, length);
    if (!admit(address)) continue;  // the socket closes here
    auto session = secure_link::TlsSession::server(std::move(socket), tls);
    if (!session) {
      release(address);
      log::warn(kLog, session.error().describe());
      continue;
    }
    ++counters.accepted;
    ++counters.open;
    auto connection = std::make_shared<Connection>(*this, std::move(session).value(), address);
    connections.insert(connection);
    connection->start();
  }
  accept_loop();
}

TrustServer::TrustServer(TrustService& service, const secure_link::TlsServerContext& tls,
                         std::string host, std::uint16_t port, TrustServerLimits limits)
    : impl_(std::make_unique<Impl>(service, tls, std::move(host), limits)), port_(port) {}

TrustServer::~TrustServer() { stop(); }

const TrustServerCounters& TrustServer::counters() const noexcept { return impl_->counters; }

result<void> TrustServer::start() {
  auto& m = *impl_;
  boost::system::error_code ec;
  tcp::resolver resolver(m.io);
  const auto found = resolver.resolve(m.host.empty() ? "0.0.0.0" : m.host, std::to_string(port_),
                                      tcp::resolver::passive, ec);
  if (ec || found.empty()) return make_error(ec, "cannot resolve listen address " + m.host);
  const tcp::endpoint endpoint = *found.begin();
  m.acceptor.open(endpoint.protocol(), ec);
  if (!ec) m.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(endpoint, ec);
  if (!ec) m.acceptor.listen(512, ec);
  if (!ec) m.acceptor.non_blocking(true, ec);
  if (ec) return make_error(ec, "cannot listen on " + m.host + ":" + std::to_string(port_));
  port_ = m.acceptor.local_endpoint().port();
  m.workers = std::make_unique<asio::thread_pool>(m.limits.workers);
  m.accept_loop();
  m.io_thread = std::thread([&m] { m.io.run(); });
  return outcome::success();
}

void TrustServer::stop() {
  auto& m = *impl_;
  if (!m.io_thread.joinable()) return;
  std::promise<void> closed;
  asio::post(m.io, [&m, &closed] {
    boost::system::error_code ignored;
    m.acceptor.close(ignored);
    m.backoff_timer.cancel();
    const auto open = m.connections;  // close() erases from the set
    for (const auto& c : open) c->close();
    closed.set_value();
  });
  closed.get_future().wait();
  m.workers->join();  // running requests finish; their answers go to closed connections
  m.io.stop();
  m.io_thread.join();
}

}  // namespace guardian::cloud
