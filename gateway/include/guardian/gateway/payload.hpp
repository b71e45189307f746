#pragma once
/// \file
/// Northbound JSON payloads (docs/telemetry.md, docs/schema/*.json). Hot path: appends into one
/// std::string with the common JSON writer; no DOM.
///
/// A queued message is stored as its *body* — the members after the envelope — and completed at
/// publish time, when its seq is known:
///   envelope(device, seq, body) = {"v":1,"device":"<device>","seq":<seq>,<body>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/reading.hpp"
#include "guardian/gateway/outbox_message.hpp"

namespace guardian::gateway {

/// Schema version carried in every payload as "v".
inline constexpr int kSchemaVersion = 1;

/// A telemetry message for `readings` (all from `source`, at least one):
/// body = "source":"…","readings":[{"name","value","unit"?,"quality","ts","error"?},…]}
[[nodiscard]] PendingMessage encode_telemetry(std::string_view source,
                                              std::span<const Reading> readings);

/// A record message: body = "source":"…","type":"…","ts":"…","fields":[…]}
[[nodiscard]] PendingMessage encode_record(const Record& record);

/// Which part of a message split to fit the broker a document carries (1-based); a message that
/// was not split has count 1 and its document has no "part"/"parts" members.
struct MessagePart {
  std::uint32_t index = 1;
  std::uint32_t count = 1;
};

/// The complete JSON document for a stored body, with "v":`version` (2 for the compact payload);
/// a part of a split message carries "part":index,"parts":count after "seq".
[[nodiscard]] std::string envelope(std::string_view device_id, std::uint64_t seq,
                                   std::string_view body, MessagePart part = {},
                                   int version = kSchemaVersion);

/// Bytes the envelope adds to a body (for seqs up to 20 digits and a split into up to 10^9 parts).
[[nodiscard]] std::size_t envelope_overhead(std::string_view device_id) noexcept;

/// Splits a stored body — members followed by one array as the last member, as encode_telemetry,
/// encode_record and encode_gap write them — into bodies of at most `max_body_bytes` each, every
/// one with the same leading members and a run of the array's elements, in order, byte for byte.
/// A body that fits comes back alone; nullopt when it cannot be split to fit (one element, with
/// the leading members, is larger) or does not end in an array.
[[nodiscard]] std::optional<std::vector<std::string>> split_body(std::string_view body,
                                                                 std::size_t max_body_bytes);

/// Appends one reading object {"name":…,"value":…,…} to `out`.
void append_reading_json(std::string& out, const Reading& reading);

}  // namespace guardian::gateway
