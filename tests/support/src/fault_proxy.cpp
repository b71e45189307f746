#include "guardian/testing/fault_proxy.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <future>
#include <set>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

// One Session per accepted connection, with one Pump per direction:
//
//   client socket ──read──▶ [buffer] ──(slow: timer)──▶ write ──▶ server socket   (Pump up)
//   client socket ◀──write── [buffer] ◀──read──────────────────── server socket   (Pump down)
//
// A pump reads one chunk, forwards it, then reads the next, so a black hole is simply a pump
// that does not read (TCP flow control then stalls the sender) and a slow link is a delay before
// each write. EOF on one side is passed on as a shutdown of the other side's sending half.

namespace guardian::testing {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

enum class Mode : std::uint8_t { pass, black_hole, slow };

}  // namespace

struct FaultProxy::Impl : std::enable_shared_from_this<FaultProxy::Impl> {
  struct Session;

  struct Pump {
    Pump(asio::io_context& io, tcp::socket& f, tcp::socket& t, std::atomic<std::uint64_t>& c)
        : from(f), to(t), delay(io), counter(c) {}
    tcp::socket& from;
    tcp::socket& to;
    std::array<char, 4096> buffer{};
    std::size_t held = 0;  // bytes read and not yet written (a black hole caught them)
    bool paused = true;    // not reading: black hole, or not started
    bool done = false;     // EOF or error on `from`, or half-closed
    asio::steady_timer delay;
    std::atomic<std::uint64_t>& counter;
  };

  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& p, tcp::socket accepted)
        : proxy(p),
          client(std::move(accepted)),
          server(p.io),
          up(p.io, client, server, p.bytes_up),
          down(p.io, server, client, p.bytes_down) {}

    void connect_upstream() {
      connecting = true;
      server.async_connect(
          tcp::endpoint(asio::ip::address_v4::loopback(), proxy.upstream_port),
          [self = shared_from_this()](boost::system::error_code ec) {
            self->connecting = false;
            if (ec) return self->close(true);  // nothing listens: the client sees a reset
            self->connected = true;
            if (self->proxy.mode == Mode::black_hole) return;
            self->resume(self->up);
            self->resume(self->down);
          });
    }

    void resume(Pump& pump) {
      if (closed || pump.done || !pump.paused) return;
      pump.paused = false;
      if (pump.held > 0)
        forward(pump, pump.held);
      else
        read(pump);
    }

    void read(Pump& pump) {
      if (closed || pump.done) return;
      if (proxy.mode == Mode::black_hole) {
        pump.paused = true;
        return;
      }
      pump.from.async_read_some(
          asio::buffer(pump.buffer),
          [self = shared_from_this(), &pump](boost::system::error_code ec, std::size_t n) {
            if (self->closed) return;
            if (ec) return self->finish(pump);
            if (self->proxy.mode == Mode::black_hole) {
              pump.held = n;
              pump.paused = true;
              return;
            }
            self->forward(pump, n);
          });
    }

    void forward(Pump& pump, std::size_t n) {
      pump.held = n;
      if (proxy.mode != Mode::slow) return write(pump);
      const auto transfer = std::chrono::milliseconds(
          proxy.rate == 0 ? 0 : static_cast<std::int64_t>(n * 1000 / proxy.rate));
      pump.delay.expires_after(std::max(transfer, proxy.latency));
      pump.delay.async_wait([self = shared_from_this(), &pump](boost::system::error_code ec) {
        if (ec || self->closed) return;
        self->write(pump);
      });
    }

    void write(Pump& pump) {
      if (closed || pump.done) return;
      asio::async_write(
          pump.to, asio::buffer(pump.buffer.data(), pump.held),
          [self = shared_from_this(), &pump](boost::system::error_code ec, std::size_t n) {
            if (self->closed) return;
            if (ec) return self->close(false);
            pump.counter += n;
            pump.held = 0;
            self->read(pump);
          });
    }

    // EOF (or an error) from one peer: the other peer reads EOF too, the rest still flows.
    void finish(Pump& pump) {
      pump.done = true;
      boost::system::error_code ignored;
      pump.to.shutdown(tcp::socket::shutdown_send, ignored);
      if (up.done && down.done) close(false);
    }

    void close(bool reset) {
      if (closed) return;
      closed = true;
      boost::system::error_code ignored;
      for (tcp::socket* s : {&client, &server}) {
        if (reset && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ignored);
        s->close(ignored);
      }
      up.delay.cancel();
      down.delay.cancel();
      proxy.sessions.erase(shared_from_this());
    }

    Impl& proxy;
    tcp::socket client;
    tcp::socket server;
    Pump up;
    Pump down;
    bool connecting = false;
    bool connected = false;
    bool closed = false;
  };

  explicit Impl(std::uint16_t upstream)
      : upstream_port(upstream),
        acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        guard(asio::make_work_guard(io)) {
    port = acceptor.local_endpoint().port();
  }

  void start() {
    accept();
    thread = std::thread([self = shared_from_this()] { self->io.run(); });
  }

  void stop() {
    run_sync([this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      auto all = sessions;
      for (const auto& s : all) s->close(true);
      guard.reset();
    });
    thread.join();
  }

  void accept() {
    acceptor.async_accept(
        [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
          if (ec) return;  // closed at stop()
          ++self->accepted;
          auto session = std::make_shared<Session>(*self, std::move(socket));
          self->sessions.insert(session);
          if (self->mode != Mode::black_hole) session->connect_upstream();
          self->accept();
        });
  }

  template <class F>
  void run_sync(F f) {
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(io, [&] {
      f();
      done.set_value();
    });
    finished.wait();
  }

  void set_mode(Mode m) {
    mode = m;
    if (m == Mode::black_hole) return;  // pumps notice at their next read
    auto all = sessions;
    for (const auto& s : all) {
      if (!s->connected && !s->connecting) {
        s->connect_upstream();
        continue;
      }
      s->resume(s->up);
      s->resume(s->down);
    }
  }

  asio::io_context io;
  std::uint16_t upstream_port;
  std::uint16_t port = 0;
  tcp::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::set<std::shared_ptr<Session>> sessions;  // proxy thread only
  Mode mode = Mode::pass;                       // proxy thread only
  std::size_t rate = 0;
  std::chrono::milliseconds latency{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> bytes_up{0};
  std::atomic<std::uint64_t> bytes_down{0};
};

