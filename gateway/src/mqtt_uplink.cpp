#include "guardian/gateway/mqtt_uplink.hpp"

#include <MQTTAsync.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <mqtt/async_client.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "guardian/common/backoff.hpp"
#include "guardian/common/json_writer.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/gateway/compact_payload.hpp"
#include "guardian/gateway/payload.hpp"
#include "guardian/gateway/refusal_watch.hpp"
#include "mqtt_session.hpp"

// Threads (see mqtt_uplink.hpp for the state diagram):
//
//   io_context thread            connect worker (one thread)           Paho threads
//   ─────────────────            ───────────────────────────           ────────────
//   begin_attempt() ──post──▶    link.open(), new async_client,
//                                connect(listener) ─────────────────▶  CONNACK / failure
//   on_connected() ◀──────────────────────────────────post───────────  connect listener
//   pump(): publish(seq[, parts]) ──────────────────────────────────▶  PUBACK / reason code
//   drain_pubacks() ◀────post (batched; stop() drains directly)─────── publish listener
//   on_connection_lost() ◀───────────────────────────post───────────── connection_lost
//   retire(connection) ──post──▶ destroy the old client, link.close()
//
// Paho C keeps state per client, and a client is bound to one server URI; since Link::open() may
// return a different URI each time (a tunnel's local port), every attempt gets a fresh client.

