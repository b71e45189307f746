#pragma once
/// \file
/// Northbound JSON payloads (docs/telemetry.md, docs/schema/*.json). Hot path: appends into one
/// std::string with the common JSON writer; no DOM.
///
/// A queued message is stored as its *body* — the members after the envelope — and completed at
/// publish time, when its seq is known:
///   envelope(device, seq, body) = {"v":1,"device":"<device>","seq":<seq>,<body>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

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

/// The complete JSON document for a stored body.
[[nodiscard]] std::string envelope(std::string_view device_id, std::uint64_t seq,
                                   std::string_view body);

/// Appends one reading object {"name":…,"value":…,…} to `out`.
void append_reading_json(std::string& out, const Reading& reading);

}  // namespace guardian::gateway