FaultProxy::FaultProxy(std::uint16_t upstream_port) : impl_(std::make_shared<Impl>(upstream_port)) {
  impl_->start();
}

FaultProxy::~FaultProxy() { impl_->stop(); }

std::uint16_t FaultProxy::port() const noexcept { return impl_->port; }

void FaultProxy::pass() {
  impl_->run_sync([this] { impl_->set_mode(Mode::pass); });
}

void FaultProxy::black_hole() {
  impl_->run_sync([this] { impl_->set_mode(Mode::black_hole); });
}

void FaultProxy::slow(std::size_t bytes_per_second, std::chrono::milliseconds latency) {
  impl_->run_sync([this, bytes_per_second, latency] {
    impl_->rate = bytes_per_second;
    impl_->latency = latency;
    impl_->set_mode(Mode::slow);
  });
}

void FaultProxy::cut() {
  impl_->run_sync([this] {
    auto all = impl_->sessions;
    for (const auto& s : all) s->close(true);
  });
}

void FaultProxy::half_close(Side side) {
  impl_->run_sync([this, side] {
    for (const auto& s : impl_->sessions) {
      boost::system::error_code ignored;
      // The proxy stops sending towards `side`: that peer reads EOF.
      Impl::Pump& towards = side == Side::client ? s->down : s->up;
      towards.done = true;
      towards.to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }
  });
}

std::size_t FaultProxy::open_connections() const {
  std::size_t n = 0;
  impl_->run_sync([&] { n = impl_->sessions.size(); });
  return n;
}

std::uint64_t FaultProxy::accepted() const { return impl_->accepted; }
std::uint64_t FaultProxy::bytes_up() const { return impl_->bytes_up; }
std::uint64_t FaultProxy::bytes_down() const { return impl_->bytes_down; }

}  // namespace guardian::testing
