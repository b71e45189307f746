#pragma once
/// \file
/// The part of the serial and TCP client transports that is the same: one link at a time, opened
/// again after a failure or a disconnection with exponential back-off (common/backoff.hpp).
///
///   start ─▶ open() ─┬─ opened(link, peer) ─▶ running ─ link closes ─┐
///                    └─ failed(why) ──────────────────────────────────┴▶ backoff timer ─▶ open()
///
/// Private to the stream adapter.

#include <atomic>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "guardian/common/backoff.hpp"
#include "stream_link.hpp"

namespace guardian::adapters::stream::detail {

class ReconnectingTransport : public Transport,
                              public std::enable_shared_from_this<ReconnectingTransport> {
 public:
  ReconnectingTransport(boost::asio::io_context& io, const config::StreamAdapterConfig& config)
      : io_(io), timer_(io), backoff_(config.backoff_min, config.backoff_max) {}

  void start(TransportEvents& events) override {
    slot_->events = &events;
    stopped_ = false;
    attempt();
  }

  void stop() override {
    stopped_ = true;
    slot_->events = nullptr;
    timer_.cancel();
    cancel_open();
    if (link_) link_->close();
    link_.reset();
    state_ = "stopped";
  }

  void send(ConnectionId id, std::shared_ptr<const std::vector<std::uint8_t>> bytes) override {
    if (link_ && id == id_) link_->send(std::move(bytes));
  }

  void close(ConnectionId id) override {
    if (!link_ || id != id_) return;
    link_->close();
    link_.reset();
    if (slot_->events != nullptr) slot_->events->on_disconnected(id, "closed by the adapter");
    retry_later();
  }

  [[nodiscard]] std::string state() const override { return state_.load(); }

 protected:
  /// Starts one attempt; it ends with opened() or failed().
  virtual void open() = 0;
  /// Abandons an attempt in progress (stop()).
  virtual void cancel_open() = 0;

  /// Wraps `stream` in a link and reports the connection.
  template <class Stream>
  void opened(Stream stream, const std::string& peer) {
    if (stopped_) return;
    backoff_.reset();
    const ConnectionId id = ++id_;
    std::weak_ptr<ReconnectingTransport> weak = shared_from_this();
    auto link = std::make_shared<StreamLink<Stream>>(
        std::move(stream), id, slot_, [weak](ConnectionId closed_id, const std::string& why) {
          if (auto self = weak.lock()) self->on_link_closed(closed_id, why);
        });
    link_ = link;
    state_ = "running";
    if (slot_->events != nullptr) slot_->events->on_connected(id, peer);
    if (link_ == link) link->start();  // the adapter may have closed it at once
  }

  void failed(const std::string& why) {
    if (stopped_) return;
    if (slot_->events != nullptr) slot_->events->on_link_error(why);
    retry_later();
  }

  [[nodiscard]] bool stopped() const noexcept { return stopped_; }
  boost::asio::io_context& io_;

 private:
  void attempt() {
    state_ = "connecting";
    open();
  }

  void on_link_closed(ConnectionId id, const std::string& why) {
    if (stopped_ || id != id_) return;
    link_.reset();
    if (slot_->events != nullptr) slot_->events->on_disconnected(id, why);
    retry_later();
  }

  void retry_later() {
    if (stopped_) return;
    state_ = "backoff";
    timer_.expires_after(backoff_.next());
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec == boost::asio::error::operation_aborted || self->stopped_) return;
      self->attempt();
    });
  }

  boost::asio::steady_timer timer_;
  Backoff backoff_;
  std::shared_ptr<EventsSlot> slot_ = std::make_shared<EventsSlot>();
  std::shared_ptr<ByteLink> link_;
  ConnectionId id_ = 0;
  bool stopped_ = true;
  // Read by health() from any thread: a pointer to a string literal, swapped atomically.
  std::atomic<const char*> state_{"stopped"};
};

}  // namespace guardian::adapters::stream::detail