namespace guardian::gateway {
namespace {

namespace asio = boost::asio;
using detail::Connection;

constexpr int kQos = 1;
// Paho slots beyond the window for live (health/status) publishes.
constexpr int kLiveHeadroom = 16;
// stop(): longest wait for the offline status, and for the disconnect.
constexpr std::chrono::milliseconds kStopStepTimeout{900};
// Fetched-ahead bytes the drain keeps in memory, so that publishing does not wait for a fetch that
// is queued behind a commit (an fsync) or a delete on the Outbox's worker.
constexpr std::uint64_t kFetchAheadBytes = 2u << 20;
// A fetch error or a publish Paho refused is retried after this long.
constexpr std::chrono::milliseconds kPumpRetryDelay{100};
// A message the queue's bounds are dropping in a transaction still committing is looked at again
// after this long (SendClaims::Verdict::wait; the transaction is one group commit).
constexpr std::chrono::milliseconds kClaimWaitDelay{2};

// A publish's context: its seq and the attempt that published it (16 bits), so that a PUBACK of
// a part published before the message was sent again is not counted for the new attempt.
void* publish_context(std::uint64_t seq, std::uint16_t attempt) noexcept {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>((seq << 16) | attempt));
}
std::uint64_t context_seq(void* context) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context)) >> 16;
}
std::uint16_t context_attempt(void* context) noexcept {
  return static_cast<std::uint16_t>(reinterpret_cast<std::uintptr_t>(context) & 0xFFFFu);
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

int first_version(config::MqttVersion v) noexcept {
  return v == config::MqttVersion::v3_1_1 ? MQTTVERSION_3_1_1 : MQTTVERSION_5;
}

const char* version_name(int v) noexcept { return v >= MQTTVERSION_5 ? "MQTT 5" : "MQTT 3.1.1"; }

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

// A queued message published and not yet acknowledged: what is needed to account for it, and to
// say what it was if the broker refuses it.
struct Flight {
  std::uint16_t attempt = 0;
  std::uint32_t parts_left = 1;
  MessageKind kind = MessageKind::telemetry;
  std::string source;
  std::uint32_t count = 0;
};

enum class Published : std::uint8_t { sent, retry, refused };

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
                    prefix + topic_suffix(MessageKind::gap),
                    prefix + topic_suffix(MessageKind::schema),
                    prefix + topic_suffix(MessageKind::trace)},
        max_inflight(static_cast<std::size_t>(std::max(1, site.uplink.max_inflight))),
        fetch_batch(std::max<std::size_t>(2 * max_inflight, 64)),
        link(l),
        outbox(o),
        retry_timer(context),
        pump_timer(context),
        backoff(site.uplink.reconnect_min, site.uplink.reconnect_max),
        backlog(o.claims()),
        live(o.claims()),
        live_share(static_cast<std::uint64_t>(std::clamp(site.uplink.live_share_percent, 0, 100))),
        watch(site.uplink.refuse_after_disconnects),
        compact(site.uplink.payload == config::PayloadFormat::v2),
        compress(site.uplink.compression == config::Compression::deflate),
        version_of_payload(compact ? 2 : kSchemaVersion),
        version(first_version(site.uplink.mqtt_version)),
        window(max_inflight) {
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
    link.resume();
    connector = std::make_unique<asio::thread_pool>(1);
    begin_attempt();
  }

  void begin_attempt() {
    const std::uint64_t gen = ++generation;
    set_state(LinkState::connecting);
    asio::post(*connector, [self = shared_from_this(), gen, v = version] { self->attempt(gen, v); });
  }

  void retire(std::shared_ptr<Connection> conn) {
    asio::post(*connector, [self = shared_from_this(), conn = std::move(conn)]() mutable {
      detail::destroy_connection(std::move(conn), kStopStepTimeout);
      self->link.close();
    });
  }

  void on_connected(std::uint64_t gen, detail::BrokerLimits limits) {
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
    apply_limits(limits);
    log::info("uplink", "connected to " + active->server_uri + " (" +
                            version_name(counters.mqtt_version) + ", " +
                            std::to_string(window) + " in flight, messages ≤ " +
                            std::to_string(max_payload(kind_topics[0].size())) + " bytes)");
    last_failure_logged.clear();
    publish_live_topic(status_topic, status_payload(device_id, "online", now_ms()), true);
    for (const auto& [topic, handler] : subscriptions) subscribe_topic(topic);
    // Re-send everything not acknowledged, from the lowest seq (at-least-once; consumers drop
    // duplicates by seq). What was committed before this connection is the backlog; what is
    // committed from now on is live, and gets its share of the link while the backlog drains.
    committed_hint = std::max(committed_hint, outbox.stats().last_seq);
    clear_flights();
    backlog.reset(0, committed_hint);
    live.reset(committed_hint, std::numeric_limits<std::uint64_t>::max());
    pump();
  }

  // What this connection's CONNACK allows: the window (Receive Maximum) and the largest packet.
  void apply_limits(const detail::BrokerLimits& limits) {
    counters.mqtt_version = limits.mqtt_version;
    broker_max_packet = limits.max_packet_size.value_or(0);
    counters.broker_max_packet = broker_max_packet;
    window = max_inflight;
    if (limits.receive_maximum && *limits.receive_maximum > 0)
      window = std::min<std::size_t>(window, *limits.receive_maximum);
    counters.window = static_cast<std::uint32_t>(window);
    if (message_limit_handler) message_limit_handler(max_payload(kind_topics[0].size()));
  }

  // The largest payload a publish on a topic of `topic_size` bytes may carry on this connection.
  [[nodiscard]] std::uint64_t max_payload(std::size_t topic_size) const {
    std::uint64_t bound = uplink.max_message_bytes;
    if (broker_max_packet > 0) {
      const std::uint64_t overhead = detail::publish_overhead(topic_size);
      bound = std::min<std::uint64_t>(bound, broker_max_packet > overhead
                                                 ? broker_max_packet - overhead
                                                 : 0);
    }
    return bound;
  }

  void on_connect_failed(std::uint64_t gen, std::string reason, bool version_refused) {
    if (gen != generation || stopping) return;
    ++counters.connect_failures;
    if (version_refused && uplink.mqtt_version == config::MqttVersion::automatic &&
        version >= MQTTVERSION_5) {
      version = MQTTVERSION_3_1_1;
      reason += ": it does not speak MQTT 5, so MQTT 3.1.1 from now on";
      log::warn("uplink", reason);
      last_failure_logged = reason;
    } else if (reason != last_failure_logged) {
      // Once per distinct reason: a broker that stays away does not fill the journal.
      log::warn("uplink", reason + " (retrying with back-off)");
      last_failure_logged = reason;
    }
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
    // Was it the broker refusing the message it was sent right before?
    std::optional<std::uint64_t> lowest;
    std::optional<std::uint64_t> highest;
    Flight lowest_flight;
    if (!flights.empty()) {
      lowest = flights.begin()->first;
      highest = flights.rbegin()->first;
      lowest_flight = flights.begin()->second;
    }
    const auto refused = watch.on_connection_lost(lowest, highest, flights.size() == 1,
                                                  std::chrono::steady_clock::now() - last_publish);
    if (const auto through = watch.alone_through(); through && !refused)
      counters.last_error += "; messages up to seq " + std::to_string(*through) +
                             " are sent one at a time next, to find one the broker refuses";
    log::warn("uplink", counters.last_error);
    // Un-acknowledged publishes of this connection are forgotten: the next connection re-sends
    // them from the queue.
    clear_flights();
    backlog.reset(0, 0);
    live.reset(0, 0);
    if (refused)
      refuse(*refused, lowest_flight,
             "the broker closed the connection right after it, each of the " +
                 std::to_string(uplink.refuse_after_disconnects) + " times it was sent alone" +
                 (cause.empty() ? std::string{} : " (" + cause + ")"));
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

  [[nodiscard]] bool backlog_exhausted() const {
    return !backlog.fetching && backlog.ahead.empty() &&
           backlog.cursor >= std::min(backlog.up_to, committed_hint);
  }

  // After a loss right after publishing, the messages then in flight go one at a time (each
  // after the previous one's PUBACK), from the backlog where they are: the one the broker drops
  // the link for is then alone (RefusalWatch). Returns the lane to publish from, nullptr to wait.
  Lane* pick_lane_carefully(std::uint64_t through) {
    if (backlog.ahead.empty()) {
      if (!backlog_exhausted()) return nullptr;
      watch.passed(std::numeric_limits<std::uint64_t>::max());  // all delivered or dropped
      return pick_lane();
    }
    const std::uint64_t front = backlog.ahead.front().seq;
    watch.passed(front);
    if (front > through) return pick_lane();
    return flights.empty() ? &backlog : nullptr;
  }

  void pump() {
    if (state != LinkState::connected || !active || stopping) return;
    while (publishes_in_flight < window) {
      const auto careful = watch.alone_through();
      Lane* lane = careful ? pick_lane_carefully(*careful) : pick_lane();
      if (lane == nullptr) break;
      const bool alone = careful && lane == &backlog && lane->ahead.front().seq <= *careful;
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
      const Published outcome = publish_queued(m);
      if (outcome == Published::retry) {
        arm_pump_retry();
        break;
      }
      lane->pop_front();
      if (outcome == Published::refused) continue;
      if (contended) ++lane->contended;
      ++counters.published;
      if (alone) break;  // nothing beside it until its PUBACK
    }
    // Fetch ahead while publishing, so the link never waits on the disk; the two lanes share
    // the fetch-ahead budget.
    for (Lane* lane : {&live, &backlog})
      if (!lane->fetching && backlog.ahead_bytes + live.ahead_bytes < kFetchAheadBytes &&
          lane->cursor < std::min(lane->up_to, committed_hint))
        fetch_more(*lane);
  }

  // Publishes `m` whole, or in parts when it is larger than this broker takes. A message that
  // cannot be split small enough is refused here: sending it would only get the link dropped.
  Published publish_queued(const StoredMessage& m) {
    const auto kind = static_cast<std::size_t>(m.kind);
    // A schema message goes to its source's own topic, retained: a consumer that starts later
    // still learns the names behind the indices.
    const bool schema = m.kind == MessageKind::schema;
    const mqtt::string_ref topic = schema ? mqtt::string_ref(prefix + "schema/" + m.source)
                                   : kind < kind_topics.size() ? kind_topics[kind]
                                                               : kind_topics[0];
    const std::uint64_t limit = max_payload(topic.size());
    Flight flight{++attempts, 1, m.kind, m.source, m.count};
    std::vector<std::string> documents;
    if (auto whole = finish(envelope(device_id, m.seq, m.body, {}, version_of_payload));
        whole.size() <= limit) {
      documents.push_back(std::move(whole));
    } else {
      // Parts are bounded before compression, which never makes them larger than this slack.
      const std::uint64_t overhead = envelope_overhead(device_id) + (compress ? 64 : 0);
      const auto body_limit = static_cast<std::size_t>(limit > overhead ? limit - overhead : 0);
      auto parts = body_limit == 0 ? std::nullopt
                   : compact && m.kind == MessageKind::telemetry
                       ? split_v2_body(m.body, body_limit)
                       : split_body(m.body, body_limit);
      if (!parts) {
        refuse(m.seq, flight,
               "it is larger than the broker takes (" + std::to_string(limit) +
                   " bytes a message) and cannot be split between its readings to fit");
        return Published::refused;
      }
      const auto count = static_cast<std::uint32_t>(parts->size());
      for (std::uint32_t i = 0; i < count; ++i)
        documents.push_back(finish(envelope(device_id, m.seq, (*parts)[i],
                                            MessagePart{i + 1, count}, version_of_payload)));
      ++counters.split;
      counters.parts_published += count;
    }
    flight.parts_left = static_cast<std::uint32_t>(documents.size());
    try {
      for (auto& document : documents) {
        // The topic is shared and the document moved into the message: Paho C makes the one copy
        // it needs, the C++ layer none.
        auto message =
            mqtt::make_message(topic, mqtt::binary_ref(std::move(document)), kQos, schema);
        active->client->publish(std::move(message), publish_context(m.seq, flight.attempt),
                                active->publish_listener);
      }
    } catch (const mqtt::exception& e) {
      // Tried again whole shortly; PUBACKs of parts already out carry this attempt, which no
      // flight has, and are ignored (the consumer drops the duplicate parts by seq and part).
      counters.last_error = "publish of seq " + std::to_string(m.seq) + " refused: " + e.what();
      return Published::retry;
    }
    publishes_in_flight += documents.size();
    last_publish = std::chrono::steady_clock::now();
    flights.insert_or_assign(m.seq, std::move(flight));
    return Published::sent;
  }

  // A document as it goes on the wire: deflated when uplink.compression says so.
  [[nodiscard]] std::string finish(std::string document) const {
    return compress ? deflate_bytes(document) : document;
  }

  // The broker refused `seq` (or would): out of the queue, logged once, reported on `gaps`.
  void refuse(std::uint64_t seq, const Flight& what, const std::string& reason) {
    ++counters.refused;
    counters.last_error = "seq " + std::to_string(seq) + " refused by the broker: " + reason;
    log::warn("uplink", "seq " + std::to_string(seq) + " (" + topic_suffix(what.kind) +
                            (what.source.empty() ? std::string{} : " from " + what.source) + ", " +
                            std::to_string(what.count) + " value(s)) refused by the broker: " +
                            reason + "; taken out of the queue and reported on gaps as "
                            "refused_by_broker");
    watch.on_settled(seq);
    outbox.refuse(seq);
  }

  void clear_flights() {
    flights.clear();
    publishes_in_flight = 0;
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
      if (flights.contains(m.seq)) {
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
  void puback_arrived(void* context) {
    bool first = false;
    {
      std::lock_guard lock(puback_mutex);
      first = pubacks.empty();
      pubacks.push_back(context);
    }
    if (first)
      asio::post(io, [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->drain_pubacks();
      });
  }

  void drain_pubacks() {
    std::vector<void*> contexts;
    {
      std::lock_guard lock(puback_mutex);
      contexts.swap(pubacks);
    }
    for (void* context : contexts) {
      const auto it = flights.find(context_seq(context));
      if (it == flights.end() || it->second.attempt != context_attempt(context)) continue;
      if (publishes_in_flight > 0) --publishes_in_flight;
      if (--it->second.parts_left > 0) continue;
      const std::uint64_t seq = it->first;
      flights.erase(it);
      ++counters.acknowledged;
      watch.on_settled(seq);
      outbox.acknowledge(seq);
    }
    if (!contexts.empty()) pump();
  }

  void on_publish_failed(std::uint64_t gen, void* context, int reason_code, std::string reason) {
    if (gen != generation || state != LinkState::connected) return;
    const std::uint64_t seq = context_seq(context);
    const auto it = flights.find(seq);
    if (it == flights.end() || it->second.attempt != context_attempt(context)) return;
    const bool broker_answer = active && active->mqtt_version >= MQTTVERSION_5 &&
                               reason_code >= 0x80 && reason_code < 0xFF;
    // Paho fails what is in flight when the connection drops, before it reports the loss: left
    // to on_connection_lost(), which must see what was in flight to tell what the broker refused.
    if (!broker_answer && active && !active->client->is_connected()) return;
    const Flight flight = std::move(it->second);
    flights.erase(it);
    publishes_in_flight -= std::min<std::size_t>(publishes_in_flight, flight.parts_left);
    // MQTT 5: the broker's answer. A reason code ≥ 0x80 on a PUBACK is final for this message
    // (Paho C++ reports 0xFF, which no broker sends, for failures of its own under 3.1.1).
    if (broker_answer) {
      refuse(seq, flight, "PUBACK reason code " + detail::reason_text(reason_code));
      pump();
      return;
    }
    counters.last_error = "publish of seq " + std::to_string(seq) + " failed: " + reason;
    // Re-send from just below the failed seq; fetched messages already in flight are skipped.
    Lane& lane = seq > backlog.up_to ? live : backlog;
    lane.reset(std::min(lane.cursor, seq - 1), lane.up_to);
    pump();
  }

  void publish_live_topic(const std::string& topic, const std::string& payload, bool retained) {
    if (state != LinkState::connected || !active) {
      ++counters.live_dropped;
      return;
    }
    // Never sent larger than the broker takes: it would drop the connection (health grows with
    // the number of adapters and sources).
    if (const auto limit = max_payload(topic.size()); payload.size() > limit) {
      ++counters.live_dropped;
      counters.last_error = topic + " not sent: " + std::to_string(payload.size()) +
                            " bytes, more than the broker takes (" + std::to_string(limit) + ")";
      if (oversized_live_logged.insert(topic).second) log::warn("uplink", counters.last_error);
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
    // Waits for an attempt in progress (link.open(), interrupted: a tunnel may be mid-handshake
    // or waiting for the trust service) and for retired clients to be destroyed.
    link.interrupt();
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
    detail::destroy_connection(std::move(active), kStopStepTimeout);
    detail::destroy_connection(std::move(pending_attempt), kStopStepTimeout);
    // PUBACKs that arrived while stopping still count: those messages must not be sent again.
    drain_pubacks();
    link.close();
    clear_flights();
    backlog.reset(0, 0);
    live.reset(0, 0);
    set_state(LinkState::stopped);
  }

  // ── connect worker thread ──

  void attempt(std::uint64_t gen, int mqtt_version) {
    if (stopping) return;
    link.close();
    auto endpoint = link.open();
    if (!endpoint) return post_connect_failed(gen, endpoint.error().describe(), false);

    auto conn = std::make_shared<Connection>();
    conn->server_uri = endpoint.value().server_uri;
    conn->generation = gen;
    try {
      detail::SessionSettings settings;
      settings.client_id = client_id;
      settings.will_topic = status_topic;
      settings.will_payload = status_payload(device_id, "offline", std::nullopt);
      settings.mqtt_version = mqtt_version;
      settings.max_inflight = static_cast<int>(max_inflight) + kLiveHeadroom;
      settings.max_buffered = static_cast<int>(2 * max_inflight) + 100;
      auto options = detail::prepare_session(*conn, uplink, endpoint.value(), settings);
      if (!options) return post_connect_failed(gen, options.error().describe(), false);
      wire(*conn, gen);
      conn->client->set_callback(conn->callback);
      conn->client->set_disconnected_handler(
          [weak = weak_from_this(), gen](const mqtt::properties&, mqtt::ReasonCode code) {
            if (auto self = weak.lock())
              asio::post(self->io, [weak, gen, code] {
                if (auto s = weak.lock())
                  s->on_connection_lost(gen, "the broker disconnected with reason " +
                                                 detail::reason_text(static_cast<int>(code)));
              });
          });
      {
        std::lock_guard lock(handoff_mutex);
        handoff = conn;
      }
      conn->client->connect(options.value(), nullptr, conn->connect_listener);
    } catch (const mqtt::exception& e) {
      post_connect_failed(gen, "connect to " + conn->server_uri + " failed: " + e.what(), false);
    }
  }

  void wire(Connection& conn, std::uint64_t gen) {
    std::weak_ptr<Impl> weak = weak_from_this();
    conn.connect_listener.succeeded = [weak, gen](const mqtt::token& t) {
      auto limits = detail::limits_from(t);
      if (auto self = weak.lock())
        asio::post(self->io, [weak, gen, limits] {
          if (auto s = weak.lock()) s->on_connected(gen, limits);
        });
    };
    conn.connect_listener.failed = [weak, gen, raw = &conn](const mqtt::token& t) {
      auto self = weak.lock();
      if (!self) return;
      // MQTT 5 puts the CONNACK's reason code (≥ 0x80) where 3.1.1 puts a return code.
      const int rc = t.get_return_code();
      const int code = std::max(static_cast<int>(t.get_reason_code()), rc);
      const bool version_refused = detail::refuses_protocol_version(t);
      std::string reason = "connect to " + raw->server_uri + " (" +
                           version_name(raw->mqtt_version) + ") failed: " +
                           (version_refused ? std::string("the broker refused the protocol version")
                            : code >= 0x80  ? "the broker refused it with reason " +
                                                 detail::reason_text(code)
                                            : mqtt::exception::error_str(rc) + " (" +
                                                 std::to_string(rc) + ")");
      if (const auto tls = raw->take_tls_errors(); !tls.empty())
        reason += "; TLS: " + tls;
      else if (raw->tls)
        // Paho checks the broker certificate's name after the handshake and reports no OpenSSL
        // error when it does not match.
        reason +=
            "; no TLS error was reported: the broker is unreachable, or its certificate does"
            " not name the host in " +
            raw->server_uri;
      self->post_connect_failed(gen, std::move(reason), version_refused);
    };
    conn.publish_listener.succeeded = [weak](const mqtt::token& t) {
      if (auto self = weak.lock()) self->puback_arrived(t.get_user_context());
    };
    conn.publish_listener.failed = [weak, gen](const mqtt::token& t) {
      auto self = weak.lock();
      if (!self) return;
      void* context = t.get_user_context();
      const int reason_code = static_cast<int>(t.get_reason_code());
      std::string reason = mqtt::exception::error_str(t.get_return_code());
      asio::post(self->io, [weak, gen, context, reason_code, reason = std::move(reason)]() mutable {
        if (auto s = weak.lock()) s->on_publish_failed(gen, context, reason_code, std::move(reason));
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

  void post_connect_failed(std::uint64_t gen, std::string reason, bool version_refused) {
    asio::post(io, [weak = weak_from_this(), gen, reason = std::move(reason),
                    version_refused]() mutable {
      if (auto self = weak.lock())
        self->on_connect_failed(gen, std::move(reason), version_refused);
    });
  }

  asio::io_context& io;
  const config::UplinkConfig uplink;
  const std::string device_id;
  const std::string client_id;
  const std::string prefix;
  const std::string status_topic;
  const std::array<mqtt::string_ref, kMessageKindCount> kind_topics;
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
  std::vector<void*> pubacks;  // publish contexts from Paho threads, drained on the io_context

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
  std::map<std::uint64_t, Flight> flights;  // published, not yet acknowledged, by seq
  std::size_t publishes_in_flight = 0;      // their parts not yet acknowledged
  std::uint16_t attempts = 0;               // publish attempts, for their contexts
  std::chrono::steady_clock::time_point last_publish{};
  RefusalWatch watch;
  const bool compact;                 // uplink.payload v2
  const bool compress;                // uplink.compression deflate
  const int version_of_payload;       // "v" of queued messages' envelopes
  int version;                        // MQTT version of the next attempt
  std::size_t window;                 // publishes in flight at most on this connection
  std::uint32_t broker_max_packet = 0;
  std::string last_failure_logged;
  std::set<std::string> oversized_live_logged;  // topics whose live message was too large
  std::function<void(std::uint64_t)> message_limit_handler;
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

void MqttUplink::on_message_limit(std::function<void(std::uint64_t)> handler) {
  impl_->message_limit_handler = std::move(handler);
}

LinkState MqttUplink::state() const noexcept { return impl_->state; }

const UplinkCounters& MqttUplink::counters() const noexcept { return impl_->counters; }

std::uint64_t MqttUplink::in_flight() const noexcept { return impl_->flights.size(); }

// Live: Link::info() is thread-safe, so a certificate renewed while connected shows at once.
secure_link::LinkInfo MqttUplink::link_info() const { return impl_->link.info(); }

void MqttUplink::subscribe(const std::string& topic_suffix, MessageHandler handler) {
  impl_->subscribe(topic_suffix, std::move(handler));
}

}  // namespace guardian::gateway
