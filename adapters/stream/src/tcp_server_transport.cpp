// The TCP server transport: equipment connects in. Several connections at once (up to
// max_connections; more are refused and reported), each its own link with its own id, so the
// adapter can tell the machines apart by the address they connect from.
//
//   start ─▶ listen ─▶ do_accept ─▶ on_accept ─┬─ too many → close, on_refused
//              │ fails → on_link_error,         └─ link(id) → on_connected → read loop …
//              └──────── retry after back-off       link closes → on_disconnected, forget it

#include <atomic>
#include <map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "guardian/common/backoff.hpp"
#include "stream_link.hpp"
#include "transports.hpp"

namespace guardian::adapters::stream::detail {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class TcpServerTransport final : public Transport,
                                 public std::enable_shared_from_this<TcpServerTransport> {
 public:
  TcpServerTransport(asio::io_context& io, const config::StreamAdapterConfig& config)
      : io_(io),
        acceptor_(io),
        timer_(io),
        backoff_(config.backoff_min, config.backoff_max),
        bind_(config.host),
        port_(config.port),
        max_connections_(config.max_connections) {}

  void start(TransportEvents& events) override {
    slot_->events = &events;
    stopped_ = false;
    listen();
  }

  void stop() override {
    stopped_ = true;
    slot_->events = nullptr;
    timer_.cancel();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [id, link] : links_) link->close();
    links_.clear();
    state_ = "stopped";
  }

  void send(ConnectionId id, std::shared_ptr<const std::vector<std::uint8_t>> bytes) override {
    if (const auto it = links_.find(id); it != links_.end()) it->second->send(std::move(bytes));
  }

  void close(ConnectionId id) override {
    const auto it = links_.find(id);
    if (it == links_.end()) return;
    it->second->close();
    links_.erase(it);
    if (slot_->events != nullptr) slot_->events->on_disconnected(id, "closed by the adapter");
  }

  [[nodiscard]] std::string state() const override { return state_.load(); }

 private:
  void listen() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(bind_, ec);
    const tcp::endpoint endpoint(address, port_);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      if (slot_->events != nullptr)
        slot_->events->on_link_error("cannot listen on " + bind_ + ":" + std::to_string(port_) +
                                     ": " + ec.message());
      state_ = "backoff";
      timer_.expires_after(backoff_.next());
      timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
        if (timer_ec || self->stopped_) return;
        self->listen();
      });
      return;
    }
    backoff_.reset();
    state_ = "listening";
    do_accept();
  }

  void do_accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      // Out of descriptors and the like: report, keep accepting.
      if (slot_->events != nullptr) slot_->events->on_link_error("accept failed: " + ec.message());
      do_accept();
      return;
    }
    boost::system::error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    const std::string peer = peer_ec ? std::string("?") : peer_text(remote.address());
    if (links_.size() >= max_connections_) {
      socket.close(peer_ec);
      if (slot_->events != nullptr)
        slot_->events->on_refused(
            peer, "max_connections (" + std::to_string(max_connections_) + ") reached");
      do_accept();
      return;
    }
    socket.set_option(tcp::no_delay(true), peer_ec);
    const ConnectionId id = ++next_id_;
    std::weak_ptr<TcpServerTransport> weak = shared_from_this();
    auto link = std::make_shared<StreamLink<tcp::socket>>(
        std::move(socket), id, slot_, [weak](ConnectionId closed_id, const std::string& why) {
          if (auto self = weak.lock()) self->on_link_closed(closed_id, why);
        });
    links_.emplace(id, link);
    if (slot_->events != nullptr) slot_->events->on_connected(id, peer);
    if (links_.contains(id)) link->start();  // the adapter may have refused the peer at once
    do_accept();
  }

  void on_link_closed(ConnectionId id, const std::string& why) {
    if (stopped_ || links_.erase(id) == 0) return;
    if (slot_->events != nullptr) slot_->events->on_disconnected(id, why);
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::steady_timer timer_;
  Backoff backoff_;
  std::string bind_;
  std::uint16_t port_;
  std::size_t max_connections_;
  std::shared_ptr<EventsSlot> slot_ = std::make_shared<EventsSlot>();
  std::map<ConnectionId, std::shared_ptr<ByteLink>> links_;
  ConnectionId next_id_ = 0;
  bool stopped_ = true;
  // Read by health() from any thread: a pointer to a string literal, swapped atomically.
  std::atomic<const char*> state_{"stopped"};
};

}  // namespace

std::shared_ptr<Transport> make_tcp_server_transport(const config::StreamAdapterConfig& config,
                                                     asio::io_context& io) {
  return std::make_shared<TcpServerTransport>(io, config);
}

}  // namespace guardian::adapters::stream::detail
