// The UDP transport: one bound socket; each sender (address and port) is a "connection" of its
// own, so the adapter identifies it like a TCP peer and can answer it. Every datagram is a whole
// unit for the codec.
//
//   start ─▶ bind ─▶ do_receive ─▶ on_receive ─▶ (new sender → on_connected) → on_bytes(datagram)
//             │ fails → on_link_error, retry after back-off            └──────────▶ do_receive

#include <atomic>
#include <array>
#include <map>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "guardian/common/backoff.hpp"
#include "stream_link.hpp"
#include "transports.hpp"

namespace guardian::adapters::stream::detail {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// Senders remembered at once; beyond, one is forgotten (memory stays bounded whoever sends).
constexpr std::size_t kMaxSenders = 256;
// RFC 768: a UDP payload is at most 65535 − 8 (header) − 20 (IPv4 header) bytes.
constexpr std::size_t kMaxDatagram = 65507;

class UdpTransport final : public Transport, public std::enable_shared_from_this<UdpTransport> {
 public:
  UdpTransport(asio::io_context& io, const config::StreamAdapterConfig& config)
      : socket_(io),
        timer_(io),
        backoff_(config.backoff_min, config.backoff_max),
        bind_(config.host),
        port_(config.port),
        buffer_(std::make_unique<std::array<std::uint8_t, kMaxDatagram>>()) {}

  void start(TransportEvents& events) override {
    slot_->events = &events;
    stopped_ = false;
    bind();
  }

  void stop() override {
    stopped_ = true;
    slot_->events = nullptr;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    senders_.clear();
    state_ = "stopped";
  }

  void send(ConnectionId id, std::shared_ptr<const std::vector<std::uint8_t>> bytes) override {
    for (const auto& [endpoint, sender_id] : senders_) {
      if (sender_id != id) continue;
      socket_.async_send_to(asio::buffer(*bytes), endpoint,
                            [bytes](boost::system::error_code, std::size_t) {});
      return;
    }
  }

  void close(ConnectionId id) override {
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if (it->second != id) continue;
      senders_.erase(it);
      if (slot_->events != nullptr) slot_->events->on_disconnected(id, "closed by the adapter");
      return;
    }
  }

  [[nodiscard]] std::string state() const override { return state_.load(); }

 private:
  void bind() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(bind_, ec);
    const udp::endpoint endpoint(address, port_);
    if (!ec) socket_.open(endpoint.protocol(), ec);
    if (!ec) socket_.bind(endpoint, ec);
    if (ec) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      if (slot_->events != nullptr)
        slot_->events->on_link_error("cannot bind " + bind_ + ":" + std::to_string(port_) +
                                     "/udp: " + ec.message());
      state_ = "backoff";
      timer_.expires_after(backoff_.next());
      timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
        if (timer_ec || self->stopped_) return;
        self->bind();
      });
      return;
    }
    backoff_.reset();
    state_ = "listening";
    do_receive();
  }

  void do_receive() {
    socket_.async_receive_from(
        asio::buffer(*buffer_), sender_,
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_receive(ec, n);
        });
  }

  void on_receive(boost::system::error_code ec, std::size_t n) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      // ICMP port unreachable from an earlier send and the like: not fatal for a receiver.
      if (slot_->events != nullptr) slot_->events->on_link_error("receive failed: " + ec.message());
      do_receive();
      return;
    }
    auto it = senders_.find(sender_);
    if (it == senders_.end()) {
      if (senders_.size() >= kMaxSenders) {
        const ConnectionId forgotten = senders_.begin()->second;
        senders_.erase(senders_.begin());
        if (slot_->events != nullptr)
          slot_->events->on_disconnected(forgotten, "too many senders: forgotten");
      }
      it = senders_.emplace(sender_, ++next_id_).first;
      const ConnectionId id = it->second;
      if (slot_->events != nullptr) slot_->events->on_connected(id, peer_text(sender_.address()));
      it = senders_.find(sender_);
      if (it == senders_.end() || it->second != id) {  // refused by the adapter
        if (!stopped_) do_receive();
        return;
      }
    }
    if (slot_->events != nullptr)
      slot_->events->on_bytes(it->second, std::span<const std::uint8_t>(buffer_->data(), n), true);
    if (!stopped_) do_receive();
  }

  udp::socket socket_;
  asio::steady_timer timer_;
  Backoff backoff_;
  std::string bind_;
  std::uint16_t port_;
  std::unique_ptr<std::array<std::uint8_t, kMaxDatagram>> buffer_;
  udp::endpoint sender_;
  std::shared_ptr<EventsSlot> slot_ = std::make_shared<EventsSlot>();
  std::map<udp::endpoint, ConnectionId> senders_;
  ConnectionId next_id_ = 0;
  bool stopped_ = true;
  // Read by health() from any thread: a pointer to a string literal, swapped atomically.
  std::atomic<const char*> state_{"stopped"};
};

}  // namespace

std::shared_ptr<Transport> make_udp_transport(const config::StreamAdapterConfig& config,
                                              asio::io_context& io) {
  return std::make_shared<UdpTransport>(io, config);
}

}  // namespace guardian::adapters::stream::detail
