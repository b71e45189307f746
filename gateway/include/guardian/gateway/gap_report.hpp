#pragma once
/// \file
/// What was dropped, for the `gaps` topic (docs/telemetry.md "gaps"). Every way data can be lost
/// has a DropReason; what is dropped for one (source, reason) accumulates in a DroppedData, which
/// the queue keeps in its durable gap ledger until it is published as one gap message.
///
///   back-pressure refusal (Outbox) ──┐
///   eviction / rejection (OutboxStore) ─┼─▶ gap ledger (SQLite, same transaction) ─▶ gap message
///   max_age expiry, disk full, quarantine ─┘                   (every queue.gap_interval, merged)

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/gateway/outbox_message.hpp"

namespace guardian::gateway {

/// Why data was dropped (values are part of the queue schema; wire names in to_string).
enum class DropReason : std::uint8_t {
  backpressure = 0,   ///< refused before it was accepted: un-committed memory was full
  queue_full = 1,     ///< queue.max_bytes reached; dropped by queue.when_full and priority
  source_quota = 2,   ///< its source held more than queue.source_quota
  max_age = 3,        ///< accepted, but older than queue.max_age before it could be sent
  disk_full = 4,      ///< the file system had no space left for it
  corrupt_queue = 5,  ///< it was in a queue file found corrupt (moved aside, kept for analysis)
  refused_by_broker = 6,  ///< the broker refused it (an MQTT 5 reason code, a disconnect right
                          ///< after it each time it was sent alone, or larger than it takes)
};
inline constexpr std::size_t kDropReasonCount = 7;

/// Wire name: "backpressure", "queue_full", "source_quota", "max_age", "disk_full",
/// "corrupt_queue", "refused_by_broker".
[[nodiscard]] const char* to_string(DropReason reason) noexcept;
/// The reason of a wire name; nullopt for an unknown one.
[[nodiscard]] std::optional<DropReason> drop_reason_from_string(std::string_view name) noexcept;

/// A gap message names at most this many points (or record types); its counts stay exact.
inline constexpr std::size_t kMaxGapNames = 64;

/// What was dropped for one source and one reason, merged over time.
struct DroppedData {
  std::string source;
  DropReason reason = DropReason::backpressure;
  std::uint64_t count = 0;     ///< readings and records dropped
  std::uint64_t messages = 0;  ///< accepted (queued) messages deleted; 0 for data never accepted
  Timestamp from{};            ///< earliest source timestamp dropped
  Timestamp to{};              ///< latest source timestamp dropped
  std::vector<std::string> names;  ///< distinct point names and record types, at most kMaxGapNames
  /// The seqs of the queued messages dropped, where the reason names them (refused_by_broker:
  /// the operator must know which message the broker would not take), at most kMaxGapNames.
  std::vector<std::uint64_t> seqs;

  /// Adds `other` (same source and reason) to this: counts summed, time range widened, names
  /// united up to the cap.
  void merge(const DroppedData& other);
  /// Adds one name unless present or the cap is reached.
  void add_name(std::string_view name);
  /// Adds one seq unless present or the cap is reached.
  void add_seq(std::uint64_t seq);
};

/// What a message that is dropped amounts to: its source, counts, time range and the names found
/// in its body (points of a telemetry message, the type of a record; a gap message's own content
/// is decoded instead, so that dropping a gap message loses no information).
[[nodiscard]] DroppedData describe_dropped(MessageKind kind, std::string_view source,
                                           std::uint32_t count, Timestamp first_ts,
                                           Timestamp last_ts, std::string_view body,
                                           DropReason reason, bool accepted);

/// The queued message reporting `dropped` (kind gap, priority gap):
/// body = "source":…,"reason":…,"count":…,"messages":…,"from":…,"to":…[,"seqs":[…]],"points":[…]}
[[nodiscard]] PendingMessage encode_gap(const DroppedData& dropped);

/// Reads a gap body written by encode_gap back (nullopt when it is not one).
[[nodiscard]] std::optional<DroppedData> decode_gap(std::string_view body);

}  // namespace guardian::gateway
