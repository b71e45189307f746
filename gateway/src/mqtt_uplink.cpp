#include "guardian/gateway/mqtt_uplink.hpp"

#include <MQTTAsync.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include <mqtt/async_client.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "guardian/common/backoff.hpp"
#include "guardian/common/json_writer.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/gateway/payload.hpp"

// Threads (see mqtt_uplink.hpp for the state diagram):
//
//   io_context thread            connect worker (one thread)           Paho threads
//   ─────────────────            ───────────────────────────           ────────────
//   begin_attempt() ──post──▶    link.open(), new async_client,
//                                connect(listener) ─────────────────▶  CONNACK / failure
//   on_connected() ◀──────────────────────────────────post───────────  connect listener
//   pump(): publish(seq) ───────────────────────────────────────────▶  PUBACK
//   drain_pubacks() ◀────post (batched; stop() drains directly)─────── publish listener
//   on_connection_lost() ◀───────────────────────────post───────────── connection_lost
//   retire(connection) ──post──▶ destroy the old client, link.close()
//
// Paho C keeps state per client, and a client is bound to one server URI; since Link::open() may
// return a different URI each time (a tunnel's local port), every attempt gets a fresh client.

namespace guardian::gateway {
namespace {

namespace asio = boost::asio;

constexpr int kQos = 1;
constexpr std::chrono::seconds kConnectTimeout{10};
// Paho slots beyond max_inflight for live (health/status) publishes.
constexpr int kLiveHeadroom = 16;
// stop(): longest wait for the offline status, and for the disconnect.
constexpr std::chrono::milliseconds kStopStepTimeout{900};
// Fetched-ahead bytes the drain keeps in memory, so that publishing does not wait for a fetch that
// is queued behind a commit (an fsync) or a delete on the Outbox's worker.
constexpr std::uint64_t kFetchAheadBytes = 4u << 20;
// A fetch error or a publish Paho refused is retried after this long.
constexpr std::chrono::milliseconds kPumpRetryDelay{100};
// A message the queue's bounds are dropping in a transaction still committing is looked at again
// after this long (SendClaims::Verdict::wait; the transaction is one group commit).
constexpr std::chrono::milliseconds kClaimWaitDelay{2};

void* seq_context(std::uint64_t seq) noexcept {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq));
}
std::uint64_t seq_from_context(void* context) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context));
}

