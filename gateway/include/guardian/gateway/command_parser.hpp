#pragma once
/// \file
/// The parser of cloud commands (docs/telemetry.md "Commands"): the bytes of a message on
/// `…/commands`, from whoever the broker let publish there, into a WriteCommand. Pure, total —
/// an error for any input, never an exception — and fuzzed (tests/fuzz/fuzz_cloud_command.cpp).
/// Thread-safe.

#include <string>
#include <string_view>

#include "guardian/adapters/adapter.hpp"
#include "guardian/common/result.hpp"

namespace guardian::gateway {

/// The largest command accepted, and the longest id.
inline constexpr std::size_t kMaxCommandPayload = 4096;
inline constexpr std::size_t kMaxCommandIdLength = 128;

/// Parses a command. `id` receives the command's id as soon as it is known (so that even a
/// refusal can be answered with it).
[[nodiscard]] result<adapters::WriteCommand> parse_command(std::string_view payload, std::string& id);

}  // namespace guardian::gateway
