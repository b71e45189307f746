#pragma once
/// \file
/// One open byte stream (a serial port or a TCP socket) with its read loop and write queue,
/// shared by the serial, TCP client and TCP server transports so none of them repeats it.
///
///   start ─▶ do_read ─▶ async_read_some ─▶ on_read ─┬─ bytes → events.on_bytes → do_read
///                                                   └─ error/EOF → close → closed(id, why)
///   send  ─▶ queue ─▶ do_write ─▶ async_write ─▶ on_write → next in queue (error → close)
///
/// Owns its chain through shared_from_this; close() cancels it. Private to the stream adapter.

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include "guardian/adapters/stream/transport.hpp"

namespace guardian::adapters::stream::detail {

/// The events receiver of a transport, shared with its links: stop() clears it, so a handler
/// that completes afterwards delivers nothing.
struct EventsSlot {
  TransportEvents* events = nullptr;
};

/// Upper bound of a write queue: a peer that does not read cannot make the gateway grow.
inline constexpr std::size_t kMaxQueuedWrites = 64;

/// An open link as its owner sees it, whatever the stream type.
class ByteLink {
 public:
  virtual ~ByteLink() = default;
  virtual void start() = 0;
  virtual void send(std::shared_ptr<const std::vector<std::uint8_t>> bytes) = 0;
  virtual void close() = 0;
};

template <class Stream>
class StreamLink final : public ByteLink, public std::enable_shared_from_this<StreamLink<Stream>> {
 public:
  /// Called once when the link closes (not after close() from the owner).
  using Closed = std::function<void(ConnectionId, const std::string& why)>;

  StreamLink(Stream stream, ConnectionId id, std::shared_ptr<EventsSlot> slot, Closed closed)
      : stream_(std::move(stream)), id_(id), slot_(std::move(slot)), closed_(std::move(closed)) {}

  void start() override { do_read(); }

  void send(std::shared_ptr<const std::vector<std::uint8_t>> bytes) override {
    if (!open_ || queue_.size() >= kMaxQueuedWrites) return;
    queue_.push_back(std::move(bytes));
    if (queue_.size() == 1) do_write();
  }

  /// Closes without reporting (the owner knows).
  void close() override {
    open_ = false;
    boost::system::error_code ignored;
    stream_.close(ignored);
  }

 private:
  void do_read() {
    stream_.async_read_some(
        boost::asio::buffer(buffer_),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (!open_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      fail(ec == boost::asio::error::eof ? std::string("closed by the peer") : ec.message());
      return;
    }
    if (slot_->events != nullptr)
      slot_->events->on_bytes(id_, std::span<const std::uint8_t>(buffer_.data(), n), false);
    if (open_) do_read();
  }

  void do_write() {
    boost::asio::async_write(
        stream_, boost::asio::buffer(*queue_.front()),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->on_write(ec);
        });
  }

  void on_write(boost::system::error_code ec) {
    if (!open_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      fail("write failed: " + ec.message());
      return;
    }
    queue_.pop_front();
    if (!queue_.empty()) do_write();
  }

  void fail(const std::string& why) {
    close();
    queue_.clear();
    if (closed_) closed_(id_, why);
  }

  Stream stream_;
  ConnectionId id_;
  std::shared_ptr<EventsSlot> slot_;
  Closed closed_;
  bool open_ = true;
  std::array<std::uint8_t, 4096> buffer_{};
  std::deque<std::shared_ptr<const std::vector<std::uint8_t>>> queue_;
};

}  // namespace guardian::adapters::stream::detail
