#pragma once
/// \file
/// What the store-and-forward queue holds: one northbound message (a batch of readings, a
/// record, or a gap notice), already encoded except for its envelope. The envelope
/// {"v":1,"device":…,"seq":…, is prepended by the uplink at publish time, because `seq` is
/// only known once the message has been committed.

#include <cstddef>
#include <cstdint>
#include <string>

#include "guardian/common/reading.hpp"

namespace guardian::gateway {

/// Which topic a message goes to (stored as an integer; values are part of the queue schema).
/// schema: a source's point names and units for compact (v2) telemetry, published retained on
/// "schema/<source>" (compact_payload.hpp). trace: a chunk of a trace capture (trace_capture.hpp).
enum class MessageKind : std::uint8_t { telemetry = 0, record = 1, gap = 2, schema = 3, trace = 4 };
inline constexpr std::size_t kMessageKindCount = 5;

/// Topic suffix of a kind: "telemetry", "records", "gaps", "schema" (followed by "/<source>"),
/// "traces".
[[nodiscard]] constexpr const char* topic_suffix(MessageKind k) noexcept {
  switch (k) {
    case MessageKind::telemetry: return "telemetry";
    case MessageKind::record: return "records";
    case MessageKind::gap: return "gaps";
    case MessageKind::schema: return "schema";
    case MessageKind::trace: return "traces";
  }
  return "telemetry";
}

/// Priority under pressure: higher outlives lower (values are part of the queue schema). Routine
/// telemetry is dropped before records, records before alarms, alarms before gap messages (and a
/// gap message that must go is folded into the next one, so what it reported is not lost).
enum class Priority : std::uint8_t { routine = 0, record = 1, alarm = 2, gap = 3 };
inline constexpr std::size_t kPriorityCount = 4;

/// A message on its way into the queue (not yet accepted).
struct PendingMessage {
  MessageKind kind = MessageKind::telemetry;
  Priority priority = Priority::routine;
  std::string source;           ///< adapter source name, for quotas and gap reports
  Timestamp first_ts{};         ///< earliest source timestamp inside
  Timestamp last_ts{};          ///< latest source timestamp inside
  std::uint32_t count = 0;      ///< readings (or record fields) inside
  std::string body;             ///< JSON members after the envelope, ending with '}'
};

/// A committed (accepted) message, as read back from the queue.
struct StoredMessage {
  std::uint64_t seq = 0;        ///< per-device, strictly increasing, never reused
  MessageKind kind = MessageKind::telemetry;
  Priority priority = Priority::routine;
  std::string source;
  Timestamp first_ts{};
  Timestamp last_ts{};
  Timestamp created{};          ///< when it was committed
  std::uint32_t count = 0;
  std::string body;
};

}  // namespace guardian::gateway
