#pragma once
/// \file
/// RFC 3339 UTC timestamps with milliseconds ("2026-11-26T15:00:55.123Z"), as the northbound
/// contract requires.

#include <optional>
#include <string>
#include <string_view>

#include "guardian/common/reading.hpp"

namespace guardian {

/// Appends `ts` as RFC 3339 UTC with milliseconds to `out`. Never allocates beyond the append.
void append_rfc3339(std::string& out, Timestamp ts);

/// `ts` as RFC 3339 UTC with milliseconds.
[[nodiscard]] std::string format_rfc3339(Timestamp ts);

/// Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC only). nullopt when malformed.
[[nodiscard]] std::optional<Timestamp> parse_rfc3339(std::string_view text);

}  // namespace guardian