std::string status_payload(const std::string& device, const char* state,
                           std::optional<Timestamp> ts) {
  std::string out = "{\"v\":";
  append_json_number(out, static_cast<std::int64_t>(kSchemaVersion));
  out.append(",\"device\":");
  append_json_string(out, device);
  out.append(",\"state\":\"");
  out.append(state);
  out.push_back('"');
  if (ts) {
    out.append(",\"ts\":\"");
    append_rfc3339(out, *ts);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// The password, read at every attempt (it may be rotated); trailing newlines are not part of it.
result<std::string> read_password(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_errno_error(errno, "uplink.password_file " + path.string() +
                                       " cannot be read; check the path and its permissions");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string password = ss.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  return password;
}

// An iaction_listener forwarding to functions set by the owner.
class Listener final : public mqtt::iaction_listener {
 public:
  std::function<void(const mqtt::token&)> succeeded;
  std::function<void(const mqtt::token&)> failed;

 private:
  void on_success(const mqtt::token& t) override {
    if (succeeded) succeeded(t);
  }
  void on_failure(const mqtt::token& t) override {
    if (failed) failed(t);
  }
};

class ClientCallback final : public mqtt::callback {
 public:
  std::function<void(const std::string&)> lost;
  std::function<void(mqtt::const_message_ptr)> arrived;

 private:
  void connection_lost(const std::string& cause) override {
    if (lost) lost(cause);
  }
  void message_arrived(mqtt::const_message_ptr message) override {
    if (arrived) arrived(std::move(message));
  }
};

// One connection attempt and, if it succeeds, the connection. Its listeners are declared before
// the client so that they outlive it: Paho may call them until the client is destroyed.
struct Connection {
  Listener connect_listener;
  Listener publish_listener;
  Listener subscribe_listener;
  ClientCallback callback;
  std::mutex tls_mutex;
  std::string tls_errors;  // OpenSSL's messages for this attempt, for last_error
  std::string server_uri;
  bool tls = false;
  std::uint64_t generation = 0;
  std::unique_ptr<mqtt::async_client> client;

  std::string take_tls_errors() {
    std::lock_guard lock(tls_mutex);
    return std::exchange(tls_errors, {});
  }
};

void destroy_connection(std::shared_ptr<Connection> conn) {
  if (!conn || !conn->client) return;
  try {
    if (conn->client->is_connected()) conn->client->disconnect(0)->wait_for(kStopStepTimeout);
  } catch (const mqtt::exception&) {
    // Already gone; destroying the client is all that is left.
  }
  conn.reset();
}

// One stream of queued messages to publish: the seqs in (cursor, up_to] not yet fetched, and
// those fetched ahead of publishing (each held in the Outbox's SendClaims until it leaves here).
struct Lane {
  explicit Lane(SendClaims& c) : claims(&c) {}
  SendClaims* claims;
  std::uint64_t cursor = 0;  // highest seq fetched
  std::uint64_t up_to = 0;   // highest seq this lane carries
  std::deque<StoredMessage> ahead;
  std::uint64_t ahead_bytes = 0;
  bool fetching = false;
  std::uint64_t generation = 0;  // a fetch issued before the last reset is stale
  std::uint64_t contended = 0;   // publishes made while the other lane also had some ready

  void pop_front() {
    ahead_bytes -= ahead.front().body.size();
    claims->release(ahead.front().seq);
    ahead.pop_front();
  }

  void reset(std::uint64_t from, std::uint64_t last) {
    cursor = from;
    up_to = last;
    for (const auto& m : ahead) claims->release(m.seq);
    ahead.clear();
    ahead_bytes = 0;
    fetching = false;
    ++generation;
    contended = 0;
  }
};

}  // namespace

const char* to_string(LinkState s) noexcept {
  switch (s) {
    case LinkState::stopped:
      return "stopped";
    case LinkState::connecting:
      return "connecting";
    case LinkState::connected:
      return "connected";
    case LinkState::backoff:
      return "backoff";
  }
  return "stopped";
}

struct MqttUplink::Impl : std::enable_shared_from_this<MqttUplink::Impl> {
  Impl(asio::io_context& context, const config::SiteConfig& site, secure_link::Link& l, Outbox& o)
      : io(context),
        uplink(site.uplink),
        device_id(site.device_id),
        client_id(site.uplink.client_id.empty() ? site.device_id : site.uplink.client_id),
        prefix(site.topic_prefix()),
        status_topic(prefix + "status"),
        kind_topics{prefix + topic_suffix(MessageKind::telemetry),
                    prefix + topic_suffix(MessageKind::record),
                    prefix + topic_suffix(MessageKind::gap)},
        max_inflight(static_cast<std::size_t>(std::max(1, site.uplink.max_inflight))),
        fetch_batch(std::max<std::size_t>(2 * max_inflight, 64)),
        link(l),
        outbox(o),
        retry_timer(context),
        pump_timer(context),
        backoff(site.uplink.reconnect_min, site.uplink.reconnect_max),
        backlog(o.claims()),
        live(o.claims()),
        live_share(static_cast<std::uint64_t>(std::clamp(site.uplink.live_share_percent, 0, 100))) {
    counters.state_since = now_ms();
  }

  // ── io_context thread ──

  void register_with_outbox() {
    outbox.on_committed([weak = weak_from_this()](std::uint64_t last_seq) {
      if (auto self = weak.lock()) self->on_committed(last_seq);
    });
  }

  void set_state(LinkState s) {
    if (state == s) return;
    state = s;
    counters.state_since = now_ms();
  }

  void start() {
    if (state != LinkState::stopped) return;
    stopping = false;
    connector = std::make_unique<asio::thread_pool>(1);
    begin_attempt();
  }

  void begin_attempt() {
    const std::uint64_t gen = ++generation;
    set_state(LinkState::connecting);
    asio::post(*connector, [self = shared_from_this(), gen] { self->attempt(gen); });
  }

  void retire(std::shared_ptr<Connection> conn) {
    asio::post(*connector, [self = shared_from_this(), conn = std::move(conn)]() mutable {
      destroy_connection(std::move(conn));
      self->link.close();
    });
  }

  void on_connected(std::uint64_t gen) {
    // With a callback set, Paho C++ 1.2 calls the connect listener's on_success twice (once for
    // the connect token, once from the client's "connected" notification): the first one counts.
    if (gen != generation || stopping || state == LinkState::connected) return;
    {
      std::lock_guard lock(handoff_mutex);
      active = std::move(handoff);
    }
    if (!active) return;
    set_state(LinkState::connected);
    ++counters.connects;
    backoff.reset();
    publish_live_topic(status_topic, status_payload(device_id, "online", now_ms()), true);
    for (const auto& [topic, handler] : subscriptions) subscribe_topic(topic);
    // Re-send everything not acknowledged, from the lowest seq (at-least-once; consumers drop
    // duplicates by seq). What was committed before this connection is the backlog; what is
    // committed from now on is live, and gets its share of the link while the backlog drains.
    committed_hint = std::max(committed_hint, outbox.stats().last_seq);
    in_flight.clear();
    backlog.reset(0, committed_hint);
    live.reset(committed_hint, std::numeric_limits<std::uint64_t>::max());
    pump();
  }

  void on_connect_failed(std::uint64_t gen, std::string reason) {
    if (gen != generation || stopping) return;
    ++counters.connect_failures;
    counters.last_error = std::move(reason);
    std::shared_ptr<Connection> failed;
    {
      std::lock_guard lock(handoff_mutex);
      failed = std::move(handoff);
    }
    if (failed) retire(std::move(failed));
    schedule_retry();
  }

  void on_connection_lost(std::uint64_t gen, const std::string& cause) {
    if (gen != generation || stopping || state != LinkState::connected) return;
    ++counters.connection_losses;
    counters.last_error = "connection to " + (active ? active->server_uri : std::string("broker")) +
                          " lost" + (cause.empty() ? std::string{} : ": " + cause);
    // Un-acknowledged publishes of this connection are forgotten: the next connection re-sends
    // them from the queue.
    in_flight.clear();
    backlog.reset(0, 0);
    live.reset(0, 0);
    retire(std::move(active));
    schedule_retry();
  }

  void schedule_retry() {
    set_state(LinkState::backoff);
    const std::uint64_t gen = ++generation;
    retry_timer.expires_after(backoff.next());
    retry_timer.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (ec || gen != self->generation || self->stopping) return;
      self->begin_attempt();
    });
  }

  void on_committed(std::uint64_t last_seq) {
    committed_hint = std::max(committed_hint, last_seq);
    pump();
  }

  // Which lane publishes next: the one that has something fetched; when both have, the live lane
  // while its share of the publishes made under contention is below live_share.
  Lane* pick_lane() {
    const bool backlog_ready = !backlog.ahead.empty();
    const bool live_ready = !live.ahead.empty();
    if (!backlog_ready) return live_ready ? &live : nullptr;
    if (!live_ready) return &backlog;
    const std::uint64_t contended = backlog.contended + live.contended;
    return live.contended * 100 < live_share * (contended + 1) ? &live : &backlog;
  }

  void pump() {
    if (state != LinkState::connected || !active || stopping) return;
    while (in_flight.size() < max_inflight) {
      Lane* lane = pick_lane();
      if (lane == nullptr) break;
      const bool contended = !backlog.ahead.empty() && !live.ahead.empty();
      const StoredMessage& m = lane->ahead.front();
      // The queue's bounds may have dropped it since it was fetched (then a gap reports it), or
      // be dropping it right now.
      const auto verdict = outbox.claims().start_sending(m.seq);
      if (verdict == SendClaims::Verdict::wait) {
        arm_pump_retry(kClaimWaitDelay);
        break;
      }
      if (verdict == SendClaims::Verdict::skip) {
        ++counters.skipped_dropped;
        lane->pop_front();
        continue;
      }
      if (!publish_queued(m)) {
        arm_pump_retry();
        break;
      }
      in_flight.insert(m.seq);
      lane->pop_front();
      if (contended) ++lane->contended;
      ++counters.published;
    }
    // Fetch ahead while publishing, so the link never waits on the disk; the two lanes share
    // the fetch-ahead budget.
    for (Lane* lane : {&live, &backlog})
      if (!lane->fetching && backlog.ahead_bytes + live.ahead_bytes < kFetchAheadBytes &&
          lane->cursor < std::min(lane->up_to, committed_hint))
        fetch_more(*lane);
  }

  bool publish_queued(const StoredMessage& m) {
    const auto kind = static_cast<std::size_t>(m.kind);
    const mqtt::string_ref& topic = kind < kind_topics.size() ? kind_topics[kind] : kind_topics[0];
    try {
      // The topic is shared and the envelope moved into the message: Paho C makes the one copy
      // it needs, the C++ layer none.
      auto message = mqtt::make_message(topic, mqtt::binary_ref(envelope(device_id, m.seq, m.body)),
                                        kQos, false);
      active->client->publish(std::move(message), seq_context(m.seq), active->publish_listener);
      return true;
    } catch (const mqtt::exception& e) {
      counters.last_error = "publish of seq " + std::to_string(m.seq) + " refused: " + e.what();
      return false;
    }
  }

  void arm_pump_retry(std::chrono::milliseconds delay = kPumpRetryDelay) {
    pump_timer.expires_after(delay);
    pump_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->pump();
    });
  }

  void fetch_more(Lane& lane) {
    lane.fetching = true;
    const std::uint64_t gen = lane.generation;
    const std::uint64_t hint = std::min(lane.up_to, committed_hint);
    const std::size_t limit = fetch_batch;
    Lane* target = &lane;
    outbox.async_fetch(
        lane.cursor, limit,
        [weak = weak_from_this(), target, gen, hint,
         limit](result<std::vector<StoredMessage>> fetched) {
          if (auto self = weak.lock())
            self->on_fetched(*target, gen, hint, limit, std::move(fetched));
        },
        lane.up_to);
  }

  void on_fetched(Lane& lane, std::uint64_t gen, std::uint64_t hint, std::size_t limit,
                  result<std::vector<StoredMessage>> fetched) {
    if (gen != lane.generation) {
      if (fetched)
        for (const auto& m : fetched.value()) outbox.claims().release(m.seq);
      return;
    }
    lane.fetching = false;
    if (!fetched) {
      counters.last_error = fetched.error().describe();
      arm_pump_retry();
      return;
    }
    auto& messages = fetched.value();
    for (auto& m : messages) {
      lane.cursor = std::max(lane.cursor, m.seq);
      if (in_flight.contains(m.seq)) {
        outbox.claims().release(m.seq);
        continue;
      }
      lane.ahead_bytes += m.body.size();
      lane.ahead.push_back(std::move(m));
    }
    // A short read saw everything committed (in this lane) when it was issued.
    if (messages.size() < limit) lane.cursor = std::max(lane.cursor, hint);
    pump();
  }

  // Paho thread: PUBACKs are collected and handed over in batches.
  void puback_arrived(std::uint64_t seq) {
    bool first = false;
    {
      std::lock_guard lock(puback_mutex);
      first = pubacks.empty();
      pubacks.push_back(seq);
    }
    if (first)
      asio::post(io, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->drain_pubacks();
      });
  }

  void drain_pubacks() {
    std::vector<std::uint64_t> seqs;
    {
      std::lock_guard lock(puback_mutex);
      seqs.swap(pubacks);
    }
    for (const auto seq : seqs) {
      in_flight.erase(seq);
      ++counters.acknowledged;
      outbox.acknowledge(seq);
    }
    if (!seqs.empty()) pump();
  }

  void on_publish_failed(std::uint64_t gen, std::uint64_t seq, std::string reason) {
    if (gen != generation || state != LinkState::connected) return;
    counters.last_error = "publish of seq " + std::to_string(seq) + " failed: " + reason;
    // Re-send from just below the failed seq; fetched messages already in flight are skipped.
    in_flight.erase(seq);
    Lane& lane = seq > backlog.up_to ? live : backlog;
    lane.reset(std::min(lane.cursor, seq - 1), lane.up_to);
    pump();
  }

  void publish_live_topic(const std::string& topic, const std::string& payload, bool retained) {
    if (state != LinkState::connected || !active) {
      ++counters.live_dropped;
      return;
    }
    try {
      active->client->publish(topic, payload.data(), payload.size(), kQos, retained);
      ++counters.live_published;
    } catch (const mqtt::exception& e) {
      ++counters.live_dropped;
      counters.last_error = "publish to " + topic + " refused: " + e.what();
    }
  }

  void subscribe(const std::string& suffix, MqttUplink::MessageHandler handler) {
    const std::string topic = prefix + suffix;
    const bool known = subscriptions.contains(topic);
    subscriptions[topic] = std::move(handler);
    if (!known && state == LinkState::connected && active) subscribe_topic(topic);
  }

  void subscribe_topic(const std::string& topic) {
    try {
      active->client->subscribe(topic, kQos, nullptr, active->subscribe_listener);
    } catch (const mqtt::exception& e) {
      counters.last_error = "subscribe to " + topic + " refused: " + e.what();
    }
  }

  void on_message(const std::string& topic, std::string payload) {
    const auto it = subscriptions.find(topic);
    if (it == subscriptions.end()) return;
    ++counters.received;
    // A copy: the handler may subscribe again (replacing itself) while it runs.
    const auto handler = it->second;
    handler(topic.substr(prefix.size()), std::move(payload));
  }

  void stop() {
    if (!connector) return;
    stopping = true;
    ++generation;
    retry_timer.cancel();
    pump_timer.cancel();
    // Waits for an attempt in progress (link.open()) and for retired clients to be destroyed.
    connector->join();
    connector.reset();
    std::shared_ptr<Connection> pending_attempt;
    {
      std::lock_guard lock(handoff_mutex);
      pending_attempt = std::move(handoff);
    }
    if (active && state == LinkState::connected) {
      try {
        const auto offline = status_payload(device_id, "offline", now_ms());
        active->client->publish(status_topic, offline.data(), offline.size(), kQos, true)
            ->wait_for(kStopStepTimeout);
        ++counters.live_published;
      } catch (const mqtt::exception& e) {
        counters.last_error = std::string("offline status not sent: ") + e.what();
      }
    }
    destroy_connection(std::move(active));
    destroy_connection(std::move(pending_attempt));
    // PUBACKs that arrived while stopping still count: those messages must not be sent again.
    drain_pubacks();
    link.close();
    in_flight.clear();
    backlog.reset(0, 0);
    live.reset(0, 0);
    set_state(LinkState::stopped);
  }

  // ── connect worker thread ──

  void attempt(std::uint64_t gen) {
    if (stopping) return;
    link.close();
    auto endpoint = link.open();
    if (!endpoint) return post_connect_failed(gen, endpoint.error().describe());

    auto conn = std::make_shared<Connection>();
    conn->server_uri = endpoint.value().server_uri;
    conn->generation = gen;
    try {
      mqtt::connect_options options;
      options.set_mqtt_version(MQTTVERSION_3_1_1);
      options.set_clean_session(true);
      options.set_automatic_reconnect(false);  // our loop: Link::open() before every attempt
      options.set_keep_alive_interval(
          std::chrono::duration_cast<std::chrono::seconds>(uplink.keepalive));
      options.set_connect_timeout(kConnectTimeout);
      options.set_max_inflight(static_cast<int>(max_inflight) + kLiveHeadroom);
      const auto will = status_payload(device_id, "offline", std::nullopt);
      options.set_will(mqtt::will_options(status_topic, will, kQos, true));
      if (!uplink.username.empty()) options.set_user_name(uplink.username);
      if (!uplink.password_file.empty()) {
        auto password = read_password(uplink.password_file);
        if (!password) return post_connect_failed(gen, password.error().describe());
        options.set_password(password.value());
      }
      if (const auto& tls = endpoint.value().tls) {
        conn->tls = true;
        mqtt::ssl_options ssl;
        if (!tls->ca_file.empty()) ssl.set_trust_store(tls->ca_file.string());
        if (!tls->cert_file.empty()) ssl.set_key_store(tls->cert_file.string());
        if (!tls->key_file.empty()) ssl.set_private_key(tls->key_file.string());
        ssl.set_enable_server_cert_auth(true);
        ssl.set_verify(true);  // host name / IP in the broker certificate
        ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
        ssl.set_error_handler([raw = conn.get()](const std::string& message) {
          std::lock_guard lock(raw->tls_mutex);
          if (!raw->tls_errors.empty()) raw->tls_errors += "; ";
          raw->tls_errors += message;
        });
        options.set_ssl(std::move(ssl));
      }

      // Paho's own buffer must hold max_inflight publishes plus live ones (FIELD-NOTES: the
      // default of 100 throws "No more messages can be buffered" even while connected). Off-line
      // buffering stays off — create_options(version, n) would turn it on: while disconnected a
      // publish must fail, the queue keeps the message (and Paho C leaks the buffered commands of
      // a client destroyed before it reconnects; seen with LeakSanitizer).
      mqtt::create_options create(MQTTVERSION_3_1_1);
      create.set_max_buffered_messages(static_cast<int>(2 * max_inflight) + 100);
      create.set_send_while_disconnected(false);
      conn->client =
          std::make_unique<mqtt::async_client>(conn->server_uri, client_id, create, nullptr);
      wire(*conn, gen);
      conn->client->set_callback(conn->callback);
      {
        std::lock_guard lock(handoff_mutex);
        handoff = conn;
      }
      conn->client->connect(options, nullptr, conn->connect_listener);
    } catch (const mqtt::exception& e) {
      post_connect_failed(gen, "connect to " + conn->server_uri + " failed: " + e.what());
    }
  }

  void wire(Connection& conn, std::uint64_t gen) {
    std::weak_ptr<Impl> weak = weak_from_this();
    conn.connect_listener.succeeded = [weak, gen](const mqtt::token&) {
      if (auto self = weak.lock())
        asio::post(self->io, [weak, gen] {
          if (auto s = weak.lock()) s->on_connected(gen);
        });
    };
    conn.connect_listener.failed = [weak, gen, raw = &conn](const mqtt::token& t) {
      auto self = weak.lock();
      if (!self) return;
      std::string reason = "connect to " + raw->server_uri +
                           " failed: " + mqtt::exception::error_str(t.get_return_code()) + " (" +
                           std::to_string(t.get_return_code()) + ")";
      if (const auto tls = raw->take_tls_errors(); !tls.empty())
        reason += "; TLS: " + tls;
      else if (raw->tls)
        // Paho checks the broker certificate's name after the handshake and reports no OpenSSL
        // error when it does not match.
        reason +=
            "; no TLS error was reported: the broker is unreachable, or its certificate does"
            " not name the host in " +
            raw->server_uri;
      self->post_connect_failed(gen, std::move(reason));
    };
    conn.publish_listener.succeeded = [weak](const mqtt::token& t) {
      if (auto self = weak.lock()) self->puback_arrived(seq_from_context(t.get_user_context()));
    };
    conn.publish_listener.failed = [weak, gen](const mqtt::token& t) {
      auto self = weak.lock();
      if (!self) return;
      const std::uint64_t seq = seq_from_context(t.get_user_context());
      std::string reason = mqtt::exception::error_str(t.get_return_code());
      asio::post(self->io, [weak, gen, seq, reason = std::move(reason)]() mutable {
        if (auto s = weak.lock()) s->on_publish_failed(gen, seq, std::move(reason));
      });
    };
    conn.subscribe_listener.failed = [weak](const mqtt::token& t) {
      auto self = weak.lock();
      if (!self) return;
      std::string reason = "subscribe failed: " + mqtt::exception::error_str(t.get_return_code());
      asio::post(self->io, [weak, reason = std::move(reason)]() mutable {
        if (auto s = weak.lock()) s->counters.last_error = std::move(reason);
      });
    };
    conn.callback.arrived = [weak](mqtt::const_message_ptr message) {
      if (auto self = weak.lock())
        asio::post(self->io, [weak, topic = message->get_topic(),
                              payload = message->to_string()]() mutable {
          if (auto s = weak.lock()) s->on_message(topic, std::move(payload));
        });
    };
    conn.callback.lost = [weak, gen](const std::string& cause) {
      if (auto self = weak.lock())
        asio::post(self->io, [weak, gen, cause] {
          if (auto s = weak.lock()) s->on_connection_lost(gen, cause);
        });
    };
  }

  void post_connect_failed(std::uint64_t gen, std::string reason) {
    asio::post(io, [weak = weak_from_this(), gen, reason = std::move(reason)]() mutable {
      if (auto self = weak.lock()) self->on_connect_failed(gen, std::move(reason));
    });
  }

  asio::io_context& io;
  const config::UplinkConfig uplink;
  const std::string device_id;
  const std::string client_id;
  const std::string prefix;
  const std::string status_topic;
  const std::array<mqtt::string_ref, 3> kind_topics;
  const std::size_t max_inflight;
  const std::size_t fetch_batch;
  secure_link::Link& link;  // open()/close(): connect worker only (and stop(), after joining
                            // it); info() from any thread
  Outbox& outbox;

  std::unique_ptr<asio::thread_pool> connector;
  std::atomic<bool> stopping{false};
  std::mutex handoff_mutex;
  std::shared_ptr<Connection> handoff;  // the attempt in progress, created by the worker

  std::mutex puback_mutex;
  std::vector<std::uint64_t> pubacks;  // from Paho threads, drained on the io_context

  // io_context thread only:
  asio::steady_timer retry_timer;
  asio::steady_timer pump_timer;
  Backoff backoff;
  LinkState state = LinkState::stopped;
  UplinkCounters counters;
  std::uint64_t generation = 0;
  std::shared_ptr<Connection> active;
  std::uint64_t committed_hint = 0;   // highest seq known to be committed
  Lane backlog;                       // seqs committed before this connection
  Lane live;                          // seqs committed since
  const std::uint64_t live_share;     // percent of contended publishes for the live lane
  std::set<std::uint64_t> in_flight;  // published, PUBACK not yet received
  std::map<std::string, MqttUplink::MessageHandler> subscriptions;  // by full topic
};

MqttUplink::MqttUplink(asio::io_context& io, const config::SiteConfig& site,
                       secure_link::Link& link, Outbox& outbox)
    : impl_(std::make_shared<Impl>(io, site, link, outbox)) {
  impl_->register_with_outbox();
}

MqttUplink::~MqttUplink() { impl_->stop(); }

void MqttUplink::start() { impl_->start(); }

void MqttUplink::stop() { impl_->stop(); }

void MqttUplink::publish_live(const std::string& topic_suffix, std::string payload, bool retained) {
  impl_->publish_live_topic(impl_->prefix + topic_suffix, payload, retained);
}

LinkState MqttUplink::state() const noexcept { return impl_->state; }

const UplinkCounters& MqttUplink::counters() const noexcept { return impl_->counters; }

std::uint64_t MqttUplink::in_flight() const noexcept { return impl_->in_flight.size(); }

// Live: Link::info() is thread-safe, so a certificate renewed while connected shows at once.
secure_link::LinkInfo MqttUplink::link_info() const { return impl_->link.info(); }

void MqttUplink::subscribe(const std::string& topic_suffix, MessageHandler handler) {
  impl_->subscribe(topic_suffix, std::move(handler));
}

}  // namespace guardian::gateway
