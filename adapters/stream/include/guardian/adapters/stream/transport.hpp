#pragma once
/// \file
/// Byte transports of the stream adapter: serial port, TCP client, TCP server, UDP receiver. A
/// transport knows nothing of codecs: it reports connections and bytes to its TransportEvents and
/// sends what it is given, so every transport works with every codec. Public so that field tools
/// (`guardian probe`) open links exactly as the adapter does.
///
///   Transport::start ─▶ open/connect/listen ─▶ events.on_connected(id, peer)
///                           ▲       │ async_read_some → events.on_bytes(id, peer, bytes)
///                   back-off│       ▼ error / EOF
///                   timer   └── events.on_disconnected(id, why) / on_link_error(why)
///
/// Every transport runs on the adapter's io_context thread; every object owns its async chain
/// through shared_from_this, and stop() cancels it: no event is delivered after stop() returns.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include "guardian/config/stream_config.hpp"

namespace guardian::adapters::stream {

/// Names one connection of a transport (the serial port, a TCP connection, a UDP sender).
using ConnectionId = std::uint64_t;

/// What a transport reports; called on the io_context thread only.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  /// A connection is up; `peer` is the remote IP address ("" for a serial port).
  virtual void on_connected(ConnectionId id, const std::string& peer) = 0;
  /// Bytes arrived; `datagram` when they are one whole UDP datagram.
  virtual void on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, bool datagram) = 0;
  /// The connection closed (EOF, error, or closed by close()); `why` says which.
  virtual void on_disconnected(ConnectionId id, const std::string& why) = 0;
  /// Opening, connecting or listening failed; the transport retries by itself.
  virtual void on_link_error(const std::string& why) = 0;
  /// A TCP server turned a connection away (max_connections reached).
  virtual void on_refused(const std::string& peer, const std::string& why) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// Begins opening/connecting/listening. Events go to `events` until stop().
  virtual void start(TransportEvents& events) = 0;
  /// Cancels every operation and closes every connection; no event after it returns.
  virtual void stop() = 0;
  /// Queues `bytes` for connection `id` (written in order; dropped if it is gone).
  virtual void send(ConnectionId id, std::shared_ptr<const std::vector<std::uint8_t>> bytes) = 0;
  /// Closes connection `id` (on_disconnected follows).
  virtual void close(ConnectionId id) = 0;
  /// "connecting", "backoff", "running", "listening" or "stopped". Thread-safe.
  [[nodiscard]] virtual std::string state() const = 0;
  /// Standing conditions of the link a technician should know about (e.g. a serial port that
  /// cannot switch to RS-485 mode); empty when there are none. Thread-safe.
  [[nodiscard]] virtual std::vector<std::string> warnings() const { return {}; }
};

/// The peer's address as configured peers are written: IPv4-mapped IPv6 addresses as IPv4.
[[nodiscard]] std::string peer_text(const boost::asio::ip::address& address);

/// The transport `config.transport` names (an explicit switch over the four kinds).
[[nodiscard]] std::shared_ptr<Transport> make_transport(const config::StreamAdapterConfig& config,
                                                        boost::asio::io_context& io);

}  // namespace guardian::adapters::stream
