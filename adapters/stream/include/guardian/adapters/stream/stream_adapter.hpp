#pragma once
/// \file
/// The stream adapter: any transport (serial port, TCP client, TCP server, UDP receiver) with any
/// declarative codec (lines, binary frames, JSON lines), pushing or polled. One adapter per
/// `type: serial | tcp-client | tcp-server | udp` entry of the configuration;
/// docs/stream-adapters.md shows worked examples.
///
///   Transport ──on_connected(id, peer)──▶ Session: source of the peer, a Codec for the link
///             ──on_bytes(id, bytes)─────▶ Codec::feed ─▶ Decoded ─┬─ record  ─▶ RecordSink
///             ──on_disconnected(id)─────▶ comm_fail batch         └─ readings ─▶ ReadingSink
///   poll timer ─▶ send(query) ─▶ reply timer ─(no matching message)─▶ comm_fail, timeouts++
///   silence watchdog ─(no message for silence_timeout)─▶ comm_fail
///
/// Everything runs on the io_context the adapter was created with; a misbehaving peer affects
/// only its own source (bounded buffers, counted drops), never the other adapters.

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/config/stream_config.hpp"

namespace guardian::adapters::stream {

/// A running stream adapter.
///
/// Output: each decoded message of a `record: true` message becomes one Record (type = message
/// name, fields = its readings, source_ts = when it arrived); any other message becomes one
/// ReadingBatch of its fields. Fields that do not decode are Quality::bad with the reason. When the
/// link is lost, the device stays silent for silence_timeout, or a poll gets no reply within its
/// timeout, the source's reading points are sent once as Quality::comm_fail (no value).
///
/// Sources: `source` for serial and tcp-client; for tcp-server and udp, the source of the peer's
/// address in `peers`, or the value of the `source_field` field of each message (at most
/// max_sources different ones). Unknown peers are closed (TCP) or ignored (UDP) and counted.
///
/// Health: per source the usual SourceHealth with the codec's counters (`bad_checksum`,
/// `overlong`, `garbage_bytes`, `bad_length`, `truncated`, `unmatched_lines`/`unmatched_frames`,
/// `invalid_json`, `decode_errors`, `messages`); adapter-wide `counters` for what belongs to no
/// source (`unknown_peer`, `refused_connections`, `link_errors`, `too_many_sources`,
/// `unnamed_messages`, and codec counters of links whose messages name their own source).
///
/// Threading: construct, start(), stop() and destroy on the io_context's thread (or while it is not
/// running); the sinks are called on it. health() is thread-safe.
class StreamAdapter final : public Adapter {
 public:
  /// Compiles the codec. Throws std::invalid_argument for what the configuration loader rejects.
  StreamAdapter(config::StreamAdapterConfig config, boost::asio::io_context& io,
                ReadingSink readings, RecordSink records);
  ~StreamAdapter() override;

  /// Opens/connects/listens. Only the first call has an effect.
  void start() override;
  /// Cancels every operation; no sink call after it returns. Idempotent.
  void stop() override;
  [[nodiscard]] const std::string& name() const override;
  /// type "<transport>/<codec>" (e.g. "serial/lines"); state "connecting", "running",
  /// "listening", "backoff" or "stopped".
  [[nodiscard]] AdapterHealth health() const override;

  class Session;  ///< private: the object that owns the async chain

 private:
  std::string name_;
  std::shared_ptr<Session> session_;
};

}  // namespace guardian::adapters::stream
