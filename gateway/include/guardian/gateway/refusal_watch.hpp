#pragma once
/// \file
/// Which queued message a broker refuses by dropping the connection. MQTT 5 brokers answer a
/// publish they will not take with a reason code on its PUBACK; an MQTT 3.1.1 broker (and an
/// MQTT 5 broker for a packet it cannot parse or that breaks its limits) just disconnects — and
/// a client that sends the same message first after every reconnect is disconnected forever.
///
///   loss right after publishing, several in flight ─▶ every one of them is sent alone next
///   loss right after publishing one message alone  ─▶ it is the suspect (one drop)
///     ├─ its PUBACK                                ─▶ cleared: it was the network
///     └─ N drops in a row, each time sent alone    ─▶ refused (taken out, reported on gaps)
///   the first unacknowledged seq passes all of them ─▶ the full window again
///
/// "Right after" is within `right_after` of the last publish: a broker refusing a packet closes at
/// once, while a dead network is noticed only after the keep-alive. Sending one at a time finds
/// the culprit among a window of messages at the cost of one round trip each, once. Pure: the
/// uplink tells it what happened and asks what to do; tested directly.

#include <chrono>
#include <cstdint>
#include <optional>

namespace guardian::gateway {

class RefusalWatch {
 public:
  using Duration = std::chrono::steady_clock::duration;

  /// `refuse_after`: drops in a row, with the suspect alone in flight, that refuse it (≥ 1).
  explicit RefusalWatch(int refuse_after, Duration right_after = std::chrono::seconds{5}) noexcept;

  /// The connection was lost with the queued seqs [lowest, highest] (some of them) published and
  /// not acknowledged — nullopt when none were — `alone` when just one was, `since_publish` after
  /// the last publish. Returns the seq now refused, if any.
  std::optional<std::uint64_t> on_connection_lost(std::optional<std::uint64_t> lowest,
                                                  std::optional<std::uint64_t> highest, bool alone,
                                                  Duration since_publish) noexcept;

  /// `seq` was acknowledged (or left the queue otherwise): a suspect is cleared.
  void on_settled(std::uint64_t seq) noexcept;

  /// Messages up to this seq are sent alone, one after the other's PUBACK (nullopt: none).
  [[nodiscard]] std::optional<std::uint64_t> alone_through() const noexcept;
  /// The lowest unacknowledged seq is now `next` (the maximum when there is none): what is below
  /// it needs no more care.
  void passed(std::uint64_t next) noexcept;

  /// The message suspected of being refused, and the drops counted against it.
  [[nodiscard]] std::optional<std::uint64_t> suspect() const noexcept { return suspect_; }
  [[nodiscard]] int drops() const noexcept { return drops_; }

 private:
  int refuse_after_;
  Duration right_after_;
  std::optional<std::uint64_t> suspect_;
  int drops_ = 0;
  std::optional<std::uint64_t> careful_through_;
};

}  // namespace guardian::gateway
