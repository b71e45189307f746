// The stream adapter's session: transport events in, readings and records out.
//
//   on_connected(id) ─▶ Connection{codec, source} ─▶ (poll) send_poll ─┬─ query → transport
//                                                      ▲ poll_timer ───┘  reply_timer ─▶ on_reply_timeout
//   on_bytes(id) ─▶ codec.feed ─▶ route: source_of ─▶ Outbox{batches, records} ─▶ deliver (no lock)
//   on_disconnected(id) ─▶ fail_source (comm_fail batch) ─▶ retire counters
//   watchdog (silence_timeout/4) ─▶ check_silence ─▶ fail_source
//
// Every handler holds shared_from_this(); stop() cancels the transport and the timers, and a
// handler that still runs afterwards sees stopped_.

#include "guardian/adapters/stream/stream_adapter.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <boost/asio/steady_timer.hpp>

#include "guardian/adapters/stream/codec.hpp"
#include "guardian/adapters/stream/transport.hpp"
#include "guardian/common/log.hpp"

namespace guardian::adapters::stream {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// The silence watchdog looks this many times per silence_timeout (so a silence is reported at
// most a quarter late), but not more often than every kMinWatchdogPeriod.
constexpr int kWatchdogChecksPerTimeout = 4;
constexpr std::chrono::milliseconds kMinWatchdogPeriod{10};

const char* transport_name(config::StreamTransport t) {
  switch (t) {
    case config::StreamTransport::serial:
      return "serial";
    case config::StreamTransport::tcp_client:
      return "tcp-client";
    case config::StreamTransport::tcp_server:
      return "tcp-server";
    case config::StreamTransport::udp:
      return "udp";
  }
  return "?";
}

const char* codec_name(config::CodecKind k) {
  switch (k) {
    case config::CodecKind::lines:
      return "lines";
    case config::CodecKind::binary:
      return "binary";
    case config::CodecKind::json_lines:
      return "json-lines";
  }
  return "?";
}

/// A source name taken from the data must be a name like any other (it ends up in topics).
bool valid_source_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  return std::all_of(s.begin(), s.end(), ok) && s.front() != '.' && s.front() != '_' &&
         s.front() != '-';
}

}  // namespace

