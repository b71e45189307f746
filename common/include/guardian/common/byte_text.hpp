#pragma once
/// \file
/// Bytes written as text, the way field technicians write them: C-style escapes ("STATUS?\r\n",
/// "\x02"), hex ("AA 55 01"), and the reverse for showing what arrived (hex dump, printable
/// ASCII). Used by the configuration, `guardian probe` and the stream adapters. Pure, clang-14
/// compatible.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guardian/common/result.hpp"

namespace guardian {

/// Resolves \r \n \t \0 \\ \" \' \e (ESC) and \xHH in `text`; every other character is kept.
/// Errors: an unknown escape or \x without two hex digits (the message names the position).
[[nodiscard]] result<std::vector<std::uint8_t>> unescape_bytes(std::string_view text);

/// Parses hex bytes, pairs of digits optionally separated by spaces, ':' or '-' ("AA 55",
/// "aa55", "0xAA 0x55"). Errors: an odd digit count or a non-hex character (position named).
[[nodiscard]] result<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text);

/// "AA 55 01" (upper case, one space between bytes).
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);

/// The bytes as text with every byte outside printable ASCII written as an escape (\r, \n, \t,
/// \xHH), so a line can be shown and copied into a configuration.
[[nodiscard]] std::string to_escaped_text(std::span<const std::uint8_t> bytes);

/// Text from outside (a peer, a file) made safe to log or print: escaped like
/// to_escaped_text(), and cut to about `max` characters with a note of the full size, so that it
/// cannot forge lines, move the cursor of a terminal, or fill a log.
[[nodiscard]] std::string printable(std::string_view text, std::size_t max = 200);

}  // namespace guardian