class StreamAdapter::Session final : public TransportEvents,
                                     public std::enable_shared_from_this<Session> {
 public:
  Session(config::StreamAdapterConfig config, asio::io_context& io, ReadingSink readings,
          RecordSink records)
      : config_(std::move(config)),
        io_(io),
        readings_(std::move(readings)),
        records_(std::move(records)),
        factory_(config_.codec),
        transport_(make_transport(config_, io)),
        watchdog_(io),
        query_(config_.poll ? std::make_shared<const std::vector<std::uint8_t>>(config_.poll->query)
                            : nullptr) {
    for (const auto& m : config::messages_of(config_.codec)) {
      if (m.record) continue;
      for (const auto& f : m.fields)
        if (f.name != config_.source_field && !units_.contains(f.name)) {
          units_.emplace(f.name, f.unit);
          points_.push_back(f.name);
        }
    }
    for (const auto& peer : config_.peers) peer_sources_.emplace(peer.address, peer.source);
    if (!config_.source.empty()) source_state(config_.source);
    for (const auto& peer : config_.peers) source_state(peer.source);
  }

  void start() {
    std::unique_lock lock(mutex_);
    if (started_) return;
    started_ = true;
    const auto now = SteadyClock::now();
    for (auto& [name, s] : sources_) {
      s.last_data = now;
      s.health.state = "connecting";
    }
    lock.unlock();
    transport_->start(*this);
    if (config_.silence_timeout.count() > 0) arm_watchdog();
  }

  void stop() {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    transport_->stop();
    watchdog_.cancel();
    for (auto& [id, c] : connections_) retire(*c);
    connections_.clear();
  }

  [[nodiscard]] AdapterHealth health() const {
    std::lock_guard lock(mutex_);
    AdapterHealth h;
    h.name = config_.name;
    h.type = std::string(transport_name(config_.transport)) + "/" + codec_name(config_.codec.kind);
    h.state = stopped_ ? "stopped" : transport_->state();
    h.warnings = transport_->warnings();
    CodecCounters unattributed = unattributed_;
    std::map<std::string, CodecCounters> live;
    for (const auto& [id, c] : connections_) {
      if (c->source.empty())
        unattributed += c->codec->counters();
      else
        live[c->source] += c->codec->counters();
    }
    for (const auto& [name, s] : sources_) {
      SourceHealth sh = s.health;
      CodecCounters total = s.retired;
      if (const auto it = live.find(name); it != live.end()) total += it->second;
      total.add_to(sh.counters, config_.codec.kind);
      for (const auto& [k, v] : s.extra)
        if (v != 0) sh.counters[k] = v;
      h.sources.push_back(std::move(sh));
    }
    h.counters = counters_;
    unattributed.add_to(h.counters, config_.codec.kind);
    return h;
  }

  // ───────────────────────────── transport events ─────────────────────────────

  void on_connected(ConnectionId id, const std::string& peer) override {
    {
      std::lock_guard lock(mutex_);
      std::string source;
      if (config_.transport == config::StreamTransport::serial ||
          config_.transport == config::StreamTransport::tcp_client) {
        source = config_.source;
      } else if (const auto it = peer_sources_.find(peer); it != peer_sources_.end()) {
        source = it->second;
      } else if (config_.source_field.empty()) {
        ++counters_["unknown_peer"];
        log::warn("adapter " + config_.name,
                  "refused data from " + peer + ": not in 'peers' (add it, or use source_field)");
        transport_->close(id);
        return;
      }
      auto c = std::make_unique<Connection>(io_);
      c->codec = factory_.make();
      c->peer = peer;
      c->source = source;
      if (!source.empty()) {
        auto& s = source_state(source);
        s.health.state = "ok";
        s.last_data = SteadyClock::now();
        s.silent = false;
      }
      const bool poll = config_.poll.has_value();
      connections_.emplace(id, std::move(c));
      if (poll) send_poll(id);
    }
  }

  void on_bytes(ConnectionId id, std::span<const std::uint8_t> bytes, bool datagram) override {
    Outbox out;
    {
      std::lock_guard lock(mutex_);
      const auto it = connections_.find(id);
      if (it == connections_.end()) return;
      Connection& c = *it->second;
      const Timestamp ts = now_ms();
      decoded_.clear();
      c.codec->feed(bytes, ts, decoded_);
      if (datagram) c.codec->finish(ts, decoded_);
      for (auto& d : decoded_) route(c, std::move(d), ts, out);
    }
    deliver(out);
  }

  void on_disconnected(ConnectionId id, const std::string& why) override {
    Outbox out;
    {
      std::lock_guard lock(mutex_);
      const auto it = connections_.find(id);
      if (it == connections_.end()) return;
      Connection& c = *it->second;
      ++counters_["disconnects"];
      // A UDP sender is not a link that can break: only forget it.
      const bool link = config_.transport != config::StreamTransport::udp;
      if (link) {
        if (!c.source.empty()) fail_source(c.source, "link lost: " + why, out);
        for (const auto& s : c.seen_sources) fail_source(s, "link lost: " + why, out);
      }
      retire(c);
      connections_.erase(it);
    }
    deliver(out);
  }

  void on_link_error(const std::string& why) override {
    Outbox out;
    {
      std::lock_guard lock(mutex_);
      ++counters_["link_errors"];
      if (!config_.source.empty()) {
        auto& s = source_state(config_.source);
        ++s.health.errors;
        if (s.health.state != "comm_fail") fail_source(config_.source, why, out);
        s.health.last_error = why;
      }
      log::warn("adapter " + config_.name, why);
    }
    deliver(out);
  }

  void on_refused(const std::string& peer, const std::string& why) override {
    std::lock_guard lock(mutex_);
    ++counters_["refused_connections"];
    log::warn("adapter " + config_.name, "refused a connection from " + peer + ": " + why);
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : poll_timer(io), reply_timer(io) {}
    std::unique_ptr<Codec> codec;
    std::string peer;
    std::string source;                  ///< from the configuration; "" when the data names it
    std::set<std::string> seen_sources;  ///< sources named by source_field on this link
    asio::steady_timer poll_timer;
    asio::steady_timer reply_timer;
    bool awaiting = false;
    SteadyClock::time_point sent_at{};
  };

  struct SourceState {
    SourceHealth health;
    CodecCounters retired;  ///< counters of closed links
    std::map<std::string, std::uint64_t> extra;
    SteadyClock::time_point last_data{};
    bool silent = false;
  };

  /// What to hand to the sinks once the lock is released.
  struct Outbox {
    std::vector<ReadingBatch> batches;
    std::vector<Record> records;
  };

  SourceState& source_state(const std::string& name) {
    auto [it, fresh] = sources_.try_emplace(name);
    if (fresh) {
      it->second.health.source = name;
      it->second.health.state = started_ ? "ok" : "connecting";
      it->second.last_data = SteadyClock::now();
    }
    return it->second;
  }

  void retire(Connection& c) {
    c.poll_timer.cancel();
    c.reply_timer.cancel();
    c.codec->reset();
    if (c.source.empty())
      unattributed_ += c.codec->counters();
    else
      source_state(c.source).retired += c.codec->counters();
  }

  /// Sends the source's reading points once as comm_fail (no value) with `why`.
  void fail_source(const std::string& source, const std::string& why, Outbox& out) {
    auto& s = source_state(source);
    s.health.state = "comm_fail";
    s.health.last_error = why;
    if (points_.empty()) return;
    ReadingBatch batch;
    batch.source = source;
    const Timestamp ts = now_ms();
    for (const auto& point : points_) {
      Reading r;
      r.source = source;
      r.point = point;
      r.unit = units_.at(point);
      r.quality = Quality::comm_fail;
      r.source_ts = ts;
      r.error = why;
      batch.readings.push_back(std::move(r));
    }
    out.batches.push_back(std::move(batch));
  }

  /// The source a decoded message belongs to, or "" (counted) when it cannot be known.
  std::string source_of(Connection& c, Decoded& d) {
    if (config_.source_field.empty()) return c.source;
    const auto it = std::find_if(d.fields.begin(), d.fields.end(),
                                 [&](const Reading& r) { return r.point == config_.source_field; });
    std::string named;
    if (it != d.fields.end()) {
      if (const auto* s = std::get_if<std::string>(&it->value)) named = *s;
      d.fields.erase(it);
    }
    if (!valid_source_name(named)) {
      if (!c.source.empty()) return c.source;
      ++counters_["unnamed_messages"];
      return {};
    }
    if (!sources_.contains(named)) {
      if (dynamic_sources_ >= config_.max_sources) {
        ++counters_["too_many_sources"];
        return {};
      }
      ++dynamic_sources_;
    }
    c.seen_sources.insert(named);
    return named;
  }

  void route(Connection& c, Decoded&& d, Timestamp ts, Outbox& out) {
    const std::string source = source_of(c, d);
    if (source.empty()) return;
    auto& s = source_state(source);
    s.health.state = "ok";
    s.health.last_ok = ts;
    s.last_data = SteadyClock::now();
    s.silent = false;
    ++s.health.responses;
    if (c.awaiting && (config_.poll->reply.empty() || config_.poll->reply == d.message->name)) {
      c.awaiting = false;
      c.reply_timer.cancel();
      const double rtt =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - c.sent_at).count();
      auto& polled = c.source.empty() ? s : source_state(c.source);
      ++polled.health.polls;
      polled.health.rtt_ms_last = rtt;
      polled.health.rtt_ms_avg =
          polled.health.polls == 1 ? rtt : 0.8 * polled.health.rtt_ms_avg + 0.2 * rtt;
    }
    for (auto& r : d.fields) r.source = source;
    if (d.message->record) {
      out.records.push_back(Record{source, d.message->name, ts, std::move(d.fields)});
    } else {
      out.batches.push_back(ReadingBatch{source, std::move(d.fields)});
    }
  }

  void deliver(Outbox& out) {
    for (auto& b : out.batches) {
      if (stopped_) return;  // the sink itself may stop the adapter
      if (readings_) readings_(std::move(b));
    }
    for (auto& r : out.records) {
      if (stopped_) return;
      if (records_) records_(std::move(r));
    }
  }

  // ───────────────────────────── polling ─────────────────────────────

  /// Sends the query now and schedules the next one (mutex held).
  void send_poll(ConnectionId id) {
    const auto it = connections_.find(id);
    if (it == connections_.end() || stopped_) return;
    Connection& c = *it->second;
    c.awaiting = true;
    c.sent_at = SteadyClock::now();
    if (!c.source.empty()) ++source_state(c.source).health.requests;
    transport_->send(id, query_);
    c.reply_timer.expires_after(config_.poll->timeout);
    c.reply_timer.async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (!ec) self->on_reply_timeout(id);
    });
    c.poll_timer.expires_after(config_.poll->interval);
    c.poll_timer.async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (ec) return;
      std::lock_guard lock(self->mutex_);
      self->send_poll(id);
    });
  }

  void on_reply_timeout(ConnectionId id) {
    Outbox out;
    {
      std::lock_guard lock(mutex_);
      const auto it = connections_.find(id);
      if (stopped_ || it == connections_.end() || !it->second->awaiting) return;
      Connection& c = *it->second;
      c.awaiting = false;
      const std::string why =
          "no reply within " + std::to_string(config_.poll->timeout.count()) + " ms";
      if (!c.source.empty()) {
        ++source_state(c.source).health.timeouts;
        fail_source(c.source, why, out);
      }
      for (const auto& s : c.seen_sources) fail_source(s, why, out);
      // A partial reply must not be glued to the next one.
      c.codec->reset();
    }
    deliver(out);
  }

  // ───────────────────────────── silence ─────────────────────────────

  void arm_watchdog() {
    const auto period =
        std::max(kMinWatchdogPeriod, config_.silence_timeout / kWatchdogChecksPerTimeout);
    watchdog_.expires_after(period);
    watchdog_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped_) return;
      self->check_silence();
      self->arm_watchdog();
    });
  }

  void check_silence() {
    Outbox out;
    {
      std::lock_guard lock(mutex_);
      const auto now = SteadyClock::now();
      for (auto& [name, s] : sources_) {
        if (s.silent || now - s.last_data < config_.silence_timeout) continue;
        s.silent = true;
        ++s.extra["silences"];
        fail_source(name, "no data for " + std::to_string(config_.silence_timeout.count()) + " ms",
                    out);
      }
    }
    deliver(out);
  }

  config::StreamAdapterConfig config_;
  asio::io_context& io_;
  ReadingSink readings_;
  RecordSink records_;
  CodecFactory factory_;
  std::shared_ptr<Transport> transport_;
  asio::steady_timer watchdog_;
  std::shared_ptr<const std::vector<std::uint8_t>> query_;

  // health() may be called from any thread; recursive because closing a refused peer reports
  // its disconnection synchronously.
  mutable std::recursive_mutex mutex_;
  std::map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::map<std::string, SourceState> sources_;
  std::map<std::string, std::string> peer_sources_;
  std::map<std::string, std::string> units_;  // reading point → unit
  std::vector<std::string> points_;           // reading points, in declaration order
  std::map<std::string, std::uint64_t> counters_;
  CodecCounters unattributed_;
  std::size_t dynamic_sources_ = 0;
  std::vector<Decoded> decoded_;
  bool started_ = false;
  bool stopped_ = false;
};

StreamAdapter::StreamAdapter(config::StreamAdapterConfig config, asio::io_context& io,
                             ReadingSink readings, RecordSink records)
    : name_(config.name),
      session_(std::make_shared<Session>(std::move(config), io, std::move(readings),
                                         std::move(records))) {}

StreamAdapter::~StreamAdapter() { stop(); }

void StreamAdapter::start() { session_->start(); }

void StreamAdapter::stop() { session_->stop(); }

const std::string& StreamAdapter::name() const { return name_; }

AdapterHealth StreamAdapter::health() const { return session_->health(); }

}  // namespace guardian::adapters::stream
